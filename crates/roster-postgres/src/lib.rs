//! Roster's PostgreSQL backend: many stateless `roster serve` instances on one database.
//!
//! Every instance keeps a bounded pool (a request that cannot get a connection in time
//! is refused as busy rather than queued without bound). Writes run in transactions that
//! lock the rows they change (`SELECT ... FOR UPDATE`), and a transaction that loses a
//! race (unique violation, serialization failure, deadlock) is retried from the start, so
//! that the loser sees the winner's commit and answers as the rules say (422, 412, or the
//! idempotent replay) instead of failing.

mod announce;
mod events;
mod groups;
mod guests;
mod heads;
mod people;
mod scope;
mod sql;
mod webhooks;

use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use roster_core::events::{AuditQuery, StoredEvent, StreamBounds, StreamPage};
use roster_core::groups::{GroupName, GroupWrite, GuestRef, IfMatch, MemberRef, MembershipPatch};
use roster_core::listing::{ListParams, Trashed};
use roster_core::model::{Guest, NewLogo, NewUser, Page, StoredLogo, TokenRecord};
use roster_core::people::{GuestAction, Invite, MemberAction, MemberChanges, NewGuest};
use roster_core::store::{
    Bootstrap, ChangeEpoch, Created, GuestOutcome, IdempotencyKey, MemberOutcome, OrgHead,
    PeoplePageOptions, Principal, Restored,
};
use roster_core::token::TokenHash;
use roster_core::webhooks::{
    AttemptRecord, AttemptResult, Claim, Delivery, DeliveryQuery, DeliveryWork, NewWebhook,
    Webhook, WebhookId, WebhookPatch, WebhookSecret, WebhookStore,
};
use roster_core::{
    AssetId, Email, Group, GroupId, OrgId, OrgMember, Organization, Store, StoreError, Timestamp,
    UserId, WriteError,
};
use tokio_postgres::NoTls;

use sql::{TxError, storage_only};

/// Migrations in order; `roster_migrations` records which have run.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_group_logos.sql"),
    include_str!("../migrations/0003_group_counts.sql"),
    include_str!("../migrations/0004_events.sql"),
    include_str!("../migrations/0005_trash_and_expiry.sql"),
    include_str!("../migrations/0006_member_lookups.sql"),
    include_str!("../migrations/0007_webhooks.sql"),
    include_str!("../migrations/0008_callers_seq.sql"),
];

/// Attempts at a write transaction that keeps losing races before giving up.
const WRITE_ATTEMPTS: usize = 4;

#[derive(Clone, Debug)]
pub struct PoolOptions {
    /// Connections per instance.
    pub size: usize,
    /// How long a request waits for a free connection before it is refused as busy.
    pub wait: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self { size: 16, wait: Duration::from_secs(5) }
    }
}

pub struct PgStore {
    pool: Pool,
    /// Raised after this instance's commits and whenever another instance's are heard
    /// of (LISTEN), for long-polls of the stream.
    committed: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
    clock: roster_core::Clock,
    heads: std::sync::Arc<heads::HeadReads>,
    /// Tells other instances of this one's commits that recorded events.
    announcer: announce::Announcer,
    /// Orgs' turns at their event counters among this instance's writers.
    turns: std::sync::Arc<scope::Turns>,
}

/// A pooled connection, or the error that says why none came in time.
async fn checkout(
    pool: &Pool,
    context: &'static str,
) -> Result<deadpool_postgres::Object, StoreError> {
    use deadpool_postgres::{PoolError, TimeoutType};
    pool.get().await.map_err(|e| match e {
        PoolError::Timeout(TimeoutType::Wait) => {
            StoreError::busy(context, "no database connection free in time")
        }
        PoolError::Timeout(_) => {
            StoreError::unreachable(context, "no new database connection in time")
        }
        PoolError::Backend(e) => sql::store_error(context, &e),
        other => StoreError::new(context, other),
    })
}

impl PgStore {
    /// Connects to a `postgres://` URL and brings the schema up to date. Several instances
    /// may start at once: migrations run under an advisory lock.
    pub async fn connect(url: &str, options: &PoolOptions) -> Result<Self, StoreError> {
        Self::connect_with_clock(url, options, roster_core::Clock::system()).await
    }

