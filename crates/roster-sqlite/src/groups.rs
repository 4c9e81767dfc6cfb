//! Group queries. Every statement is scoped by `org_id`, or by a group `pk` that was
//! itself looked up by `org_id`.

use roster_core::events::{self, EventDraft};
use roster_core::groups::{
    self, GroupWrite, GuestRef, IfMatch, Leaving, MemberRef, MembershipPatch, MembershipPlan,
    ReferenceFacts,
};
use roster_core::listing::{ListParams, SortField};
use roster_core::model::{Guest, LogoRef, NewLogo, Page, StoredLogo};
use roster_core::store::{Created, IDEMPOTENCY_WINDOW_MILLIS, IdempotencyKey};
use roster_core::{
    AssetId, Email, Group, GroupId, OrgId, OrgMember, StoreError, Timestamp, UserId,
    ValidationErrors, WriteError,
};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::connection::{TxError, WriteTx};

/// A group's own columns, in the one order the INSERT of a create and the UPDATE of a
/// change both use (see [`own_values`]).
macro_rules! own_columns {
    () => {
        "name, name_key, description, description_key, member_count, guest_count, version, \
         created_at, updated_at"
    };
}

/// What [`own_columns`] hold for `group`, with the folded keys that search and
/// uniqueness read.
fn own_values(group: &Group) -> [Value; 9] {
    [
        Value::Text(group.name.clone()),
        Value::Text(groups::fold_case(&group.name)),
        Value::Text(group.description.clone()),
        Value::Text(groups::fold_case(&group.description)),
        Value::Integer(group.member_count as i64),
        Value::Integer(group.guest_count as i64),
        Value::Integer(group.version),
        Value::Integer(group.created_at.millis()),
        Value::Integer(group.updated_at.millis()),
    ]
}

const GROUP_COLUMNS: &str = "g.pk, g.id, g.name, g.description, g.member_count, g.guest_count, \
     g.version, g.created_at, g.updated_at, g.logo_asset_id, g.logo_filename, g.logo_content_type, \
     g.logo_version, g.logo_uploaded_at, g.logo_uploaded_from";

/// How many columns `GROUP_COLUMNS` names.
const GROUP_COLUMN_COUNT: usize = 15;

/// Reads `GROUP_COLUMNS`; the member and guest lists are left empty.
pub(crate) fn group_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, Group)> {
    Ok((
        row.get(0)?,
        Group {
            id: GroupId::from_stored(row.get(1)?),
            name: row.get(2)?,
            description: row.get(3)?,
            members: Vec::new(),
            guests: Vec::new(),
            member_count: row.get::<_, i64>(4)?.max(0).unsigned_abs(),
            guest_count: row.get::<_, i64>(5)?.max(0).unsigned_abs(),
            version: row.get(6)?,
            created_at: Timestamp::from_millis(row.get(7)?),
            updated_at: Timestamp::from_millis(row.get(8)?),
            logo: logo_from_row(row)?,
        },
    ))
}

/// The `logo_*` columns of `GROUP_COLUMNS`, when the group has a logo.
fn logo_from_row(row: &Row<'_>) -> rusqlite::Result<Option<LogoRef>> {
    let Some(asset_id) = row.get::<_, Option<String>>(9)? else { return Ok(None) };
    Ok(Some(LogoRef {
        asset_id: AssetId::from_stored(asset_id),
        filename: row.get::<_, Option<String>>(10)?.unwrap_or_default(),
        content_type: row.get::<_, Option<String>>(11)?.unwrap_or_default(),
        version: row.get(12)?,
        uploaded_at: Timestamp::from_millis(row.get::<_, Option<i64>>(13)?.unwrap_or_default()),
        uploaded_from: row.get::<_, Option<String>>(14)?.unwrap_or_default(),
    }))
}

fn find(conn: &Connection, org: &OrgId, id: &GroupId) -> rusqlite::Result<Option<(i64, Group)>> {
    conn.prepare_cached(&format!(
        "SELECT {GROUP_COLUMNS} FROM groups g WHERE g.org_id = ?1 AND g.id = ?2"
    ))?
    .query_row(params![org.as_str(), id.as_str()], group_from_row)
    .optional()
}

