//! The change stream: what each committed change says about itself.
//!
//! Every write decides its events here, beside the change itself, and the backend stores
//! both in one transaction: per organization a `seq` runs 1, 2, 3, ... in commit order,
//! with no gaps. An event is sealed once into the exact bytes every reader gets (the feed,
//! the audit log, later webhooks); how it was made (IP, user agent, ...) is kept beside
//! it for the audit log only.

use std::cell::RefCell;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::model::{Guest, TokenRecord};
use crate::{Email, Group, OrgId, OrgMember, Organization, Timestamp, UserId};

/// At most this many people named in one `group.members_changed` event; a bigger change
/// becomes consecutive events of one transaction.
pub const MAX_IDS_PER_EVENT: usize = 100;

/// Every kind of event, with its wire name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    GroupRestored,
    GroupPurged,
    GroupMembersChanged,
    GroupLogoChanged,
    MemberCreated,
    MemberUpdated,
    MemberRoleChanged,
    MemberDisabled,
    MemberEnabled,
    MemberRemoved,
    MemberConvertedToGuest,
    GuestCreated,
    GuestUpdated,
    GuestDisabled,
    GuestEnabled,
    GuestDeleted,
    GuestConvertedToMember,
    OrganizationUpdated,
    TokenCreated,
    TokenRevoked,
    WebhookCreated,
    WebhookUpdated,
    WebhookDeleted,
    WebhookDisabled,
    WebhookEnabled,
}

impl EventType {
    pub const ALL: [Self; 28] = [
        Self::GroupCreated,
        Self::GroupUpdated,
        Self::GroupDeleted,
        Self::GroupRestored,
        Self::GroupPurged,
        Self::GroupMembersChanged,
        Self::GroupLogoChanged,
        Self::MemberCreated,
        Self::MemberUpdated,
        Self::MemberRoleChanged,
        Self::MemberDisabled,
        Self::MemberEnabled,
        Self::MemberRemoved,
        Self::MemberConvertedToGuest,
        Self::GuestCreated,
        Self::GuestUpdated,
        Self::GuestDisabled,
        Self::GuestEnabled,
        Self::GuestDeleted,
        Self::GuestConvertedToMember,
        Self::OrganizationUpdated,
        Self::TokenCreated,
        Self::TokenRevoked,
        Self::WebhookCreated,
        Self::WebhookUpdated,
        Self::WebhookDeleted,
        Self::WebhookDisabled,
        Self::WebhookEnabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GroupCreated => "group.created",
            Self::GroupUpdated => "group.updated",
            Self::GroupDeleted => "group.deleted",
            Self::GroupRestored => "group.restored",
            Self::GroupPurged => "group.purged",
            Self::GroupMembersChanged => "group.members_changed",
            Self::GroupLogoChanged => "group.logo_changed",
            Self::MemberCreated => "member.created",
            Self::MemberUpdated => "member.updated",
            Self::MemberRoleChanged => "member.role_changed",
            Self::MemberDisabled => "member.disabled",
            Self::MemberEnabled => "member.enabled",
            Self::MemberRemoved => "member.removed",
            Self::MemberConvertedToGuest => "member.converted_to_guest",
            Self::GuestCreated => "guest.created",
            Self::GuestUpdated => "guest.updated",
            Self::GuestDisabled => "guest.disabled",
            Self::GuestEnabled => "guest.enabled",
            Self::GuestDeleted => "guest.deleted",
            Self::GuestConvertedToMember => "guest.converted_to_member",
            Self::OrganizationUpdated => "organization.updated",
            Self::TokenCreated => "token.created",
            Self::TokenRevoked => "token.revoked",
            Self::WebhookCreated => "webhook.created",
            Self::WebhookUpdated => "webhook.updated",
            Self::WebhookDeleted => "webhook.deleted",
            Self::WebhookDisabled => "webhook.disabled",
            Self::WebhookEnabled => "webhook.enabled",
        }
    }

    /// Whether an event of this type can change what a caller's principal holds (a
    /// member's account, role or status, a token, the org's settings): group and webhook
    /// events cannot, nor can a guest's, unless the guest becomes a member.
    pub fn changes_callers(self) -> bool {
        match self.subject() {
            "group" | "webhook" => false,
            "guest" => self == Self::GuestConvertedToMember,
            _ => true,
        }
    }

    fn subject(self) -> &'static str {
        let name = self.as_str();
        name.split_once('.').map_or(name, |(subject, _)| subject)
    }
}

/// A filter on event types: exact names, or globs ending in `*` (`group.*`, `*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypeFilter {
    patterns: Vec<String>,
}

