//! Field errors in the shape and wording of Laravel's validator, which Tallyfy's
//! clients parse: `{"name": ["The name field is required."], "members.1": [...]}`.

use serde::ser::{Serialize, SerializeMap, Serializer};

/// Errors by field path, in the order the rules ran.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationErrors(Vec<(String, Vec<String>)>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        let message = message.into();
        match self.0.iter_mut().find(|(f, _)| *f == field) {
            Some((_, messages)) => messages.push(message),
            None => self.0.push((field, vec![message])),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was found wrong.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.is_empty() { Ok(value) } else { Err(self) }
    }

    pub fn fields(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(f, m)| (f.as_str(), m.as_slice()))
    }
}

impl Serialize for ValidationErrors {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (field, messages) in &self.0 {
            map.serialize_entry(field, messages)?;
        }
        map.end()
    }
}

/// Laravel shows `first_name` as "first name" in messages; element paths stay as they are.
fn attribute(field: &str) -> String {
    field.replace('_', " ")
}

/// Laravel's default messages, worded as Laravel 9 words them.
pub mod messages {
    use super::attribute;

    pub fn required(field: &str) -> String {
        format!("The {} field is required.", attribute(field))
    }
    pub fn string(field: &str) -> String {
        format!("The {} must be a string.", attribute(field))
    }
    pub fn array(field: &str) -> String {
        format!("The {} must be an array.", attribute(field))
    }
    pub fn integer(field: &str) -> String {
        format!("The {} must be an integer.", attribute(field))
    }
    pub fn boolean(field: &str) -> String {
        format!("The {} field must be true or false.", attribute(field))
    }
    pub fn email(field: &str) -> String {
        format!("The {} must be a valid email address.", attribute(field))
    }
    pub fn max_chars(field: &str, max: usize) -> String {
        format!("The {} must not be greater than {max} characters.", attribute(field))
    }
    pub fn taken(field: &str) -> String {
        format!("The {} has already been taken.", attribute(field))
    }
    pub fn no_nul(field: &str) -> String {
        format!("The {} must not contain NUL characters.", attribute(field))
    }
    pub fn invalid(field: &str) -> String {
        format!("The selected {} is invalid.", attribute(field))
    }
}
