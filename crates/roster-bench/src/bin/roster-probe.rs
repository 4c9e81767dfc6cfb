//! Profiling probe (not part of the harness): drives N identical requests through the
//! real router in-process, so callgrind can count instructions per request.
//! Usage: roster-probe DB_PATH N PATH TOKEN [METHOD BODY]
//! (with a body, `{n}` in it becomes the request's number, so that names stay unique)

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let db = args.next().unwrap_or_default();
    let n: usize = args.next().unwrap_or_default().parse()?;
    let path = args.next().unwrap_or_default();
    let token = args.next().unwrap_or_default();
    let method = args.next().unwrap_or_else(|| "GET".to_owned());
    let body = args.next().unwrap_or_default();
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async move {
        let store = Arc::new(roster_sqlite::SqliteStore::open(std::path::Path::new(&db))?);
        let config = roster_api::ApiConfig { rate_limit_per_minute: 0, ..Default::default() };
        let app = roster_api::router(roster_api::AppState::new(store, config));
        let mut bytes = 0;
        for i in 0..n {
            let request = Request::builder()
                .method(method.as_str())
                .uri(&path)
                .header("authorization", format!("Bearer {token}"))
                .header("x-tallyfy-client", "probe")
                .header("content-type", "application/json")
                .body(Body::from(body.replace("{n}", &i.to_string())))?;
            let response = app.clone().oneshot(request).await?;
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
            bytes += body.len();
        }
        println!("{bytes}");
        anyhow::Ok(())
    })
}
