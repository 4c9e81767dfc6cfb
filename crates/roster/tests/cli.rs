//! The `roster` binary as an operator uses it: admin commands with `--json`, and
//! `roster serve` started, queried over TCP and stopped with SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn roster(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .env_remove("ROSTER_DATABASE")
        .env_remove("ROSTER_LISTEN")
        .output()
        .expect("run roster")
}

/// Runs a command that must succeed and print exactly one JSON object.
fn roster_json(args: &[&str]) -> Value {
    let output = roster(args);
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    assert_eq!(stdout.lines().count(), 1, "one line of JSON: {stdout}");
    serde_json::from_str(&stdout).expect("json")
}

fn url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("roster.db").display())
}

fn is_hex32(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

#[test]
fn admin_commands_print_json_and_accept_database_anywhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = url(dir.path());

    // --database before the subcommand...
    let org = roster_json(&["--database", &db, "org", "create", "--name", "Acme", "--json"]);
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
        &db,
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
        &db,
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
    let other = roster_json(&["--database", &db, "--json", "org", "create", "--name", "Other"]);
    let other_id = other["id"].as_str().expect("id");
    let again = roster_json(&[
        "--database",
        &db,
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
        &db,
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

    // The secret is stored only as a hash: it appears nowhere in the database files.
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "plaintext token on disk"
        );
    }
}

#[test]
fn admin_command_mistakes_fail_with_a_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = url(dir.path());
    let org = roster_json(&["--database", &db, "--json", "org", "create", "--name", "Acme"]);
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
        let mut full = vec!["--database", db.as_str()];
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
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         X-Tallyfy-Client: APIClient\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("head/body");
    (head.to_owned(), serde_json::from_str(body).expect("json"))
}

struct Server {
    child: std::process::Child,
    addr: String,
    /// What it printed before it started listening.
    banner: Vec<String>,
}

impl Server {
    fn start(db: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", db])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let mut banner = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("line");
            if let Some(rest) = line.strip_prefix("Roster is listening on http://") {
                let addr = rest.split_whitespace().next().expect("addr").to_owned();
                return Self { child, addr, banner };
            }
            banner.push(line);
        }
        let status = child.wait();
        panic!("serve exited before listening ({status:?}): {banner:?}");
    }

    fn printed(&self, prefix: &str) -> Option<String> {
        self.banner.iter().find_map(|line| line.strip_prefix(prefix)).map(str::to_owned)
    }

    /// SIGTERM, then the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        self.child.wait().expect("wait")
    }
}

/// A failing test must not leave a server behind.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_bootstraps_an_empty_database_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = url(dir.path());
    let mut server = Server::start(&db);
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
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
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
    let mut again = Server::start(&db);
    assert_eq!(again.printed("Organization id: "), None, "{:?}", again.banner);
    let (head, _) = http_get(&again.addr, &format!("/organizations/{org}/groups"), &token);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(again.stop().success());
}
