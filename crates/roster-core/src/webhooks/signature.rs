//! Standard Webhooks 1.0 signatures (www.standardwebhooks.com): the secret's format and
//! how a delivery is signed. Delivery itself lives elsewhere; this is the part a
//! receiver's verifier must agree with byte for byte.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};

/// What every secret shown to a user starts with.
pub const SECRET_PREFIX: &str = "whsec_";

/// How many random bytes a generated secret has.
const SECRET_BYTES: usize = 32;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// An endpoint's signing key: `whsec_` and the standard base64 of its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

/// Why a string is not a webhook secret.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret starts with `{SECRET_PREFIX}`")]
    Prefix,
    #[error("a webhook secret is `{SECRET_PREFIX}` and standard base64")]
    Base64,
    #[error("a webhook secret has 24 to 64 bytes")]
    Length,
}

impl WebhookSecret {
    /// A new secret of 32 random bytes.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(crate::ids::random_bytes::<SECRET_BYTES>()?.to_vec()))
    }

    /// Parses `whsec_<base64>`, as shown to users and as the specification's verifiers
    /// take it. The specification asks for 24 to 64 bytes of key.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.strip_prefix(SECRET_PREFIX).ok_or(SecretError::Prefix)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| SecretError::Base64)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(SecretError::Length);
        }
        Ok(Self(bytes))
    }

    /// The secret as shown once to whoever creates or rotates it.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`: one entry of `webhook-signature`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SecretError> {
        // HMAC takes keys of any length (long ones are hashed first): a parsed or generated
        // secret is never refused, but the error is passed on rather than trusted away.
        let mut mac = HmacSha256::new_from_slice(&self.0).map_err(|_| SecretError::Length)?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// The secrets that sign at `now`: the current one, then a rotated-out one until its grace
/// period ends (`previous`: the secret as stored and when it stops signing). A stored
/// secret that does not parse signs nothing.
pub fn signing_secrets(
    current: &str,
    previous: Option<(String, i64)>,
    now: crate::Timestamp,
) -> Vec<WebhookSecret> {
    let previous = previous.filter(|(_, until)| *until > now.millis()).map(|(secret, _)| secret);
    std::iter::once(current.to_owned())
        .chain(previous)
        .filter_map(|raw| WebhookSecret::parse(&raw).ok())
        .collect()
}

/// The `webhook-signature` header for a delivery: one entry per secret that signs
/// (two while a rotation's grace period lasts), separated by spaces.
pub fn signature_header(
    secrets: &[&WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SecretError> {
    let entries = secrets
        .iter()
        .map(|secret| secret.sign(id, timestamp, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(entries.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The specification's published example (standard-webhooks spec, "Signature scheme").
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn the_specifications_example_signs_to_its_published_signature() {
        let secret = WebhookSecret::parse(SPEC_SECRET).expect("the specification's secret");
        assert_eq!(secret.sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY).as_deref(), Ok(SPEC_SIGNATURE));
    }

    #[test]
    fn any_change_to_id_timestamp_or_body_changes_the_signature() {
        let secret = WebhookSecret::parse(SPEC_SECRET).expect("the specification's secret");
        let spec = Ok(SPEC_SIGNATURE.to_owned());
        assert_ne!(secret.sign("msg_other", SPEC_TIMESTAMP, SPEC_BODY), spec);
        assert_ne!(secret.sign(SPEC_ID, SPEC_TIMESTAMP + 1, SPEC_BODY), spec);
        assert_ne!(secret.sign(SPEC_ID, SPEC_TIMESTAMP, br#"{"test": 2432232315}"#), spec);
    }

    #[test]
    fn during_a_rotation_the_header_carries_both_signatures_new_first() {
        let old = WebhookSecret::parse(SPEC_SECRET).expect("the specification's secret");
        let new = WebhookSecret::generate().expect("random bytes");
        let header =
            signature_header(&[&new, &old], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY).expect("signed");
        let entries: Vec<&str> = header.split(' ').collect();
        let new_entry = new.sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY).expect("signed");
        assert_eq!(entries, [new_entry.as_str(), SPEC_SIGNATURE]);
    }

    #[test]
    fn a_generated_secret_round_trips_through_its_shown_form() {
        let secret = WebhookSecret::generate().expect("random bytes");
        let shown = secret.expose();
        assert!(shown.starts_with(SECRET_PREFIX));
        assert_eq!(shown.len(), SECRET_PREFIX.len() + 44);
        assert_eq!(WebhookSecret::parse(&shown), Ok(secret));
    }

    #[test]
    fn malformed_secrets_are_refused_with_the_reason() {
        assert_eq!(
            WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::Prefix)
        );
        assert_eq!(WebhookSecret::parse("whsec_not base64!"), Err(SecretError::Base64));
        assert_eq!(WebhookSecret::parse("whsec_c2hvcnQ="), Err(SecretError::Length));
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let secret = WebhookSecret::parse(SPEC_SECRET).expect("the specification's secret");
        assert_eq!(format!("{secret:?}"), "WebhookSecret(..)");
    }
}
