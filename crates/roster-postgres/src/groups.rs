//! Group queries. Every statement is scoped by `org_id`, or by a group `pk` that was
//! itself looked up by `org_id`.

use deadpool_postgres::GenericClient;
use std::collections::HashMap;

use roster_core::events::{self, EventDraft};
use roster_core::groups::{
    self, GroupName, GroupWrite, GuestRef, IfMatch, Leaving, MemberRef, MembershipPatch,
    MembershipPlan, ReferenceFacts, RestoreFacts, TrashedPeople,
};
use roster_core::listing::{ListParams, SortField, Trashed};
use roster_core::model::{Guest, LogoRef, NewLogo, Page, StoredLogo};
use roster_core::store::{
    Created, IDEMPOTENCY_WINDOW_MILLIS, IdempotencyKey, PeoplePageOptions, Restored,
};
use roster_core::{
    AssetId, Email, Group, GroupId, OrgId, OrgMember, StoreError, Timestamp, UserId,
    ValidationErrors, WriteError,
};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::sql::{self, Tx, TxError};

const GROUP_COLUMNS: &str = "g.pk, g.id, g.name, g.description, g.member_count, g.guest_count, \
     g.version, g.created_at, g.updated_at, g.logo_asset_id, g.logo_filename, g.logo_content_type, \
     g.logo_version, g.logo_uploaded_at, g.logo_uploaded_from, g.deleted_at, g.next_expiry";

/// How many columns `GROUP_COLUMNS` names.
const GROUP_COLUMN_COUNT: usize = 17;

/// How many columns `GROUP_WITH_PEOPLE` names.
const GROUP_WITH_PEOPLE_COUNT: usize = 21;

/// `GROUP_COLUMNS` and both lists, read in one statement (so from one snapshot), with
/// every stored membership and, for a group where some end, when each does (in the
/// lists' orders): `Group::seen_at` leaves out those that have ended.
const GROUP_WITH_PEOPLE: &str = "g.pk, g.id, g.name, g.description, g.member_count, g.guest_count, \
     g.version, g.created_at, g.updated_at, g.logo_asset_id, g.logo_filename, g.logo_content_type, \
     g.logo_version, g.logo_uploaded_at, g.logo_uploaded_from, g.deleted_at, g.next_expiry, \
     ARRAY(SELECT gm.user_id FROM group_members gm WHERE gm.group_pk = g.pk ORDER BY gm.user_id), \
     ARRAY(SELECT gg.email FROM group_guests gg WHERE gg.group_pk = g.pk ORDER BY gg.email), \
     CASE WHEN g.next_expiry IS NULL THEN NULL ELSE \
       ARRAY(SELECT gm.expires_at FROM group_members gm WHERE gm.group_pk = g.pk ORDER BY gm.user_id) END, \
     CASE WHEN g.next_expiry IS NULL THEN NULL ELSE \
       ARRAY(SELECT gg.expires_at FROM group_guests gg WHERE gg.group_pk = g.pk ORDER BY gg.email) END";

/// Reads `GROUP_COLUMNS` (or `GROUP_WITH_PEOPLE`) from the start of the row.
fn group_from_row(row: &Row) -> Result<(i64, Group), TxError> {
    group_from_row_at(row, 0)
}

async fn find<C: GenericClient>(
    c: &C,
    org: &OrgId,
    id: &GroupId,
) -> Result<Option<(i64, Group)>, TxError> {
    let sql = format!(
        "SELECT {GROUP_COLUMNS} FROM groups g
         WHERE g.org_id = $1 AND g.id = $2 AND g.deleted_at IS NULL"
    );
    sql::opt(c, &sql, &[&org.as_str(), &id.as_str()])
        .await?
        .map(|row| group_from_row(&row))
        .transpose()
}

/// The group locked for this write, refused when missing or when `If-Match` names another
/// version. The lock makes concurrent writers to one group take turns.
async fn find_for_write(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    id: &GroupId,
    if_match: Option<&IfMatch>,
) -> Result<(i64, Group), TxError> {
    let sql = format!(
        "SELECT {GROUP_COLUMNS} FROM groups g
         WHERE g.org_id = $1 AND g.id = $2 AND g.deleted_at IS NULL FOR UPDATE"
    );
    let row =
        sql::opt(tx, &sql, &[&org.as_str(), &id.as_str()]).await?.ok_or(WriteError::NotFound)?;
    let (pk, group) = group_from_row(&row)?;
    IfMatch::check(if_match, group.version)?;
    // Memberships that have ended are swept first, so the write works on the group as
    // readers see it.
    let (group, _) = expire_ended(tx, now, org, pk, group, i64::MAX).await?;
    Ok((pk, group))
}

/// A live group with its people as they are at `now`.
pub(crate) async fn get<C: GenericClient>(
    c: &C,
    org: &OrgId,
    id: &GroupId,
    now: Timestamp,
) -> Result<Option<Group>, TxError> {
    let sql = format!(
        "SELECT {GROUP_WITH_PEOPLE} FROM groups g
         WHERE g.org_id = $1 AND g.id = $2 AND g.deleted_at IS NULL"
    );
    Ok(sql::opt(c, &sql, &[&org.as_str(), &id.as_str()])
        .await?
        .map(|row| group_from_row(&row))
        .transpose()?
        .map(|(_, g)| g.seen_at(now)))
}

/// A group live or trashed, with the people a trashed one remembers.
async fn find_any<C: GenericClient>(
    c: &C,
    org: &OrgId,
    id: &GroupId,
    lock: bool,
) -> Result<Option<(i64, Group, Option<TrashedPeople>)>, TxError> {
    let sql = format!(
        "SELECT {GROUP_COLUMNS}, g.trashed_people FROM groups g WHERE g.org_id = $1 AND g.id = $2 {}",
        if lock { "FOR UPDATE" } else { "" }
    );
    let Some(row) = sql::opt(c, &sql, &[&org.as_str(), &id.as_str()]).await? else {
        return Ok(None);
    };
    let (pk, group) = group_from_row(&row)?;
    let people: Option<String> = row.try_get(GROUP_COLUMN_COUNT)?;
    Ok(Some((pk, group, people.as_deref().map(TrashedPeople::from_json))))
}

