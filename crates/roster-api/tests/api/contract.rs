//! The contract: `/openapi.json` describes every route the router serves, and any change
//! to it shows up in review as a snapshot diff (`cargo insta review`, or
//! `INSTA_UPDATE=always scripts/test` to accept).

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::harness::{TestApp, request};

roster_test! {
async fn the_document_and_docs_are_served_without_auth() {
    let app = TestApp::new().await;
    let response = app.send(request(Method::GET, "/openapi.json", None, None)).await;
    assert_eq!(response.status, StatusCode::OK);
    let document = response.json();
    assert_eq!(document["openapi"], Value::from("3.1.0"));
    let docs = app.send(request(Method::GET, "/docs/", None, None)).await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(docs.text.contains("swagger-ui"), "{}", docs.text);
    // Every documented operation is routed: an unauthenticated call gets 401 (or, for
    // the public logo route, 404 for an unknown logo), never the fallback's 404 or 405.
    for (path, item) in document["paths"].as_object().expect("paths") {
        let concrete = path
            .replace("{org}", app.org.as_str())
            .replace("{group}", "0123456789abcdef0123456789abcdef")
            .replace("{user}", "1")
            .replace("{email}", "a%40b.co")
            .replace("{asset}", "0123456789abcdef0123456789abcdef");
        for (method, operation) in item.as_object().expect("item") {
            let public = operation["security"] == serde_json::json!([{}]);
            let method: Method = method.to_uppercase().parse().expect("method");
            for prefix in ["", "/api"] {
                let answer = app.send(request(method.clone(), &format!("{prefix}{concrete}"), None, None)).await;
                if public {
                    // Public routes answer for themselves: never the fallback.
                    assert!(
                        answer.status == StatusCode::OK || answer.json()["code"] == "RESOURCE_NOT_FOUND",
                        "{method} {prefix}{path}: {} {}",
                        answer.status,
                        answer.text
                    );
                } else {
                    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {prefix}{path}");
                }
            }
        }
    }
}
}

/// Client generators name methods after operationIds (`listGroups`, `getGuest`), and
/// OpenAPI requires them unique; readers need a summary line and a description.
#[test]
fn every_operation_has_a_unique_id_a_summary_and_a_description() {
    let document = serde_json::to_value(roster_api::openapi()).expect("json");
    let mut seen = std::collections::BTreeMap::new();
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            operations += 1;
            let at = format!("{} {path}", method.to_uppercase());
            let id =
                operation["operationId"].as_str().unwrap_or_else(|| panic!("{at}: no operationId"));
            assert!(
                id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && id.chars().all(|c| c.is_ascii_alphanumeric()),
                "{at}: operationId {id:?} is not lowerCamelCase"
            );
            if let Some(other) = seen.insert(id.to_owned(), at.clone()) {
                panic!("operationId {id:?} is used by both {other} and {at}");
            }
            let summary = operation["summary"].as_str().unwrap_or_default();
            assert!(
                (8..=80).contains(&summary.len())
                    && !summary.ends_with('.')
                    && !summary.contains('`'),
                "{at}: summary {summary:?} should be one short line for a reader"
            );
            let description = operation["description"].as_str().unwrap_or_default();
            assert!(description.len() >= 60, "{at}: description {description:?} is too thin");
        }
    }
    assert_eq!(operations, 53, "every operation was checked");
}

#[test]
fn the_document_matches_its_snapshot() {
    let document = serde_json::to_string_pretty(&roster_api::openapi()).expect("json");
    insta::assert_snapshot!("openapi", document);
}
