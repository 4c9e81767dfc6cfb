//! `roster serve`: first-start bootstrap, the listener, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::ConnectInfo;
use clap::Args;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use roster_api::{ApiConfig, AppState, WebhookConfig};
use roster_core::model::NewUser;
use roster_core::token::{DEFAULT_LIFETIME_DAYS, TokenSecret};
use roster_core::webhooks::delivery::ATTEMPT_RETENTION_DAYS;
use roster_core::webhooks::{RetrySchedule, TargetRules};
use roster_core::{Email, Role, Store};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ROSTER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Accept requests without an X-Tallyfy-Client header (Tallyfy itself rejects them).
    #[arg(long, env = "ROSTER_ALLOW_MISSING_CLIENT_HEADER")]
    pub allow_missing_client_header: bool,

    /// Requests per minute per token (per client address without one); 0 turns it off.
    #[arg(long, env = "ROSTER_RATE_LIMIT_PER_MINUTE", default_value_t = 600)]
    pub rate_limit_per_minute: u32,

    /// The largest JSON request body, in bytes (413 beyond; logo uploads allow 2.5 MiB).
    #[arg(long, env = "ROSTER_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Requests served at once; beyond, 503 with Retry-After at once.
    #[arg(long, env = "ROSTER_MAX_CONCURRENT_REQUESTS", default_value_t = 1024)]
    pub max_concurrent_requests: usize,

    /// The most header bytes a request may send (431 beyond; at least 8192).
    #[arg(long, env = "ROSTER_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,

    /// Seconds a client has to send its request headers before the connection is closed.
    #[arg(long, env = "ROSTER_HEADER_TIMEOUT", default_value_t = 10.0)]
    pub header_timeout: f64,

    /// Seconds a client has to send its whole request body before the request is cut off
    /// (408).
    #[arg(long, env = "ROSTER_BODY_TIMEOUT", default_value_t = 30.0)]
    pub body_timeout: f64,

    /// MiB of memory for GET answers reused while nothing is written to their
    /// organization (a commit to an org, by any process on the database, empties that
    /// org's answers only); 0 turns reuse off.
    #[arg(long, env = "ROSTER_READ_CACHE_MIB", default_value_t = 16)]
    pub read_cache_mib: usize,

    /// How log lines are written to stderr: `text` for people, `json` (one object per
    /// line) for log collectors.
    #[arg(long, env = "ROSTER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log one line per request: request id, method, route template, status, latency.
    #[arg(long, env = "ROSTER_ACCESS_LOG")]
    pub access_log: bool,

    /// Days the change stream keeps events (the feed and the audit log); older ones are
    /// trimmed hourly, and a feed cursor older than that answers 410. 0 keeps everything.
    #[arg(long, env = "ROSTER_EVENT_RETENTION_DAYS", default_value_t = 90)]
    pub event_retention_days: u32,

    /// Days a deleted group waits in the trash, restorable, before it is purged (hourly,
    /// with its logo). 0 keeps trashed groups until purged by hand (`DELETE ?force=true`).
    #[arg(long, env = "ROSTER_TRASH_RETENTION_DAYS", default_value_t = 30)]
    pub trash_retention_days: u32,

    /// Send webhooks to `http://` URLs too (by default only `https://`): for local
    /// development and tests.
    #[arg(long, env = "ROSTER_WEBHOOK_ALLOW_HTTP")]
    pub webhook_allow_http: bool,

    /// Send webhooks to hosts on loopback, private, link-local and multicast addresses
    /// too (refused by default, when an endpoint is made and at every connection).
    #[arg(long, env = "ROSTER_WEBHOOK_ALLOW_PRIVATE_TARGETS")]
    pub webhook_allow_private_targets: bool,

    /// Seconds between a webhook delivery's attempts after the first, comma-separated
    /// (each ±20% jitter). The default is the Standard Webhooks example: 5 s, 5 min,
    /// 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
    #[arg(
        long,
        env = "ROSTER_WEBHOOK_RETRY_SCHEDULE",
        default_value = "5,300,1800,7200,18000,36000,50400,72000,86400"
    )]
    pub webhook_retry_schedule: String,

    /// How long a webhook endpoint may fail without a success before it is disabled
    /// (`disabled_failing`): seconds, or a number with s, m, h or d.
    #[arg(long, env = "ROSTER_WEBHOOK_DISABLE_AFTER", default_value = "5d")]
    pub webhook_disable_after: String,

    /// Webhook endpoints an organization may have at most.
    #[arg(
        long,
        env = "ROSTER_MAX_WEBHOOKS_PER_ORG",
        default_value_t = roster_core::webhooks::endpoint::DEFAULT_MAX_PER_ORG
    )]
    pub max_webhooks_per_org: usize,

    /// Webhook attempts this instance makes at once (each endpoint has at most 4).
    #[arg(long, env = "ROSTER_WEBHOOK_CONCURRENCY", default_value_t = 64)]
    pub webhook_concurrency: usize,

    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT.
    #[arg(long, env = "ROSTER_SHUTDOWN_GRACE", default_value_t = 30.0)]
    pub shutdown_grace: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Log lines go to stderr (stdout carries the first-start banner). Neither format ever
