//! Operability: liveness and readiness probes, and request metrics.

use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};

use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;
use crate::FastHashMap as HashMap;

/// Check that the process is up
///
/// Answers 200 while the process runs, whatever the state of its database. No token needed:
/// for liveness probes.
#[utoipa::path(get, operation_id = "getHealth", path = "/healthz", tag = "operations", security(()),
    responses((status = 200, description = "The process is up", body = Object, example = json!({"status": "ok"}))))]
pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// Check that the database answers
///
/// Answers 200 while the database answers a query, 503 while it cannot be reached (the
/// server recovers by itself when it comes back). No token needed: for readiness probes and
/// load balancers.
#[utoipa::path(get, operation_id = "getReadiness", path = "/readyz", tag = "operations", security(()),
    responses((status = 200, description = "The database answers", body = Object, example = json!({"status": "ok"})),
              (status = 503, description = "The database does not answer", body = Object, example = json!({"status": "unavailable"}))))]
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

/// Latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5];

/// Requests by route and status, and latency histograms by route, for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    /// By route template, then method: a hit borrows both, so counting allocates nothing.
    /// (Route templates are ours, not the client's: a fast hash is safe here.)
    routes: Mutex<HashMap<String, Vec<(Method, RouteStats)>>>,
    /// Cacheable `GET`s answered from the read cache, and those that had to be read.
    pub(crate) answer_hits: std::sync::atomic::AtomicU64,
    pub(crate) answer_misses: std::sync::atomic::AtomicU64,
    /// Reused after checking that the one group they depend on is unchanged.
    pub(crate) answer_revalidated: std::sync::atomic::AtomicU64,
    /// Token lookups for an org answered from memory (after checking two heads), and
    /// those read from the database.
    pub(crate) principal_hits: std::sync::atomic::AtomicU64,
    pub(crate) principal_misses: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct RouteStats {
    /// By status; a route answers with a handful of them.
    statuses: Vec<(u16, u64)>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    seconds: f64,
}

impl Metrics {
    /// Counts one answer under its route template (never the raw path, whose ids would
    /// make the label set grow without bound).
    pub(crate) fn record(&self, method: &Method, route: &str, status: u16, seconds: f64) {
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        if !routes.contains_key(route) {
            routes.insert(route.to_owned(), Vec::new());
        }
        let Some(methods) = routes.get_mut(route) else { return };
        let index = match methods.iter().position(|(m, _)| m == method) {
            Some(index) => index,
            None => {
                methods.push((method.clone(), RouteStats::default()));
                methods.len() - 1
            }
        };
        let stats = &mut methods[index].1;
        match stats.statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, count)) => *count += 1,
            None => stats.statuses.push((status, 1)),
        }
        for (bucket, bound) in stats.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        stats.count += 1;
        stats.seconds += seconds;
    }

    /// The Prometheus text format.
    fn render(&self, pool: Option<roster_core::store::PoolStatus>) -> String {
        let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut keys: Vec<(&str, &str, &RouteStats)> = routes
            .iter()
            .flat_map(|(route, methods)| {
                methods.iter().map(move |(method, stats)| (method.as_str(), route.as_str(), stats))
            })
            .collect();
        keys.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
        let mut out = String::new();
        out.push_str("# HELP roster_http_requests_total Requests answered, by route and status.\n");
        out.push_str("# TYPE roster_http_requests_total counter\n");
        for (method, route, stats) in &keys {
            let mut statuses = stats.statuses.clone();
            statuses.sort();
            for (status, count) in statuses {
                let _ = writeln!(
                    out,
                    "roster_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
                );
            }
        }
        out.push_str("# HELP roster_http_request_duration_seconds Time to answer, by route.\n");
        out.push_str("# TYPE roster_http_request_duration_seconds histogram\n");
        for (method, route, stats) in &keys {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            for (bound, count) in BUCKETS.iter().zip(stats.buckets) {
                let _ = writeln!(
                    out,
                    "roster_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "roster_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                stats.count
            );
            let _ = writeln!(
                out,
                "roster_http_request_duration_seconds_sum{{{labels}}} {}",
                stats.seconds
            );
            let _ = writeln!(
                out,
                "roster_http_request_duration_seconds_count{{{labels}}} {}",
                stats.count
            );
        }
        let (hits, misses, revalidated) = (
            self.answer_hits.load(std::sync::atomic::Ordering::Relaxed),
            self.answer_misses.load(std::sync::atomic::Ordering::Relaxed),
            self.answer_revalidated.load(std::sync::atomic::Ordering::Relaxed),
        );
        out.push_str("# HELP roster_read_cache_answers_total Cacheable reads, by whether the read cache answered them.\n");
        out.push_str("# TYPE roster_read_cache_answers_total counter\n");
        let _ = writeln!(out, "roster_read_cache_answers_total{{result=\"hit\"}} {hits}");
        let _ = writeln!(out, "roster_read_cache_answers_total{{result=\"miss\"}} {misses}");
        let _ = writeln!(
            out,
            "roster_read_cache_answers_total{{result=\"revalidated\"}} {revalidated}"
        );
        let (hits, misses) = (
            self.principal_hits.load(std::sync::atomic::Ordering::Relaxed),
            self.principal_misses.load(std::sync::atomic::Ordering::Relaxed),
        );
        out.push_str("# HELP roster_read_cache_principals_total Token lookups for an organization, by whether the read cache answered them.\n");
        out.push_str("# TYPE roster_read_cache_principals_total counter\n");
        let _ = writeln!(out, "roster_read_cache_principals_total{{result=\"hit\"}} {hits}");
        let _ = writeln!(out, "roster_read_cache_principals_total{{result=\"miss\"}} {misses}");
        if let Some(pool) = pool {
            out.push_str("# HELP roster_db_pool_connections Database connections of this instance, by state.\n");
            out.push_str("# TYPE roster_db_pool_connections gauge\n");
            let _ = writeln!(out, "roster_db_pool_connections{{state=\"max\"}} {}", pool.max);
            let _ = writeln!(out, "roster_db_pool_connections{{state=\"open\"}} {}", pool.open);
            let _ = writeln!(out, "roster_db_pool_connections{{state=\"idle\"}} {}", pool.idle);
            let _ = writeln!(
                out,
                "roster_db_pool_connections{{state=\"waiting_requests\"}} {}",
                pool.waiting
            );
        }
        out
    }
}

/// Read Prometheus metrics
///
/// Requests by route template and status, latency histograms by route, the read cache's
/// hits and misses and, on PostgreSQL, the connection pool's use. They hold route templates and counts, never ids or tenant
/// data; still, expose them on a private network only. No token needed.
#[utoipa::path(get, operation_id = "getMetrics", path = "/metrics", tag = "operations", security(()),
    responses((status = 200, description = "Prometheus metrics: requests by route and status, latency histograms, pool usage",
               content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(state.store.pool_status());
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
