//! Roster's embedded backend: one SQLite file in WAL mode, through rusqlite.
//!
//! Reads run on the calling thread with a pooled connection and cached prepared
//! statements: they are index lookups that finish in microseconds, far less than a hop
//! to another thread would cost. Writes go to one writer thread with one connection,
//! since SQLite admits one writer at a time anyway; writes that arrive while a commit
//! waits for its fsync are committed together in one `BEGIN IMMEDIATE` transaction, each
//! in its own savepoint (see `connection::Connections::write`).

mod connection;
mod events;
mod groups;
mod guests;
mod people;
mod webhooks;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use roster_core::events::{AuditQuery, StoredEvent, StreamBounds, StreamPage};
use roster_core::groups::{GroupName, GroupWrite, GuestRef, IfMatch, MemberRef, MembershipPatch};
use roster_core::listing::{ListParams, Window};
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

use connection::Connections;

pub struct SqliteStore {
    connections: Connections,
    /// Each org's stream head as last read, with the change epoch it was read under: while
    /// nothing is committed anywhere, an org's epoch is known without a query.
    org_epochs: std::sync::Mutex<std::collections::HashMap<OrgId, OrgEpochMemo>>,
}

/// An org's stream head and next membership end, with the change epoch they were read
/// under.
type OrgEpochMemo = (ChangeEpoch, OrgHead);

impl SqliteStore {
    /// An org's head and next membership end, read again only after a commit (by any
    /// process: the WAL-index header tells) since it was last read.
    fn org_head(&self, org: &OrgId) -> Result<OrgHead, StoreError> {
        use std::sync::PoisonError;
        let global = self.connections.change_epoch()?;
        let known =
            self.org_epochs.lock().unwrap_or_else(PoisonError::into_inner).get(org).copied();
        if let Some((seen_at, head)) = known
            && seen_at == global
        {
            return Ok(head);
        }
        let (head, next_expiry) =
            self.connections.read("org epoch", |conn| events::head_and_next_expiry(conn, org))?;
        // Every event counts as one that can change callers: see `OrgHead::callers`.
        let head = OrgHead { head, callers: head, next_expiry };
        let mut known = self.org_epochs.lock().unwrap_or_else(PoisonError::into_inner);
        // Bounded by the orgs in the database; dropped wholesale if it ever grows large.
        if known.len() > 100_000 {
            known.clear();
        }
        known.insert(org.clone(), (global, head));
        Ok(head)
    }
    /// Opens (creating if needed) the database named by a `sqlite://PATH` URL and brings
    /// its schema up to date.
    pub fn open_url(url: &str) -> Result<Self, StoreError> {
        Self::open(&path_from_url(url)?)
    }

    fn people_page(&self, options: PeoplePageOptions) -> groups::PeoplePage {
        groups::PeoplePage {
            limit: options.limit,
            now: self.connections.clock.now(),
            expiring_before: options.expiring_before,
        }
    }

    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_clock(path, roster_core::Clock::system())
    }

    /// Opens the database with `clock` as the store's time (see `Store::clock`).
    pub fn open_with_clock(path: &Path, clock: roster_core::Clock) -> Result<Self, StoreError> {
        let mut connections = Connections::open(path)?;
        connections.clock = clock;
        Ok(Self { connections, org_epochs: std::sync::Mutex::default() })
    }

    /// For seeding benchmark data only: commits skip their fsync while `on`. A crash in
    /// between can lose the seed, never a user's write (servers never turn this on).
    pub fn set_bulk_load(&self, on: bool) -> Result<(), StoreError> {
        self.connections.set_writer_pragma("synchronous", (if on { "OFF" } else { "FULL" }).into())
    }

    /// Caps the database file at about `max_bytes` (`None`: no cap). A write that would
    /// grow it past the cap fails as full storage and writes nothing; reads go on, and
    /// deletes still work (they free pages, which later writes reuse). See
    /// `Connections::set_size_cap`.
    pub fn set_size_limit(&self, max_bytes: Option<u64>) -> Result<(), StoreError> {
        self.connections.set_size_cap(max_bytes)
    }
}