impl TypeFilter {
    /// A comma-separated list; each entry must be a known type or a glob matching one.
    /// `Err` names the first entry that matches nothing.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut patterns = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let filter = Self { patterns: vec![entry.to_owned()] };
            if !EventType::ALL.iter().any(|t| filter.matches(t.as_str())) {
                return Err(entry.to_owned());
            }
            patterns.push(entry.to_owned());
        }
        Ok(Self { patterns })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `name` passes (everything passes an empty filter).
    pub fn matches(&self, name: &str) -> bool {
        self.patterns.is_empty()
            || self.patterns.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => p == name,
            })
    }

    /// The exact type names it lets through (every type for an empty filter).
    pub fn names(&self) -> Vec<&'static str> {
        EventType::ALL.iter().map(|t| t.as_str()).filter(|name| self.matches(name)).collect()
    }
}

/// Who made a change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Actor {
    /// A user, through one of their tokens.
    User { id: UserId, email: Email, token_id: i64 },
    /// The admin command line.
    Cli,
    /// Roster itself, or a caller that is not a person (a seeder, a background task).
    #[default]
    System,
}

/// Who made a change and how: the actor, and what the request said about itself. Set
/// once per request by the HTTP layer (and once by the command line), read by the store
/// when a write begins, so that every write records it without each route passing it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub actor: Actor,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub client: Option<String>,
    /// The route template (`/organizations/{org}/groups/{id}`), never the path.
    pub route: Option<String>,
    pub idempotency_key: Option<String>,
}

tokio::task_local! {
    static CURRENT_ORIGIN: RefCell<Origin>;
}

impl Origin {
    pub fn cli() -> Self {
        Self { actor: Actor::Cli, ..Self::default() }
    }

    /// The origin of the change being made now ([`Actor::System`] outside any scope).
    pub fn current() -> Self {
        CURRENT_ORIGIN.try_with(|origin| origin.borrow().clone()).unwrap_or_default()
    }

    /// Runs `work` with `self` as the current origin.
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        CURRENT_ORIGIN.scope(RefCell::new(self), work).await
    }

    /// Changes the current origin, once the request has said more (who is calling, its
    /// idempotency key). Does nothing outside a scope.
    pub fn amend(change: impl FnOnce(&mut Origin)) {
        let _ = CURRENT_ORIGIN.try_with(|origin| change(&mut origin.borrow_mut()));
    }

    fn actor_json(&self) -> Value {
        match &self.actor {
            Actor::User { id, token_id, .. } => {
                json!({"type": "user", "id": id, "token_id": token_id})
            }
            Actor::Cli => json!({"type": "cli"}),
            Actor::System => json!({"type": "system"}),
        }
    }

    fn context_json(&self) -> Value {
        let (email, token_id) = match &self.actor {
            Actor::User { email, token_id, .. } => (Some(email.as_str()), Some(*token_id)),
            _ => (None, None),
        };
        json!({
            "actor_email": email,
            "token_id": token_id,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "client": self.client,
            "route": self.route,
            "idempotency_key": self.idempotency_key,
        })
    }
}

/// An event decided by a write, before the store gives it its place in the stream.
#[derive(Clone, Debug, PartialEq)]
pub struct EventDraft {
    pub kind: EventType,
    pub subject_id: String,
    /// The state after (`null` after a delete).
    pub object: Value,
    /// The previous values of the fields that changed (the whole state on a delete,
    /// `null` on a create).
    pub previous: Value,
    /// For one change split into several events: (index, count); `seal` gives the
    /// events of one split their shared transaction id.
    pub transaction: Option<(usize, usize)>,
    /// Made by Roster itself (a membership's end), whoever's write it rode along with.
    pub by_system: bool,
}

impl EventDraft {
    fn new(kind: EventType, subject_id: impl Into<String>, object: Value, previous: Value) -> Self {
        Self {
            kind,
            subject_id: subject_id.into(),
            object,
            previous,
            transaction: None,
            by_system: false,
        }
    }
}

/// An event with its place in the stream, as the store keeps it.
#[derive(Clone, Debug)]
pub struct SealedEvent {
    pub seq: u64,
    pub id: String,
    pub kind: EventType,
    pub subject_type: &'static str,
    pub subject_id: String,
    pub actor_id: Option<i64>,
    pub token_id: Option<i64>,
    pub request_id: Option<String>,
    pub created_at: Timestamp,
    /// The event as every reader gets it (JSON).
    pub payload: String,
    /// How it was made, for the audit log only (JSON).
    pub context: String,
}

impl SealedEvent {
    /// The payload around its seq's digits, for a store that learns the seq only in the
    /// statement storing the event (seal with a placeholder head, then put
    /// `before + seq + after`). `None` only if the payload has no seq, which `seal`
    /// never makes.
    pub fn payload_around_seq(&self) -> Option<(&str, &str)> {
        // The first `"seq":` is the event's own: only `id` (hex) and `type` (a fixed
        // name) come before it, and neither can hold it.
        let start = self.payload.find("\"seq\":")? + "\"seq\":".len();
        let digits = self.payload[start..].bytes().take_while(u8::is_ascii_digit).count();
        (digits > 0).then(|| (&self.payload[..start], &self.payload[start + digits..]))
    }
}