/// The group as a write sees it, refused when missing or when `If-Match` names another version.
fn find_for_write(
    tx: &WriteTx<'_>,
    org: &OrgId,
    id: &GroupId,
    if_match: Option<&IfMatch>,
) -> Result<(i64, Group), TxError> {
    let (pk, group) = find(tx, org, id)?.ok_or(WriteError::NotFound)?;
    IfMatch::check(if_match, group.version)?;
    Ok((pk, group))
}

fn member_ids(conn: &Connection, pk: i64) -> rusqlite::Result<Vec<UserId>> {
    let mut stmt = conn
        .prepare_cached("SELECT user_id FROM group_members WHERE group_pk = ?1 ORDER BY user_id")?;
    let rows = stmt.query_map([pk], |row| row.get::<_, i64>(0))?;
    rows.filter_map(|id| id.map(UserId::new).transpose()).collect()
}

fn guest_emails(conn: &Connection, pk: i64) -> rusqlite::Result<Vec<Email>> {
    let mut stmt =
        conn.prepare_cached("SELECT email FROM group_guests WHERE group_pk = ?1 ORDER BY email")?;
    let rows = stmt.query_map([pk], |row| row.get::<_, String>(0).map(Email::from_stored))?;
    rows.collect()
}

pub(crate) fn with_people(
    conn: &Connection,
    (pk, mut group): (i64, Group),
) -> rusqlite::Result<Group> {
    group.members = member_ids(conn, pk)?;
    group.guests = guest_emails(conn, pk)?;
    Ok(group)
}

pub(crate) fn get(conn: &Connection, org: &OrgId, id: &GroupId) -> rusqlite::Result<Option<Group>> {
    find(conn, org, id)?.map(|found| with_people(conn, found)).transpose()
}

