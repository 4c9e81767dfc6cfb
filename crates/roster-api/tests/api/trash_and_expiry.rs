//! Reversible deletes (the trash, restore, purge) and memberships that end on time,
//! moved by the store's clock rather than by sleeping.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, TestResponse};

const HOUR: i64 = 60 * 60 * 1000;
const DAY: i64 = 24 * HOUR;

async fn patch(app: &TestApp, path: &str, body: Value) -> TestResponse {
    app.call(Method::PATCH, path, &app.admin.token, Some(&body.to_string())).await
}

async fn restore(app: &TestApp, path: &str, body: Option<Value>) -> TestResponse {
    let body = body.map(|b| b.to_string());
    app.call(Method::POST, &format!("{path}/restore"), &app.admin.token, body.as_deref()).await
}

/// Every event after the start of the stream, of the given types.
async fn events_of(app: &TestApp, types: &str) -> Vec<Value> {
    let page =
        app.get(&app.org_path(&format!("/events?types={types}&limit=500")), &app.admin.token).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    page.json()["data"].as_array().expect("data").clone()
}

fn at(millis: i64) -> String {
    roster_core::Timestamp::from_millis(millis).to_rfc3339_millis()
}

roster_test! {
async fn a_deleted_group_is_gone_everywhere_until_restored_with_its_people_and_logo() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({
        "name": "Sales", "description": "Sells",
        "members": [app.admin.id.get(), app.standard.id.get()], "guests": ["g@x.test"]
    })).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let path = app.org_path(&format!("/groups/{id}"));
    let png = crate::logos::image(4, 4, image::ImageFormat::Png);
    let uploaded = crate::logos::upload_logo(&app, &path, "logo.png", &png).await;
    assert_eq!(uploaded.status, StatusCode::OK, "{}", uploaded.text);
    let live_answer = app.get(&path, &app.admin.token).await;
    let live_version: i64 = live_answer.header("etag").and_then(|e| e.trim_matches('"').parse().ok()).expect("etag");
    let live = live_answer.json()["data"].clone();
    assert_eq!(live["deleted_at"], json!(null));
    let logo_url = live["logo"].as_str().expect("logo").to_owned();
    let logo_path = logo_url.split_once("/logos/").map(|(_, id)| format!("/logos/{id}")).expect("path");
    assert_eq!(app.group_count().await, 1);

    assert_eq!(app.delete(&path, &app.admin.token).await.status, StatusCode::NO_CONTENT);
    // Gone for every Tallyfy route.
    assert_eq!(app.get(&path, &app.admin.token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.put(&path, &app.admin.token, &json!({"name": "X"})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(patch(&app, &format!("{path}/members"), json!({"add": [app.light.id.get()]})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(patch(&app, &format!("{path}/guests"), json!({"add": ["h@x.test"]})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("{path}/members"), &app.admin.token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("{path}/guests"), &app.admin.token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&path, &app.admin.token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&format!("{path}/logo"), &app.admin.token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&logo_path, "").await.status, StatusCode::NOT_FOUND);
    let listing = app.get(&app.org_path("/groups"), &app.admin.token).await.json();
    assert_eq!(listing["data"], json!([]));
    assert_eq!(listing["meta"]["pagination"]["total"], json!(0));
    assert_eq!(app.group_count().await, 0);

    // The trash shows it, to those who may manage groups.
    let trash = app.get(&app.org_path("/groups?trashed=only"), &app.admin.token).await;
    assert_eq!(trash.status, StatusCode::OK, "{}", trash.text);
    let trash = trash.json();
    assert_eq!(trash["meta"]["pagination"]["total"], json!(1));
    let trashed = &trash["data"][0];
    assert_eq!((trashed["id"].as_str(), trashed["members"].clone()), (Some(id.as_str()), json!([app.admin.id.get(), app.standard.id.get()])));
    crate::harness::assert_timestamp(&trashed["deleted_at"]);
    let both = app.get(&app.org_path("/groups?trashed=with"), &app.admin.token).await.json();
    assert_eq!(both["meta"]["pagination"]["total"], json!(1));
    let one = app.get(&format!("{path}?trashed=with"), &app.admin.token).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(one.json()["data"]["deleted_at"], trashed["deleted_at"]);
    // A light member may not manage groups: no trash for them.
    assert_eq!(app.get(&app.org_path("/groups?trashed=only"), &app.light.token).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&format!("{path}?trashed=with"), &app.light.token).await.status, StatusCode::FORBIDDEN);
    for refused in ["/groups?trashed=sometimes", "/groups?trashed="] {
        assert_eq!(app.get(&app.org_path(refused), &app.admin.token).await.status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    }

    // Its name is free meanwhile.
    let other = app.post(&app.org_path("/groups"), &app.admin.token, &json!({"name": "sales", "description": "new"})).await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.text);
    let other_id = other.json()["data"]["id"].as_str().expect("id").to_owned();
    // ...so a restore under it is refused, and one under a new name is not.
    let refused = restore(&app, &path, None).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    assert!(refused.json()["errors"]["name"].is_array(), "{}", refused.text);
    let restored = restore(&app, &path, Some(json!({"name": "Sales (old)"}))).await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.text);
    let body = restored.json();
    assert_eq!(body["meta"], json!({"not_restored": {"members": [], "guests": []}}));
    let data = &body["data"];
    assert_eq!(
        (data["name"].clone(), data["description"].clone(), data["members"].clone(), data["guests"].clone(), data["created_at"].clone(), data["deleted_at"].clone()),
        (json!("Sales (old)"), json!("Sells"), json!([app.admin.id.get(), app.standard.id.get()]), json!(["g@x.test"]), created["created_at"].clone(), json!(null))
    );
    assert_eq!((data["member_count"].clone(), data["guest_count"].clone()), (json!(2), json!(1)));
    assert_eq!(restored.header("etag"), Some(format!("\"{}\"", live_version + 1).as_str()));
    assert_eq!(data["logo"], json!(logo_url));
    assert_eq!(app.get(&logo_path, "").await.status, StatusCode::OK);
    assert_eq!(app.group_count().await, 2);
    // Restoring a live group is a 404: only the trash restores.
    assert_eq!(restore(&app, &path, None).await.status, StatusCode::NOT_FOUND);
    let other_path = app.org_path(&format!("/groups/{other_id}"));
    assert_eq!(restore(&app, &other_path, None).await.status, StatusCode::NOT_FOUND);

    let kinds: Vec<Value> = events_of(&app, "group.deleted,group.restored").await.iter().map(|e| e["type"].clone()).collect();
    assert_eq!(kinds, vec![json!("group.deleted"), json!("group.restored")]);
}
}

roster_test! {
async fn a_restore_leaves_out_whoever_left_or_was_disabled_meanwhile() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({
        "name": "Ops", "description": "d",
        "members": [app.admin.id.get(), app.standard.id.get(), app.light.id.get()],
        "guests": ["stay@x.test", "gone@x.test"]
    })).await;
    let path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    assert_eq!(app.delete(&path, &app.admin.token).await.status, StatusCode::NO_CONTENT);
    let disable = app.org_path(&format!("/users/{}/disable", app.light.id));
    assert_eq!(app.call(Method::DELETE, &disable, &app.admin.token, None).await.status, StatusCode::OK);
    let gone = app.call(Method::DELETE, &app.org_path("/guests/gone%40x.test"), &app.admin.token, None).await;
    assert!(gone.status.is_success(), "{}", gone.text);

    let restored = restore(&app, &path, None).await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.text);
    let body = restored.json();
    assert_eq!(body["meta"]["not_restored"], json!({"members": [app.light.id.get()], "guests": ["gone@x.test"]}));
    assert_eq!(body["data"]["members"], json!([app.admin.id.get(), app.standard.id.get()]));
    assert_eq!(body["data"]["guests"], json!(["stay@x.test"]));
    assert_eq!((body["data"]["member_count"].clone(), body["data"]["guest_count"].clone()), (json!(2), json!(1)));
    let left = events_of(&app, "group.members_changed").await;
    let last = left.last().expect("an event");
    assert_eq!(last["data"]["object"]["reason"], json!("not_restored"));
    assert_eq!(last["data"]["object"]["removed_member_ids"], json!([app.light.id.get()]));
    assert_eq!(last["data"]["object"]["removed_guest_emails"], json!(["gone@x.test"]));
    assert_eq!((last["data"]["previous"]["member_count"].clone(), last["data"]["object"]["member_count"].clone()), (json!(3), json!(2)));
}
}

