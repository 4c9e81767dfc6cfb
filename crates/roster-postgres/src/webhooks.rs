//! Webhook endpoints, deliveries and attempts. Every statement a client's request runs
//! is scoped by `org_id`; what to send, when to retry and when to disable an endpoint is
//! decided in `roster_core::webhooks`. Several instances share the deliverer's work:
//! dispatch and claims take their rows with `FOR UPDATE SKIP LOCKED`.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use roster_core::events;
use roster_core::webhooks::delivery::{self, DueDelivery};
use roster_core::webhooks::{
    AttemptRecord, AttemptResult, Claim, Delivery, DeliveryQuery, DeliveryStatus, DeliveryWork,
    EndpointStatus, ErrorKind, Judgement, NewWebhook, Webhook, WebhookId, WebhookPatch,
    WebhookSecret, signing_secrets,
};
use roster_core::{OrgId, StoreError, Timestamp, WriteError};
use tokio_postgres::Row;

use crate::sql::{self, Tx, TxError};

const WEBHOOK_COLUMNS: &str = "id, url, event_types, description, status, failing_since,
    last_success_at, last_failure_at, previous_secret_expires_at, created_at, updated_at";

fn webhook_from_row(row: &Row) -> Result<Webhook, TxError> {
    let millis = |at: usize| -> Result<Option<Timestamp>, TxError> {
        Ok(row.try_get::<_, Option<i64>>(at)?.map(Timestamp::from_millis))
    };
    let types: String = row.try_get(2)?;
    let status: String = row.try_get(4)?;
    Ok(Webhook {
        id: WebhookId::from_stored(row.try_get(0)?),
        url: row.try_get(1)?,
        event_types: serde_json::from_str(&types)
            .map_err(|_| sql::undecodable("event types", &types))?,
        description: row.try_get(3)?,
        status: EndpointStatus::parse(&status)
            .ok_or_else(|| sql::undecodable("webhook status", &status))?,
        failing_since: millis(5)?,
        last_success_at: millis(6)?,
        last_failure_at: millis(7)?,
        previous_secret_expires_at: millis(8)?,
        created_at: Timestamp::from_millis(row.try_get(9)?),
        updated_at: Timestamp::from_millis(row.try_get(10)?),
    })
}

fn types_json(types: &[String]) -> String {
    serde_json::Value::from(types.to_vec()).to_string()
}

pub(crate) async fn get<C: GenericClient>(
    c: &C,
    org: &OrgId,
    id: &WebhookId,
) -> Result<Option<Webhook>, TxError> {
    let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = $1 AND id = $2");
    match sql::opt(c, &sql, &[&org.as_str(), &id.as_str()]).await? {
        Some(row) => Ok(Some(webhook_from_row(&row)?)),
        None => Ok(None),
    }
}

/// The endpoint, its row locked until the transaction ends.
async fn find(tx: &Tx<'_>, org: &OrgId, id: &WebhookId) -> Result<Webhook, TxError> {
    let sql =
        format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = $1 AND id = $2 FOR UPDATE");
    let row = sql::opt(tx, &sql, &[&org.as_str(), &id.as_str()])
        .await?
        .ok_or(TxError::Refused(WriteError::NotFound))?;
    webhook_from_row(&row)
}

pub(crate) async fn list<C: GenericClient>(c: &C, org: &OrgId) -> Result<Vec<Webhook>, TxError> {
    let sql =
        format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = $1 ORDER BY created_at, id");
    sql::all(c, &sql, &[&org.as_str()]).await?.iter().map(webhook_from_row).collect()
}

pub(crate) async fn secrets<C: GenericClient>(
    c: &C,
    org: &OrgId,
    id: &WebhookId,
    now: Timestamp,
) -> Result<Option<Vec<WebhookSecret>>, TxError> {
    let row = sql::opt(
        c,
        "SELECT secret, previous_secret, previous_secret_expires_at FROM webhooks
         WHERE org_id = $1 AND id = $2",
        &[&org.as_str(), &id.as_str()],
    )
    .await?;
    let Some(row) = row else { return Ok(None) };
    let previous: Option<String> = row.try_get(1)?;
    let until: Option<i64> = row.try_get(2)?;
    Ok(Some(signing_secrets(&row.try_get::<_, String>(0)?, previous.zip(until), now)))
}

