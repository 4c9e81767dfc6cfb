//! The change stream: every committed change yields its events, in seq order with no
//! gaps, in the same transaction; the feed, its cursors and long-polls; list-then-follow;
//! the audit log.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, TestResponse};

/// The feed as the admin reads it from `after` (a cursor, or "" for the start).
async fn feed(app: &TestApp, query: &str) -> TestResponse {
    app.get(&app.org_path(&format!("/events?{query}")), &app.admin.token).await
}

/// The stream's head now, as a cursor.
async fn head(app: &TestApp) -> String {
    let page = feed(app, "after=now").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let body = page.json();
    assert_eq!(body["data"], json!([]));
    assert_eq!(body["has_more"], json!(false));
    body["next_cursor"].as_str().expect("cursor").to_owned()
}

/// Every event after `cursor`, following `next_cursor` to the end.
async fn events_after(app: &TestApp, cursor: &str) -> Vec<Value> {
    let mut cursor = cursor.to_owned();
    let mut events = Vec::new();
    loop {
        let page = feed(app, &format!("after={cursor}&limit=7")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let body = page.json();
        events.extend(body["data"].as_array().expect("data").iter().cloned());
        cursor = body["next_cursor"].as_str().expect("cursor").to_owned();
        if body["has_more"] == json!(false) {
            return events;
        }
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().expect("type")).collect()
}

/// The seqs run on from one to the next with no gap.
fn assert_consecutive(events: &[Value]) {
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().expect("seq")).collect();
    for pair in seqs.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "seqs {seqs:?}");
    }
}

