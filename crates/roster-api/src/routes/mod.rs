//! One module per resource.

mod groups;
mod me;

use axum::Router;
use axum::routing::get;

use crate::AppState;

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/me", get(me::me))
        .route("/organizations/{org}/me", get(me::org_me))
        .route(
            "/organizations/{org}/groups",
            get(groups::list).post(groups::create),
        )
        .route(
            "/organizations/{org}/groups/{group}",
            get(groups::get).put(groups::update).delete(groups::delete),
        )
}
