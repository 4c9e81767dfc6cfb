//! Rules for members and guests: what invite, update, role and guest bodies must hold,
//! and which changes to a member the organization refuses.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::events::{self, EventDraft, EventType};
use crate::input::{self, Input, Presence};
use crate::listing::SortField;
use crate::model::{Guest, GuestStatus};
use crate::store::{GuestOutcome, MemberOutcome};
use crate::{Email, MemberStatus, OrgMember, Role, User, UserId, ValidationErrors};

/// Tallyfy's limit on member names (`max:32`).
pub const USER_NAME_MAX_CHARS: usize = 32;
pub const INVITE_MESSAGE_MAX_CHARS: usize = 5000;
pub const GUEST_NAME_MAX_CHARS: usize = 200;
pub const TIMEZONE_MAX_CHARS: usize = 64;

pub const MEMBER_SORT_FIELDS: &[SortField] =
    &[SortField::Name, SortField::Email, SortField::CreatedAt, SortField::UpdatedAt];
pub const GUEST_SORT_FIELDS: &[SortField] =
    &[SortField::Email, SortField::CreatedAt, SortField::UpdatedAt];

const ROLES: &[&str] = &["admin", "standard", "light"];

/// `POST /users/invite`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invite {
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub message: Option<String>,
}

pub fn parse_invite(body: &Value) -> Result<Invite, ValidationErrors> {
    let mut input = Input::new(body);
    let email = input.email("email", Presence::Required);
    let first_name = input.string("first_name", Presence::Required, Some(USER_NAME_MAX_CHARS));
    let last_name = input.string("last_name", Presence::Required, Some(USER_NAME_MAX_CHARS));
    let role = input.one_of("role", Presence::Required, ROLES).and_then(|r| Role::parse(&r));
    let message = input.string("message", Presence::Nullable, Some(INVITE_MESSAGE_MAX_CHARS));
    // Required fields that are missing have already been reported.
    match input.finish((email, first_name, last_name, role))? {
        (Some(email), Some(first_name), Some(last_name), Some(role)) => {
            Ok(Invite { email, first_name, last_name, role, message })
        }
        _ => Err(ValidationErrors::new()),
    }
}

/// `PUT /users/{id}`: names and timezone, each optional but never empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub timezone: Option<String>,
}

pub fn parse_member_update(body: &Value) -> Result<MemberChanges, ValidationErrors> {
    let mut input = Input::new(body);
    let changes = MemberChanges {
        first_name: input.string("first_name", Presence::Sometimes, Some(USER_NAME_MAX_CHARS)),
        last_name: input.string("last_name", Presence::Sometimes, Some(USER_NAME_MAX_CHARS)),
        timezone: input.string("timezone", Presence::Sometimes, Some(TIMEZONE_MAX_CHARS)),
    };
    if let Some(tz) = &changes.timezone
        && !tz.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b))
    {
        input.error("timezone", "The timezone must be a valid zone.");
    }
    input.finish(changes)
}

/// The names and timezone an update leaves the account with, or `None` when they are
/// what it has already (then nothing is written, and nothing is said).
pub fn plan_member_update(user: &User, changes: &MemberChanges) -> Option<MemberChanges> {
    let first_name = changes.first_name.as_deref().unwrap_or(&user.first_name);
    let last_name = changes.last_name.as_deref().unwrap_or(&user.last_name);
    let timezone = changes.timezone.as_deref().or(user.timezone.as_deref());
    let unchanged = first_name == user.first_name
        && last_name == user.last_name
        && timezone == user.timezone.as_deref();
    (!unchanged).then(|| MemberChanges {
        first_name: Some(first_name.to_owned()),
        last_name: Some(last_name.to_owned()),
        timezone: timezone.map(str::to_owned),
    })
}

/// What the store knows about the email an invite names.
#[derive(Clone, Copy, Debug)]
pub struct InviteFacts {
    /// The email is a guest's of this org.
    pub is_guest: bool,
    /// Its account's standing in this org, if it is a member.
    pub status: Option<MemberStatus>,
}

/// Refuses an invite of a guest (who is converted instead) or of a current member; a
/// disabled member may be invited back.
pub fn check_invite(facts: InviteFacts) -> Result<(), ValidationErrors> {
    if facts.is_guest {
        return Err(ValidationErrors::single(
            "email",
            "The email belongs to a guest of this organization; convert the guest to a member instead.",
        ));
    }
    if facts.status.is_some_and(|status| status != MemberStatus::Disabled) {
        return Err(ValidationErrors::single("email", "The email has already been taken."));
    }
    Ok(())
}

/// Refuses a new guest whose email is a current member's or already a guest's.
pub fn check_new_guest(is_current_member: bool, is_guest: bool) -> Result<(), ValidationErrors> {
    if is_current_member {
        return Err(ValidationErrors::single(
            "email",
            "The email belongs to a member of this organization.",
        ));
    }
    if is_guest {
        return Err(ValidationErrors::single("email", crate::validation::messages::taken("email")));
    }
    Ok(())
}

