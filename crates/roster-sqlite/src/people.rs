//! Organizations, accounts, memberships and tokens.

use crate::events::seq;
use roster_core::events;
use roster_core::groups::Leaving;
use roster_core::listing::{ListParams, SortField};
use roster_core::model::{NewUser, Page, TokenRecord};
use roster_core::people::{self, Invite, InviteFacts, MemberAction, MemberChanges, MemberFacts};
use roster_core::permissions::Membership;
use roster_core::store::{Bootstrap, MemberOutcome, OrgHead, Principal, PrincipalHeads};
use roster_core::token::TokenHash;
use roster_core::{
    Email, MemberStatus, OrgId, OrgMember, Organization, Role, StoreError, Timestamp, User, UserId,
    WriteError, fold_case,
};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::connection::{TxError, WriteTx};

struct StoredRole(Role);
struct StoredStatus(MemberStatus);

impl FromSql for StoredRole {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Role::parse(value.as_str()?).map(Self).ok_or(FromSqlError::InvalidType)
    }
}

impl FromSql for StoredStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        MemberStatus::parse(value.as_str()?).map(Self).ok_or(FromSqlError::InvalidType)
    }
}

pub(crate) const USER_COLUMNS: &str =
    "u.id, u.email, u.first_name, u.last_name, u.timezone, u.created_at, u.updated_at";

/// `USER_COLUMNS`, then the member's role, status and whether they are the default admin.
pub(crate) const MEMBER_COLUMNS: &str = "u.id, u.email, u.first_name, u.last_name, u.timezone, \
     u.created_at, u.updated_at, m.role, m.status, \
     coalesce((SELECT o.default_admin_id = u.id FROM organizations o WHERE o.id = m.org_id), 0)";

/// How many columns `MEMBER_COLUMNS` names.
pub(crate) const MEMBER_COLUMN_COUNT: usize = 10;

/// Reads the seven `USER_COLUMNS` starting at column `at`.
fn user_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<User> {
    let raw_id: i64 = row.get(at)?;
    let id = UserId::new(raw_id).ok_or(rusqlite::Error::IntegralValueOutOfRange(at, raw_id))?;
    Ok(User {
        id,
        email: Email::from_stored(row.get(at + 1)?),
        first_name: row.get(at + 2)?,
        last_name: row.get(at + 3)?,
        timezone: row.get(at + 4)?,
        created_at: Timestamp::from_millis(row.get(at + 5)?),
        updated_at: Timestamp::from_millis(row.get(at + 6)?),
    })
}

/// Reads the `MEMBER_COLUMNS` starting at column `at`.
pub(crate) fn member_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<OrgMember> {
    Ok(OrgMember {
        user: user_from_row(row, at)?,
        role: row.get::<_, StoredRole>(at + 7)?.0,
        status: row.get::<_, StoredStatus>(at + 8)?.0,
        is_default_admin: row.get(at + 9)?,
    })
}

fn org_from_row(row: &Row<'_>) -> rusqlite::Result<Organization> {
    Ok(Organization {
        id: OrgId::from_stored(row.get(0)?),
        name: row.get(1)?,
        allow_non_admins_manage_groups: row.get(2)?,
        created_at: Timestamp::from_millis(row.get(3)?),
    })
}

