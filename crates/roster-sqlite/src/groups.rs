//! Group queries. Every statement is scoped by `org_id`, or by a group `pk` that was
//! itself looked up by `org_id`.

use roster_core::groups::{self, GroupWrite, ReferenceFacts};
use roster_core::listing::{ListParams, SortField};
use roster_core::model::Page;
use roster_core::{Email, Group, GroupId, OrgId, StoreError, Timestamp, UserId, WriteError};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::connection::TxError;

pub(crate) fn group_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, Group)> {
    Ok((
        row.get(0)?,
        Group {
            id: GroupId::from_stored(row.get(1)?),
            name: row.get(2)?,
            description: row.get(3)?,
            members: Vec::new(),
            guests: Vec::new(),
            created_at: Timestamp::from_millis(row.get(4)?),
            updated_at: Timestamp::from_millis(row.get(5)?),
        },
    ))
}

fn find(conn: &Connection, org: &OrgId, id: &GroupId) -> rusqlite::Result<Option<(i64, Group)>> {
    conn.prepare_cached(
        "SELECT pk, id, name, description, created_at, updated_at
         FROM groups WHERE org_id = ?1 AND id = ?2",
    )?
    .query_row(params![org.as_str(), id.as_str()], group_from_row)
    .optional()
}

fn member_ids(conn: &Connection, pk: i64) -> rusqlite::Result<Vec<UserId>> {
    let mut stmt = conn
        .prepare_cached("SELECT user_id FROM group_members WHERE group_pk = ?1 ORDER BY user_id")?;
    let rows = stmt.query_map([pk], |row| row.get::<_, i64>(0))?;
    rows.filter_map(|id| id.map(UserId::new).transpose())
        .collect()
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
    find(conn, org, id)?
        .map(|found| with_people(conn, found))
        .transpose()
}

pub(crate) fn list(
    conn: &Connection,
    org: &OrgId,
    params: &ListParams,
) -> rusqlite::Result<Page<Group>> {
    // Only fixed fragments are spliced into the SQL; user input is always bound.
    let filter = if params.q.is_some() {
        "AND (instr(name_key, ?2) > 0 OR instr(description_key, ?2) > 0)"
    } else {
        "AND ?2 IS NULL"
    };
    let column = match params.sort {
        SortField::Name => "name_key",
        // Groups have no email; `groups::SORT_FIELDS` keeps it out of their listings.
        SortField::CreatedAt | SortField::Email => "created_at",
        SortField::UpdatedAt => "updated_at",
    };
    let direction = if params.descending { "DESC" } else { "ASC" };
    let q = params.q.as_deref();

    let total: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM groups WHERE org_id = ?1 {filter}"
        ))?
        .query_row(params![org.as_str(), q], |row| row.get(0))?;

    let sql = format!(
        "SELECT pk, id, name, description, created_at, updated_at FROM groups
         WHERE org_id = ?1 {filter}
         ORDER BY {column} {direction}, id {direction} LIMIT ?3 OFFSET ?4"
    );
    let (limit, offset) = crate::limit_offset(params);
    let mut stmt = conn.prepare_cached(&sql)?;
    let found = stmt
        .query_map(params![org.as_str(), q, limit, offset], group_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let items = found
        .into_iter()
        .map(|found| with_people(conn, found))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Page {
        items,
        total: u64::try_from(total).unwrap_or(0),
    })
}

