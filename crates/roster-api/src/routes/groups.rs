//! `/organizations/{org}/groups`: list, get, create, update, delete.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use roster_core::groups;
use roster_core::listing::Trashed;
use roster_core::store::IdempotencyKey;
use roster_core::{Email, Group, OrgId, OrgMember, UserId, ValidationErrors};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{ManageGroups, OrgCaller, Permission, Permitted};
use crate::body::JsonBody;
use crate::cache::{CachedAnswer, answer_key, reuse_or};
use crate::conditional::{IfMatchHeader, with_etag};
use crate::openapi::{
    GroupCreate, GroupDeleteQuery, GroupGetQuery, GroupListQuery, GroupRestore, GroupUpdate,
    PageQuery,
};
use crate::path::GroupPath;
use crate::query::{self, Includes, Origin, PageLinks, RequestHead};
use crate::wire::{AssetOut, Collection, GroupOut, Item, List, Meta, Pagination, UserOut};
use crate::{ApiError, AppState};

/// Members of the org among everyone in `groups`, for `with=users`.
async fn members_of(
    state: &AppState,
    org: &OrgId,
    groups: &[Group],
) -> Result<HashMap<UserId, OrgMember>, ApiError> {
    let mut ids: Vec<UserId> = groups.iter().flat_map(|g| g.members.iter().copied()).collect();
    ids.sort_unstable();
    ids.dedup();
    let members = state.store.members_by_ids(org, &ids).await?;
    Ok(members.into_iter().map(|m| (m.user.id, m)).collect())
}

fn shape<'a>(
    group: &'a Group,
    includes: Includes,
    members: &'a HashMap<UserId, OrgMember>,
    origin: &Origin,
) -> GroupOut<'a> {
    let mut out = GroupOut::new(group, origin);
    if includes.assets {
        out.assets =
            Some(Collection { data: AssetOut::of_logo(group, origin).into_iter().collect() });
    }
    if includes.users {
        let data = group
            .members
            .iter()
            .filter_map(|id| members.get(id))
            .map(|m| UserOut::in_group(m, group.member_expiries.get(&m.user.id).copied()))
            .collect();
        out.users = Some(Collection { data });
    }
    out
}

/// One group as `{"data": group}`, serialized.
async fn group_json(
    state: &AppState,
    org: &OrgId,
    origin: &Origin,
    group: &Group,
    includes: Includes,
) -> Result<Bytes, ApiError> {
    let members = if includes.users {
        members_of(state, org, std::slice::from_ref(group)).await?
    } else {
        HashMap::new()
    };
    let body = Item { data: shape(group, includes, &members, origin) };
    Ok(crate::wire::json_bytes(&body)?.into())
}

/// One group as `{"data": group}`, with its ETag.
async fn respond(
    state: &AppState,
    caller: &OrgCaller,
    origin: &Origin,
    status: StatusCode,
    group: &Group,
    includes: Includes,
) -> Result<Response, ApiError> {
    let body = group_json(state, &caller.org, origin, group, includes).await?;
    Ok(with_etag(crate::wire::json_answer(status, body), group.version))
}

/// List groups
///
/// A page of the organization's groups, with `meta.pagination`. Search names and
/// descriptions with `q`, order with `sort_by`, include the members' user objects
/// (`with=users`) or the logo's asset record (`with=assets`). `trashed=only` lists the
/// trash instead, `trashed=with` both (for those who may manage groups). Any active
/// member may call it; 403 otherwise; 422 for an unknown `sort_by`.
#[utoipa::path(get, operation_id = "listGroups", path = "/organizations/{org}/groups", tag = "groups", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), PageQuery, GroupListQuery), responses((status = 200, description = "A page of the organization's groups", body = List<GroupOut>, example = crate::openapi::group_list_example)))]
pub async fn list(
    caller: OrgCaller,
    State(state): State<AppState>,
    RequestHead { headers, uri }: RequestHead,
) -> Result<Response, ApiError> {
    let origin = Origin::new(&headers, &uri);
    let pairs = query::pairs(&uri);
    let trashed = trashed_param(&pairs)?;
    // Checked before the cache: a trash listing is for those who may manage groups.
    if trashed != Trashed::Without && !ManageGroups::allows(&caller.membership) {
        return Err(ApiError::forbidden());
    }
    let key = || answer_key(&origin, &uri);
    reuse_or(&state, &caller, key, &headers, async {
        let mut params = query::list_params(&pairs, groups::SORT_FIELDS)?;
        params.trashed = trashed;
        let includes = Includes::from_pairs(&pairs);
        let page = state.store.list_groups(&caller.org, &params).await?;
        let members = if includes.users {
            members_of(&state, &caller.org, &page.items).await?
        } else {
            HashMap::new()
        };
        let links = PageLinks::new(&headers, &uri, &pairs);
        let body = List {
            data: page.items.iter().map(|g| shape(g, includes, &members, &origin)).collect(),
            meta: Meta {
                pagination: Pagination::new(&params, page.total, page.items.len(), &links),
            },
        };
        let cursor = super::cursor_header(&caller.org, page.stream_head);
        Ok(CachedAnswer::listing(crate::wire::json_bytes(&body)?.into(), cursor))
    })
    .await
}

