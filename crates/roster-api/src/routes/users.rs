//! `/organizations/{org}/users`: Tallyfy's members.

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use roster_core::people::{self, MemberAction};
use roster_core::store::MemberOutcome;
use roster_core::{Group, OrgId, OrgMember, UserId};

use crate::auth::{ManagePeople, OrgCaller, Permitted};
use crate::body::JsonBody;
use crate::error::ErrorBody;
use crate::openapi::{Invite, MemberListQuery, MemberUpdate, PageQuery, RoleChange, WithQuery};
use crate::path::UserPath;
use crate::query::{self, Includes, Origin, PageLinks};
use crate::wire::{Collection, GroupOut, GuestOut, Item, List, Meta, Pagination, UserOut};
use crate::{ApiError, AppState};

/// The groups of each listed member, when `with=groups` asks for them.
async fn groups_for(
    state: &AppState,
    org: &OrgId,
    members: &[OrgMember],
    includes: Includes,
) -> Result<Option<Vec<(UserId, Group)>>, ApiError> {
    if !includes.groups {
        return Ok(None);
    }
    let ids: Vec<UserId> = members.iter().map(|m| m.user.id).collect();
    Ok(Some(state.store.groups_of_members(org, &ids).await?))
}

fn shape<'a>(
    member: &'a OrgMember,
    groups: Option<&'a [(UserId, Group)]>,
    origin: &Origin,
) -> UserOut<'a> {
    let mut out = UserOut::of(member);
    out.groups = groups.map(|all| Collection {
        data: all
            .iter()
            .filter(|(id, _)| *id == member.user.id)
            .map(|(_, group)| GroupOut::new(group, origin))
            .collect(),
    });
    out
}

/// List members
///
/// A page of the organization's members of every status, with `meta.pagination`; `q`
/// searches names and emails, `sort` orders, `with=groups` adds each member's groups. Any
/// active member may call it.
#[utoipa::path(get, operation_id = "listMembers", path = "/organizations/{org}/users", tag = "members", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), PageQuery, MemberListQuery), responses((status = 200, description = "A page of members of every status", body = List<UserOut>)))]
pub async fn list(
    caller: OrgCaller,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let origin = Origin::new(&headers, &uri);
    let pairs = query::pairs(&uri);
    let params = query::list_params(&pairs, people::MEMBER_SORT_FIELDS)?;
    let includes = Includes::from_pairs(&pairs);
    let page = state.store.list_members(&caller.org, &params).await?;
    let groups = groups_for(&state, &caller.org, &page.items, includes).await?;
    let links = PageLinks::new(&headers, &uri, &pairs);
    let body = List {
        data: page.items.iter().map(|m| shape(m, groups.as_deref(), &origin)).collect(),
        meta: Meta { pagination: Pagination::new(&params, page.total, page.items.len(), &links) },
    };
    Ok(super::with_cursor(Json(body).into_response(), &caller.org, page.stream_head))
}

/// List every member
///
/// Every member of the organization at once, without `meta`. Any active member may call it.
#[utoipa::path(get, operation_id = "listAllMembers", path = "/organizations/{org}/users-list", tag = "members", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), MemberListQuery), responses((status = 200, description = "Every member", body = Collection<UserOut>)))]
pub async fn list_all(
    caller: OrgCaller,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    origin: Origin,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(&uri);
    let mut params = query::list_params(&pairs, people::MEMBER_SORT_FIELDS)?;
    params.unpaged = true;
    let includes = Includes::from_pairs(&pairs);
    let page = state.store.list_members(&caller.org, &params).await?;
    let groups = groups_for(&state, &caller.org, &page.items, includes).await?;
    let data = page.items.iter().map(|m| shape(m, groups.as_deref(), &origin)).collect();
    Ok(super::with_cursor(Json(Collection { data }).into_response(), &caller.org, page.stream_head))
}

/// Get a member
///
/// One member with role and status; `with=groups` adds their groups. Admins only, as in
/// Tallyfy: 403 for others; 404 for a user who is not a member.
#[utoipa::path(get, operation_id = "getMember", path = "/organizations/{org}/users/{user}", tag = "members", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("user" = i64, Path, description = "User id"), WithQuery), responses((status = 200, description = "The member (admins only)", body = Item<UserOut>, example = crate::openapi::user_example)))]
pub async fn get(
    Permitted { caller, .. }: Permitted<ManagePeople>,
    UserPath(id): UserPath,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    origin: Origin,
) -> Result<Response, ApiError> {
    let includes = Includes::from_pairs(&query::pairs(&uri));
    let member = state.store.member(&caller.org, id).await?.ok_or_else(ApiError::not_found)?;
    let groups = groups_for(&state, &caller.org, std::slice::from_ref(&member), includes).await?;
    Ok(Json(Item { data: shape(&member, groups.as_deref(), &origin) }).into_response())
}

