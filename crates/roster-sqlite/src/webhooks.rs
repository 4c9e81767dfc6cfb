//! Webhook endpoints, deliveries and attempts. Every statement a client's request runs
//! is scoped by `org_id`; what to send, when to retry and when to disable an endpoint is
//! decided in `roster_core::webhooks`.

use std::collections::HashMap;

use roster_core::events;
use roster_core::webhooks::delivery::{self, DueDelivery};
use roster_core::webhooks::{
    AttemptRecord, AttemptResult, Claim, Delivery, DeliveryQuery, DeliveryStatus, DeliveryWork,
    EndpointStatus, ErrorKind, Judgement, NewWebhook, Webhook, WebhookId, WebhookPatch,
    WebhookSecret, signing_secrets,
};
use roster_core::{OrgId, StoreError, Timestamp, WriteError};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::connection::{TxError, WriteTx};
use crate::events::seq;

const WEBHOOK_COLUMNS: &str = "id, url, event_types, description, status, failing_since,
    last_success_at, last_failure_at, previous_secret_expires_at, created_at, updated_at";

fn time(raw: Option<i64>) -> Option<Timestamp> {
    raw.map(Timestamp::from_millis)
}

fn webhook_from_row(row: &Row<'_>) -> rusqlite::Result<Webhook> {
    let types: String = row.get(2)?;
    let status: String = row.get(4)?;
    Ok(Webhook {
        id: WebhookId::from_stored(row.get(0)?),
        url: row.get(1)?,
        event_types: serde_json::from_str(&types).unwrap_or_default(),
        description: row.get(3)?,
        status: EndpointStatus::parse(&status).unwrap_or(EndpointStatus::Disabled),
        failing_since: time(row.get(5)?),
        last_success_at: time(row.get(6)?),
        last_failure_at: time(row.get(7)?),
        previous_secret_expires_at: time(row.get(8)?),
        created_at: Timestamp::from_millis(row.get(9)?),
        updated_at: Timestamp::from_millis(row.get(10)?),
    })
}

fn types_json(types: &[String]) -> String {
    serde_json::Value::from(types.to_vec()).to_string()
}

fn head(conn: &Connection, org: &OrgId) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT event_seq FROM organizations WHERE id = ?1")?
        .query_row([org.as_str()], |row| row.get(0))
        .optional()
}

pub(crate) fn get(
    conn: &Connection,
    org: &OrgId,
    id: &WebhookId,
) -> rusqlite::Result<Option<Webhook>> {
    conn.prepare_cached(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = ?1 AND id = ?2"
    ))?
    .query_row([org.as_str(), id.as_str()], webhook_from_row)
    .optional()
}

fn find(tx: &WriteTx<'_>, org: &OrgId, id: &WebhookId) -> Result<Webhook, TxError> {
    get(tx, org, id)?.ok_or(TxError::Refused(WriteError::NotFound))
}

pub(crate) fn list(conn: &Connection, org: &OrgId) -> rusqlite::Result<Vec<Webhook>> {
    conn.prepare_cached(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = ?1 ORDER BY created_at, id"
    ))?
    .query_map([org.as_str()], webhook_from_row)?
    .collect()
}

pub(crate) fn secrets(
    conn: &Connection,
    org: &OrgId,
    id: &WebhookId,
    now: Timestamp,
) -> rusqlite::Result<Option<Vec<WebhookSecret>>> {
    conn.prepare_cached(
        "SELECT secret, previous_secret, previous_secret_expires_at FROM webhooks
         WHERE org_id = ?1 AND id = ?2",
    )?
    .query_row([org.as_str(), id.as_str()], |row| {
        let previous: Option<String> = row.get(1)?;
        let until: Option<i64> = row.get(2)?;
        Ok(signing_secrets(&row.get::<_, String>(0)?, previous.zip(until), now))
    })
    .optional()
}