/// Get a group
///
/// The group with its members (user ids) and guests (emails), and its version as `ETag`;
/// `with=users` and `with=assets` add the members' user objects and the logo's asset
/// record. `If-None-Match` with the current version answers 304. Any active member may call
/// it; 404 for a group id that is not in the organization. `trashed=with` also reads a
/// group in the trash (for those who may manage groups).
#[utoipa::path(get, operation_id = "getGroup", path = "/organizations/{org}/groups/{group}", tag = "groups", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("group" = String, Path, description = "Group id: 32 lowercase hex characters"), GroupGetQuery, ("If-None-Match" = Option<String>, Header, description = "Answer 304 if the group is still at this version")), responses((status = 200, description = "The group", body = Item<GroupOut>, headers(("ETag" = String, description = "The group's version, quoted")), example = crate::openapi::group_example), (status = 304, description = "Unchanged since the version in If-None-Match", headers(("ETag" = String, description = "The group's version, quoted")))))]
pub async fn get(
    caller: OrgCaller,
    GroupPath(id): GroupPath,
    State(state): State<AppState>,
    RequestHead { headers, uri }: RequestHead,
) -> Result<Response, ApiError> {
    let origin = Origin::new(&headers, &uri);
    let pairs = query::pairs(&uri);
    let trashed = trashed_param(&pairs)?;
    if trashed == Trashed::Only {
        return Err(ApiError::validation(ValidationErrors::single(
            "trashed",
            "A single group is read with trashed=with.",
        )));
    }
    if trashed == Trashed::With && !ManageGroups::allows(&caller.membership) {
        return Err(ApiError::forbidden());
    }
    let key = || answer_key(&origin, &uri);
    reuse_or(&state, &caller, key, &headers, async {
        let includes = Includes::from_pairs(&pairs);
        let group = match trashed {
            Trashed::Without => state.store.group(&caller.org, &id).await?,
            _ => state.store.group_with_trashed(&caller.org, &id).await?,
        };
        let group = group.ok_or_else(ApiError::not_found)?;
        let body = group_json(&state, &caller.org, &origin, &group, includes).await?;
        // Without the members' user objects (whose names change apart from the group)
        // and outside the trash, the answer is the group's alone.
        if includes.users || trashed != Trashed::Without {
            Ok(CachedAnswer::new(body, Some(group.version)))
        } else {
            Ok(CachedAnswer::of_group(body, group.id.clone(), group.version))
        }
    })
    .await
}

