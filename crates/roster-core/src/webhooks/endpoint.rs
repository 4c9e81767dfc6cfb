//! A webhook endpoint: the subscription an admin makes, how its input is read, and which
//! targets it may name.

use std::net::IpAddr;

use serde_json::Value;

use crate::events::TypeFilter;
use crate::input::{Input, Presence};
use crate::validation::messages;
use crate::{Timestamp, ValidationErrors};

pub use crate::ids::WebhookId;

/// The most endpoints an organization may have unless the operator says otherwise.
pub const DEFAULT_MAX_PER_ORG: usize = 20;
/// The longest URL and description accepted.
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// A rotated-out secret keeps signing beside the new one this long unless asked
/// otherwise, and at most [`MAX_GRACE_SECONDS`].
pub const DEFAULT_GRACE_SECONDS: i64 = 24 * 60 * 60;
pub const MAX_GRACE_SECONDS: i64 = 7 * 24 * 60 * 60;

/// Whether an endpoint is sent to, and if not, why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointStatus {
    Enabled,
    /// Turned off by an admin.
    Disabled,
    /// Turned off by Roster after failing without a success for too long.
    DisabledFailing,
    /// Turned off by Roster because the receiver answered 410 Gone.
    DisabledGone,
}

impl EndpointStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
            Self::DisabledFailing => "disabled_failing",
            Self::DisabledGone => "disabled_gone",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Enabled, Self::Disabled, Self::DisabledFailing, Self::DisabledGone]
            .into_iter()
            .find(|status| status.as_str() == raw)
    }
}

/// A subscription as stored and shown; never its secret.
#[derive(Clone, Debug, PartialEq)]
pub struct Webhook {
    pub id: WebhookId,
    pub url: String,
    /// Event types or globs; empty means every type.
    pub event_types: Vec<String>,
    pub description: String,
    pub status: EndpointStatus,
    /// When the current run of failures began (`None` while healthy).
    pub failing_since: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
    pub last_failure_at: Option<Timestamp>,
    /// While a rotated-out secret still signs beside the current one: until when.
    pub previous_secret_expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Webhook {
    /// Whether an event of this type about this subject goes to this endpoint. An event
    /// about the endpoint itself (its disabling, say) never does: a receiver that is
    /// failing would only fail it too.
    pub fn wants(&self, event_type: &str, subject_type: &str, subject_id: &str) -> bool {
        if subject_type == "webhook" && subject_id == self.id.as_str() {
            return false;
        }
        self.event_types.is_empty()
            || TypeFilter::parse(&self.event_types.join(",")).is_ok_and(|f| f.matches(event_type))
    }
}

/// What the operator allows endpoints to point at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetRules {
    /// `http://` URLs too (by default only `https://`).
    pub allow_http: bool,
    /// Hosts on loopback, private, link-local and multicast addresses too.
    pub allow_private: bool,
}

impl TargetRules {
    /// Why `ip` may not be connected to under these rules, if it may not.
    pub fn refuse_address(&self, ip: IpAddr) -> Option<&'static str> {
        if self.allow_private { None } else { forbidden_address(ip) }
    }
}

/// Why connecting to `ip` could reach what a webhook must not (this host, its network,
/// cloud metadata), if it could.
pub fn forbidden_address(ip: IpAddr) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_unspecified() || a == 0 {
                Some("unspecified")
            } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                // RFC 1918, and the carrier-grade NAT range (RFC 6598).
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_multicast() || v4.is_broadcast() || a >= 240 {
                Some("multicast or reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xfe00 == 0xfc00 {
                Some("private")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("multicast or reserved")
            } else {
                None
            }
        }
    }
}

/// An endpoint's URL, checked: `https://` (or `http://` where allowed), a host, no
/// credentials, no fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetUrl {
    raw: String,
    pub https: bool,
    /// The host as written (an IPv6 literal without its brackets).
    pub host: String,
    pub port: u16,
    /// The path and query, `/` at least.
    pub path_and_query: String,
}