pub(crate) fn create(
    tx: &WriteTx<'_>,
    org: &OrgId,
    new: &NewWebhook,
    secret: &WebhookSecret,
    max_per_org: usize,
) -> Result<Webhook, TxError> {
    head(tx, org)?.ok_or(TxError::Refused(WriteError::NotFound))?;
    let count: i64 = tx
        .prepare_cached("SELECT count(*) FROM webhooks WHERE org_id = ?1")?
        .query_row([org.as_str()], |row| row.get(0))?;
    if usize::try_from(count).unwrap_or(usize::MAX) >= max_per_org {
        return Err(TxError::Refused(WriteError::Conflict(format!(
            "An organization may have at most {max_per_org} webhook endpoints."
        ))));
    }
    let id = WebhookId::generate().map_err(|e| StoreError::new("webhook id", e))?;
    let now = tx.now();
    let status = if new.enabled { EndpointStatus::Enabled } else { EndpointStatus::Disabled };
    tx.prepare_cached(
        "INSERT INTO webhooks (id, org_id, url, event_types, description, status, secret,
         stream_seq, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8)",
    )?
    .execute(params![
        id.as_str(),
        org.as_str(),
        new.url.as_str(),
        types_json(&new.event_types),
        new.description,
        status.as_str(),
        secret.expose(),
        now.millis(),
    ])?;
    let created = find(tx, org, &id)?;
    crate::events::record(tx, org, vec![events::webhook_created(&created)], now)?;
    follow_from_head(tx, org, &id)?;
    Ok(created)
}

/// The endpoint looks at the stream from its head now on (nothing earlier is sent).
fn follow_from_head(tx: &WriteTx<'_>, org: &OrgId, id: &WebhookId) -> Result<(), TxError> {
    tx.prepare_cached(
        "UPDATE webhooks SET stream_seq = (SELECT event_seq FROM organizations WHERE id = ?1)
         WHERE org_id = ?1 AND id = ?2",
    )?
    .execute([org.as_str(), id.as_str()])?;
    Ok(())
}

/// Writes an endpoint's state (never its secret or place in the stream).
fn store_state(tx: &WriteTx<'_>, org: &OrgId, hook: &Webhook) -> Result<(), TxError> {
    tx.prepare_cached(
        "UPDATE webhooks SET url = ?3, event_types = ?4, description = ?5, status = ?6,
         failing_since = ?7, last_success_at = ?8, last_failure_at = ?9, updated_at = ?10
         WHERE org_id = ?1 AND id = ?2",
    )?
    .execute(params![
        org.as_str(),
        hook.id.as_str(),
        hook.url,
        types_json(&hook.event_types),
        hook.description,
        hook.status.as_str(),
        hook.failing_since.map(Timestamp::millis),
        hook.last_success_at.map(Timestamp::millis),
        hook.last_failure_at.map(Timestamp::millis),
        hook.updated_at.millis(),
    ])?;
    Ok(())
}

pub(crate) fn update(
    tx: &WriteTx<'_>,
    org: &OrgId,
    id: &WebhookId,
    patch: &WebhookPatch,
) -> Result<Webhook, TxError> {
    let before = find(tx, org, id)?;
    let after = patch.apply(&before, tx.now());
    if after == before {
        return Ok(before);
    }
    store_state(tx, org, &after)?;
    if let Some(draft) = events::webhook_changed(&before, &after) {
        crate::events::record(tx, org, vec![draft], tx.now())?;
    }
    if before.status != EndpointStatus::Enabled && after.status == EndpointStatus::Enabled {
        follow_from_head(tx, org, id)?;
    }
    Ok(after)
}

pub(crate) fn delete(tx: &WriteTx<'_>, org: &OrgId, id: &WebhookId) -> Result<(), TxError> {
    let before = find(tx, org, id)?;
    tx.prepare_cached("DELETE FROM webhooks WHERE org_id = ?1 AND id = ?2")?
        .execute([org.as_str(), id.as_str()])?;
    crate::events::record(tx, org, vec![events::webhook_deleted(&before)], tx.now())?;
    Ok(())
}

pub(crate) fn rotate(
    tx: &WriteTx<'_>,
    org: &OrgId,
    id: &WebhookId,
    secret: &WebhookSecret,
    previous_until: Timestamp,
) -> Result<Webhook, TxError> {
    let before = find(tx, org, id)?;
    tx.prepare_cached(
        "UPDATE webhooks SET previous_secret = secret, previous_secret_expires_at = ?3,
         secret = ?4, updated_at = ?5 WHERE org_id = ?1 AND id = ?2",
    )?
    .execute(params![
        org.as_str(),
        id.as_str(),
        previous_until.millis(),
        secret.expose(),
        tx.now().millis()
    ])?;
    let after = find(tx, org, id)?;
    if let Some(draft) = events::webhook_changed(&before, &after) {
        crate::events::record(tx, org, vec![draft], tx.now())?;
    }
    Ok(after)
}

