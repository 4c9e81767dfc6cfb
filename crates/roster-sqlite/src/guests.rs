//! Guests of an organization, known by their (lowercased) email.

use roster_core::events::{self, EventType};
use roster_core::groups::Leaving;
use roster_core::listing::{ListParams, SortField};
use roster_core::model::{Guest, GuestStatus, Page};
use roster_core::people::{self, GuestAction, GuestDetails, NewGuest};
use roster_core::store::GuestOutcome;
use roster_core::{Email, OrgId, StoreError, Timestamp, UserId, WriteError};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::connection::{TxError, WriteTx};

const GUEST_COLUMNS: &str = "g.id, g.email, g.first_name, g.last_name, g.status, g.details, \
     g.associated_members, g.disabled_at, g.created_at, g.updated_at";

/// How many columns `GUEST_COLUMNS` names.
const GUEST_COLUMN_COUNT: usize = 10;

fn json_column<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    at: usize,
) -> rusqlite::Result<Option<T>> {
    let raw: Option<String> = row.get(at)?;
    raw.map(|text| {
        serde_json::from_str(&text)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(at, Type::Text, Box::new(e)))
    })
    .transpose()
}

fn guest_from_row(row: &Row<'_>) -> rusqlite::Result<Guest> {
    let status: String = row.get(4)?;
    let associated: Option<Vec<i64>> = json_column(row, 6)?;
    Ok(Guest {
        id: row.get(0)?,
        email: Email::from_stored(row.get(1)?),
        first_name: row.get(2)?,
        last_name: row.get(3)?,
        status: GuestStatus::parse(&status).unwrap_or(GuestStatus::Active),
        details: json_column::<GuestDetails>(row, 5)?.unwrap_or_default(),
        associated_members: associated.map(|ids| ids.into_iter().filter_map(UserId::new).collect()),
        disabled_at: row.get::<_, Option<i64>>(7)?.map(Timestamp::from_millis),
        created_at: Timestamp::from_millis(row.get(8)?),
        updated_at: Timestamp::from_millis(row.get(9)?),
    })
}

pub(crate) fn get(
    conn: &Connection,
    org: &OrgId,
    email: &Email,
) -> rusqlite::Result<Option<Guest>> {
    conn.prepare_cached(&format!(
        "SELECT {GUEST_COLUMNS} FROM guests g WHERE org_id = ?1 AND email = ?2"
    ))?
    .query_row(params![org.as_str(), email.as_str()], guest_from_row)
    .optional()
}

/// Guests of one group (`pk` found by org) in email order, after `after`.
pub(crate) fn in_group(
    conn: &Connection,
    org: &OrgId,
    pk: i64,
    after: &str,
    page: &crate::groups::PeoplePage,
) -> rusqlite::Result<Vec<roster_core::store::WithEnd<Guest>>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GUEST_COLUMNS}, gg.expires_at FROM group_guests gg
         JOIN guests g ON g.org_id = gg.org_id AND g.email = gg.email
         WHERE gg.group_pk = ?1 AND gg.org_id = ?2 AND gg.email > ?3
           AND (gg.expires_at IS NULL OR gg.expires_at > ?5)
           AND (?6 IS NULL OR gg.expires_at < ?6)
         ORDER BY gg.email LIMIT ?4"
    ))?;
    stmt.query_map(
        params![pk, org.as_str(), after, page.limit(), page.now.millis(), page.before()],
        |row| {
            let guest = guest_from_row(row)?;
            let at = row.get::<_, Option<i64>>(GUEST_COLUMN_COUNT)?;
            Ok((guest, at.map(roster_core::Timestamp::from_millis)))
        },
    )?
    .collect()
}

pub(crate) fn list(
    conn: &Connection,
    org: &OrgId,
    params: &ListParams,
) -> rusqlite::Result<Page<Guest>> {
    let filter = if params.q.is_some() { "AND instr(email, ?2) > 0" } else { "AND ?2 IS NULL" };
    let column = match params.sort {
        // Guests have no name order; `people::GUEST_SORT_FIELDS` keeps it out.
        SortField::Email | SortField::Name => "email",
        SortField::CreatedAt => "created_at",
        SortField::UpdatedAt => "updated_at",
    };
    let q = params.q.as_deref();
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM guests WHERE org_id = ?1 {filter}"))?
        .query_row(params![org.as_str(), q], |row| row.get(0))?;
    let read = crate::PageRead::new(params, total);
    let direction = read.direction;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GUEST_COLUMNS} FROM guests g WHERE org_id = ?1 {filter}
         ORDER BY {column} {direction}, id {direction} LIMIT ?3 OFFSET ?4"
    ))?;
    let items = stmt
        .query_map(params![org.as_str(), q, read.limit, read.offset], guest_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Page {
        items: read.in_order(items),
        total: u64::try_from(total).unwrap_or(0),
        stream_head: 0,
    })
}

/// Whether the email is an active or invited member's: such a person cannot be a guest.
pub(crate) fn is_current_member(
    tx: &WriteTx<'_>,
    org: &OrgId,
    email: &Email,
) -> rusqlite::Result<bool> {
    tx.prepare_cached(
        "SELECT 1 FROM users u JOIN org_members m ON m.user_id = u.id
         WHERE u.email = ?2 AND m.org_id = ?1 AND m.status IN ('active', 'invited')",
    )?
    .exists(params![org.as_str(), email.as_str()])
}

