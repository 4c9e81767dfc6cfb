//! Storage faults under a running server: the database stops answering, or has no space
//! left. Every route answers what the fault is (503 or 507 with `Retry-After`, never a
//! 500), nothing acknowledged is lost, reads go on where the database still reads, and the
//! server recovers by itself, without a restart, as soon as the database or the space
//! comes back: the first request after that succeeds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Answer, Db, PgCluster, Server, http};
use serde_json::{Value, json};

fn group_body(n: usize, description: &str) -> String {
    json!({"name": format!("Group {n}"), "description": description}).to_string()
}

fn assert_refused(answer: &Answer, status: u16, code: &str, retry_after: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.body["error"], json!(true), "{}", answer.body);
    assert_eq!(answer.body["code"], json!(code), "{}", answer.body);
    assert_eq!(answer.header("retry-after"), Some(retry_after));
}

/// Every acknowledged group is there, with its name, and the list counts exactly them.
fn assert_all_there(addr: &str, org: &str, token: &str, acknowledged: &[(String, String)]) {
    for (id, name) in acknowledged {
        let answer =
            http(addr, "GET", &format!("/organizations/{org}/groups/{id}"), token, &[], None);
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["data"]["name"], json!(name));
    }
    let list =
        http(addr, "GET", &format!("/organizations/{org}/groups?per_page=1"), token, &[], None);
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["meta"]["pagination"]["total"], json!(acknowledged.len()));
}

/// Every documented operation (the document needs no database), as (method, path
/// template, path with these ids), so that a test can walk them all.
fn every_operation(
    addr: &str,
    org: &str,
    group: &str,
    user: &str,
    email: &str,
) -> Vec<(String, String, String)> {
    let document = http(addr, "GET", "/openapi.json", "", &[], None).body;
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        let concrete = path
            .replace("{org}", org)
            .replace("{group}", group)
            .replace("{user}", user)
            .replace("{email}", email)
            .replace("{asset}", "0123456789abcdef0123456789abcdef");
        for method in item.as_object().expect("operations").keys() {
            operations.push((method.to_uppercase(), path.clone(), concrete.clone()));
        }
    }
    operations
}

/// A body for the methods that take one.
fn empty_body(method: &str) -> Option<&'static str> {
    (method != "GET" && method != "DELETE").then_some("{}")
}

#[test]
fn sqlite_at_its_size_limit_refuses_writes_keeps_reading_and_recovers() {
    let db = Db::sqlite();
    let mut server =
        Server::start_with(&db.url, &["--rate-limit-per-minute", "0", "--sqlite-max-mib", "2"]);
    let org = server.printed("Organization id: ").expect("org");
    let token = server.printed("Access token (shown once): ").expect("token");
    let groups = format!("/organizations/{org}/groups");
    let description = "x".repeat(20_000);

    let mut acknowledged: Vec<(String, String)> = Vec::new();
    let full = loop {
        assert!(acknowledged.len() < 2_000, "2 MiB never filled up");
        let n = acknowledged.len();
        let answer =
            http(&server.addr, "POST", &groups, &token, &[], Some(&group_body(n, &description)));
        if answer.status != 201 {
            break answer;
        }
        let id = answer.body["data"]["id"].as_str().expect("id").to_owned();
        acknowledged.push((id, format!("Group {n}")));
    };
    assert!(acknowledged.len() > 5, "the limit left room for only {} groups", acknowledged.len());
    assert_refused(&full, 507, "INSUFFICIENT_STORAGE", "30");
    assert_eq!(
        full.body["message"],
        json!(
            "The database has no space left, so the change was not saved; reads still work. \
             Retry once an operator has freed space."
        )
    );

    // Writes that need space keep being refused, with nothing written; reads go on.
    let again =
        http(&server.addr, "POST", &groups, &token, &[], Some(&group_body(9_999, &description)));
    assert_refused(&again, 507, "INSUFFICIENT_STORAGE", "30");
    assert_all_there(&server.addr, &org, &token, &acknowledged);
    let ready = http(&server.addr, "GET", "/readyz", "", &[], None);
    assert_eq!(ready.status, 200, "{}", ready.body);
    // No route answers a full store with a 500 (ids that name nothing, so that nothing
    // acknowledged is touched: a write there is a 404 or a 422, or a 507 if it needs room).
    let nobody = ("0123456789abcdef0123456789abcdef", "999999", "nobody%40example.com");
    for (method, path, concrete) in
        every_operation(&server.addr, &org, nobody.0, nobody.1, nobody.2)
    {
        let answer = http(&server.addr, &method, &concrete, &token, &[], empty_body(&method));
        assert!(
            answer.status < 500 || answer.status == 507,
            "{method} {path}: {} {}",
            answer.status,
            answer.body
        );
    }

    // Space comes back: purging groups (a plain delete keeps them in the trash, which
    // takes room) frees their pages, and the very next create succeeds without a restart.
    for (id, _) in acknowledged.drain(..3) {
        let purge = format!("{groups}/{id}?force=true");
        let deleted = http(&server.addr, "DELETE", &purge, &token, &[], None);
        assert_eq!(deleted.status, 204, "{}", deleted.body);
    }
    let created =
        http(&server.addr, "POST", &groups, &token, &[], Some(&group_body(10_000, "back")));
    assert_eq!(created.status, 201, "{}", created.body);
    acknowledged
        .push((created.body["data"]["id"].as_str().expect("id").to_owned(), "Group 10000".into()));
    assert_all_there(&server.addr, &org, &token, &acknowledged);

    // And it is all still there after a restart.
    assert!(server.stop().success());
    let server = Server::start_with(&db.url, &["--rate-limit-per-minute", "0"]);
    assert_all_there(&server.addr, &org, &token, &acknowledged);
}

