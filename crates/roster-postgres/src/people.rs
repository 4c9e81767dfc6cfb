//! Organizations, accounts, memberships and tokens.

use deadpool_postgres::GenericClient;
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
use tokio_postgres::Row;

use crate::sql::{self, Tx, TxError, undecodable};

pub(crate) const USER_COLUMNS: &str =
    "u.id, u.email, u.first_name, u.last_name, u.timezone, u.created_at, u.updated_at";

/// `USER_COLUMNS`, then the member's role, status and whether they are the default admin.
pub(crate) const MEMBER_COLUMNS: &str = "u.id, u.email, u.first_name, u.last_name, u.timezone, \
     u.created_at, u.updated_at, m.role, m.status, \
     coalesce((SELECT o.default_admin_id = u.id FROM organizations o WHERE o.id = m.org_id), false)";

/// How many columns `MEMBER_COLUMNS` names.
pub(crate) const MEMBER_COLUMN_COUNT: usize = 10;

/// Reads the seven `USER_COLUMNS` starting at column `at`.
fn user_from_row(row: &Row, at: usize) -> Result<User, TxError> {
    let raw_id: i64 = row.try_get(at)?;
    Ok(User {
        id: UserId::new(raw_id).ok_or_else(|| undecodable("user id", &raw_id.to_string()))?,
        email: Email::from_stored(row.try_get(at + 1)?),
        first_name: row.try_get(at + 2)?,
        last_name: row.try_get(at + 3)?,
        timezone: row.try_get(at + 4)?,
        created_at: Timestamp::from_millis(row.try_get(at + 5)?),
        updated_at: Timestamp::from_millis(row.try_get(at + 6)?),
    })
}

fn role(raw: &str) -> Result<Role, TxError> {
    Role::parse(raw).ok_or_else(|| undecodable("role", raw))
}

fn status(raw: &str) -> Result<MemberStatus, TxError> {
    MemberStatus::parse(raw).ok_or_else(|| undecodable("status", raw))
}

/// Reads the `MEMBER_COLUMNS` starting at column `at`.
pub(crate) fn member_from_row(row: &Row, at: usize) -> Result<OrgMember, TxError> {
    Ok(OrgMember {
        user: user_from_row(row, at)?,
        role: role(row.try_get(at + 7)?)?,
        status: status(row.try_get(at + 8)?)?,
        is_default_admin: row.try_get(at + 9)?,
    })
}

fn org_from_row(row: &Row) -> Result<Organization, TxError> {
    Ok(Organization {
        id: OrgId::from_stored(row.try_get(0)?),
        name: row.try_get(1)?,
        allow_non_admins_manage_groups: row.try_get(2)?,
        created_at: Timestamp::from_millis(row.try_get(3)?),
    })
}

