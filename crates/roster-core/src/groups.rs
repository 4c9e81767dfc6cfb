//! Group rules: what a create or update body must hold, which references must resolve,
//! and how listings are filtered, sorted and paged.
//!
//! Bodies are read as Tallyfy's Laravel back end reads them: strings are trimmed, an
//! empty string counts as absent, and keys without a rule are ignored.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::events::{self, EventDraft, MembershipDelta};
use crate::input::{self, Input, Presence};
use crate::listing::SortField;
use crate::model::Group;
use crate::validation::messages;
use crate::{Email, GroupId, Timestamp, UserId, ValidationErrors};

pub const NAME_MAX_CHARS: usize = 200;

/// A group's name: trimmed, non-empty, at most 200 characters (not bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupName(String);

impl GroupName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What uniqueness and name order compare: the Unicode-lowercased name, by code point,
    /// so every backend agrees without depending on a collation.
    pub fn key(&self) -> String {
        fold_case(&self.0)
    }
}

/// The one case folding Roster uses, for names, descriptions and `q` alike.
pub fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

/// A member id as given, with its position in the request for error keys (`members.3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberRef {
    pub index: usize,
    pub id: UserId,
    /// What a `PATCH` element said about when the membership ends.
    pub expiry: ExpirySpec,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestRef {
    pub index: usize,
    pub email: Email,
    pub expiry: ExpirySpec,
}

/// When a membership being added ends, as an `add` element says it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExpirySpec {
    /// A plain id or email: a newcomer is permanent, someone present keeps theirs.
    #[default]
    Unspecified,
    /// `"expires_at": null`.
    Permanent,
    At(Timestamp),
}

impl ExpirySpec {
    /// The expiry to store for a membership that is now `current` (`None`: permanent),
    /// when it changes.
    fn change_from(self, current: Option<Timestamp>) -> Option<Option<Timestamp>> {
        let wanted = match self {
            Self::Unspecified => return None,
            Self::Permanent => None,
            Self::At(at) => Some(at),
        };
        (wanted != current).then_some(wanted)
    }
}

/// The furthest ahead a membership may end.
pub const MAX_EXPIRY_AHEAD_MILLIS: i64 = 10 * 366 * 24 * 60 * 60 * 1000;

/// A validated create or update. `None` means "leave as it is" (update) and never
/// occurs for `name` and `description` on create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupWrite {
    pub name: Option<GroupName>,
    pub description: Option<String>,
    /// Present (even empty) replaces the whole list.
    pub members: Option<Vec<MemberRef>>,
    pub guests: Option<Vec<GuestRef>>,
}

impl GroupWrite {
    /// The member list to store: ascending, duplicates collapsed.
    pub fn member_ids(&self) -> Option<Vec<UserId>> {
        self.members.as_ref().map(|refs| {
            let mut ids: Vec<UserId> = refs.iter().map(|r| r.id).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        })
    }

    /// The guest list to store: ascending, duplicates collapsed.
    pub fn guest_emails(&self) -> Option<Vec<Email>> {
        self.guests.as_ref().map(|refs| {
            let mut emails: Vec<Email> = refs.iter().map(|r| r.email.clone()).collect();
            emails.sort_unstable();
            emails.dedup();
            emails
        })
    }
}

/// The group a (validated) create makes: version 1, counts from its lists, created and
/// last updated `now`. `None` when the write lacks a name or description (a create's
/// parser requires both, so a backend treats `None` as a bug).
pub fn plan_create(id: GroupId, write: &GroupWrite, now: Timestamp) -> Option<Group> {
    let (name, description) = (write.name.as_ref()?, write.description.as_ref()?);
    let members = write.member_ids().unwrap_or_default();
    let guests = write.guest_emails().unwrap_or_default();
    Some(Group {
        id,
        name: name.as_str().to_owned(),
        description: description.clone(),
        member_count: members.len() as u64,
        guest_count: guests.len() as u64,
        members,
        guests,
        version: 1,
        logo: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        next_expiry: None,
        member_expiries: Default::default(),
        guest_expiries: Default::default(),
    })
}

/// What an update (`PUT`) does to a group: decided here, once, for every backend, which
/// then stores exactly this.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdatePlan {
    /// The group as it is to be stored and answered.
    pub after: Group,
    /// The membership rows to insert and delete: people who stay keep their rows (and
    /// their expiry); newcomers are permanent.
    pub delta: MembershipDelta,
    /// Whether anything changed: an update that changes nothing keeps its version and
    /// `last_updated`, and nothing is written.
    pub changed: bool,
    /// What the change says in the stream.
    pub events: Vec<EventDraft>,
}

