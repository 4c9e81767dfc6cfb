//! Authentication, the client header, roles, and tenant isolation.

use axum::http::{Method, StatusCode};
use roster_api::ApiConfig;
use roster_core::token::TokenSecret;
use serde_json::{Value, json};

use crate::harness::{TestApp, request};

fn unauthenticated() -> Value {
    json!({"error": true, "message": "Unauthenticated.", "code": "UNAUTHENTICATED"})
}

fn forbidden() -> Value {
    json!({"error": true, "message": "You do not have permission to perform this action.", "code": "FORBIDDEN"})
}

roster_test! {
async fn missing_unknown_or_malformed_tokens_are_401() {
    let app = TestApp::new().await;
    let path = app.org_path("/groups");
    let cases = [
        request(Method::GET, &path, None, None),
        request(Method::GET, &path, Some("roster_pat_unknown"), None),
        request(Method::GET, "/me", None, None),
        request(Method::GET, "/me", Some(""), None),
        request(Method::POST, &path, None, Some("{}")),
        {
            let mut req = request(Method::GET, &path, None, None);
            req.headers_mut().insert(
                "authorization",
                format!("Basic {}", app.admin.token).parse().expect("header"),
            );
            req
        },
    ];
    for req in cases {
        let response = app.send(req).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        assert_eq!(response.json(), unauthenticated());
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));
    }
}
}

roster_test! {
async fn a_well_formed_token_never_issued_here_is_401() {
    // A token that was never stored (e.g. printed by another Roster) is simply unknown.
    let app = TestApp::new().await;
    let stranger = TokenSecret::generate().expect("token");
    let response = app.get("/me", stranger.expose()).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
}
}

roster_test! {
async fn the_client_header_is_required_unless_turned_off() {
    let app = TestApp::new().await;
    for value in [None, Some(""), Some("   ")] {
        let mut req = request(Method::GET, "/me", Some(&app.admin.token), None);
        req.headers_mut().remove("x-tallyfy-client");
        if let Some(value) = value {
            req.headers_mut().insert("x-tallyfy-client", value.parse().expect("header"));
        }
        let response = app.send(req).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{value:?}");
        assert_eq!(
            response.json(),
            json!({"error": true, "message": "The X-Tallyfy-Client header is required.", "code": "UNAUTHENTICATED"})
        );
    }
    // Any non-empty value will do.
    let mut req = request(Method::GET, "/me", Some(&app.admin.token), None);
    req.headers_mut().insert("x-tallyfy-client", "TallyfySDK".parse().expect("header"));
    assert_eq!(app.send(req).await.status, StatusCode::OK);

    let relaxed = TestApp::with_config(ApiConfig { require_client_header: false, ..ApiConfig::default() }).await;
    let mut req = request(Method::GET, "/me", Some(&relaxed.admin.token), None);
    req.headers_mut().remove("x-tallyfy-client");
    assert_eq!(relaxed.send(req).await.status, StatusCode::OK);
}
}

roster_test! {
async fn me_shows_the_account_and_org_me_adds_role_and_status() {
    let app = TestApp::new().await;
    let response = app.get("/me", &app.standard.token).await;
    assert_eq!(response.status, StatusCode::OK);
    let data = &response.json()["data"];
    assert_eq!(
        response.json(),
        json!({"data": {
            "id": app.standard.id.get(), "email": "standard@acme.test", "first_name": "First",
            "last_name": "standard", "full_name": "First standard", "timezone": null,
            "created_at": data["created_at"], "last_updated": data["last_updated"]
        }})
    );
    for path in [app.org_path("/me"), format!("/api{}", app.org_path("/me"))] {
        let response = app.get(&path, &app.standard.token).await;
        assert_eq!(response.status, StatusCode::OK);
        let mut expected = data.clone();
        expected["role"] = json!("standard");
        expected["status"] = json!("active");
        expected["is_default_admin"] = json!(false);
        assert_eq!(response.json(), json!({"data": expected}));
    }
    let elsewhere =
        app.get(&format!("/organizations/{}/me", app.other_org), &app.standard.token).await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
}
}

// Each role against each operation, with the org's setting off and on.
roster_test! {
async fn permission_matrix() {
    let app = TestApp::new().await;
    let group = app.create_group(json!({"name": "Base", "description": "d"})).await;
    let group_path = app.org_path(&format!("/groups/{}", group["id"].as_str().expect("id")));
    for allow in [false, true] {
        app.store.set_org_allow_non_admins_manage_groups(&app.org, allow).await.expect("setting");
        for (who, token, may_write) in [
            ("admin", &app.admin.token, true),
            ("standard", &app.standard.token, allow),
            ("light", &app.light.token, false),
        ] {
            let list = app.get(&app.org_path("/groups"), token).await;
            assert_eq!(list.status, StatusCode::OK, "{who} list");
            let get = app.get(&group_path, token).await;
            assert_eq!(get.status, StatusCode::OK, "{who} get");

            let name = format!("{who}-{allow}");
            let create = app
                .post(&app.org_path("/groups"), token, &json!({"name": name, "description": "d"}))
                .await;
            let update =
                app.put(&group_path, token, &json!({"description": format!("by {name}")})).await;
            if may_write {
                assert_eq!(create.status, StatusCode::CREATED, "{who} create allow={allow}");
                assert_eq!(update.status, StatusCode::OK, "{who} update allow={allow}");
                let created_path = app.org_path(&format!(
                    "/groups/{}",
                    create.json()["data"]["id"].as_str().expect("id")
                ));
                assert_eq!(app.delete(&created_path, token).await.status, StatusCode::NO_CONTENT);
            } else {
                for (op, response) in [
                    ("create", create),
                    ("update", update),
                    ("delete", app.delete(&group_path, token).await),
                ] {
                    assert_eq!(response.status, StatusCode::FORBIDDEN, "{who} {op} allow={allow}");
                    assert_eq!(response.json(), forbidden());
                }
                // Refused before the body is read: even a broken body gets 403.
                let broken =
                    app.call(Method::POST, &app.org_path("/groups"), token, Some("{")).await;
                assert_eq!(broken.status, StatusCode::FORBIDDEN);
            }
        }
    }
    // Nothing the refused callers tried took effect.
    assert_eq!(
        app.get(&group_path, &app.admin.token).await.json()["data"]["description"],
        json!("by standard-true")
    );
}
}