pub(crate) async fn principal<C: GenericClient>(
    c: &C,
    token: &TokenHash,
    org: Option<&OrgId>,
    now: Timestamp,
) -> Result<Option<Principal>, TxError> {
    // The token's row drives every other read as a nested loop of primary-key lookups:
    // `OFFSET 0` keeps the planner from flattening the lateral subqueries into joins,
    // which the generic plan of this prepared statement (it cannot know the ids) turned
    // into merge joins walking every user, or every membership (60 ms at 100,000).
    let sql = format!(
        "SELECT {USER_COLUMNS}, m.role, m.status,
                (SELECT o.allow_non_admins_manage_groups FROM organizations o WHERE o.id = $2::text),
                t.id, t.last_used_at, t.expires_at,
                coalesce((SELECT e.event_seq FROM organizations e WHERE e.id = $2::text), 0),
                (SELECT min(g.next_expiry) FROM groups g
                 WHERE g.org_id = $2::text AND g.next_expiry IS NOT NULL),
                t.org_id, (SELECT h.callers_seq FROM organizations h WHERE h.id = t.org_id),
                coalesce((SELECT c.callers_seq FROM organizations c WHERE c.id = $2::text), 0)
         FROM tokens t
         CROSS JOIN LATERAL (SELECT * FROM users WHERE users.id = t.user_id OFFSET 0) u
         LEFT JOIN LATERAL (SELECT role, status FROM org_members
                            WHERE org_id = $2::text AND user_id = t.user_id OFFSET 0) m ON true
         WHERE t.hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $3)"
    );
    let hash: &[u8] = &token.as_bytes()[..];
    let Some(row) = sql::opt(c, &sql, &[&hash, &org.map(OrgId::as_str), &now.millis()]).await?
    else {
        return Ok(None);
    };
    let role_raw: Option<&str> = row.try_get(7)?;
    let status_raw: Option<&str> = row.try_get(8)?;
    let allow: Option<bool> = row.try_get(9)?;
    let membership = match (role_raw, status_raw) {
        (Some(r), Some(s)) => Some(Membership {
            role: role(r)?,
            status: status(s)?,
            org_allows_non_admins_to_manage_groups: allow.unwrap_or(false),
        }),
        _ => None,
    };
    Ok(Some(Principal {
        user: user_from_row(&row, 0)?.into(),
        membership,
        token_id: row.try_get(10)?,
        token_last_used_at: row.try_get::<_, Option<i64>>(11)?.map(Timestamp::from_millis),
        token_expires_at: row.try_get::<_, Option<i64>>(12)?.map(Timestamp::from_millis),
        token_org: OrgId::from_stored(row.try_get(15)?),
        // Read in this statement, so that a cached answer costs the request no second
        // round trip for its organization's epoch, and so that this principal can be
        // kept until one of the two heads moves (see `PrincipalHeads`).
        heads: match org {
            Some(_) => Some(PrincipalHeads {
                token_org: sql::count(row.try_get(16)?),
                org: OrgHead {
                    head: sql::count(row.try_get(13)?),
                    callers: sql::count(row.try_get(17)?),
                    next_expiry: row.try_get::<_, Option<i64>>(14)?.map(Timestamp::from_millis),
                },
            }),
            None => None,
        },
    }))
}

pub(crate) async fn member<C: GenericClient>(
    c: &C,
    org: &OrgId,
    id: UserId,
) -> Result<Option<OrgMember>, TxError> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM org_members m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = $1 AND m.user_id = $2"
    );
    sql::opt(c, &sql, &[&org.as_str(), &id.get()])
        .await?
        .map(|row| member_from_row(&row, 0))
        .transpose()
}

pub(crate) async fn members_by_ids<C: GenericClient>(
    c: &C,
    org: &OrgId,
    ids: &[UserId],
) -> Result<Vec<OrgMember>, TxError> {
    let raw: Vec<i64> = ids.iter().map(|id| id.get()).collect();
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM org_members m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = $1 AND m.user_id = ANY($2) ORDER BY m.user_id"
    );
    sql::all(c, &sql, &[&org.as_str(), &raw])
        .await?
        .iter()
        .map(|row| member_from_row(row, 0))
        .collect()
}

pub(crate) async fn list_members<C: GenericClient>(
    c: &C,
    org: &OrgId,
    params: &ListParams,
) -> Result<Page<OrgMember>, TxError> {
    let filter = if params.q.is_some() {
        "AND (strpos(u.name_key, $2) > 0 OR strpos(u.email, $2) > 0)"
    } else {
        "AND $2::text IS NULL"
    };
    let column = match params.sort {
        SortField::Name => "u.name_key",
        SortField::Email => "u.email",
        SortField::CreatedAt => "u.created_at",
        SortField::UpdatedAt => "u.updated_at",
    };
    let q = params.q.as_deref();
    let from = "FROM org_members m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1";
    let total: i64 = sql::one(c, &format!("SELECT count(*) {from} {filter}"), &[&org.as_str(), &q])
        .await?
        .try_get(0)?;
    let read = sql::PageRead::new(params, total);
    let direction = read.direction;
    let rows = sql::all(
        c,
        &format!(
            "SELECT {MEMBER_COLUMNS} {from} {filter}
             ORDER BY {column} {direction}, u.id {direction} LIMIT $3 OFFSET $4"
        ),
        &[&org.as_str(), &q, &read.limit, &read.offset],
    )
    .await?;
    let items = rows.iter().map(|row| member_from_row(row, 0)).collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items: read.in_order(items), total: sql::count(total), stream_head: 0 })
}

