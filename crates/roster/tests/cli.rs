//! The `roster` binary as an operator uses it: admin commands with `--json`, and
//! `roster serve` started, queried over TCP and stopped with SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Output;

use common::{Db, Server};

use serde_json::{Value, json};

fn roster(args: &[&str]) -> Output {
    common::roster().args(args).output().expect("run roster")
}

/// Runs a command that must succeed and print exactly one JSON object.
fn roster_json(args: &[&str]) -> Value {
    let output = roster(args);
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    assert_eq!(stdout.lines().count(), 1, "one line of JSON: {stdout}");
    serde_json::from_str(&stdout).expect("json")
}

fn is_hex32(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

on_both_backends!(
    admin_commands_print_json_and_accept_database_anywhere,
    admin_command_mistakes_fail_with_a_message,
    serve_bootstraps_an_empty_database_answers_and_stops_on_sigterm,
    a_client_trickling_headers_is_cut_off,
    sigterm_lets_requests_in_flight_finish,
    json_logs_carry_one_object_per_line_and_never_a_token_or_body,
    admin_commands_are_recorded_as_the_cli_and_roster_audit_reads_the_log,
    sigterm_ends_waiting_long_polls_at_once,
);

/// A long-poll waiting for a minute does not hold the shutdown: SIGTERM answers it (an
/// empty page with its cursor) and the server exits cleanly, long before the minute.
fn sigterm_ends_waiting_long_polls_at_once(db: Db) {
    let mut server = Server::start(&db.url);
    let org = server.printed("Organization id: ").expect("org");
    let token = server.printed("Access token (shown once): ").expect("token");
    let addr = server.addr.clone();
    let path = format!("/organizations/{org}/events?after=now&wait=60");
    let poll = std::thread::spawn(move || common::http(&addr, "GET", &path, &token, &[], None));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let signalled = std::time::Instant::now();
    server.signal("-TERM");
    let answer = poll.join().expect("poll");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["data"], json!([]));
    assert!(answer.body["next_cursor"].as_str().is_some_and(|c| c.starts_with("cur_")));
    assert!(server.wait().success());
    assert!(signalled.elapsed() < std::time::Duration::from_secs(20), "{:?}", signalled.elapsed());
}

fn admin_commands_are_recorded_as_the_cli_and_roster_audit_reads_the_log(database: Db) {
    let db = database.url.as_str();
    let org = roster_json(&["--database", db, "--json", "org", "create", "--name", "Audited"]);
    let org_id = org["id"].as_str().expect("id");
    let user = roster_json(&[
        "--database",
        db,
        "--json",
        "user",
        "create",
        "--org",
        org_id,
        "--email",
        "a@x.test",
        "--first-name",
        "A",
        "--last-name",
        "B",
        "--role",
        "admin",
    ]);
    let token = roster_json(&[
        "--database",
        db,
        "--json",
        "token",
        "create",
        "--org",
        org_id,
        "--user",
        &user["id"].to_string(),
    ]);
    roster_json(&[
        "--database",
        db,
        "--json",
        "org",
        "set",
        "--org",
        org_id,
        "--allow-non-admins-manage-groups",
        "true",
    ]);
    roster_json(&[
        "--database",
        db,
        "--json",
        "token",
        "revoke",
        "--org",
        org_id,
        "--id",
        &token["id"].to_string(),
    ]);

    let log = roster_json(&["--database", db, "--json", "audit", "--org", org_id]);
    let entries = log["data"].as_array().expect("data");
    let types: Vec<&str> = entries.iter().map(|e| e["type"].as_str().expect("type")).collect();
    assert_eq!(
        types,
        ["token.revoked", "organization.updated", "token.created", "member.created"],
        "newest first"
    );
    for entry in entries {
        assert_eq!(entry["actor"], json!({"type": "cli"}), "{entry}");
        assert_eq!(entry["org_id"], json!(org_id));
    }
    assert_eq!(entries[1]["data"]["previous"], json!({"allow_non_admins_manage_groups": false}));
    let secret = token["token"].as_str().expect("token");
    assert!(!log.to_string().contains(secret), "the token's value is never recorded");
    // Nor is it anywhere in the database's files (SQLite: the file and its WAL).
    if let Some(path) = db.strip_prefix("sqlite://") {
        for file in [path.to_owned(), format!("{path}-wal")] {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(!bytes.is_empty() || file.ends_with("-wal"), "{file} was read");
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{file} holds the token"
            );
        }
    }

    // Filters, oldest first, and the text form.
    let tokens = roster_json(&[
        "--database",
        db,
        "--json",
        "audit",
        "--org",
        org_id,
        "--type",
        "token.*",
        "--oldest-first",
    ]);
    let types: Vec<&str> = tokens["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert_eq!(types, ["token.created", "token.revoked"]);
    let text = roster(&["--database", db, "audit", "--org", org_id, "--limit", "1"]);
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).expect("utf-8");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("token.revoked") && text.contains("cli"), "{text}");
    let bad = roster(&["--database", db, "audit", "--org", org_id, "--type", "nope"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("names no event type"));
}

