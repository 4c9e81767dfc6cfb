//! `PATCH .../members|guests` edits that compose, and keyset-paginated reads of a group's people.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, seed_member};

async fn patch(app: &TestApp, path: &str, body: Value) -> crate::harness::TestResponse {
    app.call(Method::PATCH, path, &app.admin.token, Some(&body.to_string())).await
}

roster_test! {
async fn patch_members_adds_and_removes_without_touching_others() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({"name": "G", "description": "d", "members": [app.admin.id.get()], "guests": ["g@x.test"]})).await;
    let path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    let response = patch(&app, &format!("{path}/members"), json!({"add": [app.light.id.get(), app.standard.id.get().to_string()], "remove": [app.admin.id.get()]})).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let data = response.json()["data"].clone();
    // The answer carries counts, not lists, so its cost does not grow with the group.
    assert_eq!(
        data,
        json!({
            "id": created["id"], "name": "G", "description": "d", "logo": null,
            "member_count": 2, "guest_count": 1,
            "created_at": created["created_at"], "last_updated": data["last_updated"], "updated_at": data["last_updated"],
            "deleted_at": null,
        })
    );
    let full = app.get(&path, &app.admin.token).await.json()["data"].clone();
    assert_eq!(full["members"], json!([app.standard.id.get(), app.light.id.get()]));
    assert_eq!(full["guests"], json!(["g@x.test"]));
    // Idempotent: adding a present member or removing an absent one changes nothing.
    let again = patch(&app, &format!("{path}/members"), json!({"add": [app.light.id.get()], "remove": [app.admin.id.get()]})).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.header("etag"), response.header("etag"));
    assert_eq!(again.json()["data"]["last_updated"], data["last_updated"]);
    // A whole number sent as a float is that integer, as JSON Schema reads it (exactly,
    // even where a float has only just the digits); a fraction is not an id.
    let as_float = format!(r#"{{"add": [{}.0], "remove": [3802717910388082.0]}}"#, app.admin.id.get());
    let floats = app.call(Method::PATCH, &format!("{path}/members"), &app.admin.token, Some(&as_float)).await;
    assert_eq!(floats.status, StatusCode::OK, "{}", floats.text);
    assert_eq!(floats.json()["data"]["member_count"], json!(3));
    let fraction = patch(&app, &format!("{path}/members"), json!({"add": [1.5]})).await;
    assert_eq!(fraction.json()["errors"], json!({"add.0": ["The add.0 must be an integer."]}));
}
}

roster_test! {
async fn patch_guests_adds_new_org_guests_and_removes() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({"name": "G", "description": "d", "guests": ["a@x.test"]})).await;
    let path = app.org_path(&format!("/groups/{}/guests", created["id"].as_str().expect("id")));
    let response = patch(&app, &path, json!({"add": ["B@x.test"], "remove": ["A@X.test"]})).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_eq!(response.json()["data"]["guest_count"], json!(1));
    let group = app.get(&app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id"))), &app.admin.token).await;
    assert_eq!(group.json()["data"]["guests"], json!(["b@x.test"]));
    assert_eq!(app.get(&app.org_path("/guests/b%40x.test"), &app.admin.token).await.status, StatusCode::OK);
}
}