/// Applies a (validated) update to the group as it is now: given fields replace the
/// stored ones, a given `members` or `guests` list replaces the whole list, and when
/// anything differs the counts follow the lists, the version goes up by one and
/// `last_updated` becomes `now`.
pub fn plan_update(current: Group, write: &GroupWrite, now: Timestamp) -> UpdatePlan {
    let before = current.clone();
    let mut after = current;
    let mut changed = false;
    if let Some(name) = write.name.as_ref().filter(|n| n.as_str() != after.name) {
        after.name = name.as_str().to_owned();
        changed = true;
    }
    if let Some(description) = write.description.as_ref().filter(|d| **d != after.description) {
        after.description = description.clone();
        changed = true;
    }
    if let Some(members) = write.member_ids().filter(|m| *m != after.members) {
        after.members = members;
        changed = true;
    }
    if let Some(guests) = write.guest_emails().filter(|g| *g != after.guests) {
        after.guests = guests;
        changed = true;
    }
    let delta = MembershipDelta::between(&before, &after);
    after.member_expiries.retain(|id, _| after.members.binary_search(id).is_ok());
    after.guest_expiries.retain(|email, _| after.guests.binary_search(email).is_ok());
    if changed {
        after.member_count = after.members.len() as u64;
        after.guest_count = after.guests.len() as u64;
        after.version += 1;
        after.updated_at = now;
    }
    let mut events: Vec<EventDraft> = events::group_updated(&before, &after).into_iter().collect();
    events.extend(events::members_changed(&before, &after, &delta));
    UpdatePlan { after, delta, changed, events }
}

/// What a membership change does to a group (a `PATCH` of its members or guests, or a
/// person leaving the organization): decided here, once, for every backend.
#[derive(Clone, Debug, PartialEq)]
pub struct MembershipPlan {
    /// The group as it is to be stored (its own columns; lists are not loaded).
    pub after: Group,
    /// The rows to insert and delete: only real changes, never a present person added.
    pub delta: MembershipDelta,
    pub events: Vec<EventDraft>,
}

impl MembershipPlan {
    /// Whether anything is to be written.
    pub fn changed(&self) -> bool {
        !self.delta.is_empty()
    }

    /// Applies `delta` to `current`: counts follow, and when anything changes the version
    /// goes up by one and `last_updated` becomes `now`.
    fn of(current: Group, delta: MembershipDelta, now: Timestamp) -> Self {
        let before = current.clone();
        let mut after = current;
        if !delta.is_empty() {
            let grow = |count: u64, added: usize, removed: usize| {
                (count + added as u64).saturating_sub(removed as u64)
            };
            after.member_count =
                grow(after.member_count, delta.added_members.len(), delta.removed_members.len());
            after.guest_count =
                grow(after.guest_count, delta.added_guests.len(), delta.removed_guests.len());
            after.version += 1;
            after.updated_at = now;
        }
        let events = events::members_changed(&before, &after, &delta);
        Self { after, delta, events }
    }
}

/// `PATCH .../members`, given which of the patch's people are in the group now and
/// when their membership ends (`None`: permanent): adding someone present changes only
/// an expiry the element names, removing someone absent changes nothing. Newcomers end
/// when their element says, or never.
pub fn plan_member_patch(
    current: Group,
    patch: &MembershipPatch<MemberRef>,
    present: &HashMap<UserId, Option<Timestamp>>,
    now: Timestamp,
) -> MembershipPlan {
    let (added_members, member_expiries) =
        additions(patch.add.iter().map(|r| (r.id, r.expiry)), present);
    let delta = MembershipDelta {
        added_members,
        member_expiries,
        removed_members: distinct(
            patch.remove.iter().map(|r| r.id).filter(|id| present.contains_key(id)),
        ),
        ..MembershipDelta::default()
    };
    MembershipPlan::of(current, delta, now)
}

/// `PATCH .../guests`, likewise.
pub fn plan_guest_patch(
    current: Group,
    patch: &MembershipPatch<GuestRef>,
    present: &HashMap<Email, Option<Timestamp>>,
    now: Timestamp,
) -> MembershipPlan {
    let (added_guests, guest_expiries) =
        additions(patch.add.iter().map(|r| (r.email.clone(), r.expiry)), present);
    let delta = MembershipDelta {
        added_guests,
        guest_expiries,
        removed_guests: distinct(
            patch.remove.iter().map(|r| r.email.clone()).filter(|e| present.contains_key(e)),
        ),
        ..MembershipDelta::default()
    };
    MembershipPlan::of(current, delta, now)
}

/// The newcomers among `add` (ascending), and the expiries to store: a newcomer's when
/// it has one, a present person's when the element changes it. A person named twice
/// takes the last element's expiry.
#[allow(clippy::type_complexity)]
fn additions<K: Ord + Clone + std::hash::Hash>(
    add: impl Iterator<Item = (K, ExpirySpec)>,
    present: &HashMap<K, Option<Timestamp>>,
) -> (Vec<K>, Vec<(K, Option<Timestamp>)>) {
    let named: BTreeMap<K, ExpirySpec> = add.collect();
    let mut newcomers = Vec::new();
    let mut expiries = Vec::new();
    for (key, spec) in named {
        match present.get(&key) {
            None => {
                if let ExpirySpec::At(at) = spec {
                    expiries.push((key.clone(), Some(at)));
                }
                newcomers.push(key);
            }
            Some(current) => {
                if let Some(change) = spec.change_from(*current) {
                    expiries.push((key, change));
                }
            }
        }
    }
    (newcomers, expiries)
}

