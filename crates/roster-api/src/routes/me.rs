//! `GET /me`: clients validate their token with it.

use axum::Json;
use axum::response::{IntoResponse, Response};

use crate::auth::{Caller, OrgCaller};
use crate::wire::{Item, UserOut};

pub async fn me(caller: Caller) -> Response {
    Json(Item {
        data: UserOut::account(&caller.user),
    })
    .into_response()
}

pub async fn org_me(caller: OrgCaller) -> Response {
    let user = UserOut::member(
        &caller.user,
        caller.membership.role,
        caller.membership.status,
    );
    Json(Item { data: user }).into_response()
}
