//! Guests of an organization, known by their (lowercased) email.

use deadpool_postgres::GenericClient;
use roster_core::events::{self, EventType};
use roster_core::groups::Leaving;
use roster_core::listing::{ListParams, SortField};
use roster_core::model::{Guest, GuestStatus, Page};
use roster_core::people::{self, GuestAction, GuestDetails, NewGuest};
use roster_core::store::GuestOutcome;
use roster_core::{Email, OrgId, StoreError, Timestamp, UserId, WriteError};
use tokio_postgres::Row;

use crate::sql::{self, Tx, TxError, undecodable};

pub(crate) const GUEST_COLUMNS: &str = "g.id, g.email, g.first_name, g.last_name, g.status, g.details, \
     g.associated_members, g.disabled_at, g.created_at, g.updated_at";

/// How many columns `GUEST_COLUMNS` names.
pub(crate) const GUEST_COLUMN_COUNT: usize = 10;

fn json<T: serde::de::DeserializeOwned>(
    raw: Option<&str>,
    what: &str,
) -> Result<Option<T>, TxError> {
    raw.map(|text| serde_json::from_str(text).map_err(|_| undecodable(what, text))).transpose()
}

pub(crate) fn guest_from_row(row: &Row) -> Result<Guest, TxError> {
    let status: &str = row.try_get(4)?;
    let associated: Option<Vec<i64>> = json(row.try_get(6)?, "associated members")?;
    Ok(Guest {
        id: row.try_get(0)?,
        email: Email::from_stored(row.try_get(1)?),
        first_name: row.try_get(2)?,
        last_name: row.try_get(3)?,
        status: GuestStatus::parse(status).ok_or_else(|| undecodable("guest status", status))?,
        details: json::<GuestDetails>(row.try_get(5)?, "guest details")?.unwrap_or_default(),
        associated_members: associated.map(|ids| ids.into_iter().filter_map(UserId::new).collect()),
        disabled_at: row.try_get::<_, Option<i64>>(7)?.map(Timestamp::from_millis),
        created_at: Timestamp::from_millis(row.try_get(8)?),
        updated_at: Timestamp::from_millis(row.try_get(9)?),
    })
}

pub(crate) async fn get<C: GenericClient>(
    c: &C,
    org: &OrgId,
    email: &Email,
) -> Result<Option<Guest>, TxError> {
    let sql = format!("SELECT {GUEST_COLUMNS} FROM guests g WHERE g.org_id = $1 AND g.email = $2");
    sql::opt(c, &sql, &[&org.as_str(), &email.as_str()])
        .await?
        .map(|row| guest_from_row(&row))
        .transpose()
}

pub(crate) async fn list<C: GenericClient>(
    c: &C,
    org: &OrgId,
    params: &ListParams,
) -> Result<Page<Guest>, TxError> {
    let filter =
        if params.q.is_some() { "AND strpos(g.email, $2) > 0" } else { "AND $2::text IS NULL" };
    let column = match params.sort {
        // Guests have no name order; `people::GUEST_SORT_FIELDS` keeps it out.
        SortField::Email | SortField::Name => "g.email",
        SortField::CreatedAt => "g.created_at",
        SortField::UpdatedAt => "g.updated_at",
    };
    let q = params.q.as_deref();
    let total: i64 = sql::one(
        c,
        &format!("SELECT count(*) FROM guests g WHERE g.org_id = $1 {filter}"),
        &[&org.as_str(), &q],
    )
    .await?
    .try_get(0)?;
    let read = sql::PageRead::new(params, total);
    let direction = read.direction;
    let rows = sql::all(
        c,
        &format!(
            "SELECT {GUEST_COLUMNS} FROM guests g WHERE g.org_id = $1 {filter}
             ORDER BY {column} {direction}, g.id {direction} LIMIT $3 OFFSET $4"
        ),
        &[&org.as_str(), &q, &read.limit, &read.offset],
    )
    .await?;
    let items = rows.iter().map(guest_from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items: read.in_order(items), total: sql::count(total), stream_head: 0 })
}

/// Whether the email is an active or invited member's: such a person cannot be a guest.
pub(crate) async fn is_current_member<C: GenericClient>(
    c: &C,
    org: &OrgId,
    email: &Email,
) -> Result<bool, TxError> {
    Ok(sql::exists(
        c,
        "SELECT 1 FROM users u JOIN org_members m ON m.user_id = u.id
         WHERE u.email = $2 AND m.org_id = $1 AND m.status IN ('active', 'invited')",
        &[&org.as_str(), &email.as_str()],
    )
    .await?)
}

fn to_json(value: &impl serde::Serialize, what: &'static str) -> Result<String, TxError> {
    serde_json::to_string(value).map_err(|e| StoreError::new(what, e).into())
}

