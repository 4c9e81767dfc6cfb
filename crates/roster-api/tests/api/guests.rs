//! `/guests`: guests addressed by URL-encoded email.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, assert_timestamp};

fn invalid(errors: Value) -> Value {
    json!({"error": true, "message": "The given data was invalid.", "code": "VALIDATION_FAILED", "errors": errors})
}

/// The guest JSON Roster must produce, given what the server chose.
fn guest_json(actual: &Value, email: &str, first: Value, last: Value, details: Value) -> Value {
    let mut all_details = json!({
        "status": "active", "phone_1": null, "phone_2": null, "timezone": null, "image_url": null,
        "contact_url": null, "company_url": null, "opportunity_url": null, "company_name": null,
        "opportunity_name": null, "associated_members": null, "disabled_at": null,
    });
    for (key, value) in details.as_object().expect("details") {
        all_details[key] = value.clone();
    }
    json!({
        "id": actual["id"], "email": email, "first_name": first, "last_name": last,
        "created_at": actual["created_at"], "last_updated": actual["last_updated"], "deleted_at": null,
        "details": all_details,
    })
}

async fn create_guest(app: &TestApp, body: Value) -> Value {
    let response = app.post(&app.org_path("/guests"), &app.admin.token, &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text);
    response.json()["data"].clone()
}

roster_test! {
async fn create_answers_201_with_details_nested() {
    let app = TestApp::new().await;
    let data = create_guest(
        &app,
        json!({"email": " Client@Partner.COM ", "first_name": "Cli", "last_name": "Ent", "company_name": "Partner Inc",
               "phone_1": "+1 555 0100", "unknown": 1}),
    )
    .await;
    assert!(data["id"].as_i64().is_some_and(|id| id > 0));
    assert_timestamp(&data["created_at"]);
    assert_eq!(
        data,
        guest_json(
            &data,
            "client@partner.com",
            json!("Cli"),
            json!("Ent"),
            json!({"company_name": "Partner Inc", "phone_1": "+1 555 0100"})
        )
    );
    // Fetched by its URL-encoded email, in any case.
    let fetched = app.get(&app.org_path("/guests/CLIENT%40partner.com"), &app.light.token).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.json(), json!({"data": data}));
}
}