/// An event as the wire (and storage) holds it. The seq must stay the first field after
/// `id` and `type` (see [`SealedEvent::payload_around_seq`]).
#[derive(Serialize)]
struct WireEvent<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    seq: u64,
    timestamp: Timestamp,
    org_id: &'a str,
    subject: WireSubject<'a>,
    actor: &'a Value,
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction: Option<WireTransaction<'a>>,
    data: WireData<'a>,
}

#[derive(Serialize)]
struct WireSubject<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
}

#[derive(Serialize)]
struct WireTransaction<'a> {
    id: &'a str,
    index: usize,
    count: usize,
}

#[derive(Serialize)]
struct WireData<'a> {
    object: &'a Value,
    previous: &'a Value,
}

/// Gives `drafts` the seqs after `head` and seals them, at `now`, as made by `origin`.
pub fn seal(
    drafts: Vec<EventDraft>,
    org: &OrgId,
    head: u64,
    origin: &Origin,
    now: Timestamp,
) -> Result<Vec<SealedEvent>, getrandom::Error> {
    // Roster's own origin, made only for a write whose drafts include one of its own.
    let system = Origin::default();
    let of = |origin: &Origin| (origin.actor_json(), origin.context_json().to_string());
    let requested = of(origin);
    let own = drafts.iter().any(|d| d.by_system).then(|| of(&system));
    let mut sealed = Vec::with_capacity(drafts.len());
    let mut transaction_id = String::new();
    for (n, draft) in drafts.into_iter().enumerate() {
        let ((actor, context), origin) = match (&own, draft.by_system) {
            (Some(own), true) => (own, &system),
            _ => (&requested, origin),
        };
        let (actor_id, token_id) = match &origin.actor {
            Actor::User { id, token_id, .. } => (Some(id.get()), Some(*token_id)),
            _ => (None, None),
        };
        let seq = head + 1 + n as u64;
        let id = event_id(now)?;
        if let Some((0, _)) = draft.transaction {
            transaction_id = format!("txn_{}", hex::encode(crate::ids::random_bytes::<16>()?));
        }
        let wire = WireEvent {
            id: &id,
            kind: draft.kind.as_str(),
            seq,
            timestamp: now,
            org_id: org.as_str(),
            subject: WireSubject { kind: draft.kind.subject(), id: &draft.subject_id },
            actor,
            request_id: origin.request_id.as_deref(),
            transaction: draft.transaction.map(|(index, count)| WireTransaction {
                id: &transaction_id,
                index,
                count,
            }),
            data: WireData { object: &draft.object, previous: &draft.previous },
        };
        // Serializing borrowed values into a String cannot fail.
        let payload = serde_json::to_string(&wire).unwrap_or_default();
        sealed.push(SealedEvent {
            seq,
            id,
            kind: draft.kind,
            subject_type: draft.kind.subject(),
            subject_id: draft.subject_id,
            actor_id,
            token_id,
            request_id: origin.request_id.clone(),
            created_at: now,
            payload,
            context: context.clone(),
        });
    }
    Ok(sealed)
}

/// `evt_` and a time-ordered 128-bit id in 32 hex digits: 48 bits of milliseconds, then
/// 64 bits drawn once per process and a 16-bit counter, so ids sort by time (as text
/// too), never repeat within a process, and cost no system call each.
fn event_id(now: Timestamp) -> Result<String, getrandom::Error> {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PROCESS: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let process = match PROCESS.get() {
        Some(process) => *process,
        None => {
            let drawn = u64::from_le_bytes(crate::ids::random_bytes::<8>()?);
            *PROCESS.get_or_init(|| drawn)
        }
    };
    let millis = u64::try_from(now.millis()).unwrap_or(0) & 0xffff_ffff_ffff;
    let count = COUNTER.fetch_add(1, Ordering::Relaxed) & 0xffff;
    Ok(format!("evt_{millis:012x}{process:016x}{count:04x}"))
}

/// The audit log's entry: the event, plus how it was made.
pub fn audit_entry(payload: &str, context: &str) -> String {
    match payload.strip_suffix('}') {
        Some(open) => format!("{open},\"context\":{context}}}"),
        None => payload.to_owned(),
    }
}

// --- what each change says ---

#[derive(Serialize)]
struct GroupView<'a> {
    id: &'a str,
    name: &'a str,
    description: &'a str,
    member_count: u64,
    guest_count: u64,
    version: i64,
    logo: Option<LogoView<'a>>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

#[derive(Serialize)]
struct LogoView<'a> {
    asset_id: &'a str,
    filename: &'a str,
    content_type: &'a str,
    version: i64,
}