/// Create a group
///
/// `name` (unique in the organization, ignoring case) and `description` are required;
/// `members` (user ids of active or invited members) and `guests` (emails; new ones become
/// guests of the organization) are optional, at most 1,000 each. With `Idempotency-Key`, a
/// retry with the same key and body within 24 hours answers with the first request's group
/// and creates nothing. Needs permission to manage groups (admins; standard members where
/// the organization allows it): 403 otherwise; 422 names each invalid field.
#[utoipa::path(post, operation_id = "createGroup", path = "/organizations/{org}/groups", tag = "groups", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("Idempotency-Key" = Option<String>, Header, pattern = r"^\s*[!-~]{1,255}\s*$", description = "1 to 255 visible ASCII characters. Retries with the same key and body within 24 hours answer with the first request's group")), request_body = GroupCreate, responses((status = 201, description = "The new group (or, for a repeated Idempotency-Key, the first request's group)", body = Item<GroupOut>, headers(("ETag" = String, description = "The group's version, quoted")))))]
pub async fn create(
    Permitted { caller, .. }: Permitted<ManageGroups>,
    State(state): State<AppState>,
    headers: HeaderMap,
    origin: Origin,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let write = groups::parse_create(&body)?;
    let key = match headers.get("idempotency-key") {
        Some(value) => {
            Some(IdempotencyKey::for_request(value.to_str().unwrap_or_default(), &body)?)
        }
        None => None,
    };
    let created = state.store.create_group(&caller.org, &write, key.as_ref()).await?;
    let mut response =
        respond(&state, &caller, &origin, StatusCode::CREATED, &created.group, Includes::default())
            .await?;
    if created.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Update a group
///
/// Every field is optional: given fields replace the stored ones, and a given `members` or
/// `guests` list (even `[]`) replaces the whole list. Without `If-Match` the last writer
/// wins, as in Tallyfy; with it, the write happens only if the group is still at that
/// version (412 otherwise). Needs permission to manage groups; 404 for an unknown group;
/// 422 names each invalid field.
#[utoipa::path(put, operation_id = "updateGroup", path = "/organizations/{org}/groups/{group}", tag = "groups", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("group" = String, Path, description = "Group id: 32 lowercase hex characters"), ("If-Match" = Option<String>, Header, description = "Write only if the group is still at this version: its quoted ETag, or *")), request_body = GroupUpdate, responses((status = 200, description = "The updated group", body = Item<GroupOut>, headers(("ETag" = String, description = "The group's version, quoted")), example = crate::openapi::group_example)))]
pub async fn update(
    Permitted { caller, .. }: Permitted<ManageGroups>,
    GroupPath(id): GroupPath,
    IfMatchHeader(if_match): IfMatchHeader,
    State(state): State<AppState>,
    origin: Origin,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let write = groups::parse_update(&body)?;
    let group = state.store.update_group(&caller.org, &id, &write, if_match.as_ref()).await?;
    respond(&state, &caller, &origin, StatusCode::OK, &group, Includes::default()).await
}

/// Delete a group
///
/// The group is gone for every route at once (404 on reads and writes, absent from lists
/// and counts, its name free, its logo URL a 404), but it waits in the trash for the
/// retention period (`--trash-retention-days`, 30 by default) with its members, guests,
/// logo and description, so that `POST .../restore` can bring it back. `force=true`
/// purges it at once instead (a trashed one too). Its members and guests stay in the
/// organization. `If-Match` makes the delete conditional (412 when the group has
/// changed). Needs permission to manage groups; 404 for an unknown group.
#[utoipa::path(delete, operation_id = "deleteGroup", path = "/organizations/{org}/groups/{group}", tag = "groups", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("group" = String, Path, description = "Group id: 32 lowercase hex characters"), GroupDeleteQuery, ("If-Match" = Option<String>, Header, description = "Write only if the group is still at this version: its quoted ETag, or *")), responses((status = 204, description = "In the trash (or, with force=true, purged); its members and guests stay in the organization")))]
pub async fn delete(
    Permitted { caller, .. }: Permitted<ManageGroups>,
    GroupPath(id): GroupPath,
    IfMatchHeader(if_match): IfMatchHeader,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
) -> Result<StatusCode, ApiError> {
    let pairs = query::pairs(&uri);
    let force = query::value(&pairs, "force").map(str::trim);
    let force = match force {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => {
            return Err(ApiError::validation(ValidationErrors::single(
                "force",
                "The force field must be true or false.",
            )));
        }
    };
    if force {
        state.store.purge_group(&caller.org, &id).await?;
    } else {
        state.store.delete_group(&caller.org, &id, if_match.as_ref()).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `trashed=` on group reads.
fn trashed_param(pairs: &[(String, String)]) -> Result<Trashed, ApiError> {
    let raw = query::value(pairs, "trashed").map(str::trim);
    Trashed::parse(raw)
        .map_err(|message| ApiError::validation(ValidationErrors::single("trashed", message)))
}

/// Whom a restore could not bring back.
#[derive(Serialize, ToSchema)]
pub struct NotRestored {
    /// Members who left the organization, were disabled, or whose membership ended while
    /// the group was in the trash.
    #[schema(value_type = Vec<i64>)]
    pub members: Vec<UserId>,
    /// Guests who were deleted, disabled or became members meanwhile, or whose
    /// membership ended.
    #[schema(value_type = Vec<String>)]
    pub guests: Vec<Email>,
}

#[derive(Serialize, ToSchema)]
pub struct RestoreMeta {
    pub not_restored: NotRestored,
}

#[derive(Serialize, ToSchema)]
pub struct RestoredOut<'a> {
    pub data: GroupOut<'a>,
    pub meta: RestoreMeta,
}

/// Restore a deleted group
///
/// Brings a group back from the trash (where `DELETE` puts it for the retention period,
/// 30 days by default) as it was: its name, description, logo and `created_at`, and the
/// members and guests who are still eligible (active or invited members, enabled
/// guests), with the expiries they had. Whom it could not bring back is listed under
/// `meta.not_restored`. The version goes up. A name another group took meanwhile is a
/// 422 on `name` unless the body gives a new one (`{"name": "..."}`). Needs permission
/// to manage groups; 404 unless the group is in the trash.
#[utoipa::path(post, operation_id = "restoreGroup", path = "/organizations/{org}/groups/{group}/restore", tag = "groups", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("group" = String, Path, description = "Group id: 32 lowercase hex characters")), request_body(content = Option<GroupRestore>, description = "Optional: a new name"), responses((status = 200, description = "The restored group, and whom it could not bring back", body = RestoredOut, headers(("ETag" = String, description = "The group's version, quoted")))))]
pub async fn restore(
    Permitted { caller, .. }: Permitted<ManageGroups>,
    GroupPath(id): GroupPath,
    State(state): State<AppState>,
    origin: Origin,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let name = groups::parse_restore(&body)?;
    let restored = state.store.restore_group(&caller.org, &id, name.as_ref()).await?;
    let group = &restored.group;
    let body = RestoredOut {
        data: GroupOut::new(group, &origin),
        meta: RestoreMeta {
            not_restored: NotRestored {
                members: restored.not_restored_members.clone(),
                guests: restored.not_restored_guests.clone(),
            },
        },
    };
    let body = crate::wire::json_bytes(&body)?;
    Ok(with_etag(crate::wire::json_answer(StatusCode::OK, body.into()), group.version))
}