pub(crate) fn principal(
    conn: &Connection,
    token: &TokenHash,
    org: Option<&OrgId>,
    now: Timestamp,
) -> rusqlite::Result<Option<Principal>> {
    // The heads come from the same snapshot as the token and membership: see
    // `PrincipalHeads` for why they are enough to know when this principal is stale.
    let sql = format!(
        "SELECT {USER_COLUMNS}, m.role, m.status, o.allow_non_admins_manage_groups, t.id, t.last_used_at, t.expires_at,
                t.org_id, (SELECT h.event_seq FROM organizations h WHERE h.id = t.org_id),
                coalesce((SELECT a.event_seq FROM organizations a WHERE a.id = ?2), 0),
                (SELECT min(g.next_expiry) FROM groups g WHERE g.org_id = ?2 AND g.next_expiry IS NOT NULL)
         FROM tokens t
         JOIN users u ON u.id = t.user_id
         LEFT JOIN org_members m ON m.org_id = ?2 AND m.user_id = t.user_id
         LEFT JOIN organizations o ON o.id = m.org_id
         WHERE t.hash = ?1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?3)"
    );
    conn.prepare_cached(&sql)?
        .query_row(params![&token.as_bytes()[..], org.map(OrgId::as_str), now.millis()], |row| {
            let role: Option<StoredRole> = row.get(7)?;
            let status: Option<StoredStatus> = row.get(8)?;
            let allow: Option<bool> = row.get(9)?;
            let membership = match (role, status) {
                (Some(role), Some(status)) => Some(Membership {
                    role: role.0,
                    status: status.0,
                    org_allows_non_admins_to_manage_groups: allow.unwrap_or(false),
                }),
                _ => None,
            };
            let heads = match org {
                Some(_) => Some(PrincipalHeads {
                    token_org: seq(row.get(14)?),
                    org: OrgHead {
                        head: seq(row.get(15)?),
                        callers: seq(row.get(15)?),
                        next_expiry: row.get::<_, Option<i64>>(16)?.map(Timestamp::from_millis),
                    },
                }),
                None => None,
            };
            Ok(Principal {
                user: user_from_row(row, 0)?.into(),
                membership,
                token_id: row.get(10)?,
                token_last_used_at: row.get::<_, Option<i64>>(11)?.map(Timestamp::from_millis),
                token_expires_at: row.get::<_, Option<i64>>(12)?.map(Timestamp::from_millis),
                token_org: OrgId::from_stored(row.get(13)?),
                heads,
            })
        })
        .optional()
}

pub(crate) fn members_by_ids(
    conn: &Connection,
    org: &OrgId,
    ids: &[UserId],
) -> rusqlite::Result<Vec<OrgMember>> {
    let mut members = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(member) = member(conn, org, *id)? {
            members.push(member);
        }
    }
    members.sort_by_key(|m| m.user.id);
    Ok(members)
}

fn find_org(conn: &Connection, org: &OrgId) -> rusqlite::Result<Option<Organization>> {
    conn.prepare_cached(
        "SELECT id, name, allow_non_admins_manage_groups, created_at FROM organizations WHERE id = ?1",
    )?
    .query_row([org.as_str()], org_from_row)
    .optional()
}

pub(crate) fn create_org(tx: &WriteTx<'_>, name: &str) -> Result<Organization, TxError> {
    let org = Organization {
        id: OrgId::generate().map_err(|e| StoreError::new("generate org id", e))?,
        name: name.to_owned(),
        allow_non_admins_manage_groups: false,
        created_at: tx.now(),
    };
    tx.prepare_cached(
        "INSERT INTO organizations (id, name, allow_non_admins_manage_groups, created_at)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        org.id.as_str(),
        org.name,
        org.allow_non_admins_manage_groups,
        org.created_at.millis()
    ])?;
    Ok(org)
}

pub(crate) fn set_org_allow(
    tx: &WriteTx<'_>,
    org: &OrgId,
    allow: bool,
) -> Result<Organization, TxError> {
    let before = find_org(tx, org)?.ok_or(TxError::Refused(WriteError::NotFound))?;
    tx.prepare_cached(
        "UPDATE organizations SET allow_non_admins_manage_groups = ?2 WHERE id = ?1",
    )?
    .execute(params![org.as_str(), allow])?;
    let after = find_org(tx, org)?.ok_or(TxError::Refused(WriteError::NotFound))?;
    let drafts = events::organization_updated(&before, &after).into_iter().collect();
    crate::events::record(tx, org, drafts, tx.now())?;
    Ok(after)
}

