//! The yardstick: the same HTTP stack as `roster serve` (axum on tokio, same release
//! profile) answering a fixed 10-member group from memory. Whatever Roster loses against
//! it is Roster's own work.
//!
//! Usage: roster-ceiling ADDR

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18090".to_owned());
    let group = json!({"data": {
        "id": "53a4560dc877f9b4f709f97630efbb5a", "name": "Sales Team", "description": "Handles all sales inquiries.",
        "logo": null, "members": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "guests": ["a@example.com", "b@example.com"],
        "member_count": 10, "guest_count": 2,
        "created_at": "2025-06-10T14:30:00.000Z", "last_updated": "2025-06-10T14:30:00.000Z", "updated_at": "2025-06-10T14:30:00.000Z"
    }});
    let body: &'static str = Box::leak(group.to_string().into_boxed_str());
    let app = Router::new().fallback(move || async move {
        ([(CONTENT_TYPE, "application/json")], body).into_response()
    });
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("ceiling listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app).await?;
        Ok(())
    })
}
