//! Path segments that name a resource. A malformed one names nothing: 404, exactly as
//! for an unknown one.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use roster_core::webhooks::WebhookId;
use roster_core::{Email, GroupId, UserId};

use crate::{ApiError, AppState};

/// The named path segment, parsed; `None` when it is missing or does not parse.
pub(crate) async fn parsed_param<T>(
    parts: &mut Parts,
    state: &AppState,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    let params = RawPathParams::from_request_parts(parts, state).await.ok()?;
    params.iter().find(|(key, _)| *key == name).and_then(|(_, value)| parse(value))
}

async fn param<T>(
    parts: &mut Parts,
    state: &AppState,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, ApiError> {
    parsed_param(parts, state, name, parse).await.ok_or_else(ApiError::not_found)
}

/// `{group}`: a 32-hex group id.
pub struct GroupPath(pub GroupId);

impl FromRequestParts<AppState> for GroupPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        param(parts, state, "group", GroupId::parse).await.map(Self)
    }
}

/// `{user}`: a positive integer user id.
pub struct UserPath(pub UserId);

impl FromRequestParts<AppState> for UserPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        param(parts, state, "user", |raw| raw.parse::<i64>().ok().and_then(UserId::new))
            .await
            .map(Self)
    }
}

/// `{email}`: a guest's URL-encoded email, matched without regard to case.
pub struct GuestPath(pub Email);

impl FromRequestParts<AppState> for GuestPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        param(parts, state, "email", Email::parse).await.map(Self)
    }
}

/// `{webhook}`: a 32-hex webhook endpoint id.
pub struct WebhookPath(pub WebhookId);

impl FromRequestParts<AppState> for WebhookPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        param(parts, state, "webhook", WebhookId::parse).await.map(Self)
    }
}

/// `{delivery}`: a positive integer delivery id.
pub struct DeliveryPath(pub i64);

impl FromRequestParts<AppState> for DeliveryPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        param(parts, state, "delivery", |raw| raw.parse::<i64>().ok().filter(|id| *id > 0))
            .await
            .map(Self)
    }
}
