//! Profiling probe (not part of the harness): drives N identical requests through the
//! real router in-process, so callgrind can count instructions per request.
//! Usage: roster-probe DB_PATH N PATH TOKEN

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

// The same allocator as `roster serve`: it is part of the stack being measured.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let db = args.next().unwrap_or_default();
    let n: usize = args.next().unwrap_or_default().parse()?;
    let path = args.next().unwrap_or_default();
    let token = args.next().unwrap_or_default();
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async move {
        let store = Arc::new(roster_sqlite::SqliteStore::open(std::path::Path::new(&db))?);
        let config = roster_api::ApiConfig { rate_limit_per_minute: 0, ..Default::default() };
        let app = roster_api::router(roster_api::AppState::new(store, config));
        let mut bytes = 0;
        for _ in 0..n {
            let request = Request::get(&path)
                .header("authorization", format!("Bearer {token}"))
                .header("x-tallyfy-client", "probe")
                .body(Body::empty())?;
            let response = app.clone().oneshot(request).await?;
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
            bytes += body.len();
        }
        println!("{bytes}");
        anyhow::Ok(())
    })
}
