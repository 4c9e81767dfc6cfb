//! Command-line arguments and the admin commands, which work on the database directly
//! (also while a server runs: SQLite's WAL lets both write in turn).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use roster_core::events::{AuditQuery, Origin, TypeFilter, audit_entry};
use roster_core::model::{NewUser, TokenRecord};
use roster_core::token::{DEFAULT_LIFETIME_DAYS, TokenSecret};
use roster_core::webhooks::endpoint::{
    DEFAULT_MAX_PER_ORG, parse_grace_seconds, parse_new_webhook,
};
use roster_core::webhooks::{TargetRules, Webhook, WebhookId, WebhookSecret};
use roster_core::{Email, OrgId, Role, Store, Timestamp, UserId, WriteError};
use roster_postgres::{PgStore, PoolOptions};
use serde_json::json;

use crate::serve::{self, ServeArgs};

#[derive(Parser, Debug)]
#[command(name = "roster", version, about = "A self-hostable, Tallyfy-compatible groups service")]
pub struct Args {
    /// Where the data lives: sqlite://PATH (the embedded default) or postgres://…
    #[arg(long, global = true, env = "ROSTER_DATABASE", default_value = "sqlite://roster.db")]
    pub database: String,

    /// PostgreSQL connections per instance.
    #[arg(long, global = true, env = "ROSTER_POOL_SIZE", default_value_t = 16)]
    pub pool_size: usize,

    /// Seconds a request waits for a free PostgreSQL connection before a 503.
    #[arg(long, global = true, env = "ROSTER_POOL_TIMEOUT", default_value_t = 5.0)]
    pub pool_timeout: f64,

    /// SQLite only: the most MiB the database file may grow to; a write that would grow
    /// it further answers 507 and writes nothing, while reads go on (0: no limit).
    #[arg(long, global = true, env = "ROSTER_SQLITE_MAX_MIB", default_value_t = 0)]
    pub sqlite_max_mib: u64,

    /// Print one JSON object on stdout instead of text (for scripts).
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API (creates an organization, admin and token on first start).
    Serve(ServeArgs),
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage user accounts and their memberships.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage personal access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Read an organization's audit log: who changed what, when and how (newest first).
    Audit(AuditArgs),
    /// Manage webhook endpoints (as the admin API does).
    #[command(subcommand)]
    Webhook(WebhookCommand),
}

#[derive(Subcommand, Debug)]
pub enum WebhookCommand {
    /// Subscribe an endpoint to an organization's events; its secret is shown once.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        url: String,
        /// Event types or globs, comma-separated (default: every type).
        #[arg(long)]
        event_types: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Accept an http:// URL (as `serve --webhook-allow-http`, and from the same
        /// environment variable).
        #[arg(long, env = "ROSTER_WEBHOOK_ALLOW_HTTP")]
        allow_http: bool,
        /// Accept a host on a private address (as `serve --webhook-allow-private-targets`,
        /// and from the same environment variable).
        #[arg(long, env = "ROSTER_WEBHOOK_ALLOW_PRIVATE_TARGETS")]
        allow_private_targets: bool,
        /// The organization's endpoint limit, as `serve --max-webhooks-per-org` sets it.
        #[arg(long, env = "ROSTER_MAX_WEBHOOKS_PER_ORG", default_value_t = DEFAULT_MAX_PER_ORG)]
        max_webhooks_per_org: usize,
    },
    /// List an organization's endpoints (never their secrets).
    List {
        #[arg(long)]
        org: String,
    },
    /// Delete an endpoint and its delivery log.
    Delete {
        #[arg(long)]
        org: String,
        #[arg(long)]
        id: String,
    },
    /// Rotate an endpoint's secret; the new one is shown once, the old one keeps signing
    /// beside it for the grace period.
    Rotate {
        #[arg(long)]
        org: String,
        #[arg(long)]
        id: String,
        /// Seconds the old secret keeps signing (at most 604800).
        #[arg(long, default_value_t = 86_400)]
        grace_period_seconds: i64,
    },
}

