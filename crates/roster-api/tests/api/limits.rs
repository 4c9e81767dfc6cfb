//! Limits with clear errors: rate limits, body size, load shedding; and the operational
//! endpoints and request ids.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use roster_api::ApiConfig;
use serde_json::json;

use crate::harness::{TestApp, request};

roster_test! {
async fn the_rate_limit_counts_per_token_and_answers_429() {
    let app = TestApp::with_config(ApiConfig { rate_limit_per_minute: 5, ..ApiConfig::default() }).await;
    for remaining in (0..5).rev() {
        let response = app.get("/me", &app.light.token).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.header("x-ratelimit-limit"), Some("5"));
        assert_eq!(response.header("x-ratelimit-remaining"), Some(remaining.to_string().as_str()));
    }
    let refused = app.get("/me", &app.light.token).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refused.json(),
        json!({"error": true, "message": "Too many requests. Please try again in 12 seconds.", "code": "RATE_LIMIT_EXCEEDED"})
    );
    assert_eq!(refused.header("retry-after"), Some("12"));
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    // Another token has a budget of its own.
    assert_eq!(app.get("/me", &app.admin.token).await.status, StatusCode::OK);
}
}

roster_test! {
async fn bodies_over_the_limit_are_413_and_write_nothing() {
    let app = TestApp::new().await;
    let big = json!({"name": "Big", "description": "x".repeat(1024 * 1024)}).to_string();
    let response = app.call(Method::POST, &app.org_path("/groups"), &app.admin.token, Some(&big)).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.json(),
        json!({"error": true, "message": "The request body is too large.", "code": "PAYLOAD_TOO_LARGE"})
    );
    assert_eq!(app.group_count().await, 0);
}
}

roster_test! {
async fn requests_beyond_the_concurrency_limit_are_shed_with_503() {
    let app = TestApp::with_config(ApiConfig { max_concurrent_requests: 1, ..ApiConfig::default() }).await;
    // A request whose body never finishes arriving holds the only slot.
    let (_sender, pending) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
    let mut slow = request(Method::POST, &app.org_path("/groups"), Some(&app.admin.token), None);
    *slow.body_mut() = Body::from_stream(tokio_stream_from(pending));
    let router = app.router.clone();
    let holder = tokio::spawn(async move { tower::ServiceExt::oneshot(router, slow).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let shed = app.get("/me", &app.admin.token).await;
    assert_eq!(shed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(shed.json()["code"], json!("SERVICE_UNAVAILABLE"));
    assert_eq!(shed.header("retry-after"), Some("1"));
    assert!(shed.header("x-request-id").is_some());
    // The slot comes back when the slow request goes away.
    holder.abort();
    let _ = holder.await;
    assert_eq!(app.get("/me", &app.admin.token).await.status, StatusCode::OK);
}
}

roster_test! {
async fn a_body_that_does_not_arrive_in_time_is_408_and_writes_nothing() {
    let app = TestApp::with_config(ApiConfig { body_timeout: Duration::from_millis(300), ..ApiConfig::default() }).await;
    let (sender, pending) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(4);
    // Half a body, then nothing more (the sender stays open).
    sender.send(Ok(axum::body::Bytes::from_static(br#"{"name": "Slow", "#))).await.expect("send");
    let mut slow = request(Method::POST, &app.org_path("/groups"), Some(&app.admin.token), None);
    *slow.body_mut() = Body::from_stream(tokio_stream_from(pending));
    let response = app.send(slow).await;
    assert_eq!(response.status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(
        response.json(),
        json!({"error": true, "message": "The request body did not arrive in time.", "code": "REQUEST_TIMEOUT"})
    );
    assert_eq!(app.group_count().await, 0);
    drop(sender);
}
}

/// A body stream fed by a channel (kept open so the body never ends).
fn tokio_stream_from(
    mut receiver: tokio::sync::mpsc::Receiver<Result<axum::body::Bytes, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<axum::body::Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

roster_test! {
async fn probes_and_request_ids() {
    let app = TestApp::new().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.send(request(Method::GET, path, None, None)).await;
        assert_eq!(response.status, StatusCode::OK, "{path}");
        assert_eq!(response.json(), json!({"status": "ok"}));
    }
    let response = app.get("/me", &app.admin.token).await;
    let id = response.header("x-request-id").expect("request id");
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    let mut req = request(Method::GET, "/nope", None, None);
    req.headers_mut().insert("x-request-id", "client-chosen-42".parse().expect("header"));
    assert_eq!(app.send(req).await.header("x-request-id"), Some("client-chosen-42"));
}
}

roster_test! {
async fn metrics_count_requests_by_route_template() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({"name": "Counted", "description": "d"})).await;
    let id = created["id"].as_str().expect("id");
    app.get(&app.org_path(&format!("/groups/{id}")), &app.admin.token).await;
    app.get(&app.org_path("/groups/0123456789abcdef0123456789abcdef"), &app.admin.token).await;
    let response = app.send(request(Method::GET, "/metrics", None, None)).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("content-type"), Some("text/plain; version=0.0.4"));
    let text = &response.text;
    let get = r#"method="GET",route="/organizations/{org}/groups/{group}""#;
    assert!(text.contains(&format!("roster_http_requests_total{{{get},status=\"200\"}} 1")), "{text}");
    assert!(text.contains(&format!("roster_http_requests_total{{{get},status=\"404\"}} 1")), "{text}");
    assert!(text.contains(&format!("roster_http_request_duration_seconds_count{{{get}}} 2")), "{text}");
    assert!(text.contains(r#"route="/organizations/{org}/groups",status="201"} 1"#), "{text}");
    // Route templates only: no ids, no tenant data.
    assert!(!text.contains(id) && !text.contains(app.org.as_str()) && !text.contains("Counted"));
}
}

roster_test! {
async fn metrics_count_read_cache_hits_and_misses() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({"name": "Cached", "description": "d"})).await;
    let path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    // The first read is read, the next two are answered from the cache; after a write
    // the next one is read again.
    for _ in 0..3 {
        assert_eq!(app.get(&path, &app.admin.token).await.status, StatusCode::OK);
    }
    app.put(&path, &app.admin.token, &json!({"description": "changed"})).await;
    assert_eq!(app.get(&path, &app.admin.token).await.status, StatusCode::OK);
    let text = app.send(request(Method::GET, "/metrics", None, None)).await.text;
    assert!(text.contains("roster_read_cache_answers_total{result=\"hit\"} 2\n"), "{text}");
    assert!(text.contains("roster_read_cache_answers_total{result=\"miss\"} 2\n"), "{text}");
    // The caller is read for the create. PostgreSQL tells the events that can change a
    // caller from the others (`OrgHead::callers`), so group writes leave the caller
    // remembered for the five requests after; SQLite reads it again after each write
    // (the first GET and the one after the PUT) and remembers it for the other three.
    let (hits, misses) = match crate::harness::BACKEND.try_with(|b| *b) {
        Ok(crate::harness::Backend::Postgres) => (5, 1),
        _ => (3, 3),
    };
    let principals = |result: &str, n: i32| {
        format!("roster_read_cache_principals_total{{result=\"{result}\"}} {n}\n")
    };
    assert!(text.contains(&principals("hit", hits)), "{text}");
    assert!(text.contains(&principals("miss", misses)), "{text}");
}
}
