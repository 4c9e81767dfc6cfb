//! The storage trait. Each backend implements it once; handlers only ever see `dyn Store`.
//!
//! Every method that touches a group, member, guest or token takes the organization it
//! belongs to: nothing can be reached without its tenant.

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::events::{AuditQuery, StoredEvent, StreamBounds, StreamPage};
use crate::groups::{GroupWrite, GuestRef, IfMatch, MemberRef, MembershipPatch};
use crate::listing::ListParams;
use crate::model::{Guest, NewLogo, NewUser, Page, StoredLogo, TokenRecord};
use crate::people::{GuestAction, Invite, MemberAction, MemberChanges, NewGuest};
use crate::permissions::Membership;
use crate::token::TokenHash;
use crate::{
    AssetId, Email, Group, GroupId, OrgId, OrgMember, Organization, User, UserId, ValidationErrors,
};

/// A failure of the storage itself. It never reaches a client as detail: the HTTP layer
/// logs it and answers by its [`StoreErrorKind`].
#[derive(Clone, Debug, thiserror::Error)]
#[error("storage failure in {context}: {detail}")]
pub struct StoreError {
    pub context: &'static str,
    pub detail: String,
    pub kind: StoreErrorKind,
}

/// What a storage failure means for the client: whether a retry can help, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// Something is wrong that a retry will not mend (a bug, corrupt data).
    Fault,
    /// The storage works but had no capacity free in time (no pooled connection, a lock
    /// held too long): retry in a moment.
    Busy,
    /// The database cannot be reached (down, restarting, refusing connections, a broken
    /// connection): retry once it is back.
    Unreachable,
    /// The database has no space left (a full disk, or its configured size limit): the
    /// change was not written; reads still work.
    Full,
}

impl StoreError {
    pub fn new(context: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::of_kind(StoreErrorKind::Fault, context, detail)
    }

    pub fn of_kind(
        kind: StoreErrorKind,
        context: &'static str,
        detail: impl std::fmt::Display,
    ) -> Self {
        Self { context, detail: detail.to_string(), kind }
    }

    pub fn busy(context: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::of_kind(StoreErrorKind::Busy, context, detail)
    }

    pub fn unreachable(context: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::of_kind(StoreErrorKind::Unreachable, context, detail)
    }

    pub fn full(context: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::of_kind(StoreErrorKind::Full, context, detail)
    }
}