#[test]
fn postgres_stopped_and_started_again_under_a_running_server() {
    let cluster = PgCluster::start();
    let server = Server::start_with(
        &cluster.url(),
        &["--rate-limit-per-minute", "0", "--pool-timeout", "2"],
    );
    let org = server.printed("Organization id: ").expect("org");
    let token = server.printed("Access token (shown once): ").expect("token");
    let groups = format!("/organizations/{org}/groups");
    let addr = server.addr.clone();

    let mut acknowledged: Vec<(String, String)> = Vec::new();
    for n in 0..5 {
        let answer = http(&addr, "POST", &groups, &token, &[], Some(&group_body(n, "before")));
        assert_eq!(answer.status, 201, "{}", answer.body);
        acknowledged.push((
            answer.body["data"]["id"].as_str().expect("id").to_owned(),
            format!("Group {n}"),
        ));
    }
    let (first_id, _) = acknowledged[0].clone();

    // Down: pooled connections are cut and new ones refused. Every route that needs the
    // database says so; the process itself is healthy.
    cluster.stop_server();
    let unreachable = |answer: &Answer| {
        assert_refused(answer, 503, "SERVICE_UNAVAILABLE", "5");
        assert_eq!(
            answer.body["message"],
            json!("The database cannot be reached right now; retry shortly.")
        );
    };
    unreachable(&http(&addr, "GET", &format!("{groups}/{first_id}"), &token, &[], None));
    unreachable(&http(&addr, "GET", &groups, &token, &[], None));
    unreachable(&http(&addr, "POST", &groups, &token, &[], Some(&group_body(100, "during"))));
    unreachable(&http(
        &addr,
        "PUT",
        &format!("{groups}/{first_id}"),
        &token,
        &[],
        Some(r#"{"name": "Renamed"}"#),
    ));
    unreachable(&http(&addr, "GET", "/me", &token, &[], None));
    // Every documented route.
    let operations = every_operation(&addr, &org, &first_id, "1", "someone%40example.com");
    for (method, path, concrete) in &operations {
        let answer = http(&addr, method, concrete, &token, &[], empty_body(method));
        match path.as_str() {
            // The process itself, and its metrics, need no database.
            "/healthz" | "/metrics" => assert_eq!(answer.status, 200, "{method} {path}"),
            "/readyz" => assert_eq!(answer.status, 503, "{method} {path}"),
            _ => unreachable(&answer),
        }
    }
    assert_eq!(operations.len(), 53, "every operation was walked");
    let ready = http(&addr, "GET", "/readyz", "", &[], None);
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body, json!({"status": "unavailable"}));
    let healthy = http(&addr, "GET", "/healthz", "", &[], None);
    assert_eq!(healthy.status, 200);

    // Back: the first request after the restart succeeds, and so does everything after.
    cluster.start_server();
    let first = http(&addr, "GET", &format!("{groups}/{first_id}"), &token, &[], None);
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["data"]["name"], json!("Group 0"));
    let created = http(&addr, "POST", &groups, &token, &[], Some(&group_body(5, "after")));
    assert_eq!(created.status, 201, "{}", created.body);
    acknowledged
        .push((created.body["data"]["id"].as_str().expect("id").to_owned(), "Group 5".into()));
    assert_all_there(&addr, &org, &token, &acknowledged);
    // Nothing refused during the outage was written.
    let list = http(&addr, "GET", &format!("{groups}?q=Group%20100"), &token, &[], None);
    assert_eq!(list.body["data"], Value::Array(vec![]), "{}", list.body);
}
