//! Who is calling: the `X-Tallyfy-Client` check, the bearer token, and the caller's
//! standing in the organization the path names.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use roster_core::events::{Actor, Origin};
use roster_core::permissions::Membership;
use roster_core::store::{ChangeEpoch, Principal, PrincipalHeads};
use roster_core::token::{LAST_USED_RESOLUTION_MILLIS, TokenHash};
use roster_core::{OrgId, Timestamp, User};

use crate::{ApiError, AppState};

const CLIENT_HEADER: &str = "x-tallyfy-client";

/// The bearer token, after the client-header check Tallyfy makes first.
fn presented_token(parts: &Parts, state: &AppState) -> Result<TokenHash, ApiError> {
    if state.config.require_client_header {
        let has_client = parts
            .headers
            .get(CLIENT_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| !v.trim().is_empty());
        if !has_client {
            return Err(ApiError::missing_client_header());
        }
    }
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthenticated)?;
    let (scheme, token) = header.trim().split_once(' ').ok_or_else(ApiError::unauthenticated)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::unauthenticated());
    }
    Ok(TokenHash::of(token))
}

/// The caller's principal: remembered when what it depends on is unchanged, else read.
/// A remembered token's expiry is checked again on every reuse.
async fn principal(
    parts: &Parts,
    state: &AppState,
    org: Option<&OrgId>,
) -> Result<Principal, ApiError> {
    let token = presented_token(parts, state)?;
    let principal = match org {
        Some(org) => org_principal(state, token, org).await?,
        None => principal_in_no_org(state, token).await?,
    };
    if !principal.is_live_at(state.store.clock().now()) {
        return Err(ApiError::unauthenticated());
    }
    record_use(state, &principal);
    // Whatever this request changes is recorded as this user's, through this token.
    Origin::amend(|origin| {
        origin.actor = Actor::User {
            id: principal.user.id,
            email: principal.user.email.clone(),
            token_id: principal.token_id,
        };
    });
    Ok(principal)
}

/// The principal for `org`, reused while the heads of its token's org and of `org`
/// are the ones it was read at (see `PrincipalHeads`); on PostgreSQL both are checked
/// in one trivial statement instead of the token lookup's join.
async fn org_principal(
    state: &AppState,
    token: TokenHash,
    org: &OrgId,
) -> Result<Principal, ApiError> {
    use std::sync::atomic::Ordering::Relaxed;
    if let Some(kept) = state.caches.org_principals.get(&token, org)
        && let Some(heads) = kept.heads
    {
        let asked: &[&OrgId] =
            if kept.token_org == *org { &[org] } else { &[&kept.token_org, org] };
        let now = state.store.org_heads(asked).await?;
        if let (Some(token_org), Some(&org_head)) = (now.first(), now.last())
            && token_org.callers == heads.token_org
            && org_head.callers == heads.org.callers
        {
            state.metrics.principal_hits.fetch_add(1, Relaxed);
            return Ok(Principal {
                heads: Some(PrincipalHeads { token_org: token_org.head, org: org_head }),
                ..kept
            });
        }
    }
    state.metrics.principal_misses.fetch_add(1, Relaxed);
    let principal =
        state.store.principal(&token, Some(org)).await?.ok_or_else(ApiError::unauthenticated)?;
    state.caches.org_principals.insert(token, org, principal.clone());
    Ok(principal)
}

/// The principal of a token asked about no org, reused while nothing at all has been
/// committed (where the backend can tell).
async fn principal_in_no_org(state: &AppState, token: TokenHash) -> Result<Principal, ApiError> {
    let epoch = state.store.change_epoch().await?;
    if let Some(kept) = epoch.and_then(|epoch| state.caches.principals.get(epoch, &token)) {
        return Ok(kept);
    }
    let principal =
        state.store.principal(&token, None).await?.ok_or_else(ApiError::unauthenticated)?;
    if let Some(epoch) = epoch {
        state.caches.principals.insert(epoch, token, principal.clone(), 1);
    }
    Ok(principal)
}

