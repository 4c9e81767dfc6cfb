//! Tallyfy's JSON shapes (League/Fractal's `DataArraySerializer`): items as
//! `{"data": {...}}`, lists with `meta.pagination`, includes as `{"data": [...]}`.

use roster_core::listing::ListParams;
use roster_core::{Email, Group, OrgMember, Timestamp, User, UserId};
use serde::Serialize;

use crate::query::PageLinks;

#[derive(Serialize)]
pub struct Item<T> {
    pub data: T,
}

/// A nested include.
#[derive(Serialize)]
pub struct Collection<T> {
    pub data: Vec<T>,
}

#[derive(Serialize)]
pub struct List<T> {
    pub data: Vec<T>,
    pub meta: Meta,
}

#[derive(Serialize)]
pub struct Meta {
    pub pagination: Pagination,
}

#[derive(Serialize)]
pub struct Pagination {
    pub total: u64,
    pub count: usize,
    pub per_page: u64,
    pub current_page: u64,
    pub total_pages: u64,
    pub links: Links,
}

/// `previous` and `next` appear only where that page exists; otherwise `{}`.
#[derive(Serialize)]
pub struct Links {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl Pagination {
    pub fn new(params: &ListParams, total: u64, count: usize, links: &PageLinks<'_>) -> Self {
        let total_pages = params.total_pages(total);
        let page = params.page;
        let exists = |p: u64| (1..=total_pages).contains(&p);
        Self {
            total,
            count,
            per_page: params.per_page,
            current_page: page,
            total_pages,
            links: Links {
                previous: (page > 1 && exists(page - 1)).then(|| links.page(page - 1)),
                next: exists(page + 1).then(|| links.page(page + 1)),
            },
        }
    }
}

#[derive(Serialize)]
pub struct UserOut<'a> {
    pub id: UserId,
    pub email: &'a Email,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub full_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    pub created_at: Timestamp,
    pub last_updated: Timestamp,
}

impl<'a> UserOut<'a> {
    /// The account alone, as `GET /me` shows it.
    pub fn account(user: &'a User) -> Self {
        Self {
            id: user.id,
            email: &user.email,
            first_name: &user.first_name,
            last_name: &user.last_name,
            full_name: user.full_name(),
            role: None,
            status: None,
            created_at: user.created_at,
            last_updated: user.updated_at,
        }
    }

    /// The account as a member of one organization.
    pub fn member(
        user: &'a User,
        role: roster_core::Role,
        status: roster_core::MemberStatus,
    ) -> Self {
        Self {
            role: Some(role.as_str()),
            status: Some(status.as_str()),
            ..Self::account(user)
        }
    }

    pub fn of(member: &'a OrgMember) -> Self {
        Self::member(&member.user, member.role, member.status)
    }
}

/// Asset records arrive with group logos; until then the include is always empty.
#[derive(Serialize)]
pub enum NoAsset {}

#[derive(Serialize)]
pub struct GroupOut<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub logo: Option<&'a str>,
    pub members: &'a [UserId],
    pub guests: &'a [Email],
    pub created_at: Timestamp,
    pub last_updated: Timestamp,
    pub updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assets: Option<Collection<NoAsset>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<Collection<UserOut<'a>>>,
}

impl<'a> GroupOut<'a> {
    pub fn new(group: &'a Group) -> Self {
        Self {
            id: group.id.as_str(),
            name: &group.name,
            description: &group.description,
            logo: None,
            members: &group.members,
            guests: &group.guests,
            created_at: group.created_at,
            last_updated: group.updated_at,
            updated_at: group.updated_at,
            assets: None,
            users: None,
        }
    }
}