/// Looks up, inside the write's transaction, what `groups::check_references` needs.
fn reference_facts(
    tx: &Transaction<'_>,
    org: &OrgId,
    write: &GroupWrite,
    except_pk: Option<i64>,
) -> rusqlite::Result<ReferenceFacts> {
    let mut facts = ReferenceFacts::default();
    if let Some(name) = &write.name {
        facts.name_taken = tx
            .prepare_cached(
                "SELECT 1 FROM groups WHERE org_id = ?1 AND name_key = ?2 AND pk IS NOT ?3",
            )?
            .exists(params![org.as_str(), name.key(), except_pk])?;
    }
    if let Some(ids) = write.member_ids() {
        let mut stmt = tx.prepare_cached(
            "SELECT 1 FROM org_members
             WHERE org_id = ?1 AND user_id = ?2 AND status IN ('active', 'invited')",
        )?;
        for id in ids {
            if stmt.exists(params![org.as_str(), id.get()])? {
                facts.eligible_members.insert(id);
            }
        }
    }
    if let Some(emails) = write.guest_emails() {
        let mut disabled = tx.prepare_cached(
            "SELECT 1 FROM guests WHERE org_id = ?1 AND email = ?2 AND status = 'disabled'",
        )?;
        for email in emails {
            if crate::guests::is_current_member(tx, org, &email)? {
                facts.member_emails.insert(email);
            } else if disabled.exists(params![org.as_str(), email.as_str()])? {
                facts.disabled_guests.insert(email);
            }
        }
    }
    Ok(facts)
}

fn check(
    tx: &Transaction<'_>,
    org: &OrgId,
    write: &GroupWrite,
    except_pk: Option<i64>,
) -> Result<(), TxError> {
    let facts = reference_facts(tx, org, write, except_pk)?;
    groups::check_references(write, &facts)
        .map_err(|errors| TxError::Refused(WriteError::Invalid(errors)))
}

fn replace_members(
    tx: &Transaction<'_>,
    org: &OrgId,
    pk: i64,
    ids: &[UserId],
) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM group_members WHERE group_pk = ?1")?
        .execute([pk])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO group_members (group_pk, org_id, user_id) VALUES (?1, ?2, ?3)",
    )?;
    for id in ids {
        insert.execute(params![pk, org.as_str(), id.get()])?;
    }
    Ok(())
}

/// Emails new to the org become its guests first.
fn replace_guests(
    tx: &Transaction<'_>,
    org: &OrgId,
    pk: i64,
    emails: &[Email],
    now: Timestamp,
) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM group_guests WHERE group_pk = ?1")?
        .execute([pk])?;
    let mut add_guest = tx.prepare_cached(
        "INSERT INTO guests (org_id, email, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (org_id, email) DO NOTHING",
    )?;
    let mut insert = tx
        .prepare_cached("INSERT INTO group_guests (group_pk, org_id, email) VALUES (?1, ?2, ?3)")?;
    for email in emails {
        add_guest.execute(params![org.as_str(), email.as_str(), now.millis()])?;
        insert.execute(params![pk, org.as_str(), email.as_str()])?;
    }
    Ok(())
}

