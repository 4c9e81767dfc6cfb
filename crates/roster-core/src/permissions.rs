//! Who may do what. Every permission rule lives here and nowhere else.

use crate::{MemberStatus, Role};

/// The caller as a member of the organization a request addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Membership {
    pub role: Role,
    pub status: MemberStatus,
    /// The organization's `allow_non_admins_manage_groups` setting.
    pub org_allows_non_admins_to_manage_groups: bool,
}

impl Membership {
    /// Only active members act in an organization; invited and disabled ones are outsiders.
    pub fn can_access_org(&self) -> bool {
        self.status == MemberStatus::Active
    }

    /// Every active member, whatever the role, reads groups.
    pub fn can_read_groups(&self) -> bool {
        self.can_access_org()
    }

    /// Tallyfy's `manage_groups`: admins always; standard members where the org allows it;
    /// light members never.
    pub fn can_manage_groups(&self) -> bool {
        self.can_access_org()
            && match self.role {
                Role::Admin => true,
                Role::Standard => self.org_allows_non_admins_to_manage_groups,
                Role::Light => false,
            }
    }
}

impl Membership {
    /// Inviting, editing, disabling and converting members, and every change to guests.
    pub fn can_manage_people(&self) -> bool {
        self.can_access_org() && self.role == Role::Admin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(role: Role, status: MemberStatus, allow: bool) -> Membership {
        Membership { role, status, org_allows_non_admins_to_manage_groups: allow }
    }

    #[test]
    fn manage_groups_matrix() {
        use MemberStatus::*;
        use Role::*;
        let cases = [
            (Admin, Active, false, true),
            (Admin, Active, true, true),
            (Standard, Active, false, false),
            (Standard, Active, true, true),
            (Light, Active, false, false),
            (Light, Active, true, false),
            (Admin, Disabled, true, false),
            (Admin, Invited, true, false),
        ];
        for (role, status, allow, expected) in cases {
            assert_eq!(
                member(role, status, allow).can_manage_groups(),
                expected,
                "{role:?} {status:?} allow={allow}"
            );
        }
    }

    #[test]
    fn only_active_members_read() {
        assert!(member(Role::Light, MemberStatus::Active, false).can_read_groups());
        assert!(!member(Role::Admin, MemberStatus::Disabled, true).can_read_groups());
    }
}