/// Inserts a delivery, due now, of each event of `org` in (after, through] that `hook`
/// wants; answers how many, and the last seq looked at.
fn enqueue(
    tx: &WriteTx<'_>,
    org: &OrgId,
    hook: &Webhook,
    after: i64,
    through: i64,
    limit: i64,
) -> Result<(u64, i64), TxError> {
    let now = tx.now().millis();
    let events: Vec<(i64, String, String, String, String)> = tx
        .prepare_cached(
            "SELECT seq, id, type, subject_type, subject_id FROM events
             WHERE org_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq LIMIT ?4",
        )?
        .query_map(params![org.as_str(), after, through, limit], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO webhook_deliveries (org_id, webhook_id, event_seq, event_id, event_type,
         status, next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, ?6)",
    )?;
    let mut made = 0;
    for (seq, id, kind, subject_type, subject_id) in &events {
        if hook.wants(kind, subject_type, subject_id) {
            insert.execute(params![org.as_str(), hook.id.as_str(), seq, id, kind, now])?;
            made += 1;
        }
    }
    let looked_through = match events.last() {
        Some((last, ..)) if events.len() as i64 >= limit => *last,
        _ => through,
    };
    Ok((made, looked_through))
}

pub(crate) fn work(conn: &Connection, now: Timestamp) -> rusqlite::Result<DeliveryWork> {
    // The earliest unclaimed delivery, whether or not its endpoint has room now: a
    // finishing attempt wakes the deliverer, so a full endpoint costs no polling (and a
    // room check per row here cost a scan of the whole backlog per look).
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM webhooks w JOIN organizations o ON o.id = w.org_id
                WHERE w.status = 'enabled' AND w.stream_seq < o.event_seq),
            (SELECT d.next_attempt_at FROM webhook_deliveries d
                JOIN webhooks w ON w.id = d.webhook_id
                WHERE d.next_attempt_at IS NOT NULL
                AND (d.lease IS NULL OR d.lease_until <= ?1)
                AND (w.status = 'enabled' OR d.by_hand = 1)
                ORDER BY d.next_attempt_at LIMIT 1)",
    )?
    .query_row(params![now.millis()], |row| {
        Ok(DeliveryWork { behind: row.get(0)?, next_due: time(row.get(1)?) })
    })
}

