//! Crash safety: writers keep writing while `roster serve` is killed with SIGKILL at
//! random moments, 20 times, and restarted. Afterwards every write that was acknowledged
//! with a 2xx is there, and nothing half-written is visible: a group never exists without
//! the members it was created with, and its counts agree with its lists.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{Db, Server, http};
use serde_json::{Value, json};

on_both_backends!(acknowledged_writes_survive_twenty_kills);

const KILLS: usize = 20;
const WRITERS: usize = 4;

/// What a writer knows of its own groups: the last acknowledged state of each, and the
/// write in flight when the server died (which may or may not have committed).
#[derive(Default, Clone)]
struct Ledger {
    /// (group id, acknowledged name, acknowledged members)
    groups: Vec<(String, String, Vec<i64>)>,
    /// A rename in flight when a request failed: (group id, name).
    uncertain: Vec<(String, String)>,
    /// Creates in flight when a request failed, by name.
    uncertain_creates: Vec<String>,
}

fn acknowledged_writes_survive_twenty_kills(db: Db) {
    let mut server = Server::start_with(&db.url, &["--rate-limit-per-minute", "0"]);
    let org = server.printed("Organization id: ").expect("org");
    let token = server.printed("Access token (shown once): ").expect("token");
    let addr = Arc::new(Mutex::new(server.addr.clone()));
    // People to put in groups.
    let members: Vec<i64> = (0..3)
        .map(|n| {
            let invite = json!({"email": format!("crash{n}@test.test"), "first_name": "C", "last_name": "N", "role": "light"});
            let answer = http(&server.addr, "POST", &format!("/organizations/{org}/users/invite"), &token, &[], Some(&invite.to_string()));
            answer.body["data"]["id"].as_i64().expect("id")
        })
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let ledgers: Vec<Arc<Mutex<Ledger>>> =
        (0..WRITERS).map(|_| Arc::new(Mutex::new(Ledger::default()))).collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (addr, stop, ledger, org, token, members) = (
                addr.clone(),
                stop.clone(),
                ledgers[w].clone(),
                org.clone(),
                token.clone(),
                members.clone(),
            );
            thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let target = addr.lock().unwrap().clone();
                    let mut ledger_now = ledger.lock().unwrap().clone();
                    if n % 3 != 0 || ledger_now.groups.is_empty() {
                        let name = format!("w{w}-g{n}");
                        let chosen: Vec<i64> =
                            members.iter().copied().take(1 + n % members.len()).collect();
                        let body = json!({"name": name, "description": "d", "members": chosen})
                            .to_string();
                        match try_http(
                            &target,
                            "POST",
                            &format!("/organizations/{org}/groups"),
                            &token,
                            &body,
                        ) {
                            Some(answer) if answer.status == 201 => {
                                let id = answer.body["data"]["id"].as_str().expect("id").to_owned();
                                ledger_now.groups.push((id, name, chosen));
                            }
                            Some(answer) => assert!(
                                answer.status < 500 || answer.status == 503,
                                "create: {} {}",
                                answer.status,
                                answer.body
                            ),
                            None => ledger_now.uncertain_creates.push(name),
                        }
                    } else {
                        let index = n % ledger_now.groups.len();
                        let id = ledger_now.groups[index].0.clone();
                        let name = format!("w{w}-renamed{n}");
                        let body = json!({"name": name}).to_string();
                        match try_http(
                            &target,
                            "PUT",
                            &format!("/organizations/{org}/groups/{id}"),
                            &token,
                            &body,
                        ) {
                            Some(answer) if answer.status == 200 => {
                                ledger_now.groups[index].1 = name;
                                ledger_now.uncertain.retain(|(g, _)| *g != id);
                            }
                            Some(answer) => assert!(
                                answer.status < 500 || answer.status == 503,
                                "rename: {} {}",
                                answer.status,
                                answer.body
                            ),
                            None => ledger_now.uncertain.push((id, name)),
                        }
                    }
                    *ledger.lock().unwrap() = ledger_now;
                }
            })
        })
        .collect();

    let mut seed = 0x9e37_79b9_u64;
    for _ in 0..KILLS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        thread::sleep(Duration::from_millis(100 + seed % 300));
        server.signal("-KILL");
        server.wait();
        server = Server::start_with(&db.url, &["--rate-limit-per-minute", "0"]);
        *addr.lock().unwrap() = server.addr.clone();
    }
    thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().expect("writer");
    }

    // Everything acknowledged is there, exactly or as the one uncertain write left it.
    let listed = http(
        &server.addr,
        "GET",
        &format!("/organizations/{org}/groups?per_page=100"),
        &token,
        &[],
        None,
    );
    let total = listed.body["meta"]["pagination"]["total"].as_u64().expect("total");
    let mut all: Vec<Value> = Vec::new();
    for page in 1..=total.div_ceil(100).max(1) {
        let answer = http(
            &server.addr,
            "GET",
            &format!("/organizations/{org}/groups?per_page=100&page={page}"),
            &token,
            &[],
            None,
        );
        all.extend(answer.body["data"].as_array().expect("data").iter().cloned());
    }
    let mut acknowledged = 0;
    for ledger in &ledgers {
        let ledger = ledger.lock().unwrap();
        for (id, name, chosen) in &ledger.groups {
            acknowledged += 1;
            let group = all
                .iter()
                .find(|g| g["id"] == json!(id))
                .unwrap_or_else(|| panic!("acknowledged group {id} lost"));
            let uncertain: Vec<&String> =
                ledger.uncertain.iter().filter(|(g, _)| g == id).map(|(_, n)| n).collect();
            let stored = group["name"].as_str().expect("name");
            assert!(
                stored == name || uncertain.iter().any(|n| *n == stored),
                "{id}: stored {stored}, acknowledged {name}"
            );
            assert_eq!(group["members"], json!(chosen), "{id}: members");
        }
    }
    // Nothing half-written: every group's counts agree with its lists, and every group
    // exists with the members it was created with (never empty: each create names some).
    for group in &all {
        let members = group["members"].as_array().expect("members");
        assert_eq!(group["member_count"], json!(members.len()), "{group}");
        assert!(!members.is_empty(), "a group without its members: {group}");
    }
    assert!(acknowledged > KILLS, "the writers got work done: {acknowledged}");

    // The change stream agrees: every group has its creation event and no event names a
    // group that was never written; replaying the stream gives every group's stored name;
    // the seqs run 1, 2, 3, ... with no gap.
    let mut names_by_stream: std::collections::HashMap<String, String> = Default::default();
    let mut created = std::collections::HashSet::new();
    let mut seqs = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/organizations/{org}/events?limit=500&after={cursor}");
        let page = http(&server.addr, "GET", &path, &token, &[], None);
        assert_eq!(page.status, 200, "{}", page.body);
        for event in page.body["data"].as_array().expect("data") {
            seqs.push(event["seq"].as_u64().expect("seq"));
            let subject = event["subject"]["id"].as_str().unwrap_or_default().to_owned();
            match event["type"].as_str() {
                Some("group.created") => {
                    assert!(created.insert(subject.clone()), "one creation event per group");
                    names_by_stream.insert(
                        subject,
                        event["data"]["object"]["name"].as_str().expect("name").to_owned(),
                    );
                }
                Some("group.updated") => {
                    names_by_stream.insert(
                        subject,
                        event["data"]["object"]["name"].as_str().expect("name").to_owned(),
                    );
                }
                _ => {}
            }
        }
        cursor = page.body["next_cursor"].as_str().expect("cursor").to_owned();
        if page.body["has_more"] == json!(false) {
            break;
        }
    }
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "gap-free, in order");
    assert_eq!(created.len(), all.len(), "as many creation events as groups");
    for group in &all {
        let id = group["id"].as_str().expect("id");
        assert_eq!(
            names_by_stream.get(id).map(String::as_str),
            group["name"].as_str(),
            "{id}: the stream replays to the stored name"
        );
    }
    assert!(server.stop().success());
}

/// A request that may die with the server: `None` when no answer came.
fn try_http(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> Option<common::Answer> {
    let addr = addr.to_owned();
    let (method, path, token, body) =
        (method.to_owned(), path.to_owned(), token.to_owned(), body.to_owned());
    thread::spawn(move || http(&addr, &method, &path, &token, &[], Some(&body))).join().ok()
}