pub(crate) async fn create(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    new: &NewWebhook,
    secret: &WebhookSecret,
    max_per_org: usize,
) -> Result<Webhook, TxError> {
    // The org's row, locked: two creates in one org take turns, so the cap holds.
    sql::opt(tx, "SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE", &[&org.as_str()])
        .await?
        .ok_or(TxError::Refused(WriteError::NotFound))?;
    let count: i64 =
        sql::one(tx, "SELECT count(*) FROM webhooks WHERE org_id = $1", &[&org.as_str()])
            .await?
            .try_get(0)?;
    if usize::try_from(count).unwrap_or(usize::MAX) >= max_per_org {
        return Err(TxError::Refused(WriteError::Conflict(format!(
            "An organization may have at most {max_per_org} webhook endpoints."
        ))));
    }
    let id = WebhookId::generate().map_err(|e| StoreError::new("webhook id", e))?;
    let status = if new.enabled { EndpointStatus::Enabled } else { EndpointStatus::Disabled };
    sql::exec(
        tx,
        "INSERT INTO webhooks (id, org_id, url, event_types, description, status, secret,
         stream_seq, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8)",
        &[
            &id.as_str(),
            &org.as_str(),
            &new.url.as_str(),
            &types_json(&new.event_types),
            &new.description,
            &status.as_str(),
            &secret.expose(),
            &now.millis(),
        ],
    )
    .await?;
    let created = find(tx, org, &id).await?;
    crate::events::record(tx, org, vec![events::webhook_created(&created)], now).await?;
    follow_from_head(tx, org, &id).await?;
    Ok(created)
}

/// The endpoint looks at the stream from its head now on (nothing earlier is sent).
async fn follow_from_head(tx: &Tx<'_>, org: &OrgId, id: &WebhookId) -> Result<(), TxError> {
    sql::exec(
        tx,
        "UPDATE webhooks SET stream_seq = (SELECT event_seq FROM organizations WHERE id = $1)
         WHERE org_id = $1 AND id = $2",
        &[&org.as_str(), &id.as_str()],
    )
    .await?;
    Ok(())
}