/// A live group's version and next membership end.
pub(crate) async fn version<C: GenericClient>(
    c: &C,
    org: &OrgId,
    id: &GroupId,
) -> Result<Option<(i64, Option<Timestamp>)>, TxError> {
    let row = sql::opt(
        c,
        "SELECT version, next_expiry FROM groups
         WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL",
        &[&org.as_str(), &id.as_str()],
    )
    .await?;
    row.map(|row| {
        let next: Option<i64> = row.try_get(1)?;
        Ok((row.try_get(0)?, next.map(Timestamp::from_millis)))
    })
    .transpose()
}

/// A group live or trashed (`trashed=with`): a trashed one shows the people it had.
pub(crate) async fn get_with_trashed<C: GenericClient>(
    c: &C,
    org: &OrgId,
    id: &GroupId,
    now: Timestamp,
) -> Result<Option<Group>, TxError> {
    match find_any(c, org, id, false).await? {
        None => Ok(None),
        Some((_, group, Some(people))) if group.deleted_at.is_some() => {
            Ok(Some(people.shown_in(group)))
        }
        Some(_) => get(c, org, id, now).await,
    }
}

pub(crate) async fn list<C: GenericClient>(
    c: &C,
    org: &OrgId,
    params: &ListParams,
    now: Timestamp,
) -> Result<Page<Group>, TxError> {
    // Only fixed fragments are spliced into the SQL; user input is always bound.
    let filter = if params.q.is_some() {
        "AND (strpos(g.name_key, $2) > 0 OR strpos(g.description_key, $2) > 0)"
    } else {
        "AND $2::text IS NULL"
    };
    let trash = match params.trashed {
        Trashed::Without => "AND g.deleted_at IS NULL",
        Trashed::Only => "AND g.deleted_at IS NOT NULL",
        Trashed::With => "",
    };
    let column = sort_column(params.sort);
    let q = params.q.as_deref();
    // Without a filter, the org's maintained count; with one, there is nothing to do but count.
    let total: i64 = match q {
        None if params.trashed == Trashed::Without => group_count(c, org).await?,
        _ => sql::one(
            c,
            &format!("SELECT count(*) FROM groups g WHERE g.org_id = $1 {filter} {trash}"),
            &[&org.as_str(), &q],
        )
        .await?
        .try_get(0)?,
    };
    let read = sql::PageRead::new(params, total);
    let direction = read.direction;
    let rows = sql::all(
        c,
        &format!(
            "SELECT {GROUP_WITH_PEOPLE}, g.trashed_people FROM groups g
             WHERE g.org_id = $1 {filter} {trash}
             ORDER BY {column} {direction}, g.id {direction} LIMIT $3 OFFSET $4"
        ),
        &[&org.as_str(), &q, &read.limit, &read.offset],
    )
    .await?;
    let items = rows
        .iter()
        .map(|row| {
            let (_, group) = group_from_row(row)?;
            let people: Option<String> = row.try_get(GROUP_WITH_PEOPLE_COUNT)?;
            Ok(match people {
                Some(people) if group.deleted_at.is_some() => {
                    TrashedPeople::from_json(&people).shown_in(group)
                }
                _ => group.seen_at(now),
            })
        })
        .collect::<Result<Vec<_>, TxError>>()?;
    Ok(Page { items: read.in_order(items), total: sql::count(total), stream_head: 0 })
}

/// A page of an unfiltered listing near the front (`ListParams::is_shallow`), read
/// forwards with the org's group count in the same statement: one round trip instead of
/// a transaction's four.
pub(crate) async fn list_front<C: GenericClient>(
    c: &C,
    org: &OrgId,
    params: &ListParams,
    now: Timestamp,
) -> Result<Page<Group>, TxError> {
    let column = sort_column(params.sort);
    let direction = if params.descending { "DESC" } else { "ASC" };
    let (limit, offset) = sql::limit_offset(params);
    let rows = sql::all(
        c,
        &format!(
            "SELECT {GROUP_WITH_PEOPLE}, (SELECT group_count FROM organizations WHERE id = $1)
             FROM groups g WHERE g.org_id = $1 AND g.deleted_at IS NULL
             ORDER BY {column} {direction}, g.id {direction} LIMIT $2 OFFSET $3"
        ),
        &[&org.as_str(), &limit, &offset],
    )
    .await?;
    let total: i64 = match rows.first() {
        Some(row) => row.try_get(GROUP_WITH_PEOPLE_COUNT)?,
        // No row to carry the count: an empty org, or a page past the end.
        None => group_count(c, org).await?,
    };
    let items = rows
        .iter()
        .map(|row| group_from_row(row).map(|(_, g)| g.seen_at(now)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items, total: sql::count(total), stream_head: 0 })
}

/// The org's maintained group count (0 for an org that does not exist).
async fn group_count<C: GenericClient>(c: &C, org: &OrgId) -> Result<i64, TxError> {
    Ok(sql::opt(c, "SELECT group_count FROM organizations WHERE id = $1", &[&org.as_str()])
        .await?
        .map(|row| row.try_get(0))
        .transpose()?
        .unwrap_or(0))
}

fn sort_column(sort: SortField) -> &'static str {
    match sort {
        SortField::Name => "g.name_key",
        // Groups have no email; `groups::SORT_FIELDS` keeps it out of their listings.
        SortField::CreatedAt | SortField::Email => "g.created_at",
        SortField::UpdatedAt => "g.updated_at",
    }
}

/// What the reference rules need to know about a name, some member ids and some guest emails.
async fn reference_facts(
    tx: &Tx<'_>,
    org: &OrgId,
    name_key: Option<String>,
    except_pk: Option<i64>,
    members: &[UserId],
    guests: &[Email],
) -> Result<ReferenceFacts, TxError> {
    let mut facts = ReferenceFacts::default();
    if let Some(key) = name_key {
        facts.name_taken = sql::exists(
            tx,
            "SELECT 1 FROM groups
             WHERE org_id = $1 AND name_key = $2 AND pk IS DISTINCT FROM $3 AND deleted_at IS NULL",
            &[&org.as_str(), &key, &except_pk],
        )
        .await?;
    }
    let ids: Vec<i64> = members.iter().map(|id| id.get()).collect();
    let eligible = if ids.is_empty() {
        Vec::new()
    } else {
        sql::all(
            tx,
            "SELECT user_id FROM org_members
             WHERE org_id = $1 AND user_id = ANY($2) AND status IN ('active', 'invited')",
            &[&org.as_str(), &ids],
        )
        .await?
    };
    for row in eligible {
        if let Some(id) = UserId::new(row.try_get(0)?) {
            facts.eligible_members.insert(id);
        }
    }
    for email in guests {
        if crate::guests::is_current_member(tx, org, email).await? {
            facts.member_emails.insert(email.clone());
        } else if sql::exists(
            tx,
            "SELECT 1 FROM guests WHERE org_id = $1 AND email = $2 AND status = 'disabled'",
            &[&org.as_str(), &email.as_str()],
        )
        .await?
        {
            facts.disabled_guests.insert(email.clone());
        }
    }
    Ok(facts)
}

