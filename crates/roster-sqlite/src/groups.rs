//! Group queries. Every statement is scoped by `org_id`, or by a group `pk` that was
//! itself looked up by `org_id`.

use roster_core::events::{self, EventDraft};
use roster_core::groups::{
    self, GroupName, GroupWrite, GuestRef, IfMatch, Leaving, MemberRef, MembershipPatch,
    MembershipPlan, ReferenceFacts, RestoreFacts, TrashedPeople,
};
use roster_core::listing::{ListParams, SortField, Trashed};
use roster_core::model::{Guest, LogoRef, NewLogo, Page, StoredLogo};
use roster_core::store::{Created, IDEMPOTENCY_WINDOW_MILLIS, IdempotencyKey, Restored};
use roster_core::{
    AssetId, Email, Group, GroupId, OrgId, OrgMember, StoreError, Timestamp, UserId,
    ValidationErrors, WriteError,
};
use std::collections::{BTreeMap, HashMap};
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
     g.logo_version, g.logo_uploaded_at, g.logo_uploaded_from, g.deleted_at, g.next_expiry";

/// How many columns `GROUP_COLUMNS` names.
const GROUP_COLUMN_COUNT: usize = 17;

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
            deleted_at: row.get::<_, Option<i64>>(15)?.map(Timestamp::from_millis),
            next_expiry: row.get::<_, Option<i64>>(16)?.map(Timestamp::from_millis),
            member_expiries: Default::default(),
            guest_expiries: Default::default(),
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

/// A live group of the org.
fn find(conn: &Connection, org: &OrgId, id: &GroupId) -> rusqlite::Result<Option<(i64, Group)>> {
    conn.prepare_cached(&format!(
        "SELECT {GROUP_COLUMNS} FROM groups g
         WHERE g.org_id = ?1 AND g.id = ?2 AND g.deleted_at IS NULL"
    ))?
    .query_row(params![org.as_str(), id.as_str()], group_from_row)
    .optional()
}

/// A group of the org, live or trashed, with the people a trashed one remembers.
fn find_any(
    conn: &Connection,
    org: &OrgId,
    id: &GroupId,
) -> rusqlite::Result<Option<(i64, Group, Option<TrashedPeople>)>> {
    conn.prepare_cached(&format!(
        "SELECT {GROUP_COLUMNS}, g.trashed_people FROM groups g WHERE g.org_id = ?1 AND g.id = ?2"
    ))?
    .query_row(params![org.as_str(), id.as_str()], |row| {
        let (pk, group) = group_from_row(row)?;
        let people = row.get::<_, Option<String>>(GROUP_COLUMN_COUNT)?;
        Ok((pk, group, people.as_deref().map(TrashedPeople::from_json)))
    })
    .optional()
}

/// The live group as a write sees it, refused when missing or when `If-Match` names
/// another version; memberships that have ended are swept first (in this transaction),
/// so the write works on the group as readers see it.
fn find_for_write(
    tx: &WriteTx<'_>,
    org: &OrgId,
    id: &GroupId,
    if_match: Option<&IfMatch>,
) -> Result<(i64, Group), TxError> {
    let (pk, group) = find(tx, org, id)?.ok_or(WriteError::NotFound)?;
    IfMatch::check(if_match, group.version)?;
    let (group, _) = expire_ended(tx, org, pk, group, usize::MAX)?;
    Ok((pk, group))
}

/// A group's members whose membership has not ended at `now`, ascending, with the ends
/// of those that will.
fn member_ids(
    conn: &Connection,
    pk: i64,
    now: Timestamp,
) -> rusqlite::Result<(Vec<UserId>, BTreeMap<UserId, Timestamp>)> {
    let mut stmt = conn.prepare_cached(
        "SELECT user_id, expires_at FROM group_members
         WHERE group_pk = ?1 AND (expires_at IS NULL OR expires_at > ?2) ORDER BY user_id",
    )?;
    let mut rows = stmt.query(params![pk, now.millis()])?;
    let (mut ids, mut expiries) = (Vec::new(), BTreeMap::new());
    while let Some(row) = rows.next()? {
        let Some(id) = UserId::new(row.get(0)?) else { continue };
        if let Some(at) = row.get::<_, Option<i64>>(1)? {
            expiries.insert(id, Timestamp::from_millis(at));
        }
        ids.push(id);
    }
    Ok((ids, expiries))
}

