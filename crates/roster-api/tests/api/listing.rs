//! Listing: pagination meta and links, sorting, search, and query-string decoding.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::harness::TestApp;

async fn names(app: &TestApp, query: &str) -> Vec<String> {
    let response = app.get(&app.org_path(&format!("/groups?{query}")), &app.admin.token).await;
    assert_eq!(response.status, StatusCode::OK, "{query}: {}", response.text);
    response.json()["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|g| g["name"].as_str().expect("name").to_owned())
        .collect()
}

async fn seed_numbered(app: &TestApp, count: usize) {
    for i in 1..=count {
        app.create_group(
            json!({"name": format!("Group {i:02}"), "description": format!("number {i}")}),
        )
        .await;
    }
}

roster_test! {
async fn pagination_meta_and_absolute_links_keep_other_parameters() {
    let app = TestApp::new().await;
    seed_numbered(&app, 15).await;
    let base = format!("http://roster.test/organizations/{}/groups", app.org);

    let first = app.get(&app.org_path("/groups?q=group&with=users"), &app.admin.token).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(
        first.json()["meta"],
        json!({"pagination": {
            "total": 15, "count": 10, "per_page": 10, "current_page": 1, "total_pages": 2,
            "links": {"next": format!("{base}?q=group&with=users&page=2")}
        }})
    );

    let second = app.get(&app.org_path("/groups?page=2&q=group"), &app.admin.token).await;
    assert_eq!(
        second.json()["meta"],
        json!({"pagination": {
            "total": 15, "count": 5, "per_page": 10, "current_page": 2, "total_pages": 2,
            "links": {"previous": format!("{base}?page=1&q=group")}
        }})
    );

    let api = app
        .get(&format!("/api{}", app.org_path("/groups?per_page=5&page=2")), &app.admin.token)
        .await;
    assert_eq!(
        api.json()["meta"]["pagination"]["links"],
        json!({
            "previous": format!("http://roster.test/api/organizations/{}/groups?per_page=5&page=1", app.org),
            "next": format!("http://roster.test/api/organizations/{}/groups?per_page=5&page=3", app.org),
        })
    );
}
}

roster_test! {
async fn an_empty_org_has_one_page_and_a_page_past_the_end_is_empty() {
    let app = TestApp::new().await;
    let empty = app.get(&app.org_path("/groups"), &app.admin.token).await;
    assert_eq!(
        empty.json(),
        json!({"data": [], "meta": {"pagination": {
            "total": 0, "count": 0, "per_page": 10, "current_page": 1, "total_pages": 1, "links": {}
        }}})
    );
    seed_numbered(&app, 3).await;
    let past = app.get(&app.org_path("/groups?page=9"), &app.admin.token).await;
    assert_eq!(past.status, StatusCode::OK);
    assert_eq!(
        past.json(),
        json!({"data": [], "meta": {"pagination": {
            "total": 3, "count": 0, "per_page": 10, "current_page": 9, "total_pages": 1, "links": {}
        }}})
    );
}
}

roster_test! {
async fn per_page_is_clamped_and_defaulted() {
    let app = TestApp::new().await;
    seed_numbered(&app, 12).await;
    for (query, per_page, count) in [
        ("per_page=500", 100, 12),
        ("per_page=0", 10, 10),
        ("per_page=-4", 10, 10),
        ("per_page=5", 5, 5),
        ("per_page=9223372036854775808", 100, 12),
        ("page=-99999999999999999999999", 10, 10),
    ] {
        let response = app.get(&app.org_path(&format!("/groups?{query}")), &app.admin.token).await;
        let pagination = &response.json()["meta"]["pagination"];
        assert_eq!(pagination["per_page"], json!(per_page), "{query}");
        assert_eq!(pagination["count"], json!(count), "{query}");
        assert_eq!(pagination["current_page"], json!(1), "{query}");
    }
    // Integers of any size are clamped; anything else is a 422 naming the parameter.
    for (query, field) in [("per_page=abc", "per_page"), ("page=1.5", "page"), ("per_page=", "per_page")] {
        let response = app.get(&app.org_path(&format!("/groups?{query}")), &app.admin.token).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        let message = format!("The {} must be an integer.", field.replace('_', " "));
        assert_eq!(response.json()["errors"], json!({field: [message]}), "{query}");
    }
}
}

roster_test! {
async fn walking_pages_visits_every_group_once_in_each_order() {
    let app = TestApp::new().await;
    seed_numbered(&app, 10).await;
    for sort in ["created_at", "-created_at", "name", "-name", "updated_at", "-updated_at"] {
        let mut seen = Vec::new();
        for page in 1..=4 {
            seen.extend(names(&app, &format!("sort_by={sort}&per_page=3&page={page}")).await);
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((seen.len(), unique.len()), (10, 10), "{sort}: {seen:?}");
    }
}
}

roster_test! {
async fn pages_read_from_either_end_add_up_to_the_whole_listing() {
    // Past the middle, a page is read backwards from the end of the order (no long
    // OFFSET walk); every page must still hold exactly the rows a forward walk would.
    let app = TestApp::new().await;
    let (admin, standard) = (app.admin.id.get(), app.standard.id.get());
    for i in 1..=11 {
        // People in some groups; created in quick succession, so instants tie too.
        let members = if i % 3 == 0 { json!([admin, standard]) } else { json!([]) };
        let guests = if i % 4 == 0 { json!([format!("g{i}@example.com")]) } else { json!([]) };
        app.create_group(json!({"name": format!("Team {}-{i:02}", i % 6), "description": format!("n{i}"),
                                "members": members, "guests": guests}))
            .await;
    }
    for sort in ["created_at", "-created_at", "name", "-name", "updated_at", "-updated_at"] {
        for filter in ["", "&q=team%201"] {
            let whole = app.get(&app.org_path(&format!("/groups?sort_by={sort}&per_page=100{filter}")), &app.admin.token).await;
            let whole = whole.json();
            let total = whole["meta"]["pagination"]["total"].as_u64().expect("total");
            let mut walked = Vec::new();
            for page in 1..=total.div_ceil(3) {
                let path = app.org_path(&format!("/groups?sort_by={sort}&per_page=3&page={page}{filter}"));
                let response = app.get(&path, &app.admin.token).await;
                assert_eq!(response.status, StatusCode::OK);
                let body = response.json();
                assert_eq!(body["meta"]["pagination"]["total"], json!(total));
                walked.extend(body["data"].as_array().expect("data").iter().cloned());
            }
            assert_eq!(Value::Array(walked), whole["data"], "sort_by={sort}{filter}");
        }
    }
    // Each group of a page carries its own people, as its GET does.
    let page = app.get(&app.org_path("/groups?per_page=100"), &app.admin.token).await.json();
    for group in page["data"].as_array().expect("data") {
        let one = app.get(&app.org_path(&format!("/groups/{}", group["id"].as_str().expect("id"))), &app.admin.token).await;
        assert_eq!(&one.json()["data"], group);
    }
}
}

roster_test! {
async fn deep_pages_agree_with_the_reverse_order() {
    // Pages that start past the first 1,000 rows are counted first and read from the
    // nearer end; they must hold what the opposite order's first page holds, reversed.
    let app = TestApp::new().await;
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..1012 {
        let (store, org) = (app.store.clone(), app.org.clone());
        creates.spawn(async move {
            let body = json!({"name": format!("Deep {i:04}"), "description": "d"});
            let write = roster_core::groups::parse_create(&body).expect("valid");
            store.create_group(&org, &write, None).await.expect("created");
        });
    }
    while let Some(done) = creates.join_next().await {
        done.expect("task");
    }
    for sort in ["name", "created_at"] {
        let reversed = names(&app, &format!("sort_by=-{sort}&per_page=12")).await;
        let mut last = names(&app, &format!("sort_by={sort}&per_page=10&page=102")).await;
        let mut before_last = names(&app, &format!("sort_by={sort}&per_page=10&page=101")).await;
        last.reverse();
        before_last.reverse();
        assert_eq!(last, reversed[..2], "{sort}");
        assert_eq!(before_last, reversed[2..], "{sort}");
    }
    let response = app.get(&app.org_path("/groups?per_page=10&page=102"), &app.admin.token).await;
    assert_eq!(response.json()["meta"]["pagination"]["total"], json!(1012));
}
}

roster_test! {
async fn sorting_by_name_compares_lowercased_code_points() {
    let app = TestApp::new().await;
    for name in ["beta", "Alpha", "Émile", "zeta", "Zulu", "éclair"] {
        app.create_group(json!({"name": name, "description": "d"})).await;
        // Distinct creation instants, so the default order is fully determined.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let ascending = vec!["Alpha", "beta", "zeta", "Zulu", "éclair", "Émile"];
    assert_eq!(names(&app, "sort_by=name").await, ascending);
    let descending: Vec<&str> = ascending.iter().rev().copied().collect();
    assert_eq!(names(&app, "sort_by=-name").await, descending);
    assert_eq!(names(&app, "sort_by=name&sort=desc").await, descending);
    assert_eq!(names(&app, "sort=-name").await, descending);
    // Beside a sort_by, an order in sort gives way to it; a misspelt one is still refused.
    assert_eq!(names(&app, "sort_by=name&sort=-created_at").await, ascending);
    let misspelt = app.get(&app.org_path("/groups?sort_by=name&sort=nmae"), &app.admin.token).await;
    assert_eq!(misspelt.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(misspelt.json()["errors"], json!({"sort": ["The selected sort is invalid."]}));
    // Default: creation order.
    assert_eq!(names(&app, "").await, vec!["beta", "Alpha", "Émile", "zeta", "Zulu", "éclair"]);
    assert_eq!(
        names(&app, "sort=desc").await,
        vec!["éclair", "Zulu", "zeta", "Émile", "Alpha", "beta"]
    );
}
}

roster_test! {
async fn updated_at_order_follows_the_latest_change() {
    let app = TestApp::new().await;
    let first = app.create_group(json!({"name": "First", "description": "d"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    app.create_group(json!({"name": "Second", "description": "d"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let path = app.org_path(&format!("/groups/{}", first["id"].as_str().expect("id")));
    app.put(&path, &app.admin.token, &json!({"description": "changed"})).await;
    assert_eq!(names(&app, "sort_by=updated_at").await, vec!["Second", "First"]);
    assert_eq!(names(&app, "sort_by=last_updated&sort=desc").await, vec!["First", "Second"]);
}
}

roster_test! {
async fn unknown_sort_is_a_422() {
    let app = TestApp::new().await;
    let response = app.get(&app.org_path("/groups?sort_by=email"), &app.admin.token).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response.json(),
        json!({
            "error": true, "message": "The given data was invalid.", "code": "VALIDATION_FAILED",
            "errors": {"sort_by": ["The selected sort by is invalid."]}
        })
    );
}
}

roster_test! {
async fn q_matches_name_or_description_ignoring_case_with_form_decoding() {
    let app = TestApp::new().await;
    app.create_group(json!({"name": "Sales Team", "description": "Handles deals"})).await;
    app.create_group(json!({"name": "Support", "description": "Answers SALES questions"})).await;
    app.create_group(json!({"name": "Ünïcode Crew", "description": "d"})).await;
    app.create_group(json!({"name": "100% done_", "description": "d"})).await;
    // Groups made in the same millisecond tie on created_at (then id); order by name.
    assert_eq!(names(&app, "q=sales&sort_by=name").await, vec!["Sales Team", "Support"]);
    assert_eq!(names(&app, "q=sales+team").await, vec!["Sales Team"]);
    assert_eq!(names(&app, "q=SALES%20TEAM").await, vec!["Sales Team"]);
    assert_eq!(names(&app, "q=ÜNÏ").await, vec!["Ünïcode Crew"]);
    // LIKE wildcards mean nothing special.
    assert_eq!(names(&app, "q=%25").await, vec!["100% done_"]);
    assert_eq!(names(&app, "q=_").await, vec!["100% done_"]);
    assert_eq!(names(&app, "q=nothing").await, Vec::<String>::new());
    let response = app.get(&app.org_path("/groups?q=sales"), &app.admin.token).await;
    assert_eq!(response.json()["meta"]["pagination"]["total"], Value::from(2));
}
}

roster_test! {
async fn q_finds_exact_substrings_through_renames_deletes_and_query_syntax() {
    // Three characters or more go through the trigram index; its query language must
    // mean nothing here, and renames and deletes must show at once.
    let app = TestApp::new().await;
    let quoted = app.create_group(json!({"name": "Say \"hi\" AND bye*", "description": "d"})).await;
    app.create_group(json!({"name": "Ops", "description": "NEAR(a b) col:umn -x ^y"})).await;
    let renamed = app.create_group(json!({"name": "Alpha squad", "description": "d"})).await;
    app.create_group(json!({"name": "Beta squad", "description": "d"})).await;
    assert_eq!(names(&app, "q=%22hi%22%20and").await, vec!["Say \"hi\" AND bye*"]);
    assert_eq!(names(&app, "q=bye*").await, vec!["Say \"hi\" AND bye*"]);
    assert_eq!(names(&app, "q=near(a").await, vec!["Ops"]);
    assert_eq!(names(&app, "q=col:umn%20-x%20%5Ey").await, vec!["Ops"]);
    assert_eq!(names(&app, "q=%22%22%22").await, Vec::<String>::new());
    assert_eq!(names(&app, "q=squad&sort_by=name").await, vec!["Alpha squad", "Beta squad"]);
    // Trigrams in a row that are not one substring do not match.
    assert_eq!(names(&app, "q=squadbeta").await, Vec::<String>::new());
    let path = app.org_path(&format!("/groups/{}", renamed["id"].as_str().expect("id")));
    app.put(&path, &app.admin.token, &json!({"name": "Gamma team"})).await;
    assert_eq!(names(&app, "q=squad").await, vec!["Beta squad"]);
    assert_eq!(names(&app, "q=gamma").await, vec!["Gamma team"]);
    let path = app.org_path(&format!("/groups/{}", quoted["id"].as_str().expect("id")));
    assert_eq!(app.delete(&path, &app.admin.token).await.status, StatusCode::NO_CONTENT);
    assert_eq!(names(&app, "q=bye").await, Vec::<String>::new());
    // Another org's groups never match.
    let other = app
        .get(&format!("/organizations/{}/groups?q=squad", app.other_org.as_str()), &app.other_admin.token)
        .await;
    assert_eq!(other.json()["data"], json!([]));
}
}

roster_test! {
async fn listing_with_users_nests_each_groups_members() {
    let app = TestApp::new().await;
    app.create_group(json!({"name": "A", "description": "d", "members": [app.admin.id.get()]}))
        .await;
    app.create_group(json!({"name": "B", "description": "d"})).await;
    let response =
        app.get(&app.org_path("/groups?with=users,assets&sort_by=name"), &app.admin.token).await;
    let data = response.json()["data"].clone();
    let ids = |group: &Value| -> Vec<Value> {
        group["users"]["data"].as_array().expect("users").iter().map(|u| u["id"].clone()).collect()
    };
    assert_eq!(ids(&data[0]), vec![json!(app.admin.id.get())]);
    assert_eq!(ids(&data[1]), Vec::<Value>::new());
    assert_eq!(data[1]["assets"], json!({"data": []}));
}
}
