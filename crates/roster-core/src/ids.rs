//! Identifiers. Organization and group ids are 32 lowercase hex characters, as in
//! Tallyfy; user ids are global positive integers.

use std::fmt;

/// Fills `buf` from the operating system's random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)?;
    Ok(buf)
}

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Accepts exactly 32 lowercase hex characters; anything else is not an id.
            pub fn parse(raw: &str) -> Option<Self> {
                let ok = raw.len() == 32
                    && raw.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                ok.then(|| Self(raw.to_owned()))
            }

            /// A fresh id from 128 random bits.
            pub fn generate() -> Result<Self, getrandom::Error> {
                Ok(Self(hex::encode(random_bytes::<16>()?)))
            }

            /// For values read back from storage, which were parsed before they were written.
            pub fn from_stored(raw: String) -> Self {
                Self(raw)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

hex_id!(
    /// An organization's id.
    OrgId
);
hex_id!(
    /// A group's id, unique across all organizations.
    GroupId
);

hex_id!(
    /// A stored file's id: 128 random bits, unguessable, so its URL can be public.
    AssetId
);
hex_id!(
    /// A webhook subscription's id, unique across all organizations.
    WebhookId
);

/// A user account's id: global, positive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct UserId(i64);

impl UserId {
    pub fn new(raw: i64) -> Option<Self> {
        (raw > 0).then_some(Self(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids_accept_only_32_lowercase_hex() {
        assert!(OrgId::parse("0123456789abcdef0123456789abcdef").is_some());
        assert!(OrgId::parse("0123456789ABCDEF0123456789abcdef").is_none());
        assert!(OrgId::parse("0123456789abcdef0123456789abcde").is_none());
        assert!(OrgId::parse("0123456789abcdef0123456789abcdeg").is_none());
        assert!(GroupId::parse("").is_none());
    }

    #[test]
    fn generated_ids_parse_back() -> Result<(), getrandom::Error> {
        let id = GroupId::generate()?;
        assert_eq!(GroupId::parse(id.as_str()), Some(id));
        Ok(())
    }

    #[test]
    fn user_ids_are_positive() {
        assert!(UserId::new(0).is_none());
        assert!(UserId::new(-3).is_none());
        assert_eq!(UserId::new(7).map(UserId::get), Some(7));
    }
}