impl TargetUrl {
    /// `Err` says what is wrong, as a sentence about `url`.
    pub fn parse(raw: &str, rules: TargetRules) -> Result<Self, String> {
        let raw = raw.trim();
        let (https, rest) = if let Some(rest) = strip_prefix_ignore_case(raw, "https://") {
            (true, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(raw, "http://") {
            if !rules.allow_http {
                return Err(
                    "The url must use https (this server does not send to http URLs).".to_owned()
                );
            }
            (false, rest)
        } else {
            return Err("The url must be an absolute https URL.".to_owned());
        };
        if raw.chars().count() > MAX_URL_CHARS {
            return Err(messages::max_chars("url", MAX_URL_CHARS));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("The url must not contain spaces or control characters.".to_owned());
        }
        if raw.contains('#') {
            return Err("The url must not have a fragment.".to_owned());
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err("The url must not carry credentials.".to_owned());
        }
        let (host, port) = split_host_port(authority)
            .ok_or_else(|| "The url must name a valid host and port.".to_owned())?;
        let port = port.unwrap_or(if https { 443 } else { 80 });
        let path_and_query = match tail {
            "" => "/".to_owned(),
            t if t.starts_with('?') => format!("/{t}"),
            t => t.to_owned(),
        };
        Ok(Self { raw: raw.to_owned(), https, host, port, path_and_query })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The `Host` header's value.
    pub fn authority(&self) -> String {
        let host =
            if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let default = if self.https { 443 } else { 80 };
        if self.port == default { host } else { format!("{host}:{}", self.port) }
    }
}

fn strip_prefix_ignore_case<'a>(raw: &'a str, prefix: &str) -> Option<&'a str> {
    let head = raw.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &raw[prefix.len()..])
}

/// `host[:port]` or `[v6][:port]`, lowercased; `None` when malformed.
fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        v6.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (v6.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (authority.to_owned(), None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0)?),
        None => None,
    };
    let valid_name = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let is_v6 = host.contains(':');
    (is_v6 || valid_name).then(|| (host.to_ascii_lowercase(), port))
}

/// A subscription to create.
#[derive(Clone, Debug, PartialEq)]
pub struct NewWebhook {
    pub url: TargetUrl,
    pub event_types: Vec<String>,
    pub description: String,
    pub enabled: bool,
}

/// What a `PATCH` changes (absent fields stay).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebhookPatch {
    pub url: Option<TargetUrl>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

impl WebhookPatch {
    /// The endpoint after this patch, at `now`: enabling clears the failure state (the
    /// admin says the receiver is mended); disabling keeps it for the record.
    pub fn apply(&self, before: &Webhook, now: Timestamp) -> Webhook {
        let mut after = before.clone();
        if let Some(url) = &self.url {
            after.url = url.as_str().to_owned();
        }
        if let Some(types) = &self.event_types {
            after.event_types.clone_from(types);
        }
        if let Some(description) = &self.description {
            after.description.clone_from(description);
        }
        match self.enabled {
            Some(true) if before.status != EndpointStatus::Enabled => {
                after.status = EndpointStatus::Enabled;
                after.failing_since = None;
            }
            Some(false) => after.status = EndpointStatus::Disabled,
            _ => {}
        }
        if after != *before {
            after.updated_at = now;
        }
        after
    }
}

fn event_types(input: &mut Input<'_>, body: &Value) -> Option<Vec<String>> {
    // `null` means every type, as absence does on a create.
    if body.get("event_types").is_some_and(Value::is_null) {
        return Some(Vec::new());
    }
    let types = input.list("event_types", |_, path, item| match item {
        Value::String(raw) => {
            let entry = raw.trim();
            match TypeFilter::parse(entry) {
                Ok(_) if !entry.is_empty() && !entry.contains(',') => Ok(entry.to_owned()),
                _ => Err(format!("The {path} {entry:?} names no event type.")),
            }
        }
        _ => Err(messages::string(path)),
    });
    types.map(|mut types| {
        types.dedup();
        types
    })
}