fn invalid(errors: ValidationErrors) -> TxError {
    TxError::Refused(WriteError::Invalid(errors))
}

async fn check_write(
    tx: &Tx<'_>,
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
        &members,
        &guests,
    )
    .await?;
    groups::check_references(write, &facts).map_err(invalid)
}

async fn add_members(tx: &Tx<'_>, org: &OrgId, pk: i64, ids: &[UserId]) -> Result<i64, TxError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let raw: Vec<i64> = ids.iter().map(|id| id.get()).collect();
    Ok(sql::exec(
        tx,
        "INSERT INTO group_members (group_pk, org_id, user_id)
         SELECT $1, $2, unnest($3::bigint[]) ON CONFLICT DO NOTHING",
        &[&pk, &org.as_str(), &raw],
    )
    .await?)
}

async fn remove_members(tx: &Tx<'_>, pk: i64, ids: &[UserId]) -> Result<i64, TxError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let raw: Vec<i64> = ids.iter().map(|id| id.get()).collect();
    Ok(sql::exec(
        tx,
        "DELETE FROM group_members WHERE group_pk = $1 AND user_id = ANY($2)",
        &[&pk, &raw],
    )
    .await?)
}

/// Inserts guests (emails new to the org become its guests first); answers the
/// `guest.created` events of those new to the org.
async fn add_guests(
    tx: &Tx<'_>,
    org: &OrgId,
    pk: i64,
    emails: &[Email],
    now: Timestamp,
) -> Result<Vec<EventDraft>, TxError> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<&str> = emails.iter().map(Email::as_str).collect();
    let created = sql::all(
        tx,
        "INSERT INTO guests (org_id, email, created_at, updated_at)
         SELECT $1, unnest($2::text[]), $3, $3 ON CONFLICT (org_id, email) DO NOTHING
         RETURNING email",
        &[&org.as_str(), &raw, &now.millis()],
    )
    .await?;
    sql::exec(
        tx,
        "INSERT INTO group_guests (group_pk, org_id, email)
         SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING",
        &[&pk, &org.as_str(), &raw],
    )
    .await?;
    let mut drafts = Vec::with_capacity(created.len());
    for row in created {
        let email = Email::from_stored(row.try_get(0)?);
        if let Some(guest) = crate::guests::get(tx, org, &email).await? {
            drafts.push(events::guest_created(&guest));
        }
    }
    Ok(drafts)
}

async fn remove_guests(tx: &Tx<'_>, pk: i64, emails: &[Email]) -> Result<i64, TxError> {
    if emails.is_empty() {
        return Ok(0);
    }
    let raw: Vec<&str> = emails.iter().map(Email::as_str).collect();
    Ok(sql::exec(
        tx,
        "DELETE FROM group_guests WHERE group_pk = $1 AND email = ANY($2)",
        &[&pk, &raw],
    )
    .await?)
}

/// Stores a membership plan of the group at `pk`: its rows, then its own columns.
async fn store_membership_plan(
    tx: &Tx<'_>,
    org: &OrgId,
    pk: i64,
    plan: &MembershipPlan,
) -> Result<Vec<EventDraft>, TxError> {
    if !plan.changed() {
        return Ok(Vec::new());
    }
    let delta = &plan.delta;
    add_members(tx, org, pk, &delta.added_members).await?;
    remove_members(tx, pk, &delta.removed_members).await?;
    let created = add_guests(tx, org, pk, &delta.added_guests, plan.after.updated_at).await?;
    remove_guests(tx, pk, &delta.removed_guests).await?;
    set_expiries(tx, pk, delta, plan.after.next_expiry.is_some()).await?;
    // Only what a membership change moves (an unchanged name column keeps the update
    // off the name index).
    let after = &plan.after;
    sql::exec(
        tx,
        "UPDATE groups SET member_count = $2, guest_count = $3, version = $4, updated_at = $5
         WHERE pk = $1",
        &[
            &pk,
            &(after.member_count as i64),
            &(after.guest_count as i64),
            &after.version,
            &after.updated_at.millis(),
        ],
    )
    .await?;
    Ok(created)
}

/// Stores the delta's expiries and, when any membership of the group ends (or ended),
/// its `next_expiry` again from the rows.
async fn set_expiries(
    tx: &Tx<'_>,
    pk: i64,
    delta: &roster_core::events::MembershipDelta,
    had_expiry: bool,
) -> Result<(), TxError> {
    for (id, at) in &delta.member_expiries {
        sql::exec(
            tx,
            "UPDATE group_members SET expires_at = $3 WHERE group_pk = $1 AND user_id = $2",
            &[&pk, &id.get(), &at.map(Timestamp::millis)],
        )
        .await?;
    }
    for (email, at) in &delta.guest_expiries {
        sql::exec(
            tx,
            "UPDATE group_guests SET expires_at = $3 WHERE group_pk = $1 AND email = $2",
            &[&pk, &email.as_str(), &at.map(Timestamp::millis)],
        )
        .await?;
    }
    if had_expiry || !delta.member_expiries.is_empty() || !delta.guest_expiries.is_empty() {
        sql::exec(
            tx,
            "UPDATE groups SET next_expiry = (SELECT min(at) FROM (
                SELECT min(expires_at) AS at FROM group_members WHERE group_pk = $1 AND expires_at IS NOT NULL
                UNION ALL
                SELECT min(expires_at) FROM group_guests WHERE group_pk = $1 AND expires_at IS NOT NULL) e)
             WHERE pk = $1",
            &[&pk],
        )
        .await?;
    }
    Ok(())
}

