//! Group rules: what a create or update body must hold, which references must resolve,
//! and how listings are filtered, sorted and paged.
//!
//! Bodies are read as Tallyfy's Laravel back end reads them: strings are trimmed, an
//! empty string counts as absent, and keys without a rule are ignored.

use std::collections::HashSet;

use serde_json::{Map, Value};

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

/// A body key as Laravel's middleware leaves it.
enum Field<'a> {
    /// Missing, `null`, or a string that trims to nothing.
    Empty {
        present: bool,
    },
    Str(&'a str),
    Other,
}

fn field<'a>(body: Option<&'a Map<String, Value>>, key: &str) -> Field<'a> {
    match body.and_then(|b| b.get(key)) {
        None => Field::Empty { present: false },
        Some(Value::Null) => Field::Empty { present: true },
        Some(Value::String(s)) if s.trim().is_empty() => Field::Empty { present: true },
        Some(Value::String(s)) => Field::Str(s.trim()),
        Some(_) => Field::Other,
    }
}

/// Reads a create body: `name` and `description` required.
pub fn parse_create(body: &Value) -> Result<GroupWrite, ValidationErrors> {
    parse(body, true)
}

/// Reads an update body: every field optional, present fields obey the create rules.
pub fn parse_update(body: &Value) -> Result<GroupWrite, ValidationErrors> {
    parse(body, false)
}

fn parse(body: &Value, creating: bool) -> Result<GroupWrite, ValidationErrors> {
    let body = body.as_object();
    let mut errors = ValidationErrors::new();
    let write = GroupWrite {
        name: required_string(body, "name", creating, &mut errors).and_then(|name| {
            if name.chars().count() > NAME_MAX_CHARS {
                errors.add("name", messages::max_chars("name", NAME_MAX_CHARS));
                None
            } else {
                Some(GroupName(name.to_owned()))
            }
        }),
        description: required_string(body, "description", creating, &mut errors).map(str::to_owned),
        members: list(body, "members", &mut errors, parse_member),
        guests: list(body, "guests", &mut errors, parse_guest),
    };
    errors.into_result(write)
}

/// A `required|string` field (`sometimes|required|string` when not creating).
fn required_string<'a>(
    body: Option<&'a Map<String, Value>>,
    key: &str,
    creating: bool,
    errors: &mut ValidationErrors,
) -> Option<&'a str> {
    match field(body, key) {
        Field::Str(s) => Some(s),
        Field::Empty { present } => {
            if creating || present {
                errors.add(key, messages::required(key));
            }
            None
        }
        Field::Other => {
            errors.add(key, messages::string(key));
            None
        }
    }
}

/// An optional array whose elements each parse or add an error under `key.N`.
fn list<T>(
    body: Option<&Map<String, Value>>,
    key: &str,
    errors: &mut ValidationErrors,
    parse_element: fn(usize, &Value) -> Result<T, String>,
) -> Option<Vec<T>> {
    let items = match body.and_then(|b| b.get(key)) {
        None => return None,
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.add(key, messages::array(key));
            return None;
        }
    };
    let mut parsed = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match parse_element(index, item) {
            Ok(value) => parsed.push(value),
            Err(message) => errors.add(format!("{key}.{index}"), message),
        }
    }
    Some(parsed)
}

/// Integers, or numeric strings (n8n sends ids as strings).
fn parse_member(index: usize, item: &Value) -> Result<MemberRef, String> {
    let path = format!("members.{index}");
    let raw = match item {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    let raw = raw.ok_or_else(|| messages::integer(&path))?;
    // A well-formed id that can never exist is simply not a member.
    let id = UserId::new(raw).ok_or_else(|| messages::invalid(&path))?;
    Ok(MemberRef { index, id })
}

fn parse_guest(index: usize, item: &Value) -> Result<GuestRef, String> {
    let path = format!("guests.{index}");
    match item {
        Value::String(s) => Email::parse(s)
            .map(|email| GuestRef { index, email })
            .ok_or_else(|| messages::email(&path)),
        _ => Err(messages::string(&path)),
    }
}

/// What the store found, inside the write's transaction, about the references a write makes.
#[derive(Clone, Debug, Default)]
pub struct ReferenceFacts {
    /// Another group of the org already has this name (ignoring case).
    pub name_taken: bool,
    /// Of the requested member ids, those that are active members of the org.
    pub active_members: HashSet<UserId>,
    /// Of the requested guest emails, those that belong to active members of the org.
    pub member_emails: HashSet<Email>,
}

/// The rules a write must meet against what is stored: a free name, members who are
/// active members of the org, and guests who are not.
pub fn check_references(
    write: &GroupWrite,
    facts: &ReferenceFacts,
) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if write.name.is_some() && facts.name_taken {
        errors.add("name", messages::taken("name"));
    }
    for member in write.members.iter().flatten() {
        if !facts.active_members.contains(&member.id) {
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
        }
    }
    errors.into_result(())
}

