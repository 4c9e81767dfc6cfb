//! Create, read, update and delete, with the exact shapes Tallyfy's clients read.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::harness::{TestApp, assert_hex_id, assert_timestamp};

/// The group JSON Roster must produce, given what the server chose (id, timestamps).
fn expected_group(
    actual: &Value,
    name: &str,
    description: &str,
    members: Value,
    guests: Value,
) -> Value {
    json!({
        "id": actual["id"],
        "name": name,
        "description": description,
        "logo": null,
        "member_count": members.as_array().map_or(0, Vec::len),
        "guest_count": guests.as_array().map_or(0, Vec::len),
        "members": members,
        "guests": guests,
        "created_at": actual["created_at"],
        "last_updated": actual["last_updated"],
        "updated_at": actual["last_updated"],
        "deleted_at": null,
    })
}

roster_test! {
async fn create_answers_201_with_the_whole_group() {
    let app = TestApp::new().await;
    let body = json!({
        "name": "  Onboarding Specialists ",
        "description": "Team responsible for new client onboarding.",
        "members": [app.standard.id.get(), app.admin.id.get(), app.admin.id.get()],
        "guests": ["Client.Liaison@Partner.com", "a@partner.com"],
        "ignored_key": true
    });
    let response = app.post(&app.org_path("/groups"), &app.admin.token, &body).await;
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let data = &response.json()["data"];
    assert_hex_id(&data["id"]);
    assert_timestamp(&data["created_at"]);
    assert_eq!(data["created_at"], data["last_updated"]);
    assert_eq!(
        response.json(),
        json!({"data": expected_group(
            data,
            "Onboarding Specialists",
            "Team responsible for new client onboarding.",
            json!([app.admin.id.get(), app.standard.id.get()]),
            json!(["a@partner.com", "client.liaison@partner.com"]),
        )})
    );
}
}

roster_test! {
async fn get_returns_the_group_under_both_prefixes() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({"name": "Sales", "description": "Sells"})).await;
    let id = created["id"].as_str().expect("id");
    for path in [
        app.org_path(&format!("/groups/{id}")),
        format!("/api{}", app.org_path(&format!("/groups/{id}"))),
    ] {
        let response = app.get(&path, &app.light.token).await;
        assert_eq!(response.status, StatusCode::OK, "{path}");
        assert_eq!(response.json(), json!({"data": created}), "{path}");
    }
}
}

roster_test! {
async fn with_users_and_assets_nest_fractal_includes() {
    let app = TestApp::new().await;
    let created = app
        .create_group(json!({"name": "Ops", "description": "d", "members": [app.light.id.get()]}))
        .await;
    let id = created["id"].as_str().expect("id");
    let response = app
        .get(&app.org_path(&format!("/groups/{id}?with=assets,users,unknown")), &app.admin.token)
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let data = &response.json()["data"];
    assert_eq!(data["assets"], json!({"data": []}));
    let user = &data["users"]["data"][0];
    assert_timestamp(&user["created_at"]);
    assert_eq!(
        data["users"],
        json!({"data": [{
            "id": app.light.id.get(),
            "email": "light@acme.test",
            "first_name": "First",
            "last_name": "light",
            "full_name": "First light",
            "timezone": null,
            "role": "light",
            "status": "active",
            "is_default_admin": false,
            "created_at": user["created_at"],
            "last_updated": user["last_updated"],
            "expires_at": null,
        }]})
    );
    let plain = app.get(&app.org_path(&format!("/groups/{id}")), &app.admin.token).await.json();
    assert_eq!(plain["data"].get("assets"), None);
    assert_eq!(plain["data"].get("users"), None);
}
}

roster_test! {
async fn update_replaces_present_lists_and_keeps_absent_ones() {
    let app = TestApp::new().await;
    let created = app
        .create_group(json!({
            "name": "Sales", "description": "Sells",
            "members": [app.admin.id.get()], "guests": ["g@x.test"]
        }))
        .await;
    let path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));

    // Only the description: lists and name untouched.
    let response = app.put(&path, &app.admin.token, &json!({"description": "Sells more"})).await;
    assert_eq!(response.status, StatusCode::OK);
    let data = response.json()["data"].clone();
    assert_eq!(
        data,
        expected_group(
            &data,
            "Sales",
            "Sells more",
            json!([app.admin.id.get()]),
            json!(["g@x.test"])
        )
    );
    assert_eq!(data["created_at"], created["created_at"]);

    // Members replaced, guests emptied, same name in another case is not a duplicate.
    let response = app
        .put(
            &path,
            &app.admin.token,
            &json!({"name": "SALES", "members": [app.light.id.get()], "guests": []}),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let data = response.json()["data"].clone();
    assert_eq!(
        data,
        expected_group(&data, "SALES", "Sells more", json!([app.light.id.get()]), json!([]))
    );

    // And it sticks.
    assert_eq!(app.get(&path, &app.light.token).await.json(), json!({"data": data}));
}
}

roster_test! {
async fn an_update_that_changes_nothing_keeps_last_updated() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({"name": "Sales", "description": "Sells"})).await;
    let path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let same = app.put(&path, &app.admin.token, &json!({"name": "Sales", "members": []})).await;
    assert_eq!(same.status, StatusCode::OK);
    assert_eq!(same.json()["data"]["last_updated"], created["last_updated"]);
    let renamed = app.put(&path, &app.admin.token, &json!({"name": "Sales 2"})).await;
    assert_ne!(renamed.json()["data"]["last_updated"], created["last_updated"]);
    assert_eq!(renamed.json()["data"]["updated_at"], renamed.json()["data"]["last_updated"]);
}
}

roster_test! {
async fn delete_answers_204_then_the_group_is_gone_and_its_name_free() {
    let app = TestApp::new().await;
    let created = app
        .create_group(json!({"name": "Temp", "description": "d", "members": [app.admin.id.get()], "guests": ["g@x.test"]}))
        .await;
    let path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    let response = app.delete(&path, &app.admin.token).await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(response.text, "");

    let not_found =
        json!({"error": true, "message": "Resource not found", "code": "RESOURCE_NOT_FOUND"});
    for response in [
        app.get(&path, &app.admin.token).await,
        app.delete(&path, &app.admin.token).await,
        app.put(&path, &app.admin.token, &json!({"name": "x"})).await,
    ] {
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        assert_eq!(response.json(), not_found);
    }
    app.create_group(json!({"name": "temp", "description": "again"})).await;
    assert_eq!(app.group_count().await, 1);
}
}

roster_test! {
async fn new_guest_emails_join_the_org_and_numeric_string_members_are_accepted() {
    let app = TestApp::new().await;
    let data = app
        .create_group(json!({
            "name": "Mixed", "description": "d",
            "members": [app.light.id.get().to_string(), format!(" {} ", app.admin.id.get())],
            "guests": [" New.Guest@Example.org "]
        }))
        .await;
    assert_eq!(data["members"], json!([app.admin.id.get(), app.light.id.get()]));
    assert_eq!(data["guests"], json!(["new.guest@example.org"]));
    // The same guest in a second group is the same org guest, in any case.
    let second = app
        .create_group(
            json!({"name": "Second", "description": "d", "guests": ["NEW.GUEST@example.org"]}),
        )
        .await;
    assert_eq!(second["guests"], json!(["new.guest@example.org"]));
}
}