/// Sweeps the (locked) group's memberships that have ended by `now` (at most `limit`
/// rows), as `groups::plan_expiry` decides, with their events; answers the group after
/// and whether ended rows remain.
async fn expire_ended(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    pk: i64,
    group: Group,
    limit: i64,
) -> Result<(Group, bool), TxError> {
    if !group.has_ended_memberships(now) {
        return Ok((group, false));
    }
    let members: Vec<(UserId, Timestamp)> = sql::all(
        tx,
        "SELECT user_id, expires_at FROM group_members
         WHERE group_pk = $1 AND expires_at <= $2 ORDER BY expires_at, user_id LIMIT $3",
        &[&pk, &now.millis(), &limit],
    )
    .await?
    .iter()
    .map(|row| Ok((UserId::new(row.try_get(0)?), Timestamp::from_millis(row.try_get(1)?))))
    .filter_map(|row: Result<_, TxError>| row.map(|(id, at)| id.map(|id| (id, at))).transpose())
    .collect::<Result<_, _>>()?;
    let room = (limit - i64::try_from(members.len()).unwrap_or(0)).max(0);
    let guests: Vec<(Email, Timestamp)> = sql::all(
        tx,
        "SELECT email, expires_at FROM group_guests
         WHERE group_pk = $1 AND expires_at <= $2 ORDER BY expires_at, email LIMIT $3",
        &[&pk, &now.millis(), &room],
    )
    .await?
    .iter()
    .map(|row| Ok((Email::from_stored(row.try_get(0)?), Timestamp::from_millis(row.try_get(1)?))))
    .collect::<Result<_, TxError>>()?;
    let more = i64::try_from(members.len() + guests.len()).unwrap_or(i64::MAX) >= limit;
    let mut group = group;
    for plan in groups::plan_expiry(group.clone(), &members, &guests, now) {
        store_membership_plan(tx, org, pk, &plan).await?;
        crate::events::record(tx, org, plan.events, now).await?;
        group = plan.after;
    }
    let next: Option<i64> =
        sql::one(tx, "SELECT next_expiry FROM groups WHERE pk = $1", &[&pk]).await?.try_get(0)?;
    group.next_expiry = next.map(Timestamp::from_millis);
    Ok((group, more))
}

/// One step of the sweep: ends the memberships due in up to `groups_at_once` groups of
/// any org (at most `rows` rows in all); answers how many went and whether more are
/// due. Groups another instance is sweeping are skipped (SKIP LOCKED), not waited for.
pub(crate) async fn sweep_expired(
    tx: &Tx<'_>,
    now: Timestamp,
    groups_at_once: i64,
    rows: i64,
) -> Result<(u64, bool), TxError> {
    let sql = format!(
        "SELECT {GROUP_COLUMNS}, g.org_id FROM groups g
         WHERE g.next_expiry IS NOT NULL AND g.next_expiry <= $1 AND g.deleted_at IS NULL
         ORDER BY g.next_expiry LIMIT $2 FOR UPDATE SKIP LOCKED"
    );
    let due = sql::all(tx, &sql, &[&now.millis(), &groups_at_once]).await?;
    let mut more = i64::try_from(due.len()).unwrap_or(i64::MAX) >= groups_at_once;
    let mut swept: u64 = 0;
    for row in &due {
        let budget = rows - i64::try_from(swept).unwrap_or(i64::MAX);
        if budget <= 0 {
            more = true;
            break;
        }
        let (pk, group) = group_from_row(row)?;
        let org = OrgId::from_stored(row.try_get(GROUP_COLUMN_COUNT)?);
        let before = group.member_count + group.guest_count;
        let (after, left) = expire_ended(tx, now, &org, pk, group, budget).await?;
        swept += before.saturating_sub(after.member_count + after.guest_count);
        more |= left;
    }
    Ok((swept, more))
}

/// Claims an idempotency key for a create about to make group `id`. When a live claim
/// exists already (a concurrent holder is waited for), answers with that create's group.
async fn claim_or_replay(
    tx: &Tx<'_>,
    org: &OrgId,
    key: &IdempotencyKey,
    id: &GroupId,
    now: Timestamp,
) -> Result<Option<Created>, TxError> {
    let fingerprint: &[u8] = &key.fingerprint[..];
    let cutoff = now.millis() - IDEMPOTENCY_WINDOW_MILLIS;
    // Inserting first (not reading first) makes a concurrent duplicate wait for this
    // transaction, then see its commit; an expired claim is taken over.
    let claimed = sql::opt(
        tx,
        "INSERT INTO idempotency_keys (org_id, key, fingerprint, group_id, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (org_id, key) DO UPDATE SET fingerprint = excluded.fingerprint,
         group_id = excluded.group_id, created_at = excluded.created_at
         WHERE idempotency_keys.created_at <= $6
         RETURNING 1",
        &[&org.as_str(), &key.key, &fingerprint, &id.as_str(), &now.millis(), &cutoff],
    )
    .await?;
    if claimed.is_some() {
        return Ok(None);
    }
    let row = sql::one(
        tx,
        "SELECT fingerprint, group_id FROM idempotency_keys WHERE org_id = $1 AND key = $2",
        &[&org.as_str(), &key.key],
    )
    .await?;
    let earlier: &[u8] = row.try_get(0)?;
    if earlier != key.fingerprint {
        return Err(invalid(ValidationErrors::single(
            "Idempotency-Key",
            "The Idempotency-Key was already used with a different request.",
        )));
    }
    // The group may have changed or gone since; the answer is what it is now.
    let group = get(tx, org, &GroupId::from_stored(row.try_get(1)?), now)
        .await?
        .ok_or(WriteError::NotFound)?;
    Ok(Some(Created { group, replayed: true }))
}

/// A group's own columns, in the one order the INSERT of a create and the UPDATE of a
/// change both use (see [`OwnColumns`]).
macro_rules! own_columns {
    () => {
        "name, name_key, description, description_key, member_count, guest_count, version, \
         created_at, updated_at"
    };
}

/// What [`own_columns`] hold for a group that are not its fields as they are: the folded
/// keys that search and uniqueness read, and the numbers as PostgreSQL stores them.
struct OwnColumns {
    name_key: String,
    description_key: String,
    member_count: i64,
    guest_count: i64,
    created_at: i64,
    updated_at: i64,
}