/// Invite a member
///
/// Adds a member with status `invited`: `email`, `first_name`, `last_name` and `role` are
/// required, `message` optional. An email that already has an account adds that account.
/// Admins only; 422 for a current member's email or an invalid field.
#[utoipa::path(post, operation_id = "inviteMember", path = "/organizations/{org}/users/invite", tag = "members", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters")), request_body = Invite, responses((status = 200, description = "The invited member", body = Item<UserOut>)))]
pub async fn invite(
    Permitted { caller, .. }: Permitted<ManagePeople>,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let invite = people::parse_invite(&body)?;
    let member = state.store.invite_member(&caller.org, &invite).await?;
    Ok(Json(Item { data: UserOut::of(&member) }).into_response())
}

/// Update a member's profile
///
/// Changes `first_name`, `last_name` and `timezone`. Admins only; 404 for a user who is not
/// a member; 422 names each invalid field.
#[utoipa::path(put, operation_id = "updateMember", path = "/organizations/{org}/users/{user}", tag = "members", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("user" = i64, Path, description = "User id")), request_body = MemberUpdate, responses((status = 200, description = "The member", body = Item<UserOut>)))]
pub async fn update(
    Permitted { caller, .. }: Permitted<ManagePeople>,
    UserPath(id): UserPath,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let changes = people::parse_member_update(&body)?;
    let member = state.store.update_member(&caller.org, id, &changes).await?;
    Ok(Json(Item { data: UserOut::of(&member) }).into_response())
}

async fn act(
    state: &AppState,
    caller: &OrgCaller,
    id: UserId,
    action: MemberAction,
) -> Result<Response, ApiError> {
    Ok(match state.store.member_action(&caller.org, id, action).await? {
        MemberOutcome::Member(member) => Json(Item { data: UserOut::of(&member) }).into_response(),
        MemberOutcome::BecameGuest(guest) => {
            Json(Item { data: GuestOut::new(&guest) }).into_response()
        }
    })
}

/// Change a member's role
///
/// Sets `role` to `admin`, `standard` or `light`. Admins only; 400 when it would demote the
/// default admin or leave the organization without an active admin.
#[utoipa::path(put, operation_id = "setMemberRole", path = "/organizations/{org}/users/{user}/role", tag = "members", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("user" = i64, Path, description = "User id")), request_body = RoleChange, responses((status = 200, description = "The member with the new role", body = Item<UserOut>)))]
pub async fn set_role(
    Permitted { caller, .. }: Permitted<ManagePeople>,
    UserPath(id): UserPath,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let role = people::parse_role(&body)?;
    act(&state, &caller, id, MemberAction::SetRole(role)).await
}

/// Disable a member
///
/// The member can no longer use the organization and leaves every group of it. Admins only;
/// 400 for the default admin or the last active admin.
#[utoipa::path(delete, operation_id = "disableMember", path = "/organizations/{org}/users/{user}/disable", tag = "members", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("user" = i64, Path, description = "User id")), responses((status = 200, description = "The disabled member; they left every group", body = Item<UserOut>), (status = 400, description = "The default admin, or the last active admin", body = ErrorBody)))]
pub async fn disable(
    Permitted { caller, .. }: Permitted<ManagePeople>,
    UserPath(id): UserPath,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    act(&state, &caller, id, MemberAction::Disable).await
}

/// Enable a member
///
/// Makes a disabled member active again; they do not rejoin the groups they left. Admins
/// only; 404 for a user who is not a member.
#[utoipa::path(put, operation_id = "enableMember", path = "/organizations/{org}/users/{user}/enable", tag = "members", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("user" = i64, Path, description = "User id")), responses((status = 200, description = "The active member", body = Item<UserOut>)))]
pub async fn enable(
    Permitted { caller, .. }: Permitted<ManagePeople>,
    UserPath(id): UserPath,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    act(&state, &caller, id, MemberAction::Enable).await
}

/// Remove a member
///
/// As in Tallyfy, the member stays listed, now `disabled`, and leaves every group; `enable`
/// brings them back. Admins only; 400 for the default admin or the last active admin.
#[utoipa::path(delete, operation_id = "removeMember", path = "/organizations/{org}/users/{user}", tag = "members", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("user" = i64, Path, description = "User id")), responses((status = 200, description = "The member, now disabled and out of every group", body = Item<UserOut>), (status = 400, description = "The default admin, or the last active admin", body = ErrorBody)))]
pub async fn remove(
    Permitted { caller, .. }: Permitted<ManagePeople>,
    UserPath(id): UserPath,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    act(&state, &caller, id, MemberAction::Remove).await
}

/// Convert a member to a guest
///
/// The member becomes a guest of the organization with the same email and leaves every
/// group as a member. Admins only; 400 for the default admin or the last active admin.
#[utoipa::path(post, operation_id = "convertMemberToGuest", path = "/organizations/{org}/users/{user}/to/guest", tag = "members", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("user" = i64, Path, description = "User id")), responses((status = 200, description = "The new guest", body = Item<GuestOut>), (status = 400, description = "The default admin, or the last active admin", body = ErrorBody)))]
pub async fn to_guest(
    Permitted { caller, .. }: Permitted<ManagePeople>,
    UserPath(id): UserPath,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    act(&state, &caller, id, MemberAction::ToGuest).await
}