/// A group as events show it: its own fields and counts, never its (unbounded) lists.
pub fn group_object(group: &Group) -> Value {
    json!(GroupView {
        id: group.id.as_str(),
        name: &group.name,
        description: &group.description,
        member_count: group.member_count,
        guest_count: group.guest_count,
        version: group.version,
        logo: group.logo.as_ref().map(|logo| LogoView {
            asset_id: logo.asset_id.as_str(),
            filename: &logo.filename,
            content_type: &logo.content_type,
            version: logo.version,
        }),
        created_at: group.created_at,
        updated_at: group.updated_at,
    })
}

pub fn member_object(member: &OrgMember) -> Value {
    let user = &member.user;
    json!({
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "timezone": user.timezone,
        "role": member.role.as_str(),
        "status": member.status.as_str(),
        "is_default_admin": member.is_default_admin,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    })
}

pub fn guest_object(guest: &Guest) -> Value {
    json!({
        "id": guest.id,
        "email": guest.email,
        "first_name": guest.first_name,
        "last_name": guest.last_name,
        "status": guest.status.as_str(),
        "details": guest.details,
        "associated_members": guest.associated_members,
        "disabled_at": guest.disabled_at,
        "created_at": guest.created_at,
        "updated_at": guest.updated_at,
    })
}

pub fn organization_object(org: &Organization) -> Value {
    json!({
        "id": org.id.as_str(),
        "name": org.name,
        "allow_non_admins_manage_groups": org.allow_non_admins_manage_groups,
        "created_at": org.created_at,
    })
}

/// A token's record; never its secret (which is not stored) nor its hash.
pub fn token_object(token: &TokenRecord) -> Value {
    json!({
        "id": token.id,
        "user_id": token.user_id,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    })
}