fn json_logs_carry_one_object_per_line_and_never_a_token_or_body(db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("roster.log");
    let mut server =
        Server::start_logging_to(&db.url, &["--log-format", "json", "--access-log"], &log);
    let org = server.printed("Organization id: ").expect("org");
    let token = server.printed("Access token (shown once): ").expect("token");
    let secret_body = r#"{"name": "Body secret 7f3a", "description": "never logged"}"#;
    let created = common::http(
        &server.addr,
        "POST",
        &format!("/organizations/{org}/groups"),
        &token,
        &[("X-Request-Id", "client-chosen-id")],
        Some(secret_body),
    );
    assert_eq!(created.status, 201);
    let missing = common::http(
        &server.addr,
        "GET",
        &format!("/organizations/{org}/guests/someone%40example.com"),
        &token,
        &[],
        None,
    );
    assert_eq!(missing.status, 404);
    assert!(server.stop().success());

    let text = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    for line in &lines {
        assert!(line["timestamp"].is_string() && line["level"].is_string(), "{line}");
        assert!(line["message"].is_string(), "{line}");
    }
    let requests: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert_eq!(requests.len(), 2, "{text}");
    let create = requests[0];
    assert_eq!(create["level"], "INFO");
    assert_eq!(create["request_id"], "client-chosen-id");
    assert_eq!(create["method"], "POST");
    assert_eq!(create["route"], "/organizations/{org}/groups");
    assert_eq!(create["status"], 201);
    assert!(create["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{create}");
    assert_eq!(requests[1]["route"], "/organizations/{org}/guests/{email}");
    assert_eq!(requests[1]["status"], 404);
    assert!(requests[1]["request_id"].as_str().is_some_and(|id| id.len() == 32));
    // Neither the token, nor a body, nor a path (guests' emails live there) is logged.
    for needle in [token.as_str(), "Body secret 7f3a", "never logged", "someone"] {
        assert!(!text.contains(needle), "{needle:?} in the log: {text}");
    }
}

fn a_client_trickling_headers_is_cut_off(db: Db) {
    let server = Server::start_with(&db.url, &["--header-timeout", "1"]);
    let mut stream = std::net::TcpStream::connect(&server.addr).expect("connect");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    let started = std::time::Instant::now();
    std::io::Write::write_all(&mut stream, b"GET /healthz HTTP/1.1\r\nHost: x\r\n").expect("write");
    // ...and never finishes its headers: the server closes the connection.
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut rest);
    let waited = started.elapsed();
    assert!(waited < std::time::Duration::from_secs(5), "cut off after {waited:?}");
    // Meanwhile others are served.
    let answer = common::http(&server.addr, "GET", "/healthz", "", &[], None);
    assert_eq!(answer.status, 200);
}

