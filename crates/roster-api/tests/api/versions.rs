//! Versions and conditional requests: ETags, `If-Match` (412), `If-None-Match` (304),
//! and `Idempotency-Key` on create.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, TestResponse, request};

fn precondition_failed() -> Value {
    json!({
        "error": true,
        "message": "The group has changed since the version given in If-Match.",
        "code": "PRECONDITION_FAILED"
    })
}

fn with_header(mut req: Request<Body>, name: &'static str, value: &str) -> Request<Body> {
    req.headers_mut().insert(name, value.parse().expect("header"));
    req
}

async fn send_with(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    header: (&'static str, &str),
) -> TestResponse {
    let body = body.map(|b| b.to_string());
    app.send(with_header(
        request(method, path, Some(&app.admin.token), body.as_deref()),
        header.0,
        header.1,
    ))
    .await
}

roster_test! {
async fn every_change_moves_the_etag() {
    let app = TestApp::new().await;
    let created = app.post(&app.org_path("/groups"), &app.admin.token, &json!({"name": "G", "description": "d"})).await;
    assert_eq!(created.header("etag"), Some("\"1\""));
    let id = created.json()["data"]["id"].as_str().expect("id").to_owned();
    let path = app.org_path(&format!("/groups/{id}"));
    assert_eq!(app.get(&path, &app.light.token).await.header("etag"), Some("\"1\""));
    // A PUT that changes nothing keeps the version.
    let same = app.put(&path, &app.admin.token, &json!({"name": "G"})).await;
    assert_eq!(same.header("etag"), Some("\"1\""));
    let renamed = app.put(&path, &app.admin.token, &json!({"name": "G2"})).await;
    assert_eq!(renamed.header("etag"), Some("\"2\""));
    let patched = app
        .call(Method::PATCH, &format!("{path}/members"), &app.admin.token, Some(&json!({"add": [app.light.id.get()]}).to_string()))
        .await;
    assert_eq!(patched.header("etag"), Some("\"3\""));
    // A person leaving the group is a change to it.
    app.call(Method::DELETE, &app.org_path(&format!("/users/{}/disable", app.light.id)), &app.admin.token, None).await;
    let after = app.get(&path, &app.admin.token).await;
    assert_eq!(after.header("etag"), Some("\"4\""));
    assert_eq!((after.json()["data"]["members"].clone(), after.json()["data"]["member_count"].clone()), (json!([]), json!(0)));
}
}

roster_test! {
async fn if_none_match_answers_304_while_unchanged() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({"name": "G", "description": "d"})).await;
    let path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    for tag in ["\"1\"", "W/\"1\"", "\"7\", \"1\"", "*"] {
        let response = send_with(&app, Method::GET, &path, None, ("if-none-match", tag)).await;
        assert_eq!(response.status, StatusCode::NOT_MODIFIED, "{tag}");
        assert_eq!(response.text, "");
        assert_eq!(response.header("etag"), Some("\"1\""));
    }
    app.put(&path, &app.admin.token, &json!({"description": "new"})).await;
    let changed = send_with(&app, Method::GET, &path, None, ("if-none-match", "\"1\"")).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.header("etag"), Some("\"2\""));
}
}

roster_test! {
async fn if_match_refuses_stale_writes_with_412_and_changes_nothing() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({"name": "G", "description": "d"})).await;
    let path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    app.put(&path, &app.admin.token, &json!({"description": "v2"})).await;
    let stale = ("if-match", "\"1\"");
    for (method, rest, body) in [
        (Method::PUT, "", Some(json!({"name": "Stale"}))),
        (Method::PATCH, "/members", Some(json!({"add": [app.admin.id.get()]}))),
        (Method::PATCH, "/guests", Some(json!({"add": ["g@x.test"]}))),
        (Method::DELETE, "", None),
    ] {
        let response = send_with(&app, method.clone(), &format!("{path}{rest}"), body, stale).await;
        assert_eq!(response.status, StatusCode::PRECONDITION_FAILED, "{method} {rest}");
        assert_eq!(response.json(), precondition_failed());
    }
    let now = app.get(&path, &app.admin.token).await;
    assert_eq!((now.json()["data"]["name"].clone(), now.header("etag")), (json!("G"), Some("\"2\"")));
    // The current version, or `*`, passes.
    let fresh = send_with(&app, Method::PUT, &path, Some(json!({"name": "Fresh"})), ("if-match", "\"2\"")).await;
    assert_eq!(fresh.status, StatusCode::OK);
    let any = send_with(&app, Method::DELETE, &path, None, ("if-match", "*")).await;
    assert_eq!(any.status, StatusCode::NO_CONTENT);
}
}

roster_test! {
async fn idempotency_key_replays_the_first_create() {
    let app = TestApp::new().await;
    let path = app.org_path("/groups");
    let body = json!({"name": "Once", "description": "d"});
    let first = send_with(&app, Method::POST, &path, Some(body.clone()), ("idempotency-key", "key-1")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(first.header("idempotent-replayed"), None);
    // The same request again, even with its keys in another order.
    let again = send_with(&app, Method::POST, &path, Some(json!({"description": "d", "name": "Once"})), ("idempotency-key", "key-1")).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.json(), first.json());
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.group_count().await, 1);
    // The same key with another body is refused.
    let other = send_with(&app, Method::POST, &path, Some(json!({"name": "Twice", "description": "d"})), ("idempotency-key", "key-1")).await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        other.json()["errors"],
        json!({"Idempotency-Key": ["The Idempotency-Key was already used with a different request."]})
    );
    // Keys are per org: another org's identical key is a fresh request.
    let elsewhere = app
        .send(with_header(
            request(Method::POST, &format!("/organizations/{}/groups", app.other_org), Some(&app.other_admin.token), Some(&body.to_string())),
            "idempotency-key",
            "key-1",
        ))
        .await;
    assert_eq!(elsewhere.status, StatusCode::CREATED);
    assert_ne!(elsewhere.json()["data"]["id"], first.json()["data"]["id"]);
    let bad = send_with(&app, Method::POST, &path, Some(body), ("idempotency-key", "")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}
}