/// A guest's associated members as stored (ascending, each once), given which of them
/// are members of the org; every other one is a 422 on its position.
pub fn plan_associated_members(
    members: &[(usize, UserId)],
    in_org: &std::collections::HashSet<UserId>,
) -> Result<Vec<UserId>, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    for (index, id) in members {
        if !in_org.contains(id) {
            let path = format!("associated_members.{index}");
            errors.add(path.clone(), crate::validation::messages::invalid(&path));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut ids: Vec<UserId> = members.iter().map(|(_, id)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// `PUT /users/{id}/role`.
pub fn parse_role(body: &Value) -> Result<Role, ValidationErrors> {
    let mut input = Input::new(body);
    let role = input.one_of("role", Presence::Required, ROLES).and_then(|r| Role::parse(&r));
    // A required field that is missing has already been reported.
    input.finish(role)?.ok_or_else(ValidationErrors::new)
}

/// `POST /guests/{email}/to/member`: an optional role (standard unless given).
pub fn parse_guest_to_member(body: &Value) -> Result<Role, ValidationErrors> {
    let mut input = Input::new(body);
    let role = input.one_of("role", Presence::Nullable, ROLES).and_then(|r| Role::parse(&r));
    input.finish(role.unwrap_or(Role::Standard))
}

/// What can happen to a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberAction {
    SetRole(Role),
    Disable,
    Enable,
    /// `DELETE /users/{id}`: the member stays listed, as disabled.
    Remove,
    ToGuest,
}

impl MemberAction {
    /// Whether the member stops being an active administrator.
    fn demotes_admin(self) -> bool {
        match self {
            Self::SetRole(role) => role != Role::Admin,
            Self::Disable | Self::Remove | Self::ToGuest => true,
            Self::Enable => false,
        }
    }

    /// Whether the member leaves every group of the org (Tallyfy: "if a member leaves
    /// your company, they also leave all groups").
    pub fn leaves_groups(self) -> bool {
        matches!(self, Self::Disable | Self::Remove | Self::ToGuest)
    }

    /// The member's status afterwards, when the action sets one (a removed member stays
    /// listed, as disabled).
    pub fn status_after(self) -> Option<MemberStatus> {
        match self {
            Self::Disable | Self::Remove => Some(MemberStatus::Disabled),
            Self::Enable => Some(MemberStatus::Active),
            Self::SetRole(_) | Self::ToGuest => None,
        }
    }

    pub fn event_type(self) -> EventType {
        match self {
            Self::SetRole(_) => EventType::MemberRoleChanged,
            Self::Disable => EventType::MemberDisabled,
            Self::Enable => EventType::MemberEnabled,
            Self::Remove => EventType::MemberRemoved,
            Self::ToGuest => EventType::MemberConvertedToGuest,
        }
    }

    /// The event of the action on `before`, which left `outcome` (`None`: nothing changed).
    pub fn event(self, before: &OrgMember, outcome: &MemberOutcome) -> Option<EventDraft> {
        match outcome {
            MemberOutcome::Member(after) => {
                events::member_changed(self.event_type(), before, after)
            }
            MemberOutcome::BecameGuest(guest) => {
                Some(events::member_gone(self.event_type(), before, events::guest_object(guest)))
            }
        }
    }
}

/// What the store knows about the member an action targets.
#[derive(Clone, Copy, Debug)]
pub struct MemberFacts {
    pub role: Role,
    pub status: MemberStatus,
    pub is_default_admin: bool,
    /// Active admins of the org other than this member.
    pub other_active_admins: u64,
}

/// Refuses what would leave the org without its default admin or without any active admin.
/// The message is the 400's.
pub fn check_member_action(facts: &MemberFacts, action: MemberAction) -> Result<(), String> {
    if !action.demotes_admin() {
        return Ok(());
    }
    if facts.is_default_admin {
        return Err(
            "The organization's default administrator cannot be removed, disabled, demoted or converted to a guest."
                .to_owned(),
        );
    }
    let is_active_admin = facts.role == Role::Admin && facts.status == MemberStatus::Active;
    if is_active_admin && facts.other_active_admins == 0 {
        return Err("An organization must keep at least one active administrator.".to_owned());
    }
    Ok(())
}

/// The optional details Tallyfy keeps for a guest, nested under `details`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestDetails {
    pub phone_1: Option<String>,
    pub phone_2: Option<String>,
    pub timezone: Option<String>,
    pub image_url: Option<String>,
    pub contact_url: Option<String>,
    pub company_url: Option<String>,
    pub opportunity_url: Option<String>,
    pub company_name: Option<String>,
    pub opportunity_name: Option<String>,
}

/// `POST /guests`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewGuest {
    pub email: Email,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub details: GuestDetails,
}

