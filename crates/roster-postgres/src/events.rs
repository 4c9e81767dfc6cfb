//! The change stream's storage: each write's events in its own transaction, and the
//! reads of the feed and the audit log. Every statement is scoped by `org_id`.

use deadpool_postgres::GenericClient;
use roster_core::events::{
    self, AuditQuery, EventDraft, Origin, StoredEvent, StreamBounds, StreamPage,
};
use roster_core::{OrgId, StoreError, Timestamp, WriteError};
use tokio_postgres::Row;

use crate::sql::{self, Tx, TxError};

/// The channel other instances LISTEN on; the payload is the org's id.
pub(crate) const CHANNEL: &str = "roster_events";

/// Stores `drafts` as the org's next events, in the write's transaction. The counter's
/// row lock, taken here and held until commit, orders the org's writes: seqs are
/// gap-free and in commit order. The NOTIFY is delivered when (and only if) it commits.
pub(crate) async fn record(
    tx: &Tx<'_>,
    org: &OrgId,
    drafts: Vec<EventDraft>,
    now: Timestamp,
) -> Result<(), TxError> {
    if drafts.is_empty() {
        return Ok(());
    }
    let count = i64::try_from(drafts.len()).unwrap_or(i64::MAX);
    let last: i64 = sql::opt(
        tx,
        "UPDATE organizations SET event_seq = event_seq + $2 WHERE id = $1 RETURNING event_seq",
        &[&org.as_str(), &count],
    )
    .await?
    .ok_or(TxError::Refused(WriteError::NotFound))?
    .try_get(0)?;
    let head = sql::count(last - count);
    let sealed = events::seal(drafts, org, head, &Origin::current(), now)
        .map_err(|e| StoreError::new("seal events", e))?;
    for event in &sealed {
        sql::exec(
            tx,
            "INSERT INTO events (org_id, seq, id, type, subject_type, subject_id, actor_id,
             token_id, request_id, created_at, payload, context)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &org.as_str(),
                &i64::try_from(event.seq).unwrap_or(i64::MAX),
                &event.id,
                &event.kind.as_str(),
                &event.subject_type,
                &event.subject_id,
                &event.actor_id,
                &event.token_id,
                &event.request_id,
                &event.created_at.millis(),
                &event.payload,
                &event.context,
            ],
        )
        .await?;
    }
    sql::exec(tx, "SELECT pg_notify($1, $2)", &[&CHANNEL, &org.as_str()]).await?;
    Ok(())
}

pub(crate) async fn bounds<C: GenericClient>(
    c: &C,
    org: &OrgId,
) -> Result<Option<StreamBounds>, TxError> {
    sql::opt(
        c,
        "SELECT event_seq, events_trimmed_through FROM organizations WHERE id = $1",
        &[&org.as_str()],
    )
    .await?
    .map(|row| {
        Ok(StreamBounds {
            head: sql::count(row.try_get(0)?),
            trimmed_through: sql::count(row.try_get(1)?),
        })
    })
    .transpose()
}

/// The org's stream head, for a listing's `Roster-Cursor` (0 for no such org).
pub(crate) async fn head<C: GenericClient>(c: &C, org: &OrgId) -> Result<u64, TxError> {
    Ok(bounds(c, org).await?.map_or(0, |b| b.head))
}

/// The org's stream head, and the earliest instant one of its memberships ends (which
/// changes answers without a write), in one statement.
pub(crate) async fn head_and_next_expiry<C: GenericClient>(
    c: &C,
    org: &OrgId,
) -> Result<(u64, Option<Timestamp>), TxError> {
    let row = sql::opt(
        c,
        "SELECT o.event_seq, (SELECT min(g.next_expiry) FROM groups g
                              WHERE g.org_id = o.id AND g.next_expiry IS NOT NULL)
         FROM organizations o WHERE o.id = $1",
        &[&org.as_str()],
    )
    .await?;
    let Some(row) = row else { return Ok((0, None)) };
    let next: Option<i64> = row.try_get(1)?;
    Ok((sql::count(row.try_get(0)?), next.map(Timestamp::from_millis)))
}