pub(crate) fn create(
    tx: &Transaction<'_>,
    org: &OrgId,
    write: &GroupWrite,
) -> Result<Group, TxError> {
    check(tx, org, write, None)?;
    let (Some(name), Some(description)) = (&write.name, &write.description) else {
        return Err(StoreError::new("create group", "create without name or description").into());
    };
    let id = GroupId::generate().map_err(|e| StoreError::new("generate group id", e))?;
    let now = Timestamp::now();
    tx.prepare_cached(
        "INSERT INTO groups (id, org_id, name, name_key, description, description_key, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )?
    .execute(params![
        id.as_str(),
        org.as_str(),
        name.as_str(),
        name.key(),
        description,
        groups::fold_case(description),
        now.millis()
    ])?;
    let pk = tx.last_insert_rowid();
    let members = write.member_ids().unwrap_or_default();
    let guests = write.guest_emails().unwrap_or_default();
    replace_members(tx, org, pk, &members)?;
    replace_guests(tx, org, pk, &guests, now)?;
    Ok(Group {
        id,
        name: name.as_str().to_owned(),
        description: description.clone(),
        members,
        guests,
        created_at: now,
        updated_at: now,
    })
}

pub(crate) fn update(
    tx: &Transaction<'_>,
    org: &OrgId,
    id: &GroupId,
    write: &GroupWrite,
) -> Result<Group, TxError> {
    let Some((pk, current)) = find(tx, org, id)? else {
        return Err(WriteError::NotFound.into());
    };
    check(tx, org, write, Some(pk))?;
    let mut group = with_people(tx, (pk, current))?;
    let mut changed = false;
    let now = Timestamp::now();
    if let Some(name) = write.name.as_ref().filter(|n| n.as_str() != group.name) {
        group.name = name.as_str().to_owned();
        changed = true;
    }
    if let Some(description) = write
        .description
        .as_ref()
        .filter(|d| **d != group.description)
    {
        group.description = description.clone();
        changed = true;
    }
    if let Some(members) = write.member_ids().filter(|m| *m != group.members) {
        replace_members(tx, org, pk, &members)?;
        group.members = members;
        changed = true;
    }
    if let Some(guests) = write.guest_emails().filter(|g| *g != group.guests) {
        replace_guests(tx, org, pk, &guests, now)?;
        group.guests = guests;
        changed = true;
    }
    // An update that changes nothing leaves `last_updated` alone.
    if changed {
        group.updated_at = now;
        tx.prepare_cached(
            "UPDATE groups SET name = ?2, name_key = ?3, description = ?4, description_key = ?5,
             updated_at = ?6 WHERE pk = ?1",
        )?
        .execute(params![
            pk,
            group.name,
            groups::fold_case(&group.name),
            group.description,
            groups::fold_case(&group.description),
            now.millis()
        ])?;
    }
    Ok(group)
}

pub(crate) fn delete(tx: &Transaction<'_>, org: &OrgId, id: &GroupId) -> Result<bool, TxError> {
    let deleted = tx
        .prepare_cached("DELETE FROM groups WHERE org_id = ?1 AND id = ?2")?
        .execute(params![org.as_str(), id.as_str()])?;
    Ok(deleted > 0)
}

/// Groups of the org that each of `ids` is a member of, in creation order.
pub(crate) fn groups_of_members(
    conn: &Connection,
    org: &OrgId,
    ids: &[UserId],
) -> rusqlite::Result<Vec<(UserId, Group)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT g.pk, g.id, g.name, g.description, g.created_at, g.updated_at
         FROM group_members gm JOIN groups g ON g.pk = gm.group_pk
         WHERE gm.org_id = ?1 AND gm.user_id = ?2 AND g.org_id = ?1
         ORDER BY g.created_at, g.id",
    )?;
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

/// A member who leaves the org leaves each of its groups; each group's change is recorded.
pub(crate) fn remove_member_everywhere(
    tx: &Transaction<'_>,
    org: &OrgId,
    user: UserId,
    now: Timestamp,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE groups SET updated_at = ?3 WHERE org_id = ?1
         AND pk IN (SELECT group_pk FROM group_members WHERE org_id = ?1 AND user_id = ?2)",
    )?
    .execute(params![org.as_str(), user.get(), now.millis()])?;
    tx.prepare_cached("DELETE FROM group_members WHERE org_id = ?1 AND user_id = ?2")?
        .execute(params![org.as_str(), user.get()])?;
    Ok(())
}

/// A guest who is deleted, disabled or converted leaves each of the org's groups.
pub(crate) fn remove_guest_everywhere(
    tx: &Transaction<'_>,
    org: &OrgId,
    email: &Email,
    now: Timestamp,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE groups SET updated_at = ?3 WHERE org_id = ?1
         AND pk IN (SELECT group_pk FROM group_guests WHERE org_id = ?1 AND email = ?2)",
    )?
    .execute(params![org.as_str(), email.as_str(), now.millis()])?;
    tx.prepare_cached("DELETE FROM group_guests WHERE org_id = ?1 AND email = ?2")?
        .execute(params![org.as_str(), email.as_str()])?;
    Ok(())
}