pub(crate) async fn create(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    new: &NewGuest,
) -> Result<Guest, TxError> {
    let exists = get(tx, org, &new.email).await?.is_some();
    people::check_new_guest(is_current_member(tx, org, &new.email).await?, exists)
        .map_err(WriteError::Invalid)?;
    sql::exec(
        tx,
        "INSERT INTO guests (org_id, email, first_name, last_name, details, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
        &[
            &org.as_str(),
            &new.email.as_str(),
            &new.first_name,
            &new.last_name,
            &to_json(&new.details, "guest details")?,
            &now.millis(),
        ],
    )
    .await?;
    let guest = reload(tx, org, &new.email).await?;
    crate::events::record(tx, org, vec![events::guest_created(&guest)], now).await?;
    Ok(guest)
}

async fn reload(tx: &Tx<'_>, org: &OrgId, email: &Email) -> Result<Guest, TxError> {
    get(tx, org, email).await?.ok_or_else(|| StoreError::new("guest", "guest vanished").into())
}

pub(crate) async fn set_associated_members(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    email: &Email,
    members: &[(usize, UserId)],
) -> Result<Guest, TxError> {
    let Some(before) = get(tx, org, email).await? else {
        return Err(WriteError::NotFound.into());
    };
    let named: Vec<i64> = members.iter().map(|(_, id)| id.get()).collect();
    let in_org = sql::user_ids(
        tx,
        "SELECT user_id FROM org_members WHERE org_id = $1 AND user_id = ANY($2)",
        &[&org.as_str(), &named],
    )
    .await?;
    let ids = people::plan_associated_members(members, &in_org).map_err(WriteError::Invalid)?;
    sql::exec(
        tx,
        "UPDATE guests SET associated_members = $3, updated_at = $4 WHERE org_id = $1 AND email = $2",
        &[&org.as_str(), &email.as_str(), &to_json(&ids, "associated members")?, &now.millis()],
    )
    .await?;
    let after = reload(tx, org, email).await?;
    let drafts = events::guest_changed(EventType::GuestUpdated, &before, &after);
    crate::events::record(tx, org, drafts.into_iter().collect(), now).await?;
    Ok(after)
}

/// Makes the email an active guest of the org (a member converted to a guest).
pub(crate) async fn become_guest(
    tx: &Tx<'_>,
    org: &OrgId,
    email: &Email,
    first_name: &str,
    last_name: &str,
    now: Timestamp,
) -> Result<Guest, TxError> {
    sql::exec(
        tx,
        "INSERT INTO guests (org_id, email, first_name, last_name, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (org_id, email) DO UPDATE SET status = 'active', disabled_at = NULL,
         updated_at = excluded.updated_at",
        &[&org.as_str(), &email.as_str(), &first_name, &last_name, &now.millis()],
    )
    .await?;
    reload(tx, org, email).await
}

pub(crate) async fn action(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    email: &Email,
    action: GuestAction,
) -> Result<GuestOutcome, TxError> {
    let Some(guest) = get(tx, org, email).await? else {
        return Err(WriteError::NotFound.into());
    };
    let left = if action.leaves_groups() {
        crate::groups::leave_everywhere(tx, org, &Leaving::Guest(email.clone()), now).await?
    } else {
        Vec::new()
    };
    if let Some(status) = action.status_after() {
        let disabled_at = (status == GuestStatus::Disabled).then_some(now.millis());
        sql::exec(
            tx,
            "UPDATE guests SET status = $3, disabled_at = $4, updated_at = $5 WHERE org_id = $1 AND email = $2",
            &[&org.as_str(), &email.as_str(), &status.as_str(), &disabled_at, &now.millis()],
        )
        .await?;
    }
    let delete = async || {
        sql::exec(
            tx,
            "DELETE FROM guests WHERE org_id = $1 AND email = $2",
            &[&org.as_str(), &email.as_str()],
        )
        .await
    };
    let outcome = match action {
        GuestAction::Disable | GuestAction::Enable => {
            GuestOutcome::Guest(Box::new(reload(tx, org, email).await?))
        }
        GuestAction::Delete => {
            delete().await?;
            GuestOutcome::Guest(Box::new(guest.clone()))
        }
        GuestAction::ToMember(role) => {
            delete().await?;
            let member = crate::people::become_invited_member(
                tx,
                org,
                email,
                guest.first_name.as_deref().unwrap_or_default(),
                guest.last_name.as_deref().unwrap_or_default(),
                role,
                now,
            )
            .await?;
            GuestOutcome::BecameMember(member)
        }
    };
    // The guest's own event first, then each group they left.
    let mut drafts: Vec<_> = action.event(&guest, &outcome).into_iter().collect();
    drafts.extend(left);
    crate::events::record(tx, org, drafts, now).await?;
    Ok(outcome)
}