pub(crate) async fn organizations_of<C: GenericClient>(
    c: &C,
    user: UserId,
) -> Result<Vec<(Organization, OrgMember)>, TxError> {
    let sql = format!(
        "SELECT o.id, o.name, o.allow_non_admins_manage_groups, o.created_at, {MEMBER_COLUMNS}
         FROM org_members m JOIN users u ON u.id = m.user_id JOIN organizations o ON o.id = m.org_id
         WHERE m.user_id = $1 ORDER BY o.created_at, o.id"
    );
    sql::all(c, &sql, &[&user.get()])
        .await?
        .iter()
        .map(|row| Ok((org_from_row(row)?, member_from_row(row, 4)?)))
        .collect()
}

async fn find_org(tx: &Tx<'_>, org: &OrgId) -> Result<Option<Organization>, TxError> {
    sql::opt(
        tx,
        "SELECT id, name, allow_non_admins_manage_groups, created_at FROM organizations WHERE id = $1",
        &[&org.as_str()],
    )
    .await?
    .map(|row| org_from_row(&row))
    .transpose()
}

pub(crate) async fn create_org(
    tx: &Tx<'_>,
    now: Timestamp,
    name: &str,
) -> Result<Organization, TxError> {
    let org = Organization {
        id: OrgId::generate().map_err(|e| StoreError::new("generate org id", e))?,
        name: name.to_owned(),
        allow_non_admins_manage_groups: false,
        created_at: now,
    };
    sql::exec(
        tx,
        "INSERT INTO organizations (id, name, allow_non_admins_manage_groups, created_at)
         VALUES ($1, $2, $3, $4)",
        &[
            &org.id.as_str(),
            &org.name,
            &org.allow_non_admins_manage_groups,
            &org.created_at.millis(),
        ],
    )
    .await?;
    Ok(org)
}

pub(crate) async fn set_org_allow(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    allow: bool,
) -> Result<Organization, TxError> {
    let before = find_org(tx, org).await?.ok_or(TxError::Refused(WriteError::NotFound))?;
    sql::exec(
        tx,
        "UPDATE organizations SET allow_non_admins_manage_groups = $2 WHERE id = $1",
        &[&org.as_str(), &allow],
    )
    .await?;
    let after = find_org(tx, org).await?.ok_or(TxError::Refused(WriteError::NotFound))?;
    let drafts = events::organization_updated(&before, &after).into_iter().collect();
    crate::events::record(tx, org, drafts, now).await?;
    Ok(after)
}

fn name_key(first_name: &str, last_name: &str) -> String {
    fold_case(&format!("{first_name} {last_name}"))
}

/// The account with this email, created if there is none.
pub(crate) async fn account_for(
    tx: &Tx<'_>,
    email: &Email,
    first_name: &str,
    last_name: &str,
    now: Timestamp,
) -> Result<User, TxError> {
    let existing = sql::opt(
        tx,
        &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.email = $1"),
        &[&email.as_str()],
    )
    .await?;
    if let Some(row) = existing {
        return user_from_row(&row, 0);
    }
    let row = sql::one(
        tx,
        "INSERT INTO users (email, first_name, last_name, name_key, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        &[
            &email.as_str(),
            &first_name,
            &last_name,
            &name_key(first_name, last_name),
            &now.millis(),
        ],
    )
    .await?;
    let raw_id: i64 = row.try_get(0)?;
    Ok(User {
        id: UserId::new(raw_id).ok_or_else(|| undecodable("user id", &raw_id.to_string()))?,
        email: email.clone(),
        first_name: first_name.to_owned(),
        last_name: last_name.to_owned(),
        timezone: None,
        created_at: now,
        updated_at: now,
    })
}

