//! The change stream's storage: each write's events in its own transaction, and the
//! reads of the feed and the audit log. Every statement is scoped by `org_id`.

use roster_core::events::{self, AuditQuery, EventDraft, StoredEvent, StreamBounds, StreamPage};
use roster_core::{OrgId, StoreError, Timestamp, WriteError};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::connection::{TxError, WriteTx};

/// Stores `drafts` as the org's next events, in the write's transaction (the single
/// writer makes the seqs gap-free and in commit order).
pub(crate) fn record(
    tx: &WriteTx<'_>,
    org: &OrgId,
    drafts: Vec<EventDraft>,
    now: Timestamp,
) -> Result<(), TxError> {
    if drafts.is_empty() {
        return Ok(());
    }
    // One statement takes the seqs and moves the org's counter past them.
    let count = i64::try_from(drafts.len()).unwrap_or(i64::MAX);
    let last: i64 = tx
        .prepare_cached(
            "UPDATE organizations SET event_seq = event_seq + ?2 WHERE id = ?1 RETURNING event_seq",
        )?
        .query_row(params![org.as_str(), count], |row| row.get(0))
        .optional()?
        .ok_or(TxError::Refused(WriteError::NotFound))?;
    let head = last - count;
    let sealed = events::seal(drafts, org, head.max(0).unsigned_abs(), tx.origin(), now)
        .map_err(|e| StoreError::new("seal events", e))?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO events (org_id, seq, id, type, subject_type, subject_id, actor_id,
         token_id, request_id, created_at, payload, context)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    for event in &sealed {
        insert.execute(params![
            org.as_str(),
            i64::try_from(event.seq).unwrap_or(i64::MAX),
            event.id,
            event.kind.as_str(),
            event.subject_type,
            event.subject_id,
            event.actor_id,
            event.token_id,
            event.request_id,
            event.created_at.millis(),
            event.payload,
            event.context,
        ])?;
    }
    Ok(())
}

pub(crate) fn seq(raw: i64) -> u64 {
    raw.max(0).unsigned_abs()
}

pub(crate) fn bounds(conn: &Connection, org: &OrgId) -> rusqlite::Result<Option<StreamBounds>> {
    conn.prepare_cached(
        "SELECT event_seq, events_trimmed_through FROM organizations WHERE id = ?1",
    )?
    .query_row([org.as_str()], |row| {
        Ok(StreamBounds { head: seq(row.get(0)?), trimmed_through: seq(row.get(1)?) })
    })
    .optional()
}

/// The org's stream head, for a listing's `Roster-Cursor` (0 for no such org).
pub(crate) fn head(conn: &Connection, org: &OrgId) -> rusqlite::Result<u64> {
    Ok(bounds(conn, org)?.map_or(0, |b| b.head))
}

/// The org's stream head, and the earliest instant one of its memberships ends (which
/// changes answers without a write).
pub(crate) fn head_and_next_expiry(
    conn: &Connection,
    org: &OrgId,
) -> rusqlite::Result<(u64, Option<roster_core::Timestamp>)> {
    let next: Option<i64> = conn
        .prepare_cached(
            "SELECT min(next_expiry) FROM groups WHERE org_id = ?1 AND next_expiry IS NOT NULL",
        )?
        .query_row([org.as_str()], |row| row.get(0))?;
    Ok((head(conn, org)?, next.map(roster_core::Timestamp::from_millis)))
}

fn stored_from_row(row: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        seq: seq(row.get(0)?),
        kind: row.get(1)?,
        payload: row.get(2)?,
        context: row.get(3)?,
    })
}

