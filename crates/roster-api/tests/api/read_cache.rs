//! Answers and callers reused between requests (`--read-cache-mib`) must never be
//! stale: every write, by this instance or another one on the same database, shows in
//! the very next read. Each test warms the cache with repeated reads first.

use axum::Router;
use axum::http::{Method, StatusCode};
use http_body_util::BodyExt;
use roster_core::model::NewUser;
use roster_core::people::MemberAction;
use roster_core::token::TokenSecret;
use roster_core::{Email, Role};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::harness::{TestApp, TestResponse, request};

async fn send_to(
    router: &Router,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> TestResponse {
    let body = body.map(Value::to_string);
    let response = router
        .clone()
        .oneshot(request(method, path, Some(token), body.as_deref()))
        .await
        .expect("router");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    TestResponse { status, headers, text: String::from_utf8_lossy(&bytes).into_owned() }
}

/// Reads `path` three times (the later ones can be answered from memory) and checks
/// that they agree; returns the last answer.
async fn read_thrice(app: &TestApp, path: &str, token: &str) -> TestResponse {
    let first = app.get(path, token).await;
    for _ in 0..2 {
        let again = app.get(path, token).await;
        assert_eq!((again.status, &again.text), (first.status, &first.text), "{path}");
        assert_eq!(again.header("etag"), first.header("etag"));
    }
    first
}

roster_test! {
async fn another_instances_writes_show_in_the_next_read() {
    let app = TestApp::new().await;
    let (other, _) = app.second_instance().await;
    let token = &app.admin.token;
    let created = app.create_group(json!({"name": "Before", "description": "first"})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = app.org_path(&format!("/groups/{id}"));
    let list = app.org_path("/groups?q=fore");

    let before = read_thrice(&app, &path, token).await;
    assert_eq!(before.json()["data"]["name"], "Before");
    assert_eq!(read_thrice(&app, &list, token).await.json()["meta"]["pagination"]["total"], 1);
    let old_etag = before.header("etag").unwrap().to_owned();

    // Renamed through the other instance: this one answers with the new name at once.
    let renamed = send_to(&other, Method::PUT, &path, token, Some(&json!({"name": "After"}))).await;
    assert_eq!(renamed.status, StatusCode::OK);
    let after = app.get(&path, token).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(after.json()["data"]["name"], "After");
    assert_ne!(after.header("etag"), Some(old_etag.as_str()));
    let listed = app.get(&list, token).await.json();
    assert_eq!(listed["meta"]["pagination"]["total"], 0, "{listed}");
    assert_eq!(listed["data"], json!([]));

    // A version that was current when cached is no longer answered with 304.
    let mut conditional = request(Method::GET, &path, Some(token), None);
    conditional.headers_mut().insert("if-none-match", old_etag.parse().unwrap());
    let fresh = app.send(conditional).await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert_eq!(fresh.json()["data"]["name"], "After");

    // Deleted elsewhere: gone here too.
    read_thrice(&app, &path, token).await;
    let deleted = send_to(&other, Method::DELETE, &path, token, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path, token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&app.org_path("/groups"), token).await.json()["meta"]["pagination"]["total"], 0);
}
}

roster_test! {
async fn a_token_revoked_elsewhere_is_refused_at_once() {
    let app = TestApp::new().await;
    let (_, other_store) = app.second_instance().await;
    let groups = app.org_path("/groups");
    assert_eq!(read_thrice(&app, &groups, &app.standard.token).await.status, StatusCode::OK);
    let tokens = other_store.list_tokens(&app.org, Some(app.standard.id)).await.expect("tokens");
    other_store.revoke_token(&app.org, tokens[0].id).await.expect("revoke");
    let refused = app.get(&groups, &app.standard.token).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json(), json!({"error": true, "message": "Unauthenticated.", "code": "UNAUTHENTICATED"}));
}
}

roster_test! {
async fn a_caller_remembered_in_another_org_follows_its_token_and_its_membership() {
    // The admin's token was issued in the first org; the same account is also a
    // standard member of the second one, and is remembered there.
    let app = TestApp::new().await;
    let (_, other_store) = app.second_instance().await;
    let account = NewUser {
        email: Email::parse("admin@acme.test").expect("email"),
        first_name: "A".into(),
        last_name: "B".into(),
        role: Role::Standard,
    };
    app.store.add_member(&app.other_org, &account).await.expect("join");
    let groups = format!("/organizations/{}/groups", app.other_org);
    let token = &app.admin.token;
    assert_eq!(read_thrice(&app, &groups, token).await.status, StatusCode::OK);

    // Disabled in the second org by another instance: refused there at once.
    let disabled = other_store.member_action(&app.other_org, app.admin.id, MemberAction::Disable);
    disabled.await.expect("disable");
    let refused = app.get(&groups, token).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    let enabled = other_store.member_action(&app.other_org, app.admin.id, MemberAction::Enable);
    enabled.await.expect("enable");
    assert_eq!(read_thrice(&app, &groups, token).await.status, StatusCode::OK);

    // The token revoked in the org it belongs to: refused in the other org at once.
    let tokens = other_store.list_tokens(&app.org, Some(app.admin.id)).await.expect("tokens");
    other_store.revoke_token(&app.org, tokens[0].id).await.expect("revoke");
    let refused = app.get(&groups, token).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json(), json!({"error": true, "message": "Unauthenticated.", "code": "UNAUTHENTICATED"}));
}
}