/// Someone who leaves the organization (or stops being a guest of it) leaves each of
/// `groups` (those they are in): each changes, as a removal would change it.
pub fn plan_leave_everywhere(
    groups: Vec<Group>,
    leaving: &Leaving,
    now: Timestamp,
) -> Vec<MembershipPlan> {
    groups
        .into_iter()
        .map(|group| {
            let delta = match leaving {
                Leaving::Member(id) => {
                    MembershipDelta { removed_members: vec![*id], ..MembershipDelta::default() }
                }
                Leaving::Guest(email) => MembershipDelta {
                    removed_guests: vec![email.clone()],
                    ..MembershipDelta::default()
                },
            };
            MembershipPlan::of(group, delta, now)
        })
        .collect()
}

/// The memberships of a group that have ended by `now` and are still stored, as the
/// sweep (or a write to the group) finds them: each instant's become one change, in
/// order, made by Roster itself, whose events carry the instant (`expired_at`), so that
/// memberships that ended while the server was down say when they really ended.
pub fn plan_expiry(
    current: Group,
    ended_members: &[(UserId, Timestamp)],
    ended_guests: &[(Email, Timestamp)],
    now: Timestamp,
) -> Vec<MembershipPlan> {
    let mut by_instant: BTreeMap<Timestamp, MembershipDelta> = BTreeMap::new();
    for (id, at) in ended_members {
        by_instant.entry(*at).or_default().removed_members.push(*id);
    }
    for (email, at) in ended_guests {
        by_instant.entry(*at).or_default().removed_guests.push(email.clone());
    }
    let mut plans = Vec::with_capacity(by_instant.len());
    let mut group = current;
    for (at, mut delta) in by_instant {
        delta.removed_members.sort_unstable();
        delta.removed_members.dedup();
        delta.removed_guests.sort_unstable();
        delta.removed_guests.dedup();
        let mut plan = MembershipPlan::of(group.clone(), delta, now);
        plan.events = events::members_changed_by_system(
            &group,
            &plan.after,
            &plan.delta,
            events::SystemReason::Expired(at),
        );
        group = plan.after.clone();
        plans.push(plan);
    }
    plans
}

impl Group {
    /// Whether some of the group's stored memberships have ended by `now` (so that its
    /// stored counts still include them until the sweep).
    pub fn has_ended_memberships(&self, now: Timestamp) -> bool {
        self.next_expiry.is_some_and(|at| at <= now)
    }

    /// The group as a reader sees it at `now`, given its lists loaded with every stored
    /// membership and their ends: those that have ended (not yet swept) are neither
    /// listed nor counted.
    pub fn seen_at(mut self, now: Timestamp) -> Self {
        if !self.has_ended_memberships(now) {
            return self;
        }
        let ended = |at: &Timestamp| *at <= now;
        let gone_members: HashSet<UserId> =
            self.member_expiries.iter().filter(|(_, at)| ended(at)).map(|(id, _)| *id).collect();
        let gone_guests: HashSet<Email> = self
            .guest_expiries
            .iter()
            .filter(|(_, at)| ended(at))
            .map(|(email, _)| email.clone())
            .collect();
        self.members.retain(|id| !gone_members.contains(id));
        self.guests.retain(|email| !gone_guests.contains(email));
        self.member_expiries.retain(|_, at| !ended(at));
        self.guest_expiries.retain(|_, at| !ended(at));
        self.without_ended(gone_members.len() as u64, gone_guests.len() as u64)
    }

    /// The group as a reader sees it at a moment when `members` and `guests` of its
    /// stored memberships have ended but are not yet swept: they no longer count.
    pub fn without_ended(mut self, members: u64, guests: u64) -> Self {
        self.member_count = self.member_count.saturating_sub(members);
        self.guest_count = self.guest_count.saturating_sub(guests);
        self
    }
}

/// The people a trashed group had, with when each membership was to end: what a
/// restore brings back (those still eligible).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrashedPeople {
    pub members: Vec<(UserId, Option<Timestamp>)>,
    pub guests: Vec<(Email, Option<Timestamp>)>,
}

impl TrashedPeople {
    /// Of a group whose lists and expiries are loaded.
    pub fn of(group: &Group) -> Self {
        Self {
            members: group
                .members
                .iter()
                .map(|id| (*id, group.member_expiries.get(id).copied()))
                .collect(),
            guests: group
                .guests
                .iter()
                .map(|email| (email.clone(), group.guest_expiries.get(email).copied()))
                .collect(),
        }
    }

