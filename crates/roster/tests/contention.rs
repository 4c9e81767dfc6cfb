//! Proof under contention: many clients at once against two `roster serve` processes
//! sharing one database, on each backend. Nothing is lost, nothing is doubled, and a
//! loser of a race gets the answer the rules give it (412, 422, a replay), never a 500.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::thread;

use common::{Answer, Db, Server, http};
use serde_json::{Value, json};

on_both_backends!(
    concurrent_patches_each_add_their_member,
    concurrent_puts_with_one_if_match_let_exactly_one_through,
    concurrent_creates_of_one_name_make_one_group,
    concurrent_creates_with_one_idempotency_key_make_one_group,
);

const CLIENTS: usize = 24;

/// Two servers on one database, and the org and token the first one bootstrapped.
struct Cluster {
    servers: [Server; 2],
    org: String,
    token: String,
}

impl Cluster {
    fn start(db: &Db) -> Self {
        let first = Server::start(&db.url);
        let org = first.printed("Organization id: ").expect("org id");
        let token = first.printed("Access token (shown once): ").expect("token");
        let second = Server::start(&db.url);
        Self { servers: [first, second], org, token }
    }

    /// The address of the server for client `n`: clients alternate between the two.
    fn addr(&self, n: usize) -> String {
        self.servers[n % 2].addr.clone()
    }

    fn call(
        &self,
        n: usize,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        let path = format!("/organizations/{}{path}", self.org);
        http(
            &self.addr(n),
            method,
            &path,
            &self.token,
            headers,
            body.map(|b| b.to_string()).as_deref(),
        )
    }

    /// Runs `client(n)` on `CLIENTS` threads at once and collects the answers.
    fn race(&self, client: impl Fn(usize) -> Answer + Sync) -> Vec<Answer> {
        let barrier = std::sync::Barrier::new(CLIENTS);
        thread::scope(|scope| {
            let handles: Vec<_> = (0..CLIENTS)
                .map(|n| {
                    let (barrier, client) = (&barrier, &client);
                    scope.spawn(move || {
                        barrier.wait();
                        client(n)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("client thread")).collect()
        })
    }

    fn create_group(&self, name: &str) -> Value {
        let answer =
            self.call(0, "POST", "/groups", &[], Some(json!({"name": name, "description": "d"})));
        assert_eq!(answer.status, 201, "{}", answer.body);
        answer.body["data"].clone()
    }
}

fn statuses(answers: &[Answer]) -> Vec<u16> {
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort_unstable();
    statuses
}

fn concurrent_patches_each_add_their_member(db: Db) {
    let cluster = Cluster::start(&db);
    let ids: Vec<i64> = (0..CLIENTS)
        .map(|n| {
            let invite = json!({"email": format!("p{n}@race.test"), "first_name": "P", "last_name": "N", "role": "light"});
            let answer = cluster.call(n, "POST", "/users/invite", &[], Some(invite));
            assert_eq!(answer.status, 200, "{}", answer.body);
            answer.body["data"]["id"].as_i64().expect("id")
        })
        .collect();
    let group = cluster.create_group("Race");
    let path = format!("/groups/{}", group["id"].as_str().expect("id"));
    let answers = cluster.race(|n| {
        cluster.call(n, "PATCH", &format!("{path}/members"), &[], Some(json!({"add": [ids[n]]})))
    });
    assert_eq!(
        statuses(&answers),
        vec![200; CLIENTS],
        "{:?}",
        answers.iter().map(|a| &a.body).collect::<Vec<_>>()
    );
    let after = cluster.call(1, "GET", &path, &[], None);
    let mut expected = ids.clone();
    expected.sort_unstable();
    assert_eq!(after.body["data"]["members"], json!(expected));
    assert_eq!(after.body["data"]["member_count"], json!(CLIENTS));
    assert_eq!(after.header("etag"), Some(format!("\"{}\"", CLIENTS + 1).as_str()));
}

fn concurrent_puts_with_one_if_match_let_exactly_one_through(db: Db) {
    let cluster = Cluster::start(&db);
    let group = cluster.create_group("Contested");
    let path = format!("/groups/{}", group["id"].as_str().expect("id"));
    let answers = cluster.race(|n| {
        cluster.call(
            n,
            "PUT",
            &path,
            &[("If-Match", "\"1\"")],
            Some(json!({"name": format!("Winner {n}")})),
        )
    });
    let mut expected = vec![412; CLIENTS - 1];
    expected.insert(0, 200);
    assert_eq!(statuses(&answers), expected);
    let winner = answers.iter().find(|a| a.status == 200).expect("a winner");
    let after = cluster.call(0, "GET", &path, &[], None);
    assert_eq!(after.body["data"]["name"], winner.body["data"]["name"]);
    assert_eq!(after.header("etag"), Some("\"2\""));
    for loser in answers.iter().filter(|a| a.status == 412) {
        assert_eq!(loser.body["code"], json!("PRECONDITION_FAILED"));
    }
}

fn concurrent_creates_of_one_name_make_one_group(db: Db) {
    let cluster = Cluster::start(&db);
    let answers = cluster.race(|n| {
        cluster.call(
            n,
            "POST",
            "/groups",
            &[],
            Some(json!({"name": "Only One", "description": format!("try {n}")})),
        )
    });
    let mut expected = vec![422; CLIENTS - 1];
    expected.insert(0, 201);
    assert_eq!(
        statuses(&answers),
        expected,
        "{:?}",
        answers.iter().map(|a| &a.body).collect::<Vec<_>>()
    );
    for loser in answers.iter().filter(|a| a.status == 422) {
        assert_eq!(loser.body["errors"], json!({"name": ["The name has already been taken."]}));
    }
    let list = cluster.call(1, "GET", "/groups", &[], None);
    assert_eq!(list.body["meta"]["pagination"]["total"], json!(1));
}

fn concurrent_creates_with_one_idempotency_key_make_one_group(db: Db) {
    let cluster = Cluster::start(&db);
    let body = json!({"name": "Idempotent", "description": "d"});
    let answers = cluster.race(|n| {
        cluster.call(n, "POST", "/groups", &[("Idempotency-Key", "race-key")], Some(body.clone()))
    });
    assert_eq!(
        statuses(&answers),
        vec![201; CLIENTS],
        "{:?}",
        answers.iter().map(|a| &a.body).collect::<Vec<_>>()
    );
    let ids: std::collections::HashSet<&str> =
        answers.iter().map(|a| a.body["data"]["id"].as_str().expect("id")).collect();
    assert_eq!(ids.len(), 1, "one group for one key: {ids:?}");
    assert_eq!(answers.iter().filter(|a| a.header("idempotent-replayed").is_none()).count(), 1);
    let list = cluster.call(1, "GET", "/groups", &[], None);
    assert_eq!(list.body["meta"]["pagination"]["total"], json!(1));
}