/// Writes an endpoint's state (never its secret or place in the stream).
async fn store_state(tx: &Tx<'_>, org: &OrgId, hook: &Webhook) -> Result<(), TxError> {
    sql::exec(
        tx,
        "UPDATE webhooks SET url = $3, event_types = $4, description = $5, status = $6,
         failing_since = $7, last_success_at = $8, last_failure_at = $9, updated_at = $10
         WHERE org_id = $1 AND id = $2",
        &[
            &org.as_str(),
            &hook.id.as_str(),
            &hook.url,
            &types_json(&hook.event_types),
            &hook.description,
            &hook.status.as_str(),
            &hook.failing_since.map(Timestamp::millis),
            &hook.last_success_at.map(Timestamp::millis),
            &hook.last_failure_at.map(Timestamp::millis),
            &hook.updated_at.millis(),
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn update(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    id: &WebhookId,
    patch: &WebhookPatch,
) -> Result<Webhook, TxError> {
    let before = find(tx, org, id).await?;
    let after = patch.apply(&before, now);
    if after == before {
        return Ok(before);
    }
    store_state(tx, org, &after).await?;
    if let Some(draft) = events::webhook_changed(&before, &after) {
        crate::events::record(tx, org, vec![draft], now).await?;
    }
    if before.status != EndpointStatus::Enabled && after.status == EndpointStatus::Enabled {
        follow_from_head(tx, org, id).await?;
    }
    Ok(after)
}

pub(crate) async fn delete(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    id: &WebhookId,
) -> Result<(), TxError> {
    let before = find(tx, org, id).await?;
    sql::exec(
        tx,
        "DELETE FROM webhooks WHERE org_id = $1 AND id = $2",
        &[&org.as_str(), &id.as_str()],
    )
    .await?;
    crate::events::record(tx, org, vec![events::webhook_deleted(&before)], now).await?;
    Ok(())
}

pub(crate) async fn rotate(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    id: &WebhookId,
    secret: &WebhookSecret,
    previous_until: Timestamp,
) -> Result<Webhook, TxError> {
    let before = find(tx, org, id).await?;
    sql::exec(
        tx,
        "UPDATE webhooks SET previous_secret = secret, previous_secret_expires_at = $3,
         secret = $4, updated_at = $5 WHERE org_id = $1 AND id = $2",
        &[&org.as_str(), &id.as_str(), &previous_until.millis(), &secret.expose(), &now.millis()],
    )
    .await?;
    let after = find(tx, org, id).await?;
    if let Some(draft) = events::webhook_changed(&before, &after) {
        crate::events::record(tx, org, vec![draft], now).await?;
    }
    Ok(after)
}

/// Inserts a delivery, due now, of each event of `org` in (after, through] that `hook`
/// wants; answers how many, and the last seq looked at.
async fn enqueue(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    hook: &Webhook,
    after: i64,
    through: i64,
    limit: i64,
) -> Result<(u64, i64), TxError> {
    let rows = sql::all(
        tx,
        "SELECT seq, id, type, subject_type, subject_id FROM events
         WHERE org_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
        &[&org.as_str(), &after, &through, &limit],
    )
    .await?;
    let (mut seqs, mut ids, mut kinds) = (Vec::new(), Vec::new(), Vec::new());
    for row in &rows {
        let kind: String = row.try_get(2)?;
        let subject_type: String = row.try_get(3)?;
        let subject_id: String = row.try_get(4)?;
        if hook.wants(&kind, &subject_type, &subject_id) {
            seqs.push(row.try_get::<_, i64>(0)?);
            ids.push(row.try_get::<_, String>(1)?);
            kinds.push(kind);
        }
    }
    if !seqs.is_empty() {
        sql::exec(
            tx,
            "INSERT INTO webhook_deliveries (org_id, webhook_id, event_seq, event_id,
             event_type, status, next_attempt_at, created_at, updated_at)
             SELECT $1, $2, e.seq, e.id, e.type, 'pending', $6, $6, $6
             FROM unnest($3::bigint[], $4::text[], $5::text[]) WITH ORDINALITY
                AS e (seq, id, type, n) ORDER BY e.n",
            &[&org.as_str(), &hook.id.as_str(), &seqs, &ids, &kinds, &now.millis()],
        )
        .await?;
    }
    let looked_through = match rows.last() {
        Some(last) if rows.len() as i64 >= limit => last.try_get(0)?,
        _ => through,
    };
    Ok((seqs.len() as u64, looked_through))
}

pub(crate) async fn work<C: GenericClient>(c: &C, now: Timestamp) -> Result<DeliveryWork, TxError> {
    // The earliest unclaimed delivery, whether or not its endpoint has room now (see the
    // SQLite store's twin for why).
    let row = sql::one(
        c,
        "SELECT EXISTS (SELECT 1 FROM webhooks w JOIN organizations o ON o.id = w.org_id
                WHERE w.status = 'enabled' AND w.stream_seq < o.event_seq),
            (SELECT d.next_attempt_at FROM webhook_deliveries d
                JOIN webhooks w ON w.id = d.webhook_id
                WHERE d.next_attempt_at IS NOT NULL
                AND (d.lease IS NULL OR d.lease_until <= $1)
                AND (w.status = 'enabled' OR d.by_hand)
                ORDER BY d.next_attempt_at LIMIT 1)",
        &[&now.millis()],
    )
    .await?;
    Ok(DeliveryWork {
        behind: row.try_get(0)?,
        next_due: row.try_get::<_, Option<i64>>(1)?.map(Timestamp::from_millis),
    })
}

pub(crate) async fn dispatch(tx: &Tx<'_>, now: Timestamp, limit: u64) -> Result<u64, TxError> {
    // Another instance dispatching an endpoint holds its row: this one skips it.
    let behind = sql::all(
        tx,
        "SELECT w.org_id, w.id, w.stream_seq, o.event_seq FROM webhooks w
         JOIN organizations o ON o.id = w.org_id
         WHERE w.status = 'enabled' AND w.stream_seq < o.event_seq
         FOR UPDATE OF w SKIP LOCKED",
        &[],
    )
    .await?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut made = 0;
    for row in behind {
        let org = OrgId::from_stored(row.try_get(0)?);
        let id = WebhookId::from_stored(row.try_get(1)?);
        let Some(hook) = get(tx, &org, &id).await? else { continue };
        let (count, through) =
            enqueue(tx, now, &org, &hook, row.try_get(2)?, row.try_get(3)?, limit).await?;
        sql::exec(
            tx,
            "UPDATE webhooks SET stream_seq = $3 WHERE org_id = $1 AND id = $2",
            &[&org.as_str(), &id.as_str(), &through],
        )
        .await?;
        made += count;
    }
    Ok(made)
}

pub(crate) async fn claim(tx: &Tx<'_>, now: Timestamp, max: usize) -> Result<Vec<Claim>, TxError> {
    let per_endpoint = i64::try_from(delivery::MAX_IN_FLIGHT_PER_ENDPOINT).unwrap_or(i64::MAX);
    // The oldest few due deliveries of every endpoint (one index range each), oldest
    // first overall: one endpoint's backlog cannot fill the candidates while another
    // endpoint with room waits behind it. Rows another instance is claiming are skipped.
    let due_rows = sql::all(
        tx,
        "SELECT d.id, d.webhook_id FROM webhooks w
         CROSS JOIN LATERAL (
             SELECT x.id, x.webhook_id, x.next_attempt_at FROM webhook_deliveries x
             WHERE x.webhook_id = w.id AND x.next_attempt_at <= $1
             AND (x.lease IS NULL OR x.lease_until <= $1)
             AND (w.status = 'enabled' OR x.by_hand)
             ORDER BY x.next_attempt_at, x.id LIMIT $2
             FOR UPDATE OF x SKIP LOCKED) d
         ORDER BY d.next_attempt_at, d.id",
        &[&now.millis(), &per_endpoint],
    )
    .await?;
    if due_rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut due = Vec::with_capacity(due_rows.len());
    for row in &due_rows {
        due.push(DueDelivery {
            id: row.try_get(0)?,
            webhook: WebhookId::from_stored(row.try_get(1)?),
        });
    }
    // The endpoints' rows, locked in id order: claims of one endpoint by several
    // instances take turns, so the in-flight count each sees is exact.
    let mut endpoints: Vec<&str> = due.iter().map(|d| d.webhook.as_str()).collect();
    endpoints.sort_unstable();
    endpoints.dedup();
    sql::exec(
        tx,
        "SELECT 1 FROM webhooks WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        &[&endpoints],
    )
    .await?;
    let mut in_flight = HashMap::new();
    for row in sql::all(
        tx,
        "SELECT webhook_id, count(*) FROM webhook_deliveries
         WHERE webhook_id = ANY($1) AND lease IS NOT NULL AND lease_until > $2
         GROUP BY webhook_id",
        &[&endpoints, &now.millis()],
    )
    .await?
    {
        in_flight
            .insert(WebhookId::from_stored(row.try_get(0)?), sql::count(row.try_get(1)?) as usize);
    }
    let lease_until = now.millis().saturating_add(delivery::LEASE_MILLIS);
    let mut claims = Vec::new();
    for id in delivery::pick_claims(&due, &in_flight, max) {
        let lease = hex_lease()?;
        let row = sql::one(
            tx,
            "WITH claimed AS (
                UPDATE webhook_deliveries SET lease = $2, lease_until = $3 WHERE id = $1
                RETURNING org_id, webhook_id, event_id, event_type, event_seq, attempts,
                    schedule_from, by_hand)
             SELECT c.org_id, c.webhook_id, w.url, w.secret, w.previous_secret,
                w.previous_secret_expires_at, c.event_id, c.event_type, c.event_seq,
                e.payload, c.attempts, c.schedule_from, c.by_hand
             FROM claimed c JOIN webhooks w ON w.id = c.webhook_id
             LEFT JOIN events e ON e.org_id = c.org_id AND e.seq = c.event_seq",
            &[&id, &lease, &lease_until],
        )
        .await?;
        let payload: Option<String> = row.try_get(9)?;
        let Some(payload) = payload else {
            // The event is past retention: nothing is left to send.
            sql::exec(
                tx,
                "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL,
                 lease = NULL, lease_until = NULL, updated_at = $2 WHERE id = $1",
                &[&id, &now.millis()],
            )
            .await?;
            continue;
        };
        let attempts = u32::try_from(row.try_get::<_, i32>(10)?).unwrap_or(0);
        let schedule_from = u32::try_from(row.try_get::<_, i32>(11)?).unwrap_or(0);
        let previous: Option<String> = row.try_get(4)?;
        let until: Option<i64> = row.try_get(5)?;
        claims.push(Claim {
            delivery: id,
            org: OrgId::from_stored(row.try_get(0)?),
            webhook: WebhookId::from_stored(row.try_get(1)?),
            url: row.try_get(2)?,
            secrets: signing_secrets(&row.try_get::<_, String>(3)?, previous.zip(until), now),
            event_id: row.try_get(6)?,
            event_type: row.try_get(7)?,
            seq: sql::count(row.try_get(8)?),
            payload,
            attempt: attempts + 1,
            schedule_attempt: (attempts + 1).saturating_sub(schedule_from),
            by_hand: row.try_get(12)?,
            lease,
        });
    }
    Ok(claims)
}