    /// As stored: `{"members": [[id, ms|null], ...], "guests": [[email, ms|null], ...]}`.
    pub fn to_json(&self) -> String {
        let millis = |at: &Option<Timestamp>| at.map(Timestamp::millis);
        serde_json::json!({
            "members": self.members.iter().map(|(id, at)| serde_json::json!([id.get(), millis(at)])).collect::<Vec<_>>(),
            "guests": self.guests.iter().map(|(email, at)| serde_json::json!([email.as_str(), millis(at)])).collect::<Vec<_>>(),
        })
        .to_string()
    }

    /// Reads what [`TrashedPeople::to_json`] wrote; entries it cannot read are skipped.
    pub fn from_json(raw: &str) -> Self {
        let value: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
        let entries =
            |key: &str| value.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
        let at = |entry: &Value| entry.get(1).and_then(Value::as_i64).map(Timestamp::from_millis);
        Self {
            members: entries("members")
                .iter()
                .filter_map(|e| Some((UserId::new(e.get(0)?.as_i64()?)?, at(e))))
                .collect(),
            guests: entries("guests")
                .iter()
                .filter_map(|e| Some((Email::from_stored(e.get(0)?.as_str()?.to_owned()), at(e))))
                .collect(),
        }
    }

    /// The group showing these people (a trashed group read with `trashed=with`).
    pub fn shown_in(&self, mut group: Group) -> Group {
        group.members = self.members.iter().map(|(id, _)| *id).collect();
        group.guests = self.guests.iter().map(|(email, _)| email.clone()).collect();
        group.member_expiries =
            self.members.iter().filter_map(|(id, at)| Some((*id, (*at)?))).collect();
        group.guest_expiries =
            self.guests.iter().filter_map(|(email, at)| Some((email.clone(), (*at)?))).collect();
        group
    }
}

/// What a delete does: the group goes to the trash, its membership rows go (kept in
/// `people` for a restore), and its name is free for another group.
#[derive(Clone, Debug, PartialEq)]
pub struct TrashPlan {
    pub after: Group,
    pub people: TrashedPeople,
    pub events: Vec<EventDraft>,
}

/// Trashes `current` (lists and expiries loaded) at `now`.
pub fn plan_trash(current: Group, now: Timestamp) -> TrashPlan {
    let people = TrashedPeople::of(&current);
    let events = vec![events::group_deleted(&current)];
    let mut after = current;
    after.deleted_at = Some(now);
    after.next_expiry = None;
    TrashPlan { after, people, events }
}

/// What the store found about the people of a trashed group, and about its name.
#[derive(Clone, Debug, Default)]
pub struct RestoreFacts {
    /// Of its members, those who are active or invited members of the org now.
    pub eligible_members: HashSet<UserId>,
    /// Of its guests, those who are enabled guests of the org now (and not members).
    pub eligible_guests: HashSet<Email>,
    /// A live group of the org has the name the restore would give it.
    pub name_taken: bool,
}

/// What a restore does.
#[derive(Clone, Debug, PartialEq)]
pub struct RestorePlan {
    pub after: Group,
    /// The membership rows to insert, with their expiry.
    pub members: Vec<(UserId, Option<Timestamp>)>,
    pub guests: Vec<(Email, Option<Timestamp>)>,
    /// Who does not come back: they left the org, were disabled, or their membership
    /// ended while the group was in the trash.
    pub not_restored_members: Vec<UserId>,
    pub not_restored_guests: Vec<Email>,
    pub events: Vec<EventDraft>,
}

/// Brings a trashed group back (under `new_name`, when given): eligible people rejoin
/// with the expiries they had, the version goes up, `last_updated` becomes `now`. A
/// name a live group took meanwhile is refused unless a new one is given.
pub fn plan_restore(
    trashed: Group,
    people: &TrashedPeople,
    new_name: Option<&GroupName>,
    facts: &RestoreFacts,
    now: Timestamp,
) -> Result<RestorePlan, ValidationErrors> {
    if facts.name_taken {
        let message = if new_name.is_some() {
            messages::taken("name")
        } else {
            "The name has been taken by another group since this one was deleted; restore it with a new name.".to_owned()
        };
        return Err(ValidationErrors::single("name", message));
    }
    let live = |at: &Option<Timestamp>| at.is_none_or(|at| at > now);
    let (members, left_members): (Vec<_>, Vec<_>) = people
        .members
        .iter()
        .cloned()
        .partition(|(id, at)| facts.eligible_members.contains(id) && live(at));
    let (guests, left_guests): (Vec<_>, Vec<_>) = people
        .guests
        .iter()
        .cloned()
        .partition(|(email, at)| facts.eligible_guests.contains(email) && live(at));
    let shown = people.shown_in(trashed.clone());
    let mut after = TrashedPeople { members: members.clone(), guests: guests.clone() }
        .shown_in(trashed.clone());
    if let Some(name) = new_name {
        after.name = name.as_str().to_owned();
    }
    after.deleted_at = None;
    after.member_count = after.members.len() as u64;
    after.guest_count = after.guests.len() as u64;
    after.next_expiry =
        after.member_expiries.values().chain(after.guest_expiries.values()).min().copied();
    after.version += 1;
    after.updated_at = now;
    let not_restored_members: Vec<UserId> = left_members.into_iter().map(|(id, _)| id).collect();
    let not_restored_guests: Vec<Email> = left_guests.into_iter().map(|(e, _)| e).collect();
    let mut drafts = vec![events::group_restored(&trashed, &after)];
    let left = MembershipDelta {
        removed_members: not_restored_members.clone(),
        removed_guests: not_restored_guests.clone(),
        ..MembershipDelta::default()
    };
    drafts.extend(events::members_changed_by_system(
        &shown,
        &after,
        &left,
        events::SystemReason::NotRestored,
    ));
    Ok(RestorePlan {
        after,
        members,
        guests,
        not_restored_members,
        not_restored_guests,
        events: drafts,
    })
}