fn details_json(details: &GuestDetails) -> Result<String, TxError> {
    serde_json::to_string(details).map_err(|e| StoreError::new("guest details", e).into())
}

pub(crate) fn create(tx: &WriteTx<'_>, org: &OrgId, new: &NewGuest) -> Result<Guest, TxError> {
    let exists = get(tx, org, &new.email)?.is_some();
    people::check_new_guest(is_current_member(tx, org, &new.email)?, exists)
        .map_err(WriteError::Invalid)?;
    let now = tx.now();
    tx.prepare_cached(
        "INSERT INTO guests (org_id, email, first_name, last_name, details, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![
        org.as_str(),
        new.email.as_str(),
        new.first_name,
        new.last_name,
        details_json(&new.details)?,
        now.millis()
    ])?;
    let guest = reload(tx, org, &new.email)?;
    crate::events::record(tx, org, vec![events::guest_created(&guest)], now)?;
    Ok(guest)
}

fn reload(tx: &WriteTx<'_>, org: &OrgId, email: &Email) -> Result<Guest, TxError> {
    get(tx, org, email)?.ok_or_else(|| StoreError::new("guest", "guest vanished").into())
}

pub(crate) fn set_associated_members(
    tx: &WriteTx<'_>,
    org: &OrgId,
    email: &Email,
    members: &[(usize, UserId)],
) -> Result<Guest, TxError> {
    let Some(before) = get(tx, org, email)? else {
        return Err(WriteError::NotFound.into());
    };
    let mut is_member =
        tx.prepare_cached("SELECT 1 FROM org_members WHERE org_id = ?1 AND user_id = ?2")?;
    let mut in_org = std::collections::HashSet::new();
    for (_, id) in members {
        if is_member.exists(params![org.as_str(), id.get()])? {
            in_org.insert(*id);
        }
    }
    let ids = people::plan_associated_members(members, &in_org).map_err(WriteError::Invalid)?;
    let json = serde_json::to_string(&ids).map_err(|e| StoreError::new("associated members", e))?;
    let now = tx.now();
    tx.prepare_cached("UPDATE guests SET associated_members = ?3, updated_at = ?4 WHERE org_id = ?1 AND email = ?2")?
        .execute(params![org.as_str(), email.as_str(), json, now.millis()])?;
    let after = reload(tx, org, email)?;
    let drafts = events::guest_changed(EventType::GuestUpdated, &before, &after);
    crate::events::record(tx, org, drafts.into_iter().collect(), now)?;
    Ok(after)
}

/// Makes the email an active guest of the org (a member converted to a guest).
pub(crate) fn become_guest(
    tx: &WriteTx<'_>,
    org: &OrgId,
    email: &Email,
    first_name: &str,
    last_name: &str,
    now: Timestamp,
) -> Result<Guest, TxError> {
    tx.prepare_cached(
        "INSERT INTO guests (org_id, email, first_name, last_name, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (org_id, email) DO UPDATE SET status = 'active', disabled_at = NULL,
         updated_at = excluded.updated_at",
    )?
    .execute(params![org.as_str(), email.as_str(), first_name, last_name, now.millis()])?;
    reload(tx, org, email)
}

pub(crate) fn action(
    tx: &WriteTx<'_>,
    org: &OrgId,
    email: &Email,
    action: GuestAction,
) -> Result<GuestOutcome, TxError> {
    let Some(guest) = get(tx, org, email)? else {
        return Err(WriteError::NotFound.into());
    };
    let now = tx.now();
    let left = if action.leaves_groups() {
        crate::groups::leave_everywhere(tx, org, &Leaving::Guest(email.clone()), now)?
    } else {
        Vec::new()
    };
    if let Some(status) = action.status_after() {
        let disabled_at = (status == GuestStatus::Disabled).then_some(now.millis());
        tx.prepare_cached(
            "UPDATE guests SET status = ?3, disabled_at = ?4, updated_at = ?5 WHERE org_id = ?1 AND email = ?2",
        )?
        .execute(params![org.as_str(), email.as_str(), status.as_str(), disabled_at, now.millis()])?;
    }
    let outcome = match action {
        GuestAction::Disable | GuestAction::Enable => {
            GuestOutcome::Guest(Box::new(reload(tx, org, email)?))
        }
        GuestAction::Delete => {
            tx.prepare_cached("DELETE FROM guests WHERE org_id = ?1 AND email = ?2")?
                .execute(params![org.as_str(), email.as_str()])?;
            GuestOutcome::Guest(Box::new(guest.clone()))
        }
        GuestAction::ToMember(role) => {
            tx.prepare_cached("DELETE FROM guests WHERE org_id = ?1 AND email = ?2")?
                .execute(params![org.as_str(), email.as_str()])?;
            let member = crate::people::become_invited_member(
                tx,
                org,
                email,
                guest.first_name.as_deref().unwrap_or_default(),
                guest.last_name.as_deref().unwrap_or_default(),
                role,
                now,
            )?;
            GuestOutcome::BecameMember(member)
        }
    };
    // The guest's own event first, then each group they left.
    let mut drafts: Vec<_> = action.event(&guest, &outcome).into_iter().collect();
    drafts.extend(left);
    crate::events::record(tx, org, drafts, now)?;
    Ok(outcome)
}