/// The previous values of the fields of `before` that `after` changed.
pub fn changed_fields(before: &Value, after: &Value) -> Value {
    let (Value::Object(before), Value::Object(after)) = (before, after) else {
        return before.clone();
    };
    let previous: Map<String, Value> = before
        .iter()
        .filter(|(key, value)| after.get(key.as_str()) != Some(value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Value::Object(previous)
}

/// `kind` for a change of one thing from `before` to `after`.
fn changed(kind: EventType, id: String, before: Value, after: Value) -> EventDraft {
    let previous = changed_fields(&before, &after);
    EventDraft::new(kind, id, after, previous)
}

pub fn group_created(group: &Group) -> EventDraft {
    EventDraft::new(EventType::GroupCreated, group.id.as_str(), group_object(group), Value::Null)
}

/// The people a new group starts with, as one `group.members_changed` (none for a group
/// created empty), so that a follower learns who is in it, as for any later change.
pub fn initial_members(group: &Group) -> Vec<EventDraft> {
    let delta = MembershipDelta {
        added_members: group.members.clone(),
        added_guests: group.guests.clone(),
        ..MembershipDelta::default()
    };
    let empty = Group { member_count: 0, guest_count: 0, ..group.clone() };
    members_changed(&empty, group, &delta)
}

/// `group.updated` when the group's own fields changed (its name or description); the
/// version and time alone move with every membership change, which has its own event.
pub fn group_updated(before: &Group, after: &Group) -> Option<EventDraft> {
    (before.name != after.name || before.description != after.description).then(|| {
        changed(
            EventType::GroupUpdated,
            after.id.to_string(),
            group_object(before),
            group_object(after),
        )
    })
}

pub fn group_deleted(group: &Group) -> EventDraft {
    EventDraft::new(EventType::GroupDeleted, group.id.as_str(), Value::Null, group_object(group))
}

/// `group.restored`: the group back from the trash, as it now is.
pub fn group_restored(trashed: &Group, after: &Group) -> EventDraft {
    let mut previous = changed_fields(&group_object(trashed), &group_object(after));
    if let Value::Object(fields) = &mut previous {
        fields.insert("deleted_at".to_owned(), json!(trashed.deleted_at));
    }
    EventDraft::new(EventType::GroupRestored, after.id.as_str(), group_object(after), previous)
}

/// `group.purged`: the group (live or trashed) and its logo gone for good.
pub fn group_purged(group: &Group) -> EventDraft {
    let mut previous = group_object(group);
    if let Value::Object(fields) = &mut previous {
        fields.insert("deleted_at".to_owned(), json!(group.deleted_at));
    }
    EventDraft::new(EventType::GroupPurged, group.id.as_str(), Value::Null, previous)
}

pub fn group_logo_changed(before: &Group, after: &Group) -> EventDraft {
    changed(
        EventType::GroupLogoChanged,
        after.id.to_string(),
        group_object(before),
        group_object(after),
    )
}

/// Who joined and left a group in one change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MembershipDelta {
    pub added_members: Vec<UserId>,
    pub removed_members: Vec<UserId>,
    pub added_guests: Vec<Email>,
    pub removed_guests: Vec<Email>,
    /// When the memberships of these members (added now or present) end from now on
    /// (`None`: never).
    pub member_expiries: Vec<(UserId, Option<Timestamp>)>,
    pub guest_expiries: Vec<(Email, Option<Timestamp>)>,
}

impl MembershipDelta {
    pub fn is_empty(&self) -> bool {
        self.added_members.is_empty()
            && self.removed_members.is_empty()
            && self.added_guests.is_empty()
            && self.removed_guests.is_empty()
            && self.member_expiries.is_empty()
            && self.guest_expiries.is_empty()
    }

    fn len(&self) -> usize {
        self.added_members.len()
            + self.removed_members.len()
            + self.added_guests.len()
            + self.removed_guests.len()
            + self.member_expiries.len()
            + self.guest_expiries.len()
    }

    /// The delta between two full lists.
    pub fn between(before: &Group, after: &Group) -> Self {
        fn minus<T: Ord + Clone>(a: &[T], b: &[T]) -> Vec<T> {
            let mut out: Vec<T> =
                a.iter().filter(|x| b.binary_search(x).is_err()).cloned().collect();
            out.sort();
            out
        }
        let sorted = |v: &[UserId]| {
            let mut v = v.to_vec();
            v.sort();
            v
        };
        let sorted_emails = |v: &[Email]| {
            let mut v = v.to_vec();
            v.sort();
            v
        };
        let (bm, am) = (sorted(&before.members), sorted(&after.members));
        let (bg, ag) = (sorted_emails(&before.guests), sorted_emails(&after.guests));
        Self {
            added_members: minus(&am, &bm),
            removed_members: minus(&bm, &am),
            added_guests: minus(&ag, &bg),
            removed_guests: minus(&bg, &ag),
            ..Self::default()
        }
    }

    /// Splits into parts naming at most `MAX_IDS_PER_EVENT` people each.
    fn chunks(&self) -> Vec<Self> {
        let mut parts = vec![Self::default()];
        let mut room = MAX_IDS_PER_EVENT;
        let mut next = |parts: &mut Vec<Self>| {
            if room == 0 {
                parts.push(Self::default());
                room = MAX_IDS_PER_EVENT;
            }
            room -= 1;
        };
        for id in &self.added_members {
            next(&mut parts);
            if let Some(part) = parts.last_mut() {
                part.added_members.push(*id);
            }
        }
        for id in &self.removed_members {
            next(&mut parts);
            if let Some(part) = parts.last_mut() {
                part.removed_members.push(*id);
            }
        }
        for email in &self.added_guests {
            next(&mut parts);
            if let Some(part) = parts.last_mut() {
                part.added_guests.push(email.clone());
            }
        }
        for email in &self.removed_guests {
            next(&mut parts);
            if let Some(part) = parts.last_mut() {
                part.removed_guests.push(email.clone());
            }
        }
        for expiry in &self.member_expiries {
            next(&mut parts);
            if let Some(part) = parts.last_mut() {
                part.member_expiries.push(*expiry);
            }
        }
        for expiry in &self.guest_expiries {
            next(&mut parts);
            if let Some(part) = parts.last_mut() {
                part.guest_expiries.push(expiry.clone());
            }
        }
        parts
    }
}

/// `group.members_changed` for `delta` (none when it is empty), split into consecutive
/// events of one transaction when it names more than `MAX_IDS_PER_EVENT` people.
pub fn members_changed(before: &Group, after: &Group, delta: &MembershipDelta) -> Vec<EventDraft> {
    members_changed_because(before, after, delta, None)
}

/// Why Roster itself changed a group's people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemReason {
    /// Their memberships ended at this instant.
    Expired(Timestamp),
    /// The group came back from the trash without them (they left or were disabled).
    NotRestored,
}

/// `group.members_changed` made by Roster itself: actor `system`, with `reason` (and for
/// an expiry, `expired_at`) in the object.
pub fn members_changed_by_system(
    before: &Group,
    after: &Group,
    delta: &MembershipDelta,
    reason: SystemReason,
) -> Vec<EventDraft> {
    members_changed_because(before, after, delta, Some(reason))
}