/// What a purge says: a live group is deleted and purged at once.
pub fn purge_events(group: &Group) -> Vec<EventDraft> {
    let mut drafts = Vec::with_capacity(2);
    if group.deleted_at.is_none() {
        drafts.push(events::group_deleted(group));
    }
    drafts.push(events::group_purged(group));
    drafts
}

/// Who is leaving every group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leaving {
    Member(UserId),
    Guest(Email),
}

fn distinct<T: Ord>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.collect();
    items.sort();
    items.dedup();
    items
}

/// Reads a create body: `name` and `description` required.
pub fn parse_create(body: &Value) -> Result<GroupWrite, ValidationErrors> {
    parse(body, Presence::Required)
}

/// Reads an update body: every field optional, present fields obey the create rules.
pub fn parse_update(body: &Value) -> Result<GroupWrite, ValidationErrors> {
    parse(body, Presence::Sometimes)
}

fn parse(body: &Value, presence: Presence) -> Result<GroupWrite, ValidationErrors> {
    let mut input = Input::new(body);
    let write = GroupWrite {
        name: input.string("name", presence, Some(NAME_MAX_CHARS)).map(GroupName),
        description: input.string("description", presence, None),
        members: input.list("members", |index, path, item| {
            input::user_id(path, item).map(|id| MemberRef {
                index,
                id,
                expiry: ExpirySpec::Unspecified,
            })
        }),
        guests: input.list("guests", |index, path, item| {
            input::email(path, item).map(|email| GuestRef {
                index,
                email,
                expiry: ExpirySpec::Unspecified,
            })
        }),
    };
    // Bigger lists go through `PATCH .../members` in steps (bounded work per request).
    for (key, len) in [
        ("members", write.members.as_ref().map_or(0, Vec::len)),
        ("guests", write.guests.as_ref().map_or(0, Vec::len)),
    ] {
        if len > MAX_PATCH_IDS {
            input.error(key, format!("The {key} may not have more than {MAX_PATCH_IDS} items."));
        }
    }
    input.finish(write)
}

/// A restore's optional body: `{"name": "..."}`, a new name under the create rules.
pub fn parse_restore(body: &Value) -> Result<Option<GroupName>, ValidationErrors> {
    let mut input = Input::new(body);
    let name = input.string("name", Presence::Sometimes, Some(NAME_MAX_CHARS)).map(GroupName);
    input.finish(name)
}

/// What the store found, inside the write's transaction, about the references a write makes.
#[derive(Clone, Debug, Default)]
pub struct ReferenceFacts {
    /// Another group of the org already has this name (ignoring case).
    pub name_taken: bool,
    /// Of the requested member ids, those that are active or invited members of the org.
    pub eligible_members: HashSet<UserId>,
    /// Of the requested guest emails, those of active or invited members of the org.
    pub member_emails: HashSet<Email>,
    /// Of the requested guest emails, those of disabled guests of the org.
    pub disabled_guests: HashSet<Email>,
}

/// The rules a write must meet against what is stored: a free name; members who are
/// active or invited members of the org (never disabled ones); guests who are not members
/// and not disabled guests.
pub fn check_references(
    write: &GroupWrite,
    facts: &ReferenceFacts,
) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if write.name.is_some() && facts.name_taken {
        errors.add("name", messages::taken("name"));
    }
    member_errors(&mut errors, "members", write.members.iter().flatten(), facts);
    guest_errors(&mut errors, "guests", write.guests.iter().flatten(), facts);
    errors.into_result(())
}

/// The same rules for the ids a `PATCH .../members` adds (`add.N`).
pub fn check_member_additions(
    add: &[MemberRef],
    facts: &ReferenceFacts,
) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    member_errors(&mut errors, "add", add.iter(), facts);
    errors.into_result(())
}

/// The same rules for the emails a `PATCH .../guests` adds (`add.N`).
pub fn check_guest_additions(
    add: &[GuestRef],
    facts: &ReferenceFacts,
) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    guest_errors(&mut errors, "add", add.iter(), facts);
    errors.into_result(())
}

