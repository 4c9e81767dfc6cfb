//! Webhooks: endpoints through the router, and deliveries by the real deliverer to a
//! loopback receiver whose answers each test scripts.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use roster_api::{ApiConfig, WebhookConfig};
use roster_core::webhooks::{RetrySchedule, TargetRules, WebhookSecret};
use serde_json::{Value, json};

use crate::harness::TestApp;

const LOOSE: TargetRules = TargetRules { allow_http: true, allow_private: true };

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    headers: HeaderMap,
    body: String,
}

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
struct Reply {
    status: u16,
    retry_after: Option<&'static str>,
    hang: bool,
    /// Milliseconds to take before answering.
    pause: u64,
}

const OK: Reply = Reply { status: 200, retry_after: None, hang: false, pause: 0 };

fn reply(status: u16) -> Reply {
    Reply { status, ..OK }
}

/// A loopback receiver: answers from its script, then with its default.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    /// Ids that arrived while a request with the same id was still being answered.
    overlaps: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    async fn start(default: Reply, script: Vec<Reply>) -> Self {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let overlaps: Arc<Mutex<Vec<String>>> = Arc::default();
        let in_flight: Arc<Mutex<std::collections::HashSet<String>>> = Arc::default();
        let (log, queue, overlapping) =
            (Arc::clone(&seen), Arc::clone(&script), Arc::clone(&overlaps));
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: String| {
                let (log, queue) = (Arc::clone(&log), Arc::clone(&queue));
                let (overlapping, in_flight) = (Arc::clone(&overlapping), Arc::clone(&in_flight));
                async move {
                    let id = headers
                        .get("webhook-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    if !in_flight.lock().unwrap().insert(id.clone()) {
                        overlapping.lock().unwrap().push(id.clone());
                    }
                    log.lock().unwrap().push(Seen { path: uri.path().to_owned(), headers, body });
                    let answer = queue.lock().unwrap().pop_front().unwrap_or(default);
                    if answer.hang {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    tokio::time::sleep(Duration::from_millis(answer.pause)).await;
                    in_flight.lock().unwrap().remove(&id);
                    let mut response = axum::http::Response::builder()
                        .status(answer.status)
                        .header("location", "/elsewhere");
                    if let Some(seconds) = answer.retry_after {
                        response = response.header("retry-after", seconds);
                    }
                    response.body(axum::body::Body::from("thanks")).unwrap()
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, seen, script, overlaps }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn queue(&self, more: &[Reply]) {
        self.script.lock().unwrap().extend(more.iter().copied());
    }
}

fn config(max_per_org: usize) -> ApiConfig {
    ApiConfig {
        webhooks: WebhookConfig { rules: LOOSE, max_per_org, timeout: Duration::from_secs(2) },
        ..ApiConfig::default()
    }
}

/// Runs the deliverer on the test's store until the returned sender is dropped.
fn deliver(app: &TestApp, schedule: &str, timeout: Duration) -> tokio::sync::watch::Sender<bool> {
    deliver_from(&app.store, schedule, timeout)
}

/// Runs a deliverer on `store` until the returned sender is dropped.
fn deliver_from(
    store: &Arc<dyn roster_core::Store>,
    schedule: &str,
    timeout: Duration,
) -> tokio::sync::watch::Sender<bool> {
    deliver_with_slots(store, schedule, timeout, roster_webhooks::Settings::default().concurrency)
}

/// [`deliver_from`] with `slots` attempts in flight at most.
fn deliver_with_slots(
    store: &Arc<dyn roster_core::Store>,
    schedule: &str,
    timeout: Duration,
    slots: usize,
) -> tokio::sync::watch::Sender<bool> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let settings = roster_webhooks::Settings {
        rules: LOOSE,
        schedule: RetrySchedule::parse(schedule).unwrap(),
        timeout,
        concurrency: slots,
        ..roster_webhooks::Settings::default()
    };
    roster_webhooks::spawn(Arc::clone(store), settings, stopped);
    stop
}

/// Waits (up to 30 s: the suite runs many tests at once) until `done` holds; panics with
/// `what` otherwise.
async fn eventually<F: Fn() -> bool>(what: &str, done: F) {
    for _ in 0..1200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Waits (bounded) until the endpoint's log answers what `done` accepts, and returns it.
async fn log_until<F: Fn(&Value) -> bool>(app: &TestApp, hook: &str, done: F) -> Value {
    log_page_until(app, hook, "", done).await
}

/// [`log_until`] on the log page that `query` (e.g. `?status=failed`) selects.
async fn log_page_until<F: Fn(&Value) -> bool>(
    app: &TestApp,
    hook: &str,
    query: &str,
    done: F,
) -> Value {
    let path = app.org_path(&format!("/webhooks/{hook}/deliveries{query}"));
    let mut last = Value::Null;
    for _ in 0..1200 {
        let log = app.get(&path, &app.admin.token).await;
        assert_eq!(log.status, StatusCode::OK, "{}", log.text);
        last = log.json();
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting on the delivery log of {hook}{query}: {last}");
}

async fn subscribe(app: &TestApp, body: Value) -> (String, WebhookSecret) {
    let created = app.post(&app.org_path("/webhooks"), &app.admin.token, &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let created = created.json();
    let secret = WebhookSecret::parse(created["secret"].as_str().unwrap()).unwrap();
    (created["data"]["id"].as_str().unwrap().to_owned(), secret)
}

fn header<'a>(seen: &'a Seen, name: &str) -> &'a str {
    seen.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Checks the Standard Webhooks signature of a request against `secret`.
fn signed_by(seen: &Seen, secret: &WebhookSecret) -> bool {
    let timestamp: i64 = header(seen, "webhook-timestamp").parse().unwrap();
    let expected =
        secret.sign(header(seen, "webhook-id"), timestamp, seen.body.as_bytes()).unwrap();
    header(seen, "webhook-signature").split(' ').any(|entry| entry == expected)
}

roster_test! {
    async fn endpoints_are_made_by_admins_and_show_their_secret_once() {
        let app = TestApp::with_config(config(2)).await;
        let path = app.org_path("/webhooks");
        let body = json!({"url": "http://127.0.0.1:9/in", "event_types": ["group.*"], "description": "CRM"});
        for token in [&app.standard.token, &app.light.token] {
            let refused = app.post(&path, token, &body).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        }
        let created = app.post(&path, &app.admin.token, &body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let created = created.json();
        let secret = created["secret"].as_str().unwrap();
        assert!(secret.starts_with("whsec_") && secret.len() == 6 + 44, "{secret}");
        let hook = created["data"].clone();
        let id = hook["id"].as_str().unwrap().to_owned();
        crate::harness::assert_hex_id(&hook["id"]);
        crate::harness::assert_timestamp(&hook["created_at"]);
        assert_eq!(
            json!({"url": hook["url"], "event_types": hook["event_types"], "description": hook["description"], "status": hook["status"], "failing_since": hook["failing_since"], "last_success_at": hook["last_success_at"], "last_failure_at": hook["last_failure_at"], "previous_secret_expires_at": hook["previous_secret_expires_at"]}),
            json!({"url": "http://127.0.0.1:9/in", "event_types": ["group.*"], "description": "CRM", "status": "enabled", "failing_since": null, "last_success_at": null, "last_failure_at": null, "previous_secret_expires_at": null})
        );

        // Never the secret again.
        let one = app.get(&format!("{path}/{id}"), &app.admin.token).await;
        assert_eq!(one.status, StatusCode::OK);
        assert_eq!(one.json(), json!({"data": hook}));
        let list = app.get(&path, &app.admin.token).await;
        assert_eq!(list.json(), json!({"data": [hook]}));
        assert!(!list.text.contains("whsec_"));

        // Another org sees nothing of it.
        let other = app.get(&format!("/organizations/{}/webhooks/{id}", app.other_org), &app.other_admin.token).await;
        assert_eq!(other.status, StatusCode::NOT_FOUND);

        let patched = app.call(Method::PATCH, &format!("{path}/{id}"), &app.admin.token, Some(&json!({"enabled": false, "description": "off"}).to_string())).await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
        assert_eq!((patched.json()["data"]["status"].clone(), patched.json()["data"]["description"].clone()), (json!("disabled"), json!("off")));

        let rotated = app.post(&format!("{path}/{id}/secret/rotate"), &app.admin.token, &json!({"grace_period_seconds": 60})).await;
        assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
        let rotated = rotated.json();
        assert_ne!(rotated["secret"], json!(secret));
        crate::harness::assert_timestamp(&rotated["data"]["previous_secret_expires_at"]);
        let too_long = app.post(&format!("{path}/{id}/secret/rotate"), &app.admin.token, &json!({"grace_period_seconds": 604_801})).await;
        assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);

        // At most two per org here.
        let second = app.post(&path, &app.admin.token, &body).await;
        assert_eq!(second.status, StatusCode::CREATED);
        let third = app.post(&path, &app.admin.token, &body).await;
        assert_eq!(third.status, StatusCode::CONFLICT, "{}", third.text);

        // Each change is in the audit trail, none with a secret.
        let feed = app.get(&app.org_path("/events?types=webhook.*"), &app.admin.token).await;
        let types: Vec<Value> = feed.json()["data"].as_array().unwrap().iter().map(|e| e["type"].clone()).collect();
        assert_eq!(types, [json!("webhook.created"), json!("webhook.disabled"), json!("webhook.updated"), json!("webhook.created")]);
        assert!(!feed.text.contains("whsec_"));

        let deleted = app.delete(&format!("{path}/{id}"), &app.admin.token).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&format!("{path}/{id}"), &app.admin.token).await.status, StatusCode::NOT_FOUND);
    }
}

roster_test! {
    async fn bad_endpoints_are_refused_naming_the_field_and_private_targets_need_the_flag() {
        let app = TestApp::new().await;
        let path = app.org_path("/webhooks");
        let refused = |body: Value| {
            let app = &app;
            let path = path.clone();
            async move {
                let answer = app.post(&path, &app.admin.token, &body).await;
                assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.text);
                answer.json()["errors"].clone()
            }
        };
        assert_eq!(
            refused(json!({"url": "https://127.0.0.1/in"})).await,
            json!({"url": ["The host 127.0.0.1 resolves to 127.0.0.1, a loopback address, which this server does not send to."]})
        );
        assert_eq!(
            refused(json!({"url": "https://10.0.0.7/in"})).await,
            json!({"url": ["The host 10.0.0.7 resolves to 10.0.0.7, a private address, which this server does not send to."]})
        );
        assert_eq!(
            refused(json!({"url": "http://example.com/in"})).await,
            json!({"url": ["The url must use https (this server does not send to http URLs)."]})
        );
        assert_eq!(
            refused(json!({"url": "https://example.com/in", "event_types": ["grup.*"], "enabled": "yes"})).await,
            json!({"event_types.0": ["The event_types.0 \"grup.*\" names no event type."], "enabled": ["The enabled field must be true or false."]})
        );
        assert_eq!(
            refused(json!({"url": "https://localhost/in"})).await,
            json!({"url": ["The host localhost resolves to 127.0.0.1, a loopback address, which this server does not send to."]})
        );
        assert_eq!(refused(json!({})).await, json!({"url": ["The url field is required."]}));
        assert_eq!(app.get(&path, &app.admin.token).await.json(), json!({"data": []}));

        // A name that does not resolve yet is taken (DNS may be down for a moment); every
        // connection checks it again, so nothing is sent to it until it resolves.
        let unresolved = app.post(&path, &app.admin.token, &json!({"url": "https://hooks.roster.invalid/in"})).await;
        assert_eq!(unresolved.status, StatusCode::CREATED, "{}", unresolved.text);
        let hook = unresolved.json()["data"]["id"].as_str().unwrap().to_owned();
        let ping = app.post(&app.org_path(&format!("/webhooks/{hook}/ping")), &app.admin.token, &json!({})).await;
        assert_eq!(ping.status, StatusCode::OK, "{}", ping.text);
        assert_eq!(
            (ping.json()["data"]["succeeded"].clone(), ping.json()["data"]["status_code"].clone(), ping.json()["data"]["error_kind"].clone()),
            (json!(false), json!(null), json!("dns"))
        );

        // `event_types: null` means every type, on a create as on a PATCH; a PATCH (or a
        // rotation) without a body changes nothing it was not asked to.
        let every = app.post(&path, &app.admin.token, &json!({"url": "https://hooks.roster.invalid/all", "event_types": null})).await;
        assert_eq!((every.status, every.json()["data"]["event_types"].clone()), (StatusCode::CREATED, json!([])), "{}", every.text);
        let hook_path = app.org_path(&format!("/webhooks/{hook}"));
        let typed = app.call(Method::PATCH, &hook_path, &app.admin.token, Some(r#"{"event_types": ["group.*"]}"#)).await;
        assert_eq!(typed.json()["data"]["event_types"], json!(["group.*"]), "{}", typed.text);
        let untouched = app.call(Method::PATCH, &hook_path, &app.admin.token, None).await;
        assert_eq!((untouched.status, untouched.json()["data"]["event_types"].clone()), (StatusCode::OK, json!(["group.*"])), "{}", untouched.text);
        let cleared = app.call(Method::PATCH, &hook_path, &app.admin.token, Some(r#"{"event_types": null}"#)).await;
        assert_eq!(cleared.json()["data"]["event_types"], json!([]), "{}", cleared.text);
        let rotated = app.call(Method::POST, &format!("{hook_path}/secret/rotate"), &app.admin.token, None).await;
        assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);

        // The log's cursor is taken only as `next_cursor` writes it.
        for bad in ["", "0", "01", "+1", "%201", "-3", "1234567890123456789", "x"] {
            let answer = app.get(&format!("{hook_path}/deliveries?after={bad}"), &app.admin.token).await;
            assert_eq!(
                (answer.status, answer.json()["errors"].clone()),
                (StatusCode::UNPROCESSABLE_ENTITY, json!({"after": ["The after must be a next_cursor of this log."]})),
                "after={bad}"
            );
        }
        let page = app.get(&format!("{hook_path}/deliveries?after=123456789012345678"), &app.admin.token).await;
        assert_eq!((page.status, page.json()), (StatusCode::OK, json!({"data": [], "next_cursor": null})));
    }
}

roster_test! {
    async fn events_are_delivered_signed_in_order_and_a_failure_is_retried_with_the_same_id() {
        let app = TestApp::with_config(config(20)).await;
        let receiver = Receiver::start(OK, vec![reply(500)]).await;
        let (hook, secret) = subscribe(&app, json!({"url": receiver.url, "event_types": ["group.*"]})).await;
        let _deliverer = deliver(&app, "0,0,0", Duration::from_secs(2));
        let group = app.create_group(json!({"name": "Sales", "description": "d"})).await;
        let id = group["id"].as_str().unwrap();
        // (Up to four attempts of an endpoint run at once, so the next change waits for
        // these two to arrive, to keep the order this test reads them in.)
        eventually("the first event's two attempts", || receiver.seen().len() >= 2).await;
        let renamed = app.put(&app.org_path(&format!("/groups/{id}")), &app.admin.token, &json!({"name": "Sales EU"})).await;
        assert_eq!(renamed.status, StatusCode::OK);
        // A member event the endpoint does not want.
        app.post(&app.org_path("/guests"), &app.admin.token, &json!({"email": "x@y.test"})).await;

        eventually("three requests", || receiver.seen().len() >= 3).await;
        let seen = receiver.seen();
        assert_eq!(seen.len(), 3);
        assert!(seen.iter().all(|s| signed_by(s, &secret)), "every request is signed");
        assert!(seen.iter().all(|s| s.path == "/hook" && header(s, "content-type") == "application/json"));
        // The failed first attempt and its retry carry the same id and body.
        assert_eq!(header(&seen[0], "webhook-id"), header(&seen[1], "webhook-id"));
        assert_eq!(seen[0].body, seen[1].body);
        assert_eq!([header(&seen[0], "roster-attempt"), header(&seen[1], "roster-attempt"), header(&seen[2], "roster-attempt")], ["1", "2", "1"]);
        let bodies: Vec<Value> = seen.iter().map(|s| serde_json::from_str(&s.body).unwrap()).collect();
        assert_eq!([bodies[1]["type"].clone(), bodies[2]["type"].clone()], [json!("group.created"), json!("group.updated")]);
        assert_eq!(header(&seen[1], "webhook-id"), bodies[1]["id"].as_str().unwrap());
        assert_eq!(header(&seen[2], "roster-seq"), bodies[2]["seq"].to_string());
        assert_eq!(header(&seen[2], "roster-event-type"), "group.updated");

        // The bytes are the feed's.
        let feed = app.get(&app.org_path("/events?types=group.*"), &app.admin.token).await.json();
        assert_eq!(feed["data"][0], bodies[1]);
        assert_eq!(feed["data"][1], bodies[2]);

        let log = log_until(&app, &hook, |log| log["data"].as_array().is_some_and(|d| d.len() == 2 && d.iter().all(|x| x["status"] == "succeeded"))).await;
        let newest = &log["data"][0];
        assert_eq!((newest["event_type"].clone(), newest["attempt_count"].clone(), newest["next_attempt_at"].clone()), (json!("group.updated"), json!(1), Value::Null));
        let first = log["data"][1]["id"].as_i64().unwrap();
        let detail = app.get(&app.org_path(&format!("/webhooks/{hook}/deliveries/{first}")), &app.admin.token).await;
        assert_eq!(detail.status, StatusCode::OK);
        let detail = detail.json()["data"].clone();
        assert_eq!(detail["attempts"].as_array().map(Vec::len), Some(2));
        let attempts = &detail["attempts"];
        assert_eq!((attempts[0]["status_code"].clone(), attempts[0]["error_kind"].clone()), (json!(500), json!("status")));
        assert_eq!((attempts[1]["status_code"].clone(), attempts[1]["error_kind"].clone(), attempts[1]["response_head"].clone()), (json!(200), Value::Null, json!("thanks")));
        assert_eq!(attempts[0]["request_headers"]["webhook-signature"], "[redacted]");
        assert_eq!(attempts[0]["request_headers"]["webhook-id"], detail["event_id"]);

        let ok_only = app.get(&app.org_path(&format!("/webhooks/{hook}/deliveries?status=failed")), &app.admin.token).await;
        assert_eq!(ok_only.json(), json!({"data": [], "next_cursor": null}));
        let health = app.get(&app.org_path(&format!("/webhooks/{hook}")), &app.admin.token).await.json();
        assert_eq!(health["data"]["failing_since"], Value::Null);
        crate::harness::assert_timestamp(&health["data"]["last_success_at"]);
    }
}

roster_test! {
    async fn a_receiver_failing_forever_exhausts_the_schedule_and_can_be_retried_recovered_and_replayed() {
        let app = TestApp::with_config(config(20)).await;
        let receiver = Receiver::start(reply(500), Vec::new()).await;
        let (hook, _) = subscribe(&app, json!({"url": receiver.url, "event_types": ["group.created"]})).await;
        let _deliverer = deliver(&app, "0,0,0", Duration::from_secs(2));
        app.create_group(json!({"name": "Ops", "description": "d"})).await;
        let log = log_until(&app, &hook, |log| log["data"][0]["status"] == "exhausted").await;
        assert_eq!(log["data"][0]["attempt_count"], 4);
        assert_eq!(receiver.seen().len(), 4);
        let delivery = log["data"][0]["id"].as_i64().unwrap();
        let health = app.get(&app.org_path(&format!("/webhooks/{hook}")), &app.admin.token).await.json();
        crate::harness::assert_timestamp(&health["data"]["failing_since"]);

        // By hand: one attempt, the same id.
        receiver.queue(&[OK]);
        let retried = app.post(&app.org_path(&format!("/webhooks/{hook}/deliveries/{delivery}/retry")), &app.admin.token, &json!({})).await;
        assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.text);
        log_until(&app, &hook, |log| log["data"][0]["status"] == "succeeded").await;
        let seen = receiver.seen();
        assert_eq!(seen.len(), 5);
        assert_eq!(header(&seen[4], "webhook-id"), header(&seen[0], "webhook-id"));
        assert_eq!(header(&seen[4], "roster-attempt"), "5");

        // Recovery requeues what failed in the window; nothing here failed any more.
        let recovered = app.post(&app.org_path(&format!("/webhooks/{hook}/recover")), &app.admin.token, &json!({"since": "2000-01-01T00:00:00Z"})).await;
        assert_eq!((recovered.status, recovered.json()), (StatusCode::ACCEPTED, json!({"data": {"queued": 0}})));
        let bad = app.post(&app.org_path(&format!("/webhooks/{hook}/recover")), &app.admin.token, &json!({"since": "yesterday"})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

        // A replay from the start of the stream sends the wanted event again.
        let start = roster_core::events::Cursor(0).encode(&app.org);
        let replayed = app.post(&app.org_path(&format!("/webhooks/{hook}/replay")), &app.admin.token, &json!({"after": start})).await;
        assert_eq!((replayed.status, replayed.json()), (StatusCode::ACCEPTED, json!({"data": {"queued": 1}})));
        receiver.queue(&[OK]);
        eventually("the replayed event", || receiver.seen().len() == 6).await;
        assert_eq!(header(&receiver.seen()[5], "webhook-id"), header(&seen[0], "webhook-id"));
        let other_org = roster_core::events::Cursor(0).encode(&app.other_org);
        let foreign = app.post(&app.org_path(&format!("/webhooks/{hook}/replay")), &app.admin.token, &json!({"after": other_org})).await;
        assert_eq!(foreign.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

roster_test! {
    async fn redirects_fail_without_being_followed_and_retry_after_is_honoured() {
        let app = TestApp::with_config(config(20)).await;
        let receiver = Receiver::start(OK, vec![reply(308), Reply { status: 503, retry_after: Some("2"), ..OK }]).await;
        let (hook, _) = subscribe(&app, json!({"url": receiver.url, "event_types": ["group.created"]})).await;
        let _deliverer = deliver(&app, "0,0,0", Duration::from_secs(2));
        app.create_group(json!({"name": "Ops", "description": "d"})).await;
        let log = log_until(&app, &hook, |log| log["data"][0]["attempt_count"] == 2).await;
        // The 503's Retry-After put the third attempt two seconds out, not at once.
        let delivery = log["data"][0]["id"].as_i64().unwrap();
        let detail = app.get(&app.org_path(&format!("/webhooks/{hook}/deliveries/{delivery}")), &app.admin.token).await.json()["data"].clone();
        let second_at = roster_core::Timestamp::parse_utc(detail["attempts"][1]["started_at"].as_str().unwrap()).unwrap();
        let next_at = roster_core::Timestamp::parse_utc(detail["next_attempt_at"].as_str().unwrap()).unwrap();
        let waited = next_at.millis() - second_at.millis();
        assert!((2000..3000).contains(&waited), "waited {waited} ms");
        assert_eq!((detail["attempts"][0]["status_code"].clone(), detail["attempts"][0]["error_kind"].clone()), (json!(308), json!("redirect")));
        log_until(&app, &hook, |log| log["data"][0]["status"] == "succeeded").await;
        assert!(receiver.seen().iter().all(|s| s.path == "/hook"), "the redirect's target was never visited");
        assert_eq!(receiver.seen().len(), 3);
    }
}

roster_test! {
    async fn a_410_disables_the_endpoint_with_an_event_it_is_not_sent() {
        let app = TestApp::with_config(config(20)).await;
        let gone = Receiver::start(reply(410), Vec::new()).await;
        let watcher = Receiver::start(OK, Vec::new()).await;
        let (hook, _) = subscribe(&app, json!({"url": gone.url, "event_types": ["group.created", "webhook.disabled"]})).await;
        let (watching, _) = subscribe(&app, json!({"url": watcher.url, "event_types": ["webhook.disabled"]})).await;
        let _deliverer = deliver(&app, "0,0,0", Duration::from_secs(2));
        app.create_group(json!({"name": "Ops", "description": "d"})).await;
        log_until(&app, &hook, |log| log["data"][0]["status"] == "failed").await;
        let health = app.get(&app.org_path(&format!("/webhooks/{hook}")), &app.admin.token).await.json();
        assert_eq!(health["data"]["status"], "disabled_gone");
        let feed = app.get(&app.org_path("/events?types=webhook.disabled"), &app.admin.token).await.json();
        assert_eq!(feed["data"][0]["subject"], json!({"type": "webhook", "id": hook}));
        assert_eq!(feed["data"][0]["actor"], json!({"type": "system"}));
        assert_eq!(feed["data"][0]["data"]["object"]["status"], "disabled_gone");
        // The other endpoint hears of it; the one it describes never does.
        eventually("the watcher's delivery", || watcher.seen().len() == 1).await;
        log_until(&app, &watching, |log| log["data"][0]["status"] == "succeeded").await;
        assert_eq!(gone.seen().len(), 1);

        // Enabling again clears the failure state.
        let enabled = app.call(Method::PATCH, &app.org_path(&format!("/webhooks/{hook}")), &app.admin.token, Some(&json!({"enabled": true}).to_string())).await;
        assert_eq!((enabled.json()["data"]["status"].clone(), enabled.json()["data"]["failing_since"].clone()), (json!("enabled"), Value::Null));
    }
}

roster_test! {
    async fn a_receiver_that_never_answers_costs_one_timeout_per_attempt() {
        let app = TestApp::with_config(config(20)).await;
        let receiver = Receiver::start(OK, vec![Reply { hang: true, ..OK }]).await;
        let (hook, _) = subscribe(&app, json!({"url": receiver.url, "event_types": ["group.created"]})).await;
        let _deliverer = deliver(&app, "0", Duration::from_millis(300));
        app.create_group(json!({"name": "Ops", "description": "d"})).await;
        let log = log_until(&app, &hook, |log| log["data"][0]["status"] == "succeeded").await;
        let delivery = log["data"][0]["id"].as_i64().unwrap();
        let detail = app.get(&app.org_path(&format!("/webhooks/{hook}/deliveries/{delivery}")), &app.admin.token).await.json()["data"].clone();
        assert_eq!((detail["attempts"][0]["error_kind"].clone(), detail["attempts"][0]["status_code"].clone()), (json!("timeout"), Value::Null));
        let took = detail["attempts"][0]["duration_ms"].as_i64().unwrap();
        assert!((300..2000).contains(&took), "the attempt took {took} ms");
    }
}

roster_test! {
    async fn an_endpoint_that_never_answers_does_not_hold_up_another() {
        let app = TestApp::with_config(config(20)).await;
        let stuck = Receiver::start(Reply { hang: true, ..OK }, Vec::new()).await;
        let healthy = Receiver::start(OK, Vec::new()).await;
        // The stuck endpoint first, so that its deliveries are dispatched first, and a
        // backlog for both before the deliverer starts.
        subscribe(&app, json!({"url": stuck.url, "event_types": ["group.created"]})).await;
        subscribe(&app, json!({"url": healthy.url, "event_types": ["group.created"]})).await;
        for n in 0..80 {
            app.create_group(json!({"name": format!("Team {n}"), "description": "d"})).await;
        }
        // Few slots and attempts that wait a minute: a claim that took the oldest due
        // deliveries whatever their endpoint would see only the stuck one's.
        let _deliverer = deliver_with_slots(&app.store, "60", Duration::from_secs(60), 8);
        eventually("the healthy endpoint's 80 deliveries", || healthy.seen().len() >= 80).await;
        assert_eq!(healthy.seen().len(), 80);
        assert_eq!(stuck.seen().len(), 4, "the stuck endpoint has its four attempts in flight, no more");
        assert!(healthy.overlaps.lock().unwrap().is_empty());
    }
}

roster_test! {
    async fn a_ping_reports_the_receivers_answer() {
        let app = TestApp::with_config(config(20)).await;
        let receiver = Receiver::start(reply(204), Vec::new()).await;
        let (hook, secret) = subscribe(&app, json!({"url": receiver.url})).await;
        let ping = app.post(&app.org_path(&format!("/webhooks/{hook}/ping")), &app.admin.token, &json!({})).await;
        assert_eq!(ping.status, StatusCode::OK, "{}", ping.text);
        let result = ping.json()["data"].clone();
        assert_eq!((result["succeeded"].clone(), result["status_code"].clone(), result["error_kind"].clone()), (json!(true), json!(204), Value::Null));
        let seen = receiver.seen();
        assert_eq!(seen.len(), 1);
        assert!(signed_by(&seen[0], &secret));
        assert_eq!(header(&seen[0], "roster-event-type"), "webhook.ping");
        let body: Value = serde_json::from_str(&seen[0].body).unwrap();
        assert_eq!((body["type"].clone(), body["data"]["webhook_id"].clone()), (json!("webhook.ping"), json!(hook)));
    }
}

roster_test! {
    async fn two_instances_share_the_work_and_never_send_one_id_twice_at_once() {
        let app = TestApp::with_config(config(20)).await;
        // Each answer takes a moment, so that a second sender of an id would overlap it.
        let receiver = Receiver::start(Reply { pause: 5, ..OK }, Vec::new()).await;
        let (hook, secret) = subscribe(&app, json!({"url": receiver.url, "event_types": ["group.created"]})).await;
        let (_, second) = app.second_instance().await;
        let _first = deliver(&app, "0,0,0", Duration::from_secs(2));
        let _second = deliver_from(&second, "0,0,0", Duration::from_secs(2));
        let writers: Vec<_> = (0..32)
            .map(|w| {
                let (router, token, org) = (app.router.clone(), app.admin.token.clone(), app.org.clone());
                tokio::spawn(async move {
                    for n in 0..4 {
                        let body = json!({"name": format!("w{w}-{n}"), "description": "d"}).to_string();
                        let request = crate::harness::request(Method::POST, &format!("/organizations/{org}/groups"), Some(&token), Some(&body));
                        let answer = tower::ServiceExt::oneshot(router.clone(), request).await.unwrap();
                        assert_eq!(answer.status(), StatusCode::CREATED);
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let feed = app.get(&app.org_path("/events?types=group.created&limit=500"), &app.admin.token).await.json();
        let ids: std::collections::BTreeSet<String> = feed["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids.len(), 128);
        eventually("every event delivered", || {
            let got: std::collections::BTreeSet<String> = receiver.seen().iter().map(|s| header(s, "webhook-id").to_owned()).collect();
            got == ids
        })
        .await;
        // Every delivery is recorded as succeeded, once: once nothing is pending, two
        // full pages of the log, and nothing else in it.
        log_page_until(&app, &hook, "?status=pending", |log| log["data"] == json!([])).await;
        let first = log_page_until(&app, &hook, "?status=succeeded&limit=100", |log| log["data"].as_array().is_some_and(|d| d.len() == 100)).await;
        let rest = format!("?status=succeeded&limit=100&after={}", first["next_cursor"].as_str().unwrap());
        log_page_until(&app, &hook, &rest, |log| log["data"].as_array().is_some_and(|d| d.len() == 28)).await;
        let everything = log_page_until(&app, &hook, "?limit=100", |_| true).await;
        assert!(everything["data"].as_array().unwrap().iter().all(|d| d["status"] == "succeeded"), "{everything}");
        assert!(receiver.seen().iter().all(|s| signed_by(s, &secret)));
        assert_eq!(*receiver.overlaps.lock().unwrap(), Vec::<String>::new(), "an id was in flight twice");
    }
}
