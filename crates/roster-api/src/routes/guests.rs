//! `/organizations/{org}/guests`: guests, addressed by URL-encoded email.

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_core::Email;
use roster_core::people::{self, GuestAction};
use roster_core::store::GuestOutcome;

use crate::auth::{ManagePeople, OrgCaller, Permitted};
use crate::body::JsonBody;
use crate::openapi::{
    GuestCreate, GuestListQuery, GuestListing, GuestUpdate, PageQuery, ToMember,
    WithoutPaginationQuery,
};
use crate::path::GuestPath;
use crate::query::{self, PageLinks};
use crate::wire::{Collection, GuestOut, Item, List, Meta, Pagination, UserOut};
use crate::{ApiError, AppState};

/// List guests
///
/// A page of the organization's guests, with `meta.pagination`; `q` searches emails, `sort`
/// orders, and `without_pagination=true` answers every guest without `meta`. Any active
/// member may call it.
#[utoipa::path(get, operation_id = "listGuests", path = "/organizations/{org}/guests", tag = "guests", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), PageQuery, GuestListQuery, WithoutPaginationQuery), responses((status = 200, description = "A page of guests (or every guest, without meta, with without_pagination)", body = GuestListing)))]
pub async fn list(
    caller: OrgCaller,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(&uri);
    let mut params = query::list_params(&pairs, people::GUEST_SORT_FIELDS)?;
    params.unpaged = query::flag(&pairs, "without_pagination")?;
    let page = state.store.list_guests(&caller.org, &params).await?;
    let data = page.items.iter().map(GuestOut::new).collect();
    let cursor = |response| super::with_cursor(response, &caller.org, page.stream_head);
    if params.unpaged {
        return Ok(cursor(Json(Collection { data }).into_response()));
    }
    let links = PageLinks::new(&headers, &uri, &pairs);
    let meta = Meta { pagination: Pagination::new(&params, page.total, page.items.len(), &links) };
    Ok(cursor(Json(List { data, meta }).into_response()))
}

/// List every guest
///
/// Every guest of the organization at once, without `meta`. Any active member may call it.
#[utoipa::path(get, operation_id = "listAllGuests", path = "/organizations/{org}/guests-list", tag = "guests", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), GuestListQuery), responses((status = 200, description = "Every guest", body = Collection<GuestOut>)))]
pub async fn list_all(
    caller: OrgCaller,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let mut params = query::list_params(&query::pairs(&uri), people::GUEST_SORT_FIELDS)?;
    params.unpaged = true;
    let page = state.store.list_guests(&caller.org, &params).await?;
    let data = page.items.iter().map(GuestOut::new).collect();
    Ok(super::with_cursor(Json(Collection { data }).into_response(), &caller.org, page.stream_head))
}

/// Get a guest
///
/// One guest by email (URL-encoded, matched without regard to case). Any active member may
/// call it; 404 for an unknown email.
#[utoipa::path(get, operation_id = "getGuest", path = "/organizations/{org}/guests/{email}", tag = "guests", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("email" = String, Path, description = "The guest's email, URL-encoded; matched without regard to case")), responses((status = 200, description = "The guest", body = Item<GuestOut>, example = crate::openapi::guest_example)))]
pub async fn get(
    caller: OrgCaller,
    GuestPath(email): GuestPath,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let guest = state.store.guest(&caller.org, &email).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(Item { data: GuestOut::new(&guest) }).into_response())
}

/// Create a guest
///
/// Adds a guest: `email` is required; names, company, phones and links are optional, nested
/// under `details` in the answer. Admins only; 422 for an invalid email, an existing guest
/// or a member's email.
#[utoipa::path(post, operation_id = "createGuest", path = "/organizations/{org}/guests", tag = "guests", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters")), request_body = GuestCreate, responses((status = 201, description = "The new guest", body = Item<GuestOut>)))]
pub async fn create(
    Permitted { caller, .. }: Permitted<ManagePeople>,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let new = people::parse_new_guest(&body)?;
    let guest = state.store.create_guest(&caller.org, &new).await?;
    Ok((StatusCode::CREATED, Json(Item { data: GuestOut::new(&guest) })).into_response())
}