/// Adds a member to the org; an existing account (same email) joins as it is.
pub(crate) fn add_member(
    tx: &WriteTx<'_>,
    org: &OrgId,
    new: &NewUser,
) -> Result<OrgMember, TxError> {
    if find_org(tx, org)?.is_none() {
        return Err(WriteError::NotFound.into());
    }
    let now = tx.now();
    let user = account_for(tx, &new.email, &new.first_name, &new.last_name, now)?;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO org_members (org_id, user_id, role, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'active', ?4, ?4) ON CONFLICT (org_id, user_id) DO NOTHING",
        )?
        .execute(params![org.as_str(), user.id.get(), new.role.as_str(), now.millis()])?;
    if inserted == 0 {
        return Err(WriteError::Conflict(format!(
            "{} is already a member of organization {org}",
            user.email
        ))
        .into());
    }
    // The org's first admin becomes its default admin.
    let is_default_admin = new.role == Role::Admin
        && tx
            .prepare_cached(
                "UPDATE organizations SET default_admin_id = ?2
                 WHERE id = ?1 AND default_admin_id IS NULL",
            )?
            .execute(params![org.as_str(), user.id.get()])?
            > 0;
    let member = OrgMember { user, role: new.role, status: MemberStatus::Active, is_default_admin };
    crate::events::record(tx, org, vec![events::member_created(&member)], now)?;
    Ok(member)
}

fn create_account(
    tx: &WriteTx<'_>,
    email: &Email,
    first_name: &str,
    last_name: &str,
    now: Timestamp,
) -> Result<User, TxError> {
    tx.prepare_cached(
        "INSERT INTO users (email, first_name, last_name, name_key, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?
    .execute(params![
        email.as_str(),
        first_name,
        last_name,
        name_key(first_name, last_name),
        now.millis()
    ])?;
    let raw_id = tx.last_insert_rowid();
    Ok(User {
        id: UserId::new(raw_id)
            .ok_or_else(|| StoreError::new("create account", "non-positive user id"))?,
        email: email.clone(),
        first_name: first_name.to_owned(),
        last_name: last_name.to_owned(),
        timezone: None,
        created_at: now,
        updated_at: now,
    })
}

/// The account with this email, created if there is none.
pub(crate) fn account_for(
    tx: &WriteTx<'_>,
    email: &Email,
    first_name: &str,
    last_name: &str,
    now: Timestamp,
) -> Result<User, TxError> {
    let existing = tx
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.email = ?1"))?
        .query_row([email.as_str()], |row| user_from_row(row, 0))
        .optional()?;
    match existing {
        Some(user) => Ok(user),
        None => create_account(tx, email, first_name, last_name, now),
    }
}

fn name_key(first_name: &str, last_name: &str) -> String {
    fold_case(&format!("{first_name} {last_name}"))
}

pub(crate) fn member(
    conn: &Connection,
    org: &OrgId,
    id: UserId,
) -> rusqlite::Result<Option<OrgMember>> {
    conn.prepare_cached(&format!(
        "SELECT {MEMBER_COLUMNS} FROM org_members m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = ?1 AND m.user_id = ?2"
    ))?
    .query_row(params![org.as_str(), id.get()], |row| member_from_row(row, 0))
    .optional()
}

pub(crate) fn list_members(
    conn: &Connection,
    org: &OrgId,
    params: &ListParams,
) -> rusqlite::Result<Page<OrgMember>> {
    let filter = if params.q.is_some() {
        "AND (instr(u.name_key, ?2) > 0 OR instr(u.email, ?2) > 0)"
    } else {
        "AND ?2 IS NULL"
    };
    let column = match params.sort {
        SortField::Name => "u.name_key",
        SortField::Email => "u.email",
        SortField::CreatedAt => "u.created_at",
        SortField::UpdatedAt => "u.updated_at",
    };
    let q = params.q.as_deref();
    let from = "FROM org_members m JOIN users u ON u.id = m.user_id WHERE m.org_id = ?1";
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) {from} {filter}"))?
        .query_row(params![org.as_str(), q], |row| row.get(0))?;
    let read = crate::PageRead::new(params, total);
    let direction = read.direction;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MEMBER_COLUMNS} {from} {filter}
         ORDER BY {column} {direction}, u.id {direction} LIMIT ?3 OFFSET ?4"
    ))?;
    let items = stmt
        .query_map(params![org.as_str(), q, read.limit, read.offset], |row| {
            member_from_row(row, 0)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Page {
        items: read.in_order(items),
        total: u64::try_from(total).unwrap_or(0),
        stream_head: 0,
    })
}

