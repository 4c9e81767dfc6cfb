//! `/organizations/{org}/events` (the feed) and `/organizations/{org}/audit-log`.
//!
//! Both read the org's one change stream. The feed answers events exactly as stored
//! (the same bytes every reader gets), oldest first, after an opaque cursor, and can
//! long-poll; the audit log answers the same events with how each was made, newest
//! first, with filters.

use std::time::Duration;

use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_core::events::{AuditQuery, Cursor, CursorError, StreamBounds, TypeFilter};
use roster_core::{OrgId, Timestamp, ValidationErrors};
use serde::Serialize;

use crate::auth::{Admins, Permitted};
use crate::query;
use crate::{ApiError, AppState};

/// At most this many events on a page of the feed.
pub const MAX_FEED_LIMIT: u64 = 500;
/// The longest `wait` of a long-poll, in seconds.
pub const MAX_WAIT_SECONDS: u64 = 60;
/// Events a filtered read looks at before it answers what it found (then `next_cursor`
/// has moved past them, and `has_more` says to go on).
const SCAN_BUDGET: u64 = 10_000;
/// A waiting long-poll re-reads at least this often, in case a wake-up was lost (or the
/// commit was another process's, which only PostgreSQL's LISTEN hears of).
const RECHECK: Duration = Duration::from_secs(1);
/// Where the store can tell cheaply whether anything was committed by any process
/// (SQLite's WAL index), a waiting long-poll looks this often, and re-reads only then.
const GLANCE: Duration = Duration::from_millis(50);

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::validation(ValidationErrors::single(field, message))
}

/// An integer query parameter within bounds (422 on `field` otherwise).
fn bounded(
    pairs: &[(String, String)],
    field: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ApiError> {
    let Some(raw) = query::value(pairs, field) else { return Ok(default) };
    raw.trim().parse::<u64>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
        invalid(
            field,
            format!(
                "The {field} must be an integer between {} and {}.",
                range.start(),
                range.end()
            ),
        )
    })
}

fn types_of(pairs: &[(String, String)]) -> Result<TypeFilter, ApiError> {
    let raw = query::value(pairs, "types").unwrap_or_default();
    TypeFilter::parse(raw).map_err(|entry| {
        invalid("types", format!("The types entry {entry:?} names no event type."))
    })
}

/// Where a read of the stream starts, from `after`: absent is the oldest retained event,
/// `now` the head. 400 for a cursor that is malformed, of another org or ahead of the
/// head; 410 for one older than retention.
fn start_of(raw: Option<&str>, org: &OrgId, bounds: StreamBounds) -> Result<u64, Refusal> {
    let seq = match raw.map(str::trim) {
        None | Some("") => return Ok(bounds.trimmed_through),
        Some("now") => return Ok(bounds.head),
        Some(raw) => match Cursor::decode(raw, org) {
            Ok(Cursor(seq)) => seq,
            Err(CursorError::Malformed) => {
                return Err(Refusal::Api(ApiError::bad_request("The cursor is not valid.")));
            }
            Err(CursorError::OtherOrganization) => {
                return Err(Refusal::Api(ApiError::bad_request(
                    "The cursor belongs to another organization.",
                )));
            }
        },
    };
    if seq > bounds.head {
        return Err(Refusal::Api(ApiError::bad_request(
            "The cursor is ahead of the organization's stream.",
        )));
    }
    if seq < bounds.trimmed_through {
        return Err(Refusal::Expired(bounds));
    }
    Ok(seq)
}