roster_test! {
async fn force_purges_live_and_trashed_groups_and_retention_purges_old_trash() {
    let app = TestApp::new().await;
    let live = app.create_group(json!({"name": "A", "description": "d"})).await;
    let live_path = app.org_path(&format!("/groups/{}", live["id"].as_str().expect("id")));
    assert_eq!(app.delete(&format!("{live_path}?force=true"), &app.admin.token).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("{live_path}?trashed=with"), &app.admin.token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.group_count().await, 0);
    let kinds: Vec<Value> = events_of(&app, "group.deleted,group.purged").await.iter().map(|e| e["type"].clone()).collect();
    assert_eq!(kinds, vec![json!("group.deleted"), json!("group.purged")]);
    assert_eq!(app.delete(&format!("{live_path}?force=maybe"), &app.admin.token).await.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Trashed: purged by force, or by the retention once its time has passed.
    let first = app.create_group(json!({"name": "B", "description": "d"})).await;
    let second = app.create_group(json!({"name": "C", "description": "d"})).await;
    let first_path = app.org_path(&format!("/groups/{}", first["id"].as_str().expect("id")));
    let second_path = app.org_path(&format!("/groups/{}", second["id"].as_str().expect("id")));
    assert_eq!(app.delete(&first_path, &app.admin.token).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&second_path, &app.admin.token).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&format!("{first_path}?force=true"), &app.admin.token).await.status, StatusCode::NO_CONTENT);
    let clock = app.store.clock().clone();
    let retention = |now: roster_core::Timestamp| now.plus_days(-30);
    assert_eq!(app.store.purge_trash(retention(clock.now())).await.expect("purge"), 0, "not yet due");
    clock.advance(31 * DAY);
    assert_eq!(app.store.purge_trash(retention(clock.now())).await.expect("purge"), 1);
    let trash = app.get(&app.org_path("/groups?trashed=only"), &app.admin.token).await.json();
    assert_eq!(trash["data"], json!([]));
    let purged = events_of(&app, "group.purged").await;
    assert_eq!(purged.len(), 3);
    assert_eq!(purged[2]["actor"], json!({"type": "system"}));
    assert_eq!(restore(&app, &second_path, None).await.status, StatusCode::NOT_FOUND);
}
}

