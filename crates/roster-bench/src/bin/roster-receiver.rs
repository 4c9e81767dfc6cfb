//! A fast webhook receiver for the benchmark: answers every `POST` with 204 at once and
//! notes, for each, how long after its event's `timestamp` (the write's time) the answer
//! went out. `GET /stats` answers `{"received", "p50_ms", "p99_ms", "max_ms"}` over
//! everything since the last `DELETE /stats`.
//!
//! Usage: roster-receiver ADDR

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use roster_core::{Clock, Timestamp};
use serde_json::{Value, json};

#[derive(Clone)]
struct Log {
    clock: Clock,
    /// Milliseconds from each event's time to its answer.
    delays: Arc<Mutex<Vec<i64>>>,
}

async fn receive(State(log): State<Log>, body: axum::body::Bytes) -> StatusCode {
    let written = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|event| event["timestamp"].as_str().and_then(Timestamp::parse_utc));
    if let Some(written) = written {
        let delay = log.clock.now().millis() - written.millis();
        log.delays.lock().unwrap_or_else(PoisonError::into_inner).push(delay);
    }
    StatusCode::NO_CONTENT
}

async fn stats(State(log): State<Log>) -> axum::Json<Value> {
    let mut delays = log.delays.lock().unwrap_or_else(PoisonError::into_inner).clone();
    delays.sort_unstable();
    let at = |share: f64| -> i64 {
        if delays.is_empty() {
            return 0;
        }
        // Nearest rank, as wrk reports its percentiles.
        let rank = (share * delays.len() as f64).ceil() as usize;
        delays[rank.clamp(1, delays.len()) - 1]
    };
    axum::Json(json!({
        "received": delays.len(),
        "p50_ms": at(0.50),
        "p99_ms": at(0.99),
        "max_ms": delays.last().copied().unwrap_or(0),
    }))
}

async fn reset(State(log): State<Log>) -> StatusCode {
    log.delays.lock().unwrap_or_else(PoisonError::into_inner).clear();
    StatusCode::NO_CONTENT
}

fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let log = Log { clock: Clock::system(), delays: Arc::default() };
    let app = Router::new()
        .route("/stats", get(stats).delete(reset))
        .route("/{*hook}", post(receive))
        .with_state(log);
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?.block_on(
        async {
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            println!("receiver listening on http://{}", listener.local_addr()?);
            axum::serve(listener, app).await?;
            Ok(())
        },
    )
}
