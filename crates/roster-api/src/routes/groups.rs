//! `/organizations/{org}/groups`: list, get, create, update, delete.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_core::groups;
use roster_core::{Group, OrgId, OrgMember, UserId};

use crate::auth::{ManageGroups, OrgCaller, Permitted};
use crate::body::JsonBody;
use crate::path::GroupPath;
use crate::query::{self, Includes, PageLinks};
use crate::wire::{Collection, GroupOut, Item, List, Meta, Pagination, UserOut};
use crate::{ApiError, AppState};

/// Members of the org among everyone in `groups`, for `with=users`.
async fn members_of(
    state: &AppState,
    org: &OrgId,
    groups: &[Group],
) -> Result<HashMap<UserId, OrgMember>, ApiError> {
    let mut ids: Vec<UserId> = groups
        .iter()
        .flat_map(|g| g.members.iter().copied())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let members = state.store.members_by_ids(org, &ids).await?;
    Ok(members.into_iter().map(|m| (m.user.id, m)).collect())
}

pub(crate) fn shape<'a>(
    group: &'a Group,
    includes: Includes,
    members: &'a HashMap<UserId, OrgMember>,
) -> GroupOut<'a> {
    let mut out = GroupOut::new(group);
    if includes.assets {
        out.assets = Some(Collection { data: Vec::new() });
    }
    if includes.users {
        let data = group
            .members
            .iter()
            .filter_map(|id| members.get(id))
            .map(UserOut::of)
            .collect();
        out.users = Some(Collection { data });
    }
    out
}

async fn respond(
    state: &AppState,
    caller: &OrgCaller,
    status: StatusCode,
    group: &Group,
    includes: Includes,
) -> Result<Response, ApiError> {
    let members = if includes.users {
        members_of(state, &caller.org, std::slice::from_ref(group)).await?
    } else {
        HashMap::new()
    };
    Ok((
        status,
        Json(Item {
            data: shape(group, includes, &members),
        }),
    )
        .into_response())
}

pub async fn list(
    caller: OrgCaller,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(&uri);
    let params = query::list_params(&pairs, groups::SORT_FIELDS)?;
    let includes = Includes::from_pairs(&pairs);
    let page = state.store.list_groups(&caller.org, &params).await?;
    let members = if includes.users {
        members_of(&state, &caller.org, &page.items).await?
    } else {
        HashMap::new()
    };
    let links = PageLinks::new(&headers, &uri, &pairs);
    let body = List {
        data: page
            .items
            .iter()
            .map(|g| shape(g, includes, &members))
            .collect(),
        meta: Meta {
            pagination: Pagination::new(&params, page.total, page.items.len(), &links),
        },
    };
    Ok(Json(body).into_response())
}

pub async fn get(
    caller: OrgCaller,
    GroupPath(id): GroupPath,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let includes = Includes::from_pairs(&query::pairs(&uri));
    let group = state
        .store
        .group(&caller.org, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    respond(&state, &caller, StatusCode::OK, &group, includes).await
}

pub async fn create(
    Permitted { caller, .. }: Permitted<ManageGroups>,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let write = groups::parse_create(&body)?;
    let group = state.store.create_group(&caller.org, &write).await?;
    respond(
        &state,
        &caller,
        StatusCode::CREATED,
        &group,
        Includes::default(),
    )
    .await
}

pub async fn update(
    Permitted { caller, .. }: Permitted<ManageGroups>,
    GroupPath(id): GroupPath,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let write = groups::parse_update(&body)?;
    let group = state.store.update_group(&caller.org, &id, &write).await?;
    respond(&state, &caller, StatusCode::OK, &group, Includes::default()).await
}

pub async fn delete(
    Permitted { caller, .. }: Permitted<ManageGroups>,
    GroupPath(id): GroupPath,
    State(state): State<AppState>,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_group(&caller.org, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}
