//! A group's people on their own: `PATCH` edits that compose instead of overwrite, and
//! keyset-paginated reads that cost the same on every page of a 100,000-member group.

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::response::{IntoResponse, Response};
use roster_core::store::PeoplePageOptions;
use roster_core::validation::{ValidationErrors, messages};
use roster_core::{Email, Timestamp, UserId};
use roster_core::{groups, listing};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{ManageGroups, OrgCaller, Permitted};
use crate::body::JsonBody;
use crate::conditional::{IfMatchHeader, with_etag};
use crate::openapi::{GuestCursorQuery, GuestEdit, MemberCursorQuery, MemberEdit};
use crate::path::GroupPath;
use crate::query::{self, Origin};
use crate::wire::{GroupOut, GuestOut, Item, UserOut};
use crate::{ApiError, AppState};

pub const DEFAULT_PAGE: u64 = 100;
pub const MAX_PAGE: u64 = 1000;

#[derive(Serialize, ToSchema)]
pub struct CursorPage<T> {
    data: Vec<T>,
    meta: CursorMeta,
}

#[derive(Serialize, ToSchema)]
pub struct CursorMeta {
    per_page: u64,
    /// Pass as `cursor` for the next page; `null` on the last one.
    next_cursor: Option<String>,
}

/// `per_page` (default 100, at most 1,000) and the decoded `cursor`.
fn page_request<T>(
    pairs: &[(String, String)],
    decode: impl Fn(&str) -> Option<T>,
) -> Result<(u64, Option<T>), ValidationErrors> {
    let value = |name: &str| pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.trim());
    let per_page = match value("per_page") {
        None => DEFAULT_PAGE,
        Some(raw) => match listing::parse_count(raw) {
            Some(n) => listing::clamp_per_page(n, DEFAULT_PAGE, MAX_PAGE),
            None => {
                return Err(ValidationErrors::single("per_page", messages::integer("per_page")));
            }
        },
    };
    // A cursor is an opaque token: not trimmed, so a corrupted one is refused, not ignored.
    let raw_cursor = pairs.iter().rev().find(|(k, _)| k == "cursor").map(|(_, v)| v.as_str());
    let cursor = match raw_cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => Some(
            decode(raw)
                .ok_or_else(|| ValidationErrors::single("cursor", "The cursor is invalid."))?,
        ),
    };
    Ok((per_page, cursor))
}

/// `expiring_before`: only people whose membership ends before this UTC time.
fn expiring_before(pairs: &[(String, String)]) -> Result<Option<Timestamp>, ValidationErrors> {
    let raw = query::value(pairs, "expiring_before").map(str::trim);
    match raw {
        None => Ok(None),
        Some(raw) => Timestamp::parse_utc(raw).map(Some).ok_or_else(|| {
            ValidationErrors::single(
                "expiring_before",
                "The expiring_before must be a UTC date-time like 2027-03-31T00:00:00.000Z.",
            )
        }),
    }
}

/// A member cursor is the last id seen; a guest cursor the hex of the last email.
fn member_cursor(raw: &str) -> Option<UserId> {
    raw.parse().ok().and_then(UserId::new)
}