impl OwnColumns {
    fn of(group: &Group) -> Self {
        Self {
            name_key: groups::fold_case(&group.name),
            description_key: groups::fold_case(&group.description),
            member_count: group.member_count as i64,
            guest_count: group.guest_count as i64,
            created_at: group.created_at.millis(),
            updated_at: group.updated_at.millis(),
        }
    }

    fn params<'a>(&'a self, group: &'a Group) -> [&'a (dyn ToSql + Sync); 9] {
        [
            &group.name,
            &self.name_key,
            &group.description,
            &self.description_key,
            &self.member_count,
            &self.guest_count,
            &group.version,
            &self.created_at,
            &self.updated_at,
        ]
    }
}

pub(crate) async fn create(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    write: &GroupWrite,
    idempotency: Option<&IdempotencyKey>,
) -> Result<Created, TxError> {
    let id = GroupId::generate().map_err(|e| StoreError::new("generate group id", e))?;
    if let Some(key) = idempotency
        && let Some(earlier) = claim_or_replay(tx, org, key, &id, now).await?
    {
        return Ok(earlier);
    }
    let members = write.member_ids().unwrap_or_default();
    let guests = write.guest_emails().unwrap_or_default();
    // Whether the name is taken is learned from the insert itself (one round trip fewer):
    // it stores nothing when a live group of the org has the name.
    let mut facts = reference_facts(tx, org, None, None, &members, &guests).await?;
    let group = groups::plan_create(id, write, now)
        .ok_or_else(|| StoreError::new("create group", "create without name or description"))?;
    let own = OwnColumns::of(&group);
    let (id_text, org_text) = (group.id.as_str(), org.as_str());
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id_text, &org_text];
    params.extend(own.params(&group));
    let inserted = sql::opt(
        tx,
        concat!(
            "INSERT INTO groups (id, org_id, ",
            own_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (org_id, name_key) WHERE deleted_at IS NULL DO NOTHING RETURNING pk"
        ),
        &params,
    )
    .await?;
    facts.name_taken = inserted.is_none();
    // The rules decide on every fact at once; a refusal rolls the insert back.
    groups::check_references(write, &facts).map_err(invalid)?;
    let pk: i64 = inserted
        .ok_or_else(|| StoreError::new("create group", "a taken name passed the rules"))?
        .try_get(0)?;
    add_members(tx, org, pk, &group.members).await?;
    let mut drafts = vec![events::group_created(&group)];
    drafts.extend(add_guests(tx, org, pk, &group.guests, now).await?);
    drafts.extend(events::initial_members(&group));
    crate::events::record_counting(tx, org, drafts, now, 1).await?;
    Ok(Created { group, replayed: false })
}

async fn store_own_columns(tx: &Tx<'_>, pk: i64, group: &Group) -> Result<(), TxError> {
    let own = OwnColumns::of(group);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&pk];
    params.extend(own.params(group));
    sql::exec(
        tx,
        concat!(
            "UPDATE groups SET (",
            own_columns!(),
            ") = ($2, $3, $4, $5, $6, $7, $8, $9, $10) WHERE pk = $1"
        ),
        &params,
    )
    .await?;
    Ok(())
}

pub(crate) async fn update(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    id: &GroupId,
    write: &GroupWrite,
    if_match: Option<&IfMatch>,
) -> Result<Group, TxError> {
    let (pk, _) = find_for_write(tx, now, org, id, if_match).await?;
    check_write(tx, org, write, Some(pk)).await?;
    let group = get(tx, org, id, now).await?.ok_or(WriteError::NotFound)?;
    let had_expiry = group.next_expiry.is_some();
    let plan = groups::plan_update(group, write, now);
    let group = plan.after;
    let mut drafts = plan.events;
    let delta = &plan.delta;
    remove_members(tx, pk, &delta.removed_members).await?;
    add_members(tx, org, pk, &delta.added_members).await?;
    remove_guests(tx, pk, &delta.removed_guests).await?;
    drafts.extend(add_guests(tx, org, pk, &delta.added_guests, group.updated_at).await?);
    if plan.changed {
        store_own_columns(tx, pk, &group).await?;
        set_expiries(tx, pk, delta, had_expiry).await?;
    }
    crate::events::record(tx, org, drafts, now).await?;
    Ok(group)
}

pub(crate) async fn delete(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    id: &GroupId,
    if_match: Option<&IfMatch>,
) -> Result<(), TxError> {
    let (pk, _) = find_for_write(tx, now, org, id, if_match).await?;
    let group = get(tx, org, id, now).await?.ok_or(WriteError::NotFound)?;
    let plan = groups::plan_trash(group, now);
    sql::exec(
        tx,
        "UPDATE groups SET deleted_at = $2, trashed_people = $3, next_expiry = NULL WHERE pk = $1",
        &[&pk, &now.millis(), &plan.people.to_json()],
    )
    .await?;
    sql::exec(tx, "DELETE FROM group_members WHERE group_pk = $1", &[&pk]).await?;
    sql::exec(tx, "DELETE FROM group_guests WHERE group_pk = $1", &[&pk]).await?;
    crate::events::record_counting(tx, org, plan.events, now, -1).await
}

/// Deletes a group (live or trashed) for good, with its logo and memberships.
pub(crate) async fn purge(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    id: &GroupId,
) -> Result<(), TxError> {
    let (pk, group, _) = find_any(tx, org, id, true).await?.ok_or(WriteError::NotFound)?;
    sql::exec(tx, "DELETE FROM groups WHERE pk = $1", &[&pk]).await?;
    let live = if group.deleted_at.is_none() { -1 } else { 0 };
    crate::events::record_counting(tx, org, groups::purge_events(&group), now, live).await
}

/// The trashed groups of every org deleted before `before`, oldest first.
pub(crate) async fn trash_older_than<C: GenericClient>(
    c: &C,
    before: Timestamp,
    limit: i64,
) -> Result<Vec<(OrgId, GroupId)>, TxError> {
    sql::all(
        c,
        "SELECT org_id, id FROM groups WHERE deleted_at IS NOT NULL AND deleted_at < $1
         ORDER BY deleted_at LIMIT $2",
        &[&before.millis(), &limit],
    )
    .await?
    .iter()
    .map(|row| Ok((OrgId::from_stored(row.try_get(0)?), GroupId::from_stored(row.try_get(1)?))))
    .collect()
}