fn hex_lease() -> Result<String, TxError> {
    let bytes = roster_core::ids::random_bytes::<16>().map_err(|e| StoreError::new("lease", e))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// [`record`] for each attempt, in order, in the caller's transaction.
/// Records a batch of attempts (sorted by [`AttemptResult::sort_for_recording`]): each
/// delivery whose claim still holds, then each endpoint once for all of its attempts.
pub(crate) async fn record_all(
    tx: &Tx<'_>,
    now: Timestamp,
    attempts: &[AttemptResult],
    disable_after_millis: i64,
) -> Result<Vec<bool>, TxError> {
    let mut recorded = Vec::with_capacity(attempts.len());
    for run in attempts
        .chunk_by(|a, b| (&a.claim.org, &a.claim.webhook) == (&b.claim.org, &b.claim.webhook))
    {
        let mut signals = Vec::with_capacity(run.len());
        for a in run {
            let held = record_delivery(tx, now, &a.claim, &a.record, &a.judgement).await?;
            if held {
                signals.push(a.judgement.endpoint);
            }
            recorded.push(held);
        }
        let (org, webhook) = (&run[0].claim.org, &run[0].claim.webhook);
        if signals.is_empty() {
            continue;
        }
        let before = sql::opt(
            tx,
            &format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = $1 AND id = $2 FOR UPDATE"
            ),
            &[&org.as_str(), &webhook.as_str()],
        )
        .await?;
        if let Some(row) = before {
            let before = webhook_from_row(&row)?;
            let (after, events) =
                delivery::endpoint_after_all(&before, signals, now, disable_after_millis);
            if after != before {
                store_state(tx, org, &after).await?;
            }
            if !events.is_empty() {
                crate::events::record(tx, org, events, now).await?;
            }
        }
    }
    Ok(recorded)
}