/// A feed request refused: an ordinary error, or a cursor past retention (410, whose
/// body says where the stream now starts and ends).
enum Refusal {
    Api(ApiError),
    Expired(StreamBounds),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CursorExpired {
    /// Always true.
    error: bool,
    /// `CURSOR_EXPIRED`.
    code: &'static str,
    message: &'static str,
    /// Where the retained stream starts: resync (list again), then follow from the
    /// listing's `Roster-Cursor`, or read on from here accepting the gap.
    oldest_cursor: String,
    /// The stream's newest position.
    head_cursor: String,
}

fn expired(org: &OrgId, bounds: StreamBounds) -> Response {
    let body = CursorExpired {
        error: true,
        code: "CURSOR_EXPIRED",
        message: "The cursor is older than the events kept; list again, then follow from the listing's Roster-Cursor.",
        oldest_cursor: Cursor(bounds.trimmed_through).encode(org),
        head_cursor: Cursor(bounds.head).encode(org),
    };
    (StatusCode::GONE, axum::Json(body)).into_response()
}

/// One page of the feed, as the wire shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FeedPage {
    /// Events, oldest first (see the README for every type and its `data`).
    #[schema(value_type = Vec<Object>)]
    data: Vec<serde_json::Value>,
    /// Pass as `after` for the next page; always present.
    next_cursor: String,
    /// Whether more events (or more to scan, with `types`) follow right now.
    has_more: bool,
}

/// Stored events, already JSON, into one page without parsing them again.
fn feed_body(events: &[String], next_cursor: &str, has_more: bool) -> Vec<u8> {
    let size: usize = events.iter().map(|e| e.len() + 1).sum();
    let mut body = Vec::with_capacity(size + next_cursor.len() + 64);
    body.extend_from_slice(b"{\"data\":[");
    for (n, event) in events.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(event.as_bytes());
    }
    // The cursor is `cur_` and hex digits: nothing to escape.
    body.extend_from_slice(b"],\"next_cursor\":\"");
    body.extend_from_slice(next_cursor.as_bytes());
    body.extend_from_slice(b"\",\"has_more\":");
    body.extend_from_slice(if has_more { b"true" } else { b"false" });
    body.push(b'}');
    body
}