roster_test! {
async fn a_remembered_caller_is_refused_once_the_token_expires() {
    let app = TestApp::new().await;
    let secret = TokenSecret::generate().expect("token");
    let expires = roster_core::Timestamp::from_millis(app.store.clock().now().millis() + 1500);
    app.store.create_token(&app.org, app.admin.id, &secret.hash(), Some(expires)).await.expect("token");
    let groups = app.org_path("/groups");
    assert_eq!(app.get(&groups, secret.expose()).await.status, StatusCode::OK);
    // Wait for the use to be recorded (a write), so that nothing is written from here on
    // and the caller below is remembered until the token expires.
    let mut recorded = false;
    for _ in 0..50 {
        let tokens = app.store.list_tokens(&app.org, Some(app.admin.id)).await.expect("tokens");
        recorded = tokens.iter().any(|t| t.expires_at == Some(expires) && t.last_used_at.is_some());
        if recorded {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(recorded, "the token's use is recorded");
    assert_eq!(read_thrice(&app, &groups, secret.expose()).await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let refused = app.get(&groups, secret.expose()).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json(), json!({"error": true, "message": "Unauthenticated.", "code": "UNAUTHENTICATED"}));
}
}

roster_test! {
async fn a_reused_answer_keeps_the_origin_it_was_asked_from() {
    let app = TestApp::new().await;
    for n in 0..3 {
        app.create_group(json!({"name": format!("G{n}"), "description": "d"})).await;
    }
    let path = app.org_path("/groups?per_page=1");
    for host in ["a.example", "b.example", "a.example"] {
        for _ in 0..2 {
            let mut asked = request(Method::GET, &path, Some(&app.admin.token), None);
            asked.headers_mut().insert("host", host.parse().unwrap());
            let answer = app.send(asked).await;
            assert_eq!(answer.status, StatusCode::OK);
            let next = answer.json()["meta"]["pagination"]["links"]["next"].as_str().unwrap().to_owned();
            assert!(next.starts_with(&format!("http://{host}/organizations/")), "{next}");
        }
    }
}
}

roster_test! {
async fn a_group_answer_outlives_writes_elsewhere_in_its_org_but_not_its_own_changes() {
    let app = TestApp::new().await;
    let (other, _) = app.second_instance().await;
    let token = &app.admin.token;
    let a = app.create_group(json!({"name": "A", "description": "d", "members": [app.admin.id.get()]})).await;
    let b = app.create_group(json!({"name": "B", "description": "d"})).await;
    let path = app.org_path(&format!("/groups/{}", a["id"].as_str().unwrap()));
    let other_path = app.org_path(&format!("/groups/{}", b["id"].as_str().unwrap()));
    let metric = |text: &str, result: &str| -> u64 {
        let prefix = format!("roster_read_cache_answers_total{{result=\"{result}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(prefix.as_str())).and_then(|n| n.parse().ok()).unwrap()
    };
    let metrics = || async { app.send(request(Method::GET, "/metrics", None, None)).await.text };

    let before = read_thrice(&app, &path, token).await;
    // A write to another group of the org, through the other instance: the answer of A
    // is reused after checking A's version, and is the same answer.
    let renamed = send_to(&other, Method::PUT, &other_path, token, Some(&json!({"name": "B2"}))).await;
    assert_eq!(renamed.status, StatusCode::OK);
    let revalidated = metric(&metrics().await, "revalidated");
    let again = app.get(&path, token).await;
    assert_eq!((again.status, &again.text, again.header("etag")), (before.status, &before.text, before.header("etag")));
    assert_eq!(metric(&metrics().await, "revalidated"), revalidated + 1);

    // A's own changes (a member leaving it, its removal) show at once.
    let patched = send_to(&other, Method::PATCH, &format!("{path}/members"), token, Some(&json!({"remove": [app.admin.id.get()]}))).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let after = app.get(&path, token).await;
    assert_eq!(after.json()["data"]["members"], json!([]));
    assert_ne!(after.header("etag"), before.header("etag"));
    read_thrice(&app, &path, token).await;
    send_to(&other, Method::PUT, &other_path, token, Some(&json!({"name": "B3"}))).await;
    let trashed = send_to(&other, Method::DELETE, &path, token, None).await;
    assert_eq!(trashed.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path, token).await.status, StatusCode::NOT_FOUND);
}
}
