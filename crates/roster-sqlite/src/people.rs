//! Organizations, accounts, memberships and tokens.

use roster_core::model::{NewUser, TokenRecord};
use roster_core::permissions::Membership;
use roster_core::store::{Bootstrap, Principal};
use roster_core::token::TokenHash;
use roster_core::{
    Email, MemberStatus, OrgId, OrgMember, Organization, Role, StoreError, Timestamp, User, UserId,
    WriteError,
};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::connection::TxError;

struct StoredRole(Role);
struct StoredStatus(MemberStatus);

impl FromSql for StoredRole {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Role::parse(value.as_str()?)
            .map(Self)
            .ok_or(FromSqlError::InvalidType)
    }
}

impl FromSql for StoredStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        MemberStatus::parse(value.as_str()?)
            .map(Self)
            .ok_or(FromSqlError::InvalidType)
    }
}

const USER_COLUMNS: &str = "u.id, u.email, u.first_name, u.last_name, u.created_at, u.updated_at";

/// Reads the six `USER_COLUMNS` starting at column `at`.
fn user_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<User> {
    let raw_id: i64 = row.get(at)?;
    let id = UserId::new(raw_id).ok_or(rusqlite::Error::IntegralValueOutOfRange(at, raw_id))?;
    Ok(User {
        id,
        email: Email::from_stored(row.get(at + 1)?),
        first_name: row.get(at + 2)?,
        last_name: row.get(at + 3)?,
        created_at: Timestamp::from_millis(row.get(at + 4)?),
        updated_at: Timestamp::from_millis(row.get(at + 5)?),
    })
}

fn member_from_row(row: &Row<'_>) -> rusqlite::Result<OrgMember> {
    Ok(OrgMember {
        user: user_from_row(row, 0)?,
        role: row.get::<_, StoredRole>(6)?.0,
        status: row.get::<_, StoredStatus>(7)?.0,
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
    let sql = format!(
        "SELECT {USER_COLUMNS}, m.role, m.status, o.allow_non_admins_manage_groups
         FROM tokens t
         JOIN users u ON u.id = t.user_id
         LEFT JOIN org_members m ON m.org_id = ?2 AND m.user_id = t.user_id
         LEFT JOIN organizations o ON o.id = m.org_id
         WHERE t.hash = ?1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?3)"
    );
    conn.prepare_cached(&sql)?
        .query_row(
            params![&token.as_bytes()[..], org.map(OrgId::as_str), now.millis()],
            |row| {
                let role: Option<StoredRole> = row.get(6)?;
                let status: Option<StoredStatus> = row.get(7)?;
                let allow: Option<bool> = row.get(8)?;
                let membership = match (role, status) {
                    (Some(role), Some(status)) => Some(Membership {
                        role: role.0,
                        status: status.0,
                        org_allows_non_admins_to_manage_groups: allow.unwrap_or(false),
                    }),
                    _ => None,
                };
                Ok(Principal {
                    user: user_from_row(row, 0)?,
                    membership,
                })
            },
        )
        .optional()
}

pub(crate) fn members_by_ids(
    conn: &Connection,
    org: &OrgId,
    ids: &[UserId],
) -> rusqlite::Result<Vec<OrgMember>> {
    let sql = format!(
        "SELECT {USER_COLUMNS}, m.role, m.status FROM org_members m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = ?1 AND m.user_id = ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut members = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(member) = stmt
            .query_row(params![org.as_str(), id.get()], member_from_row)
            .optional()?
        {
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

pub(crate) fn create_org(tx: &Transaction<'_>, name: &str) -> Result<Organization, TxError> {
    let org = Organization {
        id: OrgId::generate().map_err(|e| StoreError::new("generate org id", e))?,
        name: name.to_owned(),
        allow_non_admins_manage_groups: false,
        created_at: Timestamp::now(),
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
    tx: &Transaction<'_>,
    org: &OrgId,
    allow: bool,
) -> Result<Organization, TxError> {
    tx.prepare_cached(
        "UPDATE organizations SET allow_non_admins_manage_groups = ?2 WHERE id = ?1",
    )?
    .execute(params![org.as_str(), allow])?;
    find_org(tx, org)?.ok_or(TxError::Refused(WriteError::NotFound))
}

/// Adds a member to the org; an existing account (same email) joins as it is.
pub(crate) fn add_member(
    tx: &Transaction<'_>,
    org: &OrgId,
    new: &NewUser,
) -> Result<OrgMember, TxError> {
    if find_org(tx, org)?.is_none() {
        return Err(WriteError::NotFound.into());
    }
    let now = Timestamp::now();
    let existing = tx
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.email = ?1"
        ))?
        .query_row([new.email.as_str()], |row| user_from_row(row, 0))
        .optional()?;
    let user = match existing {
        Some(user) => user,
        None => {
            tx.prepare_cached(
                "INSERT INTO users (email, first_name, last_name, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
            )?
            .execute(params![
                new.email.as_str(),
                new.first_name,
                new.last_name,
                now.millis()
            ])?;
            let raw_id = tx.last_insert_rowid();
            User {
                id: UserId::new(raw_id)
                    .ok_or_else(|| StoreError::new("add member", "non-positive user id"))?,
                email: new.email.clone(),
                first_name: new.first_name.clone(),
                last_name: new.last_name.clone(),
                created_at: now,
                updated_at: now,
            }
        }
    };
    let inserted = tx
        .prepare_cached(
            "INSERT INTO org_members (org_id, user_id, role, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'active', ?4, ?4) ON CONFLICT (org_id, user_id) DO NOTHING",
        )?
        .execute(params![
            org.as_str(),
            user.id.get(),
            new.role.as_str(),
            now.millis()
        ])?;
    if inserted == 0 {
        return Err(WriteError::Conflict(format!(
            "{} is already a member of organization {org}",
            user.email
        ))
        .into());
    }
    Ok(OrgMember {
        user,
        role: new.role,
        status: MemberStatus::Active,
    })
}

pub(crate) fn create_token(
    tx: &Transaction<'_>,
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
    let now = Timestamp::now();
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
    Ok(TokenRecord {
        id: tx.last_insert_rowid(),
        org_id: org.clone(),
        user_id: user,
        created_at: now,
        expires_at,
    })
}

pub(crate) fn bootstrap_if_empty(
    tx: &Transaction<'_>,
    org_name: &str,
    admin: &NewUser,
    token: &TokenHash,
    token_expires_at: Option<Timestamp>,
) -> Result<Option<Bootstrap>, TxError> {
    let has_org = tx
        .prepare_cached("SELECT 1 FROM organizations LIMIT 1")?
        .exists([])?;
    if has_org {
        return Ok(None);
    }
    let org = create_org(tx, org_name)?;
    let admin = add_member(tx, &org.id, admin)?;
    let token = create_token(tx, &org.id, admin.user.id, token, token_expires_at)?;
    Ok(Some(Bootstrap { org, admin, token }))
}
