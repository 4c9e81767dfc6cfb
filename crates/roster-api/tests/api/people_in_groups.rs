//! What people's fate does to groups: whoever leaves the org leaves its groups, in the
//! same transaction, and is never silently put back.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::TestApp;

async fn group(app: &TestApp, id: &Value) -> Value {
    let response = app
        .get(&app.org_path(&format!("/groups/{}", id.as_str().expect("id"))), &app.admin.token)
        .await;
    assert_eq!(response.status, StatusCode::OK);
    response.json()["data"].clone()
}

async fn seed_group(app: &TestApp) -> Value {
    let created = app
        .create_group(json!({
            "name": "Everyone", "description": "d",
            "members": [app.admin.id.get(), app.standard.id.get(), app.light.id.get()],
            "guests": ["g1@x.test", "g2@x.test"]
        }))
        .await;
    // Later changes must show in last_updated.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    created
}

roster_test! {
async fn members_who_leave_leave_every_group() {
    for (method, rest) in
        [(Method::DELETE, "/disable"), (Method::DELETE, ""), (Method::POST, "/to/guest")]
    {
        let app = TestApp::new().await;
        let created = seed_group(&app).await;
        let second = app
            .create_group(
                json!({"name": "Second", "description": "d", "members": [app.light.id.get()]}),
            )
            .await;
        let path = app.org_path(&format!("/users/{}{rest}", app.light.id));
        let response = app.call(method.clone(), &path, &app.admin.token, None).await;
        assert_eq!(response.status, StatusCode::OK, "{method} {rest}: {}", response.text);
        let after = group(&app, &created["id"]).await;
        assert_eq!(
            after["members"],
            json!([app.admin.id.get(), app.standard.id.get()]),
            "{method} {rest}"
        );
        assert_ne!(
            after["last_updated"], created["last_updated"],
            "{method} {rest}: the group changed"
        );
        assert_eq!(group(&app, &second["id"]).await["members"], json!([]));
        // Disabled members cannot be put back into a group.
        let put = app
            .put(
                &app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id"))),
                &app.admin.token,
                &json!({"members": [app.light.id.get()]}),
            )
            .await;
        assert_eq!(put.status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {rest}");
        assert_eq!(
            put.json()["errors"],
            json!({"members.0": ["The selected members.0 is invalid."]})
        );
    }
}
}

roster_test! {
async fn re_enabling_a_member_does_not_re_add_them() {
    let app = TestApp::new().await;
    let created = seed_group(&app).await;
    let user = |rest: &str| app.org_path(&format!("/users/{}{rest}", app.standard.id));
    app.call(Method::DELETE, &user("/disable"), &app.admin.token, None).await;
    app.call(Method::PUT, &user("/enable"), &app.admin.token, None).await;
    assert_eq!(
        group(&app, &created["id"]).await["members"],
        json!([app.admin.id.get(), app.light.id.get()])
    );
    // A role change is not leaving.
    app.put(
        &app.org_path(&format!("/users/{}/role", app.light.id)),
        &app.admin.token,
        &json!({"role": "standard"}),
    )
    .await;
    assert_eq!(
        group(&app, &created["id"]).await["members"],
        json!([app.admin.id.get(), app.light.id.get()])
    );
}
}

roster_test! {
async fn guests_who_leave_leave_every_group() {
    for (method, rest, body) in [
        (Method::DELETE, "/disable", None),
        (Method::DELETE, "", None),
        (Method::POST, "/to/member", Some("{}")),
    ] {
        let app = TestApp::new().await;
        let created = seed_group(&app).await;
        let response = app
            .call(
                method.clone(),
                &app.org_path(&format!("/guests/G1%40x.test{rest}")),
                &app.admin.token,
                body,
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{method} {rest}: {}", response.text);
        let after = group(&app, &created["id"]).await;
        assert_eq!(after["guests"], json!(["g2@x.test"]), "{method} {rest}");
        assert_ne!(after["last_updated"], created["last_updated"]);
    }
}
}

roster_test! {
async fn disabled_guests_and_member_emails_cannot_be_group_guests() {
    let app = TestApp::new().await;
    let created = seed_group(&app).await;
    app.call(Method::DELETE, &app.org_path("/guests/g1%40x.test/disable"), &app.admin.token, None)
        .await;
    let invited = app
        .post(
            &app.org_path("/users/invite"),
            &app.admin.token,
            &json!({"email": "inv@x.test", "first_name": "I", "last_name": "V", "role": "light"}),
        )
        .await;
    assert_eq!(invited.status, StatusCode::OK);
    let path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    let response = app
        .put(&path, &app.admin.token, &json!({"guests": ["g2@x.test", "g1@x.test", "inv@x.test"]}))
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response.json()["errors"],
        json!({
            "guests.1": ["The guests.1 is a disabled guest of this organization."],
            "guests.2": ["The guests.2 is a member of this organization; add them to members instead."]
        })
    );
    // Re-enabling does not put the guest back either.
    app.call(Method::PUT, &app.org_path("/guests/g1%40x.test/enable"), &app.admin.token, None)
        .await;
    assert_eq!(group(&app, &created["id"]).await["guests"], json!(["g2@x.test"]));
}
}

roster_test! {
async fn deleting_a_group_keeps_its_people() {
    let app = TestApp::new().await;
    let created = seed_group(&app).await;
    let path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    assert_eq!(app.delete(&path, &app.admin.token).await.status, StatusCode::NO_CONTENT);
    let users = app.get(&app.org_path("/users"), &app.admin.token).await.json();
    assert_eq!(users["meta"]["pagination"]["total"], json!(3));
    let guests = app.get(&app.org_path("/guests-list"), &app.admin.token).await.json();
    assert_eq!(guests["data"].as_array().map(Vec::len), Some(2));
}
}

roster_test! {
async fn another_orgs_admin_sees_and_changes_nothing_here() {
    let app = TestApp::new().await;
    seed_group(&app).await;
    let token = &app.other_admin.token;
    let user = |rest: &str| app.org_path(&format!("/users/{}{rest}", app.light.id));
    let guest = |rest: &str| app.org_path(&format!("/guests/g1%40x.test{rest}"));
    for (method, path, body) in [
        (Method::GET, app.org_path("/users"), None),
        (Method::GET, app.org_path("/users-list"), None),
        (Method::GET, user(""), None),
        (
            Method::POST,
            app.org_path("/users/invite"),
            Some(r#"{"email":"a@b.co","first_name":"a","last_name":"b","role":"admin"}"#),
        ),
        (Method::PUT, user(""), Some(r#"{"first_name":"Hacked"}"#)),
        (Method::PUT, user("/role"), Some(r#"{"role":"admin"}"#)),
        (Method::DELETE, user("/disable"), None),
        (Method::PUT, user("/enable"), None),
        (Method::DELETE, user(""), None),
        (Method::POST, user("/to/guest"), None),
        (Method::GET, app.org_path("/guests"), None),
        (Method::GET, app.org_path("/guests-list"), None),
        (Method::GET, guest(""), None),
        (Method::POST, app.org_path("/guests"), Some(r#"{"email":"new@x.test"}"#)),
        (Method::PUT, guest(""), Some(r#"{"associated_members":[]}"#)),
        (Method::DELETE, guest(""), None),
        (Method::DELETE, guest("/disable"), None),
        (Method::PUT, guest("/enable"), None),
        (Method::POST, guest("/to/member"), None),
    ] {
        let response = app.call(method.clone(), &path, token, body).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert!(
            !response.text.contains("acme.test") && !response.text.contains("x.test"),
            "{method} {path}"
        );
    }
    // Nothing changed.
    let users = app.get(&app.org_path("/users-list"), &app.admin.token).await.json();
    let statuses: Vec<Value> =
        users["data"].as_array().expect("data").iter().map(|u| u["status"].clone()).collect();
    assert_eq!(statuses, vec![json!("active"); 3]);
    let guests = app.get(&app.org_path("/guests-list"), &app.admin.token).await.json();
    assert_eq!(guests["data"].as_array().map(Vec::len), Some(2));
    // And a member of another org cannot be reached through this one.
    let foreign =
        app.get(&app.org_path(&format!("/users/{}", app.other_admin.id)), &app.admin.token).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
}
}