roster_test! {
async fn every_group_write_says_what_changed_who_did_it_and_through_which_request() {
    let app = TestApp::new().await;
    let start = head(&app).await;
    let created = app
        .post(
            &app.org_path("/groups"),
            &app.admin.token,
            &json!({"name": "Sales", "description": "d", "members": [app.standard.id.get()], "guests": ["new.guest@x.test"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let request_id = created.header("x-request-id").expect("request id").to_owned();
    let id = created.json()["data"]["id"].as_str().expect("id").to_owned();
    let group = app.org_path(&format!("/groups/{id}"));
    let renamed = app.put(&group, &app.admin.token, &json!({"name": "Sales EU"})).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    let unchanged = app.put(&group, &app.admin.token, &json!({"name": "Sales EU"})).await;
    assert_eq!(unchanged.status, StatusCode::OK);
    let patch = app
        .call(
            Method::PATCH,
            &format!("{group}/members"),
            &app.admin.token,
            Some(&json!({"add": [app.light.id.get(), app.standard.id.get()], "remove": [app.admin.id.get()]}).to_string()),
        )
        .await;
    assert_eq!(patch.status, StatusCode::OK, "{}", patch.text);
    let deleted = app.delete(&group, &app.admin.token).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);

    let events = events_after(&app, &start).await;
    assert_eq!(
        types(&events),
        ["group.created", "guest.created", "group.members_changed", "group.updated", "group.members_changed", "group.deleted"],
        "an update that changes nothing says nothing"
    );
    assert_consecutive(&events);
    let actor = json!({"type": "user", "id": app.admin.id.get(), "token_id": events[0]["actor"]["token_id"]});
    for event in &events {
        assert_eq!(event["actor"], actor);
        assert_eq!(event["org_id"], json!(app.org.as_str()));
        assert!(event["id"].as_str().is_some_and(|e| e.starts_with("evt_") && e.len() == 36), "{event}");
        crate::harness::assert_timestamp(&event["timestamp"]);
        assert!(event.get("context").is_none(), "how it was made is for the audit log only");
    }
    assert!(actor["token_id"].as_i64().is_some());

    let created_event = &events[0];
    assert_eq!(created_event["request_id"], json!(request_id));
    assert_eq!(created_event["subject"], json!({"type": "group", "id": id}));
    assert_eq!(created_event["data"]["previous"], Value::Null);
    let object = &created_event["data"]["object"];
    assert_eq!((object["name"].clone(), object["member_count"].clone(), object["guest_count"].clone(), object["version"].clone()), (json!("Sales"), json!(1), json!(1), json!(1)));
    assert!(object.get("members").is_none(), "lists never go into an event");
    assert_eq!(events[1]["subject"], json!({"type": "guest", "id": "new.guest@x.test"}));
    assert_eq!(events[1]["request_id"], json!(request_id), "one request, one id");
    // Who a new group starts with, as for any later change.
    let initial = &events[2]["data"]["object"];
    assert_eq!(initial["added_member_ids"], json!([app.standard.id.get()]));
    assert_eq!(initial["added_guest_emails"], json!(["new.guest@x.test"]));
    assert_eq!(events[2]["data"]["previous"]["member_count"], json!(0));

    let updated = &events[3];
    assert_eq!(updated["data"]["object"]["name"], json!("Sales EU"));
    let previous = updated["data"]["previous"].as_object().expect("previous");
    assert_eq!(previous.get("name"), Some(&json!("Sales")));
    assert_eq!(previous.get("version"), Some(&json!(1)));
    assert!(previous.get("description").is_none(), "only the fields that changed");

    let changed = &events[4]["data"];
    assert_eq!(changed["object"]["added_member_ids"], json!([app.light.id.get()]), "a present member is not added again");
    assert_eq!(changed["object"]["removed_member_ids"], json!([]), "an absent member is not removed");
    assert_eq!(changed["object"]["member_count"], json!(2));
    assert_eq!(changed["previous"]["member_count"], json!(1));
    assert_eq!(changed["previous"]["version"], json!(2));

    let gone = &events[5]["data"];
    assert_eq!(gone["object"], Value::Null);
    assert_eq!(gone["previous"]["name"], json!("Sales EU"));
    assert_eq!(gone["previous"]["member_count"], json!(2));
}
}

roster_test! {
async fn refused_and_lost_writes_leave_no_event() {
    let app = TestApp::new().await;
    let group = app.create_group(json!({"name": "Taken", "description": "d"})).await;
    let start = head(&app).await;
    let path = app.org_path(&format!("/groups/{}", group["id"].as_str().expect("id")));
    // 422: a taken name.
    let taken = app.post(&app.org_path("/groups"), &app.admin.token, &json!({"name": "Taken", "description": "d"})).await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    // 412: a stale If-Match.
    let mut stale = crate::harness::request(Method::PUT, &path, Some(&app.admin.token), Some(r#"{"name": "New"}"#));
    stale.headers_mut().insert("if-match", "\"99\"".parse().expect("header"));
    assert_eq!(app.send(stale).await.status, StatusCode::PRECONDITION_FAILED);
    // 422: a member who is not in the org.
    let outsider = app.call(Method::PATCH, &format!("{path}/members"), &app.admin.token, Some(&json!({"add": [app.other_admin.id.get()]}).to_string())).await;
    assert_eq!(outsider.status, StatusCode::UNPROCESSABLE_ENTITY);
    // 400: the default admin cannot be disabled.
    let refused = app.delete(&app.org_path(&format!("/users/{}/disable", app.admin.id)), &app.admin.token).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    // 403: not allowed.
    let forbidden = app.post(&app.org_path("/groups"), &app.light.token, &json!({"name": "Nope", "description": "d"})).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(head(&app).await, start, "nothing was written, nothing was said");
    assert_eq!(events_after(&app, &start).await, Vec::<Value>::new());
}
}

roster_test! {
async fn someone_leaving_says_so_once_and_once_per_group_they_left() {
    let app = TestApp::new().await;
    let first = app.create_group(json!({"name": "One", "description": "d", "members": [app.light.id.get(), app.admin.id.get()]})).await;
    let second = app.create_group(json!({"name": "Two", "description": "d", "members": [app.light.id.get()]})).await;
    app.create_group(json!({"name": "Three", "description": "d", "members": [app.admin.id.get()]})).await;
    let start = head(&app).await;
    let disabled = app.delete(&app.org_path(&format!("/users/{}/disable", app.light.id)), &app.admin.token).await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text);
    let events = events_after(&app, &start).await;
    assert_eq!(types(&events), ["member.disabled", "group.members_changed", "group.members_changed"]);
    assert_eq!(events[0]["subject"], json!({"type": "member", "id": app.light.id.to_string()}));
    assert_eq!(events[0]["data"]["object"]["status"], json!("disabled"));
    assert_eq!(events[0]["data"]["previous"], json!({"status": "active"}));
    let left: Vec<&Value> = events[1..].iter().map(|e| &e["subject"]["id"]).collect();
    assert_eq!(left, [&first["id"], &second["id"]]);
    for event in &events[1..] {
        assert_eq!(event["data"]["object"]["removed_member_ids"], json!([app.light.id.get()]));
    }
    assert_eq!(events[1]["data"]["object"]["member_count"], json!(1));
    assert_eq!(events[2]["data"]["object"]["member_count"], json!(0));

    // Guests likewise, and each kind of change has its own type.
    let guest = app.post(&app.org_path("/guests"), &app.admin.token, &json!({"email": "g@x.test"})).await;
    assert_eq!(guest.status, StatusCode::CREATED);
    let path = app.org_path(&format!("/groups/{}/guests", first["id"].as_str().expect("id")));
    let add = app.call(Method::PATCH, &path, &app.admin.token, Some(r#"{"add": ["g@x.test"]}"#)).await;
    assert_eq!(add.status, StatusCode::OK);
    let role = app.put(&app.org_path(&format!("/users/{}/role", app.standard.id)), &app.admin.token, &json!({"role": "light"})).await;
    assert_eq!(role.status, StatusCode::OK, "{}", role.text);
    let mark = head(&app).await;
    let gone = app.delete(&app.org_path("/guests/g%40x.test"), &app.admin.token).await;
    assert!(gone.status.is_success(), "{}", gone.text);
    let events = events_after(&app, &mark).await;
    assert_eq!(types(&events), ["guest.deleted", "group.members_changed"]);
    assert_eq!(events[0]["data"]["object"], Value::Null);
    assert_eq!(events[0]["data"]["previous"]["email"], json!("g@x.test"));
    assert_eq!(events[1]["data"]["object"]["removed_guest_emails"], json!(["g@x.test"]));
    let all = events_after(&app, &start).await;
    assert!(types(&all).contains(&"member.role_changed"));
    assert!(types(&all).contains(&"guest.created"));
    assert_consecutive(&all);
}
}

roster_test! {
async fn the_feed_pages_filters_and_refuses_cursors_it_cannot_follow() {
    let app = TestApp::new().await;
    let start = head(&app).await;
    for n in 0..5 {
        app.create_group(json!({"name": format!("G{n}"), "description": "d"})).await;
    }
    app.post(&app.org_path("/guests"), &app.admin.token, &json!({"email": "filtered@x.test"})).await;
    let page = feed(&app, &format!("after={start}&limit=2")).await.json();
    assert_eq!(page["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["has_more"], json!(true));
    let rest = events_after(&app, page["next_cursor"].as_str().expect("cursor")).await;
    assert_eq!(types(&rest), ["group.created", "group.created", "group.created", "guest.created"]);

    // A type filter: only matches, and the cursor moves past what was looked at.
    let guests = feed(&app, &format!("after={start}&types=guest.*")).await.json();
    assert_eq!(types(guests["data"].as_array().expect("data")), ["guest.created"]);
    assert_eq!(guests["next_cursor"], json!(head(&app).await));
    let nothing = feed(&app, &format!("after={start}&types=token.revoked")).await.json();
    assert_eq!(nothing["data"], json!([]));
    assert_eq!(nothing["next_cursor"], json!(head(&app).await), "past the scanned events");

    // The whole stream from the start: seeding's own changes first (system), then ours.
    let everything = events_after(&app, "").await;
    assert_eq!(everything[0]["seq"], json!(1));
    assert_eq!(everything[0]["actor"], json!({"type": "system"}));
    assert_consecutive(&everything);

    // Cursors it cannot follow.
    let other = app.get(&format!("/organizations/{}/events?after=now", app.other_org), &app.other_admin.token).await;
    let foreign = other.json()["next_cursor"].as_str().expect("cursor").to_owned();
    for (query, status) in [
        ("after=garbage", StatusCode::BAD_REQUEST),
        (&*format!("after={foreign}"), StatusCode::BAD_REQUEST),
        ("after=cur_00", StatusCode::BAD_REQUEST),
        ("limit=0", StatusCode::UNPROCESSABLE_ENTITY),
        ("limit=501", StatusCode::UNPROCESSABLE_ENTITY),
        ("wait=61", StatusCode::UNPROCESSABLE_ENTITY),
        ("types=nope.*", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let answer = feed(&app, query).await;
        assert_eq!(answer.status, status, "{query}: {}", answer.text);
        assert_eq!(answer.json()["error"], json!(true));
    }
    let ahead = roster_core::events::Cursor(10_000).encode(&app.org);
    let answer = feed(&app, &format!("after={ahead}")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["message"], json!("The cursor is ahead of the organization's stream."));
    // Admins only.
    let standard = app.get(&app.org_path("/events"), &app.standard.token).await;
    assert_eq!(standard.status, StatusCode::FORBIDDEN);
}
}

roster_test! {
async fn a_cursor_older_than_retention_is_gone_and_says_where_to_resume() {
    let app = TestApp::new().await;
    let start = feed(&app, "").await.json()["next_cursor"].as_str().expect("cursor").to_owned();
    app.create_group(json!({"name": "Old", "description": "d"})).await;
    let trimmed = app.store.trim_events(app.store.clock().now().plus_days(1)).await.expect("trim");
    assert!(trimmed > 0);
    let head = head(&app).await;
    let answer = feed(&app, &format!("after={start}")).await;
    assert_eq!(answer.status, StatusCode::GONE, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["code"], json!("CURSOR_EXPIRED"));
    assert_eq!(body["error"], json!(true));
    assert_eq!(body["head_cursor"], json!(head));
    assert_eq!(body["oldest_cursor"], json!(head), "everything was trimmed");
    // Without a cursor, the feed starts at the oldest retained event: here, nothing yet.
    let fresh = feed(&app, "").await.json();
    assert_eq!((fresh["data"].clone(), fresh["next_cursor"].clone()), (json!([]), json!(head)));
    // Following from the oldest cursor works, and new changes come through.
    app.create_group(json!({"name": "New", "description": "d"})).await;
    assert_eq!(types(&events_after(&app, &head).await), ["group.created"]);
}
}

roster_test! {
async fn a_long_poll_answers_when_a_change_commits() {
    let app = std::sync::Arc::new(TestApp::new().await);
    let start = head(&app).await;
    let waiting = {
        let (app, start) = (std::sync::Arc::clone(&app), start.clone());
        tokio::spawn(async move {
            let asked = Instant::now();
            let page = feed(&app, &format!("after={start}&wait=20&types=group.*")).await;
            (page, asked.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A change it does not want (a guest) does not end the wait.
    app.post(&app.org_path("/guests"), &app.admin.token, &json!({"email": "skip@x.test"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "a non-matching event leaves it waiting");
    let committed = Instant::now();
    app.create_group(json!({"name": "Wake", "description": "d"})).await;
    let (page, waited) = waiting.await.expect("poll");
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(types(page.json()["data"].as_array().expect("data")), ["group.created"]);
    // Woken by the commit, long before the 20 s (not a speed target: see the bench).
    assert!(committed.elapsed() < Duration::from_secs(5), "{waited:?}");

    // Another instance on the same database hears of it too (PostgreSQL: LISTEN/NOTIFY;
    // SQLite: the WAL index the poll glances at).
    let (second, _store) = app.second_instance().await;
    let mark = head(&app).await;
    let other = {
        let mark = mark.clone();
        let path = app.org_path(&format!("/events?after={mark}&wait=20"));
        let request = crate::harness::request(Method::GET, &path, Some(&app.admin.token), None);
        tokio::spawn(async move {
            tower::ServiceExt::oneshot(second, request).await.expect("infallible")
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let committed = Instant::now();
    app.create_group(json!({"name": "Across", "description": "d"})).await;
    let answer = other.await.expect("poll");
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(committed.elapsed() < Duration::from_secs(5));
    let bytes = http_body_util::BodyExt::collect(answer.into_body()).await.expect("body").to_bytes();
    let body: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(types(body["data"].as_array().expect("data")), ["group.created"]);

    // At most four long-polls per token at once.
    let now_cursor = head(&app).await;
    let mut polls = Vec::new();
    for _ in 0..4 {
        let (app, cursor) = (std::sync::Arc::clone(&app), now_cursor.clone());
        polls.push(tokio::spawn(async move { feed(&app, &format!("after={cursor}&wait=20")).await.status }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fifth = feed(&app, &format!("after={now_cursor}&wait=20")).await;
    assert_eq!(fifth.status, StatusCode::TOO_MANY_REQUESTS, "{}", fifth.text);
    assert_eq!(fifth.json()["code"], json!("TOO_MANY_LONG_POLLS"));
    assert_eq!(fifth.header("retry-after"), Some("1"));
    app.create_group(json!({"name": "Release", "description": "d"})).await;
    for poll in polls {
        assert_eq!(poll.await.expect("poll"), StatusCode::OK);
    }
}
}

roster_test! {
async fn a_listing_gives_the_cursor_to_follow_from_without_missing_a_change() {
    let app = TestApp::new().await;
    let group = app.create_group(json!({"name": "Listed", "description": "d", "members": [app.admin.id.get()]})).await;
    let id = group["id"].as_str().expect("id");
    for path in ["/groups", "/users", "/users-list", "/guests", "/guests-list", &format!("/groups/{id}/members"), &format!("/groups/{id}/guests")] {
        let listing = app.get(&app.org_path(path), &app.admin.token).await;
        assert_eq!(listing.status, StatusCode::OK, "{path}");
        assert_eq!(listing.header("roster-cursor"), Some(head(&app).await.as_str()), "{path}");
    }
    // List, change, follow: the change arrives; a second listing moves the cursor on.
    let listing = app.get(&app.org_path("/groups"), &app.admin.token).await;
    let cursor = listing.header("roster-cursor").expect("cursor").to_owned();
    app.put(&app.org_path(&format!("/groups/{id}")), &app.admin.token, &json!({"description": "changed"})).await;
    let followed = events_after(&app, &cursor).await;
    assert_eq!(types(&followed), ["group.updated"]);
    assert_eq!(followed[0]["data"]["object"]["description"], json!("changed"));
    // A cached listing carries the cursor of its own snapshot.
    let again = app.get(&app.org_path("/groups"), &app.admin.token).await;
    let once_more = app.get(&app.org_path("/groups"), &app.admin.token).await;
    assert_ne!(again.header("roster-cursor"), Some(cursor.as_str()));
    assert_eq!(again.header("roster-cursor"), once_more.header("roster-cursor"));
    assert_eq!(again.header("roster-cursor"), Some(head(&app).await.as_str()));
}
}

roster_test! {
async fn the_audit_log_says_who_changed_what_and_how_and_filters() {
    let app = TestApp::new().await;
    let mut create = crate::harness::request(
        Method::POST,
        &app.org_path("/groups"),
        Some(&app.admin.token),
        Some(r#"{"name": "Audited", "description": "d"}"#),
    );
    create.headers_mut().insert("user-agent", "audit-test/1.0".parse().expect("header"));
    create.headers_mut().insert("idempotency-key", "key-1".parse().expect("header"));
    let created = app.send(create).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let request_id = created.header("x-request-id").expect("id").to_owned();
    let id = created.json()["data"]["id"].as_str().expect("id").to_owned();
    app.put(&app.org_path(&format!("/groups/{id}")), &app.admin.token, &json!({"name": "Audited 2"})).await;

    let log = app.get(&app.org_path("/audit-log"), &app.admin.token).await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    let entries = log.json()["data"].as_array().expect("data").clone();
    assert_eq!(types(&entries[..2]), ["group.updated", "group.created"], "newest first");
    let made = &entries[1]["context"];
    assert_eq!(made["actor_email"], json!("admin@acme.test"));
    assert_eq!(made["user_agent"], json!("audit-test/1.0"));
    assert_eq!(made["client"], json!("APIClient"));
    assert_eq!(made["route"], json!("/organizations/{org}/groups"));
    assert_eq!(made["idempotency_key"], json!("key-1"));
    assert_eq!(made["token_id"], entries[1]["actor"]["token_id"]);

    let by_request = app.get(&app.org_path(&format!("/audit-log?request_id={request_id}")), &app.admin.token).await.json();
    assert_eq!(types(by_request["data"].as_array().expect("data")), ["group.created"]);
    let by_subject = app.get(&app.org_path(&format!("/audit-log?subject_type=group&subject_id={id}&order=asc")), &app.admin.token).await.json();
    assert_eq!(types(by_subject["data"].as_array().expect("data")), ["group.created", "group.updated"]);
    let by_actor = app.get(&app.org_path(&format!("/audit-log?actor_id={}&type=group.*", app.admin.id)), &app.admin.token).await.json();
    assert_eq!(by_actor["data"].as_array().map(Vec::len), Some(2));
    let nobody = app.get(&app.org_path(&format!("/audit-log?actor_id={}", app.light.id)), &app.admin.token).await.json();
    assert_eq!(nobody["data"], json!([]));
    let future = app.get(&app.org_path("/audit-log?since=2999-01-01T00:00:00Z"), &app.admin.token).await.json();
    assert_eq!(future["data"], json!([]));
    // Paging: one at a time, newest first, to the end.
    let mut seen = Vec::new();
    let mut next = String::new();
    loop {
        let query = if next.is_empty() { "limit=1".to_owned() } else { format!("limit=1&cursor={next}") };
        let page = app.get(&app.org_path(&format!("/audit-log?{query}")), &app.admin.token).await.json();
        seen.extend(page["data"].as_array().expect("data").iter().map(|e| e["seq"].as_u64().expect("seq")));
        match page["next_cursor"].as_str() {
            Some(cursor) => next = cursor.to_owned(),
            None => break,
        }
    }
    let mut descending = seen.clone();
    descending.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, descending);
    assert_eq!(seen.last(), Some(&1));
    for (query, field) in [("since=yesterday", "since"), ("actor_id=x", "actor_id"), ("order=sideways", "order"), ("type=bad.*", "type")] {
        let answer = app.get(&app.org_path(&format!("/audit-log?{query}")), &app.admin.token).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(answer.json()["errors"].get(field).is_some(), "{query}: {}", answer.text);
    }
    assert_eq!(app.get(&app.org_path("/audit-log"), &app.standard.token).await.status, StatusCode::FORBIDDEN);

    // No token's value appears in any event, feed or audit log.
    let feed_text = feed(&app, "limit=500").await.text;
    let audit_text = app.get(&app.org_path("/audit-log?limit=500"), &app.admin.token).await.text;
    for token in [&app.admin.token, &app.standard.token, &app.light.token] {
        assert!(!feed_text.contains(token.as_str()));
        assert!(!audit_text.contains(token.as_str()));
    }
}
}

roster_test! {
async fn concurrent_writers_are_followed_in_order_exactly_once() {
    let app = std::sync::Arc::new(TestApp::new().await);
    let start = head(&app).await;
    // A follower long-polls from the start while 32 writers each make 3 changes.
    let follower = {
        let (app, start) = (std::sync::Arc::clone(&app), start.clone());
        tokio::spawn(async move {
            let mut cursor = start;
            let mut seqs = Vec::new();
            while seqs.len() < 96 {
                let page = feed(&app, &format!("after={cursor}&wait=10&limit=17")).await;
                assert_eq!(page.status, StatusCode::OK, "{}", page.text);
                let body = page.json();
                seqs.extend(body["data"].as_array().expect("data").iter().map(|e| e["seq"].as_u64().expect("seq")));
                cursor = body["next_cursor"].as_str().expect("cursor").to_owned();
            }
            seqs
        })
    };
    // Half the writers go through a second instance (its own store and connections).
    let (second, _second_store) = app.second_instance().await;
    let mut writers = Vec::new();
    for n in 0..32 {
        let app = std::sync::Arc::clone(&app);
        let router = if n % 2 == 0 { app.router.clone() } else { second.clone() };
        writers.push(tokio::spawn(async move {
            let send = |method: Method, path: String, body: Value| {
                let request = crate::harness::request(method, &path, Some(&app.admin.token), Some(&body.to_string()));
                let router = router.clone();
                async move {
                    let response = tower::ServiceExt::oneshot(router, request).await.expect("infallible");
                    let status = response.status();
                    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
                    (status, serde_json::from_slice::<Value>(&bytes).unwrap_or_default())
                }
            };
            let (status, created) = send(Method::POST, app.org_path("/groups"), json!({"name": format!("Writer {n}"), "description": "d"})).await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            let path = app.org_path(&format!("/groups/{}", created["data"]["id"].as_str().expect("id")));
            let (status, body) = send(Method::PUT, path.clone(), json!({"description": format!("by {n}")})).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let (status, body) = send(Method::PATCH, format!("{path}/members"), json!({"add": [app.standard.id.get()]})).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }));
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    let seqs = tokio::time::timeout(Duration::from_secs(60), follower).await.expect("follower ends").expect("follower");
    let first = seqs[0];
    assert_eq!(seqs, (first..first + 96).collect::<Vec<_>>(), "each seq once, in order");
}
}

roster_test! {
async fn every_other_mutating_route_says_what_it_did() {
    let app = TestApp::new().await;
    let group = app.create_group(json!({"name": "Walk", "description": "d", "members": [app.light.id.get()]})).await;
    let group_path = app.org_path(&format!("/groups/{}", group["id"].as_str().expect("id")));
    let light = app.org_path(&format!("/users/{}", app.light.id));
    let steps: Vec<(Method, String, Option<Value>, Vec<&str>)> = vec![
        (Method::POST, app.org_path("/users/invite"), Some(json!({"email": "new@acme.test", "first_name": "N", "last_name": "M", "role": "light"})), vec!["member.created"]),
        (Method::PUT, light.clone(), Some(json!({"first_name": "Lucy"})), vec!["member.updated"]),
        (Method::DELETE, light.clone(), None, vec!["member.removed", "group.members_changed"]),
        (Method::PUT, format!("{light}/enable"), None, vec!["member.enabled"]),
        (Method::POST, format!("{light}/to/guest"), None, vec!["member.converted_to_guest"]),
        (Method::PUT, app.org_path("/guests/light%40acme.test"), Some(json!({"associated_members": [app.admin.id.get()]})), vec!["guest.updated"]),
        (Method::DELETE, app.org_path("/guests/light%40acme.test/disable"), None, vec!["guest.disabled"]),
        (Method::PUT, app.org_path("/guests/light%40acme.test/enable"), None, vec!["guest.enabled"]),
        (Method::POST, app.org_path("/guests/light%40acme.test/to/member"), Some(json!({"role": "standard"})), vec!["guest.converted_to_member"]),
        (Method::DELETE, format!("{group_path}/logo"), None, vec![]),
    ];
    for (method, path, body, expected) in steps {
        let mark = head(&app).await;
        let body = body.map(|b| b.to_string());
        let answer = app.call(method.clone(), &path, &app.admin.token, body.as_deref()).await;
        if expected.is_empty() {
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}: no logo to remove");
        } else {
            assert!(answer.status.is_success(), "{method} {path}: {}", answer.text);
        }
        let events = events_after(&app, &mark).await;
        assert_eq!(types(&events), expected, "{method} {path}");
        for event in &events {
            assert_eq!(event["actor"]["type"], json!("user"), "{method} {path}");
            assert_eq!(event["actor"]["id"], json!(app.admin.id.get()));
        }
    }
    // The conversions carry both sides: the member as they were, the guest they became.
    let log = app.get(&app.org_path("/audit-log?type=member.converted_to_guest"), &app.admin.token).await.json();
    let converted = &log["data"][0]["data"];
    assert_eq!(converted["previous"]["email"], json!("light@acme.test"));
    assert_eq!(converted["previous"]["first_name"], json!("Lucy"));
    assert_eq!(converted["object"]["status"], json!("active"));

    // A logo upload and removal are group.logo_changed, with the logo before and after.
    let mark = head(&app).await;
    let png = crate::logos::image(8, 8, image::ImageFormat::Png);
    let uploaded = crate::logos::upload_logo(&app, &group_path, "logo.png", &png).await;
    assert_eq!(uploaded.status, StatusCode::OK, "{}", uploaded.text);
    assert_eq!(app.delete(&format!("{group_path}/logo"), &app.admin.token).await.status, StatusCode::NO_CONTENT);
    let events = events_after(&app, &mark).await;
    assert_eq!(types(&events), ["group.logo_changed", "group.logo_changed"]);
    assert_eq!(events[0]["data"]["previous"]["logo"], Value::Null);
    assert_eq!(events[0]["data"]["object"]["logo"]["filename"], json!("logo.png"));
    assert_eq!(events[1]["data"]["object"]["logo"], Value::Null);

    // A shared account's new name is news in every org it belongs to.
    let shared = crate::harness::seed_member(app.store.as_ref(), &app.other_org, "admin@acme.test", roster_core::Role::Light).await;
    assert_eq!(shared.id, app.admin.id);
    let other_mark = app.get(&format!("/organizations/{}/events?after=now", app.other_org), &app.other_admin.token).await.json()["next_cursor"].as_str().expect("cursor").to_owned();
    let renamed = app.put(&app.org_path(&format!("/users/{}", app.admin.id)), &app.admin.token, &json!({"last_name": "Renamed"})).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    let elsewhere = app.get(&format!("/organizations/{}/events?after={other_mark}", app.other_org), &app.other_admin.token).await.json();
    let elsewhere = elsewhere["data"].as_array().expect("data");
    assert_eq!(types(elsewhere), ["member.updated"]);
    assert_eq!(elsewhere[0]["data"]["object"]["last_name"], json!("Renamed"));
    assert_eq!(elsewhere[0]["data"]["object"]["role"], json!("light"), "as a member of that org");
}
}
