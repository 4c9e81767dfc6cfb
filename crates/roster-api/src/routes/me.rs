//! `GET /me` (clients validate their token with it) and the caller's organizations.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::auth::{Caller, OrgCaller};
use crate::wire::{Collection, Item, OrgOut, UserOut};
use crate::{ApiError, AppState};

pub async fn me(caller: Caller) -> Response {
    Json(Item { data: UserOut::account(&caller.user) }).into_response()
}

/// The caller as a member of `{org}`, with role and status.
pub async fn org_me(
    caller: OrgCaller,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let member =
        state.store.member(&caller.org, caller.user.id).await?.ok_or_else(ApiError::not_in_org)?;
    Ok(Json(Item { data: UserOut::of(&member) }).into_response())
}

/// `GET /me/organizations`: every organization the caller belongs to.
pub async fn organizations(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let orgs = state.store.organizations_of(caller.user.id).await?;
    let data = orgs.iter().map(|(org, member)| OrgOut::new(org, member)).collect();
    Ok(Json(Collection { data }).into_response())
}
