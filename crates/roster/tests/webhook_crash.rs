//! Webhook deliveries survive SIGKILL: a delivery waiting for its retry, and an event
//! committed just before the kill, both arrive after a restart, with the same
//! `webhook-id`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{Db, Server, http};
use serde_json::{Value, json};

on_both_backends!(deliveries_survive_sigkill);

/// (webhook-id, roster-attempt, event type) of every request received.
type Received = Arc<Mutex<Vec<(String, String, String)>>>;

/// A loopback receiver: answers 500 to its first request, 204 to every other.
fn receiver() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received: Received = Arc::default();
    let log = Arc::clone(&received);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                headers.push(line.trim_end().to_owned());
            }
            let header = |name: &str| {
                headers
                    .iter()
                    .find_map(|h| {
                        let (key, value) = h.split_once(':')?;
                        key.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
                    })
                    .unwrap_or_default()
            };
            let length: usize = header("content-length").parse().unwrap_or(0);
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let first = {
                let mut log = log.lock().unwrap();
                log.push((
                    header("webhook-id"),
                    header("roster-attempt"),
                    header("roster-event-type"),
                ));
                log.len() == 1
            };
            let status = if first { "500 Internal Server Error" } else { "204 No Content" };
            let _ = stream.write_all(
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (url, received)
}

fn wait_for(what: &str, received: &Received, done: impl Fn(&[(String, String, String)]) -> bool) {
    wait_up_to(Duration::from_secs(15), what, received, done);
}

fn wait_up_to(
    limit: Duration,
    what: &str,
    received: &Received,
    done: impl Fn(&[(String, String, String)]) -> bool,
) {
    for _ in 0..limit.as_millis() / 25 {
        if done(&received.lock().unwrap()) {
            return;
        }
        thread::sleep(Duration::from_millis(25));
    }
    panic!("timed out waiting for {what}: {:?}", received.lock().unwrap());
}

fn deliveries_survive_sigkill(db: Db) {
    let options = [
        "--rate-limit-per-minute",
        "0",
        "--webhook-allow-http",
        "--webhook-allow-private-targets",
        "--webhook-retry-schedule",
        "2",
    ];
    let server = Server::start_with(&db.url, &options);
    let org = server.printed("Organization id: ").expect("org");
    let token = server.printed("Access token (shown once): ").expect("token");
    let (url, received) = receiver();
    let hooks = format!("/organizations/{org}/webhooks");
    let body = json!({"url": url, "event_types": ["group.created"]}).to_string();
    let created = http(&server.addr, "POST", &hooks, &token, &[], Some(&body));
    assert_eq!(created.status, 201, "{}", created.body);

    // The first event's first attempt fails; its retry is due two seconds later, and the
    // server is killed before then.
    let groups = format!("/organizations/{org}/groups");
    let first = http(
        &server.addr,
        "POST",
        &groups,
        &token,
        &[],
        Some(r#"{"name": "First", "description": "d"}"#),
    );
    assert_eq!(first.status, 201);
    wait_for("the first attempt", &received, |r| !r.is_empty());
    // The second event is committed and acknowledged, and the server dies at once.
    let second = http(
        &server.addr,
        "POST",
        &groups,
        &token,
        &[],
        Some(r#"{"name": "Second", "description": "d"}"#),
    );
    assert_eq!(second.status, 201);
    server.signal("-KILL");
    drop(server);

    let server = Server::start_with(&db.url, &options);
    let feed = http(
        &server.addr,
        "GET",
        &format!("/organizations/{org}/events?types=group.created"),
        &token,
        &[],
        None,
    );
    let ids: Vec<String> = feed.body["data"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e: &Value| e["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    // The kill may fall after the second delivery was claimed and before it was sent:
    // then it is claimed again once that claim's one-minute lease has run out.
    wait_up_to(
        Duration::from_secs(90),
        "both events delivered after the restart",
        &received,
        |r| {
            let succeeded = |id: &str| r.iter().skip(1).any(|(got, _, _)| got == id);
            succeeded(&ids[0]) && succeeded(&ids[1])
        },
    );
    let received = received.lock().unwrap().clone();
    // The failed first attempt and its retry after the restart share the event's id.
    assert_eq!(received[0].0, ids[0]);
    assert_eq!(received[0].1, "1");
    let retry = received.iter().skip(1).find(|(id, _, _)| *id == ids[0]).expect("the retry");
    assert_eq!(retry.1, "2");
    assert!(received.iter().all(|(_, _, kind)| kind == "group.created"));
}