pub(crate) fn organizations_of(
    conn: &Connection,
    user: UserId,
) -> rusqlite::Result<Vec<(Organization, OrgMember)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT o.id, o.name, o.allow_non_admins_manage_groups, o.created_at, {MEMBER_COLUMNS}
         FROM org_members m JOIN users u ON u.id = m.user_id JOIN organizations o ON o.id = m.org_id
         WHERE m.user_id = ?1 ORDER BY o.created_at, o.id"
    ))?;
    stmt.query_map([user.get()], |row| Ok((org_from_row(row)?, member_from_row(row, 4)?)))?
        .collect()
}

fn is_guest(tx: &WriteTx<'_>, org: &OrgId, email: &Email) -> rusqlite::Result<bool> {
    tx.prepare_cached("SELECT 1 FROM guests WHERE org_id = ?1 AND email = ?2")?
        .exists(params![org.as_str(), email.as_str()])
}

pub(crate) fn invite_member(
    tx: &WriteTx<'_>,
    org: &OrgId,
    invite: &Invite,
) -> Result<OrgMember, TxError> {
    let is_guest = is_guest(tx, org, &invite.email)?;
    let now = tx.now();
    let user = account_for(tx, &invite.email, &invite.first_name, &invite.last_name, now)?;
    let before = member(tx, org, user.id)?;
    people::check_invite(InviteFacts { is_guest, status: before.as_ref().map(|m| m.status) })
        .map_err(WriteError::Invalid)?;
    // A disabled member who is invited again comes back as invited, with the new role.
    tx.prepare_cached(
        "INSERT INTO org_members (org_id, user_id, role, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'invited', ?4, ?4)
         ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role, status = 'invited',
         updated_at = excluded.updated_at",
    )?
    .execute(params![org.as_str(), user.id.get(), invite.role.as_str(), now.millis()])?;
    let after =
        member(tx, org, user.id)?.ok_or_else(|| StoreError::new("invite", "member vanished"))?;
    let draft = events::member_joined(before.as_ref(), &after);
    crate::events::record(tx, org, draft.into_iter().collect(), now)?;
    Ok(after)
}

pub(crate) fn update_member(
    tx: &WriteTx<'_>,
    org: &OrgId,
    id: UserId,
    changes: &MemberChanges,
) -> Result<OrgMember, TxError> {
    let Some(current) = member(tx, org, id)? else {
        return Err(WriteError::NotFound.into());
    };
    let Some(update) = people::plan_member_update(&current.user, changes) else {
        return Ok(current);
    };
    let first_name = update.first_name.as_deref().unwrap_or_default();
    let last_name = update.last_name.as_deref().unwrap_or_default();
    let timezone = update.timezone.as_deref();
    let now = tx.now();
    // The account is shared: every org it belongs to sees the change, in its own stream.
    let before_everywhere = organizations_of(tx, id)?;
    tx.prepare_cached(
        "UPDATE users SET first_name = ?2, last_name = ?3, name_key = ?4, timezone = ?5, updated_at = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        id.get(),
        first_name,
        last_name,
        name_key(first_name, last_name),
        timezone,
        now.millis()
    ])?;
    let mut answer = None;
    for (other, before) in before_everywhere {
        let after = member(tx, &other.id, id)?
            .ok_or_else(|| StoreError::new("update member", "member vanished"))?;
        let drafts = events::member_changed(events::EventType::MemberUpdated, &before, &after);
        crate::events::record(tx, &other.id, drafts.into_iter().collect(), now)?;
        if other.id == *org {
            answer = Some(after);
        }
    }
    answer.ok_or_else(|| StoreError::new("update member", "member vanished").into())
}