/// Notes the token's use when the record is stale, off the request's path: a lost update
/// costs nothing but a slightly older `last_used_at`. Once per token per resolution
/// period and instance: the requests that arrive before the note is written (and, with
/// the read cache, still see the stale record) do not write it again.
fn record_use(state: &AppState, principal: &Principal) {
    let now = state.store.clock().now();
    let stale = principal
        .token_last_used_at
        .is_none_or(|last| now.millis() - last.millis() >= LAST_USED_RESOLUTION_MILLIS);
    if stale && state.token_uses.first_in_period(principal.token_id, now) {
        let (store, id) = (state.store.clone(), principal.token_id);
        tokio::spawn(async move {
            if let Err(err) = store.touch_token(id, now).await {
                tracing::warn!(context = err.context, detail = %err.detail, "could not record token use");
            }
        });
    }
}

/// When this instance last noted each token's use.
#[derive(Default)]
pub struct RecentUses(std::sync::Mutex<std::collections::HashMap<i64, i64>>);

impl RecentUses {
    /// Whether no use of `token` was noted in the last resolution period; notes this one.
    fn first_in_period(&self, token: i64, now: Timestamp) -> bool {
        let mut noted = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if noted.get(&token).is_some_and(|at| now.millis() - at < LAST_USED_RESOLUTION_MILLIS) {
            return false;
        }
        // Bounded: forgetting only means one more (harmless) note.
        if noted.len() >= 10_000 {
            noted.clear();
        }
        noted.insert(token, now.millis());
        true
    }
}

/// Any holder of a live token, whatever organization (for `GET /me`).
pub struct Caller {
    pub user: Arc<User>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = principal(parts, state, None).await?;
        Ok(Self { user: principal.user })
    }
}

/// An active member of the organization in the path (`{org}`).
pub struct OrgCaller {
    pub org: OrgId,
    pub user: Arc<User>,
    pub membership: Membership,
    /// The token the caller presented (its id, never its value).
    pub token_id: i64,
    /// The org's epoch, learned with the principal (see `PrincipalHeads::org`).
    pub org_epoch: Option<Option<ChangeEpoch>>,
}

impl FromRequestParts<AppState> for OrgCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let org = crate::path::parsed_param(parts, state, "org", OrgId::parse).await;
        // Authenticate before saying anything about the org, even that its id is malformed.
        let principal = principal(parts, state, org.as_ref()).await?;
        let org = org.ok_or_else(ApiError::not_found)?;
        let membership = principal
            .membership
            .filter(Membership::can_access_org)
            .ok_or_else(ApiError::not_in_org)?;
        let org_epoch = principal.heads.map(|heads| heads.org.epoch_at(state.store.clock().now()));
        Ok(Self { org, user: principal.user, membership, token_id: principal.token_id, org_epoch })
    }
}

/// A permission an [`OrgCaller`] must hold for a route, checked before the body is read
/// so that a refused caller learns nothing about their input.
pub trait Permission {
    fn allows(membership: &Membership) -> bool;
}

/// Tallyfy's `manage_groups`.
pub struct ManageGroups;

impl Permission for ManageGroups {
    fn allows(membership: &Membership) -> bool {
        membership.can_manage_groups()
    }
}

/// Changing members and guests: admins only.
pub struct ManagePeople;

impl Permission for ManagePeople {
    fn allows(membership: &Membership) -> bool {
        membership.can_manage_people()
    }
}

/// The org's administrators (the change stream and the audit log).
pub struct Admins;

impl Permission for Admins {
    fn allows(membership: &Membership) -> bool {
        membership.role == roster_core::Role::Admin
    }
}

/// An active member of the path's organization who holds permission `P`.
pub struct Permitted<P> {
    pub caller: OrgCaller,
    _permission: PhantomData<P>,
}

impl<P: Permission> FromRequestParts<AppState> for Permitted<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = OrgCaller::from_request_parts(parts, state).await?;
        if P::allows(&caller.membership) {
            Ok(Self { caller, _permission: PhantomData })
        } else {
            Err(ApiError::forbidden())
        }
    }
}
