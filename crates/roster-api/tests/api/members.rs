//! `/users`: listing, invites, edits, roles, and the admin rules.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, assert_timestamp};

fn bad_request(message: &str) -> Value {
    json!({"error": true, "message": message, "code": "BAD_REQUEST"})
}

fn invalid(errors: Value) -> Value {
    json!({"error": true, "message": "The given data was invalid.", "code": "VALIDATION_FAILED", "errors": errors})
}

const DEFAULT_ADMIN: &str = "The organization's default administrator cannot be removed, disabled, demoted or converted to a guest.";

/// The user object for a seeded member (`First <local part>`), with server-set times.
fn seeded_user(
    actual: &Value,
    id: i64,
    local: &str,
    role: &str,
    status: &str,
    default_admin: bool,
) -> Value {
    json!({
        "id": id, "email": format!("{local}@acme.test"), "first_name": "First", "last_name": local,
        "full_name": format!("First {local}"), "timezone": null, "role": role, "status": status,
        "is_default_admin": default_admin, "created_at": actual["created_at"], "last_updated": actual["last_updated"],
    })
}

roster_test! {
async fn members_list_is_paginated_for_every_active_member() {
    let app = TestApp::new().await;
    let response = app.get(&app.org_path("/users?per_page=2"), &app.light.token).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let body = response.json();
    assert_eq!(
        body,
        json!({
            "data": [
                seeded_user(&body["data"][0], app.admin.id.get(), "admin", "admin", "active", true),
                seeded_user(&body["data"][1], app.standard.id.get(), "standard", "standard", "active", false),
            ],
            "meta": {"pagination": {
                "total": 3, "count": 2, "per_page": 2, "current_page": 1, "total_pages": 2,
                "links": {"next": format!("http://roster.test/organizations/{}/users?per_page=2&page=2", app.org)}
            }}
        })
    );
    assert_timestamp(&body["data"][0]["created_at"]);
}
}

roster_test! {
async fn members_q_sort_and_flat_list() {
    let app = TestApp::new().await;
    let emails = |body: Value| -> Vec<String> {
        body["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|u| u["email"].as_str().expect("email").to_owned())
            .collect()
    };
    let light = app.get(&app.org_path("/users?q=LIGHT"), &app.admin.token).await;
    assert_eq!(emails(light.json()), vec!["light@acme.test"]);
    let by_name = app.get(&app.org_path("/users?q=first%20standard"), &app.admin.token).await;
    assert_eq!(emails(by_name.json()), vec!["standard@acme.test"]);
    let sorted = app.get(&app.org_path("/users?sort=-email"), &app.admin.token).await;
    assert_eq!(
        emails(sorted.json()),
        vec!["standard@acme.test", "light@acme.test", "admin@acme.test"]
    );
    let bad = app.get(&app.org_path("/users?sort=password"), &app.admin.token).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json(), invalid(json!({"sort": ["The selected sort is invalid."]})));

    let flat = app.get(&format!("/api{}", app.org_path("/users-list")), &app.light.token).await;
    assert_eq!(flat.status, StatusCode::OK);
    let body = flat.json();
    assert_eq!(body.get("meta"), None);
    assert_eq!(emails(body), vec!["admin@acme.test", "standard@acme.test", "light@acme.test"]);
}
}

roster_test! {
async fn with_groups_nests_each_members_groups() {
    let app = TestApp::new().await;
    let group = app
        .create_group(json!({"name": "Ops", "description": "d", "members": [app.light.id.get()]}))
        .await;
    let response = app.get(&app.org_path("/users?with=groups"), &app.admin.token).await;
    let data = response.json()["data"].clone();
    assert_eq!(data[0]["groups"], json!({"data": []}));
    assert_eq!(data[2]["groups"], json!({"data": [group]}));
    let one = app
        .get(&app.org_path(&format!("/users/{}?with=groups", app.light.id)), &app.admin.token)
        .await;
    assert_eq!(one.json()["data"]["groups"], json!({"data": [group]}));
}
}

roster_test! {
async fn one_member_is_for_admins_only() {
    let app = TestApp::new().await;
    let path = app.org_path(&format!("/users/{}", app.standard.id));
    let response = app.get(&path, &app.admin.token).await;
    assert_eq!(response.status, StatusCode::OK);
    let data = response.json()["data"].clone();
    assert_eq!(
        data,
        seeded_user(&data, app.standard.id.get(), "standard", "standard", "active", false)
    );
    for token in [&app.standard.token, &app.light.token] {
        let refused = app.get(&path, token).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(refused.json()["code"], json!("FORBIDDEN"));
    }
    for missing in [
        format!("/users/{}", app.other_admin.id),
        "/users/999999".into(),
        "/users/abc".into(),
        "/users/0".into(),
    ] {
        let response = app.get(&app.org_path(&missing), &app.admin.token).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(response.json()["code"], json!("RESOURCE_NOT_FOUND"));
    }
}
}