/// Update a guest
///
/// As in Tallyfy, only `associated_members` (user ids) is applied, replacing the list.
/// Admins only; 404 for an unknown email; 422 for ids that are not members.
#[utoipa::path(put, operation_id = "updateGuest", path = "/organizations/{org}/guests/{email}", tag = "guests", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("email" = String, Path, description = "The guest's email, URL-encoded; matched without regard to case")), request_body = GuestUpdate, responses((status = 200, description = "The guest", body = Item<GuestOut>, example = crate::openapi::guest_example)))]
pub async fn update(
    Permitted { caller, .. }: Permitted<ManagePeople>,
    GuestPath(email): GuestPath,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let guest = match people::parse_guest_update(&body)? {
        Some(members) => {
            state.store.set_guest_associated_members(&caller.org, &email, &members).await?
        }
        None => state.store.guest(&caller.org, &email).await?.ok_or_else(ApiError::not_found)?,
    };
    Ok(Json(Item { data: GuestOut::new(&guest) }).into_response())
}

async fn act(
    state: &AppState,
    caller: &OrgCaller,
    email: &Email,
    action: GuestAction,
) -> Result<Response, ApiError> {
    Ok(match state.store.guest_action(&caller.org, email, action).await? {
        GuestOutcome::Guest(guest) => Json(Item { data: GuestOut::new(&guest) }).into_response(),
        GuestOutcome::BecameMember(member) => {
            Json(Item { data: UserOut::of(&member) }).into_response()
        }
    })
}

/// Delete a guest
///
/// Deletes the guest, who leaves every group, and answers the deleted guest. Admins only;
/// 404 for an unknown email.
#[utoipa::path(delete, operation_id = "deleteGuest", path = "/organizations/{org}/guests/{email}", tag = "guests", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("email" = String, Path, description = "The guest's email, URL-encoded; matched without regard to case")), responses((status = 200, description = "The deleted guest; they left every group", body = Item<GuestOut>)))]
pub async fn delete(
    Permitted { caller, .. }: Permitted<ManagePeople>,
    GuestPath(email): GuestPath,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    act(&state, &caller, &email, GuestAction::Delete).await
}

/// Disable a guest
///
/// The guest leaves every group and cannot be added to one until enabled. Admins only; 404
/// for an unknown email.
#[utoipa::path(delete, operation_id = "disableGuest", path = "/organizations/{org}/guests/{email}/disable", tag = "guests", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("email" = String, Path, description = "The guest's email, URL-encoded; matched without regard to case")), responses((status = 200, description = "The disabled guest; they left every group", body = Item<GuestOut>)))]
pub async fn disable(
    Permitted { caller, .. }: Permitted<ManagePeople>,
    GuestPath(email): GuestPath,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    act(&state, &caller, &email, GuestAction::Disable).await
}

/// Enable a guest
///
/// Makes a disabled guest usable again; they do not rejoin the groups they left. Admins
/// only; 404 for an unknown email.
#[utoipa::path(put, operation_id = "enableGuest", path = "/organizations/{org}/guests/{email}/enable", tag = "guests", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("email" = String, Path, description = "The guest's email, URL-encoded; matched without regard to case")), responses((status = 200, description = "The active guest", body = Item<GuestOut>)))]
pub async fn enable(
    Permitted { caller, .. }: Permitted<ManagePeople>,
    GuestPath(email): GuestPath,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    act(&state, &caller, &email, GuestAction::Enable).await
}

/// Convert a guest to a member
///
/// The guest becomes an invited member (role `standard` unless `role` says otherwise) and
/// leaves every group as a guest. Admins only; 404 for an unknown email; 422 for an invalid
/// role.
#[utoipa::path(post, operation_id = "convertGuestToMember", path = "/organizations/{org}/guests/{email}/to/member", tag = "guests", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("email" = String, Path, description = "The guest's email, URL-encoded; matched without regard to case")), request_body(content = Option<ToMember>, description = "Optional"), responses((status = 200, description = "The new invited member", body = Item<UserOut>)))]
pub async fn to_member(
    Permitted { caller, .. }: Permitted<ManagePeople>,
    GuestPath(email): GuestPath,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let role = people::parse_guest_to_member(&body)?;
    act(&state, &caller, &email, GuestAction::ToMember(role)).await
}
