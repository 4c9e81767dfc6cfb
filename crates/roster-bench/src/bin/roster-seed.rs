//! Seeds a benchmark database through Roster's own storage layer, and prints what the
//! scenarios need as one JSON object.
//!
//! Usage: roster-seed DATABASE_URL GROUPS BIG_GROUP_MEMBERS [TENANTS GROUPS_PER_TENANT]
//! (`sqlite://PATH` or `postgres://…`, as `roster --database` takes). With TENANTS, that
//! many more organizations of GROUPS_PER_TENANT groups each, for the mixed scenarios.

use std::sync::Arc;

use anyhow::Context;
use roster_core::groups::{MAX_PATCH_IDS, parse_create, parse_member_patch};
use roster_core::model::NewUser;
use roster_core::token::TokenSecret;
use roster_core::{Email, Role, Store};
use roster_postgres::{PgStore, PoolOptions};
use roster_sqlite::SqliteStore;
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().context("DATABASE_URL")?;
    let groups: usize = args.next().context("GROUPS")?.parse()?;
    let big: usize = args.next().context("BIG_GROUP_MEMBERS")?.parse()?;
    let tenants: usize = args.next().map_or(Ok(0), |n| n.parse())?;
    let per_tenant: usize = args.next().map_or(Ok(0), |n| n.parse())?;
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(seed(
        &url,
        groups,
        big,
        (tenants, per_tenant),
    ))
}

