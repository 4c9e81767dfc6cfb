//! Email addresses: checked for syntax only (never for deliverability), stored lowercased.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Email(String);

const MAX_LEN: usize = 254;

impl Email {
    /// Trims, lowercases and checks `local@domain` the way browsers' `type=email` does:
    /// an atext local part with single dots, and a domain of letter-digit-hyphen labels.
    pub fn parse(raw: &str) -> Option<Self> {
        let email = raw.trim().to_lowercase();
        if email.len() > MAX_LEN {
            return None;
        }
        let (local, domain) = email.rsplit_once('@')?;
        (valid_local(local) && valid_domain(domain)).then_some(Self(email))
    }

    /// For values read back from storage, which were parsed before they were written.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn valid_local(local: &str) -> bool {
    const SPECIALS: &[u8] = b".!#$%&'*+/=?^_`{|}~-";
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.bytes().all(|b| b.is_ascii_alphanumeric() || SPECIALS.contains(&b))
}

fn valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_lowercases_ordinary_addresses() {
        let email = Email::parse("  Client.A+tag@Example.COM ");
        assert_eq!(email.as_ref().map(Email::as_str), Some("client.a+tag@example.com"));
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@@b.com",
            "a b@c.com",
            "a@b..com",
            ".a@b.com",
            "a.@b.com",
            "a@-b.com",
            "a@b_c.com",
            "a@b.com.",
            "ü@b.com",
        ] {
            assert_eq!(Email::parse(bad), None, "{bad:?} should be rejected");
        }
    }
}