fn enabled(input: &mut Input<'_>, body: &Value) -> Option<bool> {
    match body.get("enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(on)) => Some(*on),
        Some(_) => {
            input.error("enabled", messages::boolean("enabled"));
            None
        }
    }
}

/// Reads `{url, event_types?, description?, enabled?}`.
pub fn parse_new_webhook(body: &Value, rules: TargetRules) -> Result<NewWebhook, ValidationErrors> {
    let mut input = Input::new(body);
    let url = input.string("url", Presence::Required, None);
    let url = url.and_then(|raw| match TargetUrl::parse(&raw, rules) {
        Ok(url) => Some(url),
        Err(message) => {
            input.error("url", message);
            None
        }
    });
    let event_types = event_types(&mut input, body).unwrap_or_default();
    let description = input
        .string("description", Presence::Nullable, Some(MAX_DESCRIPTION_CHARS))
        .unwrap_or_default();
    let enabled = enabled(&mut input, body).unwrap_or(true);
    let url = input.finish(url)?;
    match url {
        Some(url) => Ok(NewWebhook { url, event_types, description, enabled }),
        None => Err(ValidationErrors::single("url", messages::required("url"))),
    }
}

/// Reads a `PATCH` of `{url?, event_types?, description?, enabled?}`.
pub fn parse_webhook_patch(
    body: &Value,
    rules: TargetRules,
) -> Result<WebhookPatch, ValidationErrors> {
    let mut input = Input::new(body);
    let url =
        input.string("url", Presence::Sometimes, None).and_then(|raw| {
            match TargetUrl::parse(&raw, rules) {
                Ok(url) => Some(url),
                Err(message) => {
                    input.error("url", message);
                    None
                }
            }
        });
    let event_types = event_types(&mut input, body);
    let description = if input.has("description") {
        Some(
            input
                .string("description", Presence::Nullable, Some(MAX_DESCRIPTION_CHARS))
                .unwrap_or_default(),
        )
    } else {
        None
    };
    let enabled = enabled(&mut input, body);
    input.finish(WebhookPatch { url, event_types, description, enabled })
}

