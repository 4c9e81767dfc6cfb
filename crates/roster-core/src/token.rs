//! Personal access tokens: random secrets with a recognisable prefix, known to the
//! database only by their SHA-256.

use sha2::{Digest, Sha256};

use crate::ids::random_bytes;

/// Lets secret scanners recognise a leaked token.
pub const TOKEN_PREFIX: &str = "roster_pat_";

/// How long a new token lives by default, like Tallyfy's personal access tokens.
pub const DEFAULT_LIFETIME_DAYS: i64 = 183;

/// How stale a token's `last_used_at` may get before a request records a new one: often
/// enough to tell a live token from a dead one, rare enough to keep reads free of writes.
pub const LAST_USED_RESOLUTION_MILLIS: i64 = 60_000;

/// The secret, shown once to whoever creates it.
pub struct TokenSecret(String);

impl TokenSecret {
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(format!("{TOKEN_PREFIX}{}", hex::encode(random_bytes::<32>()?))))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

/// What the database keeps: the SHA-256 of the whole token string. A fast hash is
/// right here because the secret has 256 random bits; there is nothing to brute-force.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn of(presented: &str) -> Self {
        Self(Sha256::digest(presented.as_bytes()).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_hash_stably() -> Result<(), getrandom::Error> {
        let a = TokenSecret::generate()?;
        let b = TokenSecret::generate()?;
        assert!(a.expose().starts_with(TOKEN_PREFIX));
        assert_eq!(a.expose().len(), TOKEN_PREFIX.len() + 64);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.hash(), TokenHash::of(a.expose()));
        assert_ne!(a.hash(), b.hash());
        Ok(())
    }
}