fn sigterm_lets_requests_in_flight_finish(db: Db) {
    let mut server = Server::start(&db.url);
    let org = server.printed("Organization id: ").expect("org");
    let token = server.printed("Access token (shown once): ").expect("token");
    let body = r#"{"name": "In flight", "description": "d"}"#;
    let mut stream = std::net::TcpStream::connect(&server.addr).expect("connect");
    let head = format!(
        "POST /organizations/{org}/groups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         X-Tallyfy-Client: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    std::io::Write::write_all(&mut stream, head.as_bytes()).expect("write");
    std::io::Write::write_all(&mut stream, &body.as_bytes()[..10]).expect("write");
    std::thread::sleep(std::time::Duration::from_millis(200));
    server.signal("-TERM");
    std::thread::sleep(std::time::Duration::from_millis(200));
    std::io::Write::write_all(&mut stream, &body.as_bytes()[10..]).expect("write the rest");
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).expect("read");
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(server.wait().success());
}

fn admin_commands_print_json_and_accept_database_anywhere(database: Db) {
    let db = database.url.as_str();

    // --database before the subcommand...
    let org = roster_json(&["--database", db, "org", "create", "--name", "Acme", "--json"]);
    assert!(is_hex32(&org["id"]), "{org}");
    assert_eq!(org["name"], json!("Acme"));
    assert_eq!(org["allow_non_admins_manage_groups"], json!(false));
    let org_id = org["id"].as_str().expect("id");

    // ...or after it.
    let set = roster_json(&[
        "org",
        "set",
        "--org",
        org_id,
        "--allow-non-admins-manage-groups",
        "true",
        "--json",
        "--database",
        db,
    ]);
    assert_eq!(set["allow_non_admins_manage_groups"], json!(true));
    assert_eq!(set["id"], org["id"]);

    let user = roster_json(&[
        "user",
        "create",
        "--org",
        org_id,
        "--email",
        "Ada@Example.com",
        "--first-name",
        "Ada",
        "--last-name",
        "Lovelace",
        "--role",
        "admin",
        "--database",
        db,
        "--json",
    ]);
    assert!(user["id"].as_i64().is_some_and(|id| id > 0), "{user}");
    assert_eq!(
        user,
        json!({
            "id": user["id"], "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
            "full_name": "Ada Lovelace", "org_id": org_id, "role": "admin", "status": "active"
        })
    );

    // The same email in a second org is the same account, with its own role there.
    let other = roster_json(&["--database", db, "--json", "org", "create", "--name", "Other"]);
    let other_id = other["id"].as_str().expect("id");
    let again = roster_json(&[
        "--database",
        db,
        "--json",
        "user",
        "create",
        "--org",
        other_id,
        "--email",
        "ada@example.com",
        "--first-name",
        "A",
        "--last-name",
        "L",
        "--role",
        "light",
    ]);
    assert_eq!(again["id"], user["id"]);
    assert_eq!(again["role"], json!("light"));

    let user_id = user["id"].to_string();
    let token = roster_json(&[
        "--database",
        db,
        "--json",
        "token",
        "create",
        "--org",
        org_id,
        "--user",
        &user_id,
    ]);
    let secret = token["token"].as_str().expect("token");
    assert!(
        secret.starts_with("roster_pat_") && secret.len() == "roster_pat_".len() + 64,
        "{token}"
    );
    assert_eq!(token["user_id"], user["id"]);
    assert!(token["expires_at"].is_string());

    let token_id = token["id"].to_string();
    let listed = roster_json(&["--database", db, "--json", "token", "list", "--org", org_id]);
    assert_eq!(
        listed,
        json!({"tokens": [{
            "id": token["id"], "org_id": org_id, "user_id": user["id"], "created_at": token["created_at"],
            "expires_at": token["expires_at"], "last_used_at": null, "revoked_at": null
        }]})
    );
    assert!(!listed.to_string().contains(secret), "a listing never shows a secret");
    let revoked = roster_json(&[
        "--database",
        db,
        "--json",
        "token",
        "revoke",
        "--org",
        org_id,
        "--id",
        &token_id,
    ]);
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let other_org_revoke =
        roster(&["--database", db, "token", "revoke", "--org", other_id, "--id", &token_id]);
    assert!(!other_org_revoke.status.success(), "a token is revoked only through its own org");

    // The secret is stored only as a hash: it appears nowhere in the database.
    assert!(!database.contains(secret), "plaintext token stored");
    assert!(database.contains("Lovelace"), "the check can see stored text");
}