#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    #[arg(long)]
    org: String,
    /// Only changes made by this user.
    #[arg(long)]
    actor_id: Option<i64>,
    /// Only changes made with this token.
    #[arg(long)]
    token_id: Option<i64>,
    /// Event types or globs, comma-separated (e.g. `group.*,member.disabled`).
    #[arg(long = "type")]
    types: Option<String>,
    /// group, member, guest, organization or token.
    #[arg(long)]
    subject_type: Option<String>,
    /// The subject's id (a guest's email).
    #[arg(long)]
    subject_id: Option<String>,
    /// Only changes made by this request.
    #[arg(long)]
    request_id: Option<String>,
    /// From this UTC time on (e.g. 2026-12-02T10:00:00Z).
    #[arg(long)]
    since: Option<String>,
    /// Before this UTC time.
    #[arg(long)]
    until: Option<String>,
    /// The most entries to show.
    #[arg(long, default_value_t = 50)]
    limit: u64,
    /// Oldest first.
    #[arg(long)]
    oldest_first: bool,
}

#[derive(Subcommand, Debug)]
pub enum OrgCommand {
    /// Create an organization.
    Create {
        #[arg(long)]
        name: String,
    },
    /// Change an organization's settings.
    Set {
        #[arg(long)]
        org: String,
        /// Let standard (not light) members create, edit and delete groups.
        #[arg(long, action = clap::ArgAction::Set)]
        allow_non_admins_manage_groups: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a member to an organization, creating the account unless the email has one.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        first_name: String,
        #[arg(long)]
        last_name: String,
        #[arg(long, value_parser = ["admin", "standard", "light"])]
        role: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Issue a personal access token for a member; the token is shown once.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        user: i64,
        /// Days until it expires (0: never).
        #[arg(long, default_value_t = DEFAULT_LIFETIME_DAYS)]
        expires_in_days: i64,
    },
    /// List an organization's tokens (never their secrets).
    List {
        #[arg(long)]
        org: String,
        /// Only this user's tokens.
        #[arg(long)]
        user: Option<i64>,
    },
    /// Revoke a token: refused on its next request, on every instance.
    Revoke {
        #[arg(long)]
        org: String,
        #[arg(long)]
        id: i64,
    },
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let pool = PoolOptions {
        size: args.pool_size,
        wait: Duration::try_from_secs_f64(args.pool_timeout)
            .context("--pool-timeout must be a number of seconds")?,
    };
    let limits = StoreLimits { pool, sqlite_max_bytes: args.sqlite_max_mib.checked_mul(1 << 20) };
    let store = open_store(&args.database, &limits).await?;
    let json = args.json;
    let command = match args.command {
        Command::Serve(serve_args) => return serve::run(store, serve_args, &args.database).await,
        admin => admin,
    };
    // What an admin command changes is recorded in the change stream as the CLI's.
    let store = store.as_ref();
    Origin::cli()
        .scope(async move {
            match command {
                Command::Serve(_) => Ok(()),
                Command::Org(command) => org(store, command, json).await,
                Command::User(command) => user(store, command, json).await,
                Command::Token(command) => token(store, command, json).await,
                Command::Audit(query) => audit(store, query, json).await,
                Command::Webhook(command) => webhook(store, command, json).await,
            }
        })
        .await
}