pub(crate) fn member_action(
    tx: &WriteTx<'_>,
    org: &OrgId,
    id: UserId,
    action: MemberAction,
) -> Result<MemberOutcome, TxError> {
    let Some(current) = member(tx, org, id)? else {
        return Err(WriteError::NotFound.into());
    };
    let other_active_admins: i64 = tx
        .prepare_cached(
            "SELECT count(*) FROM org_members
             WHERE org_id = ?1 AND user_id != ?2 AND role = 'admin' AND status = 'active'",
        )?
        .query_row(params![org.as_str(), id.get()], |row| row.get(0))?;
    let facts = MemberFacts {
        role: current.role,
        status: current.status,
        is_default_admin: current.is_default_admin,
        other_active_admins: u64::try_from(other_active_admins).unwrap_or(0),
    };
    people::check_member_action(&facts, action).map_err(WriteError::Rejected)?;
    let now = tx.now();
    let left = if action.leaves_groups() {
        crate::groups::leave_everywhere(tx, org, &Leaving::Member(id), now)?
    } else {
        Vec::new()
    };
    if let MemberAction::SetRole(role) = action {
        tx.prepare_cached(
            "UPDATE org_members SET role = ?3, updated_at = ?4 WHERE org_id = ?1 AND user_id = ?2",
        )?
        .execute(params![org.as_str(), id.get(), role.as_str(), now.millis()])?;
    }
    if let Some(status) = action.status_after() {
        tx.prepare_cached(
            "UPDATE org_members SET status = ?3, updated_at = ?4 WHERE org_id = ?1 AND user_id = ?2",
        )?
        .execute(params![org.as_str(), id.get(), status.as_str(), now.millis()])?;
    }
    let outcome = if action == MemberAction::ToGuest {
        tx.prepare_cached("DELETE FROM org_members WHERE org_id = ?1 AND user_id = ?2")?
            .execute(params![org.as_str(), id.get()])?;
        let user = &current.user;
        let guest = crate::guests::become_guest(
            tx,
            org,
            &user.email,
            &user.first_name,
            &user.last_name,
            now,
        )?;
        MemberOutcome::BecameGuest(Box::new(guest))
    } else {
        MemberOutcome::Member(
            member(tx, org, id)?
                .ok_or_else(|| StoreError::new("member action", "member vanished"))?,
        )
    };
    // The person's own event first, then each group they left.
    let mut drafts: Vec<_> = action.event(&current, &outcome).into_iter().collect();
    drafts.extend(left);
    crate::events::record(tx, org, drafts, now)?;
    Ok(outcome)
}

/// Makes the account with this email an invited member (converting a guest).
pub(crate) fn become_invited_member(
    tx: &WriteTx<'_>,
    org: &OrgId,
    email: &Email,
    first_name: &str,
    last_name: &str,
    role: Role,
    now: Timestamp,
) -> Result<OrgMember, TxError> {
    let user = account_for(tx, email, first_name, last_name, now)?;
    tx.prepare_cached(
        "INSERT INTO org_members (org_id, user_id, role, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'invited', ?4, ?4)
         ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role, status = 'invited',
         updated_at = excluded.updated_at",
    )?
    .execute(params![org.as_str(), user.id.get(), role.as_str(), now.millis()])?;
    member(tx, org, user.id)?
        .ok_or_else(|| StoreError::new("convert guest", "member vanished").into())
}