pub(crate) fn dispatch(tx: &WriteTx<'_>, limit: u64) -> Result<u64, TxError> {
    let behind: Vec<(OrgId, WebhookId, i64, i64)> = tx
        .prepare_cached(
            "SELECT w.org_id, w.id, w.stream_seq, o.event_seq FROM webhooks w
             JOIN organizations o ON o.id = w.org_id
             WHERE w.status = 'enabled' AND w.stream_seq < o.event_seq",
        )?
        .query_map([], |row| {
            Ok((
                OrgId::from_stored(row.get(0)?),
                WebhookId::from_stored(row.get(1)?),
                row.get(2)?,
                row.get(3)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut made = 0;
    for (org, id, after, head) in behind {
        let Some(hook) = get(tx, &org, &id)? else { continue };
        let (count, through) = enqueue(tx, &org, &hook, after, head, limit)?;
        tx.prepare_cached("UPDATE webhooks SET stream_seq = ?3 WHERE org_id = ?1 AND id = ?2")?
            .execute(params![org.as_str(), id.as_str(), through])?;
        made += count;
    }
    Ok(made)
}

pub(crate) fn claim(tx: &WriteTx<'_>, max: usize) -> Result<Vec<Claim>, TxError> {
    let now = tx.now();
    let per_endpoint = i64::try_from(delivery::MAX_IN_FLIGHT_PER_ENDPOINT).unwrap_or(i64::MAX);
    // The oldest few due deliveries of every endpoint (one index range each), oldest
    // first overall: one endpoint's backlog cannot fill the candidates while another
    // endpoint with room waits behind it.
    let due: Vec<DueDelivery> = tx
        .prepare_cached(
            "SELECT d.id, d.webhook_id FROM webhooks w
             JOIN webhook_deliveries d ON d.id IN (
                 SELECT x.id FROM webhook_deliveries x
                 WHERE x.webhook_id = w.id AND x.next_attempt_at <= ?1
                 AND (x.lease IS NULL OR x.lease_until <= ?1)
                 AND (w.status = 'enabled' OR x.by_hand = 1)
                 ORDER BY x.next_attempt_at, x.id LIMIT ?2)
             ORDER BY d.next_attempt_at, d.id",
        )?
        .query_map(params![now.millis(), per_endpoint], |row| {
            Ok(DueDelivery { id: row.get(0)?, webhook: WebhookId::from_stored(row.get(1)?) })
        })?
        .collect::<rusqlite::Result<_>>()?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let in_flight: HashMap<WebhookId, usize> = tx
        .prepare_cached(
            "SELECT webhook_id, count(*) FROM webhook_deliveries
             WHERE lease IS NOT NULL AND lease_until > ?1 GROUP BY webhook_id",
        )?
        .query_map([now.millis()], |row| {
            Ok((WebhookId::from_stored(row.get(0)?), row.get::<_, i64>(1)?.unsigned_abs() as usize))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let lease_until = now.millis().saturating_add(delivery::LEASE_MILLIS);
    let mut claims = Vec::new();
    for id in delivery::pick_claims(&due, &in_flight, max) {
        let lease = hex::encode(
            roster_core::ids::random_bytes::<16>().map_err(|e| StoreError::new("lease", e))?,
        );
        tx.prepare_cached(
            "UPDATE webhook_deliveries SET lease = ?2, lease_until = ?3 WHERE id = ?1",
        )?
        .execute(params![id, lease, lease_until])?;
        let claimed = tx
            .prepare_cached(
                "SELECT d.org_id, d.webhook_id, w.url, w.secret, w.previous_secret,
                 w.previous_secret_expires_at, d.event_id, d.event_type, d.event_seq,
                 e.payload, d.attempts, d.schedule_from, d.by_hand
                 FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                 LEFT JOIN events e ON e.org_id = d.org_id AND e.seq = d.event_seq
                 WHERE d.id = ?1",
            )?
            .query_row([id], |row| {
                let payload: Option<String> = row.get(9)?;
                let attempts: u32 = row.get(10)?;
                let schedule_from: u32 = row.get(11)?;
                let previous: Option<String> = row.get(4)?;
                let until: Option<i64> = row.get(5)?;
                let secret: String = row.get(3)?;
                let claim = Claim {
                    delivery: id,
                    org: OrgId::from_stored(row.get(0)?),
                    webhook: WebhookId::from_stored(row.get(1)?),
                    url: row.get(2)?,
                    secrets: signing_secrets(&secret, previous.zip(until), now),
                    event_id: row.get(6)?,
                    event_type: row.get(7)?,
                    seq: seq(row.get(8)?),
                    payload: String::new(),
                    attempt: attempts + 1,
                    schedule_attempt: (attempts + 1).saturating_sub(schedule_from),
                    by_hand: row.get(12)?,
                    lease: lease.clone(),
                };
                Ok(payload.map(|payload| Claim { payload, ..claim }))
            })?;
        match claimed {
            Some(claim) => claims.push(claim),
            // The event is past retention: nothing is left to send.
            None => {
                tx.prepare_cached(
                    "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL,
                     lease = NULL, lease_until = NULL, updated_at = ?2 WHERE id = ?1",
                )?
                .execute(params![id, now.millis()])?;
            }
        }
    }
    Ok(claims)
}

/// Records a batch of attempts (sorted by [`AttemptResult::sort_for_recording`]): each
/// delivery whose claim still holds, then each endpoint once for all of its attempts.
pub(crate) fn record_all(
    tx: &WriteTx<'_>,
    attempts: &[AttemptResult],
    disable_after_millis: i64,
) -> Result<Vec<bool>, TxError> {
    let now = tx.now();
    let mut recorded = Vec::with_capacity(attempts.len());
    for run in attempts
        .chunk_by(|a, b| (&a.claim.org, &a.claim.webhook) == (&b.claim.org, &b.claim.webhook))
    {
        let mut signals = Vec::with_capacity(run.len());
        for a in run {
            let held = record_delivery(tx, now, &a.claim, &a.record, &a.judgement)?;
            if held {
                signals.push(a.judgement.endpoint);
            }
            recorded.push(held);
        }
        let (org, webhook) = (&run[0].claim.org, &run[0].claim.webhook);
        if signals.is_empty() {
            continue;
        }
        if let Some(before) = get(tx, org, webhook)? {
            let (after, events) =
                delivery::endpoint_after_all(&before, signals, now, disable_after_millis);
            if after != before {
                store_state(tx, org, &after)?;
            }
            if !events.is_empty() {
                crate::events::record(tx, org, events, now)?;
            }
        }
    }
    Ok(recorded)
}

/// Records one attempt of a delivery, if its claim still holds (`false`: the lease ran
/// out and another claim may have it; nothing is written).
fn record_delivery(
    tx: &WriteTx<'_>,
    now: Timestamp,
    claim: &Claim,
    attempt: &AttemptRecord,
    judgement: &Judgement,
) -> Result<bool, TxError> {
    let released = tx
        .prepare_cached(
            "UPDATE webhook_deliveries SET status = ?4, attempts = ?5, next_attempt_at = ?6,
             lease = NULL, lease_until = NULL, by_hand = 0, updated_at = ?7
             WHERE org_id = ?1 AND id = ?2 AND lease = ?3",
        )?
        .execute(params![
            claim.org.as_str(),
            claim.delivery,
            claim.lease,
            judgement.status.as_str(),
            claim.attempt,
            judgement.next_attempt_at.map(Timestamp::millis),
            now.millis(),
        ])?;
    if released == 0 {
        return Ok(false);
    }
    tx.prepare_cached(
        "INSERT INTO webhook_attempts (delivery_id, number, started_at, duration_ms,
         status_code, error_kind, response_head, request_headers)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        claim.delivery,
        attempt.number,
        attempt.started_at.millis(),
        attempt.duration_millis,
        attempt.status_code,
        attempt.error_kind.map(ErrorKind::as_str),
        attempt.response_head,
        attempt.request_headers.to_string(),
    ])?;
    Ok(true)
}

const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event_type, event_seq, status,
    attempts, next_attempt_at, created_at, updated_at";

fn delivery_from_row(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    let status: String = row.get(5)?;
    Ok(Delivery {
        id: row.get(0)?,
        webhook: WebhookId::from_stored(row.get(1)?),
        event_id: row.get(2)?,
        event_type: row.get(3)?,
        seq: seq(row.get(4)?),
        status: DeliveryStatus::parse(&status).unwrap_or(DeliveryStatus::Failed),
        attempts: row.get(6)?,
        next_attempt_at: time(row.get(7)?),
        created_at: Timestamp::from_millis(row.get(8)?),
        updated_at: Timestamp::from_millis(row.get(9)?),
    })
}

pub(crate) fn list_deliveries(
    conn: &Connection,
    org: &OrgId,
    webhook: &WebhookId,
    query: &DeliveryQuery,
) -> rusqlite::Result<Vec<Delivery>> {
    conn.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
         WHERE org_id = ?1 AND webhook_id = ?2 AND (?3 IS NULL OR status = ?3)
         AND (?4 IS NULL OR id < ?4) ORDER BY id DESC LIMIT ?5"
    ))?
    .query_map(
        params![
            org.as_str(),
            webhook.as_str(),
            query.status.map(DeliveryStatus::as_str),
            query.before,
            i64::try_from(query.limit).unwrap_or(i64::MAX),
        ],
        delivery_from_row,
    )?
    .collect()
}

fn one_delivery(
    conn: &Connection,
    org: &OrgId,
    webhook: &WebhookId,
    id: i64,
) -> rusqlite::Result<Option<Delivery>> {
    conn.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
         WHERE org_id = ?1 AND webhook_id = ?2 AND id = ?3"
    ))?
    .query_row(params![org.as_str(), webhook.as_str(), id], delivery_from_row)
    .optional()
}