async fn audit(store: &dyn Store, args: AuditArgs, as_json: bool) -> anyhow::Result<()> {
    let org = org_id(&args.org)?;
    let time = |raw: &Option<String>, option: &str| {
        raw.as_deref()
            .map(|raw| {
                Timestamp::parse_utc(raw.trim()).with_context(|| {
                    format!("--{option} must be a UTC time such as 2026-12-02T10:00:00Z")
                })
            })
            .transpose()
    };
    let types = match &args.types {
        Some(raw) => TypeFilter::parse(raw)
            .map_err(|entry| anyhow::anyhow!("--type {entry:?} names no event type"))?
            .names(),
        None => Vec::new(),
    };
    let query = AuditQuery {
        actor_id: args.actor_id,
        token_id: args.token_id,
        types,
        subject_type: args.subject_type,
        subject_id: args.subject_id,
        request_id: args.request_id,
        since: time(&args.since, "since")?,
        until: time(&args.until, "until")?,
        newest_first: !args.oldest_first,
        from_seq: None,
        limit: args.limit.max(1),
    };
    let entries = store.audit_log(&org, &query).await?;
    let parsed: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| serde_json::from_str(&audit_entry(&e.payload, &e.context)))
        .collect::<Result<_, _>>()
        .context("a stored event is not JSON")?;
    let text = parsed
        .iter()
        .map(|e| {
            let actor = match e["actor"]["type"].as_str() {
                Some("user") => {
                    format!(
                        "user {} <{}>",
                        e["actor"]["id"],
                        e["context"]["actor_email"].as_str().unwrap_or("")
                    )
                }
                other => other.unwrap_or("?").to_owned(),
            };
            format!(
                "{}\t{}\t{}\t{} {}\t{actor}",
                e["seq"],
                e["timestamp"].as_str().unwrap_or(""),
                e["type"].as_str().unwrap_or(""),
                e["subject"]["type"].as_str().unwrap_or(""),
                e["subject"]["id"].as_str().unwrap_or(""),
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    emit(as_json, json!({"data": parsed}), text);
    Ok(())
}

/// How much of the database a process may use.
pub struct StoreLimits {
    pub pool: PoolOptions,
    /// SQLite's size cap (`None` or 0: none).
    pub sqlite_max_bytes: Option<u64>,
}

/// Picks the backend from the URL's scheme.
pub async fn open_store(url: &str, limits: &StoreLimits) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        let store = roster_sqlite::SqliteStore::open_url(url)
            .with_context(|| format!("cannot open {url}"))?;
        store
            .set_size_limit(limits.sqlite_max_bytes.filter(|&bytes| bytes > 0))
            .context("cannot apply --sqlite-max-mib")?;
        return Ok(Arc::new(store));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::connect(url, &limits.pool)
            .await
            .context("cannot open the PostgreSQL database")?;
        return Ok(Arc::new(store));
    }
    bail!("unsupported database URL {url:?}: use sqlite://PATH or postgres://…")
}

fn org_id(raw: &str) -> anyhow::Result<OrgId> {
    OrgId::parse(raw.trim())
        .with_context(|| format!("{raw:?} is not an organization id (32 lowercase hex characters)"))
}

fn emit(as_json: bool, value: serde_json::Value, text: String) {
    if as_json {
        println!("{value}");
    } else {
        println!("{text}");
    }
}

async fn org(store: &dyn Store, command: OrgCommand, as_json: bool) -> anyhow::Result<()> {
    let org = match command {
        OrgCommand::Create { name } => {
            let name = name.trim();
            if name.is_empty() {
                bail!("--name must not be empty");
            }
            store.create_org(name).await?
        }
        OrgCommand::Set { org, allow_non_admins_manage_groups } => {
            let id = org_id(&org)?;
            match store
                .set_org_allow_non_admins_manage_groups(&id, allow_non_admins_manage_groups)
                .await
            {
                Err(WriteError::NotFound) => bail!("no organization {id}"),
                other => other?,
            }
        }
    };
    emit(
        as_json,
        json!({
            "id": org.id.as_str(),
            "name": org.name,
            "allow_non_admins_manage_groups": org.allow_non_admins_manage_groups,
            "created_at": org.created_at,
        }),
        format!(
            "organization {} \"{}\" (non-admins manage groups: {})",
            org.id, org.name, org.allow_non_admins_manage_groups
        ),
    );
    Ok(())
}