fn admin_command_mistakes_fail_with_a_message(db: Db) {
    let db = db.url.as_str();
    let org = roster_json(&["--database", db, "--json", "org", "create", "--name", "Acme"]);
    let org_id = org["id"].as_str().expect("id");
    for (args, message) in [
        (
            vec!["org", "set", "--org", "nope", "--allow-non-admins-manage-groups", "true"],
            "is not an organization id",
        ),
        (
            vec![
                "org",
                "set",
                "--org",
                "00000000000000000000000000000000",
                "--allow-non-admins-manage-groups",
                "true",
            ],
            "no organization",
        ),
        (
            vec![
                "user",
                "create",
                "--org",
                org_id,
                "--email",
                "bad",
                "--first-name",
                "a",
                "--last-name",
                "b",
                "--role",
                "admin",
            ],
            "not a valid email",
        ),
        (vec!["token", "create", "--org", org_id, "--user", "42"], "is not a member"),
        (vec!["org", "create", "--name", "  "], "must not be empty"),
    ] {
        let mut full = vec!["--database", db];
        full.extend(args.iter().copied());
        let output = roster(&full);
        assert!(!output.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let output = roster(&["--database", "mysql://x", "org", "create", "--name", "x"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unsupported database URL"));
}

fn http_get(addr: &str, path: &str, token: &str) -> (String, Value) {
    let answer = common::http(addr, "GET", path, token, &[], None);
    (format!("HTTP/1.1 {} ", answer.status), answer.body)
}

fn serve_bootstraps_an_empty_database_answers_and_stops_on_sigterm(db: Db) {
    let db = db.url.as_str();
    let mut server = Server::start(db);
    let org = server.printed("Organization id: ").expect("org id printed");
    let token = server.printed("Access token (shown once): ").expect("token printed");
    assert!(is_hex32(&json!(org)), "{org:?}");
    assert!(token.starts_with("roster_pat_"), "{token:?}");
    let curl =
        server.banner.iter().find(|l| l.trim_start().starts_with("curl ")).expect("curl line");
    assert!(curl.contains(&format!("http://{}/organizations/{org}/groups", server.addr)), "{curl}");
    assert!(
        curl.contains(&format!("Bearer {token}")) && curl.contains("X-Tallyfy-Client"),
        "{curl}"
    );

    let (head, body) = http_get(&server.addr, &format!("/organizations/{org}/groups"), &token);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(
        body,
        json!({"data": [], "meta": {"pagination": {
            "total": 0, "count": 0, "per_page": 10, "current_page": 1, "total_pages": 1, "links": {}
        }}})
    );
    let (_, me) = http_get(&server.addr, &format!("/api/organizations/{org}/me"), &token);
    assert_eq!(me["data"]["role"], json!("admin"));
    let exit = server.stop();
    assert!(exit.success(), "graceful shutdown exits 0: {exit:?}");

    // A second start finds the organization: it creates and prints nothing new, and the
    // first token still works.
    let mut again = Server::start(db);
    assert_eq!(again.printed("Organization id: "), None, "{:?}", again.banner);
    let (head, _) = http_get(&again.addr, &format!("/organizations/{org}/groups"), &token);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(again.stop().success());
}
