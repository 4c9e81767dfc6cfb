//! What every request passes through before its route, in one layer: its request id,
//! load shedding, the panic guard and its metrics. One hand-written layer rather than a
//! stack of generic ones: profiles showed the stack (boxed services cloned per request,
//! a semaphore, per-request formatted log spans) costing as much as the rest of a
//! cached `GET`.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use roster_core::AssetId;
use roster_core::events::Origin;
use tower::{Layer, Service};

use crate::ApiError;
use crate::ops::Metrics;

const REQUEST_ID: &str = "x-request-id";

tokio::task_local! {
    /// The id of the request being served, for log lines written while serving it.
    static CURRENT_REQUEST_ID: HeaderValue;
}

/// The current request's id, for a log line (empty outside a request).
pub fn current_request_id() -> String {
    CURRENT_REQUEST_ID
        .try_with(|id| String::from_utf8_lossy(id.as_bytes()).into_owned())
        .unwrap_or_default()
}

#[derive(Clone)]
pub struct EdgeLayer {
    shared: Arc<Shared>,
}

struct Shared {
    metrics: Arc<Metrics>,
    ids: RequestIds,
    in_flight: AtomicUsize,
    max_in_flight: usize,
    access_log: bool,
}

impl EdgeLayer {
    /// More than `max_in_flight` requests at once are answered 503 with `Retry-After`
    /// at once, rather than queued behind the others.
    /// `access_log`: one log line per request.
    pub fn new(metrics: Arc<Metrics>, max_in_flight: usize, access_log: bool) -> Self {
        let shared = Shared {
            metrics,
            ids: RequestIds::new(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: max_in_flight.max(1),
            access_log,
        };
        Self { shared: Arc::new(shared) }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge { inner, shared: Arc::clone(&self.shared) }
    }
}

#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// A request's place among those in flight; given back when dropped.
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let shared = Arc::clone(&self.shared);
        // A client's own id is kept, so that its logs and ours line up.
        let id = match request.headers().get(REQUEST_ID) {
            Some(id) => id.clone(),
            None => shared.ids.next(),
        };
        let method = request.method().clone();
        let route = request.extensions().get::<MatchedPath>().cloned();
        let origin = change_origin(&request, &id, route.as_ref());
        let admitted = shared.in_flight.fetch_add(1, Ordering::Relaxed) < shared.max_in_flight;
        let in_flight = InFlight(Arc::clone(&shared));
        let answer = admitted.then(|| self.inner.call(request));
        Box::pin(async move {
            let mut response = match answer {
                Some(answer) => {
                    let answer = Origin::scope(origin, answer);
                    let guarded = CURRENT_REQUEST_ID.scope(id.clone(), AssertUnwindSafe(answer));
                    match guarded.catch_unwind().await {
                        Ok(Ok(response)) => response,
                        Err(panic) => CURRENT_REQUEST_ID
                            .sync_scope(id.clone(), || crate::error::panic_response(panic)),
                    }
                }
                None => ApiError::overloaded().into_response(),
            };
            drop(in_flight);
            let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
            let seconds = started.elapsed().as_secs_f64();
            let status = response.status().as_u16();
            shared.metrics.record(&method, route, status, seconds);
            if shared.access_log {
                // The route template, never the path: paths hold guests' emails.
                tracing::info!(
                    request_id = %String::from_utf8_lossy(id.as_bytes()),
                    method = %method,
                    route,
                    status,
                    latency_ms = (seconds * 1e6).round() / 1e3,
                    "request"
                );
            }
            response.headers_mut().insert(REQUEST_ID, id);
            Ok(response)
        })
    }
}

/// What the change stream records of how a request's changes were made (the actor is
/// added once the token is known: see `auth`).
fn change_origin(request: &Request, id: &HeaderValue, route: Option<&MatchedPath>) -> Origin {
    let header = |name: &str| {
        request.headers().get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    Origin {
        actor: roster_core::events::Actor::System,
        request_id: Some(String::from_utf8_lossy(id.as_bytes()).into_owned()),
        ip: request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip().to_string()),
        user_agent: header("user-agent"),
        client: header("x-tallyfy-client"),
        route: route.map(|r| r.as_str().to_owned()),
        idempotency_key: header("idempotency-key"),
    }
}

/// Request ids: a random 64-bit prefix drawn once per process, then a counter, in 32
/// hex digits. Unique across instances without a system call per request (ids are for
/// correlating logs, not secrets).
struct RequestIds {
    prefix: [u8; 16],
    counter: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        let mut prefix = [b'0'; 16];
        if let Ok(random) = AssetId::generate() {
            prefix.copy_from_slice(&random.as_str().as_bytes()[..16]);
        }
        Self { prefix, counter: AtomicU64::new(0) }
    }

    fn next(&self) -> HeaderValue {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut id = [0u8; 32];
        id[..16].copy_from_slice(&self.prefix);
        for (i, byte) in id[16..].iter_mut().enumerate() {
            *byte = b"0123456789abcdef"[((n >> (60 - 4 * i)) & 0xf) as usize];
        }
        // Hex digits are always a valid header value.
        HeaderValue::from_bytes(&id).unwrap_or_else(|_| HeaderValue::from_static("0"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_is_a_bare_500_with_the_request_id() {
        let panicking = tower::service_fn(|request: Request| async move {
            if request.uri().path() == "/boom" {
                std::panic::panic_any("disk on fire");
            }
            Ok::<_, Infallible>(StatusCode::OK.into_response())
        });
        let edge = EdgeLayer::new(Arc::default(), 8, false).layer(panicking);
        let mut boom = Request::new(Body::empty());
        *boom.uri_mut() = axum::http::Uri::from_static("/boom");
        let response = edge.oneshot(boom).await.unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().contains_key(REQUEST_ID));
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap_or_default();
        assert!(!String::from_utf8_lossy(&body).contains("disk on fire"));
    }

    #[test]
    fn request_ids_are_32_hex_digits_and_distinct() {
        let ids = RequestIds::new();
        let (a, b) = (ids.next(), ids.next());
        assert_ne!(a, b);
        for id in [a, b] {
            assert_eq!(id.len(), 32);
            assert!(id.as_bytes().iter().all(u8::is_ascii_hexdigit));
        }
    }
}