async fn user(store: &dyn Store, command: UserCommand, as_json: bool) -> anyhow::Result<()> {
    let UserCommand::Create { org, email, first_name, last_name, role } = command;
    let org = org_id(&org)?;
    let new = NewUser {
        email: Email::parse(&email).with_context(|| format!("{email:?} is not a valid email"))?,
        first_name: first_name.trim().to_owned(),
        last_name: last_name.trim().to_owned(),
        role: Role::parse(&role).with_context(|| format!("unknown role {role:?}"))?,
    };
    let member = match store.add_member(&org, &new).await {
        Err(WriteError::NotFound) => bail!("no organization {org}"),
        Err(WriteError::Conflict(message)) => bail!(message),
        other => other?,
    };
    let user = &member.user;
    emit(
        as_json,
        json!({
            "id": user.id,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "full_name": user.full_name(),
            "org_id": org.as_str(),
            "role": member.role.as_str(),
            "status": member.status.as_str(),
        }),
        format!("user {} <{}> is now {} in {org}", user.id, user.email, member.role.as_str()),
    );
    Ok(())
}

fn token_json(record: &TokenRecord) -> serde_json::Value {
    json!({
        "id": record.id,
        "org_id": record.org_id.as_str(),
        "user_id": record.user_id,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "last_used_at": record.last_used_at,
        "revoked_at": record.revoked_at,
    })
}