/// holds a token or a body: nothing that logs has one to give.
fn init_logging(format: LogFormat) {
    let builder =
        tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(tracing::Level::INFO);
    match format {
        LogFormat::Text => {
            builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init();
        }
        LogFormat::Json => {
            builder.json().flatten_event(true).with_current_span(false).with_span_list(false).init()
        }
    }
}

/// A duration as seconds, or a number with `s`, `m`, `h` or `d`.
fn duration_text(value: &str, option: &str) -> anyhow::Result<Duration> {
    let value = value.trim();
    let (number, unit) = match value.char_indices().last() {
        Some((at, 's')) => (&value[..at], 1),
        Some((at, 'm')) => (&value[..at], 60),
        Some((at, 'h')) => (&value[..at], 3600),
        Some((at, 'd')) => (&value[..at], 86_400),
        _ => (value, 1),
    };
    let number: u64 = number
        .trim()
        .parse()
        .with_context(|| format!("--{option} must be seconds, or a number with s, m, h or d"))?;
    Ok(Duration::from_secs(number.saturating_mul(unit)))
}

fn seconds(value: f64, option: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("--{option} must be a number of seconds"))
}

pub async fn run(store: Arc<dyn Store>, args: ServeArgs, database: &str) -> anyhow::Result<()> {
    init_logging(args.log_format);

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;

    bootstrap(store.as_ref(), local).await?;

    let webhook_rules = TargetRules {
        allow_http: args.webhook_allow_http,
        allow_private: args.webhook_allow_private_targets,
    };
    let delivery = roster_webhooks::Settings {
        rules: webhook_rules,
        schedule: RetrySchedule::parse(&args.webhook_retry_schedule)
            .map_err(|e| anyhow::anyhow!("--webhook-retry-schedule: {e}"))?,
        disable_after_millis: i64::try_from(
            duration_text(&args.webhook_disable_after, "webhook-disable-after")?.as_millis(),
        )
        .unwrap_or(i64::MAX),
        concurrency: args.webhook_concurrency.max(1),
        ..roster_webhooks::Settings::default()
    };
    let config = ApiConfig {
        require_client_header: !args.allow_missing_client_header,
        rate_limit_per_minute: args.rate_limit_per_minute,
        max_body_bytes: args.max_body_bytes,
        max_concurrent_requests: args.max_concurrent_requests,
        body_timeout: seconds(args.body_timeout, "body-timeout")?,
        read_cache_bytes: args.read_cache_mib.saturating_mul(1024 * 1024),
        access_log: args.access_log,
        webhooks: WebhookConfig {
            rules: webhook_rules,
            max_per_org: args.max_webhooks_per_org,
            ..WebhookConfig::default()
        },
    };
    if args.event_retention_days > 0 {
        spawn_event_trimming(Arc::clone(&store), args.event_retention_days);
    }
    if args.trash_retention_days > 0 {
        spawn_trash_purging(Arc::clone(&store), args.trash_retention_days);
    }
    spawn_expiry_sweeping(Arc::clone(&store));
    spawn_delivery_log_trimming(Arc::clone(&store));
    let state = AppState::new(Arc::clone(&store), config);
    roster_webhooks::spawn(store, delivery, state.closing.subscribe());
    let app = roster_api::router(state.clone());
    let shutdown = shutdown_signal();
    println!("Roster is listening on http://{local} (database {})", redact_password(database));
    tracing::info!(%local, "listening");
    let limits = ConnectionLimits {
        header_timeout: seconds(args.header_timeout, "header-timeout")?,
        max_header_bytes: args.max_header_bytes.max(8192),
        grace: seconds(args.shutdown_grace, "shutdown-grace")?,
    };
    serve_connections(listener, app, &state, &limits, shutdown).await;
    tracing::info!("stopped");
    Ok(())
}

