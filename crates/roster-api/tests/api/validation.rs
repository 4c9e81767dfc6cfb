//! Validation as Tallyfy's Laravel back end does it: 422 with Laravel's wording and the
//! element index in the key, 400 for a body that is not JSON, and nothing written.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::TestApp;

fn invalid(errors: Value) -> Value {
    json!({"error": true, "message": "The given data was invalid.", "code": "VALIDATION_FAILED", "errors": errors})
}

async fn assert_create_rejected(app: &TestApp, body: Value, errors: Value) {
    let before = app.group_count().await;
    let response = app.post(&app.org_path("/groups"), &app.admin.token, &body).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", response.text);
    assert_eq!(response.json(), invalid(errors), "{body}");
    assert_eq!(app.group_count().await, before, "a rejected create wrote something: {body}");
}

roster_test! {
async fn create_requires_name_and_description() {
    let app = TestApp::new().await;
    let both = json!({
        "name": ["The name field is required."],
        "description": ["The description field is required."]
    });
    assert_create_rejected(&app, json!({}), both.clone()).await;
    assert_create_rejected(&app, json!({"name": "  ", "description": ""}), both.clone()).await;
    assert_create_rejected(&app, json!({"name": null, "description": null}), both.clone()).await;
    // A body that is JSON but not an object names no fields at all: a 400, nothing written.
    for body in [json!([1, 2]), json!("Sales"), json!(7)] {
        let before = app.group_count().await;
        let response = app.post(&app.org_path("/groups"), &app.admin.token, &body).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body}: {}", response.text);
        assert_eq!(
            response.json(),
            json!({"error": true, "code": "BAD_REQUEST", "message": "The request body must be a JSON object."})
        );
        assert_eq!(app.group_count().await, before);
    }
    assert_create_rejected(
        &app,
        json!({"name": "n"}),
        json!({"description": ["The description field is required."]}),
    )
    .await;
}
}

roster_test! {
async fn an_empty_body_is_an_empty_input() {
    let app = TestApp::new().await;
    let response =
        app.call(Method::POST, &app.org_path("/groups"), &app.admin.token, Some("")).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response.json()["errors"],
        json!({"name": ["The name field is required."], "description": ["The description field is required."]})
    );
}
}

roster_test! {
async fn wrong_json_types_are_422() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        json!({"name": 5, "description": {"a": 1}, "members": "1,2", "guests": {"0": "a@b.co"}}),
        json!({
            "name": ["The name must be a string."],
            "description": ["The description must be a string."],
            "members": ["The members must be an array."],
            "guests": ["The guests must be an array."]
        }),
    )
    .await;
}
}

roster_test! {
async fn name_is_at_most_200_characters_not_bytes() {
    let app = TestApp::new().await;
    let exactly = "ß".repeat(200);
    let created = app.create_group(json!({"name": exactly, "description": "d"})).await;
    assert_eq!(created["name"], json!(exactly));
    assert_create_rejected(
        &app,
        json!({"name": "x".repeat(201), "description": "d"}),
        json!({"name": ["The name must not be greater than 200 characters."]}),
    )
    .await;
}
}

roster_test! {
async fn names_are_unique_per_org_ignoring_case() {
    let app = TestApp::new().await;
    app.create_group(json!({"name": "Sales Team", "description": "d"})).await;
    assert_create_rejected(
        &app,
        json!({"name": " SALES team ", "description": "d"}),
        json!({"name": ["The name has already been taken."]}),
    )
    .await;
    // Another org may use the name.
    let other = app
        .post(
            &format!("/organizations/{}/groups", app.other_org),
            &app.other_admin.token,
            &json!({"name": "Sales Team", "description": "d"}),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED);
    // Renaming onto a taken name is refused too, and changes nothing.
    let second = app.create_group(json!({"name": "Support", "description": "d"})).await;
    let path = app.org_path(&format!("/groups/{}", second["id"].as_str().expect("id")));
    let response = app
        .put(&path, &app.admin.token, &json!({"name": "sales team", "description": "new"}))
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.json(), invalid(json!({"name": ["The name has already been taken."]})));
    assert_eq!(app.get(&path, &app.admin.token).await.json()["data"], second);
}
}

