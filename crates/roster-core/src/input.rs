//! Reading request bodies as Tallyfy's Laravel back end does: strings are trimmed, an
//! empty string counts as absent (`ConvertEmptyStringsToNull`), keys without a rule are
//! ignored, and every failure is collected under its field path with Laravel's wording.

use serde_json::{Map, Value};

use crate::validation::messages;
use crate::{Email, UserId, ValidationErrors};

/// How a field may be left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// `required`: must be there and non-empty.
    Required,
    /// `sometimes|required`: may be left out, but not sent empty or null.
    Sometimes,
    /// `nullable`: absent, null and empty all mean "no value".
    Nullable,
}

pub struct Input<'a> {
    body: Option<&'a Map<String, Value>>,
    errors: ValidationErrors,
}

/// A key as the middleware leaves it.
enum Field<'a> {
    /// Missing (`present: false`), `null`, or a string that trims to nothing.
    Empty {
        present: bool,
    },
    Str(&'a str),
    Other,
}

impl<'a> Input<'a> {
    /// A body that is not a JSON object holds no fields.
    pub fn new(body: &'a Value) -> Self {
        Self { body: body.as_object(), errors: ValidationErrors::new() }
    }

    fn field(&self, key: &str) -> Field<'a> {
        match self.body.and_then(|b| b.get(key)) {
            None => Field::Empty { present: false },
            Some(Value::Null) => Field::Empty { present: true },
            Some(Value::String(s)) if s.trim().is_empty() => Field::Empty { present: true },
            Some(Value::String(s)) => Field::Str(s.trim()),
            Some(_) => Field::Other,
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.body.is_some_and(|b| b.contains_key(key))
    }

    pub fn error(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.errors.add(key, message);
    }

    /// A string field, trimmed, at most `max_chars` characters when given.
    pub fn string(
        &mut self,
        key: &str,
        presence: Presence,
        max_chars: Option<usize>,
    ) -> Option<String> {
        match self.field(key) {
            // PostgreSQL cannot store NUL in text, so no backend accepts it.
            Field::Str(s) if s.contains('\0') => {
                self.errors.add(key, messages::no_nul(key));
                None
            }
            Field::Str(s) => match max_chars {
                Some(max) if s.chars().count() > max => {
                    self.errors.add(key, messages::max_chars(key, max));
                    None
                }
                _ => Some(s.to_owned()),
            },
            Field::Empty { present } => {
                let missing = match presence {
                    Presence::Required => true,
                    Presence::Sometimes => present,
                    Presence::Nullable => false,
                };
                if missing {
                    self.errors.add(key, messages::required(key));
                }
                None
            }
            Field::Other => {
                self.errors.add(key, messages::string(key));
                None
            }
        }
    }

    /// A string that must be one of `allowed` (Laravel's `in:` rule).
    pub fn one_of(&mut self, key: &str, presence: Presence, allowed: &[&str]) -> Option<String> {
        let value = self.string(key, presence, None)?;
        if allowed.contains(&value.as_str()) {
            Some(value)
        } else {
            self.errors.add(key, messages::invalid(key));
            None
        }
    }

    /// An email field: syntax only, lowercased.
    pub fn email(&mut self, key: &str, presence: Presence) -> Option<Email> {
        let raw = self.string(key, presence, None)?;
        let email = Email::parse(&raw);
        if email.is_none() {
            self.errors.add(key, messages::email(key));
        }
        email
    }

    /// An optional array whose elements each parse or add an error under `key.N`.
    pub fn list<T>(
        &mut self,
        key: &str,
        parse_element: impl Fn(usize, &str, &Value) -> Result<T, String>,
    ) -> Option<Vec<T>> {
        let items = match self.body.and_then(|b| b.get(key)) {
            None => return None,
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.errors.add(key, messages::array(key));
                return None;
            }
        };
        let mut parsed = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let path = format!("{key}.{index}");
            match parse_element(index, &path, item) {
                Ok(value) => parsed.push(value),
                Err(message) => self.errors.add(path, message),
            }
        }
        Some(parsed)
    }

    /// The value, or everything that was found wrong.
    pub fn finish<T>(self, value: T) -> Result<T, ValidationErrors> {
        self.errors.into_result(value)
    }
}

/// A JSON number as an integer, if it is one. JSON Schema counts 7.0 as an integer, so a
/// client that sends one may expect it read as 7.
pub fn integer(n: &serde_json::Number) -> Option<i64> {
    n.as_i64()
        .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18).map(|f| f as i64))
}

/// A user id as Tallyfy's clients send it: an integer, or a numeric string (n8n).
pub fn user_id(path: &str, item: &Value) -> Result<UserId, String> {
    let raw = match item {
        Value::Number(n) => integer(n),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    let raw = raw.ok_or_else(|| messages::integer(path))?;
    // A well-formed id that can never exist names nobody.
    UserId::new(raw).ok_or_else(|| messages::invalid(path))
}

/// An email element of a list.
pub fn email(path: &str, item: &Value) -> Result<Email, String> {
    match item {
        Value::String(s) => Email::parse(s).ok_or_else(|| messages::email(path)),
        _ => Err(messages::string(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_floats_are_integers_as_json_schema_says() {
        let id = |raw: &str| user_id("add.0", &serde_json::from_str(raw).unwrap_or_default());
        assert_eq!(id("7.0").map(UserId::get), Ok(7));
        assert_eq!(id("3802717910388082.0").map(UserId::get), Ok(3_802_717_910_388_082));
        assert_eq!(id("7.5"), Err("The add.0 must be an integer.".to_owned()));
        assert_eq!(id("1e300"), Err("The add.0 must be an integer.".to_owned()));
    }
}