/// `types` as the JSON array the type filter binds (NULL: every type).
fn types_json(types: &[&'static str]) -> Option<String> {
    (!types.is_empty()).then(|| serde_json::Value::from(types.to_vec()).to_string())
}

pub(crate) fn read_stream(
    conn: &Connection,
    org: &OrgId,
    after: u64,
    limit: u64,
    types: &[&'static str],
    scan: u64,
) -> rusqlite::Result<StreamPage> {
    let bounds = bounds(conn, org)?.unwrap_or_default();
    let after_i = i64::try_from(after).unwrap_or(i64::MAX);
    // The scan stops at `scan` events past `after` (or at the head), matching or not.
    let scan_end = after.saturating_add(scan).min(bounds.head);
    let scan_end_i = i64::try_from(scan_end).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(
        "SELECT seq, type, payload, context FROM events
         WHERE org_id = ?1 AND seq > ?2 AND seq <= ?3
         AND (?4 IS NULL OR type IN (SELECT value FROM json_each(?4)))
         ORDER BY seq LIMIT ?5",
    )?;
    let events = stmt
        .query_map(
            params![
                org.as_str(),
                after_i,
                scan_end_i,
                types_json(types),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            stored_from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // A full page ends at its last event; otherwise everything up to the scan's end
    // was looked at.
    let scanned_through = match events.last() {
        Some(last) if events.len() as u64 >= limit => last.seq,
        _ => scan_end.max(after),
    };
    Ok(StreamPage { events, scanned_through, bounds })
}

pub(crate) fn audit_log(
    conn: &Connection,
    org: &OrgId,
    query: &AuditQuery,
) -> rusqlite::Result<Vec<StoredEvent>> {
    let order = if query.newest_first { "DESC" } else { "ASC" };
    let from = if query.newest_first { "seq < ?2" } else { "seq > ?2" };
    let sql = format!(
        "SELECT seq, type, payload, context FROM events
         WHERE org_id = ?1 AND {from}
         AND (?3 IS NULL OR actor_id = ?3) AND (?4 IS NULL OR token_id = ?4)
         AND (?5 IS NULL OR type IN (SELECT value FROM json_each(?5)))
         AND (?6 IS NULL OR subject_type = ?6) AND (?7 IS NULL OR subject_id = ?7)
         AND (?8 IS NULL OR request_id = ?8)
         AND (?9 IS NULL OR created_at >= ?9) AND (?10 IS NULL OR created_at < ?10)
         ORDER BY seq {order} LIMIT ?11"
    );
    let start = match (query.from_seq, query.newest_first) {
        (Some(seq), _) => i64::try_from(seq).unwrap_or(i64::MAX),
        (None, true) => i64::MAX,
        (None, false) => 0,
    };
    let values: [Value; 11] = [
        Value::Text(org.as_str().to_owned()),
        Value::Integer(start),
        query.actor_id.map_or(Value::Null, Value::Integer),
        query.token_id.map_or(Value::Null, Value::Integer),
        types_json(&query.types).map_or(Value::Null, Value::Text),
        query.subject_type.clone().map_or(Value::Null, Value::Text),
        query.subject_id.clone().map_or(Value::Null, Value::Text),
        query.request_id.clone().map_or(Value::Null, Value::Text),
        query.since.map_or(Value::Null, |t| Value::Integer(t.millis())),
        query.until.map_or(Value::Null, |t| Value::Integer(t.millis())),
        Value::Integer(i64::try_from(query.limit).unwrap_or(i64::MAX)),
    ];
    conn.prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(values), stored_from_row)?
        .collect()
}

/// Drops events older than `before`, org by org, recording how far each was trimmed.
/// Each org's events are walked from its oldest (seqs follow time), so the cost is that
/// of the events dropped, and no index on time is kept up on every write.
pub(crate) fn trim(tx: &WriteTx<'_>, before: Timestamp) -> Result<u64, TxError> {
    let orgs: Vec<(String, i64)> = tx
        .prepare_cached(
            "SELECT id, event_seq FROM organizations WHERE event_seq > events_trimmed_through",
        )?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut dropped = 0;
    for (org, head) in orgs {
        let first_kept: Option<i64> = tx
            .prepare_cached(
                "SELECT seq FROM events WHERE org_id = ?1 AND created_at >= ?2 ORDER BY seq LIMIT 1",
            )?
            .query_row(params![org, before.millis()], |row| row.get(0))
            .optional()?;
        let through = first_kept.map_or(head, |seq| seq - 1);
        let removed = tx
            .prepare_cached("DELETE FROM events WHERE org_id = ?1 AND seq <= ?2")?
            .execute(params![org, through])?;
        if removed == 0 {
            continue;
        }
        dropped += removed as u64;
        tx.prepare_cached(
            "UPDATE organizations SET events_trimmed_through = max(events_trimmed_through, ?2)
             WHERE id = ?1",
        )?
        .execute(params![org, through])?;
    }
    Ok(dropped)
}