/// Records one attempt of a delivery, if its claim still holds (`false`: the lease ran
/// out and another claim may have it; nothing is written).
async fn record_delivery(
    tx: &Tx<'_>,
    now: Timestamp,
    claim: &Claim,
    attempt: &AttemptRecord,
    judgement: &Judgement,
) -> Result<bool, TxError> {
    let released = sql::exec(
        tx,
        "UPDATE webhook_deliveries SET status = $4, attempts = $5, next_attempt_at = $6,
         lease = NULL, lease_until = NULL, by_hand = FALSE, updated_at = $7
         WHERE org_id = $1 AND id = $2 AND lease = $3",
        &[
            &claim.org.as_str(),
            &claim.delivery,
            &claim.lease,
            &judgement.status.as_str(),
            &i32::try_from(claim.attempt).unwrap_or(i32::MAX),
            &judgement.next_attempt_at.map(Timestamp::millis),
            &now.millis(),
        ],
    )
    .await?;
    if released == 0 {
        return Ok(false);
    }
    let number = i32::try_from(attempt.number).unwrap_or(i32::MAX);
    sql::exec(
        tx,
        "INSERT INTO webhook_attempts (delivery_id, number, started_at, duration_ms,
         status_code, error_kind, response_head, request_headers)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &claim.delivery,
            &number,
            &attempt.started_at.millis(),
            &attempt.duration_millis,
            &attempt.status_code.map(i32::from),
            &attempt.error_kind.map(ErrorKind::as_str),
            &attempt.response_head,
            &attempt.request_headers.to_string(),
        ],
    )
    .await?;
    Ok(true)
}