roster_test! {
async fn create_refuses_duplicates_members_and_bad_input() {
    let app = TestApp::new().await;
    create_guest(&app, json!({"email": "client@partner.com"})).await;
    for (body, errors) in [
        (
            json!({"email": "CLIENT@partner.com"}),
            json!({"email": ["The email has already been taken."]}),
        ),
        (
            json!({"email": "standard@acme.test"}),
            json!({"email": ["The email belongs to a member of this organization."]}),
        ),
        (
            json!({"email": "not an email"}),
            json!({"email": ["The email must be a valid email address."]}),
        ),
        (json!({}), json!({"email": ["The email field is required."]})),
        (
            json!({"email": "x@y.co", "phone_1": "1".repeat(21), "first_name": 3}),
            json!({"first_name": ["The first name must be a string."], "phone_1": ["The phone 1 must not be greater than 20 characters."]}),
        ),
    ] {
        let response = app.post(&app.org_path("/guests"), &app.admin.token, &body).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(response.json(), invalid(errors), "{body}");
    }
    for token in [&app.standard.token, &app.light.token] {
        let refused = app.post(&app.org_path("/guests"), token, &json!({"email": "z@y.co"})).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
    let all = app.get(&app.org_path("/guests-list"), &app.admin.token).await;
    assert_eq!(all.json()["data"].as_array().map(Vec::len), Some(1));
}
}

roster_test! {
async fn listing_paginates_searches_and_can_return_everything() {
    let app = TestApp::new().await;
    for email in ["a@one.test", "b@two.test", "c@one.test"] {
        create_guest(&app, json!({"email": email})).await;
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let emails = |body: &Value| -> Vec<String> {
        body["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|g| g["email"].as_str().expect("email").to_owned())
            .collect()
    };
    let page = app.get(&app.org_path("/guests?per_page=2"), &app.light.token).await.json();
    assert_eq!(emails(&page), vec!["a@one.test", "b@two.test"]);
    assert_eq!(page["meta"]["pagination"]["total"], json!(3));
    let found =
        app.get(&app.org_path("/guests?q=ONE.test&sort=-email"), &app.light.token).await.json();
    assert_eq!(emails(&found), vec!["c@one.test", "a@one.test"]);
    let everything = app
        .get(&app.org_path("/guests?without_pagination=true&per_page=1"), &app.light.token)
        .await
        .json();
    assert_eq!(emails(&everything), vec!["a@one.test", "b@two.test", "c@one.test"]);
    assert_eq!(everything.get("meta"), None);
    // PHP's words for a flag are read as PHP reads them; anything else is a 422.
    let paged = app.get(&app.org_path("/guests?without_pagination=off&per_page=1"), &app.light.token).await.json();
    assert_eq!(paged["meta"]["pagination"]["count"], json!(1));
    let unclear = app.get(&app.org_path("/guests?without_pagination=maybe"), &app.light.token).await;
    assert_eq!(unclear.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        unclear.json()["errors"],
        json!({"without_pagination": ["The without pagination field must be true or false."]})
    );
    let flat = app.get(&app.org_path("/guests-list"), &app.light.token).await.json();
    assert_eq!(emails(&flat), vec!["a@one.test", "b@two.test", "c@one.test"]);
    assert_eq!(flat.get("meta"), None);
}
}

roster_test! {
async fn unknown_guests_are_404() {
    let app = TestApp::new().await;
    let not_found =
        json!({"error": true, "message": "Resource not found", "code": "RESOURCE_NOT_FOUND"});
    for (method, path) in [
        (Method::GET, "/guests/nobody%40x.test"),
        (Method::GET, "/guests/not-an-email"),
        (Method::PUT, "/guests/nobody%40x.test"),
        (Method::DELETE, "/guests/nobody%40x.test"),
        (Method::DELETE, "/guests/nobody%40x.test/disable"),
        (Method::PUT, "/guests/nobody%40x.test/enable"),
        (Method::POST, "/guests/nobody%40x.test/to/member"),
    ] {
        let response =
            app.call(method.clone(), &app.org_path(path), &app.admin.token, Some("{}")).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(response.json(), not_found);
    }
}
}

roster_test! {
async fn update_sets_only_associated_members() {
    let app = TestApp::new().await;
    let created = create_guest(&app, json!({"email": "g@x.test", "first_name": "G"})).await;
    let path = app.org_path("/guests/g%40x.test");
    let response = app
        .put(&path, &app.admin.token, &json!({"associated_members": [app.light.id.get(), app.admin.id.get().to_string()], "first_name": "Ignored"}))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let data = response.json()["data"].clone();
    assert_eq!(data["first_name"], json!("G"));
    assert_eq!(
        data["details"]["associated_members"],
        json!([app.admin.id.get(), app.light.id.get()])
    );
    let bad = app
        .put(
            &path,
            &app.admin.token,
            &json!({"associated_members": [app.other_admin.id.get(), "x"]}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bad.json(),
        invalid(json!({"associated_members.1": ["The associated members.1 must be an integer."]}))
    );
    let foreign = app
        .put(&path, &app.admin.token, &json!({"associated_members": [app.other_admin.id.get()]}))
        .await;
    assert_eq!(
        foreign.json(),
        invalid(json!({"associated_members.0": ["The selected associated members.0 is invalid."]}))
    );
    let untouched = app.put(&path, &app.admin.token, &json!({"company_name": "ignored"})).await;
    assert_eq!(
        untouched.json()["data"]["details"]["associated_members"],
        data["details"]["associated_members"]
    );
    assert_eq!(
        untouched.json()["data"]["details"]["company_name"],
        created["details"]["company_name"]
    );
}
}

roster_test! {
async fn disable_enable_delete_and_convert() {
    let app = TestApp::new().await;
    create_guest(&app, json!({"email": "g@x.test", "first_name": "Gia", "last_name": "Guest"}))
        .await;
    let path = |rest: &str| app.org_path(&format!("/guests/g%40x.test{rest}"));
    let disabled = app.call(Method::DELETE, &path("/disable"), &app.admin.token, None).await;
    assert_eq!(disabled.status, StatusCode::OK);
    assert_eq!(disabled.json()["data"]["details"]["status"], json!("disabled"));
    assert_timestamp(&disabled.json()["data"]["details"]["disabled_at"]);
    let enabled = app.call(Method::PUT, &path("/enable"), &app.admin.token, None).await;
    assert_eq!(enabled.json()["data"]["details"]["status"], json!("active"));
    assert_eq!(enabled.json()["data"]["details"]["disabled_at"], json!(null));

    let converted = app
        .call(Method::POST, &path("/to/member"), &app.admin.token, Some(r#"{"role": "light"}"#))
        .await;
    assert_eq!(converted.status, StatusCode::OK, "{}", converted.text);
    let member = converted.json()["data"].clone();
    assert_eq!(
        (
            member["email"].clone(),
            member["first_name"].clone(),
            member["role"].clone(),
            member["status"].clone()
        ),
        (json!("g@x.test"), json!("Gia"), json!("light"), json!("invited"))
    );
    assert_eq!(app.get(&path(""), &app.admin.token).await.status, StatusCode::NOT_FOUND);

    create_guest(&app, json!({"email": "h@x.test"})).await;
    let deleted = app.delete(&app.org_path("/guests/h%40x.test"), &app.admin.token).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.json()["data"]["email"], json!("h@x.test"));
    assert_eq!(
        app.get(&app.org_path("/guests/h%40x.test"), &app.admin.token).await.status,
        StatusCode::NOT_FOUND
    );
    for token in [&app.standard.token, &app.light.token] {
        assert_eq!(
            app.delete(&app.org_path("/guests/h%40x.test"), token).await.status,
            StatusCode::FORBIDDEN
        );
    }
}
}

roster_test! {
async fn members_become_guests_and_back() {
    let app = TestApp::new().await;
    let response = app
        .call(
            Method::POST,
            &app.org_path(&format!("/users/{}/to/guest", app.light.id)),
            &app.admin.token,
            None,
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let guest = response.json()["data"].clone();
    assert_eq!(
        guest,
        guest_json(&guest, "light@acme.test", json!("First"), json!("light"), json!({}))
    );
    // No longer a member: not listed, token refused, and the email is now a guest's.
    let users = app.get(&app.org_path("/users-list"), &app.admin.token).await.json();
    assert!(
        users["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|u| u["email"] != json!("light@acme.test"))
    );
    assert_eq!(
        app.get(&app.org_path("/groups"), &app.light.token).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&app.org_path("/guests/light%40acme.test"), &app.admin.token).await.status,
        StatusCode::OK
    );
    // Inviting the email is refused while it is a guest's.
    let invite = app
        .post(&app.org_path("/users/invite"), &app.admin.token, &json!({"email": "light@acme.test", "first_name": "L", "last_name": "L", "role": "light"}))
        .await;
    assert_eq!(
        invite.json(),
        invalid(
            json!({"email": ["The email belongs to a guest of this organization; convert the guest to a member instead."]})
        )
    );
    // Converting back makes the same account an invited member.
    let back = app
        .call(
            Method::POST,
            &app.org_path("/guests/light%40acme.test/to/member"),
            &app.admin.token,
            None,
        )
        .await;
    assert_eq!(back.json()["data"]["id"], json!(app.light.id.get()));
    assert_eq!(back.json()["data"]["status"], json!("invited"));
    assert_eq!(back.json()["data"]["role"], json!("standard"));
}
}
