//! Every refusal is JSON: unknown routes, wrong methods, malformed ids, server faults.

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::{Method, StatusCode};
use roster_api::{ApiConfig, AppState};
use roster_core::groups::GroupWrite;
use roster_core::listing::ListParams;
use roster_core::model::{Guest, NewUser, Page, TokenRecord};
use roster_core::people::{GuestAction, Invite, MemberAction, MemberChanges, NewGuest};
use roster_core::store::{Bootstrap, GuestOutcome, MemberOutcome, Principal};
use roster_core::token::TokenHash;
use roster_core::{
    Email, Group, GroupId, OrgId, OrgMember, Organization, Store, StoreError, Timestamp, UserId,
    WriteError,
};
use serde_json::json;

use crate::harness::{TestApp, request};

#[tokio::test]
async fn unknown_routes_are_404_endpoint_not_found() {
    let app = TestApp::new().await;
    for path in [
        "/",
        "/nope",
        "/organizations",
        "/api/organizations/x/widgets",
        "/organizations/x/groups/y/z",
    ] {
        let response = app.get(path, &app.admin.token).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            response.json(),
            json!({"error": true, "message": "API endpoint not found", "code": "ENDPOINT_NOT_FOUND"}),
            "{path}"
        );
    }
}

#[tokio::test]
async fn wrong_methods_are_405() {
    let app = TestApp::new().await;
    for (method, path) in [
        (Method::PATCH, app.org_path("/groups")),
        (Method::DELETE, app.org_path("/groups")),
        (Method::POST, "/me".to_owned()),
        (
            Method::POST,
            app.org_path("/groups/0123456789abcdef0123456789abcdef"),
        ),
    ] {
        let response = app
            .call(method.clone(), &path, &app.admin.token, None)
            .await;
        assert_eq!(
            response.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(
            response.json(),
            json!({"error": true, "message": "The method is not allowed for this endpoint.", "code": "METHOD_NOT_ALLOWED"})
        );
    }
}

#[tokio::test]
async fn malformed_ids_are_404_after_authentication() {
    let app = TestApp::new().await;
    let not_found =
        json!({"error": true, "message": "Resource not found", "code": "RESOURCE_NOT_FOUND"});
    for path in [
        app.org_path("/groups/not-a-group"),
        app.org_path("/groups/0123456789ABCDEF0123456789ABCDEF"),
        app.org_path("/groups/0123456789abcdef0123456789abcdef"),
        app.org_path("/groups/%27%20OR%201=1--"),
        "/organizations/not-an-org/groups".to_owned(),
    ] {
        let response = app.get(&path, &app.admin.token).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.json(), not_found, "{path}");
        let anonymous = app.send(request(Method::GET, &path, None, None)).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

/// A store whose every call fails, as a broken disk would make it.
struct BrokenStore;

fn broken() -> StoreError {
    StoreError::new("test", "disk I/O error at /secret/path/roster.db")
}

#[async_trait]
impl Store for BrokenStore {
    async fn principal(
        &self,
        _: &TokenHash,
        _: Option<&OrgId>,
    ) -> Result<Option<Principal>, StoreError> {
        Err(broken())
    }
    async fn list_groups(&self, _: &OrgId, _: &ListParams) -> Result<Page<Group>, StoreError> {
        Err(broken())
    }
    async fn group(&self, _: &OrgId, _: &GroupId) -> Result<Option<Group>, StoreError> {
        Err(broken())
    }
    async fn create_group(&self, _: &OrgId, _: &GroupWrite) -> Result<Group, WriteError> {
        Err(broken().into())
    }
    async fn update_group(
        &self,
        _: &OrgId,
        _: &GroupId,
        _: &GroupWrite,
    ) -> Result<Group, WriteError> {
        Err(broken().into())
    }
    async fn delete_group(&self, _: &OrgId, _: &GroupId) -> Result<bool, StoreError> {
        Err(broken())
    }
    async fn members_by_ids(&self, _: &OrgId, _: &[UserId]) -> Result<Vec<OrgMember>, StoreError> {
        Err(broken())
    }
    async fn list_members(&self, _: &OrgId, _: &ListParams) -> Result<Page<OrgMember>, StoreError> {
        Err(broken())
    }
    async fn member(&self, _: &OrgId, _: UserId) -> Result<Option<OrgMember>, StoreError> {
        Err(broken())
    }
    async fn groups_of_members(
        &self,
        _: &OrgId,
        _: &[UserId],
    ) -> Result<Vec<(UserId, Group)>, StoreError> {
        Err(broken())
    }
    async fn invite_member(&self, _: &OrgId, _: &Invite) -> Result<OrgMember, WriteError> {
        Err(broken().into())
    }
    async fn update_member(
        &self,
        _: &OrgId,
        _: UserId,
        _: &MemberChanges,
    ) -> Result<OrgMember, WriteError> {
        Err(broken().into())
    }
    async fn member_action(
        &self,
        _: &OrgId,
        _: UserId,
        _: MemberAction,
    ) -> Result<MemberOutcome, WriteError> {
        Err(broken().into())
    }
    async fn organizations_of(
        &self,
        _: UserId,
    ) -> Result<Vec<(Organization, OrgMember)>, StoreError> {
        Err(broken())
    }
    async fn list_guests(&self, _: &OrgId, _: &ListParams) -> Result<Page<Guest>, StoreError> {
        Err(broken())
    }
    async fn guest(&self, _: &OrgId, _: &Email) -> Result<Option<Guest>, StoreError> {
        Err(broken())
    }
    async fn create_guest(&self, _: &OrgId, _: &NewGuest) -> Result<Guest, WriteError> {
        Err(broken().into())
    }
    async fn set_guest_associated_members(
        &self,
        _: &OrgId,
        _: &Email,
        _: &[(usize, UserId)],
    ) -> Result<Guest, WriteError> {
        Err(broken().into())
    }
    async fn guest_action(
        &self,
        _: &OrgId,
        _: &Email,
        _: GuestAction,
    ) -> Result<GuestOutcome, WriteError> {
        Err(broken().into())
    }
    async fn bootstrap_if_empty(
        &self,
        _: &str,
        _: &NewUser,
        _: &TokenHash,
        _: Option<Timestamp>,
    ) -> Result<Option<Bootstrap>, StoreError> {
        Err(broken())
    }
    async fn create_org(&self, _: &str) -> Result<Organization, StoreError> {
        Err(broken())
    }
    async fn set_org_allow_non_admins_manage_groups(
        &self,
        _: &OrgId,
        _: bool,
    ) -> Result<Organization, WriteError> {
        Err(broken().into())
    }
    async fn add_member(&self, _: &OrgId, _: &NewUser) -> Result<OrgMember, WriteError> {
        Err(broken().into())
    }
    async fn create_token(
        &self,
        _: &OrgId,
        _: UserId,
        _: &TokenHash,
        _: Option<Timestamp>,
    ) -> Result<TokenRecord, WriteError> {
        Err(broken().into())
    }
}

#[tokio::test]
async fn a_storage_fault_is_a_500_that_reveals_nothing() {
    let router = roster_api::router(AppState::new(Arc::new(BrokenStore), ApiConfig::default()));
    let response = tower::ServiceExt::oneshot(
        router,
        request(
            Method::GET,
            "/organizations/0123456789abcdef0123456789abcdef/groups",
            Some("t"),
            None,
        ),
    )
    .await
    .expect("router");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(
        body,
        json!({"error": true, "message": "Something went wrong on our side.", "code": "INTERNAL_SERVER_ERROR"})
    );
}
