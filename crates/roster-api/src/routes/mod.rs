//! One module per resource.

mod group_people;
mod groups;
mod guests;
mod me;
mod users;

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::AppState;

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/me", get(me::me))
        .route("/me/organizations", get(me::organizations))
        .route("/organizations/{org}/me", get(me::org_me))
        .route("/organizations/{org}/groups", get(groups::list).post(groups::create))
        .route(
            "/organizations/{org}/groups/{group}",
            get(groups::get).put(groups::update).delete(groups::delete),
        )
        .route(
            "/organizations/{org}/groups/{group}/members",
            get(group_people::members).patch(group_people::patch_members),
        )
        .route(
            "/organizations/{org}/groups/{group}/guests",
            get(group_people::guests).patch(group_people::patch_guests),
        )
        .route("/organizations/{org}/users", get(users::list))
        .route("/organizations/{org}/users-list", get(users::list_all))
        .route("/organizations/{org}/users/invite", post(users::invite))
        .route(
            "/organizations/{org}/users/{user}",
            get(users::get).put(users::update).delete(users::remove),
        )
        .route("/organizations/{org}/users/{user}/role", put(users::set_role))
        .route("/organizations/{org}/users/{user}/disable", delete(users::disable))
        .route("/organizations/{org}/users/{user}/enable", put(users::enable))
        .route("/organizations/{org}/users/{user}/to/guest", post(users::to_guest))
        .route("/organizations/{org}/guests", get(guests::list).post(guests::create))
        .route("/organizations/{org}/guests-list", get(guests::list_all))
        .route(
            "/organizations/{org}/guests/{email}",
            get(guests::get).put(guests::update).delete(guests::delete),
        )
        .route("/organizations/{org}/guests/{email}/disable", delete(guests::disable))
        .route("/organizations/{org}/guests/{email}/enable", put(guests::enable))
        .route("/organizations/{org}/guests/{email}/to/member", post(guests::to_member))
}