/// Why a write was refused.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("not found")]
    NotFound,
    #[error("invalid: {0:?}")]
    Invalid(ValidationErrors),
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` named a version the resource no longer has.
    #[error("precondition failed")]
    PreconditionFailed,
    /// A business rule refused the change (Tallyfy answers these with 400).
    #[error("{0}")]
    Rejected(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who a bearer token speaks for, and their standing in the organization asked about.
#[derive(Clone, Debug)]
pub struct Principal {
    /// Shared, so that a principal kept in memory is handed out without copying.
    pub user: std::sync::Arc<User>,
    /// `None` when the user does not belong to that organization (or none was asked about).
    pub membership: Option<Membership>,
    pub token_id: i64,
    pub token_last_used_at: Option<crate::Timestamp>,
    /// When the token stops working (`None`: never), so that a principal kept in memory
    /// is refused the moment its token expires.
    pub token_expires_at: Option<crate::Timestamp>,
    /// The organization the token was issued in, where its revocation is recorded.
    pub token_org: OrgId,
    /// The stream heads read in the same snapshot as the token, when an org was asked
    /// about: they tell when this principal may be reused (see [`PrincipalHeads`]).
    pub heads: Option<PrincipalHeads>,
}

/// The two orgs' streams a principal for an org depends on. Every change to what a
/// principal holds is an event in one of them: a token's revocation in the token's org;
/// a membership or the org's settings in the org; an account's profile in every org the
/// account belongs to (the asked-about org among them, if the caller is a member).
/// While neither org's [`OrgHead::callers`] has moved, the principal read with them is
/// still exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrincipalHeads {
    /// The token's org's [`OrgHead::callers`].
    pub token_org: u64,
    /// The asked-about org (head 0 when it does not exist), with its next membership
    /// end: read with the token, it saves the request a second round trip.
    pub org: OrgHead,
}

/// An org's change stream head, and the earliest instant one of its memberships ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrgHead {
    pub head: u64,
    /// The seq of the org's last event that can change a caller's principal (see
    /// [`crate::events::EventType::changes_callers`]). A store that does not tell them
    /// apart may give `head`: that only re-reads principals more often.
    pub callers: u64,
    pub next_expiry: Option<crate::Timestamp>,
}

impl OrgHead {
    /// The org's [`ChangeEpoch`] at `now`: its head, except from the instant a membership
    /// ends until the sweep commits (raising the head), when answers change without a
    /// write and none may be reused (`None`).
    pub fn epoch_at(self, now: crate::Timestamp) -> Option<ChangeEpoch> {
        self.next_expiry.is_none_or(|at| now < at).then_some(ChangeEpoch(self.head))
    }
}

impl Principal {
    /// Whether the token still works at `now` (revocation is a write, so a revoked token
    /// is never in a cache: see [`ChangeEpoch`]).
    pub fn is_live_at(&self, now: crate::Timestamp) -> bool {
        self.token_expires_at.is_none_or(|expires| expires.millis() > now.millis())
    }
}

/// A number the store raises whenever anything has been committed since it last said
/// one, by this process or any other sharing the database. What was read after
/// learning epoch `e` may be reused by any later request that learns the same `e`: no
/// write has landed in between, so the reuse is exact (no stale reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChangeEpoch(pub u64);

/// What a first start against an empty database created.
#[derive(Clone, Debug)]
pub struct Bootstrap {
    pub org: Organization,
    pub admin: OrgMember,
    pub token: TokenRecord,
}

/// A client's `Idempotency-Key` for a create, with a fingerprint of the request it came
/// with: a repeat must be the same request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub fingerprint: [u8; 32],
}

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    /// The key as sent (1 to 255 visible ASCII characters) and a fingerprint of the
    /// parsed body, so a retry that re-serializes its JSON still counts as the same request.
    pub fn for_request(key: &str, body: &serde_json::Value) -> Result<Self, ValidationErrors> {
        let key = key.trim();
        if key.is_empty() || key.len() > Self::MAX_LEN || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ValidationErrors::single(
                "Idempotency-Key",
                "The Idempotency-Key must be 1 to 255 visible ASCII characters.",
            ));
        }
        let canonical = body.to_string();
        Ok(Self { key: key.to_owned(), fingerprint: Sha256::digest(canonical.as_bytes()).into() })
    }
}

/// Keys are remembered this long.
pub const IDEMPOTENCY_WINDOW_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// A create's outcome: the group, and whether it was made by an earlier request.
#[derive(Clone, Debug)]
pub struct Created {
    pub group: Group,
    pub replayed: bool,
}

/// One sweep transaction ends the memberships of at most this many groups, and at most
/// `SWEEP_ROWS` rows in all.
pub const SWEEP_GROUPS: usize = 16;
pub const SWEEP_ROWS: usize = 1000;

/// A member or guest of a group, with when their membership ends (`None`: never).
pub type WithEnd<T> = (T, Option<crate::Timestamp>);

/// What a restore brought back, and whom it could not.
#[derive(Clone, Debug)]
pub struct Restored {
    pub group: Group,
    pub not_restored_members: Vec<UserId>,
    pub not_restored_guests: Vec<Email>,
}

/// How a page of a group's members or guests is cut.
#[derive(Clone, Copy, Debug)]
pub struct PeoplePageOptions {
    pub limit: u64,
    /// Only those whose membership ends before this instant.
    pub expiring_before: Option<crate::Timestamp>,
}

/// A connection pool's state, for `/metrics`.
#[derive(Clone, Copy, Debug)]
pub struct PoolStatus {
    pub max: usize,
    pub open: usize,
    pub idle: usize,
    pub waiting: usize,
}

/// What a member action leaves behind.
#[derive(Clone, Debug)]
pub enum MemberOutcome {
    Member(OrgMember),
    BecameGuest(Box<Guest>),
}

/// What a guest action leaves behind.
#[derive(Clone, Debug)]
pub enum GuestOutcome {
    Guest(Box<Guest>),
    BecameMember(OrgMember),
}

#[async_trait]
pub trait Store: crate::webhooks::WebhookStore + Send + Sync + 'static {
    /// The clock every time-based rule of this store (and of the server in front of it)
    /// reads; moving it moves them all.
    fn clock(&self) -> &crate::Clock;

    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// The connection pool's state, for backends that keep one.
    fn pool_status(&self) -> Option<PoolStatus> {
        None
    }

    /// The current [`ChangeEpoch`], or `None` when the backend cannot tell cheaply and
    /// exactly (then nothing read from it is reused between requests).
    async fn change_epoch(&self) -> Result<Option<ChangeEpoch>, StoreError> {
        Ok(None)
    }

    /// The current [`ChangeEpoch`] of one organization: its change stream's head, which
    /// every committed change to it raises (by any process). `None` when the backend
    /// cannot tell (then nothing of the org is reused between requests).
    async fn org_epoch(&self, org: &OrgId) -> Result<Option<ChangeEpoch>, StoreError> {
        let _ = org;
        Ok(None)
    }

    /// The heads of `orgs` now (head 0 and no end for an org that does not exist), in
    /// one round trip: what a principal kept in memory is checked against.
    async fn org_heads(&self, orgs: &[&OrgId]) -> Result<Vec<OrgHead>, StoreError>;

    /// A counter raised after commits (this process's, and on a shared database other
    /// instances' as they are heard of), for waiting on the stream without polling it.
    fn commits(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    // --- the change stream ---

    /// Where the org's stream stands; `None` for no such org.
    async fn stream_bounds(&self, org: &OrgId) -> Result<Option<StreamBounds>, StoreError>;

    /// Events after seq `after`, oldest first: at most `limit` of those whose type is in
    /// `types` (all when empty), looking at no more than `scan` events in all.
    async fn read_stream(
        &self,
        org: &OrgId,
        after: u64,
        limit: u64,
        types: &[&'static str],
        scan: u64,
    ) -> Result<StreamPage, StoreError>;

    /// Audit log entries matching `query`, in its order.
    async fn audit_log(
        &self,
        org: &OrgId,
        query: &AuditQuery,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// Drops the events older than `before` in every org, recording the newest seq each
    /// dropped; answers how many went.
    async fn trim_events(&self, before: crate::Timestamp) -> Result<u64, StoreError>;

    // --- auth ---

    /// Resolves a live (unrevoked, unexpired) token to its user and, when `org` is given,
    /// that user's membership there. `None` for an unknown, revoked or expired token.
    async fn principal(
        &self,
        token: &TokenHash,
        org: Option<&OrgId>,
    ) -> Result<Option<Principal>, StoreError>;

    // --- groups ---

    async fn list_groups(
        &self,
        org: &OrgId,
        params: &ListParams,
    ) -> Result<Page<Group>, StoreError>;

    async fn group(&self, org: &OrgId, id: &GroupId) -> Result<Option<Group>, StoreError>;

    /// A live group's version and its next membership end, read with one indexed lookup:
    /// what revalidating a cached answer of the group needs.
    async fn group_version(
        &self,
        org: &OrgId,
        id: &GroupId,
    ) -> Result<Option<(i64, Option<crate::Timestamp>)>, StoreError>;

    /// A group live or in the trash (`trashed=with`); a trashed one shows the people it
    /// would bring back.
    async fn group_with_trashed(
        &self,
        org: &OrgId,
        id: &GroupId,
    ) -> Result<Option<Group>, StoreError>;

    /// Creates a group after checking its references with `groups::check_references`
    /// in the same transaction. Guest emails new to the org become guests of it. With an
    /// idempotency key, a repeat of an earlier request answers with that request's group.
    async fn create_group(
        &self,
        org: &OrgId,
        write: &GroupWrite,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Created, WriteError>;

    /// Applies a partial update under the same rules as create.
    async fn update_group(
        &self,
        org: &OrgId,
        id: &GroupId,
        write: &GroupWrite,
        if_match: Option<&IfMatch>,
    ) -> Result<Group, WriteError>;

    async fn delete_group(
        &self,
        org: &OrgId,
        id: &GroupId,
        if_match: Option<&IfMatch>,
    ) -> Result<(), WriteError>;

    /// Brings a trashed group back (renamed, when `name` is given); `NotFound` unless the
    /// group is in the trash.
    async fn restore_group(
        &self,
        org: &OrgId,
        id: &GroupId,
        name: Option<&crate::groups::GroupName>,
    ) -> Result<Restored, WriteError>;

    /// Deletes a group, live or trashed, for good (with its logo).
    async fn purge_group(&self, org: &OrgId, id: &GroupId) -> Result<(), WriteError>;

    /// Groups of any org trashed before `before`, oldest first, at most `limit`.
    async fn trash_older_than(
        &self,
        before: crate::Timestamp,
        limit: usize,
    ) -> Result<Vec<(OrgId, GroupId)>, StoreError>;

    /// Purges every group trashed before `before`, in every org, each in its own
    /// transaction (with its `group.purged`, made by Roster itself); answers how many went.
    async fn purge_trash(&self, before: crate::Timestamp) -> Result<u64, StoreError> {
        let mut purged = 0;
        loop {
            let due = self.trash_older_than(before, 100).await?;
            if due.is_empty() {
                return Ok(purged);
            }
            for (org, id) in due {
                match self.purge_group(&org, &id).await {
                    Ok(()) => purged += 1,
                    // Restored or purged meanwhile (by another instance, too).
                    Err(WriteError::NotFound) => {}
                    Err(WriteError::Store(e)) => return Err(e),
                    Err(other) => return Err(StoreError::new("purge trash", other)),
                }
            }
        }
    }

    /// One transaction of the sweep: ends the memberships due by the store clock's now in
    /// up to `groups` groups (at most `rows` rows in all), with their events; answers how
    /// many went and whether more are due.
    async fn sweep_expired_step(
        &self,
        groups: usize,
        rows: usize,
    ) -> Result<(u64, bool), StoreError>;

    /// Ends every membership due by the store clock's now, in transactions of at most
    /// [`SWEEP_ROWS`] rows (so that other writes wait for one of them at most), with their
    /// events; answers how many went.
    async fn sweep_expired_memberships(&self) -> Result<u64, StoreError> {
        let mut swept = 0;
        loop {
            let (rows, more) = self.sweep_expired_step(SWEEP_GROUPS, SWEEP_ROWS).await?;
            swept += rows;
            if !more {
                return Ok(swept);
            }
        }
    }

    /// Adds and removes members without touching anyone else; additions obey
    /// `groups::check_member_additions`. The answer carries no member or guest lists
    /// (`members`/`guests` are empty), so its cost does not grow with the group.
    async fn patch_group_members(
        &self,
        org: &OrgId,
        id: &GroupId,
        patch: &MembershipPatch<MemberRef>,
        if_match: Option<&IfMatch>,
    ) -> Result<Group, WriteError>;

    /// Adds and removes guests the same way; emails new to the org become its guests.
    async fn patch_group_guests(
        &self,
        org: &OrgId,
        id: &GroupId,
        patch: &MembershipPatch<GuestRef>,
        if_match: Option<&IfMatch>,
    ) -> Result<Group, WriteError>;

    /// One page of a group's members in id order, after `after`, each with the end of
    /// their membership (`None`: permanent), with the org's stream head read in the same
    /// snapshot; `None` for no such group. Memberships that have ended are not shown.
    async fn group_member_page(
        &self,
        org: &OrgId,
        id: &GroupId,
        after: Option<UserId>,
        page: PeoplePageOptions,
    ) -> Result<Option<(Vec<WithEnd<OrgMember>>, u64)>, StoreError>;

    /// One page of a group's guests in email order, after `after`, likewise.
    async fn group_guest_page(
        &self,
        org: &OrgId,
        id: &GroupId,
        after: Option<&Email>,
        page: PeoplePageOptions,
    ) -> Result<Option<(Vec<WithEnd<Guest>>, u64)>, StoreError>;

    /// The org's members among `ids`, in ascending id order.
    async fn members_by_ids(
        &self,
        org: &OrgId,
        ids: &[UserId],
    ) -> Result<Vec<OrgMember>, StoreError>;

    /// Replaces the group's logo (a new asset id, so a new URL); the group changes.
    async fn set_group_logo(
        &self,
        org: &OrgId,
        id: &GroupId,
        logo: &NewLogo,
    ) -> Result<Group, WriteError>;

    /// Removes the group's logo; `NotFound` when there is no group or no logo.
    async fn delete_group_logo(&self, org: &OrgId, id: &GroupId) -> Result<Group, WriteError>;

    /// A logo by its asset id. The one read not scoped by organization: the 128-bit random
    /// id is the capability, so that `<img>` tags work without a token.
    async fn logo(&self, asset: &AssetId) -> Result<Option<StoredLogo>, StoreError>;

    // --- members ---

    /// Members of every status; `q` matches the name or email.
    async fn list_members(
        &self,
        org: &OrgId,
        params: &ListParams,
    ) -> Result<Page<OrgMember>, StoreError>;

    async fn member(&self, org: &OrgId, id: UserId) -> Result<Option<OrgMember>, StoreError>;

    /// The groups of the org each of `ids` belongs to, for `with=groups`.
    async fn groups_of_members(
        &self,
        org: &OrgId,
        ids: &[UserId],
    ) -> Result<Vec<(UserId, Group)>, StoreError>;

    /// Invites a person: an `invited` member, creating the account unless the email has one.
    async fn invite_member(&self, org: &OrgId, invite: &Invite) -> Result<OrgMember, WriteError>;

    async fn update_member(
        &self,
        org: &OrgId,
        id: UserId,
        changes: &MemberChanges,
    ) -> Result<OrgMember, WriteError>;

    /// Applies an action under `people::check_member_action`; a member who leaves takes
    /// their place in every group with them, in the same transaction. `ToGuest` answers
    /// with the new guest.
    async fn member_action(
        &self,
        org: &OrgId,
        id: UserId,
        action: MemberAction,
    ) -> Result<MemberOutcome, WriteError>;

    /// The organizations the user belongs to, with their standing in each.
    async fn organizations_of(
        &self,
        user: UserId,
    ) -> Result<Vec<(Organization, OrgMember)>, StoreError>;

    // --- guests ---

    /// Guests of every status; `q` matches the email.
    async fn list_guests(
        &self,
        org: &OrgId,
        params: &ListParams,
    ) -> Result<Page<Guest>, StoreError>;

    async fn guest(&self, org: &OrgId, email: &Email) -> Result<Option<Guest>, StoreError>;

    async fn create_guest(&self, org: &OrgId, guest: &NewGuest) -> Result<Guest, WriteError>;

    /// Replaces the guest's associated members (which must be members of the org).
    async fn set_guest_associated_members(
        &self,
        org: &OrgId,
        email: &Email,
        members: &[(usize, UserId)],
    ) -> Result<Guest, WriteError>;

    /// Deletes, disables, enables or converts a guest; every action but `Enable` takes
    /// the guest out of the org's groups in the same transaction.
    async fn guest_action(
        &self,
        org: &OrgId,
        email: &Email,
        action: GuestAction,
    ) -> Result<GuestOutcome, WriteError>;

    // --- administration (command line) ---

    /// On a database with no organization, creates one with an admin and a token for them,
    /// atomically; `None` when the database already holds an organization.
    async fn bootstrap_if_empty(
        &self,
        org_name: &str,
        admin: &NewUser,
        token: &TokenHash,
        token_expires_at: Option<crate::Timestamp>,
    ) -> Result<Option<Bootstrap>, StoreError>;

    async fn create_org(&self, name: &str) -> Result<Organization, StoreError>;

    async fn set_org_allow_non_admins_manage_groups(
        &self,
        org: &OrgId,
        allow: bool,
    ) -> Result<Organization, WriteError>;

    /// Adds a member to the org, creating the account unless one has that email already.
    async fn add_member(&self, org: &OrgId, user: &NewUser) -> Result<OrgMember, WriteError>;

    /// The org's tokens (a user's, when given), newest first; never a secret.
    async fn list_tokens(
        &self,
        org: &OrgId,
        user: Option<UserId>,
    ) -> Result<Vec<TokenRecord>, StoreError>;

    /// Revokes a token of the org: it is refused on its next request, on every instance.
    async fn revoke_token(&self, org: &OrgId, id: i64) -> Result<TokenRecord, WriteError>;

    /// Records that a token was used now.
    async fn touch_token(&self, id: i64, now: crate::Timestamp) -> Result<(), StoreError>;

    /// Records a token for a member of the org.
    async fn create_token(
        &self,
        org: &OrgId,
        user: UserId,
        token: &TokenHash,
        expires_at: Option<crate::Timestamp>,
    ) -> Result<TokenRecord, WriteError>;
}