/// The orders a group listing can take. Ties always break on the group id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortField {
    Name,
    CreatedAt,
    UpdatedAt,
}

impl SortField {
    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "name" => Some(Self::Name),
            "created_at" => Some(Self::CreatedAt),
            "updated_at" | "last_updated" => Some(Self::UpdatedAt),
            _ => None,
        }
    }
}

pub const DEFAULT_PER_PAGE: u64 = 10;
pub const MAX_PER_PAGE: u64 = 100;
/// Keeps `(page - 1) * per_page` far from overflowing any backend's integer.
const MAX_PAGE: u64 = 1 << 40;

/// A listing request: filter, order and page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListParams {
    /// Lowercased; matched as a substring of the lowercased name or description.
    pub q: Option<String>,
    pub sort: SortField,
    pub descending: bool,
    pub page: u64,
    pub per_page: u64,
}

impl Default for ListParams {
    fn default() -> Self {
        Self {
            q: None,
            sort: SortField::CreatedAt,
            descending: false,
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

impl ListParams {
    /// Reads decoded query pairs; for a repeated key the last one wins, as in PHP.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ValidationErrors> {
        let mut params = Self::default();
        let mut sort_by = None;
        let mut sort = None;
        for (key, value) in pairs {
            match key {
                "q" => {
                    let q = value.trim();
                    params.q = (!q.is_empty()).then(|| fold_case(q));
                }
                "page" => {
                    params.page = value.trim().parse::<u64>().unwrap_or(1).clamp(1, MAX_PAGE);
                }
                "per_page" => {
                    params.per_page = match value.trim().parse::<i64>() {
                        Ok(n) if n > MAX_PER_PAGE as i64 => MAX_PER_PAGE,
                        Ok(n) if n >= 1 => n as u64,
                        _ => DEFAULT_PER_PAGE,
                    };
                }
                "sort_by" => sort_by = Some(value.trim()),
                "sort" => sort = Some(value.trim()),
                _ => {}
            }
        }
        let mut errors = ValidationErrors::new();
        let mut field_from = |raw: &str, key: &str, attribute: &str| {
            let (descending, name) = match raw.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, raw),
            };
            match SortField::parse(name) {
                Some(field) => Some((field, descending)),
                None => {
                    errors.add(key, messages::invalid(attribute));
                    None
                }
            }
        };
        if let Some(raw) = sort_by.filter(|s| !s.is_empty())
            && let Some((field, descending)) = field_from(raw, "sort_by", "sort by")
        {
            params.sort = field;
            params.descending = descending;
        }
        // `sort` is a direction (`sort=desc`) or, as on Tallyfy's other listings, a field.
        match sort.map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("asc") => {}
            Some("desc") => params.descending = true,
            Some(raw) if sort_by.is_none_or(str::is_empty) => {
                if let Some((field, descending)) = field_from(raw, "sort", "sort") {
                    params.sort = field;
                    params.descending = descending;
                }
            }
            Some(_) => errors.add("sort", messages::invalid("sort")),
        }
        errors.into_result(params)
    }

    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.per_page
    }

    /// `max(1, ceil(total / per_page))`.
    pub fn total_pages(&self, total: u64) -> u64 {
        total.div_ceil(self.per_page).max(1)
    }
}

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

    #[test]
    fn list_params_defaults_and_clamps() -> Result<(), ValidationErrors> {
        assert_eq!(ListParams::parse([])?, ListParams::default());
        let p = ListParams::parse([("per_page", "500"), ("page", "0"), ("q", " Foo ")])?;
        assert_eq!((p.per_page, p.page, p.q.as_deref()), (100, 1, Some("foo")));
        assert_eq!(ListParams::parse([("per_page", "0")])?.per_page, 10);
        assert_eq!(ListParams::parse([("per_page", "abc")])?.per_page, 10);
        let p = ListParams::parse([("sort_by", "-name")])?;
        assert_eq!((p.sort, p.descending), (SortField::Name, true));
        let p = ListParams::parse([("sort_by", "updated_at"), ("sort", "desc")])?;
        assert_eq!((p.sort, p.descending), (SortField::UpdatedAt, true));
        let p = ListParams::parse([("sort", "-name")])?;
        assert_eq!((p.sort, p.descending), (SortField::Name, true));
        assert_eq!(
            ListParams::parse([("sort_by", "email")]),
            Err(ValidationErrors::single(
                "sort_by",
                "The selected sort by is invalid."
            ))
        );
        Ok(())
    }

    #[test]
    fn total_pages_is_at_least_one() {
        let p = ListParams::default();
        assert_eq!(p.total_pages(0), 1);
        assert_eq!(p.total_pages(10), 1);
        assert_eq!(p.total_pages(11), 2);
    }
}