fn guest_cursor(raw: &str) -> Option<Email> {
    let bytes = (0..raw.len())
        .step_by(2)
        .map(|i| raw.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()?;
    Email::parse(&String::from_utf8(bytes).ok()?)
}

fn encode_guest_cursor(email: &Email) -> String {
    email.as_str().bytes().map(|b| format!("{b:02x}")).collect()
}

/// List a group's members
///
/// The group's members as user objects, in pages of `per_page` (at most 1,000),
/// keyset-paginated: pass `meta.next_cursor` as `cursor` for the next page; it is null on
/// the last one. Any active member may call it; 404 for an unknown group; 422 for a
/// malformed cursor.
#[utoipa::path(get, operation_id = "listGroupMembers", path = "/organizations/{org}/groups/{group}/members", tag = "groups", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("group" = String, Path, description = "Group id: 32 lowercase hex characters"), MemberCursorQuery), responses((status = 200, description = "A page of the group's members", body = CursorPage<UserOut>)))]
pub async fn members(
    caller: OrgCaller,
    GroupPath(id): GroupPath,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(&uri);
    let (per_page, after) = page_request(&pairs, member_cursor)?;
    let page = PeoplePageOptions { limit: per_page, expiring_before: expiring_before(&pairs)? };
    let (members, head) = state
        .store
        .group_member_page(&caller.org, &id, after, page)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let next_cursor = (members.len() as u64 == per_page)
        .then(|| members.last().map(|(m, _)| m.user.id.to_string()))
        .flatten();
    let data = members.iter().map(|(m, at)| UserOut::in_group(m, *at)).collect();
    let page = Json(CursorPage { data, meta: CursorMeta { per_page, next_cursor } });
    Ok(super::with_cursor(page.into_response(), &caller.org, head))
}

/// List a group's guests
///
/// The group's guests, paginated like the members (`per_page`, `cursor`,
/// `meta.next_cursor`). Any active member may call it; 404 for an unknown group; 422 for a
/// malformed cursor.
#[utoipa::path(get, operation_id = "listGroupGuests", path = "/organizations/{org}/groups/{group}/guests", tag = "groups", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("group" = String, Path, description = "Group id: 32 lowercase hex characters"), GuestCursorQuery), responses((status = 200, description = "A page of the group's guests", body = CursorPage<GuestOut>)))]
pub async fn guests(
    caller: OrgCaller,
    GroupPath(id): GroupPath,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(&uri);
    let (per_page, after) = page_request(&pairs, guest_cursor)?;
    let page = PeoplePageOptions { limit: per_page, expiring_before: expiring_before(&pairs)? };
    let (guests, head) = state
        .store
        .group_guest_page(&caller.org, &id, after.as_ref(), page)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let next_cursor = (guests.len() as u64 == per_page)
        .then(|| guests.last().map(|(g, _)| encode_guest_cursor(&g.email)))
        .flatten();
    let data = guests.iter().map(|(g, at)| GuestOut::in_group(g, *at)).collect();
    let page = Json(CursorPage { data, meta: CursorMeta { per_page, next_cursor } });
    Ok(super::with_cursor(page.into_response(), &caller.org, head))
}

/// Add and remove group members
///
/// Adds the user ids in `add` and removes those in `remove` (at most 1,000 in all),
/// atomically; adding a member already in the group or removing one who is not changes
/// nothing. Composes with concurrent edits without `If-Match`. Answers the group's fields
/// and counts without its lists. Needs permission to manage groups; 422 names ids that are
/// not active or invited members.
#[utoipa::path(patch, operation_id = "patchGroupMembers", path = "/organizations/{org}/groups/{group}/members", tag = "groups", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("group" = String, Path, description = "Group id: 32 lowercase hex characters"), ("If-Match" = Option<String>, Header, description = "Write only if the group is still at this version: its quoted ETag, or *")), request_body = MemberEdit, responses((status = 200, description = "The group, without its lists", body = Item<GroupOut>, headers(("ETag" = String, description = "The group's version, quoted")))))]
pub async fn patch_members(
    Permitted { caller, .. }: Permitted<ManageGroups>,
    GroupPath(id): GroupPath,
    IfMatchHeader(if_match): IfMatchHeader,
    State(state): State<AppState>,
    origin: Origin,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let patch = groups::parse_member_patch(&body, state.store.clock().now())?;
    let group =
        state.store.patch_group_members(&caller.org, &id, &patch, if_match.as_ref()).await?;
    Ok(with_etag(
        Json(Item { data: GroupOut::summary(&group, &origin) }).into_response(),
        group.version,
    ))
}

/// Add and remove group guests
///
/// As for members, with emails: `add` and `remove` (at most 1,000 in all), atomic and
/// idempotent; an email new to the organization becomes one of its guests. Needs permission
/// to manage groups; 422 for an invalid email, a disabled guest or a member's email.
#[utoipa::path(patch, operation_id = "patchGroupGuests", path = "/organizations/{org}/groups/{group}/guests", tag = "groups", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("group" = String, Path, description = "Group id: 32 lowercase hex characters"), ("If-Match" = Option<String>, Header, description = "Write only if the group is still at this version: its quoted ETag, or *")), request_body = GuestEdit, responses((status = 200, description = "The group, without its lists", body = Item<GroupOut>, headers(("ETag" = String, description = "The group's version, quoted")))))]
pub async fn patch_guests(
    Permitted { caller, .. }: Permitted<ManageGroups>,
    GroupPath(id): GroupPath,
    IfMatchHeader(if_match): IfMatchHeader,
    State(state): State<AppState>,
    origin: Origin,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let patch = groups::parse_guest_patch(&body, state.store.clock().now())?;
    let group = state.store.patch_group_guests(&caller.org, &id, &patch, if_match.as_ref()).await?;
    Ok(with_etag(
        Json(Item { data: GroupOut::summary(&group, &origin) }).into_response(),
        group.version,
    ))
}