/// Reads a rotation's `{grace_period_seconds?}` (0 to 7 days; default a day).
pub fn parse_grace_seconds(body: &Value) -> Result<i64, ValidationErrors> {
    let seconds = match body.get("grace_period_seconds") {
        None | Some(Value::Null) => return Ok(DEFAULT_GRACE_SECONDS),
        Some(Value::Number(n)) => crate::input::integer(n),
        Some(_) => None,
    };
    seconds.filter(|s| (0..=MAX_GRACE_SECONDS).contains(s)).ok_or_else(|| {
        ValidationErrors::single(
            "grace_period_seconds",
            format!(
                "The grace_period_seconds must be an integer between 0 and {MAX_GRACE_SECONDS}."
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: TargetRules = TargetRules { allow_http: false, allow_private: false };
    const LOOSE: TargetRules = TargetRules { allow_http: true, allow_private: true };

    #[test]
    fn urls_are_https_with_a_host_unless_the_operator_allows_http() {
        let url = TargetUrl::parse("https://Hooks.Example.com/in?x=1", STRICT);
        let url = url.unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            (url.host.as_str(), url.port, url.path_and_query.as_str()),
            ("hooks.example.com", 443, "/in?x=1")
        );
        assert!(TargetUrl::parse("http://example.com/", STRICT).is_err());
        assert_eq!(
            TargetUrl::parse("http://127.0.0.1:9000", LOOSE).map(|u| (u.port, u.path_and_query)),
            Ok((9000, "/".to_owned()))
        );
        assert_eq!(
            TargetUrl::parse("https://[::1]:8443/x", LOOSE).map(|u| u.authority()),
            Ok("[::1]:8443".to_owned())
        );
        for bad in [
            "ftp://x.com",
            "https://",
            "https://user:pw@x.com/",
            "https://x.com/#f",
            "https://x .com",
            "https://x.com:0/",
            "https://x.com:99999/",
        ] {
            assert!(TargetUrl::parse(bad, LOOSE).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn private_loopback_link_local_and_multicast_addresses_are_named() {
        let reason = |ip: &str| forbidden_address(ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])));
        assert_eq!(reason("127.0.0.1"), Some("loopback"));
        assert_eq!(reason("::1"), Some("loopback"));
        assert_eq!(reason("10.1.2.3"), Some("private"));
        assert_eq!(reason("172.16.0.1"), Some("private"));
        assert_eq!(reason("192.168.1.1"), Some("private"));
        assert_eq!(reason("100.64.0.1"), Some("private"));
        assert_eq!(reason("fd00::1"), Some("private"));
        assert_eq!(reason("169.254.169.254"), Some("link-local"));
        assert_eq!(reason("fe80::1"), Some("link-local"));
        assert_eq!(reason("224.0.0.1"), Some("multicast or reserved"));
        assert_eq!(reason("::ffff:127.0.0.1"), Some("loopback"));
        assert_eq!(reason("0.0.0.0"), Some("unspecified"));
        assert_eq!(reason("93.184.216.34"), None);
        assert_eq!(reason("2606:4700::1111"), None);
        assert_eq!(
            LOOSE.refuse_address("127.0.0.1".parse().unwrap_or(IpAddr::from([1, 1, 1, 1]))),
            None
        );
    }

    #[test]
    fn inputs_name_the_bad_field() {
        let body = serde_json::json!({"url": "http://x.com", "event_types": ["group.*", "nope"], "enabled": "yes"});
        let errors = parse_new_webhook(&body, STRICT).err().unwrap_or_default();
        let fields: Vec<&str> = errors.fields().map(|(f, _)| f).collect();
        assert_eq!(fields, ["url", "event_types.1", "enabled"]);
        let ok = parse_new_webhook(
            &serde_json::json!({"url": "https://x.com/h", "event_types": ["group.*"]}),
            STRICT,
        );
        assert_eq!(ok.map(|w| (w.event_types, w.enabled)), Ok((vec!["group.*".to_owned()], true)));
        assert!(
            parse_grace_seconds(&serde_json::json!({"grace_period_seconds": 604_801})).is_err()
        );
        assert_eq!(parse_grace_seconds(&serde_json::json!({})), Ok(DEFAULT_GRACE_SECONDS));
        // JSON Schema's integers include 1331.0; 1.5 and "60" are not integers.
        let grace = |v: Value| parse_grace_seconds(&serde_json::json!({"grace_period_seconds": v}));
        assert_eq!(grace(serde_json::json!(1331.0)), Ok(1331));
        assert!(grace(serde_json::json!(1.5)).is_err() && grace(serde_json::json!("60")).is_err());
        assert!(grace(serde_json::json!(-1)).is_err());
    }

    #[test]
    fn an_endpoint_never_wants_events_about_itself() {
        let now = Timestamp::from_millis(0);
        let hook = Webhook {
            id: WebhookId::from_stored("0123456789abcdef0123456789abcdef".into()),
            url: "https://x.com/".into(),
            event_types: vec!["webhook.*".into()],
            description: String::new(),
            status: EndpointStatus::Enabled,
            failing_since: None,
            last_success_at: None,
            last_failure_at: None,
            previous_secret_expires_at: None,
            created_at: now,
            updated_at: now,
        };
        assert!(!hook.wants("webhook.disabled", "webhook", hook.id.as_str()));
        assert!(hook.wants("webhook.disabled", "webhook", "fedcba9876543210fedcba9876543210"));
        assert!(!hook.wants("group.created", "group", "x"));
    }
}