fn members_changed_because(
    before: &Group,
    after: &Group,
    delta: &MembershipDelta,
    reason: Option<SystemReason>,
) -> Vec<EventDraft> {
    if delta.is_empty() {
        return Vec::new();
    }
    let parts = if delta.len() > MAX_IDS_PER_EVENT { delta.chunks() } else { vec![delta.clone()] };
    let previous = json!({
        "member_count": before.member_count,
        "guest_count": before.guest_count,
        "version": before.version,
        "updated_at": before.updated_at,
    });
    let count = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(index, part)| {
            let mut object = json!({
                "group": group_object(after),
                "added_member_ids": part.added_members,
                "removed_member_ids": part.removed_members,
                "added_guest_emails": part.added_guests,
                "removed_guest_emails": part.removed_guests,
                "member_count": after.member_count,
                "guest_count": after.guest_count,
            });
            if let Value::Object(fields) = &mut object {
                // Only when there is something to say, so that plain changes read as before.
                if !part.member_expiries.is_empty() {
                    let expiries: Vec<Value> = part
                        .member_expiries
                        .iter()
                        .map(|(id, at)| json!({"id": id, "expires_at": at}))
                        .collect();
                    fields.insert("member_expiries".to_owned(), Value::Array(expiries));
                }
                if !part.guest_expiries.is_empty() {
                    let expiries: Vec<Value> = part
                        .guest_expiries
                        .iter()
                        .map(|(email, at)| json!({"email": email, "expires_at": at}))
                        .collect();
                    fields.insert("guest_expiries".to_owned(), Value::Array(expiries));
                }
                match reason {
                    Some(SystemReason::Expired(at)) => {
                        fields.insert("reason".to_owned(), json!("expired"));
                        fields.insert("expired_at".to_owned(), json!(at));
                    }
                    Some(SystemReason::NotRestored) => {
                        fields.insert("reason".to_owned(), json!("not_restored"));
                    }
                    None => {}
                }
            }
            let mut draft = EventDraft::new(
                EventType::GroupMembersChanged,
                after.id.as_str(),
                object,
                previous.clone(),
            );
            draft.transaction = (count > 1).then_some((index, count));
            draft.by_system = matches!(reason, Some(SystemReason::Expired(_)));
            draft
        })
        .collect()
}

pub fn member_created(member: &OrgMember) -> EventDraft {
    EventDraft::new(
        EventType::MemberCreated,
        member.user.id.to_string(),
        member_object(member),
        Value::Null,
    )
}

/// A member who joined (`before`: none), or came back as invited (`member.updated`).
pub fn member_joined(before: Option<&OrgMember>, after: &OrgMember) -> Option<EventDraft> {
    match before {
        None => Some(member_created(after)),
        Some(before) => member_changed(EventType::MemberUpdated, before, after),
    }
}

/// `kind` for a member who went from `before` to `after` (`None`: nothing changed).
pub fn member_changed(
    kind: EventType,
    before: &OrgMember,
    after: &OrgMember,
) -> Option<EventDraft> {
    (before != after).then(|| {
        changed(kind, after.user.id.to_string(), member_object(before), member_object(after))
    })
}

/// A member who stopped being one (converted to a guest): their last state.
pub fn member_gone(kind: EventType, before: &OrgMember, after: Value) -> EventDraft {
    EventDraft::new(kind, before.user.id.to_string(), after, member_object(before))
}

pub fn guest_created(guest: &Guest) -> EventDraft {
    EventDraft::new(EventType::GuestCreated, guest.email.as_str(), guest_object(guest), Value::Null)
}

pub fn guest_changed(kind: EventType, before: &Guest, after: &Guest) -> Option<EventDraft> {
    (before != after)
        .then(|| changed(kind, after.email.to_string(), guest_object(before), guest_object(after)))
}

/// A guest who stopped being one (deleted, or converted to a member): their last state.
pub fn guest_gone(kind: EventType, before: &Guest, after: Value) -> EventDraft {
    EventDraft::new(kind, before.email.as_str(), after, guest_object(before))
}

pub fn organization_updated(before: &Organization, after: &Organization) -> Option<EventDraft> {
    (before != after).then(|| {
        changed(
            EventType::OrganizationUpdated,
            after.id.to_string(),
            organization_object(before),
            organization_object(after),
        )
    })
}

pub fn token_created(token: &TokenRecord) -> EventDraft {
    EventDraft::new(EventType::TokenCreated, token.id.to_string(), token_object(token), Value::Null)
}

/// `None` when the token was revoked already.
pub fn token_revoked(before: &TokenRecord, after: &TokenRecord) -> Option<EventDraft> {
    (before.revoked_at.is_none() && after.revoked_at.is_some()).then(|| {
        changed(
            EventType::TokenRevoked,
            after.id.to_string(),
            token_object(before),
            token_object(after),
        )
    })
}

/// A webhook endpoint as events show it: never its secret.
pub fn webhook_object(hook: &crate::webhooks::Webhook) -> Value {
    json!({
        "id": hook.id.as_str(),
        "url": hook.url,
        "event_types": hook.event_types,
        "description": hook.description,
        "status": hook.status.as_str(),
        "failing_since": hook.failing_since,
        "previous_secret_expires_at": hook.previous_secret_expires_at,
        "created_at": hook.created_at,
        "updated_at": hook.updated_at,
    })
}