pub(crate) fn delivery_with_attempts(
    conn: &Connection,
    org: &OrgId,
    webhook: &WebhookId,
    id: i64,
) -> rusqlite::Result<Option<(Delivery, Vec<AttemptRecord>)>> {
    let Some(found) = one_delivery(conn, org, webhook, id)? else { return Ok(None) };
    let attempts = conn
        .prepare_cached(
            "SELECT number, started_at, duration_ms, status_code, error_kind, response_head,
             request_headers FROM webhook_attempts WHERE delivery_id = ?1 ORDER BY number",
        )?
        .query_map([id], |row| {
            let kind: Option<String> = row.get(4)?;
            let headers: String = row.get(6)?;
            Ok(AttemptRecord {
                number: row.get(0)?,
                started_at: Timestamp::from_millis(row.get(1)?),
                duration_millis: row.get(2)?,
                status_code: row.get(3)?,
                error_kind: kind.as_deref().and_then(ErrorKind::parse),
                response_head: row.get(5)?,
                request_headers: serde_json::from_str(&headers).unwrap_or_default(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some((found, attempts)))
}

pub(crate) fn retry(
    tx: &WriteTx<'_>,
    org: &OrgId,
    webhook: &WebhookId,
    id: i64,
) -> Result<Delivery, TxError> {
    let found =
        one_delivery(tx, org, webhook, id)?.ok_or(TxError::Refused(WriteError::NotFound))?;
    let kept: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM events WHERE org_id = ?1 AND seq = ?2)")?
        .query_row(params![org.as_str(), i64::try_from(found.seq).unwrap_or(i64::MAX)], |row| {
            row.get(0)
        })?;
    if !kept {
        return Err(TxError::Refused(WriteError::Conflict(
            "The delivery's event is past retention; it can no longer be sent.".to_owned(),
        )));
    }
    let now = tx.now().millis();
    // A delivery still on its schedule keeps it (the attempt is only brought forward).
    tx.prepare_cached(
        "UPDATE webhook_deliveries SET by_hand = (status != 'pending'), status = 'pending',
         next_attempt_at = ?3, updated_at = ?3 WHERE org_id = ?1 AND id = ?2",
    )?
    .execute(params![org.as_str(), id, now])?;
    Ok(one_delivery(tx, org, webhook, id)?.unwrap_or(found))
}

pub(crate) fn recover(
    tx: &WriteTx<'_>,
    org: &OrgId,
    webhook: &WebhookId,
    since: Timestamp,
    until: Option<Timestamp>,
) -> Result<u64, TxError> {
    find(tx, org, webhook)?;
    let now = tx.now().millis();
    let changed = tx
        .prepare_cached(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?5,
             schedule_from = attempts, by_hand = 0, updated_at = ?5
             WHERE org_id = ?1 AND webhook_id = ?2 AND status IN ('failed', 'exhausted')
             AND created_at >= ?3 AND (?4 IS NULL OR created_at < ?4)",
        )?
        .execute(params![
            org.as_str(),
            webhook.as_str(),
            since.millis(),
            until.map(Timestamp::millis),
            now
        ])?;
    Ok(changed as u64)
}

pub(crate) fn replay(
    tx: &WriteTx<'_>,
    org: &OrgId,
    webhook: &WebhookId,
    after: u64,
) -> Result<u64, TxError> {
    let hook = find(tx, org, webhook)?;
    let through: i64 = tx
        .prepare_cached("SELECT stream_seq FROM webhooks WHERE org_id = ?1 AND id = ?2")?
        .query_row([org.as_str(), webhook.as_str()], |row| row.get(0))?;
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    Ok(enqueue(tx, org, &hook, after, through, i64::MAX)?.0)
}

pub(crate) fn trim(tx: &WriteTx<'_>, before: Timestamp) -> Result<u64, TxError> {
    let attempts = tx
        .prepare_cached("DELETE FROM webhook_attempts WHERE started_at < ?1")?
        .execute([before.millis()])?;
    let deliveries = tx
        .prepare_cached(
            "DELETE FROM webhook_deliveries WHERE status != 'pending' AND updated_at < ?1",
        )?
        .execute([before.millis()])?;
    Ok((attempts + deliveries) as u64)
}