/// Adds a member to the org; an existing account (same email) joins as it is.
pub(crate) async fn add_member(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    new: &NewUser,
) -> Result<OrgMember, TxError> {
    if find_org(tx, org).await?.is_none() {
        return Err(WriteError::NotFound.into());
    }
    let user = account_for(tx, &new.email, &new.first_name, &new.last_name, now).await?;
    let inserted = sql::exec(
        tx,
        "INSERT INTO org_members (org_id, user_id, role, status, created_at, updated_at)
         VALUES ($1, $2, $3, 'active', $4, $4) ON CONFLICT (org_id, user_id) DO NOTHING",
        &[&org.as_str(), &user.id.get(), &new.role.as_str(), &now.millis()],
    )
    .await?;
    if inserted == 0 {
        return Err(WriteError::Conflict(format!(
            "{} is already a member of organization {org}",
            user.email
        ))
        .into());
    }
    // The org's first admin becomes its default admin.
    let is_default_admin = new.role == Role::Admin
        && sql::exec(
            tx,
            "UPDATE organizations SET default_admin_id = $2 WHERE id = $1 AND default_admin_id IS NULL",
            &[&org.as_str(), &user.id.get()],
        )
        .await?
            > 0;
    let member = OrgMember { user, role: new.role, status: MemberStatus::Active, is_default_admin };
    crate::events::record(tx, org, vec![events::member_created(&member)], now).await?;
    Ok(member)
}

pub(crate) async fn invite_member(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    invite: &Invite,
) -> Result<OrgMember, TxError> {
    let is_guest = sql::exists(
        tx,
        "SELECT 1 FROM guests WHERE org_id = $1 AND email = $2",
        &[&org.as_str(), &invite.email.as_str()],
    )
    .await?;
    let user = account_for(tx, &invite.email, &invite.first_name, &invite.last_name, now).await?;
    let before = member(tx, org, user.id).await?;
    people::check_invite(InviteFacts { is_guest, status: before.as_ref().map(|m| m.status) })
        .map_err(WriteError::Invalid)?;
    become_invited(tx, org, user.id, invite.role, now).await?;
    let after = member(tx, org, user.id)
        .await?
        .ok_or_else(|| StoreError::new("invite", "member vanished"))?;
    let draft = events::member_joined(before.as_ref(), &after);
    crate::events::record(tx, org, draft.into_iter().collect(), now).await?;
    Ok(after)
}

/// An invited membership, or a disabled one brought back as invited with a new role.
async fn become_invited(
    tx: &Tx<'_>,
    org: &OrgId,
    user: UserId,
    role: Role,
    now: Timestamp,
) -> Result<(), TxError> {
    sql::exec(
        tx,
        "INSERT INTO org_members (org_id, user_id, role, status, created_at, updated_at)
         VALUES ($1, $2, $3, 'invited', $4, $4)
         ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role, status = 'invited',
         updated_at = excluded.updated_at",
        &[&org.as_str(), &user.get(), &role.as_str(), &now.millis()],
    )
    .await?;
    Ok(())
}

pub(crate) async fn update_member(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    id: UserId,
    changes: &MemberChanges,
) -> Result<OrgMember, TxError> {
    let Some(current) = member(tx, org, id).await? else {
        return Err(WriteError::NotFound.into());
    };
    let Some(update) = people::plan_member_update(&current.user, changes) else {
        return Ok(current);
    };
    let first_name = update.first_name.as_deref().unwrap_or_default();
    let last_name = update.last_name.as_deref().unwrap_or_default();
    let timezone = update.timezone.as_deref();
    // The account is shared: every org it belongs to sees the change, in its own stream.
    let before_everywhere = organizations_of(tx, id).await?;
    sql::exec(
        tx,
        "UPDATE users SET first_name = $2, last_name = $3, name_key = $4, timezone = $5, updated_at = $6
         WHERE id = $1",
        &[
            &id.get(),
            &first_name,
            &last_name,
            &name_key(first_name, last_name),
            &timezone,
            &now.millis(),
        ],
    )
    .await?;
    let mut answer = None;
    for (other, before) in before_everywhere {
        let after = member(tx, &other.id, id)
            .await?
            .ok_or_else(|| StoreError::new("update member", "member vanished"))?;
        let drafts = events::member_changed(events::EventType::MemberUpdated, &before, &after);
        crate::events::record(tx, &other.id, drafts.into_iter().collect(), now).await?;
        if other.id == *org {
            answer = Some(after);
        }
    }
    answer.ok_or_else(|| StoreError::new("update member", "member vanished").into())
}

