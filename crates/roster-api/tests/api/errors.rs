//! Every refusal is JSON: unknown routes, wrong methods, malformed ids, server faults.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::harness::{TestApp, request};

roster_test! {
async fn unknown_routes_are_404_endpoint_not_found() {
    let app = TestApp::new().await;
    for path in [
        "/",
        "/nope",
        "/organizations",
        "/api/organizations/x/widgets",
        "/organizations/x/groups/y/z",
    ] {
        let response = app.get(path, &app.admin.token).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            response.json(),
            json!({"error": true, "message": "API endpoint not found", "code": "ENDPOINT_NOT_FOUND"}),
            "{path}"
        );
    }
}
}

roster_test! {
async fn wrong_methods_are_405() {
    let app = TestApp::new().await;
    for (method, path) in [
        (Method::PATCH, app.org_path("/groups")),
        (Method::DELETE, app.org_path("/groups")),
        (Method::POST, "/me".to_owned()),
        (Method::POST, app.org_path("/groups/0123456789abcdef0123456789abcdef")),
    ] {
        let response = app.call(method.clone(), &path, &app.admin.token, None).await;
        assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(
            response.json(),
            json!({"error": true, "message": "The method is not allowed for this endpoint.", "code": "METHOD_NOT_ALLOWED"})
        );
    }
}
}

roster_test! {
async fn malformed_ids_are_404_after_authentication() {
    let app = TestApp::new().await;
    let not_found =
        json!({"error": true, "message": "Resource not found", "code": "RESOURCE_NOT_FOUND"});
    for path in [
        app.org_path("/groups/not-a-group"),
        app.org_path("/groups/0123456789ABCDEF0123456789ABCDEF"),
        app.org_path("/groups/0123456789abcdef0123456789abcdef"),
        app.org_path("/groups/%27%20OR%201=1--"),
        "/organizations/not-an-org/groups".to_owned(),
    ] {
        let response = app.get(&path, &app.admin.token).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.json(), not_found, "{path}");
        let anonymous = app.send(request(Method::GET, &path, None, None)).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{path}");
    }
}
}

roster_test! {
async fn a_storage_fault_is_a_500_that_reveals_nothing() {
    let app = TestApp::new().await;
    app.create_group(json!({"name": "Doomed", "description": "d"})).await;
    // Break the storage under the running server, as a damaged disk or a bad migration would.
    app.break_groups_table().await;
    for response in [
        app.get(&app.org_path("/groups"), &app.admin.token).await,
        app.post(
            &app.org_path("/groups"),
            &app.admin.token,
            &json!({"name": "x", "description": "d"}),
        )
        .await,
    ] {
        assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.json(),
            json!({"error": true, "message": "Something went wrong on our side.", "code": "INTERNAL_SERVER_ERROR"})
        );
        assert!(!response.text.contains("groups") && !response.text.contains("SQL"));
    }
}
}
