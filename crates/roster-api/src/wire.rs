//! Tallyfy's JSON shapes (League/Fractal's `DataArraySerializer`): items as
//! `{"data": {...}}`, lists with `meta.pagination`, includes as `{"data": [...]}`.

use roster_core::listing::ListParams;
use roster_core::model::Guest;
use roster_core::people::GuestDetails;
use roster_core::{Email, Group, OrgMember, Organization, Timestamp, User, UserId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::query::{Origin, PageLinks};

#[derive(Serialize, ToSchema)]
pub struct Item<T> {
    pub data: T,
}

/// A nested include.
#[derive(Serialize, ToSchema)]
pub struct Collection<T> {
    pub data: Vec<T>,
}

#[derive(Serialize, ToSchema)]
pub struct List<T> {
    pub data: Vec<T>,
    pub meta: Meta,
}

#[derive(Serialize, ToSchema)]
pub struct Meta {
    pub pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct Pagination {
    pub total: u64,
    pub count: usize,
    pub per_page: u64,
    pub current_page: u64,
    pub total_pages: u64,
    pub links: Links,
}

/// `previous` and `next` appear only where that page exists; otherwise `{}`.
#[derive(Serialize, ToSchema)]
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

#[derive(Serialize, ToSchema)]
pub struct UserOut<'a> {
    /// The account's global id.
    #[schema(value_type = i64, minimum = 1, example = 1001)]
    pub id: UserId,
    #[schema(value_type = String, format = Email, example = "ada@example.com")]
    pub email: &'a Email,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub full_name: String,
    pub timezone: Option<&'a str>,
    /// `admin`, `standard` or `light`; shown under an organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "admin")]
    pub role: Option<&'static str>,
    /// `active`, `invited` or `disabled`; shown under an organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_default_admin: Option<bool>,
    #[schema(value_type = String, format = DateTime, example = "2025-06-10T14:30:00.000Z")]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime, example = "2025-06-10T14:30:00.000Z")]
    pub last_updated: Timestamp,
    /// With `with=groups`: the member's groups, as `{"data": [group]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub groups: Option<Collection<GroupOut<'a>>>,
    /// In a group's member listing (and its `with=users`): when the membership ends, or
    /// null when it is permanent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Option<Timestamp>>,
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
            expires_at: None,
        }
    }

    /// A member as one group shows them: with when their membership ends.
    pub fn in_group(member: &'a OrgMember, expires_at: Option<Timestamp>) -> Self {
        Self { expires_at: Some(expires_at), ..Self::of(member) }
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

/// A stored file, as Tallyfy's `AssetTransformer` shows it: here, a group's logo.
#[derive(Serialize, ToSchema)]
pub struct AssetOut<'a> {
    #[schema(pattern = "^[a-f0-9]{32}$")]
    pub id: &'a str,
    #[schema(example = "logo.png")]
    pub filename: &'a str,
    /// Goes up with every upload to the group.
    pub version: i64,
    #[schema(value_type = String, format = DateTime)]
    pub uploaded_at: Timestamp,
    #[schema(example = "group_logo")]
    pub uploaded_from: &'a str,
    /// Always `local`: the bytes live in Roster's database.
    pub source: &'static str,
    pub subject: AssetSubject<'a>,
    /// Where the bytes are served, without a token.
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct AssetSubject<'a> {
    /// The group's id.
    pub id: &'a str,
    /// Always `Group`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl<'a> AssetOut<'a> {
    pub fn of_logo(group: &'a Group, origin: &Origin) -> Option<Self> {
        let logo = group.logo.as_ref()?;
        Some(Self {
            id: logo.asset_id.as_str(),
            filename: &logo.filename,
            version: logo.version,
            uploaded_at: logo.uploaded_at,
            uploaded_from: &logo.uploaded_from,
            source: "local",
            subject: AssetSubject { id: group.id.as_str(), kind: "Group" },
            url: logo_url(&logo.asset_id, origin),
        })
    }
}

/// The bytes of a JSON answer, serialized into one buffer sized for a page of groups
/// (axum's `Json` starts at 128 bytes and regrows five times for a 4 KiB page).
pub fn json_bytes<T: Serialize>(body: &T) -> Result<Vec<u8>, crate::ApiError> {
    let mut buf = Vec::with_capacity(4096);
    serde_json::to_writer(&mut buf, body)
        .map_err(|e| crate::ApiError::internal("serialize an answer", e))?;
    Ok(buf)
}

