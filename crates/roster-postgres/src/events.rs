//! The change stream's storage: each write's events in its own transaction, and the
//! reads of the feed and the audit log. Every statement is scoped by `org_id`.

use deadpool_postgres::GenericClient;
use roster_core::events::{
    self, AuditQuery, EventDraft, Origin, StoredEvent, StreamBounds, StreamPage,
};
use roster_core::{OrgId, StoreError, Timestamp, WriteError};
use tokio_postgres::Row;

use crate::sql::{self, Tx, TxError};

/// Stores `drafts` as the org's next events, in the write's transaction. The counter's
/// row lock, taken here and held until commit, orders the org's writes: seqs are
/// gap-free and in commit order. This instance's writers queue for the row first (see
/// [`crate::scope`]); other instances are told after the commit (see [`crate::announce`]).
pub(crate) async fn record(
    tx: &Tx<'_>,
    org: &OrgId,
    drafts: Vec<EventDraft>,
    now: Timestamp,
) -> Result<(), TxError> {
    record_counting(tx, org, drafts, now, 0).await
}

/// [`record`], also moving the org's live group count by `groups`. The org's row is
/// locked once, as late as possible, and in the same statement that stores the events:
/// its writers wait on each other for that one round trip and the commit only.
pub(crate) async fn record_counting(
    tx: &Tx<'_>,
    org: &OrgId,
    drafts: Vec<EventDraft>,
    now: Timestamp,
    groups: i64,
) -> Result<(), TxError> {
    if drafts.is_empty() && groups == 0 {
        return Ok(());
    }
    let count = i64::try_from(drafts.len()).unwrap_or(i64::MAX);
    let changes_callers = drafts.iter().any(|d| d.kind.changes_callers());
    // Sealed before the seqs are known (they are the counter's, in the statement below):
    // each payload is stored as the text around its seq with the seq put in between.
    let sealed = events::seal(drafts, org, 0, &Origin::current(), now)
        .map_err(|e| StoreError::new("seal events", e))?;
    let mut before_seq = Vec::with_capacity(sealed.len());
    let mut after_seq = Vec::with_capacity(sealed.len());
    for event in &sealed {
        let (before, after) = event
            .payload_around_seq()
            .ok_or_else(|| StoreError::new("seal events", "an event payload without its seq"))?;
        before_seq.push(before);
        after_seq.push(after);
    }
    let column = |f: fn(&events::SealedEvent) -> String| sealed.iter().map(f).collect::<Vec<_>>();
    let ids = column(|e| e.id.clone());
    let kinds = column(|e| e.kind.as_str().to_owned());
    let subject_types = column(|e| e.subject_type.to_owned());
    let subject_ids = column(|e| e.subject_id.clone());
    let actors: Vec<Option<i64>> = sealed.iter().map(|e| e.actor_id).collect();
    let tokens: Vec<Option<i64>> = sealed.iter().map(|e| e.token_id).collect();
    let requests: Vec<Option<String>> = sealed.iter().map(|e| e.request_id.clone()).collect();
    let created: Vec<i64> = sealed.iter().map(|e| e.created_at.millis()).collect();
    let contexts = column(|e| e.context.clone());
    crate::scope::wait_for_turn(org).await;
    // The counter's move and the events, numbered after the head it moved from, in one
    // statement (a data-modifying WITH always runs, even with no events to insert).
    let counted = sql::one(
        tx,
        "WITH counter AS (
             UPDATE organizations SET event_seq = event_seq + $2, group_count = group_count + $3,
                 callers_seq = CASE WHEN $15 THEN event_seq + $2 ELSE callers_seq END
             WHERE id = $1 RETURNING event_seq - $2 AS head),
         stored AS (
             INSERT INTO events (org_id, seq, id, type, subject_type, subject_id, actor_id,
                                 token_id, request_id, created_at, payload, context)
             SELECT $1, c.head + e.n, e.id, e.type, e.subject_type, e.subject_id, e.actor_id,
                    e.token_id, e.request_id, e.created_at,
                    e.before_seq || (c.head + e.n) || e.after_seq, e.context
             FROM counter c,
                  unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[],
                         $9::bigint[], $10::text[], $11::bigint[], $12::text[], $13::text[],
                         $14::text[])
                  WITH ORDINALITY AS e(id, type, subject_type, subject_id, actor_id, token_id,
                                       request_id, created_at, before_seq, after_seq, context, n)
             RETURNING 1)
         SELECT (SELECT count(*) FROM counter), (SELECT count(*) FROM stored)",
        &[
            &org.as_str(),
            &count,
            &groups,
            &ids,
            &kinds,
            &subject_types,
            &subject_ids,
            &actors,
            &tokens,
            &requests,
            &created,
            &before_seq,
            &after_seq,
            &contexts,
            &changes_callers,
        ],
    )
    .await?;
    crate::scope::pass_turn();
    let (orgs, stored): (i64, i64) = (counted.try_get(0)?, counted.try_get(1)?);
    if orgs == 0 {
        return Err(TxError::Refused(WriteError::NotFound));
    }
    if stored != count {
        return Err(StoreError::new("record events", format!("stored {stored} of {count}")).into());
    }
    if count > 0 {
        crate::scope::mark_recorded();
    }
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

/// The heads and next membership ends of the orgs `ids` that exist, in one statement.
pub(crate) async fn heads<C: GenericClient>(
    c: &C,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, roster_core::store::OrgHead>, TxError> {
    let rows = sql::all(
        c,
        "SELECT o.id, o.event_seq, (SELECT min(g.next_expiry) FROM groups g
                                    WHERE g.org_id = o.id AND g.next_expiry IS NOT NULL),
                o.callers_seq
         FROM organizations o WHERE o.id = ANY($1)",
        &[&ids],
    )
    .await?;
    let mut heads = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        let head = roster_core::store::OrgHead {
            head: sql::count(row.try_get(1)?),
            callers: sql::count(row.try_get(3)?),
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
