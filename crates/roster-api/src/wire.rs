//! Tallyfy's JSON shapes (League/Fractal's `DataArraySerializer`): items as
//! `{"data": {...}}`, lists with `meta.pagination`, includes as `{"data": [...]}`.

use roster_core::listing::ListParams;
use roster_core::model::Guest;
use roster_core::people::GuestDetails;
use roster_core::{Email, Group, OrgMember, Organization, Timestamp, User, UserId};
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
    pub timezone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_default_admin: Option<bool>,
    pub created_at: Timestamp,
    pub last_updated: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Collection<GroupOut<'a>>>,
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
            timezone: user.timezone.as_deref(),
            role: None,
            status: None,
            is_default_admin: None,
            created_at: user.created_at,
            last_updated: user.updated_at,
            groups: None,
        }
    }

    /// The account as a member of one organization.
    pub fn of(member: &'a OrgMember) -> Self {
        Self {
            role: Some(member.role.as_str()),
            status: Some(member.status.as_str()),
            is_default_admin: Some(member.is_default_admin),
            ..Self::account(&member.user)
        }
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
    /// Left out of `PATCH` answers, whose cost must not grow with the group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<&'a [UserId]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guests: Option<&'a [Email]>,
    pub member_count: u64,
    pub guest_count: u64,
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
            members: Some(&group.members),
            guests: Some(&group.guests),
            member_count: group.member_count,
            guest_count: group.guest_count,
            created_at: group.created_at,
            last_updated: group.updated_at,
            updated_at: group.updated_at,
            assets: None,
            users: None,
        }
    }

    /// The group without its member and guest lists.
    pub fn summary(group: &'a Group) -> Self {
        Self { members: None, guests: None, ..Self::new(group) }
    }
}

/// A guest, with Tallyfy's optional contact fields nested under `details`.
#[derive(Serialize)]
pub struct GuestOut<'a> {
    pub id: i64,
    pub email: &'a Email,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub created_at: Timestamp,
    pub last_updated: Timestamp,
    pub deleted_at: Option<Timestamp>,
    pub details: GuestDetailsOut<'a>,
}

#[derive(Serialize)]
pub struct GuestDetailsOut<'a> {
    pub status: &'static str,
    #[serde(flatten)]
    pub fields: &'a GuestDetails,
    pub associated_members: Option<&'a [UserId]>,
    pub disabled_at: Option<Timestamp>,
}

impl<'a> GuestOut<'a> {
    pub fn new(guest: &'a Guest) -> Self {
        Self {
            id: guest.id,
            email: &guest.email,
            first_name: guest.first_name.as_deref(),
            last_name: guest.last_name.as_deref(),
            created_at: guest.created_at,
            last_updated: guest.updated_at,
            deleted_at: None,
            details: GuestDetailsOut {
                status: guest.status.as_str(),
                fields: &guest.details,
                associated_members: guest.associated_members.as_deref(),
                disabled_at: guest.disabled_at,
            },
        }
    }
}

/// An organization as `GET /me/organizations` lists it, with the caller's standing there.
#[derive(Serialize)]
pub struct OrgOut<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub created_at: Timestamp,
    pub role: &'static str,
    pub status: &'static str,
}

impl<'a> OrgOut<'a> {
    pub fn new(org: &'a Organization, member: &OrgMember) -> Self {
        Self {
            id: org.id.as_str(),
            name: &org.name,
            created_at: org.created_at,
            role: member.role.as_str(),
            status: member.status.as_str(),
        }
    }
}