roster_test! {
async fn another_orgs_token_is_403_and_learns_nothing() {
    let app = TestApp::new().await;
    let group = app.create_group(json!({"name": "Secret", "description": "d"})).await;
    let group_path = app.org_path(&format!("/groups/{}", group["id"].as_str().expect("id")));
    let expected = json!({"error": true, "message": "You are not a member of this organization.", "code": "FORBIDDEN"});
    let token = &app.other_admin.token;
    for response in [
        app.get(&app.org_path("/groups"), token).await,
        app.get(&group_path, token).await,
        app.get(&app.org_path("/me"), token).await,
        app.post(&app.org_path("/groups"), token, &json!({"name": "x", "description": "d"})).await,
        app.put(&group_path, token, &json!({"name": "Hacked"})).await,
        app.delete(&group_path, token).await,
        // An org that does not exist looks the same as one the caller is not in.
        app.get("/organizations/00000000000000000000000000000000/groups", token).await,
    ] {
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        assert_eq!(response.json(), expected);
        assert!(!response.text.contains("Secret"));
    }
    assert_eq!(app.get(&group_path, &app.admin.token).await.json()["data"], group);
    assert_eq!(app.group_count().await, 1);
}
}

roster_test! {
async fn a_group_of_another_org_is_404_under_this_org() {
    let app = TestApp::new().await;
    let theirs = app
        .post(
            &format!("/organizations/{}/groups", app.other_org),
            &app.other_admin.token,
            &json!({"name": "Theirs", "description": "d"}),
        )
        .await
        .json()["data"]
        .clone();
    let id = theirs["id"].as_str().expect("id");
    // This org's admin passes the org check, so only the group's tenancy can refuse.
    let path = app.org_path(&format!("/groups/{id}"));
    let not_found =
        json!({"error": true, "message": "Resource not found", "code": "RESOURCE_NOT_FOUND"});
    for response in [
        app.get(&path, &app.admin.token).await,
        app.put(&path, &app.admin.token, &json!({"name": "Mine"})).await,
        app.delete(&path, &app.admin.token).await,
    ] {
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        assert_eq!(response.json(), not_found);
    }
    let listed = app.get(&app.org_path("/groups?q=theirs"), &app.admin.token).await;
    assert_eq!(listed.json()["data"], json!([]));
    let still = app
        .get(&format!("/organizations/{}/groups/{id}", app.other_org), &app.other_admin.token)
        .await;
    assert_eq!(still.json()["data"], theirs);
}
}

roster_test! {
async fn a_user_in_two_orgs_sees_each_orgs_groups_only_there() {
    let app = TestApp::new().await;
    let member = crate::harness::seed_member(
        app.store.as_ref(),
        &app.other_org,
        "admin@acme.test",
        roster_core::Role::Light,
    )
    .await;
    assert_eq!(member.id, app.admin.id, "same email, same account");
    app.create_group(json!({"name": "Acme only", "description": "d"})).await;
    let there = app.get(&format!("/organizations/{}/groups", app.other_org), &member.token).await;
    assert_eq!(there.status, StatusCode::OK);
    assert_eq!(there.json()["data"], json!([]));
    // The light role there does not carry over the admin role here, and vice versa.
    let refused = app
        .post(
            &format!("/organizations/{}/groups", app.other_org),
            &member.token,
            &json!({"name": "x", "description": "d"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let here = app.get(&app.org_path("/me"), &member.token).await;
    assert_eq!(here.json()["data"]["role"], json!("admin"));
}
}

roster_test! {
async fn revoked_and_expired_tokens_are_refused_and_use_is_recorded() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/me", &app.light.token).await.status, StatusCode::OK);
    // The use is recorded off the request's path.
    let mut recorded = None;
    for _ in 0..50 {
        let tokens = app.store.list_tokens(&app.org, Some(app.light.id)).await.expect("tokens");
        recorded = tokens[0].last_used_at;
        if recorded.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(recorded.is_some(), "last_used_at recorded");

    let tokens = app.store.list_tokens(&app.org, Some(app.light.id)).await.expect("tokens");
    app.store.revoke_token(&app.org, tokens[0].id).await.expect("revoke");
    let refused = app.get("/me", &app.light.token).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json(), unauthenticated());
    // Revoking a token of another org through this one finds nothing.
    let theirs = app.store.list_tokens(&app.other_org, None).await.expect("tokens");
    assert!(matches!(app.store.revoke_token(&app.org, theirs[0].id).await, Err(roster_core::WriteError::NotFound)));
    assert_eq!(app.get("/me", &app.other_admin.token).await.status, StatusCode::OK);

    let expired = TokenSecret::generate().expect("token");
    let yesterday = app.store.clock().now().plus_days(-1);
    app.store.create_token(&app.org, app.admin.id, &expired.hash(), Some(yesterday)).await.expect("token");
    assert_eq!(app.get("/me", expired.expose()).await.status, StatusCode::UNAUTHORIZED);
}
}