/// An answer whose body is JSON already serialized.
pub fn json_answer(
    status: axum::http::StatusCode,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Where a logo is served.
pub fn logo_url(asset: &roster_core::AssetId, origin: &Origin) -> String {
    origin.url(&format!("/logos/{asset}"))
}

#[derive(Serialize, ToSchema)]
pub struct GroupOut<'a> {
    /// 32 lowercase hex characters.
    #[schema(pattern = "^[a-f0-9]{32}$", example = "53a4560dc877f9b4f709f97630efbb5a")]
    pub id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    /// The logo's URL (served without a token), or null.
    pub logo: Option<String>,
    /// Member user ids, ascending. Left out of `PATCH` answers, whose cost must not grow
    /// with the group.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<i64>>, example = json!([1001, 1005]))]
    pub members: Option<&'a [UserId]>,
    /// Guest emails, lowercased, ascending. Left out of `PATCH` answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>, example = json!(["client.a@example.com"]))]
    pub guests: Option<&'a [Email]>,
    pub member_count: u64,
    pub guest_count: u64,
    #[schema(value_type = String, format = DateTime, example = "2025-06-10T14:30:00.000Z")]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime, example = "2025-06-10T14:30:00.000Z")]
    pub last_updated: Timestamp,
    /// The same as `last_updated`, under its older name.
    #[schema(value_type = String, format = DateTime, example = "2025-06-10T14:30:00.000Z")]
    pub updated_at: Timestamp,
    /// With `with=assets`: the logo's asset records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assets: Option<Collection<AssetOut<'a>>>,
    /// With `with=users`: the members' user objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<Collection<UserOut<'a>>>,
    /// When the group went to the trash (`DELETE`); null for a live group. Only the
    /// trash routes (`trashed=only|with`) show a trashed group.
    #[schema(value_type = Option<String>, format = DateTime, example = json!(null))]
    pub deleted_at: Option<Timestamp>,
}

impl<'a> GroupOut<'a> {
    pub fn new(group: &'a Group, origin: &Origin) -> Self {
        Self {
            id: group.id.as_str(),
            name: &group.name,
            description: &group.description,
            logo: group.logo.as_ref().map(|logo| logo_url(&logo.asset_id, origin)),
            members: Some(&group.members),
            guests: Some(&group.guests),
            member_count: group.member_count,
            guest_count: group.guest_count,
            created_at: group.created_at,
            last_updated: group.updated_at,
            updated_at: group.updated_at,
            assets: None,
            users: None,
            deleted_at: group.deleted_at,
        }
    }

    /// The group without its member and guest lists.
    pub fn summary(group: &'a Group, origin: &Origin) -> Self {
        Self { members: None, guests: None, ..Self::new(group, origin) }
    }
}

/// A guest, with Tallyfy's optional contact fields nested under `details`.
#[derive(Serialize, ToSchema)]
pub struct GuestOut<'a> {
    pub id: i64,
    #[schema(value_type = String, format = Email, example = "client.a@example.com")]
    pub email: &'a Email,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub last_updated: Timestamp,
    /// Always null: deleted guests are gone.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deleted_at: Option<Timestamp>,
    pub details: GuestDetailsOut<'a>,
    /// In a group's guest listing: when the membership ends, or null when permanent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Option<Timestamp>>,
}

#[derive(Serialize, ToSchema)]
pub struct GuestDetailsOut<'a> {
    /// `active` or `disabled`.
    pub status: &'static str,
    pub phone_1: Option<&'a str>,
    pub phone_2: Option<&'a str>,
    pub timezone: Option<&'a str>,
    pub image_url: Option<&'a str>,
    pub contact_url: Option<&'a str>,
    pub company_url: Option<&'a str>,
    pub opportunity_url: Option<&'a str>,
    pub company_name: Option<&'a str>,
    pub opportunity_name: Option<&'a str>,
    /// Member user ids, or null until set.
    #[schema(value_type = Option<Vec<i64>>)]
    pub associated_members: Option<&'a [UserId]>,
    #[schema(value_type = Option<String>, format = DateTime)]
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
            details: GuestDetailsOut::new(guest),
            expires_at: None,
        }
    }

    /// A guest as one group shows them: with when their membership ends.
    pub fn in_group(guest: &'a Guest, expires_at: Option<Timestamp>) -> Self {
        Self { expires_at: Some(expires_at), ..Self::new(guest) }
    }
}

impl<'a> GuestDetailsOut<'a> {
    fn new(guest: &'a Guest) -> Self {
        let d: &'a GuestDetails = &guest.details;
        Self {
            status: guest.status.as_str(),
            phone_1: d.phone_1.as_deref(),
            phone_2: d.phone_2.as_deref(),
            timezone: d.timezone.as_deref(),
            image_url: d.image_url.as_deref(),
            contact_url: d.contact_url.as_deref(),
            company_url: d.company_url.as_deref(),
            opportunity_url: d.opportunity_url.as_deref(),
            company_name: d.company_name.as_deref(),
            opportunity_name: d.opportunity_name.as_deref(),
            associated_members: guest.associated_members.as_deref(),
            disabled_at: guest.disabled_at,
        }
    }
}

/// An organization as `GET /me/organizations` lists it, with the caller's standing there.
#[derive(Serialize, ToSchema)]
pub struct OrgOut<'a> {
    #[schema(pattern = "^[a-f0-9]{32}$")]
    pub id: &'a str,
    pub name: &'a str,
    #[schema(value_type = String, format = DateTime)]
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