pub(crate) fn create_token(
    tx: &WriteTx<'_>,
    org: &OrgId,
    user: UserId,
    hash: &TokenHash,
    expires_at: Option<Timestamp>,
) -> Result<TokenRecord, TxError> {
    let is_member = tx
        .prepare_cached("SELECT 1 FROM org_members WHERE org_id = ?1 AND user_id = ?2")?
        .exists(params![org.as_str(), user.get()])?;
    if !is_member {
        return Err(WriteError::NotFound.into());
    }
    let now = tx.now();
    tx.prepare_cached(
        "INSERT INTO tokens (hash, org_id, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        &hash.as_bytes()[..],
        org.as_str(),
        user.get(),
        now.millis(),
        expires_at.map(Timestamp::millis)
    ])?;
    let token = TokenRecord {
        id: tx.last_insert_rowid(),
        org_id: org.clone(),
        user_id: user,
        created_at: now,
        expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    crate::events::record(tx, org, vec![events::token_created(&token)], now)?;
    Ok(token)
}

pub(crate) fn bootstrap_if_empty(
    tx: &WriteTx<'_>,
    org_name: &str,
    admin: &NewUser,
    token: &TokenHash,
    token_expires_at: Option<Timestamp>,
) -> Result<Option<Bootstrap>, TxError> {
    let has_org = tx.prepare_cached("SELECT 1 FROM organizations LIMIT 1")?.exists([])?;
    if has_org {
        return Ok(None);
    }
    let org = create_org(tx, org_name)?;
    let admin = add_member(tx, &org.id, admin)?;
    let token = create_token(tx, &org.id, admin.user.id, token, token_expires_at)?;
    Ok(Some(Bootstrap { org, admin, token }))
}

const TOKEN_COLUMNS: &str = "id, org_id, user_id, created_at, expires_at, last_used_at, revoked_at";

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    let raw_user: i64 = row.get(2)?;
    let millis = |at: usize| -> rusqlite::Result<Option<Timestamp>> {
        Ok(row.get::<_, Option<i64>>(at)?.map(Timestamp::from_millis))
    };
    Ok(TokenRecord {
        id: row.get(0)?,
        org_id: OrgId::from_stored(row.get(1)?),
        user_id: UserId::new(raw_user)
            .ok_or(rusqlite::Error::IntegralValueOutOfRange(2, raw_user))?,
        created_at: Timestamp::from_millis(row.get(3)?),
        expires_at: millis(4)?,
        last_used_at: millis(5)?,
        revoked_at: millis(6)?,
    })
}

pub(crate) fn list_tokens(
    conn: &Connection,
    org: &OrgId,
    user: Option<UserId>,
) -> rusqlite::Result<Vec<TokenRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens WHERE org_id = ?1 AND (?2 IS NULL OR user_id = ?2) ORDER BY id DESC"
    ))?
    .query_map(params![org.as_str(), user.map(UserId::get)], token_from_row)?
    .collect()
}

fn find_token(tx: &WriteTx<'_>, org: &OrgId, id: i64) -> Result<TokenRecord, TxError> {
    tx.prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE org_id = ?1 AND id = ?2"))?
        .query_row(params![org.as_str(), id], token_from_row)
        .optional()?
        .ok_or(TxError::Refused(WriteError::NotFound))
}

pub(crate) fn revoke_token(tx: &WriteTx<'_>, org: &OrgId, id: i64) -> Result<TokenRecord, TxError> {
    let before = find_token(tx, org, id)?;
    let now = tx.now();
    tx.prepare_cached(
        "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?3) WHERE org_id = ?1 AND id = ?2",
    )?
    .execute(params![org.as_str(), id, now.millis()])?;
    let after = find_token(tx, org, id)?;
    let drafts = events::token_revoked(&before, &after).into_iter().collect();
    crate::events::record(tx, org, drafts, now)?;
    Ok(after)
}

pub(crate) fn touch_token(tx: &WriteTx<'_>, id: i64, now: Timestamp) -> Result<(), TxError> {
    tx.prepare_cached("UPDATE tokens SET last_used_at = ?2 WHERE id = ?1")?
        .execute(params![id, now.millis()])?;
    Ok(())
}