/// Brings a trashed group back, as `groups::plan_restore` decides.
pub(crate) async fn restore(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    id: &GroupId,
    new_name: Option<&GroupName>,
) -> Result<Restored, TxError> {
    let Some((pk, trashed, Some(people))) = find_any(tx, org, id, true).await? else {
        return Err(WriteError::NotFound.into());
    };
    if trashed.deleted_at.is_none() {
        return Err(WriteError::NotFound.into());
    }
    let name_key = new_name.map_or_else(|| groups::fold_case(&trashed.name), GroupName::key);
    let members: Vec<UserId> = people.members.iter().map(|(id, _)| *id).collect();
    let guests: Vec<Email> = people.guests.iter().map(|(email, _)| email.clone()).collect();
    let references = reference_facts(tx, org, None, None, &members, &guests).await?;
    let mut facts = RestoreFacts {
        name_taken: sql::exists(
            tx,
            "SELECT 1 FROM groups WHERE org_id = $1 AND name_key = $2 AND deleted_at IS NULL",
            &[&org.as_str(), &name_key],
        )
        .await?,
        eligible_members: references.eligible_members,
        ..RestoreFacts::default()
    };
    for email in &guests {
        if !references.member_emails.contains(email)
            && sql::exists(
                tx,
                "SELECT 1 FROM guests WHERE org_id = $1 AND email = $2 AND status = 'active'",
                &[&org.as_str(), &email.as_str()],
            )
            .await?
        {
            facts.eligible_guests.insert(email.clone());
        }
    }
    let plan = groups::plan_restore(trashed, &people, new_name, &facts, now).map_err(invalid)?;
    store_own_columns(tx, pk, &plan.after).await?;
    sql::exec(
        tx,
        "UPDATE groups SET deleted_at = NULL, trashed_people = NULL, next_expiry = $2 WHERE pk = $1",
        &[&pk, &plan.after.next_expiry.map(Timestamp::millis)],
    )
    .await?;
    let ids: Vec<i64> = plan.members.iter().map(|(id, _)| id.get()).collect();
    let ends: Vec<Option<i64>> =
        plan.members.iter().map(|(_, at)| at.map(Timestamp::millis)).collect();
    sql::exec(
        tx,
        "INSERT INTO group_members (group_pk, org_id, user_id, expires_at)
         SELECT $1, $2, * FROM unnest($3::bigint[], $4::bigint[])",
        &[&pk, &org.as_str(), &ids, &ends],
    )
    .await?;
    let emails: Vec<&str> = plan.guests.iter().map(|(email, _)| email.as_str()).collect();
    let ends: Vec<Option<i64>> =
        plan.guests.iter().map(|(_, at)| at.map(Timestamp::millis)).collect();
    sql::exec(
        tx,
        "INSERT INTO group_guests (group_pk, org_id, email, expires_at)
         SELECT $1, $2, * FROM unnest($3::text[], $4::bigint[])",
        &[&pk, &org.as_str(), &emails, &ends],
    )
    .await?;
    crate::events::record_counting(tx, org, plan.events, now, 1).await?;
    Ok(Restored {
        group: plan.after,
        not_restored_members: plan.not_restored_members,
        not_restored_guests: plan.not_restored_guests,
    })
}

pub(crate) async fn patch_members(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    id: &GroupId,
    patch: &MembershipPatch<MemberRef>,
    if_match: Option<&IfMatch>,
) -> Result<Group, TxError> {
    let (pk, current) = find_for_write(tx, now, org, id, if_match).await?;
    let adding: Vec<UserId> = patch.add.iter().map(|r| r.id).collect();
    let facts = reference_facts(tx, org, None, None, &adding, &[]).await?;
    groups::check_member_additions(&patch.add, &facts).map_err(invalid)?;
    let named: Vec<i64> = patch.add.iter().chain(&patch.remove).map(|r| r.id.get()).collect();
    let present: HashMap<UserId, Option<Timestamp>> = sql::all(
        tx,
        "SELECT user_id, expires_at FROM group_members WHERE group_pk = $1 AND user_id = ANY($2)",
        &[&pk, &named],
    )
    .await?
    .iter()
    .map(|row| {
        let at: Option<i64> = row.try_get(1)?;
        Ok((UserId::new(row.try_get(0)?), at.map(Timestamp::from_millis)))
    })
    .filter_map(|row: Result<_, TxError>| row.map(|(id, at)| id.map(|id| (id, at))).transpose())
    .collect::<Result<_, _>>()?;
    let plan = groups::plan_member_patch(current, patch, &present, now);
    store_membership_plan(tx, org, pk, &plan).await?;
    crate::events::record(tx, org, plan.events, now).await?;
    Ok(plan.after)
}

pub(crate) async fn patch_guests(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    id: &GroupId,
    patch: &MembershipPatch<GuestRef>,
    if_match: Option<&IfMatch>,
) -> Result<Group, TxError> {
    let (pk, current) = find_for_write(tx, now, org, id, if_match).await?;
    let adding: Vec<Email> = patch.add.iter().map(|r| r.email.clone()).collect();
    let facts = reference_facts(tx, org, None, None, &[], &adding).await?;
    groups::check_guest_additions(&patch.add, &facts).map_err(invalid)?;
    let named: Vec<&str> =
        patch.add.iter().chain(&patch.remove).map(|r| r.email.as_str()).collect();
    let present: HashMap<Email, Option<Timestamp>> = sql::all(
        tx,
        "SELECT email, expires_at FROM group_guests WHERE group_pk = $1 AND email = ANY($2)",
        &[&pk, &named],
    )
    .await?
    .iter()
    .map(|row| {
        let at: Option<i64> = row.try_get(1)?;
        Ok((Email::from_stored(row.try_get(0)?), at.map(Timestamp::from_millis)))
    })
    .collect::<Result<_, TxError>>()?;
    let plan = groups::plan_guest_patch(current, patch, &present, now);
    let mut drafts = store_membership_plan(tx, org, pk, &plan).await?;
    drafts.extend(plan.events);
    crate::events::record(tx, org, drafts, now).await?;
    Ok(plan.after)
}