    /// Connects with `clock` as the store's time (see `Store::clock`).
    pub async fn connect_with_clock(
        url: &str,
        options: &PoolOptions,
        clock: roster_core::Clock,
    ) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::new("database url", e))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(options.size.max(1))
            .wait_timeout(Some(options.wait))
            .create_timeout(Some(options.wait))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::new("connection pool", e))?;
        let (committed, _) = tokio::sync::watch::channel(0);
        let committed = std::sync::Arc::new(committed);
        let heads = heads::HeadReads::new(pool.clone());
        let announcer = announce::Announcer::spawn(pool.clone());
        let turns = std::sync::Arc::default();
        let store = Self { pool, committed, clock, heads, announcer, turns };
        store.migrate().await?;
        listen_for_commits(config, std::sync::Arc::downgrade(&store.committed));
        Ok(store)
    }

    async fn client(&self, context: &'static str) -> Result<deadpool_postgres::Object, StoreError> {
        checkout(&self.pool, context).await
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let err = |e| StoreError::new("migrate", e);
        let mut client = self.client("migrate").await?;
        let tx = client.transaction().await.map_err(err)?;
        // One migrator at a time across every instance starting now.
        tx.execute("SELECT pg_advisory_xact_lock(7353520661)", &[]).await.map_err(err)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS roster_migrations (version INTEGER PRIMARY KEY)",
        )
        .await
        .map_err(err)?;
        let applied: i64 =
            tx.query_one("SELECT count(*) FROM roster_migrations", &[]).await.map_err(err)?.get(0);
        let applied = usize::try_from(applied).unwrap_or(usize::MAX);
        if applied > MIGRATIONS.len() {
            return Err(StoreError::new(
                "migrate",
                format!(
                    "the database has {applied} migrations, more than this binary's {}",
                    MIGRATIONS.len()
                ),
            ));
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
            tx.batch_execute(migration)
                .await
                .map_err(|e| StoreError::new("migrate", format!("migration {}: {e}", index + 1)))?;
            let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
            tx.execute("INSERT INTO roster_migrations (version) VALUES ($1)", &[&version])
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }
}