roster_test! {
async fn memberships_end_at_their_instant_in_every_answer_and_the_sweep_records_it() {
    let app = TestApp::new().await;
    let clock = app.store.clock().clone();
    let now = clock.now().millis();
    let created = app.create_group(json!({"name": "On call", "description": "d", "members": [app.admin.id.get()]})).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let path = app.org_path(&format!("/groups/{id}"));
    let ends = at(now + HOUR);
    let added = patch(&app, &format!("{path}/members"), json!({"add": [{"id": app.standard.id.get(), "expires_at": ends}, app.light.id.get()]})).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text);
    let guest = patch(&app, &format!("{path}/guests"), json!({"add": [{"email": "temp@x.test", "expires_at": at(now + 2 * HOUR)}]})).await;
    assert_eq!(guest.status, StatusCode::OK, "{}", guest.text);
    let members = app.get(&format!("{path}/members"), &app.admin.token).await.json();
    let expiries: Vec<(Value, Value)> = members["data"].as_array().expect("data").iter().map(|m| (m["id"].clone(), m["expires_at"].clone())).collect();
    assert_eq!(expiries, vec![(json!(app.admin.id.get()), json!(null)), (json!(app.standard.id.get()), json!(ends)), (json!(app.light.id.get()), json!(null))]);
    let guests = app.get(&format!("{path}/guests"), &app.admin.token).await.json();
    assert_eq!(guests["data"][0]["expires_at"], json!(at(now + 2 * HOUR)));
    let soon = app.get(&format!("{path}/members?expiring_before={}", at(now + 90 * 60 * 1000)), &app.admin.token).await.json();
    assert_eq!(soon["data"].as_array().map(|d| d.iter().map(|m| m["id"].clone()).collect::<Vec<_>>()), Some(vec![json!(app.standard.id.get())]));
    let with_users = app.get(&format!("{path}?with=users"), &app.admin.token).await.json();
    assert_eq!(with_users["data"]["users"]["data"][1]["expires_at"], json!(ends));
    let before = app.get(&path, &app.admin.token).await.json()["data"].clone();
    assert_eq!((before["member_count"].clone(), before["guest_count"].clone()), (json!(3), json!(1)));

    // At the instant: gone from every answer, before any sweep.
    clock.advance(HOUR);
    let group = app.get(&path, &app.admin.token).await.json()["data"].clone();
    assert_eq!(group["members"], json!([app.admin.id.get(), app.light.id.get()]));
    assert_eq!((group["member_count"].clone(), group["guest_count"].clone()), (json!(2), json!(1)));
    let listed = app.get(&app.org_path("/groups"), &app.admin.token).await.json();
    assert_eq!(listed["data"][0]["member_count"], json!(2));
    assert_eq!(listed["data"][0]["members"], group["members"]);
    let page = app.get(&format!("{path}/members"), &app.admin.token).await.json();
    assert_eq!(page["data"].as_array().map(Vec::len), Some(2));
    let their_groups = app.get(&app.org_path(&format!("/users/{}?with=groups", app.standard.id)), &app.admin.token).await.json();
    assert_eq!(their_groups["data"]["groups"]["data"], json!([]));

    // The sweep makes the rows catch up and says so, as Roster itself, with the instant.
    clock.advance(2 * HOUR);
    assert_eq!(app.store.sweep_expired_memberships().await.expect("sweep"), 2);
    assert_eq!(app.store.sweep_expired_memberships().await.expect("sweep"), 0);
    let expired: Vec<Value> = events_of(&app, "group.members_changed").await.into_iter().filter(|e| e["data"]["object"]["reason"] == json!("expired")).collect();
    assert_eq!(expired.len(), 2, "{expired:?}");
    assert_eq!(expired[0]["actor"], json!({"type": "system"}));
    assert_eq!(expired[0]["data"]["object"]["expired_at"], json!(ends));
    assert_eq!(expired[0]["data"]["object"]["removed_member_ids"], json!([app.standard.id.get()]));
    assert_eq!((expired[0]["data"]["previous"]["member_count"].clone(), expired[0]["data"]["object"]["member_count"].clone()), (json!(3), json!(2)));
    assert_eq!(expired[1]["data"]["object"]["removed_guest_emails"], json!(["temp@x.test"]));
    let after = app.get(&path, &app.admin.token).await.json()["data"].clone();
    assert_eq!((after["members"].clone(), after["member_count"].clone(), after["guest_count"].clone(), after["guests"].clone()), (group["members"].clone(), json!(2), json!(0), json!([])));
}
}