/// One page of the group's members whose membership has not ended at `now` (with
/// `expiring_before`, only those ending before it), each with the end of theirs.
pub(crate) async fn member_page<C: GenericClient>(
    c: &C,
    org: &OrgId,
    id: &GroupId,
    after: Option<UserId>,
    page: PeoplePageOptions,
    now: Timestamp,
) -> Result<Option<Vec<roster_core::store::WithEnd<OrgMember>>>, TxError> {
    let Some((pk, _)) = find(c, org, id).await? else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {}, gm.expires_at FROM group_members gm
         JOIN org_members m ON m.org_id = gm.org_id AND m.user_id = gm.user_id
         JOIN users u ON u.id = gm.user_id
         WHERE gm.group_pk = $1 AND gm.user_id > $2
           AND (gm.expires_at IS NULL OR gm.expires_at > $4)
           AND ($5::bigint IS NULL OR gm.expires_at < $5)
         ORDER BY gm.user_id LIMIT $3",
        crate::people::MEMBER_COLUMNS
    );
    let after = after.map_or(0, UserId::get);
    let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
    let before = page.expiring_before.map(Timestamp::millis);
    let rows = sql::all(c, &sql, &[&pk, &after, &limit, &now.millis(), &before]).await?;
    Ok(Some(
        rows.iter()
            .map(|row| {
                let member = crate::people::member_from_row(row, 0)?;
                let at: Option<i64> = row.try_get(crate::people::MEMBER_COLUMN_COUNT)?;
                Ok((member, at.map(Timestamp::from_millis)))
            })
            .collect::<Result<Vec<_>, TxError>>()?,
    ))
}

pub(crate) async fn guest_page<C: GenericClient>(
    c: &C,
    org: &OrgId,
    id: &GroupId,
    after: Option<&Email>,
    page: PeoplePageOptions,
    now: Timestamp,
) -> Result<Option<Vec<roster_core::store::WithEnd<Guest>>>, TxError> {
    let Some((pk, _)) = find(c, org, id).await? else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {}, gg.expires_at FROM group_guests gg
         JOIN guests g ON g.org_id = gg.org_id AND g.email = gg.email
         WHERE gg.group_pk = $1 AND gg.org_id = $2 AND gg.email > $3
           AND (gg.expires_at IS NULL OR gg.expires_at > $5)
           AND ($6::bigint IS NULL OR gg.expires_at < $6)
         ORDER BY gg.email LIMIT $4",
        crate::guests::GUEST_COLUMNS
    );
    let after = after.map_or("", Email::as_str);
    let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
    let before = page.expiring_before.map(Timestamp::millis);
    let rows =
        sql::all(c, &sql, &[&pk, &org.as_str(), &after, &limit, &now.millis(), &before]).await?;
    Ok(Some(
        rows.iter()
            .map(|row| {
                let guest = crate::guests::guest_from_row(row)?;
                let at: Option<i64> = row.try_get(crate::guests::GUEST_COLUMN_COUNT)?;
                Ok((guest, at.map(Timestamp::from_millis)))
            })
            .collect::<Result<Vec<_>, TxError>>()?,
    ))
}

/// Groups of the org that each of `ids` is a member of, in creation order.
pub(crate) async fn groups_of_members<C: GenericClient>(
    c: &C,
    org: &OrgId,
    ids: &[UserId],
    now: Timestamp,
) -> Result<Vec<(UserId, Group)>, TxError> {
    let sql = format!(
        "SELECT gm.user_id, {GROUP_WITH_PEOPLE} FROM group_members gm JOIN groups g ON g.pk = gm.group_pk
         WHERE gm.org_id = $1 AND gm.user_id = ANY($2) AND g.org_id = $1
           AND (gm.expires_at IS NULL OR gm.expires_at > $3)
         ORDER BY gm.user_id, g.created_at, g.id"
    );
    let raw: Vec<i64> = ids.iter().map(|id| id.get()).collect();
    let rows = sql::all(c, &sql, &[&org.as_str(), &raw, &now.millis()]).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(user) = UserId::new(row.try_get(0)?) else { continue };
        // The group's columns start after the user id.
        let (_, group) = group_from_row_at(&row, 1)?;
        out.push((user, group.seen_at(now)));
    }
    Ok(out)
}

/// Reads `GROUP_COLUMNS` starting at column `at`, and the two lists after them when the
/// row has them (`GROUP_WITH_PEOPLE`).
fn group_from_row_at(row: &Row, at: usize) -> Result<(i64, Group), TxError> {
    let lists = at + GROUP_COLUMN_COUNT;
    let with_people = row.len() >= at + GROUP_WITH_PEOPLE_COUNT;
    let (members, guests): (Vec<i64>, Vec<String>) = if with_people {
        (row.try_get(lists)?, row.try_get(lists + 1)?)
    } else {
        Default::default()
    };
    type Ends = Option<Vec<Option<i64>>>;
    let (member_ends, guest_ends): (Ends, Ends) =
        if with_people { (row.try_get(lists + 2)?, row.try_get(lists + 3)?) } else { (None, None) };
    let ends = |ends: Option<Vec<Option<i64>>>| ends.unwrap_or_default().into_iter();
    let member_expiries = members
        .iter()
        .zip(ends(member_ends))
        .filter_map(|(id, end)| Some((UserId::new(*id)?, Timestamp::from_millis(end?))))
        .collect();
    let guest_expiries = guests
        .iter()
        .zip(ends(guest_ends))
        .filter_map(|(email, end)| {
            Some((Email::from_stored(email.clone()), Timestamp::from_millis(end?)))
        })
        .collect();
    Ok((
        row.try_get(at)?,
        Group {
            id: GroupId::from_stored(row.try_get(at + 1)?),
            name: row.try_get(at + 2)?,
            description: row.try_get(at + 3)?,
            members: members.into_iter().filter_map(UserId::new).collect(),
            guests: guests.into_iter().map(Email::from_stored).collect(),
            member_count: sql::count(row.try_get(at + 4)?),
            guest_count: sql::count(row.try_get(at + 5)?),
            version: row.try_get(at + 6)?,
            created_at: Timestamp::from_millis(row.try_get(at + 7)?),
            updated_at: Timestamp::from_millis(row.try_get(at + 8)?),
            logo: logo_from_row(row, at + 9)?,
            deleted_at: row.try_get::<_, Option<i64>>(at + 15)?.map(Timestamp::from_millis),
            next_expiry: row.try_get::<_, Option<i64>>(at + 16)?.map(Timestamp::from_millis),
            member_expiries,
            guest_expiries,
        },
    ))
}