pub(crate) async fn member_action(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    id: UserId,
    action: MemberAction,
) -> Result<MemberOutcome, TxError> {
    // Lock the org's admin rows so two demotions cannot both pass the last-admin check.
    sql::exec(
        tx,
        "SELECT 1 FROM org_members WHERE org_id = $1 AND role = 'admin' FOR UPDATE",
        &[&org.as_str()],
    )
    .await?;
    let Some(current) = member(tx, org, id).await? else {
        return Err(WriteError::NotFound.into());
    };
    let other_active_admins: i64 = sql::one(
        tx,
        "SELECT count(*) FROM org_members
         WHERE org_id = $1 AND user_id != $2 AND role = 'admin' AND status = 'active'",
        &[&org.as_str(), &id.get()],
    )
    .await?
    .try_get(0)?;
    let facts = MemberFacts {
        role: current.role,
        status: current.status,
        is_default_admin: current.is_default_admin,
        other_active_admins: sql::count(other_active_admins),
    };
    people::check_member_action(&facts, action).map_err(WriteError::Rejected)?;
    let left = if action.leaves_groups() {
        crate::groups::leave_everywhere(tx, org, &Leaving::Member(id), now).await?
    } else {
        Vec::new()
    };
    let set = |column: &'static str, value: &'static str| {
        let sql = format!(
            "UPDATE org_members SET {column} = $3, updated_at = $4 WHERE org_id = $1 AND user_id = $2"
        );
        async move { sql::exec(tx, &sql, &[&org.as_str(), &id.get(), &value, &now.millis()]).await }
    };
    if let MemberAction::SetRole(role) = action {
        set("role", role.as_str()).await?;
    }
    if let Some(status) = action.status_after() {
        set("status", status.as_str()).await?;
    }
    let outcome = if action == MemberAction::ToGuest {
        sql::exec(
            tx,
            "DELETE FROM org_members WHERE org_id = $1 AND user_id = $2",
            &[&org.as_str(), &id.get()],
        )
        .await?;
        let user = &current.user;
        let guest = crate::guests::become_guest(
            tx,
            org,
            &user.email,
            &user.first_name,
            &user.last_name,
            now,
        )
        .await?;
        MemberOutcome::BecameGuest(Box::new(guest))
    } else {
        MemberOutcome::Member(
            member(tx, org, id)
                .await?
                .ok_or_else(|| StoreError::new("member action", "member vanished"))?,
        )
    };
    // The person's own event first, then each group they left.
    let mut drafts: Vec<_> = action.event(&current, &outcome).into_iter().collect();
    drafts.extend(left);
    crate::events::record(tx, org, drafts, now).await?;
    Ok(outcome)
}

/// Makes the account with this email an invited member (converting a guest).
pub(crate) async fn become_invited_member(
    tx: &Tx<'_>,
    org: &OrgId,
    email: &Email,
    first_name: &str,
    last_name: &str,
    role: Role,
    now: Timestamp,
) -> Result<OrgMember, TxError> {
    let user = account_for(tx, email, first_name, last_name, now).await?;
    become_invited(tx, org, user.id, role, now).await?;
    member(tx, org, user.id)
        .await?
        .ok_or_else(|| StoreError::new("convert guest", "member vanished").into())
}