pub(crate) fn list(
    conn: &Connection,
    org: &OrgId,
    params: &ListParams,
) -> rusqlite::Result<Page<Group>> {
    // Only fixed fragments are spliced into the SQL; user input is always bound.
    // A `q` of three characters or more is looked up in the trigram index (migration
    // 0004), whose phrase query finds the groups holding it as a substring; `instr` then
    // confirms each one, so the index only ever narrows the scan, never changes results.
    // Shorter ones have no trigram to look up and scan the org's groups.
    let (from, filter) = match params.q.as_deref() {
        None => ("groups g", "AND ?2 IS NULL"),
        Some(q) if q.chars().count() >= 3 => (
            "group_search CROSS JOIN groups g ON g.pk = group_search.rowid",
            "AND group_search MATCH '\"' || replace(?2, '\"', '\"\"') || '\"'
             AND (instr(g.name_key, ?2) > 0 OR instr(g.description_key, ?2) > 0)",
        ),
        Some(_) => {
            ("groups g", "AND (instr(g.name_key, ?2) > 0 OR instr(g.description_key, ?2) > 0)")
        }
    };
    let column = match params.sort {
        SortField::Name => "g.name_key",
        // Groups have no email; `groups::SORT_FIELDS` keeps it out of their listings.
        SortField::CreatedAt | SortField::Email => "g.created_at",
        SortField::UpdatedAt => "g.updated_at",
    };
    let Some(q) = params.q.as_deref() else {
        // The org's maintained count, then the page from the nearer end.
        let total: i64 = conn
            .prepare_cached("SELECT group_count FROM organizations WHERE id = ?1")?
            .query_row([org.as_str()], |row| row.get(0))
            .optional()?
            .unwrap_or(0);
        let read = crate::PageRead::new(params, total);
        let direction = read.direction;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {GROUP_COLUMNS} FROM {from} WHERE g.org_id = ?1 {filter}
             ORDER BY {column} {direction}, g.id {direction} LIMIT ?3 OFFSET ?4"
        ))?;
        let found = stmt
            .query_map(
                params![org.as_str(), None::<&str>, read.limit, read.offset],
                group_from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let items = with_people_of_all(conn, read.in_order(found))?;
        return Ok(Page { items, total: u64::try_from(total).unwrap_or(0), stream_head: 0 });
    };
    // With a filter, the matches are found once: counted over the whole result by the
    // window function while the page is cut from it, rather than a count and a page
    // query each finding them all again.
    let (limit, offset) = crate::limit_offset(params);
    let direction = if params.descending { "DESC" } else { "ASC" };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GROUP_COLUMNS}, count(*) OVER () FROM {from} WHERE g.org_id = ?1 {filter}
         ORDER BY {column} {direction}, g.id {direction} LIMIT ?3 OFFSET ?4"
    ))?;
    let mut total = None;
    let found = stmt
        .query_map(params![org.as_str(), q, limit, offset], |row| {
            total = Some(row.get::<_, i64>(GROUP_COLUMN_COUNT)?);
            group_from_row(row)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let total = match total {
        Some(total) => total,
        // A page past the end holds no row to carry the count.
        None => conn
            .prepare_cached(&format!("SELECT count(*) FROM {from} WHERE g.org_id = ?1 {filter}"))?
            .query_row(params![org.as_str(), q], |row| row.get(0))?,
    };
    let items = with_people_of_all(conn, found)?;
    Ok(Page { items, total: u64::try_from(total).unwrap_or(0), stream_head: 0 })
}

/// `with_people` for a page of groups, in two statements rather than two per group.
/// (Joined from `json_each` rather than `IN (SELECT …)`, which builds a temporary index.)
fn with_people_of_all(conn: &Connection, found: Vec<(i64, Group)>) -> rusqlite::Result<Vec<Group>> {
    if found.len() < 2 {
        return found.into_iter().map(|found| with_people(conn, found)).collect();
    }
    let mut pks = String::with_capacity(16 * found.len());
    for (pk, _) in &found {
        let separator = if pks.is_empty() { '[' } else { ',' };
        let _ = write!(pks, "{separator}{pk}");
    }
    pks.push(']');
    let mut members = by_group(
        conn,
        "SELECT gm.group_pk, gm.user_id FROM json_each(?1) j JOIN group_members gm ON gm.group_pk = j.value",
        &pks,
        |row| Ok(UserId::new(row.get(1)?)),
    )?;
    let mut guests = by_group(
        conn,
        "SELECT gg.group_pk, gg.email FROM json_each(?1) j JOIN group_guests gg ON gg.group_pk = j.value",
        &pks,
        |row| Ok(Some(Email::from_stored(row.get(1)?))),
    )?;
    Ok(found
        .into_iter()
        .map(|(pk, mut group)| {
            // The same orders as `member_ids` and `guest_emails` (SQLite's BINARY
            // collation compares UTF-8 bytes, as `str`'s `Ord` does).
            group.members = members.remove(&pk).unwrap_or_default();
            group.members.sort_unstable();
            group.guests = guests.remove(&pk).unwrap_or_default();
            group.guests.sort_unstable();
            group
        })
        .collect())
}

/// The rows of `sql` (given the page's group pks as a JSON array in `?1`, answering
/// `group_pk` first), each read by `value`, gathered by group.
fn by_group<T>(
    conn: &Connection,
    sql: &str,
    pks: &str,
    value: impl Fn(&Row<'_>) -> rusqlite::Result<Option<T>>,
) -> rusqlite::Result<HashMap<i64, Vec<T>>> {
    let mut gathered: HashMap<i64, Vec<T>> = HashMap::new();
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query([pks])?;
    while let Some(row) = rows.next()? {
        if let Some(item) = value(row)? {
            gathered.entry(row.get(0)?).or_default().push(item);
        }
    }
    Ok(gathered)
}

/// Looks up, inside the write's transaction, what the reference rules need to know
/// about a name, some member ids and some guest emails.
fn reference_facts<'a>(
    tx: &WriteTx<'_>,
    org: &OrgId,
    name_key: Option<String>,
    except_pk: Option<i64>,
    members: impl IntoIterator<Item = UserId>,
    guests: impl IntoIterator<Item = &'a Email>,
) -> rusqlite::Result<ReferenceFacts> {
    let mut facts = ReferenceFacts::default();
    if let Some(key) = name_key {
        facts.name_taken = tx
            .prepare_cached(
                "SELECT 1 FROM groups WHERE org_id = ?1 AND name_key = ?2 AND pk IS NOT ?3",
            )?
            .exists(params![org.as_str(), key, except_pk])?;
    }
    let mut eligible = tx.prepare_cached(
        "SELECT 1 FROM org_members
         WHERE org_id = ?1 AND user_id = ?2 AND status IN ('active', 'invited')",
    )?;
    for id in members {
        if eligible.exists(params![org.as_str(), id.get()])? {
            facts.eligible_members.insert(id);
        }
    }
    let mut disabled = tx.prepare_cached(
        "SELECT 1 FROM guests WHERE org_id = ?1 AND email = ?2 AND status = 'disabled'",
    )?;
    for email in guests {
        if crate::guests::is_current_member(tx, org, email)? {
            facts.member_emails.insert(email.clone());
        } else if disabled.exists(params![org.as_str(), email.as_str()])? {
            facts.disabled_guests.insert(email.clone());
        }
    }
    Ok(facts)
}

fn invalid(errors: ValidationErrors) -> TxError {
    TxError::Refused(WriteError::Invalid(errors))
}

fn check_write(
    tx: &WriteTx<'_>,
    org: &OrgId,
    write: &GroupWrite,
    except_pk: Option<i64>,
) -> Result<(), TxError> {
    let members = write.member_ids().unwrap_or_default();
    let guests = write.guest_emails().unwrap_or_default();
    let facts = reference_facts(
        tx,
        org,
        write.name.as_ref().map(|n| n.key()),
        except_pk,
        members,
        &guests,
    )?;
    groups::check_references(write, &facts).map_err(invalid)
}

fn add_members(tx: &WriteTx<'_>, org: &OrgId, pk: i64, ids: &[UserId]) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO group_members (group_pk, org_id, user_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?;
    for id in ids {
        insert.execute(params![pk, org.as_str(), id.get()])?;
    }
    Ok(())
}

fn remove_members(tx: &WriteTx<'_>, pk: i64, ids: &[UserId]) -> rusqlite::Result<()> {
    let mut delete =
        tx.prepare_cached("DELETE FROM group_members WHERE group_pk = ?1 AND user_id = ?2")?;
    for id in ids {
        delete.execute(params![pk, id.get()])?;
    }
    Ok(())
}

/// Inserts guests (emails new to the org become its guests first); answers the
/// `guest.created` events of those new to the org.
fn add_guests(
    tx: &WriteTx<'_>,
    org: &OrgId,
    pk: i64,
    emails: &[Email],
    now: Timestamp,
) -> rusqlite::Result<Vec<EventDraft>> {
    let mut add_guest = tx.prepare_cached(
        "INSERT INTO guests (org_id, email, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (org_id, email) DO NOTHING",
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO group_guests (group_pk, org_id, email) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?;
    let mut new_guests = Vec::new();
    for email in emails {
        if add_guest.execute(params![org.as_str(), email.as_str(), now.millis()])? > 0 {
            new_guests.push(email);
        }
        insert.execute(params![pk, org.as_str(), email.as_str()])?;
    }
    let mut created = Vec::with_capacity(new_guests.len());
    for email in new_guests {
        if let Some(guest) = crate::guests::get(tx, org, email)? {
            created.push(events::guest_created(&guest));
        }
    }
    Ok(created)
}

fn remove_guests(tx: &WriteTx<'_>, pk: i64, emails: &[Email]) -> rusqlite::Result<()> {
    let mut delete =
        tx.prepare_cached("DELETE FROM group_guests WHERE group_pk = ?1 AND email = ?2")?;
    for email in emails {
        delete.execute(params![pk, email.as_str()])?;
    }
    Ok(())
}

/// Stores a membership plan of the group at `pk`: its rows, then its own columns.
fn store_membership_plan(
    tx: &WriteTx<'_>,
    org: &OrgId,
    pk: i64,
    plan: &MembershipPlan,
) -> rusqlite::Result<Vec<EventDraft>> {
    if !plan.changed() {
        return Ok(Vec::new());
    }
    let delta = &plan.delta;
    add_members(tx, org, pk, &delta.added_members)?;
    remove_members(tx, pk, &delta.removed_members)?;
    let created = add_guests(tx, org, pk, &delta.added_guests, plan.after.updated_at)?;
    remove_guests(tx, pk, &delta.removed_guests)?;
    // Only what a membership change moves: writing the name columns too would queue a
    // search-index update (migration 0004's trigger fires on any SET of them).
    let after = &plan.after;
    tx.prepare_cached(
        "UPDATE groups SET member_count = ?2, guest_count = ?3, version = ?4, updated_at = ?5
         WHERE pk = ?1",
    )?
    .execute(params![
        pk,
        after.member_count as i64,
        after.guest_count as i64,
        after.version,
        after.updated_at.millis()
    ])?;
    Ok(created)
}

fn store_own_columns(tx: &WriteTx<'_>, pk: i64, group: &Group) -> rusqlite::Result<()> {
    tx.prepare_cached(concat!(
        "UPDATE groups SET (",
        own_columns!(),
        ") = (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) WHERE pk = ?1"
    ))?
    .execute(rusqlite::params_from_iter(
        std::iter::once(Value::Integer(pk)).chain(own_values(group)),
    ))?;
    Ok(())
}

/// An earlier create with this key, if it is still remembered.
fn replay(
    tx: &WriteTx<'_>,
    org: &OrgId,
    key: &IdempotencyKey,
    now: Timestamp,
) -> Result<Option<Created>, TxError> {
    let earlier: Option<(Vec<u8>, String)> = tx
        .prepare_cached(
            "SELECT fingerprint, group_id FROM idempotency_keys
             WHERE org_id = ?1 AND key = ?2 AND created_at > ?3",
        )?
        .query_row(
            params![org.as_str(), key.key, now.millis() - IDEMPOTENCY_WINDOW_MILLIS],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let Some((fingerprint, group_id)) = earlier else {
        return Ok(None);
    };
    if fingerprint != key.fingerprint {
        return Err(invalid(ValidationErrors::single(
            "Idempotency-Key",
            "The Idempotency-Key was already used with a different request.",
        )));
    }
    // The group may have changed or gone since; the answer is what it is now.
    let group = get(tx, org, &GroupId::from_stored(group_id))?.ok_or(WriteError::NotFound)?;
    Ok(Some(Created { group, replayed: true }))
}

pub(crate) fn create(
    tx: &WriteTx<'_>,
    org: &OrgId,
    write: &GroupWrite,
    idempotency: Option<&IdempotencyKey>,
) -> Result<Created, TxError> {
    let now = tx.now();
    if let Some(key) = idempotency
        && let Some(earlier) = replay(tx, org, key, now)?
    {
        return Ok(earlier);
    }
    check_write(tx, org, write, None)?;
    let id = GroupId::generate().map_err(|e| StoreError::new("generate group id", e))?;
    let group = groups::plan_create(id, write, now)
        .ok_or_else(|| StoreError::new("create group", "create without name or description"))?;
    tx.prepare_cached(concat!(
        "INSERT INTO groups (id, org_id, ",
        own_columns!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?
    .execute(rusqlite::params_from_iter(
        [Value::Text(group.id.as_str().to_owned()), Value::Text(org.as_str().to_owned())]
            .into_iter()
            .chain(own_values(&group)),
    ))?;
    let pk = tx.last_insert_rowid();
    tx.prepare_cached("UPDATE organizations SET group_count = group_count + 1 WHERE id = ?1")?
        .execute([org.as_str()])?;
    add_members(tx, org, pk, &group.members)?;
    let mut drafts = vec![events::group_created(&group)];
    drafts.extend(add_guests(tx, org, pk, &group.guests, now)?);
    drafts.extend(events::initial_members(&group));
    if let Some(key) = idempotency {
        tx.prepare_cached(
            "INSERT INTO idempotency_keys (org_id, key, fingerprint, group_id, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (org_id, key) DO UPDATE SET fingerprint = excluded.fingerprint,
             group_id = excluded.group_id, created_at = excluded.created_at",
        )?
        .execute(params![
            org.as_str(),
            key.key,
            &key.fingerprint[..],
            group.id.as_str(),
            now.millis()
        ])?;
    }
    crate::events::record(tx, org, drafts, now)?;
    Ok(Created { group, replayed: false })
}

pub(crate) fn update(
    tx: &WriteTx<'_>,
    org: &OrgId,
    id: &GroupId,
    write: &GroupWrite,
    if_match: Option<&IfMatch>,
) -> Result<Group, TxError> {
    let (pk, current) = find_for_write(tx, org, id, if_match)?;
    check_write(tx, org, write, Some(pk))?;
    let group = with_people(tx, (pk, current))?;
    let now = tx.now();
    let plan = groups::plan_update(group, write, now);
    let group = plan.after;
    let mut drafts = plan.events;
    if let Some(members) = &plan.replace_members {
        tx.prepare_cached("DELETE FROM group_members WHERE group_pk = ?1")?.execute([pk])?;
        add_members(tx, org, pk, members)?;
    }
    if let Some(guests) = &plan.replace_guests {
        tx.prepare_cached("DELETE FROM group_guests WHERE group_pk = ?1")?.execute([pk])?;
        drafts.extend(add_guests(tx, org, pk, guests, group.updated_at)?);
    }
    if plan.changed {
        store_own_columns(tx, pk, &group)?;
    }
    crate::events::record(tx, org, drafts, now)?;
    Ok(group)
}

pub(crate) fn delete(
    tx: &WriteTx<'_>,
    org: &OrgId,
    id: &GroupId,
    if_match: Option<&IfMatch>,
) -> Result<(), TxError> {
    let (pk, group) = find_for_write(tx, org, id, if_match)?;
    tx.prepare_cached("DELETE FROM groups WHERE pk = ?1")?.execute([pk])?;
    tx.prepare_cached("UPDATE organizations SET group_count = group_count - 1 WHERE id = ?1")?
        .execute([org.as_str()])?;
    crate::events::record(tx, org, vec![events::group_deleted(&group)], tx.now())
}

/// Which of `ids` are members of the group at `pk`.
fn present_members(
    tx: &WriteTx<'_>,
    pk: i64,
    ids: impl Iterator<Item = UserId>,
) -> rusqlite::Result<HashSet<UserId>> {
    let mut present =
        tx.prepare_cached("SELECT 1 FROM group_members WHERE group_pk = ?1 AND user_id = ?2")?;
    let mut found = HashSet::new();
    for id in ids {
        if present.exists(params![pk, id.get()])? {
            found.insert(id);
        }
    }
    Ok(found)
}

/// Which of `emails` are guests of the group at `pk`.
fn present_guests<'a>(
    tx: &WriteTx<'_>,
    pk: i64,
    emails: impl Iterator<Item = &'a Email>,
) -> rusqlite::Result<HashSet<Email>> {
    let mut present =
        tx.prepare_cached("SELECT 1 FROM group_guests WHERE group_pk = ?1 AND email = ?2")?;
    let mut found = HashSet::new();
    for email in emails {
        if present.exists(params![pk, email.as_str()])? {
            found.insert(email.clone());
        }
    }
    Ok(found)
}

pub(crate) fn patch_members(
    tx: &WriteTx<'_>,
    org: &OrgId,
    id: &GroupId,
    patch: &MembershipPatch<MemberRef>,
    if_match: Option<&IfMatch>,
) -> Result<Group, TxError> {
    let (pk, current) = find_for_write(tx, org, id, if_match)?;
    let facts = reference_facts(tx, org, None, None, patch.add.iter().map(|r| r.id), [])?;
    groups::check_member_additions(&patch.add, &facts).map_err(invalid)?;
    let named = patch.add.iter().chain(&patch.remove).map(|r| r.id);
    let present = present_members(tx, pk, named)?;
    let now = tx.now();
    let plan = groups::plan_member_patch(current, patch, &present, now);
    store_membership_plan(tx, org, pk, &plan)?;
    crate::events::record(tx, org, plan.events, now)?;
    Ok(plan.after)
}

pub(crate) fn patch_guests(
    tx: &WriteTx<'_>,
    org: &OrgId,
    id: &GroupId,
    patch: &MembershipPatch<GuestRef>,
    if_match: Option<&IfMatch>,
) -> Result<Group, TxError> {
    let (pk, current) = find_for_write(tx, org, id, if_match)?;
    let facts = reference_facts(tx, org, None, None, [], patch.add.iter().map(|r| &r.email))?;
    groups::check_guest_additions(&patch.add, &facts).map_err(invalid)?;
    let present = present_guests(tx, pk, patch.add.iter().chain(&patch.remove).map(|r| &r.email))?;
    let now = tx.now();
    let plan = groups::plan_guest_patch(current, patch, &present, now);
    let mut drafts = store_membership_plan(tx, org, pk, &plan)?;
    drafts.extend(plan.events);
    crate::events::record(tx, org, drafts, now)?;
    Ok(plan.after)
}

pub(crate) fn member_page(
    conn: &Connection,
    org: &OrgId,
    id: &GroupId,
    after: Option<UserId>,
    limit: u64,
) -> rusqlite::Result<Option<Vec<OrgMember>>> {
    let Some((pk, _)) = find(conn, org, id)? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM group_members gm
         JOIN org_members m ON m.org_id = gm.org_id AND m.user_id = gm.user_id
         JOIN users u ON u.id = gm.user_id
         WHERE gm.group_pk = ?1 AND gm.user_id > ?2 ORDER BY gm.user_id LIMIT ?3",
        crate::people::MEMBER_COLUMNS
    ))?;
    let after = after.map_or(0, UserId::get);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let members = stmt
        .query_map(params![pk, after, limit], |row| crate::people::member_from_row(row, 0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(members))
}

pub(crate) fn guest_page(
    conn: &Connection,
    org: &OrgId,
    id: &GroupId,
    after: Option<&Email>,
    limit: u64,
) -> rusqlite::Result<Option<Vec<Guest>>> {
    let Some((pk, _)) = find(conn, org, id)? else {
        return Ok(None);
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let guests = crate::guests::in_group(conn, org, pk, after.map_or("", Email::as_str), limit)?;
    Ok(Some(guests))
}

/// Groups of the org that each of `ids` is a member of, in creation order.
pub(crate) fn groups_of_members(
    conn: &Connection,
    org: &OrgId,
    ids: &[UserId],
) -> rusqlite::Result<Vec<(UserId, Group)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GROUP_COLUMNS} FROM group_members gm JOIN groups g ON g.pk = gm.group_pk
         WHERE gm.org_id = ?1 AND gm.user_id = ?2 AND g.org_id = ?1
         ORDER BY g.created_at, g.id"
    ))?;
    let mut out = Vec::new();
    for id in ids {
        let found = stmt
            .query_map(params![org.as_str(), id.get()], group_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for group in found {
            out.push((*id, with_people(conn, group)?));
        }
    }
    Ok(out)
}

/// Someone who leaves the org (or stops being its guest) leaves each of its groups, as
/// `groups::plan_leave_everywhere` decides; answers the events of those groups.
pub(crate) fn leave_everywhere(
    tx: &WriteTx<'_>,
    org: &OrgId,
    leaving: &Leaving,
    now: Timestamp,
) -> rusqlite::Result<Vec<EventDraft>> {
    let (sql, key) = match leaving {
        Leaving::Member(id) => (
            format!(
                "SELECT {GROUP_COLUMNS} FROM group_members gm JOIN groups g ON g.pk = gm.group_pk
                 WHERE gm.org_id = ?1 AND gm.user_id = ?2 AND g.org_id = ?1 ORDER BY g.pk"
            ),
            Value::Integer(id.get()),
        ),
        Leaving::Guest(email) => (
            format!(
                "SELECT {GROUP_COLUMNS} FROM group_guests gg JOIN groups g ON g.pk = gg.group_pk
                 WHERE gg.org_id = ?1 AND gg.email = ?2 AND g.org_id = ?1 ORDER BY g.pk"
            ),
            Value::Text(email.as_str().to_owned()),
        ),
    };
    let found = tx
        .prepare_cached(&sql)?
        .query_map(params![org.as_str(), key], group_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let (pks, groups): (Vec<i64>, Vec<Group>) = found.into_iter().unzip();
    let mut drafts = Vec::new();
    for (pk, plan) in pks.into_iter().zip(groups::plan_leave_everywhere(groups, leaving, now)) {
        store_membership_plan(tx, org, pk, &plan)?;
        drafts.extend(plan.events);
    }
    Ok(drafts)
}

pub(crate) fn set_logo(
    tx: &WriteTx<'_>,
    org: &OrgId,
    id: &GroupId,
    logo: &NewLogo,
) -> Result<Group, TxError> {
    let (pk, before) = find_for_write(tx, org, id, None)?;
    let asset = AssetId::generate().map_err(|e| StoreError::new("generate asset id", e))?;
    let now = tx.now();
    tx.prepare_cached("DELETE FROM logo_blobs WHERE group_pk = ?1")?.execute([pk])?;
    tx.prepare_cached(
        "INSERT INTO logo_blobs (asset_id, group_pk, content_type, bytes) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![asset.as_str(), pk, logo.content_type, logo.bytes])?;
    tx.prepare_cached(
        "UPDATE groups SET logo_asset_id = ?2, logo_filename = ?3, logo_content_type = ?4,
         logo_version = logo_version + 1, logo_uploaded_at = ?5, logo_uploaded_from = ?6,
         version = version + 1, updated_at = ?5 WHERE pk = ?1",
    )?
    .execute(params![
        pk,
        asset.as_str(),
        logo.filename,
        logo.content_type,
        now.millis(),
        logo.uploaded_from
    ])?;
    let after = get(tx, org, id)?.ok_or(WriteError::NotFound)?;
    crate::events::record(tx, org, vec![events::group_logo_changed(&before, &after)], now)?;
    Ok(after)
}

pub(crate) fn delete_logo(tx: &WriteTx<'_>, org: &OrgId, id: &GroupId) -> Result<Group, TxError> {
    let (pk, before) = find_for_write(tx, org, id, None)?;
    if before.logo.is_none() {
        return Err(WriteError::NotFound.into());
    }
    let now = tx.now();
    tx.prepare_cached("DELETE FROM logo_blobs WHERE group_pk = ?1")?.execute([pk])?;
    tx.prepare_cached(
        "UPDATE groups SET logo_asset_id = NULL, logo_filename = NULL, logo_content_type = NULL,
         logo_uploaded_at = NULL, logo_uploaded_from = NULL, version = version + 1, updated_at = ?2
         WHERE pk = ?1",
    )?
    .execute(params![pk, now.millis()])?;
    let after = get(tx, org, id)?.ok_or(WriteError::NotFound)?;
    crate::events::record(tx, org, vec![events::group_logo_changed(&before, &after)], now)?;
    Ok(after)
}

pub(crate) fn logo(conn: &Connection, asset: &AssetId) -> rusqlite::Result<Option<StoredLogo>> {
    conn.prepare_cached("SELECT content_type, bytes FROM logo_blobs WHERE asset_id = ?1")?
        .query_row([asset.as_str()], |row| {
            Ok(StoredLogo { content_type: row.get(0)?, bytes: row.get(1)? })
        })
        .optional()
}