fn member_errors<'a>(
    errors: &mut ValidationErrors,
    field: &str,
    members: impl Iterator<Item = &'a MemberRef>,
    facts: &ReferenceFacts,
) {
    for member in members {
        if !facts.eligible_members.contains(&member.id) {
            let path = format!("{field}.{}", member.index);
            errors.add(path.clone(), messages::invalid(&path));
        }
    }
}

fn guest_errors<'a>(
    errors: &mut ValidationErrors,
    field: &str,
    guests: impl Iterator<Item = &'a GuestRef>,
    facts: &ReferenceFacts,
) {
    for guest in guests {
        let path = format!("{field}.{}", guest.index);
        if facts.member_emails.contains(&guest.email) {
            errors.add(
                path.clone(),
                format!(
                    "The {path} is a member of this organization; add them to members instead."
                ),
            );
        } else if facts.disabled_guests.contains(&guest.email) {
            errors
                .add(path.clone(), format!("The {path} is a disabled guest of this organization."));
        }
    }
}

/// An `If-Match` precondition: any current version (`*`), or one of these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfMatch {
    Any,
    Versions(Vec<i64>),
}

impl IfMatch {
    pub fn allows(&self, version: i64) -> bool {
        match self {
            Self::Any => true,
            Self::Versions(versions) => versions.contains(&version),
        }
    }

    /// Refuses a write against a version the client did not see.
    pub fn check(if_match: Option<&Self>, version: i64) -> Result<(), crate::WriteError> {
        match if_match {
            Some(condition) if !condition.allows(version) => {
                Err(crate::WriteError::PreconditionFailed)
            }
            _ => Ok(()),
        }
    }
}

/// At most this many ids in one `PATCH`, `add` and `remove` together.
pub const MAX_PATCH_IDS: usize = 1000;

/// A membership edit that composes with concurrent ones: what to add and what to remove.
/// Adding someone present or removing someone absent changes nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MembershipPatch<T> {
    pub add: Vec<T>,
    pub remove: Vec<T>,
}

/// A reference to a person in a request body, with its position for error keys.
pub trait PersonRef {
    fn index(&self) -> usize;
    /// What makes two references name the same person.
    fn key(&self) -> String;
}

impl PersonRef for MemberRef {
    fn index(&self) -> usize {
        self.index
    }
    fn key(&self) -> String {
        self.id.to_string()
    }
}

impl PersonRef for GuestRef {
    fn index(&self) -> usize {
        self.index
    }
    fn key(&self) -> String {
        self.email.to_string()
    }
}

/// `PATCH .../groups/{id}/members`: `{"add": [user ids], "remove": [user ids]}`; an
/// element may also be `{"id": 5, "expires_at": "2027-03-31T00:00:00.000Z"}` (or
/// `"expires_at": null`, permanent), with an end after `now` and at most ten years ahead.
pub fn parse_member_patch(
    body: &Value,
    now: Timestamp,
) -> Result<MembershipPatch<MemberRef>, ValidationErrors> {
    parse_patch(body, |index, path, item| {
        let (person, expiry) = element(path, item, "id", now)?;
        input::user_id(path, person).map(|id| MemberRef { index, id, expiry })
    })
}

/// `PATCH .../groups/{id}/guests`: `{"add": [emails], "remove": [emails]}`, elements
/// likewise `{"email": "a@x.test", "expires_at": ...}`.
pub fn parse_guest_patch(
    body: &Value,
    now: Timestamp,
) -> Result<MembershipPatch<GuestRef>, ValidationErrors> {
    parse_patch(body, |index, path, item| {
        let (person, expiry) = element(path, item, "email", now)?;
        input::email(path, person).map(|email| GuestRef { index, email, expiry })
    })
}

/// A patch element: the person (a plain value, or `key` of an object) and what it says
/// about the membership's end.
fn element<'a>(
    path: &str,
    item: &'a Value,
    key: &str,
    now: Timestamp,
) -> Result<(&'a Value, ExpirySpec), String> {
    let Value::Object(fields) = item else { return Ok((item, ExpirySpec::Unspecified)) };
    let person = fields.get(key).ok_or_else(|| format!("The {path}.{key} field is required."))?;
    let expiry = match fields.get("expires_at") {
        None => ExpirySpec::Unspecified,
        Some(Value::Null) => ExpirySpec::Permanent,
        Some(Value::String(raw)) => {
            let at = Timestamp::parse_utc(raw.trim()).ok_or_else(|| {
                format!(
                    "The {path}.expires_at must be a UTC date-time like 2027-03-31T00:00:00.000Z."
                )
            })?;
            if at <= now {
                return Err(format!("The {path}.expires_at must be a time in the future."));
            }
            if at.millis() - now.millis() > MAX_EXPIRY_AHEAD_MILLIS {
                return Err(format!("The {path}.expires_at may be at most 10 years ahead."));
            }
            ExpirySpec::At(at)
        }
        Some(_) => return Err(format!("The {path}.expires_at must be a string or null.")),
    };
    Ok((person, expiry))
}