roster_test! {
async fn members_must_be_active_members_of_this_org() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        json!({
            "name": "n", "description": "d",
            "members": [app.admin.id.get(), app.other_admin.id.get(), 999_999, "abc", null, 1.5, -1]
        }),
        json!({
            "members.3": ["The members.3 must be an integer."],
            "members.4": ["The members.4 must be an integer."],
            "members.5": ["The members.5 must be an integer."],
            "members.6": ["The selected members.6 is invalid."]
        }),
    )
    .await;
    assert_create_rejected(
        &app,
        json!({"name": "n", "description": "d", "members": [app.admin.id.get(), app.other_admin.id.get(), 999_999]}),
        json!({
            "members.1": ["The selected members.1 is invalid."],
            "members.2": ["The selected members.2 is invalid."]
        }),
    )
    .await;
}
}

roster_test! {
async fn guests_must_be_valid_emails_of_non_members() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        json!({"name": "n", "description": "d", "guests": ["ok@guest.test", "not-an-email", 7, "a@b@c"]}),
        json!({
            "guests.1": ["The guests.1 must be a valid email address."],
            "guests.2": ["The guests.2 must be a string."],
            "guests.3": ["The guests.3 must be a valid email address."]
        }),
    )
    .await;
    assert_create_rejected(
        &app,
        json!({"name": "n", "description": "d", "guests": ["ok@guest.test", "Standard@Acme.test"]}),
        json!({
            "guests.1": ["The guests.1 is a member of this organization; add them to members instead."]
        }),
    )
    .await;
    // A member of another org is just a guest here.
    let created = app
        .create_group(json!({"name": "n", "description": "d", "guests": ["admin@other.test"]}))
        .await;
    assert_eq!(created["guests"], json!(["admin@other.test"]));
}
}

roster_test! {
async fn update_fields_are_optional_but_never_empty() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({"name": "Sales", "description": "Sells"})).await;
    let path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    for (body, errors) in [
        (
            json!({"description": null}),
            json!({"description": ["The description field is required."]}),
        ),
        (
            json!({"description": " "}),
            json!({"description": ["The description field is required."]}),
        ),
        (json!({"name": ""}), json!({"name": ["The name field is required."]})),
        (json!({"members": null}), json!({"members": ["The members must be an array."]})),
        (
            json!({"members": [app.other_admin.id.get()]}),
            json!({"members.0": ["The selected members.0 is invalid."]}),
        ),
    ] {
        let response = app.put(&path, &app.admin.token, &body).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(response.json(), invalid(errors), "{body}");
    }
    assert_eq!(app.get(&path, &app.admin.token).await.json()["data"], created);
    let empty = app.put(&path, &app.admin.token, &json!({"unknown": 1})).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.json()["data"], created);
}
}

roster_test! {
async fn a_body_that_is_not_json_is_400() {
    let app = TestApp::new().await;
    let expected = json!({"error": true, "message": "The request body is not valid JSON.", "code": "BAD_REQUEST"});
    for body in ["{\"name\": ", "name=Sales", "\u{0}"] {
        let response =
            app.call(Method::POST, &app.org_path("/groups"), &app.admin.token, Some(body)).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(response.json(), expected);
    }
    let created = app.create_group(json!({"name": "Sales", "description": "Sells"})).await;
    let path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    let response = app.call(Method::PUT, &path, &app.admin.token, Some("[")).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.group_count().await, 1);
}
}

roster_test! {
async fn member_lists_over_1000_ids_are_422() {
    let app = TestApp::new().await;
    let ids: Vec<i64> = (1..=1001).collect();
    assert_create_rejected(
        &app,
        json!({"name": "Big", "description": "d", "members": ids}),
        json!({"members": ["The members may not have more than 1000 items."]}),
    )
    .await;
}
}
