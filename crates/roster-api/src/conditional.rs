//! Versions on the wire: `ETag: "<version>"`, `If-Match` (412 when stale) and
//! `If-None-Match` (304 when unchanged).

use axum::extract::FromRequestParts;
use axum::http::header::{ETAG, IF_MATCH, IF_NONE_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_core::groups::IfMatch;

use crate::{ApiError, AppState};

pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Adds the ETag of `version` to a response.
pub fn with_etag(mut response: Response, version: i64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(ETAG, value);
    }
    response
}

/// Versions named by an entity-tag list. Weak tags never match (RFC 9110 strong comparison
/// for `If-Match`), nor does anything that is not one of our tags.
fn versions(list: &str) -> Vec<i64> {
    list.split(',')
        .filter_map(|tag| tag.trim().strip_prefix('"')?.strip_suffix('"')?.parse().ok())
        .collect()
}

/// The request's `If-Match`, if any.
pub struct IfMatchHeader(pub Option<IfMatch>);

impl FromRequestParts<AppState> for IfMatchHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(IF_MATCH) else {
            return Ok(Self(None));
        };
        let raw = value.to_str().unwrap_or_default().trim();
        Ok(Self(Some(if raw == "*" { IfMatch::Any } else { IfMatch::Versions(versions(raw)) })))
    }
}

/// `304 Not Modified` when `If-None-Match` already names this version.
pub fn not_modified(headers: &HeaderMap, version: i64) -> Option<Response> {
    let raw = headers.get(IF_NONE_MATCH)?.to_str().ok()?.trim();
    // If-None-Match compares weakly: `W/"3"` matches version 3.
    let matches = raw == "*"
        || raw
            .split(',')
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == etag(version));
    matches.then(|| with_etag(StatusCode::NOT_MODIFIED.into_response(), version))
}
