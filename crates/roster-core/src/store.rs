//! The storage trait. Each backend implements it once; handlers only ever see `dyn Store`.
//!
//! Every method that touches a group, member, guest or token takes the organization it
//! belongs to: nothing can be reached without its tenant.

use async_trait::async_trait;

use crate::groups::GroupWrite;
use crate::listing::ListParams;
use crate::model::{NewUser, Page, TokenRecord};
use crate::permissions::Membership;
use crate::token::TokenHash;
use crate::{Group, GroupId, OrgId, OrgMember, Organization, User, UserId, ValidationErrors};

/// A failure of the storage itself. Callers log it and answer 500; it never reaches a client.
#[derive(Debug, thiserror::Error)]
#[error("storage failure in {context}: {detail}")]
pub struct StoreError {
    pub context: &'static str,
    pub detail: String,
}

impl StoreError {
    pub fn new(context: &'static str, detail: impl std::fmt::Display) -> Self {
        Self {
            context,
            detail: detail.to_string(),
        }
    }
}

/// Why a write was refused.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("not found")]
    NotFound,
    #[error("invalid: {0:?}")]
    Invalid(ValidationErrors),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who a bearer token speaks for, and their standing in the organization asked about.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: User,
    /// `None` when the user does not belong to that organization (or none was asked about).
    pub membership: Option<Membership>,
}

/// What a first start against an empty database created.
#[derive(Clone, Debug)]
pub struct Bootstrap {
    pub org: Organization,
    pub admin: OrgMember,
    pub token: TokenRecord,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- auth ---

    /// Resolves a live (unrevoked, unexpired) token to its user and, when `org` is given,
    /// that user's membership there. `None` for an unknown, revoked or expired token.
    async fn principal(
        &self,
        token: &TokenHash,
        org: Option<&OrgId>,
    ) -> Result<Option<Principal>, StoreError>;

    // --- groups ---

    async fn list_groups(
        &self,
        org: &OrgId,
        params: &ListParams,
    ) -> Result<Page<Group>, StoreError>;

    async fn group(&self, org: &OrgId, id: &GroupId) -> Result<Option<Group>, StoreError>;

    /// Creates a group after checking its references with `groups::check_references`
    /// in the same transaction. Guest emails new to the org become guests of it.
    async fn create_group(&self, org: &OrgId, write: &GroupWrite) -> Result<Group, WriteError>;

    /// Applies a partial update under the same rules as create.
    async fn update_group(
        &self,
        org: &OrgId,
        id: &GroupId,
        write: &GroupWrite,
    ) -> Result<Group, WriteError>;

    /// `false` when there was no such group in the org.
    async fn delete_group(&self, org: &OrgId, id: &GroupId) -> Result<bool, StoreError>;

    /// The org's members among `ids`, in ascending id order.
    async fn members_by_ids(
        &self,
        org: &OrgId,
        ids: &[UserId],
    ) -> Result<Vec<OrgMember>, StoreError>;

    // --- administration (command line) ---

    /// On a database with no organization, creates one with an admin and a token for them,
    /// atomically; `None` when the database already holds an organization.
    async fn bootstrap_if_empty(
        &self,
        org_name: &str,
        admin: &NewUser,
        token: &TokenHash,
        token_expires_at: Option<crate::Timestamp>,
    ) -> Result<Option<Bootstrap>, StoreError>;

    async fn create_org(&self, name: &str) -> Result<Organization, StoreError>;

    async fn set_org_allow_non_admins_manage_groups(
        &self,
        org: &OrgId,
        allow: bool,
    ) -> Result<Organization, WriteError>;

    /// Adds a member to the org, creating the account unless one has that email already.
    async fn add_member(&self, org: &OrgId, user: &NewUser) -> Result<OrgMember, WriteError>;

    /// Records a token for a member of the org.
    async fn create_token(
        &self,
        org: &OrgId,
        user: UserId,
        token: &TokenHash,
        expires_at: Option<crate::Timestamp>,
    ) -> Result<TokenRecord, WriteError>;
}