/// SQLite's LIMIT and OFFSET for a page read forwards (`LIMIT -1`: no limit).
pub(crate) fn limit_offset(params: &ListParams) -> (i64, i64) {
    if params.unpaged {
        return (-1, 0);
    }
    let limit = i64::try_from(params.per_page).unwrap_or(i64::MAX);
    let offset = i64::try_from(params.offset()).unwrap_or(i64::MAX);
    (limit, offset)
}

/// One page of a listing as SQLite reads it: ORDER BY direction, LIMIT (-1: none) and
/// OFFSET, from whichever end of the order is nearer (`ListParams::window`).
pub(crate) struct PageRead {
    pub direction: &'static str,
    pub limit: i64,
    pub offset: i64,
    window: Window,
}

impl PageRead {
    /// `total`: the listing's row count, read in the same snapshot as the page.
    pub(crate) fn new(params: &ListParams, total: i64) -> Self {
        let window = params.window(u64::try_from(total).unwrap_or(0));
        Self {
            direction: if window.read_descending(params.descending) { "DESC" } else { "ASC" },
            limit: window.limit.map_or(-1, |limit| i64::try_from(limit).unwrap_or(i64::MAX)),
            offset: i64::try_from(window.offset).unwrap_or(i64::MAX),
            window,
        }
    }

    /// The rows read, in the listing's order.
    pub(crate) fn in_order<T>(&self, rows: Vec<T>) -> Vec<T> {
        self.window.in_order(rows)
    }
}

/// `sqlite://roster.db` (relative), `sqlite:///var/lib/roster.db` (absolute) or `sqlite:roster.db`.
pub fn path_from_url(url: &str) -> Result<PathBuf, StoreError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::new("database url", "expected a sqlite:// URL"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::new(
            "database url",
            "a SQLite database needs a file path, e.g. sqlite://roster.db",
        ));
    }
    Ok(PathBuf::from(path))
}

#[async_trait]
impl Store for SqliteStore {
    fn clock(&self) -> &roster_core::Clock {
        &self.connections.clock
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.connections.read("ping", |conn| conn.query_row("SELECT 1", [], |_| Ok(())))
    }

    async fn change_epoch(&self) -> Result<Option<ChangeEpoch>, StoreError> {
        self.connections.change_epoch().map(Some)
    }

    async fn org_epoch(&self, org: &OrgId) -> Result<Option<ChangeEpoch>, StoreError> {
        Ok(self.org_head(org)?.epoch_at(self.connections.clock.now()))
    }

    async fn org_heads(&self, orgs: &[&OrgId]) -> Result<Vec<OrgHead>, StoreError> {
        orgs.iter().map(|org| self.org_head(org)).collect()
    }