pub fn webhook_created(hook: &crate::webhooks::Webhook) -> EventDraft {
    EventDraft::new(EventType::WebhookCreated, hook.id.as_str(), webhook_object(hook), Value::Null)
}

/// A change to an endpoint by an admin: `webhook.enabled` or `webhook.disabled` when its
/// status changed, else `webhook.updated` (`None`: nothing changed).
pub fn webhook_changed(
    before: &crate::webhooks::Webhook,
    after: &crate::webhooks::Webhook,
) -> Option<EventDraft> {
    use crate::webhooks::EndpointStatus;
    let kind = match (before.status, after.status) {
        (b, a) if b == a => EventType::WebhookUpdated,
        (_, EndpointStatus::Enabled) => EventType::WebhookEnabled,
        _ => EventType::WebhookDisabled,
    };
    (before != after)
        .then(|| changed(kind, after.id.to_string(), webhook_object(before), webhook_object(after)))
}

/// An endpoint Roster disabled (410, or failing too long): made by Roster itself.
pub fn webhook_disabled(after: &crate::webhooks::Webhook) -> EventDraft {
    let mut draft = EventDraft::new(
        EventType::WebhookDisabled,
        after.id.as_str(),
        webhook_object(after),
        json!({"status": "enabled"}),
    );
    draft.by_system = true;
    draft
}

pub fn webhook_deleted(before: &crate::webhooks::Webhook) -> EventDraft {
    EventDraft::new(
        EventType::WebhookDeleted,
        before.id.as_str(),
        Value::Null,
        webhook_object(before),
    )
}

// --- cursors ---

/// A place in one organization's stream: the seq of the last event seen (0: before the
/// first). Opaque to clients: `cur_` and hex of the org and the seq, so that a cursor of
/// another organization is recognised and refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor(pub u64);

impl Cursor {
    pub fn encode(self, org: &OrgId) -> String {
        format!("cur_{}", hex::encode(format!("{}.{}", org.as_str(), self.0)))
    }

    /// `Err` for something that is not a cursor, or one of another organization.
    pub fn decode(raw: &str, org: &OrgId) -> Result<Self, CursorError> {
        let text = raw
            .strip_prefix("cur_")
            .and_then(|hex_part| hex::decode(hex_part).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(CursorError::Malformed)?;
        let (of, seq) = text.split_once('.').ok_or(CursorError::Malformed)?;
        let seq: u64 = seq.parse().map_err(|_| CursorError::Malformed)?;
        if of != org.as_str() {
            return Err(CursorError::OtherOrganization);
        }
        Ok(Self(seq))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CursorError {
    Malformed,
    OtherOrganization,
}

/// Where an organization's stream stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamBounds {
    /// The seq of the newest event (0: none yet).
    pub head: u64,
    /// Events up to this seq have been trimmed (0: none).
    pub trimmed_through: u64,
}

/// A stored event as readers get it.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    pub seq: u64,
    pub kind: String,
    pub payload: String,
    pub context: String,
}

/// One read of the stream: the matching events after a seq, and how far the read looked.
#[derive(Clone, Debug, Default)]
pub struct StreamPage {
    pub events: Vec<StoredEvent>,
    /// The last seq the read looked at (matching or not): the next read starts after it.
    pub scanned_through: u64,
    pub bounds: StreamBounds,
}

/// What the audit log is asked for.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub actor_id: Option<i64>,
    pub token_id: Option<i64>,
    pub types: Vec<&'static str>,
    pub subject_type: Option<String>,
    pub subject_id: Option<String>,
    pub request_id: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Newest first unless false.
    pub newest_first: bool,
    /// Exclusive: entries before (newest first) or after this seq.
    pub from_seq: Option<u64>,
    pub limit: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_filters_take_names_and_globs_and_refuse_unknown_ones() {
        let filter = TypeFilter::parse("group.*, member.disabled").ok();
        let filter = filter.unwrap_or_default();
        assert!(filter.matches("group.members_changed"));
        assert!(filter.matches("member.disabled"));
        assert!(!filter.matches("member.enabled"));
        assert_eq!(TypeFilter::parse("grup.*"), Err("grup.*".to_owned()));
        assert!(TypeFilter::parse("").map(|f| f.is_empty()).unwrap_or(false));
        assert_eq!(TypeFilter::parse("*").map(|f| f.names().len()), Ok(EventType::ALL.len()));
    }

    #[test]
    fn cursors_round_trip_and_know_their_organization() {
        let org = OrgId::from_stored("0123456789abcdef0123456789abcdef".into());
        let other = OrgId::from_stored("fedcba9876543210fedcba9876543210".into());
        let raw = Cursor(42).encode(&org);
        assert_eq!(Cursor::decode(&raw, &org), Ok(Cursor(42)));
        assert_eq!(Cursor::decode(&raw, &other), Err(CursorError::OtherOrganization));
        assert_eq!(Cursor::decode("cur_zz", &org), Err(CursorError::Malformed));
        assert_eq!(Cursor::decode("42", &org), Err(CursorError::Malformed));
    }

