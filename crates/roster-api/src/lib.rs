//! Roster's HTTP layer: Tallyfy's routes, wire shapes, status codes and error bodies.
//! Handlers stay thin: they read the request, call the domain and the store, and shape
//! the answer. Rules live in `roster-core`; SQL lives in the storage crates.

mod auth;
mod body;
mod conditional;
mod error;
pub mod openapi;
mod path;
mod query;
mod routes;
mod wire;

use std::sync::Arc;

use axum::Router;
use roster_core::Store;

pub use error::ApiError;

/// Switches that change how the API behaves.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Tallyfy rejects requests without an `X-Tallyfy-Client` header; so does Roster
    /// unless this is turned off.
    pub require_client_header: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self { require_client_header: true }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<ApiConfig>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: ApiConfig) -> Self {
        Self { store, config: Arc::new(config) }
    }
}

/// The OpenAPI document of every route, as `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, paths) = routes::api_routes().split_for_parts();
    openapi::document(paths)
}

/// The whole API, served both at the root (as `api.tallyfy.com` does) and under `/api`
/// (as `go.tallyfy.com/api` does), so clients built for either host work unchanged;
/// plus its contract at `/openapi.json` and browsable docs at `/docs`, without auth.
pub fn router(state: AppState) -> Router {
    let (api, paths) = routes::api_routes().split_for_parts();
    let document = openapi::document(paths);
    let docs: Router<AppState> =
        utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", document).into();
    Router::new()
        .merge(api.clone())
        .nest("/api", api)
        .merge(docs)
        .fallback(error::endpoint_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(error::panic_response))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