pub fn parse_new_guest(body: &Value) -> Result<NewGuest, ValidationErrors> {
    let mut input = Input::new(body);
    let email = input.email("email", Presence::Required);
    let first_name = input.string("first_name", Presence::Nullable, Some(GUEST_NAME_MAX_CHARS));
    let last_name = input.string("last_name", Presence::Nullable, Some(GUEST_NAME_MAX_CHARS));
    let mut text = |key: &str, max: usize| input.string(key, Presence::Nullable, Some(max));
    let details = GuestDetails {
        phone_1: text("phone_1", 20),
        phone_2: text("phone_2", 20),
        timezone: text("timezone", TIMEZONE_MAX_CHARS),
        image_url: text("image_url", 2000),
        contact_url: text("contact_url", 2000),
        company_url: text("company_url", 2000),
        opportunity_url: text("opportunity_url", 2000),
        company_name: text("company_name", 200),
        opportunity_name: text("opportunity_name", 200),
    };
    match input.finish(email)? {
        Some(email) => Ok(NewGuest { email, first_name, last_name, details }),
        None => Err(ValidationErrors::new()),
    }
}

/// `PUT /guests/{email}`: only `associated_members` is applied (a present list replaces
/// the old one); other keys are ignored, as Tallyfy does.
pub fn parse_guest_update(body: &Value) -> Result<Option<Vec<(usize, UserId)>>, ValidationErrors> {
    let mut input = Input::new(body);
    let members = input.list("associated_members", |index, path, item| {
        input::user_id(path, item).map(|id| (index, id))
    });
    input.finish(members)
}

/// What can happen to a guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestAction {
    Delete,
    Disable,
    Enable,
    ToMember(Role),
}

impl GuestAction {
    /// Every one but `Enable` takes the guest out of the org's groups.
    pub fn leaves_groups(self) -> bool {
        !matches!(self, Self::Enable)
    }

    /// The guest's status afterwards, when the action keeps them a guest.
    pub fn status_after(self) -> Option<GuestStatus> {
        match self {
            Self::Disable => Some(GuestStatus::Disabled),
            Self::Enable => Some(GuestStatus::Active),
            Self::Delete | Self::ToMember(_) => None,
        }
    }

    pub fn event_type(self) -> EventType {
        match self {
            Self::Delete => EventType::GuestDeleted,
            Self::Disable => EventType::GuestDisabled,
            Self::Enable => EventType::GuestEnabled,
            Self::ToMember(_) => EventType::GuestConvertedToMember,
        }
    }

    /// The event of the action on `before`, which left `outcome` (`None`: nothing changed).
    pub fn event(self, before: &Guest, outcome: &GuestOutcome) -> Option<EventDraft> {
        match (self, outcome) {
            (Self::Delete, _) => Some(events::guest_gone(self.event_type(), before, Value::Null)),
            (_, GuestOutcome::Guest(after)) => {
                events::guest_changed(self.event_type(), before, after)
            }
            (_, GuestOutcome::BecameMember(member)) => {
                Some(events::guest_gone(self.event_type(), before, events::member_object(member)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn facts(role: Role, status: MemberStatus, default: bool, others: u64) -> MemberFacts {
        MemberFacts { role, status, is_default_admin: default, other_active_admins: others }
    }

    #[test]
    fn the_default_admin_cannot_be_demoted_in_any_way() {
        let f = facts(Role::Admin, MemberStatus::Active, true, 3);
        for action in [
            MemberAction::Disable,
            MemberAction::Remove,
            MemberAction::ToGuest,
            MemberAction::SetRole(Role::Light),
        ] {
            assert!(check_member_action(&f, action).is_err(), "{action:?}");
        }
        assert!(check_member_action(&f, MemberAction::SetRole(Role::Admin)).is_ok());
        assert!(check_member_action(&f, MemberAction::Enable).is_ok());
    }

    #[test]
    fn the_last_active_admin_stays() {
        let last = facts(Role::Admin, MemberStatus::Active, false, 0);
        assert!(check_member_action(&last, MemberAction::SetRole(Role::Standard)).is_err());
        assert!(check_member_action(&last, MemberAction::Disable).is_err());
        let not_last = facts(Role::Admin, MemberStatus::Active, false, 1);
        assert!(check_member_action(&not_last, MemberAction::Disable).is_ok());
        let standard = facts(Role::Standard, MemberStatus::Active, false, 0);
        assert!(check_member_action(&standard, MemberAction::Remove).is_ok());
    }

    #[test]
    fn invites_need_email_names_and_a_known_role() {
        let errors =
            parse_invite(&json!({"email": "nope", "first_name": "x".repeat(33), "role": "owner"}))
                .err()
                .map(|e| e.fields().map(|(f, _)| f.to_owned()).collect::<Vec<_>>());
        assert_eq!(
            errors,
            Some(vec!["email".into(), "first_name".into(), "last_name".into(), "role".into()])
        );
        let ok = parse_invite(
            &json!({"email": "A@b.co", "first_name": "A", "last_name": "B", "role": "light"}),
        );
        assert_eq!(
            ok.map(|i| (i.email.as_str().to_owned(), i.role)),
            Ok(("a@b.co".to_owned(), Role::Light))
        );
    }
}