/// Read the change stream
///
/// The organization's events after `after`, oldest first: every committed change, each
/// once, in commit order (`seq` 1, 2, 3, ... with no gaps). Pass `next_cursor` as `after`
/// for the next page; without `after` the feed starts at the oldest retained event, and
/// `after=now` starts at the head. `types` filters by type (comma-separated; globs like
/// `group.*`). `wait=N` (up to 60) long-polls: an empty page waits up to N seconds and
/// answers as soon as a matching event commits (at most 4 long-polls per token at once:
/// 429 beyond). Admins only. 400 for a malformed cursor, another organization's, or one
/// ahead of the head; 410 `CURSOR_EXPIRED` for one older than retention.
#[utoipa::path(get, operation_id = "listEvents", path = "/organizations/{org}/events", tag = "events", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("after" = Option<String>, Query, description = "A cursor (a `next_cursor` or a listing's `Roster-Cursor`), or `now`; exclusive"), ("limit" = Option<u64>, Query, minimum = 1, maximum = 500, description = "Events per page (default 100)"), ("types" = Option<String>, Query, description = "Comma-separated event types or globs, e.g. `group.*,member.disabled`"), ("wait" = Option<u64>, Query, minimum = 0, maximum = 60, description = "Seconds an empty page may wait for a matching event")), responses((status = 200, description = "A page of events", body = FeedPage), (status = 400, description = "A malformed cursor, another organization's, or one ahead of the stream", body = crate::error::ErrorBody), (status = 410, description = "The cursor is older than the retained events", body = CursorExpired), (status = 429, description = "Too many long-polls for this token at once", body = crate::error::ErrorBody)))]
pub async fn feed(
    admin: Permitted<Admins>,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let caller = admin.caller;
    let pairs = query::pairs(&uri);
    let limit = bounded(&pairs, "limit", 100, 1..=MAX_FEED_LIMIT)?;
    let wait = bounded(&pairs, "wait", 0, 0..=MAX_WAIT_SECONDS)?;
    let types = types_of(&pairs)?;
    let names = if types.is_empty() { Vec::new() } else { types.names() };
    let org = &caller.org;
    let bounds = state.store.stream_bounds(org).await?.ok_or_else(ApiError::not_found)?;
    let mut after = match start_of(query::value(&pairs, "after"), org, bounds) {
        Ok(seq) => seq,
        Err(Refusal::Api(e)) => return Err(e),
        Err(Refusal::Expired(bounds)) => return Ok(expired(org, bounds)),
    };
    let _slot = if wait > 0 {
        Some(state.long_polls.enter(caller.token_id).ok_or_else(ApiError::too_many_long_polls)?)
    } else {
        None
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    let mut commits = state.store.commits();
    let mut closing = state.closing.subscribe();
    let mut read_at_epoch = None;
    loop {
        // Marked seen before reading: a commit after this point wakes the wait below.
        if let Some(commits) = &mut commits {
            commits.borrow_and_update();
        }
        let epoch = state.store.change_epoch().await?;
        let unchanged = epoch.is_some() && epoch == read_at_epoch;
        let woke_for_nothing = unchanged && tokio::time::Instant::now() < deadline;
        if woke_for_nothing && !*closing.borrow() {
            nap_until_commit(&mut commits, &mut closing, deadline, GLANCE).await;
            continue;
        }
        read_at_epoch = epoch;
        let page = state.store.read_stream(org, after, limit, &names, SCAN_BUDGET).await?;
        if after < page.bounds.trimmed_through {
            return Ok(expired(org, page.bounds));
        }
        let has_more = page.scanned_through < page.bounds.head;
        after = page.scanned_through;
        let now = tokio::time::Instant::now();
        if !page.events.is_empty() || has_more || now >= deadline || *closing.borrow() {
            let events: Vec<String> = page.events.into_iter().map(|e| e.payload).collect();
            let body = feed_body(&events, &Cursor(after).encode(org), has_more);
            return Ok(crate::wire::json_answer(StatusCode::OK, body.into()));
        }
        let recheck = if epoch.is_some() { GLANCE } else { RECHECK };
        nap_until_commit(&mut commits, &mut closing, deadline, recheck).await;
    }
}

/// Waits until a commit is heard of, the server begins to stop, `recheck` passes or the
/// deadline comes, whichever is first.
async fn nap_until_commit(
    commits: &mut Option<tokio::sync::watch::Receiver<u64>>,
    closing: &mut tokio::sync::watch::Receiver<bool>,
    deadline: tokio::time::Instant,
    recheck: Duration,
) {
    let nap = deadline.saturating_duration_since(tokio::time::Instant::now()).min(recheck);
    tokio::select! {
        () = async {
            match commits {
                // (A closed channel never wakes: the naps still re-read.)
                Some(commits) => {
                    if commits.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
                None => std::future::pending::<()>().await,
            }
        } => {}
        () = tokio::time::sleep(nap) => {}
        _ = closing.changed() => {}
    }
}

/// One entry of the audit log, as the wire shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// Events, newest first unless `order=asc`, each with `context`: the actor's email as
    /// it was then, the token id, client IP, user agent, `X-Tallyfy-Client`, route
    /// template and idempotency key.
    #[schema(value_type = Vec<Object>)]
    data: Vec<serde_json::Value>,
    /// Pass as `cursor` for the next page; null on the last.
    next_cursor: Option<String>,
}

fn parse_time(pairs: &[(String, String)], field: &str) -> Result<Option<Timestamp>, ApiError> {
    let Some(raw) = query::value(pairs, field) else { return Ok(None) };
    Timestamp::parse_utc(raw.trim()).map(Some).ok_or_else(|| {
        invalid(field, format!("The {field} must be a UTC date-time, e.g. 2026-12-02T10:00:00Z."))
    })
}

fn parse_id(pairs: &[(String, String)], field: &str) -> Result<Option<i64>, ApiError> {
    let Some(raw) = query::value(pairs, field) else { return Ok(None) };
    raw.trim()
        .parse::<i64>()
        .map(Some)
        .map_err(|_| invalid(field, format!("The {field} must be an integer.")))
}

/// Reads the audit log's filters from a query (shared with `roster audit`'s arguments
/// by their names).
fn audit_query(pairs: &[(String, String)], org: &OrgId) -> Result<AuditQuery, ApiError> {
    let text = |field: &str| {
        query::value(pairs, field).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
    };
    let newest_first = match query::value(pairs, "order").map(str::trim) {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => return Err(invalid("order", "The order must be asc or desc.")),
    };
    let types = match text("type") {
        Some(raw) => TypeFilter::parse(&raw)
            .map_err(|entry| {
                invalid("type", format!("The type entry {entry:?} names no event type."))
            })?
            .names(),
        None => Vec::new(),
    };
    let from_seq = match text("cursor") {
        Some(raw) => Some(
            Cursor::decode(&raw, org).map_err(|_| invalid("cursor", "The cursor is invalid."))?.0,
        ),
        None => None,
    };
    Ok(AuditQuery {
        actor_id: parse_id(pairs, "actor_id")?,
        token_id: parse_id(pairs, "token_id")?,
        types,
        subject_type: text("subject_type"),
        subject_id: text("subject_id"),
        request_id: text("request_id"),
        since: parse_time(pairs, "since")?,
        until: parse_time(pairs, "until")?,
        newest_first,
        from_seq,
        limit: bounded(pairs, "limit", 100, 1..=MAX_FEED_LIMIT)?,
    })
}

/// Read the audit log
///
/// Who changed what, and how: the organization's events, newest first (`order=asc` for
/// oldest first), each with its `context` (the actor's email as it was then, the token
/// id, never the token, client IP, user agent, `X-Tallyfy-Client`, route template and
/// idempotency key). Filter by `actor_id`, `token_id`, `type` (names or globs),
/// `subject_type`, `subject_id`, `request_id`, `since` and `until` (UTC date-times
/// such as `2026-12-02T10:00:00Z`; `until` exclusive); page with `limit` (at most 500) and `cursor` (the previous page's
/// `next_cursor`). Admins only.
#[utoipa::path(get, operation_id = "listAuditLog", path = "/organizations/{org}/audit-log", tag = "events", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("actor_id" = Option<i64>, Query, description = "Only changes made by this user"), ("token_id" = Option<i64>, Query, description = "Only changes made with this token"), ("type" = Option<String>, Query, description = "Event types or globs, comma-separated"), ("subject_type" = Option<String>, Query, description = "group, member, guest, organization or token"), ("subject_id" = Option<String>, Query, description = "The subject's id (a guest's email)"), ("request_id" = Option<String>, Query, description = "Only changes made by this request"), ("since" = Option<String>, Query, description = "UTC date-time (2026-12-02T10:00:00Z); inclusive"), ("until" = Option<String>, Query, description = "UTC date-time; exclusive"), ("order" = Option<String>, Query, description = "desc (default) or asc"), ("cursor" = Option<String>, Query, description = "The previous page's next_cursor"), ("limit" = Option<u64>, Query, minimum = 1, maximum = 500, description = "Entries per page (default 100)")), responses((status = 200, description = "A page of the audit log", body = AuditPage)))]
pub async fn audit_log(
    admin: Permitted<Admins>,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let org = &admin.caller.org;
    let query = audit_query(&query::pairs(&uri), org)?;
    let entries = state.store.audit_log(org, &query).await?;
    let next_cursor = (entries.len() as u64 == query.limit)
        .then(|| entries.last().map(|e| Cursor(e.seq).encode(org)))
        .flatten();
    let mut body = Vec::new();
    body.extend_from_slice(b"{\"data\":[");
    for (n, entry) in entries.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(
            roster_core::events::audit_entry(&entry.payload, &entry.context).as_bytes(),
        );
    }
    body.extend_from_slice(b"],\"next_cursor\":");
    match next_cursor {
        Some(cursor) => {
            body.push(b'"');
            body.extend_from_slice(cursor.as_bytes());
            body.push(b'"');
        }
        None => body.extend_from_slice(b"null"),
    }
    body.push(b'}');
    Ok(crate::wire::json_answer(StatusCode::OK, body.into()))
}