roster_test! {
async fn expiries_are_validated_changed_and_kept_by_put() {
    let app = TestApp::new().await;
    let now = app.store.clock().now().millis();
    let created = app.create_group(json!({"name": "G", "description": "d", "members": [app.admin.id.get()]})).await;
    let path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    let members = format!("{path}/members");
    for (expires_at, message) in [
        (json!(at(now - 1000)), "The add.0.expires_at must be a time in the future."),
        (json!(at(now + 11 * 366 * DAY)), "The add.0.expires_at may be at most 10 years ahead."),
        (json!("tomorrow"), "The add.0.expires_at must be a UTC date-time like 2027-03-31T00:00:00.000Z."),
        (json!(5), "The add.0.expires_at must be a string or null."),
    ] {
        let refused = patch(&app, &members, json!({"add": [{"id": app.standard.id.get(), "expires_at": expires_at}]})).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
        assert_eq!(refused.json()["errors"], json!({"add.0": [message]}));
    }
    // Set, change, make permanent: a present member's expiry moves with what `add` says.
    let first = at(now + DAY);
    let second = at(now + 2 * DAY);
    patch(&app, &members, json!({"add": [{"id": app.standard.id.get(), "expires_at": first}]})).await;
    let expiry_of = |page: &Value, id: i64| page["data"].as_array().and_then(|d| d.iter().find(|m| m["id"] == json!(id))).map(|m| m["expires_at"].clone());
    let page = app.get(&members, &app.admin.token).await.json();
    assert_eq!(expiry_of(&page, app.standard.id.get()), Some(json!(first)));
    // A plain id changes nothing for someone present.
    let unchanged = patch(&app, &members, json!({"add": [app.standard.id.get()]})).await;
    assert_eq!(unchanged.header("etag"), Some("\"2\""));
    patch(&app, &members, json!({"add": [{"id": app.standard.id.get(), "expires_at": second}]})).await;
    let page = app.get(&members, &app.admin.token).await.json();
    assert_eq!(expiry_of(&page, app.standard.id.get()), Some(json!(second)));
    // PUT keeps the expiry of who stays; newcomers are permanent.
    let put = app.put(&path, &app.admin.token, &json!({"members": [app.standard.id.get(), app.light.id.get()]})).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let page = app.get(&members, &app.admin.token).await.json();
    assert_eq!(expiry_of(&page, app.standard.id.get()), Some(json!(second)));
    assert_eq!(expiry_of(&page, app.light.id.get()), Some(json!(null)));
    assert_eq!(expiry_of(&page, app.admin.id.get()), None);
    let permanent = patch(&app, &members, json!({"add": [{"id": app.standard.id.get(), "expires_at": null}]})).await;
    assert_eq!(permanent.status, StatusCode::OK, "{}", permanent.text);
    let page = app.get(&members, &app.admin.token).await.json();
    assert_eq!(expiry_of(&page, app.standard.id.get()), Some(json!(null)));
    for bad in ["soon", ""] {
        let bad_before = app.get(&format!("{members}?expiring_before={bad}"), &app.admin.token).await;
        assert_eq!(bad_before.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
    }
}
}

roster_test! {
async fn memberships_that_ended_while_the_server_was_down_are_swept_with_their_real_end() {
    let app = TestApp::new().await;
    let clock = app.store.clock().clone();
    let now = clock.now().millis();
    let created = app.create_group(json!({"name": "G", "description": "d"})).await;
    let path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    let (early, late) = (at(now + HOUR), at(now + 3 * HOUR));
    patch(&app, &format!("{path}/members"), json!({"add": [{"id": app.standard.id.get(), "expires_at": early}, {"id": app.light.id.get(), "expires_at": late}]})).await;
    // Nothing swept for a day, as if no server ran; the first sweep after ends both,
    // each at its own instant, in order.
    clock.advance(DAY);
    assert_eq!(app.store.sweep_expired_memberships().await.expect("sweep"), 2);
    let expired: Vec<Value> = events_of(&app, "group.members_changed").await.into_iter().filter(|e| e["data"]["object"]["reason"] == json!("expired")).collect();
    let ends: Vec<Value> = expired.iter().map(|e| e["data"]["object"]["expired_at"].clone()).collect();
    assert_eq!(ends, vec![json!(early), json!(late)]);
    let group = app.get(&path, &app.admin.token).await.json()["data"].clone();
    assert_eq!((group["members"].clone(), group["member_count"].clone()), (json!([]), json!(0)));
}
}

roster_test! {
async fn a_trashed_group_is_a_404_on_every_documented_route_but_the_trash_ones() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({"name": "Gone", "description": "d", "members": [app.admin.id.get()]})).await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(app.delete(&app.org_path(&format!("/groups/{id}")), &app.admin.token).await.status, StatusCode::NO_CONTENT);
    let document = app.get("/openapi.json", "").await.json();
    let mut walked = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        if !path.contains("{group}") {
            continue;
        }
        let concrete = path.replace("{org}", app.org.as_str()).replace("{group}", &id);
        for method in item.as_object().expect("item").keys() {
            let method: Method = method.to_uppercase().parse().expect("method");
            let body = matches!(method, Method::POST | Method::PUT | Method::PATCH).then_some("{}");
            let answer = match concrete.strip_suffix("/logo") {
                // An upload is read as multipart before anything else: send a real one.
                Some(group_path) if method == Method::POST => {
                    let png = crate::logos::image(2, 2, image::ImageFormat::Png);
                    crate::logos::upload_logo(&app, group_path, "logo.png", &png).await
                }
                _ => app.call(method.clone(), &concrete, &app.admin.token, body).await,
            };
            walked += 1;
            let expected = if path.ends_with("/restore") { StatusCode::OK } else { StatusCode::NOT_FOUND };
            assert_eq!(answer.status, expected, "{method} {path}: {}", answer.text);
            if path.ends_with("/restore") {
                // Back in the trash for the routes still to walk.
                assert_eq!(app.delete(&app.org_path(&format!("/groups/{id}")), &app.admin.token).await.status, StatusCode::NO_CONTENT);
            }
        }
    }
    // get, put, delete; restore; members get/patch; guests get/patch; logo post/delete.
    assert_eq!(walked, 10, "every route with a group in its path");
    // The trash routes still see it.
    let trashed = app.get(&app.org_path(&format!("/groups/{id}?trashed=with")), &app.admin.token).await;
    assert_eq!(trashed.status, StatusCode::OK, "{}", trashed.text);
}
}