fn guest_emails(
    conn: &Connection,
    pk: i64,
    now: Timestamp,
) -> rusqlite::Result<(Vec<Email>, BTreeMap<Email, Timestamp>)> {
    let mut stmt = conn.prepare_cached(
        "SELECT email, expires_at FROM group_guests
         WHERE group_pk = ?1 AND (expires_at IS NULL OR expires_at > ?2) ORDER BY email",
    )?;
    let mut rows = stmt.query(params![pk, now.millis()])?;
    let (mut emails, mut expiries) = (Vec::new(), BTreeMap::new());
    while let Some(row) = rows.next()? {
        let email = Email::from_stored(row.get(0)?);
        if let Some(at) = row.get::<_, Option<i64>>(1)? {
            expiries.insert(email.clone(), Timestamp::from_millis(at));
        }
        emails.push(email);
    }
    Ok((emails, expiries))
}

/// The group as a reader sees it at `now`: stored memberships that have ended (not yet
/// swept) are not counted.
pub(crate) fn settled(
    conn: &Connection,
    pk: i64,
    group: Group,
    now: Timestamp,
) -> rusqlite::Result<Group> {
    if !group.has_ended_memberships(now) {
        return Ok(group);
    }
    let ended = |table: &str| -> rusqlite::Result<u64> {
        let count: i64 = conn
            .prepare_cached(&format!(
                "SELECT count(*) FROM {table} WHERE group_pk = ?1 AND expires_at <= ?2"
            ))?
            .query_row(params![pk, now.millis()], |row| row.get(0))?;
        Ok(count.max(0).unsigned_abs())
    };
    let (members, guests) = (ended("group_members")?, ended("group_guests")?);
    Ok(group.without_ended(members, guests))
}

pub(crate) fn with_people(
    conn: &Connection,
    (pk, group): (i64, Group),
    now: Timestamp,
) -> rusqlite::Result<Group> {
    let mut group = settled(conn, pk, group, now)?;
    (group.members, group.member_expiries) = member_ids(conn, pk, now)?;
    (group.guests, group.guest_expiries) = guest_emails(conn, pk, now)?;
    Ok(group)
}

pub(crate) fn get(
    conn: &Connection,
    org: &OrgId,
    id: &GroupId,
    now: Timestamp,
) -> rusqlite::Result<Option<Group>> {
    find(conn, org, id)?.map(|found| with_people(conn, found, now)).transpose()
}

/// A live group's version and next membership end.
pub(crate) fn version(
    conn: &Connection,
    org: &OrgId,
    id: &GroupId,
) -> rusqlite::Result<Option<(i64, Option<Timestamp>)>> {
    conn.prepare_cached(
        "SELECT version, next_expiry FROM groups
         WHERE org_id = ?1 AND id = ?2 AND deleted_at IS NULL",
    )?
    .query_row(params![org.as_str(), id.as_str()], |row| {
        Ok((row.get(0)?, row.get::<_, Option<i64>>(1)?.map(Timestamp::from_millis)))
    })
    .optional()
}

/// A group live or trashed (`trashed=with`): a trashed one shows the people it had.
pub(crate) fn get_with_trashed(
    conn: &Connection,
    org: &OrgId,
    id: &GroupId,
    now: Timestamp,
) -> rusqlite::Result<Option<Group>> {
    match find_any(conn, org, id)? {
        None => Ok(None),
        Some((_, group, Some(people))) if group.deleted_at.is_some() => {
            Ok(Some(people.shown_in(group)))
        }
        Some((pk, group, _)) => with_people(conn, (pk, group), now).map(Some),
    }
}