const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event_type, event_seq, status,
    attempts, next_attempt_at, created_at, updated_at";

fn delivery_from_row(row: &Row) -> Result<Delivery, TxError> {
    let status: String = row.try_get(5)?;
    Ok(Delivery {
        id: row.try_get(0)?,
        webhook: WebhookId::from_stored(row.try_get(1)?),
        event_id: row.try_get(2)?,
        event_type: row.try_get(3)?,
        seq: sql::count(row.try_get(4)?),
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| sql::undecodable("delivery status", &status))?,
        attempts: u32::try_from(row.try_get::<_, i32>(6)?).unwrap_or(0),
        next_attempt_at: row.try_get::<_, Option<i64>>(7)?.map(Timestamp::from_millis),
        created_at: Timestamp::from_millis(row.try_get(8)?),
        updated_at: Timestamp::from_millis(row.try_get(9)?),
    })
}

pub(crate) async fn list_deliveries<C: GenericClient>(
    c: &C,
    org: &OrgId,
    webhook: &WebhookId,
    query: &DeliveryQuery,
) -> Result<Vec<Delivery>, TxError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
         WHERE org_id = $1 AND webhook_id = $2 AND ($3::text IS NULL OR status = $3)
         AND ($4::bigint IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
    );
    sql::all(
        c,
        &sql,
        &[
            &org.as_str(),
            &webhook.as_str(),
            &query.status.map(DeliveryStatus::as_str),
            &query.before,
            &i64::try_from(query.limit).unwrap_or(i64::MAX),
        ],
    )
    .await?
    .iter()
    .map(delivery_from_row)
    .collect()
}

async fn one_delivery<C: GenericClient>(
    c: &C,
    org: &OrgId,
    webhook: &WebhookId,
    id: i64,
) -> Result<Option<Delivery>, TxError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
         WHERE org_id = $1 AND webhook_id = $2 AND id = $3"
    );
    match sql::opt(c, &sql, &[&org.as_str(), &webhook.as_str(), &id]).await? {
        Some(row) => Ok(Some(delivery_from_row(&row)?)),
        None => Ok(None),
    }
}