async fn token(store: &dyn Store, command: TokenCommand, as_json: bool) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { org, user, expires_in_days } => {
            let org = org_id(&org)?;
            let user_id = UserId::new(user).context("--user must be a positive user id")?;
            if expires_in_days < 0 {
                bail!("--expires-in-days must not be negative");
            }
            let secret = TokenSecret::generate().context("cannot generate a token")?;
            let expires_at =
                (expires_in_days > 0).then(|| store.clock().now().plus_days(expires_in_days));
            let record = match store.create_token(&org, user_id, &secret.hash(), expires_at).await {
                Err(WriteError::NotFound) => {
                    bail!("user {user_id} is not a member of organization {org}")
                }
                other => other?,
            };
            let mut value = token_json(&record);
            value["token"] = json!(secret.expose());
            emit(
                as_json,
                value,
                format!(
                    "token {} for user {} in {} (shown once, keep it safe):\n{}",
                    record.id,
                    record.user_id,
                    record.org_id,
                    secret.expose()
                ),
            );
        }
        TokenCommand::List { org, user } => {
            let org = org_id(&org)?;
            let user = user
                .map(|u| UserId::new(u).context("--user must be a positive user id"))
                .transpose()?;
            let tokens = store.list_tokens(&org, user).await?;
            let text = tokens
                .iter()
                .map(|t| {
                    let state = if t.revoked_at.is_some() { "revoked" } else { "live" };
                    format!(
                        "{}\tuser {}\t{state}\tcreated {}",
                        t.id,
                        t.user_id,
                        t.created_at.to_rfc3339_millis()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            emit(
                as_json,
                json!({"tokens": tokens.iter().map(token_json).collect::<Vec<_>>()}),
                text,
            );
        }
        TokenCommand::Revoke { org, id } => {
            let org = org_id(&org)?;
            let record = match store.revoke_token(&org, id).await {
                Err(WriteError::NotFound) => bail!("no token {id} in organization {org}"),
                other => other?,
            };
            emit(as_json, token_json(&record), format!("token {} revoked", record.id));
        }
    }
    Ok(())
}

fn webhook_json(hook: &Webhook) -> serde_json::Value {
    json!({
        "id": hook.id.as_str(),
        "url": hook.url,
        "event_types": hook.event_types,
        "description": hook.description,
        "status": hook.status.as_str(),
        "failing_since": hook.failing_since,
        "last_success_at": hook.last_success_at,
        "last_failure_at": hook.last_failure_at,
        "previous_secret_expires_at": hook.previous_secret_expires_at,
        "created_at": hook.created_at,
        "updated_at": hook.updated_at,
    })
}

fn webhook_id(raw: &str) -> anyhow::Result<WebhookId> {
    WebhookId::parse(raw.trim())
        .with_context(|| format!("{raw:?} is not a webhook id (32 lowercase hex characters)"))
}

/// A refusal's message, field by field, for the terminal.
fn refusal(errors: &roster_core::ValidationErrors) -> String {
    errors.fields().map(|(_, messages)| messages.join(" ")).collect::<Vec<_>>().join(" ")
}

async fn webhook(store: &dyn Store, command: WebhookCommand, as_json: bool) -> anyhow::Result<()> {
    match command {
        WebhookCommand::Create {
            org,
            url,
            event_types,
            description,
            allow_http,
            allow_private_targets,
            max_webhooks_per_org,
        } => {
            let org = org_id(&org)?;
            let rules = TargetRules { allow_http, allow_private: allow_private_targets };
            let types: Vec<String> = event_types
                .as_deref()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect();
            let body = json!({"url": url, "event_types": types, "description": description});
            let new = parse_new_webhook(&body, rules).map_err(|e| anyhow::anyhow!(refusal(&e)))?;
            roster_webhooks::check_subscription_target(&new.url, rules)
                .await
                .map_err(|reason| anyhow::anyhow!(reason))?;
            let secret = WebhookSecret::generate().context("cannot generate a secret")?;
            let hook = match store.create_webhook(&org, &new, &secret, max_webhooks_per_org).await {
                Err(WriteError::NotFound) => bail!("no organization {org}"),
                Err(WriteError::Conflict(message)) => bail!(message),
                other => other?,
            };
            let mut shown = webhook_json(&hook);
            shown["secret"] = json!(secret.expose());
            emit(
                as_json,
                shown,
                format!(
                    "webhook {} created for {}\nSecret (shown once): {}",
                    hook.id,
                    hook.url,
                    secret.expose()
                ),
            );
        }
        WebhookCommand::List { org } => {
            let hooks = store.list_webhooks(&org_id(&org)?).await?;
            let text = hooks
                .iter()
                .map(|h| format!("{}\t{}\t{}", h.id, h.status.as_str(), h.url))
                .collect::<Vec<_>>()
                .join("\n");
            emit(
                as_json,
                json!({"webhooks": hooks.iter().map(webhook_json).collect::<Vec<_>>()}),
                text,
            );
        }
        WebhookCommand::Delete { org, id } => {
            let (org, id) = (org_id(&org)?, webhook_id(&id)?);
            match store.delete_webhook(&org, &id).await {
                Err(WriteError::NotFound) => bail!("no webhook {id} in organization {org}"),
                other => other?,
            }
            emit(as_json, json!({"deleted": id.as_str()}), format!("webhook {id} deleted"));
        }
        WebhookCommand::Rotate { org, id, grace_period_seconds } => {
            let (org, id) = (org_id(&org)?, webhook_id(&id)?);
            let grace = parse_grace_seconds(&json!({"grace_period_seconds": grace_period_seconds}))
                .map_err(|e| anyhow::anyhow!(refusal(&e)))?;
            let secret = WebhookSecret::generate().context("cannot generate a secret")?;
            let until = Timestamp::from_millis(
                store.clock().now().millis().saturating_add(grace.saturating_mul(1000)),
            );
            let hook = match store.rotate_webhook_secret(&org, &id, &secret, until).await {
                Err(WriteError::NotFound) => bail!("no webhook {id} in organization {org}"),
                other => other?,
            };
            let mut shown = webhook_json(&hook);
            shown["secret"] = json!(secret.expose());
            emit(
                as_json,
                shown,
                format!("webhook {id}: new secret (shown once): {}", secret.expose()),
            );
        }
    }
    Ok(())
}