pub(crate) async fn create_token(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    user: UserId,
    hash: &TokenHash,
    expires_at: Option<Timestamp>,
) -> Result<TokenRecord, TxError> {
    if !sql::exists(
        tx,
        "SELECT 1 FROM org_members WHERE org_id = $1 AND user_id = $2",
        &[&org.as_str(), &user.get()],
    )
    .await?
    {
        return Err(WriteError::NotFound.into());
    }
    let hash: &[u8] = &hash.as_bytes()[..];
    let row = sql::one(
        tx,
        "INSERT INTO tokens (hash, org_id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)
         RETURNING id",
        &[&hash, &org.as_str(), &user.get(), &now.millis(), &expires_at.map(Timestamp::millis)],
    )
    .await?;
    let token = TokenRecord {
        id: row.try_get(0)?,
        org_id: org.clone(),
        user_id: user,
        created_at: now,
        expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    crate::events::record(tx, org, vec![events::token_created(&token)], now).await?;
    Ok(token)
}

pub(crate) async fn bootstrap_if_empty(
    tx: &Tx<'_>,
    now: Timestamp,
    org_name: &str,
    admin: &NewUser,
    token: &TokenHash,
    token_expires_at: Option<Timestamp>,
) -> Result<Option<Bootstrap>, TxError> {
    // Instances starting together must not each bootstrap.
    sql::exec(tx, "SELECT pg_advisory_xact_lock(7353520662)", &[]).await?;
    if sql::exists(tx, "SELECT 1 FROM organizations LIMIT 1", &[]).await? {
        return Ok(None);
    }
    let org = create_org(tx, now, org_name).await?;
    let admin = add_member(tx, now, &org.id, admin).await?;
    let token = create_token(tx, now, &org.id, admin.user.id, token, token_expires_at).await?;
    Ok(Some(Bootstrap { org, admin, token }))
}

const TOKEN_COLUMNS: &str = "id, org_id, user_id, created_at, expires_at, last_used_at, revoked_at";

fn token_from_row(row: &Row) -> Result<TokenRecord, TxError> {
    let raw_user: i64 = row.try_get(2)?;
    let millis = |at: usize| -> Result<Option<Timestamp>, TxError> {
        Ok(row.try_get::<_, Option<i64>>(at)?.map(Timestamp::from_millis))
    };
    Ok(TokenRecord {
        id: row.try_get(0)?,
        org_id: OrgId::from_stored(row.try_get(1)?),
        user_id: UserId::new(raw_user)
            .ok_or_else(|| undecodable("user id", &raw_user.to_string()))?,
        created_at: Timestamp::from_millis(row.try_get(3)?),
        expires_at: millis(4)?,
        last_used_at: millis(5)?,
        revoked_at: millis(6)?,
    })
}

pub(crate) async fn list_tokens<C: GenericClient>(
    c: &C,
    org: &OrgId,
    user: Option<UserId>,
) -> Result<Vec<TokenRecord>, TxError> {
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens WHERE org_id = $1 AND ($2::bigint IS NULL OR user_id = $2) ORDER BY id DESC"
    );
    sql::all(c, &sql, &[&org.as_str(), &user.map(UserId::get)])
        .await?
        .iter()
        .map(token_from_row)
        .collect()
}

pub(crate) async fn revoke_token(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    id: i64,
) -> Result<TokenRecord, TxError> {
    let find = async || {
        let sql =
            format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE org_id = $1 AND id = $2 FOR UPDATE");
        let row = sql::opt(tx, &sql, &[&org.as_str(), &id])
            .await?
            .ok_or(TxError::Refused(WriteError::NotFound))?;
        token_from_row(&row)
    };
    let before = find().await?;
    sql::exec(
        tx,
        "UPDATE tokens SET revoked_at = coalesce(revoked_at, $3) WHERE org_id = $1 AND id = $2",
        &[&org.as_str(), &id, &now.millis()],
    )
    .await?;
    let after = find().await?;
    let drafts = events::token_revoked(&before, &after).into_iter().collect();
    crate::events::record(tx, org, drafts, now).await?;
    Ok(after)
}

pub(crate) async fn touch_token<C: GenericClient>(
    c: &C,
    id: i64,
    now: Timestamp,
) -> Result<(), TxError> {
    sql::exec(c, "UPDATE tokens SET last_used_at = $2 WHERE id = $1", &[&id, &now.millis()])
        .await?;
    Ok(())
}