    fn commits(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.connections.commits())
    }

    async fn stream_bounds(&self, org: &OrgId) -> Result<Option<StreamBounds>, StoreError> {
        self.connections.read("stream bounds", |conn| events::bounds(conn, org))
    }

    async fn read_stream(
        &self,
        org: &OrgId,
        after: u64,
        limit: u64,
        types: &[&'static str],
        scan: u64,
    ) -> Result<StreamPage, StoreError> {
        self.connections.read_snapshot("read stream", |conn| {
            events::read_stream(conn, org, after, limit, types, scan)
        })
    }

    async fn audit_log(
        &self,
        org: &OrgId,
        query: &AuditQuery,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.connections.read("audit log", |conn| events::audit_log(conn, org, query))
    }

    async fn trim_events(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.connections.write_plain("trim events", move |tx| events::trim(tx, before)).await
    }

    async fn principal(
        &self,
        token: &TokenHash,
        org: Option<&OrgId>,
    ) -> Result<Option<Principal>, StoreError> {
        let now = self.connections.clock.now();
        self.connections.read("principal", |conn| people::principal(conn, token, org, now))
    }

    async fn list_groups(
        &self,
        org: &OrgId,
        params: &ListParams,
    ) -> Result<Page<Group>, StoreError> {
        let now = self.connections.clock.now();
        self.connections.read_snapshot("list groups", |conn| {
            let mut page = groups::list(conn, org, params, now)?;
            page.stream_head = events::head(conn, org)?;
            Ok(page)
        })
    }

    async fn group(&self, org: &OrgId, id: &GroupId) -> Result<Option<Group>, StoreError> {
        let now = self.connections.clock.now();
        self.connections.read_snapshot("get group", |conn| groups::get(conn, org, id, now))
    }

    async fn group_version(
        &self,
        org: &OrgId,
        id: &GroupId,
    ) -> Result<Option<(i64, Option<Timestamp>)>, StoreError> {
        self.connections.read("group version", |conn| groups::version(conn, org, id))
    }

    async fn group_with_trashed(
        &self,
        org: &OrgId,
        id: &GroupId,
    ) -> Result<Option<Group>, StoreError> {
        let now = self.connections.clock.now();
        self.connections
            .read_snapshot("get group", |conn| groups::get_with_trashed(conn, org, id, now))
    }

    async fn restore_group(
        &self,
        org: &OrgId,
        id: &GroupId,
        name: Option<&GroupName>,
    ) -> Result<Restored, WriteError> {
        let (org, id, name) = (org.clone(), id.clone(), name.cloned());
        self.connections
            .write("restore group", move |tx| groups::restore(tx, &org, &id, name.as_ref()))
            .await
    }

    async fn purge_group(&self, org: &OrgId, id: &GroupId) -> Result<(), WriteError> {
        let (org, id) = (org.clone(), id.clone());
        self.connections.write("purge group", move |tx| groups::purge(tx, &org, &id)).await
    }

    async fn trash_older_than(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<(OrgId, GroupId)>, StoreError> {
        self.connections
            .read("trash to purge", |conn| groups::trash_older_than(conn, before, limit))
    }

    async fn sweep_expired_step(
        &self,
        groups_at_once: usize,
        rows: usize,
    ) -> Result<(u64, bool), StoreError> {
        self.connections
            .write("sweep expired memberships", move |tx| {
                groups::sweep_expired(tx, groups_at_once, rows)
            })
            .await
            .map_err(|e| match e {
                WriteError::Store(e) => e,
                other => StoreError::new("sweep expired memberships", other),
            })
    }

    async fn create_group(
        &self,
        org: &OrgId,
        write: &GroupWrite,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Created, WriteError> {
        let (org, write, key) = (org.clone(), write.clone(), idempotency.cloned());
        self.connections
            .write("create group", move |tx| groups::create(tx, &org, &write, key.as_ref()))
            .await
    }

    async fn update_group(
        &self,
        org: &OrgId,
        id: &GroupId,
        write: &GroupWrite,
        if_match: Option<&IfMatch>,
    ) -> Result<Group, WriteError> {
        let (org, id, write, if_match) =
            (org.clone(), id.clone(), write.clone(), if_match.cloned());
        self.connections
            .write("update group", move |tx| {
                groups::update(tx, &org, &id, &write, if_match.as_ref())
            })
            .await
    }

    async fn delete_group(
        &self,
        org: &OrgId,
        id: &GroupId,
        if_match: Option<&IfMatch>,
    ) -> Result<(), WriteError> {
        let (org, id, if_match) = (org.clone(), id.clone(), if_match.cloned());
        self.connections
            .write("delete group", move |tx| groups::delete(tx, &org, &id, if_match.as_ref()))
            .await
    }

    async fn patch_group_members(
        &self,
        org: &OrgId,
        id: &GroupId,
        patch: &MembershipPatch<MemberRef>,
        if_match: Option<&IfMatch>,
    ) -> Result<Group, WriteError> {
        let (org, id, patch, if_match) =
            (org.clone(), id.clone(), patch.clone(), if_match.cloned());
        self.connections
            .write("patch group members", move |tx| {
                groups::patch_members(tx, &org, &id, &patch, if_match.as_ref())
            })
            .await
    }

    async fn patch_group_guests(
        &self,
        org: &OrgId,
        id: &GroupId,
        patch: &MembershipPatch<GuestRef>,
        if_match: Option<&IfMatch>,
    ) -> Result<Group, WriteError> {
        let (org, id, patch, if_match) =
            (org.clone(), id.clone(), patch.clone(), if_match.cloned());
        self.connections
            .write("patch group guests", move |tx| {
                groups::patch_guests(tx, &org, &id, &patch, if_match.as_ref())
            })
            .await
    }

    async fn group_member_page(
        &self,
        org: &OrgId,
        id: &GroupId,
        after: Option<UserId>,
        options: PeoplePageOptions,
    ) -> Result<Option<(Vec<roster_core::store::WithEnd<OrgMember>>, u64)>, StoreError> {
        let page = self.people_page(options);
        self.connections.read_snapshot("group member page", |conn| {
            let page = groups::member_page(conn, org, id, after, &page)?;
            page.map(|page| Ok((page, events::head(conn, org)?))).transpose()
        })
    }

    async fn group_guest_page(
        &self,
        org: &OrgId,
        id: &GroupId,
        after: Option<&Email>,
        options: PeoplePageOptions,
    ) -> Result<Option<(Vec<roster_core::store::WithEnd<Guest>>, u64)>, StoreError> {
        let page = self.people_page(options);
        self.connections.read_snapshot("group guest page", |conn| {
            let page = groups::guest_page(conn, org, id, after, &page)?;
            page.map(|page| Ok((page, events::head(conn, org)?))).transpose()
        })
    }

    async fn set_group_logo(
        &self,
        org: &OrgId,
        id: &GroupId,
        logo: &NewLogo,
    ) -> Result<Group, WriteError> {
        let (org, id, logo) = (org.clone(), id.clone(), logo.clone());
        self.connections
            .write("set group logo", move |tx| groups::set_logo(tx, &org, &id, &logo))
            .await
    }

    async fn delete_group_logo(&self, org: &OrgId, id: &GroupId) -> Result<Group, WriteError> {
        let (org, id) = (org.clone(), id.clone());
        self.connections
            .write("delete group logo", move |tx| groups::delete_logo(tx, &org, &id))
            .await
    }

    async fn logo(&self, asset: &AssetId) -> Result<Option<StoredLogo>, StoreError> {
        self.connections.read("get logo", |conn| groups::logo(conn, asset))
    }

    async fn members_by_ids(
        &self,
        org: &OrgId,
        ids: &[UserId],
    ) -> Result<Vec<OrgMember>, StoreError> {
        self.connections.read("members by ids", |conn| people::members_by_ids(conn, org, ids))
    }

    async fn list_members(
        &self,
        org: &OrgId,
        params: &ListParams,
    ) -> Result<Page<OrgMember>, StoreError> {
        self.connections.read_snapshot("list members", |conn| {
            let mut page = people::list_members(conn, org, params)?;
            page.stream_head = events::head(conn, org)?;
            Ok(page)
        })
    }

    async fn member(&self, org: &OrgId, id: UserId) -> Result<Option<OrgMember>, StoreError> {
        self.connections.read("get member", |conn| people::member(conn, org, id))
    }

    async fn groups_of_members(
        &self,
        org: &OrgId,
        ids: &[UserId],
    ) -> Result<Vec<(UserId, Group)>, StoreError> {
        let now = self.connections.clock.now();
        self.connections.read_snapshot("groups of members", |conn| {
            groups::groups_of_members(conn, org, ids, now)
        })
    }

    async fn invite_member(&self, org: &OrgId, invite: &Invite) -> Result<OrgMember, WriteError> {
        let (org, invite) = (org.clone(), invite.clone());
        self.connections
            .write("invite member", move |tx| people::invite_member(tx, &org, &invite))
            .await
    }

    async fn update_member(
        &self,
        org: &OrgId,
        id: UserId,
        changes: &MemberChanges,
    ) -> Result<OrgMember, WriteError> {
        let (org, changes) = (org.clone(), changes.clone());
        self.connections
            .write("update member", move |tx| people::update_member(tx, &org, id, &changes))
            .await
    }

    async fn member_action(
        &self,
        org: &OrgId,
        id: UserId,
        action: MemberAction,
    ) -> Result<MemberOutcome, WriteError> {
        let org = org.clone();
        self.connections
            .write("member action", move |tx| people::member_action(tx, &org, id, action))
            .await
    }

    async fn organizations_of(
        &self,
        user: UserId,
    ) -> Result<Vec<(Organization, OrgMember)>, StoreError> {
        self.connections.read("organizations of", |conn| people::organizations_of(conn, user))
    }

    async fn list_guests(
        &self,
        org: &OrgId,
        params: &ListParams,
    ) -> Result<Page<Guest>, StoreError> {
        self.connections.read_snapshot("list guests", |conn| {
            let mut page = guests::list(conn, org, params)?;
            page.stream_head = events::head(conn, org)?;
            Ok(page)
        })
    }

    async fn guest(&self, org: &OrgId, email: &Email) -> Result<Option<Guest>, StoreError> {
        self.connections.read("get guest", |conn| guests::get(conn, org, email))
    }

    async fn create_guest(&self, org: &OrgId, guest: &NewGuest) -> Result<Guest, WriteError> {
        let (org, guest) = (org.clone(), guest.clone());
        self.connections.write("create guest", move |tx| guests::create(tx, &org, &guest)).await
    }

    async fn set_guest_associated_members(
        &self,
        org: &OrgId,
        email: &Email,
        members: &[(usize, UserId)],
    ) -> Result<Guest, WriteError> {
        let (org, email, members) = (org.clone(), email.clone(), members.to_vec());
        self.connections
            .write("update guest", move |tx| {
                guests::set_associated_members(tx, &org, &email, &members)
            })
            .await
    }

    async fn guest_action(
        &self,
        org: &OrgId,
        email: &Email,
        action: GuestAction,
    ) -> Result<GuestOutcome, WriteError> {
        let (org, email) = (org.clone(), email.clone());
        self.connections
            .write("guest action", move |tx| guests::action(tx, &org, &email, action))
            .await
    }

    async fn bootstrap_if_empty(
        &self,
        org_name: &str,
        admin: &NewUser,
        token: &TokenHash,
        token_expires_at: Option<Timestamp>,
    ) -> Result<Option<Bootstrap>, StoreError> {
        let (org_name, admin, token) = (org_name.to_owned(), admin.clone(), token.clone());
        self.connections
            .write_plain("bootstrap", move |tx| {
                people::bootstrap_if_empty(tx, &org_name, &admin, &token, token_expires_at)
            })
            .await
    }

    async fn create_org(&self, name: &str) -> Result<Organization, StoreError> {
        let name = name.to_owned();
        self.connections.write_plain("create org", move |tx| people::create_org(tx, &name)).await
    }

    async fn set_org_allow_non_admins_manage_groups(
        &self,
        org: &OrgId,
        allow: bool,
    ) -> Result<Organization, WriteError> {
        let org = org.clone();
        self.connections.write("set org", move |tx| people::set_org_allow(tx, &org, allow)).await
    }

    async fn add_member(&self, org: &OrgId, user: &NewUser) -> Result<OrgMember, WriteError> {
        let (org, user) = (org.clone(), user.clone());
        self.connections.write("add member", move |tx| people::add_member(tx, &org, &user)).await
    }

    async fn list_tokens(
        &self,
        org: &OrgId,
        user: Option<UserId>,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        self.connections.read("list tokens", |conn| people::list_tokens(conn, org, user))
    }

    async fn revoke_token(&self, org: &OrgId, id: i64) -> Result<TokenRecord, WriteError> {
        let org = org.clone();
        self.connections.write("revoke token", move |tx| people::revoke_token(tx, &org, id)).await
    }

    async fn touch_token(&self, id: i64, now: Timestamp) -> Result<(), StoreError> {
        self.connections
            .write_plain("touch token", move |tx| people::touch_token(tx, id, now))
            .await
    }

    async fn create_token(
        &self,
        org: &OrgId,
        user: UserId,
        token: &TokenHash,
        expires_at: Option<Timestamp>,
    ) -> Result<TokenRecord, WriteError> {
        let (org, token) = (org.clone(), token.clone());
        self.connections
            .write("create token", move |tx| {
                people::create_token(tx, &org, user, &token, expires_at)
            })
            .await
    }
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn delivery_work(&self) -> Result<DeliveryWork, StoreError> {
        let now = self.connections.clock.now();
        self.connections.read("delivery work", |conn| webhooks::work(conn, now))
    }

    async fn create_webhook(
        &self,
        org: &OrgId,
        new: &NewWebhook,
        secret: &WebhookSecret,
        max_per_org: usize,
    ) -> Result<Webhook, WriteError> {
        let (org, new, secret) = (org.clone(), new.clone(), secret.clone());
        self.connections
            .write("create webhook", move |tx| {
                webhooks::create(tx, &org, &new, &secret, max_per_org)
            })
            .await
    }

    async fn list_webhooks(&self, org: &OrgId) -> Result<Vec<Webhook>, StoreError> {
        self.connections.read("list webhooks", |conn| webhooks::list(conn, org))
    }

    async fn webhook(&self, org: &OrgId, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
        self.connections.read("webhook", |conn| webhooks::get(conn, org, id))
    }

    async fn webhook_secrets(
        &self,
        org: &OrgId,
        id: &WebhookId,
    ) -> Result<Option<Vec<WebhookSecret>>, StoreError> {
        let now = self.connections.clock.now();
        self.connections.read("webhook secrets", |conn| webhooks::secrets(conn, org, id, now))
    }

    async fn update_webhook(
        &self,
        org: &OrgId,
        id: &WebhookId,
        patch: &WebhookPatch,
    ) -> Result<Webhook, WriteError> {
        let (org, id, patch) = (org.clone(), id.clone(), patch.clone());
        self.connections
            .write("update webhook", move |tx| webhooks::update(tx, &org, &id, &patch))
            .await
    }

    async fn delete_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<(), WriteError> {
        let (org, id) = (org.clone(), id.clone());
        self.connections.write("delete webhook", move |tx| webhooks::delete(tx, &org, &id)).await
    }

    async fn rotate_webhook_secret(
        &self,
        org: &OrgId,
        id: &WebhookId,
        secret: &WebhookSecret,
        previous_until: Timestamp,
    ) -> Result<Webhook, WriteError> {
        let (org, id, secret) = (org.clone(), id.clone(), secret.clone());
        self.connections
            .write("rotate webhook secret", move |tx| {
                webhooks::rotate(tx, &org, &id, &secret, previous_until)
            })
            .await
    }

    async fn dispatch_webhooks(&self, limit: u64) -> Result<u64, StoreError> {
        self.connections
            .write_plain("dispatch webhooks", move |tx| webhooks::dispatch(tx, limit))
            .await
    }

    async fn claim_deliveries(&self, max: usize) -> Result<Vec<Claim>, StoreError> {
        self.connections.write_plain("claim deliveries", move |tx| webhooks::claim(tx, max)).await
    }

    async fn record_attempts(
        &self,
        attempts: &[AttemptResult],
        disable_after_millis: i64,
    ) -> Result<Vec<bool>, StoreError> {
        let attempts = attempts.to_vec();
        self.connections
            .write_plain("record attempts", move |tx| {
                webhooks::record_all(tx, &attempts, disable_after_millis)
            })
            .await
    }

    async fn list_deliveries(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        query: &DeliveryQuery,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.connections
            .read("list deliveries", |conn| webhooks::list_deliveries(conn, org, webhook, query))
    }

    async fn delivery(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        id: i64,
    ) -> Result<Option<(Delivery, Vec<AttemptRecord>)>, StoreError> {
        self.connections.read_snapshot("delivery", |conn| {
            webhooks::delivery_with_attempts(conn, org, webhook, id)
        })
    }

    async fn retry_delivery(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        id: i64,
    ) -> Result<Delivery, WriteError> {
        let (org, webhook) = (org.clone(), webhook.clone());
        self.connections
            .write("retry delivery", move |tx| webhooks::retry(tx, &org, &webhook, id))
            .await
    }

    async fn recover_deliveries(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        since: Timestamp,
        until: Option<Timestamp>,
    ) -> Result<u64, WriteError> {
        let (org, webhook) = (org.clone(), webhook.clone());
        self.connections
            .write("recover deliveries", move |tx| {
                webhooks::recover(tx, &org, &webhook, since, until)
            })
            .await
    }

    async fn replay_webhook(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        after: u64,
    ) -> Result<u64, WriteError> {
        let (org, webhook) = (org.clone(), webhook.clone());
        self.connections
            .write("replay webhook", move |tx| webhooks::replay(tx, &org, &webhook, after))
            .await
    }

    async fn trim_deliveries(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.connections.write_plain("trim deliveries", move |tx| webhooks::trim(tx, before)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_files() {
        assert_eq!(path_from_url("sqlite://roster.db").ok(), Some(PathBuf::from("roster.db")));
        assert_eq!(
            path_from_url("sqlite:///var/lib/roster.db").ok(),
            Some(PathBuf::from("/var/lib/roster.db"))
        );
        assert_eq!(path_from_url("sqlite:x.db?mode=rwc").ok(), Some(PathBuf::from("x.db")));
        assert!(path_from_url("sqlite::memory:").is_err());
        assert!(path_from_url("postgres://x").is_err());
    }

    /// The change epoch holds while nothing is committed and rises after any commit: this
    /// process's own, and one made through a connection of its own, as another process
    /// (an admin command) would.
    #[tokio::test]
    async fn the_change_epoch_rises_after_every_commit_from_anywhere() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path).expect("open");
        assert!(store.connections.reads_wal_index(), "the fast way is on");
        let epoch = || async { store.change_epoch().await.expect("epoch").expect("some") };
        let first = epoch().await;
        assert_eq!(epoch().await, first, "nothing committed");
        store.create_org("Own").await.expect("org");
        let after_own = epoch().await;
        assert!(after_own > first);
        assert_eq!(epoch().await, after_own);
        let outsider = rusqlite::Connection::open(&path).expect("open");
        outsider
            .execute("UPDATE organizations SET name = 'Renamed elsewhere'", [])
            .expect("update");
        let after_outsider = epoch().await;
        assert!(after_outsider > after_own);
        assert_eq!(epoch().await, after_outsider);
    }

    /// Writes queued together commit together; a refused one rolls back alone, and each
    /// sees the writes before it in its batch (the second of two equal names is refused).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batched_writes_commit_together_and_fail_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = std::sync::Arc::new(SqliteStore::open(&dir.path().join("t.db")).expect("open"));
        let org = store.create_org("Batch").await.expect("org").id;
        let mut writes = tokio::task::JoinSet::new();
        for n in 0..64 {
            let (store, org) = (std::sync::Arc::clone(&store), org.clone());
            writes.spawn(async move {
                let body =
                    serde_json::json!({"name": format!("Team {}", n / 2), "description": "d"});
                let write = roster_core::groups::parse_create(&body).expect("valid");
                store.create_group(&org, &write, None).await
            });
        }
        let (mut created, mut refused) = (0, 0);
        while let Some(outcome) = writes.join_next().await {
            match outcome.expect("task") {
                Ok(_) => created += 1,
                Err(WriteError::Invalid(_)) => refused += 1,
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((created, refused), (32, 32));
        let params = ListParams { per_page: 100, ..ListParams::default() };
        let page = store.list_groups(&org, &params).await.expect("list");
        assert_eq!((page.total, page.items.len()), (32, 32));
        // The search index took in every batch's changes before its commit.
        let search =
            ListParams { q: Some("team 1".into()), per_page: 100, ..ListParams::default() };
        assert_eq!(store.list_groups(&org, &search).await.expect("search").total, 11);
    }
}