fn parse_patch<T: PersonRef>(
    body: &Value,
    element: impl Fn(usize, &str, &Value) -> Result<T, String>,
) -> Result<MembershipPatch<T>, ValidationErrors> {
    let mut input = Input::new(body);
    let count = |key: &str| body.get(key).and_then(Value::as_array).map_or(0, Vec::len);
    if count("add") + count("remove") > MAX_PATCH_IDS {
        let field = if count("add") > 0 { "add" } else { "remove" };
        return Err(ValidationErrors::single(
            field,
            format!("The add and remove lists may hold at most {MAX_PATCH_IDS} entries together."),
        ));
    }
    let add = input.list("add", &element).unwrap_or_default();
    let remove = input.list("remove", &element).unwrap_or_default();
    let adding: HashSet<String> = add.iter().map(PersonRef::key).collect();
    for item in remove.iter().filter(|item| adding.contains(&item.key())) {
        let index = item.index();
        input.error(format!("remove.{index}"), format!("The remove.{index} is also being added."));
    }
    input.finish(MembershipPatch { add, remove })
}

/// The orders a group listing can take.
pub const SORT_FIELDS: &[SortField] =
    &[SortField::Name, SortField::CreatedAt, SortField::UpdatedAt];

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn errors_of(result: Result<GroupWrite, ValidationErrors>) -> Vec<(String, Vec<String>)> {
        match result {
            Ok(write) => panic!("expected errors, got {write:?}"),
            Err(errors) => errors.fields().map(|(f, m)| (f.to_owned(), m.to_vec())).collect(),
        }
    }

    fn stored_group() -> Group {
        Group {
            id: crate::GroupId::parse("0123456789abcdef0123456789abcdef").expect("id"),
            name: "Sales".into(),
            description: "d".into(),
            members: vec![UserId::new(1).expect("id"), UserId::new(2).expect("id")],
            guests: vec![],
            member_count: 2,
            guest_count: 0,
            version: 7,
            logo: None,
            created_at: Timestamp::from_millis(1_000),
            updated_at: Timestamp::from_millis(2_000),
            deleted_at: None,
            next_expiry: None,
            member_expiries: Default::default(),
            guest_expiries: Default::default(),
        }
    }

    #[test]
    fn a_create_starts_at_version_one_with_counts_from_its_lists() {
        let now = Timestamp::from_millis(5_000);
        let write = parse_create(&json!({"name": " Ops ", "description": "d", "members": [2, "2", 1], "guests": ["Z@x.test"]}))
            .expect("valid");
        let group = plan_create(stored_group().id, &write, now).expect("a group");
        let email = Email::parse("z@x.test").expect("email");
        assert_eq!(
            (group.name.as_str(), group.version, group.member_count, group.guest_count),
            ("Ops", 1, 2, 1)
        );
        assert_eq!(
            (group.members, group.guests),
            (vec![UserId::new(1).expect("id"), UserId::new(2).expect("id")], vec![email])
        );
        assert_eq!((group.created_at, group.updated_at, group.logo), (now, now, None));
        assert_eq!(
            plan_create(
                stored_group().id,
                &parse_update(&json!({"name": "n"})).expect("valid"),
                now
            ),
            None
        );
    }

    #[test]
    fn an_update_that_changes_nothing_keeps_its_version() {
        let now = Timestamp::from_millis(9_000);
        let same =
            parse_update(&json!({"name": " Sales ", "members": ["2", 1, 2]})).expect("valid");
        let plan = plan_update(stored_group(), &same, now);
        assert_eq!(
            plan,
            UpdatePlan {
                after: stored_group(),
                delta: MembershipDelta::default(),
                changed: false,
                events: Vec::new(),
            }
        );
    }

    #[test]
    fn an_update_replaces_given_lists_and_moves_counts_version_and_time() {
        let now = Timestamp::from_millis(9_000);
        let write = parse_update(&json!({"members": [3], "guests": ["B@x.test", "a@x.test"]}))
            .expect("valid");
        let plan = plan_update(stored_group(), &write, now);
        let email = |raw| Email::parse(raw).expect("email");
        assert!(plan.changed);
        assert_eq!(plan.delta.added_members, vec![UserId::new(3).expect("id")]);
        assert_eq!(
            plan.delta.removed_members,
            vec![UserId::new(1).expect("id"), UserId::new(2).expect("id")]
        );
        assert_eq!(plan.delta.added_guests, vec![email("a@x.test"), email("b@x.test")]);
        let after = plan.after;
        assert_eq!((after.member_count, after.guest_count, after.version), (1, 2, 8));
        assert_eq!(
            (after.name.as_str(), after.updated_at, after.created_at),
            ("Sales", now, Timestamp::from_millis(1_000))
        );
    }

    #[test]
    fn create_requires_name_and_description_after_trimming() {
        let errors = errors_of(parse_create(&json!({"name": "   ", "description": null})));
        assert_eq!(
            errors,
            vec![
                ("name".into(), vec!["The name field is required.".into()]),
                ("description".into(), vec!["The description field is required.".into()]),
            ]
        );
    }

    #[test]
    fn name_limit_counts_characters_not_bytes() {
        let ok = "é".repeat(200);
        assert!(parse_create(&json!({"name": ok, "description": "d"})).is_ok());
        let long = "é".repeat(201);
        let errors = errors_of(parse_create(&json!({"name": long, "description": "d"})));
        assert_eq!(
            errors,
            vec![("name".into(), vec!["The name must not be greater than 200 characters.".into()])]
        );
    }

    #[test]
    fn members_accept_numeric_strings_and_name_bad_elements() {
        let errors = errors_of(parse_create(&json!({
            "name": "n", "description": "d", "members": [1, "2", "x", 1.5, 0], "guests": ["a@b.co", "nope", 3]
        })));
        assert_eq!(
            errors,
            vec![
                ("members.2".into(), vec!["The members.2 must be an integer.".into()]),
                ("members.3".into(), vec!["The members.3 must be an integer.".into()]),
                ("members.4".into(), vec!["The selected members.4 is invalid.".into()]),
                ("guests.1".into(), vec!["The guests.1 must be a valid email address.".into()]),
                ("guests.2".into(), vec!["The guests.2 must be a string.".into()]),
            ]
        );
    }

    #[test]
    fn lists_are_sorted_and_deduplicated() -> Result<(), ValidationErrors> {
        let write = parse_create(&json!({
            "name": " Sales ", "description": "d", "members": [5, "3", 5], "guests": ["B@x.io", "a@x.io", "b@x.io"]
        }))?;
        assert_eq!(write.name.as_ref().map(GroupName::as_str), Some("Sales"));
        assert_eq!(
            write.member_ids().map(|ids| ids.into_iter().map(UserId::get).collect::<Vec<_>>()),
            Some(vec![3, 5])
        );
        let guests: Option<Vec<String>> =
            write.guest_emails().map(|g| g.iter().map(|e| e.as_str().to_owned()).collect());
        assert_eq!(guests, Some(vec!["a@x.io".to_owned(), "b@x.io".to_owned()]));
        Ok(())
    }

    #[test]
    fn patches_name_bad_elements_overlaps_and_size() {
        let patch =
            parse_member_patch(&json!({"add": [1, "2"], "remove": [3]}), Timestamp::from_millis(0));
        assert_eq!(patch.map(|p| (p.add.len(), p.remove.len())), Ok((2, 1)));
        let errors = parse_member_patch(
            &json!({"add": [1, "x"], "remove": [2, 1]}),
            Timestamp::from_millis(0),
        )
        .err()
        .map(|e| e.fields().map(|(f, m)| (f.to_owned(), m.to_vec())).collect::<Vec<_>>());
        assert_eq!(
            errors,
            Some(vec![
                ("add.1".into(), vec!["The add.1 must be an integer.".into()]),
                ("remove.1".into(), vec!["The remove.1 is also being added.".into()]),
            ])
        );
        let too_many: Vec<i64> = (1..=1001).collect();
        let errors = parse_member_patch(&json!({"remove": too_many}), Timestamp::from_millis(0))
            .err()
            .map(|e| e.fields().map(|(f, _)| f.to_owned()).collect::<Vec<_>>());
        assert_eq!(errors, Some(vec!["remove".to_owned()]));
        assert!(
            parse_guest_patch(
                &json!({"add": ["A@x.io"], "remove": ["a@X.io"]}),
                Timestamp::from_millis(0)
            )
            .is_err()
        );
    }

    #[test]
    fn member_and_guest_lists_hold_at_most_1000_entries() {
        let ids: Vec<i64> = (1..=1001).collect();
        let errors = parse_create(&json!({"name": "n", "description": "d", "members": ids}))
            .err()
            .map(|e| e.fields().map(|(f, m)| (f.to_owned(), m.to_vec())).collect::<Vec<_>>());
        assert_eq!(
            errors,
            Some(vec![(
                "members".into(),
                vec!["The members may not have more than 1000 items.".into()]
            )])
        );
        let ok: Vec<i64> = (1..=1000).collect();
        assert!(parse_update(&json!({"members": ok})).is_ok());
    }

    #[test]
    fn update_fields_are_optional_but_not_nullable() {
        assert_eq!(parse_update(&json!({})), Ok(GroupWrite::default()));
        assert_eq!(parse_update(&json!({"ignored": 1})), Ok(GroupWrite::default()));
        let errors = errors_of(parse_update(&json!({"description": "", "members": null})));
        assert_eq!(
            errors,
            vec![
                ("description".into(), vec!["The description field is required.".into()]),
                ("members".into(), vec!["The members must be an array.".into()]),
            ]
        );
    }
}