pub(crate) fn list(
    conn: &Connection,
    org: &OrgId,
    params: &ListParams,
    now: Timestamp,
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
    let trash = match params.trashed {
        Trashed::Without => "AND g.deleted_at IS NULL",
        Trashed::Only => "AND g.deleted_at IS NOT NULL",
        Trashed::With => "",
    };
    if params.q.is_none() && params.trashed == Trashed::Without {
        // The org's maintained count (of live groups), then the page from the nearer end.
        let total: i64 = conn
            .prepare_cached("SELECT group_count FROM organizations WHERE id = ?1")?
            .query_row([org.as_str()], |row| row.get(0))
            .optional()?
            .unwrap_or(0);
        let read = crate::PageRead::new(params, total);
        let direction = read.direction;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {GROUP_COLUMNS} FROM {from} WHERE g.org_id = ?1 {filter} {trash}
             ORDER BY {column} {direction}, g.id {direction} LIMIT ?3 OFFSET ?4"
        ))?;
        let found = stmt
            .query_map(
                params![org.as_str(), None::<&str>, read.limit, read.offset],
                group_from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let items = with_people_of_all(conn, org, read.in_order(found), now)?;
        return Ok(Page { items, total: u64::try_from(total).unwrap_or(0), stream_head: 0 });
    }
    let q = params.q.as_deref();
    // With a filter, the matches are found once: counted over the whole result by the
    // window function while the page is cut from it, rather than a count and a page
    // query each finding them all again.
    let (limit, offset) = crate::limit_offset(params);
    let direction = if params.descending { "DESC" } else { "ASC" };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GROUP_COLUMNS}, count(*) OVER () FROM {from} WHERE g.org_id = ?1 {filter} {trash}
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
            .prepare_cached(&format!(
                "SELECT count(*) FROM {from} WHERE g.org_id = ?1 {filter} {trash}"
            ))?
            .query_row(params![org.as_str(), q], |row| row.get(0))?,
    };
    let items = with_people_of_all(conn, org, found, now)?;
    Ok(Page { items, total: u64::try_from(total).unwrap_or(0), stream_head: 0 })
}

/// `with_people` for a page of groups, in two statements rather than two per group.
/// (Joined from `json_each` rather than `IN (SELECT …)`, which builds a temporary index.)
/// Trashed groups show the people they remember; groups with ended memberships are
/// read one by one (both are rare), the rest together.
fn with_people_of_all(
    conn: &Connection,
    org: &OrgId,
    found: Vec<(i64, Group)>,
    now: Timestamp,
) -> rusqlite::Result<Vec<Group>> {
    let one_by_one = |(_, g): &(i64, Group)| g.deleted_at.is_some() || g.next_expiry.is_some();
    if found.len() < 2 || found.iter().any(one_by_one) {
        return found
            .into_iter()
            .map(|(pk, group)| match group.deleted_at {
                Some(_) => Ok(get_with_trashed(conn, org, &group.id, now)?.unwrap_or(group)),
                None => with_people(conn, (pk, group), now),
            })
            .collect();
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
                "SELECT 1 FROM groups
                 WHERE org_id = ?1 AND name_key = ?2 AND pk IS NOT ?3 AND deleted_at IS NULL",
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
    set_expiries(tx, pk, delta, plan.after.next_expiry.is_some())?;
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

/// Stores the delta's expiries and, when any membership of the group ends (or ended),
/// its `next_expiry` again from the rows.
fn set_expiries(
    tx: &WriteTx<'_>,
    pk: i64,
    delta: &roster_core::events::MembershipDelta,
    had_expiry: bool,
) -> rusqlite::Result<()> {
    let mut member = tx.prepare_cached(
        "UPDATE group_members SET expires_at = ?3 WHERE group_pk = ?1 AND user_id = ?2",
    )?;
    for (id, at) in &delta.member_expiries {
        member.execute(params![pk, id.get(), at.map(Timestamp::millis)])?;
    }
    let mut guest = tx.prepare_cached(
        "UPDATE group_guests SET expires_at = ?3 WHERE group_pk = ?1 AND email = ?2",
    )?;
    for (email, at) in &delta.guest_expiries {
        guest.execute(params![pk, email.as_str(), at.map(Timestamp::millis)])?;
    }
    if had_expiry || !delta.member_expiries.is_empty() || !delta.guest_expiries.is_empty() {
        tx.prepare_cached(
            "UPDATE groups SET next_expiry = (SELECT min(at) FROM (
                SELECT min(expires_at) AS at FROM group_members WHERE group_pk = ?1 AND expires_at IS NOT NULL
                UNION ALL
                SELECT min(expires_at) FROM group_guests WHERE group_pk = ?1 AND expires_at IS NOT NULL))
             WHERE pk = ?1",
        )?
        .execute([pk])?;
    }
    Ok(())
}

