//! Measures the sweep of memberships that end at the same instant: how long it takes
//! and the longest a concurrent write waits meanwhile. Runs on Roster's storage layer
//! with a clock it moves itself, so nothing sleeps until the instant.
//!
//! Usage: roster-sweep DATABASE_URL MEMBERSHIPS
//! Prints `{"ended", "sweep_seconds", "writes", "max_write_ms", "p99_write_ms"}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context;
use roster_core::groups::{MAX_PATCH_IDS, parse_create, parse_member_patch};
use roster_core::model::NewUser;
use roster_core::{Clock, Email, Role, Store};
use roster_postgres::{PgStore, PoolOptions};
use roster_sqlite::SqliteStore;
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().context("DATABASE_URL")?;
    let count: usize = args.next().context("MEMBERSHIPS")?.parse()?;
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run(&url, count))
}

fn invalid(e: roster_core::ValidationErrors) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

async fn run(url: &str, count: usize) -> anyhow::Result<()> {
    let clock = Clock::system();
    let mut sqlite = None;
    let store: Arc<dyn Store> = if let Some(path) = url.strip_prefix("sqlite://") {
        let store =
            Arc::new(SqliteStore::open_with_clock(std::path::Path::new(path), clock.clone())?);
        store.set_bulk_load(true)?;
        sqlite = Some(Arc::clone(&store));
        store
    } else {
        Arc::new(PgStore::connect_with_clock(url, &PoolOptions::default(), clock.clone()).await?)
    };
    let org = store.create_org("Sweep").await?.id;
    let user = |n: usize| NewUser {
        email: Email::from_stored(format!("sweep{n}@bench.test")),
        first_name: "Sweep".into(),
        last_name: format!("User{n}"),
        role: Role::Light,
    };
    let mut writers = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let (store, org) = (Arc::clone(&store), org.clone());
        writers.spawn(async move {
            let mut made = Vec::new();
            for n in (worker..count + 2).step_by(8) {
                made.push(store.add_member(&org, &user(n)).await?.user.id.get());
            }
            anyhow::Ok(made)
        });
    }
    let mut ids = Vec::new();
    while let Some(done) = writers.join_next().await {
        ids.extend(done??);
    }
    ids.sort_unstable();
    let (others, ending) = ids.split_at(2);
    let group = |name: &str| parse_create(&json!({"name": name, "description": "d"}));
    let expiring =
        store.create_group(&org, &group("Ending").map_err(invalid)?, None).await?.group.id;
    let other = store.create_group(&org, &group("Other").map_err(invalid)?, None).await?.group.id;
    let ends = clock.now().plus_days(1).to_rfc3339_millis();
    for chunk in ending.chunks(MAX_PATCH_IDS) {
        let add: Vec<_> = chunk.iter().map(|id| json!({"id": id, "expires_at": ends})).collect();
        let patch = parse_member_patch(&json!({ "add": add }), clock.now()).map_err(invalid)?;
        store.patch_group_members(&org, &expiring, &patch, None).await?;
    }
    if let Some(store) = sqlite {
        store.set_bulk_load(false)?;
    }
    clock.advance(2 * 24 * 60 * 60 * 1000);

    // One writer edits another group of the same org, one write after another, for as
    // long as the sweep runs: each wait is what a user's write would see.
    let sweeping = Arc::new(AtomicBool::new(true));
    let writer = {
        let (store, org, other, sweeping) =
            (Arc::clone(&store), org.clone(), other.clone(), Arc::clone(&sweeping));
        let (a, b) = (others[0], others[1]);
        tokio::spawn(async move {
            let mut waits = Vec::new();
            let mut n = 0u64;
            while sweeping.load(Ordering::Relaxed) {
                let (add, remove) = if n.is_multiple_of(2) { (a, b) } else { (b, a) };
                let patch =
                    parse_member_patch(&json!({"add": [add], "remove": [remove]}), clock.now())
                        .map_err(invalid)?;
                let started = Instant::now();
                store.patch_group_members(&org, &other, &patch, None).await?;
                waits.push(started.elapsed().as_secs_f64() * 1000.0);
                n += 1;
            }
            anyhow::Ok(waits)
        })
    };
    let started = Instant::now();
    let ended = store.sweep_expired_memberships().await?;
    let sweep_seconds = started.elapsed().as_secs_f64();
    sweeping.store(false, Ordering::Relaxed);
    let mut waits = writer.await??;
    waits.sort_by(f64::total_cmp);
    let max = waits.last().copied().unwrap_or_default();
    let p99 = waits.get(waits.len().saturating_sub(1) * 99 / 100).copied().unwrap_or_default();
    println!(
        "{}",
        json!({"ended": ended, "sweep_seconds": sweep_seconds, "writes": waits.len(), "max_write_ms": max, "p99_write_ms": p99})
    );
    Ok(())
}
