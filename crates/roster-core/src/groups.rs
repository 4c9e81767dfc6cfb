//! Group rules: what a create or update body must hold, which references must resolve,
//! and how listings are filtered, sorted and paged.
//!
//! Bodies are read as Tallyfy's Laravel back end reads them: strings are trimmed, an
//! empty string counts as absent, and keys without a rule are ignored.

use std::collections::HashSet;

use serde_json::Value;

use crate::input::{self, Input, Presence};
use crate::listing::SortField;
use crate::validation::messages;
use crate::{Email, UserId, ValidationErrors};

pub const NAME_MAX_CHARS: usize = 200;

/// A group's name: trimmed, non-empty, at most 200 characters (not bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupName(String);

impl GroupName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What uniqueness and name order compare: the Unicode-lowercased name, by code point,
    /// so every backend agrees without depending on a collation.
    pub fn key(&self) -> String {
        fold_case(&self.0)
    }
}

/// The one case folding Roster uses, for names, descriptions and `q` alike.
pub fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

/// A member id as given, with its position in the request for error keys (`members.3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberRef {
    pub index: usize,
    pub id: UserId,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestRef {
    pub index: usize,
    pub email: Email,
}

/// A validated create or update. `None` means "leave as it is" (update) and never
/// occurs for `name` and `description` on create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupWrite {
    pub name: Option<GroupName>,
    pub description: Option<String>,
    /// Present (even empty) replaces the whole list.
    pub members: Option<Vec<MemberRef>>,
    pub guests: Option<Vec<GuestRef>>,
}

impl GroupWrite {
    /// The member list to store: ascending, duplicates collapsed.
    pub fn member_ids(&self) -> Option<Vec<UserId>> {
        self.members.as_ref().map(|refs| {
            let mut ids: Vec<UserId> = refs.iter().map(|r| r.id).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        })
    }

    /// The guest list to store: ascending, duplicates collapsed.
    pub fn guest_emails(&self) -> Option<Vec<Email>> {
        self.guests.as_ref().map(|refs| {
            let mut emails: Vec<Email> = refs.iter().map(|r| r.email.clone()).collect();
            emails.sort_unstable();
            emails.dedup();
            emails
        })
    }
}

/// Reads a create body: `name` and `description` required.
pub fn parse_create(body: &Value) -> Result<GroupWrite, ValidationErrors> {
    parse(body, Presence::Required)
}

/// Reads an update body: every field optional, present fields obey the create rules.
pub fn parse_update(body: &Value) -> Result<GroupWrite, ValidationErrors> {
    parse(body, Presence::Sometimes)
}

fn parse(body: &Value, presence: Presence) -> Result<GroupWrite, ValidationErrors> {
    let mut input = Input::new(body);
    let write = GroupWrite {
        name: input
            .string("name", presence, Some(NAME_MAX_CHARS))
            .map(GroupName),
        description: input.string("description", presence, None),
        members: input.list("members", |index, path, item| {
            input::user_id(path, item).map(|id| MemberRef { index, id })
        }),
        guests: input.list("guests", |index, path, item| {
            input::email(path, item).map(|email| GuestRef { index, email })
        }),
    };
    input.finish(write)
}

/// What the store found, inside the write's transaction, about the references a write makes.
#[derive(Clone, Debug, Default)]
pub struct ReferenceFacts {
    /// Another group of the org already has this name (ignoring case).
    pub name_taken: bool,
    /// Of the requested member ids, those that are active or invited members of the org.
    pub eligible_members: HashSet<UserId>,
    /// Of the requested guest emails, those of active or invited members of the org.
    pub member_emails: HashSet<Email>,
    /// Of the requested guest emails, those of disabled guests of the org.
    pub disabled_guests: HashSet<Email>,
}