/// Sweeps the group's memberships that have ended by the write's time (at most `limit`
/// rows), as `groups::plan_expiry` decides, with their events; answers the group after
/// and whether ended rows remain.
fn expire_ended(
    tx: &WriteTx<'_>,
    org: &OrgId,
    pk: i64,
    group: Group,
    limit: usize,
) -> Result<(Group, bool), TxError> {
    let now = tx.now();
    if !group.has_ended_memberships(now) {
        return Ok((group, false));
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let members: Vec<(UserId, Timestamp)> = tx
        .prepare_cached(
            "SELECT user_id, expires_at FROM group_members
             WHERE group_pk = ?1 AND expires_at <= ?2 ORDER BY expires_at, user_id LIMIT ?3",
        )?
        .query_map(params![pk, now.millis(), limit], |row| {
            Ok((UserId::new(row.get(0)?), Timestamp::from_millis(row.get(1)?)))
        })?
        .filter_map(|row| row.map(|(id, at)| id.map(|id| (id, at))).transpose())
        .collect::<rusqlite::Result<_>>()?;
    let room = limit - i64::try_from(members.len()).unwrap_or(0);
    let guests: Vec<(Email, Timestamp)> = tx
        .prepare_cached(
            "SELECT email, expires_at FROM group_guests
             WHERE group_pk = ?1 AND expires_at <= ?2 ORDER BY expires_at, email LIMIT ?3",
        )?
        .query_map(params![pk, now.millis(), room.max(0)], |row| {
            Ok((Email::from_stored(row.get(0)?), Timestamp::from_millis(row.get(1)?)))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let more = i64::try_from(members.len() + guests.len()).unwrap_or(i64::MAX) >= limit;
    let mut group = group;
    for plan in groups::plan_expiry(group.clone(), &members, &guests, now) {
        store_membership_plan(tx, org, pk, &plan)?;
        crate::events::record(tx, org, plan.events, now)?;
        group = plan.after;
    }
    // The stored next_expiry now names the next end still to come.
    group.next_expiry = tx
        .prepare_cached("SELECT next_expiry FROM groups WHERE pk = ?1")?
        .query_row([pk], |row| row.get::<_, Option<i64>>(0))?
        .map(Timestamp::from_millis);
    Ok((group, more))
}

/// One step of the sweep: ends the memberships due in up to `groups_at_once` groups of
/// any org (at most `rows` rows in all); answers how many went and whether more are due.
pub(crate) fn sweep_expired(
    tx: &WriteTx<'_>,
    groups_at_once: usize,
    rows: usize,
) -> Result<(u64, bool), TxError> {
    let due: Vec<(String, String)> = tx
        .prepare_cached(
            "SELECT org_id, id FROM groups
             WHERE next_expiry IS NOT NULL AND next_expiry <= ?1 AND deleted_at IS NULL
             ORDER BY next_expiry LIMIT ?2",
        )?
        .query_map(
            params![tx.now().millis(), i64::try_from(groups_at_once).unwrap_or(i64::MAX)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?
        .collect::<rusqlite::Result<_>>()?;
    let mut swept = 0;
    let mut more = due.len() >= groups_at_once;
    for (org, id) in due {
        let budget = rows.saturating_sub(usize::try_from(swept).unwrap_or(usize::MAX));
        if budget == 0 {
            more = true;
            break;
        }
        let org = OrgId::from_stored(org);
        let Some((pk, group)) = find(tx, &org, &GroupId::from_stored(id))? else { continue };
        let before = group.member_count + group.guest_count;
        let (after, left) = expire_ended(tx, &org, pk, group, budget)?;
        swept += before.saturating_sub(after.member_count + after.guest_count);
        more |= left;
    }
    Ok((swept, more))
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
    let group =
        get(tx, org, &GroupId::from_stored(group_id), tx.now())?.ok_or(WriteError::NotFound)?;
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
    let now = tx.now();
    let group = with_people(tx, (pk, current), now)?;
    let had_expiry = group.next_expiry.is_some();
    let plan = groups::plan_update(group, write, now);
    let group = plan.after;
    let mut drafts = plan.events;
    let delta = &plan.delta;
    remove_members(tx, pk, &delta.removed_members)?;
    add_members(tx, org, pk, &delta.added_members)?;
    remove_guests(tx, pk, &delta.removed_guests)?;
    drafts.extend(add_guests(tx, org, pk, &delta.added_guests, group.updated_at)?);
    if plan.changed {
        store_own_columns(tx, pk, &group)?;
        set_expiries(tx, pk, delta, had_expiry)?;
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
    let now = tx.now();
    let plan = groups::plan_trash(with_people(tx, (pk, group), now)?, now);
    tx.prepare_cached(
        "UPDATE groups SET deleted_at = ?2, trashed_people = ?3, next_expiry = NULL WHERE pk = ?1",
    )?
    .execute(params![pk, now.millis(), plan.people.to_json()])?;
    tx.prepare_cached("DELETE FROM group_members WHERE group_pk = ?1")?.execute([pk])?;
    tx.prepare_cached("DELETE FROM group_guests WHERE group_pk = ?1")?.execute([pk])?;
    tx.prepare_cached("UPDATE organizations SET group_count = group_count - 1 WHERE id = ?1")?
        .execute([org.as_str()])?;
    crate::events::record(tx, org, plan.events, now)
}

/// Deletes a group (live or trashed) for good, with its logo and memberships.
pub(crate) fn purge(tx: &WriteTx<'_>, org: &OrgId, id: &GroupId) -> Result<(), TxError> {
    let (pk, group, _) = find_any(tx, org, id)?.ok_or(WriteError::NotFound)?;
    tx.prepare_cached("DELETE FROM groups WHERE pk = ?1")?.execute([pk])?;
    if group.deleted_at.is_none() {
        tx.prepare_cached("UPDATE organizations SET group_count = group_count - 1 WHERE id = ?1")?
            .execute([org.as_str()])?;
    }
    crate::events::record(tx, org, groups::purge_events(&group), tx.now())
}

/// The trashed groups of every org deleted before `before`, oldest first.
pub(crate) fn trash_older_than(
    conn: &Connection,
    before: Timestamp,
    limit: usize,
) -> rusqlite::Result<Vec<(OrgId, GroupId)>> {
    conn.prepare_cached(
        "SELECT org_id, id FROM groups WHERE deleted_at IS NOT NULL AND deleted_at < ?1
         ORDER BY deleted_at LIMIT ?2",
    )?
    .query_map(params![before.millis(), i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
        Ok((OrgId::from_stored(row.get(0)?), GroupId::from_stored(row.get(1)?)))
    })?
    .collect()
}

/// Brings a trashed group back, as `groups::plan_restore` decides.
pub(crate) fn restore(
    tx: &WriteTx<'_>,
    org: &OrgId,
    id: &GroupId,
    new_name: Option<&GroupName>,
) -> Result<Restored, TxError> {
    let Some((pk, trashed, Some(people))) = find_any(tx, org, id)? else {
        return Err(WriteError::NotFound.into());
    };
    if trashed.deleted_at.is_none() {
        return Err(WriteError::NotFound.into());
    }
    let name_key = new_name.map_or_else(|| groups::fold_case(&trashed.name), GroupName::key);
    let mut facts = RestoreFacts {
        name_taken: tx
            .prepare_cached(
                "SELECT 1 FROM groups WHERE org_id = ?1 AND name_key = ?2 AND deleted_at IS NULL",
            )?
            .exists(params![org.as_str(), name_key])?,
        ..RestoreFacts::default()
    };
    let references = reference_facts(
        tx,
        org,
        None,
        None,
        people.members.iter().map(|(id, _)| *id),
        people.guests.iter().map(|(email, _)| email),
    )?;
    facts.eligible_members = references.eligible_members;
    let mut enabled = tx.prepare_cached(
        "SELECT 1 FROM guests WHERE org_id = ?1 AND email = ?2 AND status = 'active'",
    )?;
    for (email, _) in &people.guests {
        if !references.member_emails.contains(email)
            && enabled.exists(params![org.as_str(), email.as_str()])?
        {
            facts.eligible_guests.insert(email.clone());
        }
    }
    let now = tx.now();
    let plan = groups::plan_restore(trashed, &people, new_name, &facts, now).map_err(invalid)?;
    store_own_columns(tx, pk, &plan.after)?;
    tx.prepare_cached(
        "UPDATE groups SET deleted_at = NULL, trashed_people = NULL, next_expiry = ?2 WHERE pk = ?1",
    )?
    .execute(params![pk, plan.after.next_expiry.map(Timestamp::millis)])?;
    let mut member = tx.prepare_cached(
        "INSERT INTO group_members (group_pk, org_id, user_id, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (id, at) in &plan.members {
        member.execute(params![pk, org.as_str(), id.get(), at.map(Timestamp::millis)])?;
    }
    let mut guest = tx.prepare_cached(
        "INSERT INTO group_guests (group_pk, org_id, email, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (email, at) in &plan.guests {
        guest.execute(params![pk, org.as_str(), email.as_str(), at.map(Timestamp::millis)])?;
    }
    tx.prepare_cached("UPDATE organizations SET group_count = group_count + 1 WHERE id = ?1")?
        .execute([org.as_str()])?;
    crate::events::record(tx, org, plan.events, now)?;
    Ok(Restored {
        group: plan.after,
        not_restored_members: plan.not_restored_members,
        not_restored_guests: plan.not_restored_guests,
    })
}

/// Which of `ids` are members of the group at `pk`.
fn present_members(
    tx: &WriteTx<'_>,
    pk: i64,
    ids: impl Iterator<Item = UserId>,
) -> rusqlite::Result<HashMap<UserId, Option<Timestamp>>> {
    let mut present = tx.prepare_cached(
        "SELECT expires_at FROM group_members WHERE group_pk = ?1 AND user_id = ?2",
    )?;
    let mut found = HashMap::new();
    for id in ids {
        if let Some(at) = present
            .query_row(params![pk, id.get()], |row| row.get::<_, Option<i64>>(0))
            .optional()?
        {
            found.insert(id, at.map(Timestamp::from_millis));
        }
    }
    Ok(found)
}

/// Which of `emails` are guests of the group at `pk`.
fn present_guests<'a>(
    tx: &WriteTx<'_>,
    pk: i64,
    emails: impl Iterator<Item = &'a Email>,
) -> rusqlite::Result<HashMap<Email, Option<Timestamp>>> {
    let mut present = tx
        .prepare_cached("SELECT expires_at FROM group_guests WHERE group_pk = ?1 AND email = ?2")?;
    let mut found = HashMap::new();
    for email in emails {
        if let Some(at) = present
            .query_row(params![pk, email.as_str()], |row| row.get::<_, Option<i64>>(0))
            .optional()?
        {
            found.insert(email.clone(), at.map(Timestamp::from_millis));
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

/// One page of the group's members whose membership has not ended at `page.now`
/// (with `expiring_before`, only those whose membership ends before it), with each
/// one's end.
pub(crate) fn member_page(
    conn: &Connection,
    org: &OrgId,
    id: &GroupId,
    after: Option<UserId>,
    page: &PeoplePage,
) -> rusqlite::Result<Option<Vec<roster_core::store::WithEnd<OrgMember>>>> {
    let Some((pk, _)) = find(conn, org, id)? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {}, gm.expires_at FROM group_members gm
         JOIN org_members m ON m.org_id = gm.org_id AND m.user_id = gm.user_id
         JOIN users u ON u.id = gm.user_id
         WHERE gm.group_pk = ?1 AND gm.user_id > ?2
           AND (gm.expires_at IS NULL OR gm.expires_at > ?4)
           AND (?5 IS NULL OR gm.expires_at < ?5)
         ORDER BY gm.user_id LIMIT ?3",
        crate::people::MEMBER_COLUMNS
    ))?;
    let after = after.map_or(0, UserId::get);
    let members = stmt
        .query_map(params![pk, after, page.limit(), page.now.millis(), page.before()], |row| {
            let member = crate::people::member_from_row(row, 0)?;
            let at = row.get::<_, Option<i64>>(crate::people::MEMBER_COLUMN_COUNT)?;
            Ok((member, at.map(Timestamp::from_millis)))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(members))
}

pub(crate) fn guest_page(
    conn: &Connection,
    org: &OrgId,
    id: &GroupId,
    after: Option<&Email>,
    page: &PeoplePage,
) -> rusqlite::Result<Option<Vec<roster_core::store::WithEnd<Guest>>>> {
    let Some((pk, _)) = find(conn, org, id)? else {
        return Ok(None);
    };
    let guests = crate::guests::in_group(conn, org, pk, after.map_or("", Email::as_str), page)?;
    Ok(Some(guests))
}

/// Groups of the org that each of `ids` is a member of, in creation order.
pub(crate) fn groups_of_members(
    conn: &Connection,
    org: &OrgId,
    ids: &[UserId],
    now: Timestamp,
) -> rusqlite::Result<Vec<(UserId, Group)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GROUP_COLUMNS} FROM group_members gm JOIN groups g ON g.pk = gm.group_pk
         WHERE gm.org_id = ?1 AND gm.user_id = ?2 AND g.org_id = ?1
           AND (gm.expires_at IS NULL OR gm.expires_at > ?3)
         ORDER BY g.created_at, g.id"
    ))?;
    let mut out = Vec::new();
    for id in ids {
        let found = stmt
            .query_map(params![org.as_str(), id.get(), now.millis()], group_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for group in found {
            out.push((*id, with_people(conn, group, now)?));
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
) -> Result<Vec<EventDraft>, TxError> {
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
    let mut drafts = Vec::new();
    for (pk, group) in found {
        // A membership that has ended is swept as such (its own events, recorded now),
        // not reported as this person leaving.
        let (group, _) = expire_ended(tx, org, pk, group, usize::MAX)?;
        let still_in = match leaving {
            Leaving::Member(id) => !present_members(tx, pk, std::iter::once(*id))?.is_empty(),
            Leaving::Guest(email) => !present_guests(tx, pk, std::iter::once(email))?.is_empty(),
        };
        if still_in {
            for plan in groups::plan_leave_everywhere(vec![group], leaving, now) {
                store_membership_plan(tx, org, pk, &plan)?;
                drafts.extend(plan.events);
            }
        }
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
    let after = get(tx, org, id, tx.now())?.ok_or(WriteError::NotFound)?;
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
    let after = get(tx, org, id, tx.now())?.ok_or(WriteError::NotFound)?;
    crate::events::record(tx, org, vec![events::group_logo_changed(&before, &after)], now)?;
    Ok(after)
}

pub(crate) fn logo(conn: &Connection, asset: &AssetId) -> rusqlite::Result<Option<StoredLogo>> {
    // A trashed group's logo is kept for a restore, but not served.
    conn.prepare_cached(
        "SELECT b.content_type, b.bytes FROM logo_blobs b JOIN groups g ON g.pk = b.group_pk
         WHERE b.asset_id = ?1 AND g.deleted_at IS NULL",
    )?
    .query_row([asset.as_str()], |row| {
        Ok(StoredLogo { content_type: row.get(0)?, bytes: row.get(1)? })
    })
    .optional()
}

/// What a page of a group's people is read under: its size, the time memberships are
/// judged at, and (for `expiring_before`) only those ending before an instant.
pub(crate) struct PeoplePage {
    pub limit: u64,
    pub now: Timestamp,
    pub expiring_before: Option<Timestamp>,
}

impl PeoplePage {
    pub(crate) fn limit(&self) -> i64 {
        i64::try_from(self.limit).unwrap_or(i64::MAX)
    }

    pub(crate) fn before(&self) -> Option<i64> {
        self.expiring_before.map(Timestamp::millis)
    }
}
