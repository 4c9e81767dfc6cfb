//! Roster's HTTP layer: Tallyfy's routes, wire shapes, status codes and error bodies.
//! Handlers stay thin: they read the request, call the domain and the store, and shape
//! the answer. Rules live in `roster-core`; SQL lives in the storage crates.

mod auth;
mod body;
mod cache;
mod conditional;
mod edge;
mod error;
mod limits;
pub mod openapi;
mod ops;
mod path;
mod query;
mod routes;
mod wire;

use std::sync::Arc;

use axum::Router;
use roster_core::Store;

pub use error::ApiError;

/// Maps hashed on every request (caches, metrics): foldhash, seeded per process, instead
/// of SipHash.
pub(crate) type FastHashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Switches that change how the API behaves.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Tallyfy rejects requests without an `X-Tallyfy-Client` header; so does Roster
    /// unless this is turned off.
    pub require_client_header: bool,
    /// Requests per minute per token (per address without one); 0 turns limiting off.
    pub rate_limit_per_minute: u32,
    /// The largest JSON body accepted (413 beyond). Logo uploads have their own limit.
    pub max_body_bytes: usize,
    /// Requests served at once; more get 503 with `Retry-After` at once.
    pub max_concurrent_requests: usize,
    /// How long a request body may take to arrive in full before the request is cut off
    /// (408).
    pub body_timeout: std::time::Duration,
    /// Memory for answers reused between requests while nothing is written (see
    /// `cache`); 0 turns reuse off.
    pub read_cache_bytes: usize,
    /// One log line per request (off by default: at tens of thousands of requests a
    /// second, the lines would cost more than the requests).
    pub access_log: bool,
    /// What webhook endpoints may point at, and how many an org may have.
    pub webhooks: WebhookConfig,
}

/// The webhook rules the API enforces when endpoints are made, and for pings.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    pub rules: roster_core::webhooks::TargetRules,
    pub max_per_org: usize,
    /// A ping's bound, connect to answer.
    pub timeout: std::time::Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            rules: roster_core::webhooks::TargetRules::default(),
            max_per_org: roster_core::webhooks::endpoint::DEFAULT_MAX_PER_ORG,
            timeout: std::time::Duration::from_millis(
                roster_core::webhooks::delivery::ATTEMPT_TIMEOUT_MILLIS,
            ),
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            require_client_header: true,
            rate_limit_per_minute: 600,
            max_body_bytes: 1024 * 1024,
            max_concurrent_requests: 1024,
            body_timeout: std::time::Duration::from_secs(30),
            read_cache_bytes: 16 * 1024 * 1024,
            access_log: false,
            webhooks: WebhookConfig::default(),
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<ApiConfig>,
    pub limiter: Arc<limits::RateLimiter>,
    pub metrics: Arc<ops::Metrics>,
    pub caches: Arc<cache::ReadCaches>,
    pub token_uses: Arc<auth::RecentUses>,
    /// Long-polls of the change stream held now, per token.
    pub long_polls: Arc<LongPolls>,
    /// Set once the server begins to stop: long-polls answer at once.
    pub closing: Arc<tokio::sync::watch::Sender<bool>>,
}

/// At most [`LongPolls::PER_TOKEN`] waiting long-polls per token.
#[derive(Default)]
pub struct LongPolls {
    held: std::sync::Mutex<FastHashMap<i64, usize>>,
}

impl LongPolls {
    pub const PER_TOKEN: usize = 4;

    /// A place for one more long-poll of `token`, given back when dropped; `None` when
    /// the token holds the most already.
    pub fn enter(self: &Arc<Self>, token: i64) -> Option<LongPollSlot> {
        let mut held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = held.entry(token).or_insert(0);
        if *count >= Self::PER_TOKEN {
            return None;
        }
        *count += 1;
        Some(LongPollSlot { polls: Arc::clone(self), token })
    }
}

pub struct LongPollSlot {
    polls: Arc<LongPolls>,
    token: i64,
}

impl Drop for LongPollSlot {
    fn drop(&mut self) {
        let mut held = self.polls.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.token) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.token);
            }
        }
    }
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: ApiConfig) -> Self {
        let limiter = Arc::new(limits::RateLimiter::new(config.rate_limit_per_minute));
        let caches = Arc::new(cache::ReadCaches::new(config.read_cache_bytes));
        Self {
            store,
            config: Arc::new(config),
            limiter,
            metrics: Arc::default(),
            caches,
            token_uses: Arc::default(),
            long_polls: Arc::default(),
            closing: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    /// The server is stopping: waiting long-polls answer now.
    pub fn begin_shutdown(&self) {
        self.closing.send_replace(true);
    }
}

/// The OpenAPI document of every route, as `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, paths) = routes::api_routes(ApiConfig::default().max_body_bytes).split_for_parts();
    openapi::document(paths)
}

/// The whole API, served both at the root (as `api.tallyfy.com` does) and under `/api`
/// (as `go.tallyfy.com/api` does), so clients built for either host work unchanged;
/// plus its contract at `/openapi.json` and browsable docs at `/docs`, without auth.
pub fn router(state: AppState) -> Router {
    let config = Arc::clone(&state.config);
    let (api, paths) = routes::api_routes(config.max_body_bytes).split_for_parts();
    let document = openapi::document(paths);
    let docs: Router<AppState> =
        utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", document).into();
    let edge = edge::EdgeLayer::new(
        Arc::clone(&state.metrics),
        config.max_concurrent_requests,
        config.access_log,
    );
    let mut router = Router::new()
        .merge(api.clone())
        .nest("/api", api)
        .merge(docs)
        .fallback(error::endpoint_not_found)
        .method_not_allowed_fallback(error::method_not_allowed);
    // Inside the edge (so refused requests still carry an id and are counted), and only
    // when on: a layer that would let everything through still costs a boxed future.
    if config.rate_limit_per_minute > 0 {
        router =
            router.layer(axum::middleware::from_fn_with_state(state.clone(), limits::rate_limit));
    }
    router.layer(edge).with_state(state)
}