/// The rules a write must meet against what is stored: a free name; members who are
/// active or invited members of the org (never disabled ones); guests who are not members
/// and not disabled guests.
pub fn check_references(
    write: &GroupWrite,
    facts: &ReferenceFacts,
) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if write.name.is_some() && facts.name_taken {
        errors.add("name", messages::taken("name"));
    }
    for member in write.members.iter().flatten() {
        if !facts.eligible_members.contains(&member.id) {
            errors.add(
                format!("members.{}", member.index),
                messages::invalid(&format!("members.{}", member.index)),
            );
        }
    }
    for guest in write.guests.iter().flatten() {
        if facts.member_emails.contains(&guest.email) {
            errors.add(
                format!("guests.{}", guest.index),
                format!(
                    "The guests.{} is a member of this organization; add them to members instead.",
                    guest.index
                ),
            );
        } else if facts.disabled_guests.contains(&guest.email) {
            errors.add(
                format!("guests.{}", guest.index),
                format!(
                    "The guests.{} is a disabled guest of this organization.",
                    guest.index
                ),
            );
        }
    }
    errors.into_result(())
}

/// The orders a group listing can take.
pub const SORT_FIELDS: &[SortField] =
    &[SortField::Name, SortField::CreatedAt, SortField::UpdatedAt];

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn errors_of(result: Result<GroupWrite, ValidationErrors>) -> Vec<(String, Vec<String>)> {
        match result {
            Ok(write) => panic!("expected errors, got {write:?}"),
            Err(errors) => errors
                .fields()
                .map(|(f, m)| (f.to_owned(), m.to_vec()))
                .collect(),
        }
    }

    #[test]
    fn create_requires_name_and_description_after_trimming() {
        let errors = errors_of(parse_create(&json!({"name": "   ", "description": null})));
        assert_eq!(
            errors,
            vec![
                ("name".into(), vec!["The name field is required.".into()]),
                (
                    "description".into(),
                    vec!["The description field is required.".into()]
                ),
            ]
        );
    }

    #[test]
    fn name_limit_counts_characters_not_bytes() {
        let ok = "é".repeat(200);
        assert!(parse_create(&json!({"name": ok, "description": "d"})).is_ok());
        let long = "é".repeat(201);
        let errors = errors_of(parse_create(&json!({"name": long, "description": "d"})));
        assert_eq!(
            errors,
            vec![(
                "name".into(),
                vec!["The name must not be greater than 200 characters.".into()]
            )]
        );
    }

    #[test]
    fn members_accept_numeric_strings_and_name_bad_elements() {
        let errors = errors_of(parse_create(&json!({
            "name": "n", "description": "d", "members": [1, "2", "x", 1.5, 0], "guests": ["a@b.co", "nope", 3]
        })));
        assert_eq!(
            errors,
            vec![
                (
                    "members.2".into(),
                    vec!["The members.2 must be an integer.".into()]
                ),
                (
                    "members.3".into(),
                    vec!["The members.3 must be an integer.".into()]
                ),
                (
                    "members.4".into(),
                    vec!["The selected members.4 is invalid.".into()]
                ),
                (
                    "guests.1".into(),
                    vec!["The guests.1 must be a valid email address.".into()]
                ),
                (
                    "guests.2".into(),
                    vec!["The guests.2 must be a string.".into()]
                ),
            ]
        );
    }

    #[test]
    fn lists_are_sorted_and_deduplicated() -> Result<(), ValidationErrors> {
        let write = parse_create(&json!({
            "name": " Sales ", "description": "d", "members": [5, "3", 5], "guests": ["B@x.io", "a@x.io", "b@x.io"]
        }))?;
        assert_eq!(write.name.as_ref().map(GroupName::as_str), Some("Sales"));
        assert_eq!(
            write
                .member_ids()
                .map(|ids| ids.into_iter().map(UserId::get).collect::<Vec<_>>()),
            Some(vec![3, 5])
        );
        let guests: Option<Vec<String>> = write
            .guest_emails()
            .map(|g| g.iter().map(|e| e.as_str().to_owned()).collect());
        assert_eq!(guests, Some(vec!["a@x.io".to_owned(), "b@x.io".to_owned()]));
        Ok(())
    }

    #[test]
    fn update_fields_are_optional_but_not_nullable() {
        assert_eq!(parse_update(&json!({})), Ok(GroupWrite::default()));
        assert_eq!(
            parse_update(&json!({"ignored": 1})),
            Ok(GroupWrite::default())
        );
        let errors = errors_of(parse_update(&json!({"description": "", "members": null})));
        assert_eq!(
            errors,
            vec![
                (
                    "description".into(),
                    vec!["The description field is required.".into()]
                ),
                (
                    "members".into(),
                    vec!["The members must be an array.".into()]
                ),
            ]
        );
    }
}