pub(crate) async fn delivery_with_attempts<C: GenericClient>(
    c: &C,
    org: &OrgId,
    webhook: &WebhookId,
    id: i64,
) -> Result<Option<(Delivery, Vec<AttemptRecord>)>, TxError> {
    let Some(found) = one_delivery(c, org, webhook, id).await? else { return Ok(None) };
    let mut attempts = Vec::new();
    for row in sql::all(
        c,
        "SELECT number, started_at, duration_ms, status_code, error_kind, response_head,
         request_headers FROM webhook_attempts WHERE delivery_id = $1 ORDER BY number",
        &[&id],
    )
    .await?
    {
        let kind: Option<String> = row.try_get(4)?;
        let headers: String = row.try_get(6)?;
        attempts.push(AttemptRecord {
            number: u32::try_from(row.try_get::<_, i32>(0)?).unwrap_or(0),
            started_at: Timestamp::from_millis(row.try_get(1)?),
            duration_millis: row.try_get(2)?,
            status_code: row.try_get::<_, Option<i32>>(3)?.and_then(|s| u16::try_from(s).ok()),
            error_kind: kind.as_deref().and_then(ErrorKind::parse),
            response_head: row.try_get(5)?,
            request_headers: serde_json::from_str(&headers).unwrap_or_default(),
        });
    }
    Ok(Some((found, attempts)))
}

pub(crate) async fn retry(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    webhook: &WebhookId,
    id: i64,
) -> Result<Delivery, TxError> {
    let found =
        one_delivery(tx, org, webhook, id).await?.ok_or(TxError::Refused(WriteError::NotFound))?;
    let kept = sql::exists(
        tx,
        "SELECT 1 FROM events WHERE org_id = $1 AND seq = $2",
        &[&org.as_str(), &i64::try_from(found.seq).unwrap_or(i64::MAX)],
    )
    .await?;
    if !kept {
        return Err(TxError::Refused(WriteError::Conflict(
            "The delivery's event is past retention; it can no longer be sent.".to_owned(),
        )));
    }
    // A delivery still on its schedule keeps it (the attempt is only brought forward).
    sql::exec(
        tx,
        "UPDATE webhook_deliveries SET by_hand = (status <> 'pending'), status = 'pending',
         next_attempt_at = $3, updated_at = $3 WHERE org_id = $1 AND id = $2",
        &[&org.as_str(), &id, &now.millis()],
    )
    .await?;
    Ok(one_delivery(tx, org, webhook, id).await?.unwrap_or(found))
}

pub(crate) async fn recover(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    webhook: &WebhookId,
    since: Timestamp,
    until: Option<Timestamp>,
) -> Result<u64, TxError> {
    find(tx, org, webhook).await?;
    let changed = sql::exec(
        tx,
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $5,
         schedule_from = attempts, by_hand = FALSE, updated_at = $5
         WHERE org_id = $1 AND webhook_id = $2 AND status IN ('failed', 'exhausted')
         AND created_at >= $3 AND ($4::bigint IS NULL OR created_at < $4)",
        &[
            &org.as_str(),
            &webhook.as_str(),
            &since.millis(),
            &until.map(Timestamp::millis),
            &now.millis(),
        ],
    )
    .await?;
    Ok(sql::count(changed))
}

pub(crate) async fn replay(
    tx: &Tx<'_>,
    now: Timestamp,
    org: &OrgId,
    webhook: &WebhookId,
    after: u64,
) -> Result<u64, TxError> {
    let hook = find(tx, org, webhook).await?;
    let through: i64 = sql::one(
        tx,
        "SELECT stream_seq FROM webhooks WHERE org_id = $1 AND id = $2",
        &[&org.as_str(), &webhook.as_str()],
    )
    .await?
    .try_get(0)?;
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    Ok(enqueue(tx, now, org, &hook, after, through, i64::MAX).await?.0)
}

pub(crate) async fn trim(tx: &Tx<'_>, before: Timestamp) -> Result<u64, TxError> {
    let attempts =
        sql::exec(tx, "DELETE FROM webhook_attempts WHERE started_at < $1", &[&before.millis()])
            .await?;
    let deliveries = sql::exec(
        tx,
        "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND updated_at < $1",
        &[&before.millis()],
    )
    .await?;
    Ok(sql::count(attempts + deliveries))
}