roster_test! {
async fn patch_is_all_or_nothing_with_element_keys() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({"name": "G", "description": "d", "members": [app.admin.id.get()]})).await;
    let group_path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    let response = patch(&app, &format!("{group_path}/members"), json!({"add": [app.light.id.get(), app.other_admin.id.get(), "x"], "remove": [app.admin.id.get()]})).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.json()["errors"], json!({"add.2": ["The add.2 must be an integer."]}));
    let response = patch(&app, &format!("{group_path}/members"), json!({"add": [app.light.id.get(), app.other_admin.id.get()], "remove": [app.admin.id.get()]})).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.json()["errors"], json!({"add.1": ["The selected add.1 is invalid."]}));
    let guests = patch(&app, &format!("{group_path}/guests"), json!({"add": ["ok@x.test", "standard@acme.test", "bad"]})).await;
    assert_eq!(
        guests.json()["errors"],
        json!({"add.2": ["The add.2 must be a valid email address."]})
    );
    let guests = patch(&app, &format!("{group_path}/guests"), json!({"add": ["ok@x.test", "standard@acme.test"]})).await;
    assert_eq!(
        guests.json()["errors"],
        json!({"add.1": ["The add.1 is a member of this organization; add them to members instead."]})
    );
    let too_many: Vec<i64> = (1..=1001).collect();
    let big = patch(&app, &format!("{group_path}/members"), json!({"add": too_many})).await;
    assert_eq!(big.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(big.json()["errors"], json!({"add": ["The add and remove lists may hold at most 1000 entries together."]}));
    // Nothing was written.
    let now = app.get(&group_path, &app.admin.token).await;
    assert_eq!((now.json()["data"]["members"].clone(), now.json()["data"]["guests"].clone()), (json!([app.admin.id.get()]), json!([])));
    assert_eq!(now.header("etag"), Some("\"1\""));
    for token in [&app.standard.token, &app.light.token] {
        let refused = app.call(Method::PATCH, &format!("{group_path}/members"), token, Some("{\"add\": []}")).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
    let missing = patch(&app, &app.org_path("/groups/0123456789abcdef0123456789abcdef/members"), json!({"add": []})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
}

roster_test! {
async fn member_and_guest_pages_walk_with_a_cursor() {
    let app = TestApp::new().await;
    let mut ids = vec![app.admin.id.get(), app.standard.id.get(), app.light.id.get()];
    for i in 0..4 {
        ids.push(seed_member(app.store.as_ref(), &app.org, &format!("m{i}@acme.test"), roster_core::Role::Light).await.id.get());
    }
    let guests: Vec<String> = (0..5).map(|i| format!("g{i}@x.test")).collect();
    let created = app.create_group(json!({"name": "Big", "description": "d", "members": ids, "guests": guests})).await;
    let base = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));

    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app.get(&format!("{base}/members?per_page=3&cursor={cursor}"), &app.light.token).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let body = page.json();
        assert_eq!(body["meta"]["per_page"], json!(3));
        seen.extend(body["data"].as_array().expect("data").iter().map(|u| u["id"].as_i64().expect("id")));
        match body["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, ids);

    let first = app.get(&format!("{base}/guests?per_page=2"), &app.light.token).await.json();
    assert_eq!(first["data"][0]["email"], json!("g0@x.test"));
    let next = first["meta"]["next_cursor"].as_str().expect("cursor").to_owned();
    let second = app.get(&format!("{base}/guests?per_page=2&cursor={next}"), &app.light.token).await.json();
    let emails: Vec<&str> = second["data"].as_array().expect("data").iter().map(|g| g["email"].as_str().expect("email")).collect();
    assert_eq!(emails, vec!["g2@x.test", "g3@x.test"]);
    let everything = app.get(&format!("{base}/guests?per_page=5000"), &app.light.token).await.json();
    assert_eq!((everything["meta"]["per_page"].clone(), everything["meta"]["next_cursor"].clone()), (json!(1000), json!(null)));
    assert_eq!(everything["data"].as_array().map(Vec::len), Some(5));

    // A cursor is taken exactly as issued: a corrupted one (even by mere whitespace) is
    // refused, never silently read as the first page; an empty one is no cursor.
    for corrupted in ["abc", "%20", "%0C", &format!("{next}%20")] {
        let bad = app.get(&format!("{base}/members?cursor={corrupted}"), &app.light.token).await;
        let bad_guests = app.get(&format!("{base}/guests?cursor={corrupted}"), &app.light.token).await;
        for answer in [bad, bad_guests] {
            assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{corrupted}");
            assert_eq!(answer.json()["errors"], json!({"cursor": ["The cursor is invalid."]}));
        }
    }
    let empty = app.get(&format!("{base}/guests?per_page=2&cursor="), &app.light.token).await.json();
    assert_eq!(empty["data"][0]["email"], json!("g0@x.test"));
    let foreign = app.get(&format!("{base}/members"), &app.other_admin.token).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
}
}