struct ConnectionLimits {
    header_timeout: Duration,
    max_header_bytes: usize,
    grace: Duration,
}

/// Accepts connections until a shutdown signal, then lets in-flight requests finish for
/// up to the grace period. Hyper is driven directly (not through `axum::serve`) for the
/// header timeout and size limit: a client that trickles its headers is cut off without
/// holding a worker.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    state: &AppState,
    limits: &ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Some(limits.header_timeout))
        .max_buf_size(limits.max_header_bytes);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                tower::ServiceExt::oneshot(app.clone(), request)
            },
        );
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    // Waiting long-polls answer now rather than hold the shutdown for their minute.
    state.begin_shutdown();
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.grace) => tracing::warn!("grace period over; closing the remaining connections"),
    }
}

/// Trims events older than the retention, at start and then hourly. A failed trim is
/// logged and tried again next hour (the events stay readable meanwhile).
fn spawn_event_trimming(store: Arc<dyn Store>, days: u32) {
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            let before = store.clock().now().plus_days(-i64::from(days));
            match store.trim_events(before).await {
                Ok(0) => {}
                Ok(dropped) => tracing::info!(dropped, "trimmed events past retention"),
                Err(err) => tracing::warn!(%err, "trimming events failed"),
            }
        }
    });
}

/// Drops webhook attempts (and finished deliveries) older than 30 days, at start and then
/// hourly.
fn spawn_delivery_log_trimming(store: Arc<dyn Store>) {
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            let before = store.clock().now().plus_days(-ATTEMPT_RETENTION_DAYS);
            if let Err(err) = store.trim_deliveries(before).await {
                tracing::warn!(%err, "trimming the webhook delivery log failed");
            }
        }
    });
}

/// Purges groups trashed longer ago than the retention, at start and then hourly.
fn spawn_trash_purging(store: Arc<dyn Store>, days: u32) {
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            let before = store.clock().now().plus_days(-i64::from(days));
            match store.purge_trash(before).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "purged groups past the trash retention"),
                Err(err) => tracing::warn!(%err, "purging the trash failed"),
            }
        }
    });
}

/// Ends memberships as their time comes: at start (those that ended while the server
/// was down, with their real end in the events), then every quarter second. Readers never
/// wait for it (memberships stop showing at their instant); it only makes the rows and
/// counts catch up, in transactions of at most 1,000 rows.
fn spawn_expiry_sweeping(store: Arc<dyn Store>) {
    tokio::spawn(async move {
        const EVERY: Duration = Duration::from_millis(250);
        // While the database is away, tries again less and less often (up to every 30 s)
        // and says so once, not four times a second.
        let mut pause = EVERY;
        loop {
            tokio::time::sleep(pause).await;
            match store.sweep_expired_memberships().await {
                Ok(ended) => {
                    if pause > EVERY {
                        tracing::info!("ending memberships works again");
                    }
                    if ended > 0 {
                        tracing::info!(ended, "memberships ended on time");
                    }
                    pause = EVERY;
                }
                Err(err) => {
                    if pause == EVERY {
                        tracing::warn!(%err, "ending memberships failed; retrying with backoff");
                    }
                    pause = (pause * 2).min(Duration::from_secs(30));
                }
            }
        }
    });
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
    let expires_at = Some(store.clock().now().plus_days(DEFAULT_LIFETIME_DAYS));
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

/// Resolves on SIGTERM or SIGINT (Ctrl-C). The handlers are installed here, when it is
/// called, not when it is first awaited: a signal sent as soon as the listening line is
/// printed must already stop the server gracefully.
fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let listeners = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    };
    async move {
        #[cfg(unix)]
        match listeners {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => {},
                    _ = interrupt.recv() => {},
                }
            }
            (Err(err), _) | (_, Err(err)) => {
                tracing::error!(%err, "cannot listen for SIGTERM or SIGINT");
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down");
    }
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