/// The heads and next membership ends of the orgs `ids` that exist, in one statement.
pub(crate) async fn heads<C: GenericClient>(
    c: &C,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, roster_core::store::OrgHead>, TxError> {
    let rows = sql::all(
        c,
        "SELECT o.id, o.event_seq, (SELECT min(g.next_expiry) FROM groups g
                                    WHERE g.org_id = o.id AND g.next_expiry IS NOT NULL)
         FROM organizations o WHERE o.id = ANY($1)",
        &[&ids],
    )
    .await?;
    let mut heads = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        let head = roster_core::store::OrgHead {
            head: sql::count(row.try_get(1)?),
            next_expiry: row.try_get::<_, Option<i64>>(2)?.map(Timestamp::from_millis),
        };
        heads.insert(row.try_get(0)?, head);
    }
    Ok(heads)
}

fn stored_from_row(row: &Row) -> Result<StoredEvent, TxError> {
    Ok(StoredEvent {
        seq: sql::count(row.try_get(0)?),
        kind: row.try_get(1)?,
        payload: row.try_get(2)?,
        context: row.try_get(3)?,
    })
}

fn seq(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) async fn read_stream<C: GenericClient>(
    c: &C,
    org: &OrgId,
    after: u64,
    limit: u64,
    types: &[&'static str],
    scan: u64,
) -> Result<StreamPage, TxError> {
    let bounds = bounds(c, org).await?.unwrap_or_default();
    let scan_end = after.saturating_add(scan).min(bounds.head);
    let types: Option<Vec<&str>> = (!types.is_empty()).then(|| types.to_vec());
    let events = sql::all(
        c,
        "SELECT seq, type, payload, context FROM events
         WHERE org_id = $1 AND seq > $2 AND seq <= $3
         AND ($4::text[] IS NULL OR type = ANY($4))
         ORDER BY seq LIMIT $5",
        &[&org.as_str(), &seq(after), &seq(scan_end), &types, &seq(limit)],
    )
    .await?
    .iter()
    .map(stored_from_row)
    .collect::<Result<Vec<_>, _>>()?;
    let scanned_through = match events.last() {
        Some(last) if events.len() as u64 >= limit => last.seq,
        _ => scan_end.max(after),
    };
    Ok(StreamPage { events, scanned_through, bounds })
}

pub(crate) async fn audit_log<C: GenericClient>(
    c: &C,
    org: &OrgId,
    query: &AuditQuery,
) -> Result<Vec<StoredEvent>, TxError> {
    let (order, from) = if query.newest_first { ("DESC", "seq < $2") } else { ("ASC", "seq > $2") };
    let sql = format!(
        "SELECT seq, type, payload, context FROM events
         WHERE org_id = $1 AND {from}
         AND ($3::bigint IS NULL OR actor_id = $3) AND ($4::bigint IS NULL OR token_id = $4)
         AND ($5::text[] IS NULL OR type = ANY($5))
         AND ($6::text IS NULL OR subject_type = $6) AND ($7::text IS NULL OR subject_id = $7)
         AND ($8::text IS NULL OR request_id = $8)
         AND ($9::bigint IS NULL OR created_at >= $9) AND ($10::bigint IS NULL OR created_at < $10)
         ORDER BY seq {order} LIMIT $11"
    );
    let start = match (query.from_seq, query.newest_first) {
        (Some(from), _) => seq(from),
        (None, true) => i64::MAX,
        (None, false) => 0,
    };
    let types: Option<Vec<&str>> = (!query.types.is_empty()).then(|| query.types.clone());
    sql::all(
        c,
        &sql,
        &[
            &org.as_str(),
            &start,
            &query.actor_id,
            &query.token_id,
            &types,
            &query.subject_type,
            &query.subject_id,
            &query.request_id,
            &query.since.map(Timestamp::millis),
            &query.until.map(Timestamp::millis),
            &seq(query.limit),
        ],
    )
    .await?
    .iter()
    .map(stored_from_row)
    .collect()
}

/// Drops events older than `before`, org by org, recording how far each was trimmed.
pub(crate) async fn trim(tx: &Tx<'_>, before: Timestamp) -> Result<u64, TxError> {
    let cut = sql::all(
        tx,
        "SELECT org_id, max(seq) FROM events WHERE created_at < $1 GROUP BY org_id",
        &[&before.millis()],
    )
    .await?;
    let mut dropped = 0;
    for row in cut {
        let (org, through): (String, i64) = (row.try_get(0)?, row.try_get(1)?);
        dropped += sql::count(
            sql::exec(tx, "DELETE FROM events WHERE org_id = $1 AND seq <= $2", &[&org, &through])
                .await?,
        );
        sql::exec(
            tx,
            "UPDATE organizations SET events_trimmed_through = greatest(events_trimmed_through, $2)
             WHERE id = $1",
            &[&org, &through],
        )
        .await?;
    }
    Ok(dropped)
}
