//! `roster serve`: first-start bootstrap, the listener, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use roster_api::{ApiConfig, AppState};
use roster_core::model::NewUser;
use roster_core::token::{DEFAULT_LIFETIME_DAYS, TokenSecret};
use roster_core::{Email, Role, Store, Timestamp};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ROSTER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Accept requests without an X-Tallyfy-Client header (Tallyfy itself rejects them).
    #[arg(long, env = "ROSTER_ALLOW_MISSING_CLIENT_HEADER")]
    pub allow_missing_client_header: bool,
}

pub async fn run(store: Arc<dyn Store>, args: ServeArgs, database: &str) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;

    bootstrap(store.as_ref(), local).await?;

    let config = ApiConfig { require_client_header: !args.allow_missing_client_header };
    let app = roster_api::router(AppState::new(store, config));
    println!("Roster is listening on http://{local} (database {})", redact_password(database));
    tracing::info!(%local, "listening");
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// On an empty database, creates an organization, its admin and a token, and prints
/// what a newcomer needs to make a first request.
async fn bootstrap(store: &dyn Store, local: SocketAddr) -> anyhow::Result<()> {
    let admin = NewUser {
        email: Email::parse("admin@roster.localhost").context("bootstrap email")?,
        first_name: "Roster".to_owned(),
        last_name: "Admin".to_owned(),
        role: Role::Admin,
    };
    let secret = TokenSecret::generate().context("cannot generate a token")?;
    let expires_at = Some(Timestamp::now().plus_days(DEFAULT_LIFETIME_DAYS));
    let Some(created) =
        store.bootstrap_if_empty("My Organization", &admin, &secret.hash(), expires_at).await?
    else {
        return Ok(());
    };
    let org = created.org.id;
    println!(
        "First start: created organization {org} with admin user {} <{}>.",
        created.admin.user.id, created.admin.user.email
    );
    println!("Organization id: {org}");
    println!("Access token (shown once): {}", secret.expose());
    println!("List its groups:");
    println!(
        "  curl -H 'Authorization: Bearer {}' -H 'X-Tallyfy-Client: APIClient' -H 'Accept: application/json' http://{local}/organizations/{org}/groups",
        secret.expose()
    );
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// The database URL without its password, fit for logs and terminals.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn passwords_never_reach_the_terminal() {
        assert_eq!(
            redact_password("postgres://roster:s3cret@db:5432/roster"),
            "postgres://roster:***@db:5432/roster"
        );
        assert_eq!(redact_password("postgres://roster@db/roster"), "postgres://roster@db/roster");
        assert_eq!(redact_password("sqlite://roster.db"), "sqlite://roster.db");
    }
}