    #[test]
    fn big_membership_changes_are_split_into_one_transaction() {
        let now = Timestamp::from_millis(1);
        let group = Group {
            id: crate::GroupId::from_stored("0123456789abcdef0123456789abcdef".into()),
            name: "g".into(),
            description: "d".into(),
            members: Vec::new(),
            guests: Vec::new(),
            member_count: 0,
            guest_count: 0,
            version: 1,
            logo: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            next_expiry: None,
            member_expiries: Default::default(),
            guest_expiries: Default::default(),
        };
        let delta = MembershipDelta {
            added_members: (1..=250).filter_map(UserId::new).collect(),
            ..MembershipDelta::default()
        };
        let drafts = members_changed(&group, &group, &delta);
        assert_eq!(drafts.len(), 3);
        let sizes: Vec<usize> = drafts
            .iter()
            .map(|d| d.object["added_member_ids"].as_array().map_or(0, Vec::len))
            .collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        let marks: Vec<(usize, usize)> = drafts.iter().filter_map(|d| d.transaction).collect();
        assert_eq!(marks, vec![(0, 3), (1, 3), (2, 3)]);
        let org = OrgId::from_stored("0123456789abcdef0123456789abcdef".into());
        let sealed = seal(drafts, &org, 0, &Origin::default(), now).unwrap_or_default();
        let ids: Vec<Value> = sealed
            .iter()
            .map(|e| serde_json::from_str::<Value>(&e.payload).unwrap_or_default())
            .map(|e| e["transaction"]["id"].clone())
            .collect();
        assert!(ids[0].as_str().is_some_and(|id| id.starts_with("txn_")));
        assert!(ids.iter().all(|id| *id == ids[0]));
    }

    #[test]
    fn sealed_events_carry_their_place_and_origin() -> Result<(), getrandom::Error> {
        let org = OrgId::from_stored("0123456789abcdef0123456789abcdef".into());
        let origin = Origin { request_id: Some("r1".into()), ..Origin::cli() };
        let draft = EventDraft::new(EventType::TokenCreated, "7", json!({"id": 7}), Value::Null);
        let sealed =
            seal(vec![draft.clone(), draft], &org, 41, &origin, Timestamp::from_millis(5))?;
        let seqs: Vec<u64> = sealed.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![42, 43]);
        let first: Value = serde_json::from_str(&sealed[0].payload).unwrap_or_default();
        assert_eq!(first["type"], "token.created");
        assert_eq!(first["seq"], 42);
        assert_eq!(first["actor"], json!({"type": "cli"}));
        assert_eq!(first["timestamp"], "1970-01-01T00:00:00.005Z");
        assert_eq!(first["subject"], json!({"type": "token", "id": "7"}));
        assert!(sealed[0].id.starts_with("evt_000000000005"));
        assert_eq!(sealed[0].id.len(), 36);
        assert_ne!(sealed[0].id, sealed[1].id);
        Ok(())
    }

    #[test]
    fn a_payload_splits_around_its_own_seq_whatever_its_data_holds() -> Result<(), getrandom::Error>
    {
        let org = OrgId::from_stored("0123456789abcdef0123456789abcdef".into());
        let tricky = json!({"name": "\"seq\":12", "seq": 99});
        let draft = EventDraft::new(EventType::GroupCreated, "g", tricky, Value::Null);
        let sealed = seal(vec![draft], &org, 0, &Origin::cli(), Timestamp::from_millis(5))?;
        let Some((before, after)) = sealed[0].payload_around_seq() else {
            panic!("no seq in {}", sealed[0].payload);
        };
        // What a store that numbers events itself puts together.
        let numbered: Value =
            serde_json::from_str(&format!("{before}1234{after}")).unwrap_or_default();
        let mut expected: Value = serde_json::from_str(&sealed[0].payload).unwrap_or_default();
        expected["seq"] = json!(1234);
        assert_eq!(numbered, expected);
        assert_eq!(numbered["data"]["object"]["seq"], 99);
        Ok(())
    }

    #[test]
    fn only_events_about_people_tokens_and_settings_change_callers() {
        let changing: Vec<&str> =
            EventType::ALL.iter().filter(|t| t.changes_callers()).map(|t| t.as_str()).collect();
        assert_eq!(
            changing,
            vec![
                "member.created",
                "member.updated",
                "member.role_changed",
                "member.disabled",
                "member.enabled",
                "member.removed",
                "member.converted_to_guest",
                "guest.converted_to_member",
                "organization.updated",
                "token.created",
                "token.revoked",
            ]
        );
    }
}
