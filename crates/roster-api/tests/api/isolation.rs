//! Tenant isolation, walked over every route the OpenAPI document lists (so a new route
//! cannot be forgotten): another organization's admin gets 403 and learns nothing, and
//! each role of the organization gets what its permissions say.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::harness::TestApp;

/// Every operation as (method, path template).
fn operations() -> Vec<(Method, String)> {
    let document = serde_json::to_value(roster_api::openapi()).expect("document");
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            operations.push((method.to_uppercase().parse().expect("method"), path.clone()));
        }
    }
    operations
}

/// What only org A holds, which must never appear in an answer to an outsider.
const SECRETS: [&str; 4] =
    ["Isolated Secret Group", "hidden.guest@acme.test", "standard@acme.test", "isolated-hook"];

roster_test! {
async fn every_route_keeps_organizations_apart() {
    let rules = roster_core::webhooks::TargetRules { allow_http: true, allow_private: true };
    let config = roster_api::ApiConfig {
        webhooks: roster_api::WebhookConfig { rules, ..Default::default() },
        ..Default::default()
    };
    let app = TestApp::with_config(config).await;
    let hook = app
        .post(&app.org_path("/webhooks"), &app.admin.token, &json!({"url": "http://127.0.0.1:9/isolated-hook"}))
        .await
        .json()["data"]["id"]
        .as_str()
        .expect("webhook id")
        .to_owned();
    let group = app
        .create_group(json!({
            "name": "Isolated Secret Group", "description": "d",
            "members": [app.standard.id.get()], "guests": ["hidden.guest@acme.test"]
        }))
        .await;
    let concrete = |template: &str| {
        template
            .replace("{org}", app.org.as_str())
            .replace("{group}", group["id"].as_str().expect("id"))
            .replace("{user}", &app.standard.id.to_string())
            .replace("{email}", "hidden.guest%40acme.test")
            .replace("{asset}", "0123456789abcdef0123456789abcdef")
            .replace("{webhook}", &hook)
            .replace("{delivery}", "1")
    };
    let operations = operations();
    assert!(operations.len() >= 30, "the walk covers the document: {}", operations.len());

    // Another organization's admin, on every route of this one.
    for (method, template) in &operations {
        let path = concrete(template);
        let answer = app.call(method.clone(), &path, &app.other_admin.token, Some("{}")).await;
        if template.contains("{org}") {
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {template}: {}", answer.text);
        } else {
            assert!(answer.status.is_success() || answer.status == StatusCode::NOT_FOUND, "{method} {template}");
        }
        for secret in SECRETS {
            assert!(!answer.text.contains(secret), "{method} {template} leaked {secret}");
        }
    }

    // Each role of this organization: reads for all, writes by permission. The admin goes
    // last: their writes change the fixtures.
    for (role, token) in [("light", &app.light.token), ("standard", &app.standard.token), ("admin", &app.admin.token)] {
        for (method, template) in operations.iter().filter(|(_, t)| t.contains("{org}")) {
            let path = concrete(template);
            let answer = app.call(method.clone(), &path, token, Some("{}")).await;
            assert!(answer.status.as_u16() < 500, "{role} {method} {template}: {}", answer.text);
            let is_read = *method == Method::GET;
            let people_route = template.starts_with("/organizations/{org}/users") || template.starts_with("/organizations/{org}/guests");
            let expect_refused = match role {
                "admin" => false,
                // The change stream, the audit log and webhooks are for admins only.
                _ if is_read => {
                    template == "/organizations/{org}/users/{user}"
                        || template == "/organizations/{org}/events"
                        || template == "/organizations/{org}/audit-log"
                        || template.starts_with("/organizations/{org}/webhooks")
                }
                _ if people_route => true,
                // Group writes: standard members only where the org allows it (off here).
                _ => true,
            };
            if expect_refused {
                assert_eq!(answer.status, StatusCode::FORBIDDEN, "{role} {method} {template}: {}", answer.text);
            } else {
                assert_ne!(answer.status, StatusCode::FORBIDDEN, "{role} {method} {template}: {}", answer.text);
            }
        }
    }
}
}