async fn seed(
    url: &str,
    groups: usize,
    big: usize,
    (tenants, per_tenant): (usize, usize),
) -> anyhow::Result<()> {
    let mut sqlite = None;
    let store: Arc<dyn Store> = if let Some(path) = url.strip_prefix("sqlite://") {
        let store = Arc::new(SqliteStore::open(std::path::Path::new(path))?);
        // Seeding is not a user's write: skip the per-commit fsync, then restore it.
        store.set_bulk_load(true)?;
        sqlite = Some(Arc::clone(&store));
        store
    } else {
        Arc::new(PgStore::connect(url, &PoolOptions::default()).await?)
    };
    // The many-groups org and the huge-group org are apart, so that listing scenarios
    // measure 100,000 ordinary groups, not one 100,000-member group on their first page.
    let org = store.create_org("Bench").await?.id;
    let big_org = store.create_org("Big group").await?.id;
    let user = |n: usize, role| NewUser {
        // Valid by construction.
        email: Email::from_stored(format!("user{n}@bench.test")),
        first_name: "Bench".into(),
        last_name: format!("User{n}"),
        role,
    };
    let admin = store.add_member(&org, &user(0, Role::Admin)).await?.user.id;
    store.add_member(&big_org, &user(0, Role::Admin)).await?;
    let mut ids = vec![admin];
    for n in 1..12 {
        ids.push(store.add_member(&big_org, &user(n, Role::Light)).await?.user.id);
        store.add_member(&org, &user(n, Role::Light)).await?;
    }
    // The rest of the huge group's people, eight writers at a time.
    let mut writers = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let (store, big_org) = (Arc::clone(&store), big_org.clone());
        writers.spawn(async move {
            let mut made = Vec::new();
            for n in (12 + worker..big).step_by(8) {
                made.push((n, store.add_member(&big_org, &user(n, Role::Light)).await?.user.id));
            }
            anyhow::Ok(made)
        });
    }
    let mut rest = Vec::new();
    while let Some(done) = writers.join_next().await {
        rest.extend(done??);
    }
    rest.sort_by_key(|(n, _)| *n);
    ids.extend(rest.into_iter().map(|(_, id)| id));
    // Sixteen more organizations with the same admin, for writes spread over orgs.
    let mut spread = Vec::new();
    for n in 0..16 {
        let other = store.create_org(&format!("Spread {n}")).await?.id;
        store.add_member(&other, &user(0, Role::Admin)).await?;
        spread.push(other.as_str().to_owned());
    }
    let secret = TokenSecret::generate()?;
    store.create_token(&org, admin, &secret.hash(), None).await?;
    let ten: Vec<i64> = ids.iter().take(10).map(|id| id.get()).collect();
    let small = store
        .create_group(&org, &parse_create(&json!({"name": "Small", "description": "ten members", "members": ten, "guests": ["a@bench.test", "b@bench.test"]})).map_err(|e| anyhow::anyhow!("{e:?}"))?, None)
        .await?
        .group
        .id;
    // The same ten, three of whose memberships end in a year: what a read of a group
    // with expiring memberships costs beside one without.
    let expiring = store
        .create_group(&org, &parse_create(&json!({"name": "Expiring", "description": "ten members, three ending", "members": ten, "guests": ["a@bench.test", "b@bench.test"]})).map_err(|e| anyhow::anyhow!("{e:?}"))?, None)
        .await?
        .group
        .id;
    let year_ahead = store.clock().now().plus_days(365).to_rfc3339_millis();
    let ending: Vec<serde_json::Value> =
        ids[1..4].iter().map(|id| json!({"id": id.get(), "expires_at": year_ahead})).collect();
    let patch = parse_member_patch(&json!({ "add": ending }), store.clock().now())
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    store.patch_group_members(&org, &expiring, &patch, None).await?;
    let huge = store
        .create_group(
            &big_org,
            &parse_create(&json!({"name": "Huge", "description": "everyone"}))
                .map_err(|e| anyhow::anyhow!("{e:?}"))?,
            None,
        )
        .await?
        .group
        .id;
    // A request carries at most 1,000 ids, so the huge group fills the way a client
    // would fill it: PATCH after PATCH.
    for chunk in ids[..big.min(ids.len())].chunks(MAX_PATCH_IDS) {
        let add: Vec<i64> = chunk.iter().map(|id| id.get()).collect();
        let patch = parse_member_patch(&json!({ "add": add }), store.clock().now())
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        store.patch_group_members(&big_org, &huge, &patch, None).await?;
    }
    // 1% of the groups mention "needle", for the search scenario. Eight writers at a
    // time, as a busy server would see them (and PostgreSQL round trips overlap).
    let mut writers = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let store = Arc::clone(&store);
        let org = org.clone();
        writers.spawn(async move {
            let mut made = Vec::new();
            for n in (worker..groups.saturating_sub(3)).step_by(8) {
                let marker = if n % 100 == 0 { "needle" } else { "hay" };
                let body = json!({"name": format!("Group {n:06} {marker}"), "description": format!("bench group {n}")});
                let write = parse_create(&body).map_err(|e| anyhow::anyhow!("{e:?}"))?;
                let id = store.create_group(&org, &write, None).await?.group.id;
                if made.len() < 125 {
                    made.push(id.as_str().to_owned());
                }
            }
            anyhow::Ok(made)
        });
    }
    // Up to 1,000 of the groups, for reads of random groups.
    let mut read_groups = Vec::new();
    while let Some(done) = writers.join_next().await {
        read_groups.extend(done??);
    }
    // Organizations of their own for the mixed scenarios: an admin with a token, a member
    // to move in and out of groups, and `per_tenant` groups each.
    let mut writers = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let store = Arc::clone(&store);
        writers.spawn(async move {
            let mut made = Vec::new();
            for t in (worker..tenants).step_by(8) {
                let tenant = store.create_org(&format!("Tenant {t}")).await?.id;
                let admin = store.add_member(&tenant, &user(0, Role::Admin)).await?.user.id;
                let member = store.add_member(&tenant, &user(1, Role::Light)).await?.user.id;
                let secret = TokenSecret::generate()?;
                store.create_token(&tenant, admin, &secret.hash(), None).await?;
                let mut ids = Vec::with_capacity(per_tenant);
                for n in 0..per_tenant {
                    let body = json!({"name": format!("Tenant group {n}"), "description": "d", "members": [admin.get()]});
                    let write = parse_create(&body).map_err(|e| anyhow::anyhow!("{e:?}"))?;
                    ids.push(store.create_group(&tenant, &write, None).await?.group.id.as_str().to_owned());
                }
                made.push((t, json!({"org": tenant.as_str(), "token": secret.expose(), "member": member.get(), "groups": ids})));
            }
            anyhow::Ok(made)
        });
    }
    let mut tenant_list = Vec::new();
    while let Some(done) = writers.join_next().await {
        tenant_list.extend(done??);
    }
    tenant_list.sort_by_key(|(t, _)| *t);
    let tenant_list: Vec<serde_json::Value> = tenant_list.into_iter().map(|(_, t)| t).collect();
    if let Some(store) = sqlite {
        store.set_bulk_load(false)?;
    }
    let outsider = ids.last().map(|id| id.get()).unwrap_or_default();
    // A members page's cursor is the last id it showed: this one opens the last 100.
    let mut members: Vec<i64> = ids[..big.min(ids.len())].iter().map(|id| id.get()).collect();
    members.sort_unstable();
    let tail_cursor = members.len().checked_sub(101).map_or(0, |at| members[at]);
    println!(
        "{}",
        json!({"org": org.as_str(), "big_org": big_org.as_str(), "token": secret.expose(), "small_group": small.as_str(), "expiring_group": expiring.as_str(),
               "huge_group": huge.as_str(), "member": outsider, "small_member": ids[11].get(), "groups": groups, "huge_members": big, "huge_tail_cursor": tail_cursor,
               "spread_orgs": spread, "read_groups": read_groups, "tenants": tenant_list})
    );
    Ok(())
}
