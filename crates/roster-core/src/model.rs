//! The things Roster stores, as the domain sees them.

use crate::{AssetId, Email, GroupId, OrgId, Timestamp, UserId};

/// A member's role in one organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Admin,
    Standard,
    Light,
}

impl Role {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "admin" => Some(Self::Admin),
            "standard" => Some(Self::Standard),
            "light" => Some(Self::Light),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Standard => "standard",
            Self::Light => "light",
        }
    }
}

/// A member's standing in one organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberStatus {
    Active,
    Invited,
    Disabled,
}

impl MemberStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(Self::Active),
            "invited" => Some(Self::Invited),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Invited => "invited",
            Self::Disabled => "disabled",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub allow_non_admins_manage_groups: bool,
    pub created_at: Timestamp,
}

/// A user account, which may belong to several organizations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub timezone: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl User {
    pub fn full_name(&self) -> String {
        match (self.first_name.is_empty(), self.last_name.is_empty()) {
            (false, false) => format!("{} {}", self.first_name, self.last_name),
            (false, true) => self.first_name.clone(),
            (true, _) => self.last_name.clone(),
        }
    }
}

/// A user as a member of one organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgMember {
    pub user: User,
    pub role: Role,
    pub status: MemberStatus,
    /// The org's first admin, who can never be removed, disabled or demoted.
    pub is_default_admin: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestStatus {
    Active,
    Disabled,
}

impl GuestStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }
}

/// A guest of one organization, known by email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guest {
    pub id: i64,
    pub email: Email,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub status: GuestStatus,
    pub details: crate::people::GuestDetails,
    /// `None` until set; a set list replaces the old one.
    pub associated_members: Option<Vec<UserId>>,
    pub disabled_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What a new account needs. The email is the account's identity across organizations.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub description: String,
    /// Ascending.
    pub members: Vec<UserId>,
    /// Lowercased, ascending.
    pub guests: Vec<Email>,
    /// Exact counts, kept in step with the membership rows.
    pub member_count: u64,
    pub guest_count: u64,
    /// Goes up with every change to the group, including a person leaving it; the ETag.
    pub version: i64,
    pub logo: Option<LogoRef>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the group went to the trash; `None` for a live group.
    pub deleted_at: Option<Timestamp>,
    /// The earliest instant one of its memberships ends (`None`: none does). Until then
    /// its stored counts are exact; from then until the sweep removes the ended ones,
    /// reads count without them.
    pub next_expiry: Option<Timestamp>,
    /// The members and guests whose membership ends, and when (loaded with the lists).
    pub member_expiries: std::collections::BTreeMap<UserId, Timestamp>,
    pub guest_expiries: std::collections::BTreeMap<Email, Timestamp>,
}

/// One page of a listing.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// All rows matching the filter, across pages.
    pub total: u64,
    /// The organization's change stream head (`events::StreamBounds::head`), read in the
    /// same snapshot as the page: following the stream from there misses no change.
    pub stream_head: u64,
}

/// A personal access token's record. The secret itself is never stored.
#[derive(Clone, Debug)]
pub struct TokenRecord {
    pub id: i64,
    pub org_id: OrgId,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// Recorded at most every `token::LAST_USED_RESOLUTION_MILLIS`.
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// A group's current logo, without its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoRef {
    pub asset_id: AssetId,
    pub filename: String,
    pub content_type: String,
    /// Goes up with every upload to the group.
    pub version: i64,
    pub uploaded_at: Timestamp,
    pub uploaded_from: String,
}

/// An accepted upload.
#[derive(Clone, Debug)]
pub struct NewLogo {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub filename: String,
    pub uploaded_from: String,
}

/// A logo's bytes, exactly as uploaded, for serving.
#[derive(Clone, Debug)]
pub struct StoredLogo {
    pub content_type: String,
    pub bytes: Vec<u8>,
}