/// The six `logo_*` columns starting at `at`, when the group has a logo.
fn logo_from_row(row: &Row, at: usize) -> Result<Option<LogoRef>, TxError> {
    let Some(asset_id) = row.try_get::<_, Option<String>>(at)? else { return Ok(None) };
    Ok(Some(LogoRef {
        asset_id: AssetId::from_stored(asset_id),
        filename: row.try_get::<_, Option<String>>(at + 1)?.unwrap_or_default(),
        content_type: row.try_get::<_, Option<String>>(at + 2)?.unwrap_or_default(),
        version: row.try_get(at + 3)?,
        uploaded_at: Timestamp::from_millis(
            row.try_get::<_, Option<i64>>(at + 4)?.unwrap_or_default(),
        ),
        uploaded_from: row.try_get::<_, Option<String>>(at + 5)?.unwrap_or_default(),
    }))
}

pub(crate) async fn set_logo(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    id: &GroupId,
    logo: &NewLogo,
) -> Result<Group, TxError> {
    let (pk, before) = find_for_write(tx, now, org, id, None).await?;
    let asset = AssetId::generate().map_err(|e| StoreError::new("generate asset id", e))?;
    sql::exec(tx, "DELETE FROM logo_blobs WHERE group_pk = $1", &[&pk]).await?;
    sql::exec(
        tx,
        "INSERT INTO logo_blobs (asset_id, group_pk, content_type, bytes) VALUES ($1, $2, $3, $4)",
        &[&asset.as_str(), &pk, &logo.content_type, &logo.bytes],
    )
    .await?;
    sql::exec(
        tx,
        "UPDATE groups SET logo_asset_id = $2, logo_filename = $3, logo_content_type = $4,
         logo_version = logo_version + 1, logo_uploaded_at = $5, logo_uploaded_from = $6,
         version = version + 1, updated_at = $5 WHERE pk = $1",
        &[
            &pk,
            &asset.as_str(),
            &logo.filename,
            &logo.content_type,
            &now.millis(),
            &logo.uploaded_from,
        ],
    )
    .await?;
    let after = get(tx, org, id, now).await?.ok_or(WriteError::NotFound)?;
    crate::events::record(tx, org, vec![events::group_logo_changed(&before, &after)], now).await?;
    Ok(after)
}

pub(crate) async fn delete_logo(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    id: &GroupId,
) -> Result<Group, TxError> {
    let (pk, before) = find_for_write(tx, now, org, id, None).await?;
    if before.logo.is_none() {
        return Err(WriteError::NotFound.into());
    }
    sql::exec(tx, "DELETE FROM logo_blobs WHERE group_pk = $1", &[&pk]).await?;
    sql::exec(
        tx,
        "UPDATE groups SET logo_asset_id = NULL, logo_filename = NULL, logo_content_type = NULL,
         logo_uploaded_at = NULL, logo_uploaded_from = NULL, version = version + 1, updated_at = $2
         WHERE pk = $1",
        &[&pk, &now.millis()],
    )
    .await?;
    let after = get(tx, org, id, now).await?.ok_or(WriteError::NotFound)?;
    crate::events::record(tx, org, vec![events::group_logo_changed(&before, &after)], now).await?;
    Ok(after)
}

pub(crate) async fn logo<C: GenericClient>(
    c: &C,
    asset: &AssetId,
) -> Result<Option<StoredLogo>, TxError> {
    let row = sql::opt(
        c,
        // A trashed group's logo is kept for a restore, but not served.
        "SELECT b.content_type, b.bytes FROM logo_blobs b JOIN groups g ON g.pk = b.group_pk
         WHERE b.asset_id = $1 AND g.deleted_at IS NULL",
        &[&asset.as_str()],
    )
    .await?;
    row.map(|row| Ok(StoredLogo { content_type: row.try_get(0)?, bytes: row.try_get(1)? }))
        .transpose()
}

/// Someone who leaves the org (or stops being its guest) leaves each of its groups, as
/// `groups::plan_leave_everywhere` decides; answers the events of those groups.
pub(crate) async fn leave_everywhere(
    tx: &Tx<'_>,
    org: &OrgId,
    leaving: &Leaving,
    now: Timestamp,
) -> Result<Vec<EventDraft>, TxError> {
    let rows = match leaving {
        Leaving::Member(id) => {
            let sql = format!(
                "SELECT {GROUP_COLUMNS} FROM group_members gm JOIN groups g ON g.pk = gm.group_pk
                 WHERE gm.org_id = $1 AND gm.user_id = $2 AND g.org_id = $1 ORDER BY g.pk
                 FOR UPDATE OF g"
            );
            sql::all(tx, &sql, &[&org.as_str(), &id.get()]).await?
        }
        Leaving::Guest(email) => {
            let sql = format!(
                "SELECT {GROUP_COLUMNS} FROM group_guests gg JOIN groups g ON g.pk = gg.group_pk
                 WHERE gg.org_id = $1 AND gg.email = $2 AND g.org_id = $1 ORDER BY g.pk
                 FOR UPDATE OF g"
            );
            sql::all(tx, &sql, &[&org.as_str(), &email.as_str()]).await?
        }
    };
    let found = rows.iter().map(group_from_row).collect::<Result<Vec<_>, _>>()?;
    let mut drafts = Vec::new();
    for (pk, group) in found {
        // A membership that has ended is swept as such (its own events, recorded now),
        // not reported as this person leaving.
        let (group, _) = expire_ended(tx, now, org, pk, group, i64::MAX).await?;
        let still_in = match leaving {
            Leaving::Member(id) => {
                sql::exists(
                    tx,
                    "SELECT 1 FROM group_members WHERE group_pk = $1 AND user_id = $2",
                    &[&pk, &id.get()],
                )
                .await?
            }
            Leaving::Guest(email) => {
                sql::exists(
                    tx,
                    "SELECT 1 FROM group_guests WHERE group_pk = $1 AND email = $2",
                    &[&pk, &email.as_str()],
                )
                .await?
            }
        };
        if still_in {
            for plan in groups::plan_leave_everywhere(vec![group], leaving, now) {
                store_membership_plan(tx, org, pk, &plan).await?;
                drafts.extend(plan.events);
            }
        }
    }
    Ok(drafts)
}