roster_test! {
async fn invite_creates_an_invited_member_once() {
    let app = TestApp::new().await;
    let body = json!({"email": " New.Person@Example.com ", "first_name": "New", "last_name": "Person", "role": "standard", "message": "Welcome!"});
    let response = app.post(&app.org_path("/users/invite"), &app.admin.token, &body).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let data = response.json()["data"].clone();
    assert!(data["id"].as_i64().is_some_and(|id| id > 0));
    assert_eq!(
        data,
        json!({
            "id": data["id"], "email": "new.person@example.com", "first_name": "New", "last_name": "Person",
            "full_name": "New Person", "timezone": null, "role": "standard", "status": "invited",
            "is_default_admin": false, "created_at": data["created_at"], "last_updated": data["last_updated"]
        })
    );
    // Again, in any case: already a member.
    let again = app
        .post(&app.org_path("/users/invite"), &app.admin.token, &json!({"email": "NEW.PERSON@example.com", "first_name": "N", "last_name": "P", "role": "light"}))
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(again.json(), invalid(json!({"email": ["The email has already been taken."]})));
    // An active member too.
    let member = app
        .post(&app.org_path("/users/invite"), &app.admin.token, &json!({"email": "light@acme.test", "first_name": "L", "last_name": "L", "role": "light"}))
        .await;
    assert_eq!(member.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Invited members can be put in groups.
    let group =
        app.create_group(json!({"name": "G", "description": "d", "members": [data["id"]]})).await;
    assert_eq!(group["members"], json!([data["id"]]));
    // The invitee's account does not act in the org until active.
    let listed = app.get(&app.org_path("/users?q=new.person"), &app.admin.token).await;
    assert_eq!(listed.json()["data"][0]["status"], json!("invited"));
}
}

roster_test! {
async fn invite_validation_and_permission() {
    let app = TestApp::new().await;
    let response = app
        .post(
            &app.org_path("/users/invite"),
            &app.admin.token,
            &json!({"email": "nope", "first_name": "x".repeat(33), "role": "owner"}),
        )
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response.json(),
        invalid(json!({
            "email": ["The email must be a valid email address."],
            "first_name": ["The first name must not be greater than 32 characters."],
            "last_name": ["The last name field is required."],
            "role": ["The selected role is invalid."]
        }))
    );
    for token in [&app.standard.token, &app.light.token] {
        let refused = app
            .post(
                &app.org_path("/users/invite"),
                token,
                &json!({"email": "x@y.co", "first_name": "X", "last_name": "Y", "role": "admin"}),
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
    let listed = app.get(&app.org_path("/users"), &app.admin.token).await;
    assert_eq!(listed.json()["meta"]["pagination"]["total"], json!(3));
}
}

roster_test! {
async fn admins_edit_names_and_timezone() {
    let app = TestApp::new().await;
    let path = app.org_path(&format!("/users/{}", app.light.id));
    let response = app
        .put(
            &path,
            &app.admin.token,
            &json!({"first_name": " Lena ", "timezone": "Europe/Berlin", "email": "ignored@x.co"}),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let data = response.json()["data"].clone();
    assert_eq!(
        (data["first_name"].clone(), data["last_name"].clone(), data["full_name"].clone()),
        (json!("Lena"), json!("light"), json!("Lena light"))
    );
    assert_eq!(data["timezone"], json!("Europe/Berlin"));
    assert_eq!(data["email"], json!("light@acme.test"));
    let bad = app
        .put(&path, &app.admin.token, &json!({"first_name": "", "timezone": "Not a zone!"}))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bad.json(),
        invalid(
            json!({"first_name": ["The first name field is required."], "timezone": ["The timezone must be a valid zone."]})
        )
    );
    let refused = app.put(&path, &app.light.token, &json!({"first_name": "Me"})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let missing = app
        .put(&app.org_path("/users/999999"), &app.admin.token, &json!({"first_name": "X"}))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
}

roster_test! {
async fn roles_change_but_the_default_admin_stays_admin() {
    let app = TestApp::new().await;
    let light_role = app.org_path(&format!("/users/{}/role", app.light.id));
    let response = app.put(&light_role, &app.admin.token, &json!({"role": "standard"})).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["data"]["role"], json!("standard"));
    let bad = app.put(&light_role, &app.admin.token, &json!({"role": "owner"})).await;
    assert_eq!(bad.json(), invalid(json!({"role": ["The selected role is invalid."]})));
    let missing = app.put(&light_role, &app.admin.token, &json!({})).await;
    assert_eq!(missing.json(), invalid(json!({"role": ["The role field is required."]})));

    let admin_path = |rest: &str| app.org_path(&format!("/users/{}{rest}", app.admin.id));
    // Make the standard member an admin too: the default admin is still protected.
    app.put(
        &app.org_path(&format!("/users/{}/role", app.standard.id)),
        &app.admin.token,
        &json!({"role": "admin"}),
    )
    .await;
    for (method, path, body) in [
        (Method::PUT, admin_path("/role"), Some(json!({"role": "light"}))),
        (Method::DELETE, admin_path("/disable"), None),
        (Method::DELETE, admin_path(""), None),
        (Method::POST, admin_path("/to/guest"), None),
    ] {
        let body = body.map(|b| b.to_string());
        let response = app.call(method.clone(), &path, &app.standard.token, body.as_deref()).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{method} {path}");
        assert_eq!(response.json(), bad_request(DEFAULT_ADMIN));
    }
    let me = app.get(&app.org_path("/me"), &app.admin.token).await;
    assert_eq!(
        (me.json()["data"]["role"].clone(), me.json()["data"]["status"].clone()),
        (json!("admin"), json!("active"))
    );
}
}

roster_test! {
async fn an_org_never_loses_its_last_active_admin() {
    let app = TestApp::new().await;
    // An org whose only admin was invited (so is not its default admin) and then enabled.
    let org = app.store.create_org("No default").await.expect("org").id;
    let invite = roster_core::people::parse_invite(
        &json!({"email": "solo@x.test", "first_name": "S", "last_name": "O", "role": "admin"}),
    )
    .expect("invite");
    let solo = app.store.invite_member(&org, &invite).await.expect("invite").user.id;
    app.store
        .member_action(&org, solo, roster_core::people::MemberAction::Enable)
        .await
        .expect("enable");
    let token = crate::harness::issue_token(app.store.as_ref(), &org, solo).await;
    let response = app
        .call(Method::DELETE, &format!("/organizations/{org}/users/{solo}/disable"), &token, None)
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json(),
        bad_request("An organization must keep at least one active administrator.")
    );
    let demote = app
        .put(
            &format!("/organizations/{org}/users/{solo}/role"),
            &token,
            &json!({"role": "standard"}),
        )
        .await;
    assert_eq!(demote.status, StatusCode::BAD_REQUEST);
}
}

roster_test! {
async fn disable_enable_and_remove() {
    let app = TestApp::new().await;
    let user = |rest: &str| app.org_path(&format!("/users/{}{rest}", app.standard.id));
    let disabled = app.call(Method::DELETE, &user("/disable"), &app.admin.token, None).await;
    assert_eq!(disabled.status, StatusCode::OK);
    assert_eq!(disabled.json()["data"]["status"], json!("disabled"));
    // A disabled member's token no longer works in the org.
    let locked_out = app.get(&app.org_path("/groups"), &app.standard.token).await;
    assert_eq!(locked_out.status, StatusCode::FORBIDDEN);
    let enabled = app.call(Method::PUT, &user("/enable"), &app.admin.token, None).await;
    assert_eq!(enabled.json()["data"]["status"], json!("active"));
    assert_eq!(app.get(&app.org_path("/groups"), &app.standard.token).await.status, StatusCode::OK);

    let removed = app.delete(&user(""), &app.admin.token).await;
    assert_eq!(removed.status, StatusCode::OK);
    assert_eq!(removed.json()["data"]["status"], json!("disabled"));
    // Still listed, as disabled; enable brings them back.
    let listed = app.get(&app.org_path("/users?q=standard"), &app.admin.token).await;
    assert_eq!(listed.json()["data"][0]["status"], json!("disabled"));
    let back = app.call(Method::PUT, &user("/enable"), &app.admin.token, None).await;
    assert_eq!(back.json()["data"]["status"], json!("active"));
    // Light members change nothing.
    let refused = app.call(Method::DELETE, &user("/disable"), &app.light.token, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}
}

roster_test! {
async fn me_organizations_lists_each_org_with_the_callers_standing() {
    let app = TestApp::new().await;
    crate::harness::seed_member(
        app.store.as_ref(),
        &app.other_org,
        "light@acme.test",
        roster_core::Role::Standard,
    )
    .await;
    let response = app.get("/me/organizations", &app.light.token).await;
    assert_eq!(response.status, StatusCode::OK);
    // Orgs made in the same millisecond tie on created_at; compare in name order.
    let mut data: Vec<Value> = response.json()["data"].as_array().expect("data").clone();
    data.sort_by_key(|org| org["name"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        Value::from(data.clone()),
        json!([
            {"id": app.org.as_str(), "name": "Acme", "created_at": data[0]["created_at"], "role": "light", "status": "active"},
            {"id": app.other_org.as_str(), "name": "Other", "created_at": data[1]["created_at"], "role": "standard", "status": "active"},
        ])
    );
}
}
