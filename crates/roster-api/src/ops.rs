//! Operability: liveness and readiness probes, and request ids for the logs.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_core::AssetId;
use serde_json::json;
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::Span;

use crate::AppState;

#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, description = "The process is up", body = Object, example = json!({"status": "ok"}))))]
/// The process is up.
pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

#[utoipa::path(get, path = "/readyz", tag = "operations", security(()),
    responses((status = 200, description = "The database answers", body = Object, example = json!({"status": "ok"})),
              (status = 503, description = "The database does not answer", body = Object, example = json!({"status": "unavailable"}))))]
/// The process can reach its database.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(json!({"status": "ok"})).into_response(),
        Err(err) => {
            tracing::warn!(context = err.context, detail = %err.detail, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable"})))
                .into_response()
        }
    }
}

/// A random 128-bit id for each request without an `X-Request-Id` of its own.
#[derive(Clone, Copy)]
pub struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = AssetId::generate().ok()?;
        HeaderValue::from_str(id.as_str()).ok().map(RequestId::new)
    }
}

/// The log span of a request: method, route and request id; never headers or bodies,
/// which hold tokens and personal data.
pub fn request_span<B>(request: &Request<B>) -> Span {
    let id =
        request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
}
