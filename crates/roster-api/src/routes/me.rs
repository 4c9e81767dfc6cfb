//! `GET /me` (clients validate their token with it) and the caller's organizations.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::auth::{Caller, OrgCaller};
use crate::wire::{Collection, Item, OrgOut, UserOut};
use crate::{ApiError, AppState};

/// Get the token's account
///
/// Answers the account the bearer token belongs to. Clients call it to check a token: 401
/// for a missing, unknown, revoked or expired token.
#[utoipa::path(get, operation_id = "getMe", path = "/me", tag = "me", responses((status = 200, description = "The token's account", body = Item<UserOut>)))]
pub async fn me(caller: Caller) -> Response {
    Json(Item { data: UserOut::account(&caller.user) }).into_response()
}

/// Get the caller as a member of an organization
///
/// Answers the caller's account with its `role` and `status` in the organization. 403 when
/// the caller is not an active member of it.
#[utoipa::path(get, operation_id = "getOrganizationMe", path = "/organizations/{org}/me", tag = "me", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters")), responses((status = 200, description = "The caller as a member of the organization", body = Item<UserOut>)))]
pub async fn org_me(
    caller: OrgCaller,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let member =
        state.store.member(&caller.org, caller.user.id).await?.ok_or_else(ApiError::not_in_org)?;
    Ok(Json(Item { data: UserOut::of(&member) }).into_response())
}

/// List the caller's organizations
///
/// Every organization the caller belongs to, with their role and status in each. Not
/// paginated.
#[utoipa::path(get, operation_id = "listMyOrganizations", path = "/me/organizations", tag = "me", responses((status = 200, description = "Every organization the caller belongs to", body = Collection<OrgOut>)))]
pub async fn organizations(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let orgs = state.store.organizations_of(caller.user.id).await?;
    let data = orgs.iter().map(|(org, member)| OrgOut::new(org, member)).collect();
    Ok(Json(Collection { data }).into_response())
}
