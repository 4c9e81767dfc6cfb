//! One module per resource. Routes are registered through `utoipa_axum`, so a route
//! cannot exist without its entry in the OpenAPI document.

mod events;
mod group_people;
mod groups;
mod guests;
mod logos;
mod me;
mod users;
mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use roster_core::OrgId;
use roster_core::events::Cursor;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// On every listing: the org's change stream cursor, read in the same snapshot as the
/// page, so that following the feed from it misses no change made after the page.
pub const ROSTER_CURSOR: HeaderName = HeaderName::from_static("roster-cursor");

pub fn cursor_header(org: &OrgId, head: u64) -> HeaderValue {
    // Hex and ASCII only: always a valid header value.
    HeaderValue::from_str(&Cursor(head).encode(org)).unwrap_or(HeaderValue::from_static(""))
}

pub fn with_cursor(mut response: Response, org: &OrgId, head: u64) -> Response {
    response.headers_mut().insert(ROSTER_CURSOR, cursor_header(org, head));
    response
}

/// The API's routes; JSON bodies may be at most `max_body_bytes`.
pub fn api_routes(max_body_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me::me))
        .routes(routes!(me::organizations))
        .routes(routes!(me::org_me))
        .routes(routes!(groups::list, groups::create))
        .routes(routes!(groups::get, groups::update, groups::delete))
        .routes(routes!(groups::restore))
        .routes(routes!(group_people::members, group_people::patch_members))
        .routes(routes!(group_people::guests, group_people::patch_guests))
        .routes(routes!(users::list))
        .routes(routes!(users::list_all))
        .routes(routes!(users::invite))
        .routes(routes!(users::get, users::update, users::remove))
        .routes(routes!(users::set_role))
        .routes(routes!(users::disable))
        .routes(routes!(users::enable))
        .routes(routes!(users::to_guest))
        .routes(routes!(guests::list, guests::create))
        .routes(routes!(guests::list_all))
        .routes(routes!(guests::get, guests::update, guests::delete))
        .routes(routes!(guests::disable))
        .routes(routes!(guests::enable))
        .routes(routes!(guests::to_member))
        .routes(routes!(events::feed))
        .routes(routes!(events::audit_log))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::rotate))
        .routes(routes!(webhooks::ping))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::delivery))
        .routes(routes!(webhooks::retry))
        .routes(routes!(webhooks::recover))
        .routes(routes!(webhooks::replay))
        .routes(routes!(logos::serve))
        .routes(routes!(crate::ops::healthz))
        .routes(routes!(crate::ops::readyz))
        .routes(routes!(crate::ops::metrics))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .merge(
            // Only the uploads take bodies bigger than axum's 2 MB default.
            OpenApiRouter::new()
                .routes(routes!(logos::upload, logos::remove))
                .routes(routes!(logos::generic_upload))
                .layer(DefaultBodyLimit::max(logos::BODY_LIMIT)),
        )
}