/// Listens, on a connection of its own, for other instances' commits (their NOTIFYs) and
/// raises `committed` for each; reconnects after a second when the connection is lost.
/// Ends when the store is dropped. A lost notification only delays a long-poll until
/// its periodic re-read.
fn listen_for_commits(
    config: tokio_postgres::Config,
    committed: std::sync::Weak<tokio::sync::watch::Sender<u64>>,
) {
    tokio::spawn(async move {
        loop {
            if let Ok((client, mut connection)) = config.connect(NoTls).await {
                let (heard, mut hearing) = tokio::sync::mpsc::unbounded_channel::<()>();
                let driver = tokio::spawn(async move {
                    while let Some(message) =
                        std::future::poll_fn(|cx| connection.poll_message(cx)).await
                    {
                        match message {
                            Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                                let _ = heard.send(());
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                });
                let listen = format!("LISTEN {}", announce::CHANNEL);
                if client.batch_execute(&listen).await.is_ok() {
                    while hearing.recv().await.is_some() {
                        let Some(committed) = committed.upgrade() else { return };
                        committed.send_modify(|n| *n += 1);
                    }
                }
                driver.abort();
            }
            if committed.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// Runs `$body` (a future using the transaction `$tx`) and commits when it succeeds; a
/// transaction that lost a race to a concurrent one starts over (see the module docs).
/// A macro rather than a function taking a closure: a closure over a borrowed
/// transaction cannot yet promise the `Send` future `async_trait` needs.
macro_rules! in_transaction {
    ($store:expr, $context:expr, |$tx:ident, $now:ident| $body:expr) => {{
        let mut attempt = 0;
        loop {
            attempt += 1;
            // The store clock's time as this attempt begins: all the write records.
            #[allow(unused_variables)]
            let $now = $store.clock.now();
            let mut client = $store.client($context).await?;
            let $tx = client.transaction().await.map_err(|e| sql::store_error($context, &e))?;
            let (outcome, recorded) = scope::tracking(&$store.turns, async {
                match $body.await {
                    Ok(value) => $tx.commit().await.map(|()| value).map_err(TxError::Sql),
                    Err(e) => Err(e),
                }
            })
            .await;
            match outcome {
                Ok(value) => {
                    $store.committed.send_modify(|n| *n += 1);
                    if recorded {
                        $store.announcer.announce();
                    }
                    break Ok(value);
                }
                Err(TxError::Sql(e)) if attempt < WRITE_ATTEMPTS && sql::lost_race(&e) => {
                    tracing::debug!(
                        context = $context,
                        attempt,
                        "retrying a transaction that lost a race"
                    );
                }
                Err(e) => break Err(e.into_write_error($context)),
            }
        }
    }};
}

/// Runs `$body` (a future using `$c`) in one read-only repeatable-read transaction, so
/// that all its statements see one snapshot (a listing's count and its page).
macro_rules! read_snapshot {
    ($store:expr, $context:expr, |$c:ident| $body:expr) => {{
        let mut client = $store.client($context).await?;
        let $c = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|e| sql::store_error($context, &e))?;
        let value = $body.await.map_err(|e| e.into_store_error($context))?;
        $c.commit().await.map_err(|e| sql::store_error($context, &e))?;
        Ok(value)
    }};
}

/// Runs `$body` (a future using the pooled client `$c`).
macro_rules! read {
    ($store:expr, $context:expr, |$c:ident| $body:expr) => {{
        let $c = $store.client($context).await?;
        $body.await.map_err(|e| e.into_store_error($context))
    }};
}

#[async_trait]
impl Store for PgStore {
    fn clock(&self) -> &roster_core::Clock {
        &self.clock
    }

    fn pool_status(&self) -> Option<roster_core::store::PoolStatus> {
        let status = self.pool.status();
        Some(roster_core::store::PoolStatus {
            max: status.max_size,
            open: status.size,
            idle: status.available,
            waiting: status.waiting,
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client("ping").await?;
        client.simple_query("SELECT 1").await.map(|_| ()).map_err(|e| sql::store_error("ping", &e))
    }

    async fn org_epoch(&self, org: &OrgId) -> Result<Option<ChangeEpoch>, StoreError> {
        // The same batched statement as the principals' heads: one read for every waiter.
        let heads = self.heads.heads(&[org]).await?;
        let head =
            heads.first().copied().unwrap_or(OrgHead { head: 0, callers: 0, next_expiry: None });
        Ok(head.epoch_at(self.clock.now()))
    }

    async fn org_heads(&self, orgs: &[&OrgId]) -> Result<Vec<OrgHead>, StoreError> {
        self.heads.heads(orgs).await
    }

    fn commits(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.committed.subscribe())
    }

    async fn stream_bounds(&self, org: &OrgId) -> Result<Option<StreamBounds>, StoreError> {
        read!(self, "stream bounds", |c| events::bounds(&c, org))
    }

    async fn read_stream(
        &self,
        org: &OrgId,
        after: u64,
        limit: u64,
        types: &[&'static str],
        scan: u64,
    ) -> Result<StreamPage, StoreError> {
        read_snapshot!(self, "read stream", |c| events::read_stream(
            &c, org, after, limit, types, scan
        ))
    }

    async fn audit_log(
        &self,
        org: &OrgId,
        query: &AuditQuery,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        read!(self, "audit log", |c| events::audit_log(&c, org, query))
    }

    async fn trim_events(&self, before: Timestamp) -> Result<u64, StoreError> {
        in_transaction!(self, "trim events", |tx, now| events::trim(&tx, before))
            .map_err(storage_only("trim events"))
    }

    async fn principal(
        &self,
        token: &TokenHash,
        org: Option<&OrgId>,
    ) -> Result<Option<Principal>, StoreError> {
        read!(self, "principal", |c| people::principal(&c, token, org, self.clock.now()))
    }

    async fn list_groups(
        &self,
        org: &OrgId,
        params: &ListParams,
    ) -> Result<Page<Group>, StoreError> {
        // A page near the front is one statement (one snapshot by itself); deeper ones
        // count first, in a snapshot shared with the page.
        // (The fast path reads the stream head just before its page: following from
        // there may repeat a change the page shows, never miss one.)
        let now = self.clock.now();
        if params.q.is_none() && params.trashed == Trashed::Without && params.is_shallow() {
            read!(self, "list groups", |c| async {
                let head = events::head(&c, org).await?;
                let mut page = groups::list_front(&c, org, params, now).await?;
                page.stream_head = head;
                Ok::<_, TxError>(page)
            })
        } else {
            read_snapshot!(self, "list groups", |c| async {
                let mut page = groups::list(&c, org, params, now).await?;
                page.stream_head = events::head(&c, org).await?;
                Ok::<_, TxError>(page)
            })
        }
    }

    async fn group(&self, org: &OrgId, id: &GroupId) -> Result<Option<Group>, StoreError> {
        read!(self, "get group", |c| groups::get(&c, org, id, self.clock.now()))
    }

    async fn group_version(
        &self,
        org: &OrgId,
        id: &GroupId,
    ) -> Result<Option<(i64, Option<Timestamp>)>, StoreError> {
        read!(self, "group version", |c| groups::version(&c, org, id))
    }

    async fn group_with_trashed(
        &self,
        org: &OrgId,
        id: &GroupId,
    ) -> Result<Option<Group>, StoreError> {
        read!(self, "get group", |c| groups::get_with_trashed(&c, org, id, self.clock.now()))
    }

    async fn restore_group(
        &self,
        org: &OrgId,
        id: &GroupId,
        name: Option<&GroupName>,
    ) -> Result<Restored, WriteError> {
        in_transaction!(self, "restore group", |tx, now| groups::restore(&tx, now, org, id, name))
    }

    async fn purge_group(&self, org: &OrgId, id: &GroupId) -> Result<(), WriteError> {
        in_transaction!(self, "purge group", |tx, now| groups::purge(&tx, now, org, id))
    }

    async fn trash_older_than(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<(OrgId, GroupId)>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        read!(self, "trash to purge", |c| groups::trash_older_than(&c, before, limit))
    }

    async fn sweep_expired_step(
        &self,
        groups_at_once: usize,
        rows: usize,
    ) -> Result<(u64, bool), StoreError> {
        let groups_at_once = i64::try_from(groups_at_once).unwrap_or(i64::MAX);
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        in_transaction!(self, "sweep expired memberships", |tx, now| {
            groups::sweep_expired(&tx, now, groups_at_once, rows)
        })
        .map_err(storage_only("sweep expired memberships"))
    }

    async fn create_group(
        &self,
        org: &OrgId,
        write: &GroupWrite,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Created, WriteError> {
        in_transaction!(self, "create group", |tx, now| groups::create(
            &tx,
            now,
            org,
            write,
            idempotency
        ))
    }

    async fn update_group(
        &self,
        org: &OrgId,
        id: &GroupId,
        write: &GroupWrite,
        if_match: Option<&IfMatch>,
    ) -> Result<Group, WriteError> {
        in_transaction!(self, "update group", |tx, now| groups::update(
            &tx, now, org, id, write, if_match
        ))
    }

    async fn delete_group(
        &self,
        org: &OrgId,
        id: &GroupId,
        if_match: Option<&IfMatch>,
    ) -> Result<(), WriteError> {
        in_transaction!(self, "delete group", |tx, now| groups::delete(&tx, now, org, id, if_match))
    }

    async fn patch_group_members(
        &self,
        org: &OrgId,
        id: &GroupId,
        patch: &MembershipPatch<MemberRef>,
        if_match: Option<&IfMatch>,
    ) -> Result<Group, WriteError> {
        in_transaction!(self, "patch group members", |tx, now| groups::patch_members(
            &tx, now, org, id, patch, if_match
        ))
    }

    async fn patch_group_guests(
        &self,
        org: &OrgId,
        id: &GroupId,
        patch: &MembershipPatch<GuestRef>,
        if_match: Option<&IfMatch>,
    ) -> Result<Group, WriteError> {
        in_transaction!(self, "patch group guests", |tx, now| groups::patch_guests(
            &tx, now, org, id, patch, if_match
        ))
    }

    async fn group_member_page(
        &self,
        org: &OrgId,
        id: &GroupId,
        after: Option<UserId>,
        options: PeoplePageOptions,
    ) -> Result<Option<(Vec<roster_core::store::WithEnd<OrgMember>>, u64)>, StoreError> {
        let now = self.clock.now();
        read!(self, "group member page", |c| async {
            let head = events::head(&c, org).await?;
            let page = groups::member_page(&c, org, id, after, options, now).await?;
            Ok::<_, TxError>(page.map(|page| (page, head)))
        })
    }

    async fn group_guest_page(
        &self,
        org: &OrgId,
        id: &GroupId,
        after: Option<&Email>,
        options: PeoplePageOptions,
    ) -> Result<Option<(Vec<roster_core::store::WithEnd<Guest>>, u64)>, StoreError> {
        let now = self.clock.now();
        read!(self, "group guest page", |c| async {
            let head = events::head(&c, org).await?;
            let page = groups::guest_page(&c, org, id, after, options, now).await?;
            Ok::<_, TxError>(page.map(|page| (page, head)))
        })
    }

    async fn set_group_logo(
        &self,
        org: &OrgId,
        id: &GroupId,
        logo: &NewLogo,
    ) -> Result<Group, WriteError> {
        in_transaction!(self, "set group logo", |tx, now| groups::set_logo(&tx, now, org, id, logo))
    }

    async fn delete_group_logo(&self, org: &OrgId, id: &GroupId) -> Result<Group, WriteError> {
        in_transaction!(self, "delete group logo", |tx, now| groups::delete_logo(&tx, now, org, id))
    }

    async fn logo(&self, asset: &AssetId) -> Result<Option<StoredLogo>, StoreError> {
        read!(self, "get logo", |c| groups::logo(&c, asset))
    }

    async fn members_by_ids(
        &self,
        org: &OrgId,
        ids: &[UserId],
    ) -> Result<Vec<OrgMember>, StoreError> {
        read!(self, "members by ids", |c| people::members_by_ids(&c, org, ids))
    }

    async fn list_members(
        &self,
        org: &OrgId,
        params: &ListParams,
    ) -> Result<Page<OrgMember>, StoreError> {
        read_snapshot!(self, "list members", |c| async {
            let mut page = people::list_members(&c, org, params).await?;
            page.stream_head = events::head(&c, org).await?;
            Ok::<_, TxError>(page)
        })
    }

    async fn member(&self, org: &OrgId, id: UserId) -> Result<Option<OrgMember>, StoreError> {
        read!(self, "get member", |c| people::member(&c, org, id))
    }

    async fn groups_of_members(
        &self,
        org: &OrgId,
        ids: &[UserId],
    ) -> Result<Vec<(UserId, Group)>, StoreError> {
        read!(self, "groups of members", |c| groups::groups_of_members(
            &c,
            org,
            ids,
            self.clock.now()
        ))
    }

    async fn invite_member(&self, org: &OrgId, invite: &Invite) -> Result<OrgMember, WriteError> {
        in_transaction!(self, "invite member", |tx, now| people::invite_member(
            &tx, now, org, invite
        ))
    }

    async fn update_member(
        &self,
        org: &OrgId,
        id: UserId,
        changes: &MemberChanges,
    ) -> Result<OrgMember, WriteError> {
        in_transaction!(self, "update member", |tx, now| people::update_member(
            &tx, now, org, id, changes
        ))
    }

    async fn member_action(
        &self,
        org: &OrgId,
        id: UserId,
        action: MemberAction,
    ) -> Result<MemberOutcome, WriteError> {
        in_transaction!(self, "member action", |tx, now| people::member_action(
            &tx, now, org, id, action
        ))
    }

    async fn organizations_of(
        &self,
        user: UserId,
    ) -> Result<Vec<(Organization, OrgMember)>, StoreError> {
        read!(self, "organizations of", |c| people::organizations_of(&c, user))
    }

    async fn list_guests(
        &self,
        org: &OrgId,
        params: &ListParams,
    ) -> Result<Page<Guest>, StoreError> {
        read_snapshot!(self, "list guests", |c| async {
            let mut page = guests::list(&c, org, params).await?;
            page.stream_head = events::head(&c, org).await?;
            Ok::<_, TxError>(page)
        })
    }

    async fn guest(&self, org: &OrgId, email: &Email) -> Result<Option<Guest>, StoreError> {
        read!(self, "get guest", |c| guests::get(&c, org, email))
    }

    async fn create_guest(&self, org: &OrgId, guest: &NewGuest) -> Result<Guest, WriteError> {
        in_transaction!(self, "create guest", |tx, now| guests::create(&tx, now, org, guest))
    }

    async fn set_guest_associated_members(
        &self,
        org: &OrgId,
        email: &Email,
        members: &[(usize, UserId)],
    ) -> Result<Guest, WriteError> {
        in_transaction!(self, "update guest", |tx, now| guests::set_associated_members(
            &tx, now, org, email, members
        ))
    }

    async fn guest_action(
        &self,
        org: &OrgId,
        email: &Email,
        action: GuestAction,
    ) -> Result<GuestOutcome, WriteError> {
        in_transaction!(self, "guest action", |tx, now| guests::action(
            &tx, now, org, email, action
        ))
    }

    async fn bootstrap_if_empty(
        &self,
        org_name: &str,
        admin: &NewUser,
        token: &TokenHash,
        token_expires_at: Option<Timestamp>,
    ) -> Result<Option<Bootstrap>, StoreError> {
        in_transaction!(self, "bootstrap", |tx, now| people::bootstrap_if_empty(
            &tx,
            now,
            org_name,
            admin,
            token,
            token_expires_at
        ))
        .map_err(storage_only("bootstrap"))
    }

    async fn create_org(&self, name: &str) -> Result<Organization, StoreError> {
        in_transaction!(self, "create org", |tx, now| people::create_org(&tx, now, name))
            .map_err(storage_only("create org"))
    }

    async fn set_org_allow_non_admins_manage_groups(
        &self,
        org: &OrgId,
        allow: bool,
    ) -> Result<Organization, WriteError> {
        in_transaction!(self, "set org", |tx, now| people::set_org_allow(&tx, now, org, allow))
    }

    async fn add_member(&self, org: &OrgId, user: &NewUser) -> Result<OrgMember, WriteError> {
        in_transaction!(self, "add member", |tx, now| people::add_member(&tx, now, org, user))
    }

    async fn list_tokens(
        &self,
        org: &OrgId,
        user: Option<UserId>,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        read!(self, "list tokens", |c| people::list_tokens(&c, org, user))
    }

    async fn revoke_token(&self, org: &OrgId, id: i64) -> Result<TokenRecord, WriteError> {
        in_transaction!(self, "revoke token", |tx, now| people::revoke_token(&tx, now, org, id))
    }

    async fn touch_token(&self, id: i64, now: Timestamp) -> Result<(), StoreError> {
        read!(self, "touch token", |c| people::touch_token(&c, id, now))
    }

    async fn create_token(
        &self,
        org: &OrgId,
        user: UserId,
        token: &TokenHash,
        expires_at: Option<Timestamp>,
    ) -> Result<TokenRecord, WriteError> {
        in_transaction!(self, "create token", |tx, now| people::create_token(
            &tx, now, org, user, token, expires_at
        ))
    }
}

#[async_trait]
impl WebhookStore for PgStore {
    async fn delivery_work(&self) -> Result<DeliveryWork, StoreError> {
        let now = self.clock.now();
        read!(self, "delivery work", |c| webhooks::work(&c, now))
    }

    async fn create_webhook(
        &self,
        org: &OrgId,
        new: &NewWebhook,
        secret: &WebhookSecret,
        max_per_org: usize,
    ) -> Result<Webhook, WriteError> {
        in_transaction!(self, "create webhook", |tx, now| webhooks::create(
            &tx,
            now,
            org,
            new,
            secret,
            max_per_org
        ))
    }

    async fn list_webhooks(&self, org: &OrgId) -> Result<Vec<Webhook>, StoreError> {
        read!(self, "list webhooks", |c| webhooks::list(&c, org))
    }

    async fn webhook(&self, org: &OrgId, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
        read!(self, "webhook", |c| webhooks::get(&c, org, id))
    }

    async fn webhook_secrets(
        &self,
        org: &OrgId,
        id: &WebhookId,
    ) -> Result<Option<Vec<WebhookSecret>>, StoreError> {
        let now = self.clock.now();
        read!(self, "webhook secrets", |c| webhooks::secrets(&c, org, id, now))
    }

    async fn update_webhook(
        &self,
        org: &OrgId,
        id: &WebhookId,
        patch: &WebhookPatch,
    ) -> Result<Webhook, WriteError> {
        in_transaction!(self, "update webhook", |tx, now| webhooks::update(
            &tx, now, org, id, patch
        ))
    }

    async fn delete_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<(), WriteError> {
        in_transaction!(self, "delete webhook", |tx, now| webhooks::delete(&tx, now, org, id))
    }

    async fn rotate_webhook_secret(
        &self,
        org: &OrgId,
        id: &WebhookId,
        secret: &WebhookSecret,
        previous_until: Timestamp,
    ) -> Result<Webhook, WriteError> {
        in_transaction!(self, "rotate webhook secret", |tx, now| webhooks::rotate(
            &tx,
            now,
            org,
            id,
            secret,
            previous_until
        ))
    }

    async fn dispatch_webhooks(&self, limit: u64) -> Result<u64, StoreError> {
        in_transaction!(self, "dispatch webhooks", |tx, now| webhooks::dispatch(&tx, now, limit))
            .map_err(storage_only("dispatch webhooks"))
    }

    async fn claim_deliveries(&self, max: usize) -> Result<Vec<Claim>, StoreError> {
        in_transaction!(self, "claim deliveries", |tx, now| webhooks::claim(&tx, now, max))
            .map_err(storage_only("claim deliveries"))
    }

    async fn record_attempts(
        &self,
        attempts: &[AttemptResult],
        disable_after_millis: i64,
    ) -> Result<Vec<bool>, StoreError> {
        in_transaction!(self, "record attempts", |tx, now| webhooks::record_all(
            &tx,
            now,
            attempts,
            disable_after_millis
        ))
        .map_err(storage_only("record attempts"))
    }

    async fn list_deliveries(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        query: &DeliveryQuery,
    ) -> Result<Vec<Delivery>, StoreError> {
        read!(self, "list deliveries", |c| webhooks::list_deliveries(&c, org, webhook, query))
    }

    async fn delivery(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        id: i64,
    ) -> Result<Option<(Delivery, Vec<AttemptRecord>)>, StoreError> {
        read_snapshot!(self, "delivery", |c| webhooks::delivery_with_attempts(&c, org, webhook, id))
    }

    async fn retry_delivery(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        id: i64,
    ) -> Result<Delivery, WriteError> {
        in_transaction!(self, "retry delivery", |tx, now| webhooks::retry(
            &tx, now, org, webhook, id
        ))
    }

    async fn recover_deliveries(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        since: Timestamp,
        until: Option<Timestamp>,
    ) -> Result<u64, WriteError> {
        in_transaction!(self, "recover deliveries", |tx, now| webhooks::recover(
            &tx, now, org, webhook, since, until
        ))
    }

    async fn replay_webhook(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        after: u64,
    ) -> Result<u64, WriteError> {
        in_transaction!(self, "replay webhook", |tx, now| webhooks::replay(
            &tx, now, org, webhook, after
        ))
    }

    async fn trim_deliveries(&self, before: Timestamp) -> Result<u64, StoreError> {
        in_transaction!(self, "trim deliveries", |tx, now| webhooks::trim(&tx, before))
            .map_err(storage_only("trim deliveries"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::time::Instant;

    use super::*;

    /// A fresh schema on the server named by ROSTER_TEST_POSTGRES_URL (never skipped).
    async fn fresh_database_url() -> String {
        let admin = std::env::var("ROSTER_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| panic!("ROSTER_TEST_POSTGRES_URL is not set: run scripts/test"));
        let schema = format!("t_{}", GroupId::generate().expect("random"));
        let (client, connection) = tokio_postgres::connect(&admin, NoTls).await.expect("connect");
        tokio::spawn(connection);
        client.batch_execute(&format!("CREATE SCHEMA {schema}")).await.expect("schema");
        format!("{admin}?options=-csearch_path%3D{schema}")
    }

    #[tokio::test]
    async fn a_saturated_pool_answers_unavailable_after_its_wait() {
        let url = fresh_database_url().await;
        let options = PoolOptions { size: 1, wait: Duration::from_millis(200) };
        let store = PgStore::connect(&url, &options).await.expect("connect");
        let org = store.create_org("Busy").await.expect("org");
        let held = store.client("test").await.expect("the only connection");
        let started = Instant::now();
        let error = store
            .list_groups(&org.id, &ListParams::default())
            .await
            .expect_err("no connection free");
        assert_eq!(error.kind, roster_core::StoreErrorKind::Busy, "{error}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(150) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
        drop(held);
        assert!(store.list_groups(&org.id, &ListParams::default()).await.is_ok());
    }

    #[tokio::test]
    async fn migrations_run_once_however_many_instances_start() {
        let url = fresh_database_url().await;
        let options = PoolOptions::default();
        let (a, b, c) = tokio::join!(
            PgStore::connect(&url, &options),
            PgStore::connect(&url, &options),
            PgStore::connect(&url, &options)
        );
        let (a, _b, _c) = (a.expect("a"), b.expect("b"), c.expect("c"));
        let client = a.client("test").await.expect("client");
        let applied: i64 = client
            .query_one("SELECT count(*) FROM roster_migrations", &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(applied, MIGRATIONS.len() as i64);
    }
}
