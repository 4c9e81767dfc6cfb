//! The rules of delivery: when a failed attempt is tried again, what an attempt's outcome
//! means for its delivery and its endpoint, and which due deliveries go first.

use std::collections::HashMap;

use serde_json::Value;

use super::endpoint::{EndpointStatus, Webhook, WebhookId};
use crate::Timestamp;
use crate::events::{self, EventDraft};

/// At most this many attempts of one endpoint are in flight at once.
pub const MAX_IN_FLIGHT_PER_ENDPOINT: usize = 4;
/// An attempt gives up after this long (connect, send and the answer's head).
pub const ATTEMPT_TIMEOUT_MILLIS: u64 = 15_000;
/// A claim is held this long; an instance that has not recorded its attempt by then has
/// lost it (it crashed, or stalled), and the delivery is due again.
pub const LEASE_MILLIS: i64 = 60_000;
/// The first bytes of an answer kept in the delivery log.
pub const RESPONSE_HEAD_BYTES: usize = 4096;
/// A `Retry-After` is honoured between these bounds (seconds).
pub const RETRY_AFTER_BOUNDS: (u64, u64) = (1, 24 * 60 * 60);
/// Attempts are kept this long in the delivery log.
pub const ATTEMPT_RETENTION_DAYS: i64 = 30;
/// An endpoint failing without a success for this long is disabled, unless the operator
/// says otherwise.
pub const DEFAULT_DISABLE_AFTER_MILLIS: i64 = 5 * 24 * 60 * 60 * 1000;

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// An attempt is due at its `next_attempt_at` (the first, or a retry).
    Pending,
    Succeeded,
    /// The last attempt failed and none is scheduled: its endpoint answered 410, or it
    /// was a retry by hand.
    Failed,
    /// Every attempt of the schedule failed.
    Exhausted,
}

impl DeliveryStatus {
    pub const ALL: [Self; 4] = [Self::Pending, Self::Succeeded, Self::Failed, Self::Exhausted];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Exhausted => "exhausted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// Why an attempt got no usable answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The host name did not resolve.
    Dns,
    /// The host resolved to an address the operator does not allow.
    ForbiddenAddress,
    Connect,
    Tls,
    Timeout,
    /// The connection broke mid-exchange, or the answer was not HTTP.
    Io,
    /// A 3xx: redirects are never followed.
    Redirect,
    /// Any other non-2xx status.
    Status,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::ForbiddenAddress => "forbidden_address",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Timeout => "timeout",
            Self::Io => "io",
            Self::Redirect => "redirect",
            Self::Status => "status",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Dns,
            Self::ForbiddenAddress,
            Self::Connect,
            Self::Tls,
            Self::Timeout,
            Self::Io,
            Self::Redirect,
            Self::Status,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == raw)
    }
}

/// What one attempt came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver answered with this status (and, on 429 and 5xx, maybe `Retry-After`
    /// in seconds).
    Answered { status: u16, retry_after: Option<u64> },
    /// No answer.
    NoAnswer(ErrorKind),
}

impl AttemptOutcome {
    pub fn status_code(self) -> Option<u16> {
        match self {
            Self::Answered { status, .. } => Some(status),
            Self::NoAnswer(_) => None,
        }
    }

    /// Why the attempt failed (`None` when it succeeded).
    pub fn error_kind(self) -> Option<ErrorKind> {
        match self {
            Self::Answered { status: 200..=299, .. } => None,
            Self::Answered { status: 300..=399, .. } => Some(ErrorKind::Redirect),
            Self::Answered { .. } => Some(ErrorKind::Status),
            Self::NoAnswer(kind) => Some(kind),
        }
    }
}

/// One attempt as the delivery log keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct AttemptRecord {
    pub number: u32,
    pub started_at: Timestamp,
    pub duration_millis: i64,
    pub status_code: Option<u16>,
    pub error_kind: Option<ErrorKind>,
    /// The first [`RESPONSE_HEAD_BYTES`] of the answer's body, as text.
    pub response_head: String,
    /// The headers sent, the signature redacted.
    pub request_headers: Value,
}

/// The delays before each retry. The default is the Standard Webhooks specification's
/// example: after the first attempt, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and
/// 24 h (ten attempts over about three days).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule(Vec<u64>);

impl Default for RetrySchedule {
    fn default() -> Self {
        Self(vec![5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400])
    }
}

impl RetrySchedule {
    /// Comma-separated seconds (`1,1,1`: three retries a second apart); empty for none.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(Self(Vec::new()));
        }
        raw.split(',')
            .map(|s| {
                s.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s <= 7 * 86_400)
                    .ok_or_else(|| format!("{s:?} is not a number of seconds up to 7 days"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// How many attempts a delivery gets in all.
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.0.len()).unwrap_or(u32::MAX).saturating_add(1)
    }

    /// The delay after attempt `number` (1-based) failed, `None` when it was the last.
    fn delay_after(&self, number: u32) -> Option<u64> {
        self.0.get(usize::try_from(number).ok()?.checked_sub(1)?).copied()
    }
}

/// What a delivery becomes after an attempt, and what the endpoint learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judgement {
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<Timestamp>,
    pub endpoint: EndpointSignal,
}

/// What an attempt says about its endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointSignal {
    Succeeded,
    Failed,
    /// 410: the receiver says it is gone for good.
    Gone,
}

/// Judges attempt `number` of a delivery. `by_hand` attempts (a retry asked for) are
/// never followed by scheduled ones. `jitter` (−0.2 to 0.2) spreads retries so that a
/// receiver coming back is not hit by all its failures at once.
pub fn judge(
    outcome: AttemptOutcome,
    number: u32,
    by_hand: bool,
    schedule: &RetrySchedule,
    now: Timestamp,
    jitter: f64,
) -> Judgement {
    let failed = |endpoint| {
        let delay = match outcome {
            AttemptOutcome::Answered { status: 429 | 500..=599, retry_after: Some(seconds) } => {
                schedule
                    .delay_after(number)
                    .map(|_| seconds.clamp(RETRY_AFTER_BOUNDS.0, RETRY_AFTER_BOUNDS.1) as f64)
            }
            _ => schedule.delay_after(number).map(|s| s as f64 * (1.0 + jitter.clamp(-0.2, 0.2))),
        };
        match delay {
            _ if by_hand => {
                Judgement { status: DeliveryStatus::Failed, next_attempt_at: None, endpoint }
            }
            Some(seconds) => Judgement {
                status: DeliveryStatus::Pending,
                next_attempt_at: Some(Timestamp::from_millis(
                    now.millis().saturating_add((seconds * 1000.0) as i64),
                )),
                endpoint,
            },
            None => {
                Judgement { status: DeliveryStatus::Exhausted, next_attempt_at: None, endpoint }
            }
        }
    };
    match outcome {
        AttemptOutcome::Answered { status: 200..=299, .. } => Judgement {
            status: DeliveryStatus::Succeeded,
            next_attempt_at: None,
            endpoint: EndpointSignal::Succeeded,
        },
        AttemptOutcome::Answered { status: 410, .. } => Judgement {
            status: DeliveryStatus::Failed,
            next_attempt_at: None,
            endpoint: EndpointSignal::Gone,
        },
        _ => failed(EndpointSignal::Failed),
    }
}

/// The endpoint after an attempt's signal at `now`, and the event its disabling makes.
/// Only an enabled endpoint is disabled; a disabled one only keeps the record.
pub fn endpoint_after(
    before: &Webhook,
    signal: EndpointSignal,
    now: Timestamp,
    disable_after_millis: i64,
) -> (Webhook, Option<EventDraft>) {
    let mut after = before.clone();
    match signal {
        EndpointSignal::Succeeded => {
            after.failing_since = None;
            after.last_success_at = Some(now);
        }
        EndpointSignal::Failed | EndpointSignal::Gone => {
            after.last_failure_at = Some(now);
            let since = *after.failing_since.get_or_insert(now);
            if before.status == EndpointStatus::Enabled {
                if signal == EndpointSignal::Gone {
                    after.status = EndpointStatus::DisabledGone;
                } else if now.millis().saturating_sub(since.millis()) >= disable_after_millis {
                    after.status = EndpointStatus::DisabledFailing;
                }
            }
        }
    }
    let event = (after.status != before.status).then(|| events::webhook_disabled(&after));
    if after.status != before.status {
        after.updated_at = now;
    }
    (after, event)
}

/// The endpoint after a run of its recorded attempts' signals, in order (each as
/// [`endpoint_after`] judges it), and the events the run makes: a recorder loads the
/// endpoint once for all the attempts of a batch that were made to it, and stores it once.
pub fn endpoint_after_all(
    before: &Webhook,
    signals: impl IntoIterator<Item = EndpointSignal>,
    now: Timestamp,
    disable_after_millis: i64,
) -> (Webhook, Vec<EventDraft>) {
    let mut state = before.clone();
    let mut events = Vec::new();
    for signal in signals {
        let (after, event) = endpoint_after(&state, signal, now, disable_after_millis);
        state = after;
        events.extend(event);
    }
    (state, events)
}

/// A due delivery, as the claim sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueDelivery {
    pub id: i64,
    pub webhook: WebhookId,
}

/// Which of the due deliveries (oldest first: for each endpoint, first attempts in
/// stream order) to claim, at most `max`, leaving every endpoint at most
/// [`MAX_IN_FLIGHT_PER_ENDPOINT`] attempts in flight.
pub fn pick_claims(
    due: &[DueDelivery],
    in_flight: &HashMap<WebhookId, usize>,
    max: usize,
) -> Vec<i64> {
    let mut taken: HashMap<&WebhookId, usize> = HashMap::new();
    let mut picked = Vec::new();
    for delivery in due {
        if picked.len() >= max {
            break;
        }
        let busy = in_flight.get(&delivery.webhook).copied().unwrap_or(0);
        let count = taken.entry(&delivery.webhook).or_insert(busy);
        if *count < MAX_IN_FLIGHT_PER_ENDPOINT {
            *count += 1;
            picked.push(delivery.id);
        }
    }
    picked
}

/// `Retry-After` as seconds (delta-seconds only; an HTTP date is ignored and the
/// schedule applies).
pub fn parse_retry_after(raw: &str) -> Option<u64> {
    raw.trim().parse::<u64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_000_000);

    fn answered(status: u16) -> AttemptOutcome {
        AttemptOutcome::Answered { status, retry_after: None }
    }

    #[test]
    fn the_default_schedule_is_the_specifications_ten_attempts() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.attempts(), 10);
        let at = |n| judge(answered(500), n, false, &schedule, NOW, 0.0).next_attempt_at;
        assert_eq!(at(1), Some(Timestamp::from_millis(1_005_000)));
        assert_eq!(at(2), Some(Timestamp::from_millis(1_300_000)));
        assert_eq!(at(9), Some(Timestamp::from_millis(1_000_000 + 86_400_000)));
        assert_eq!(
            judge(answered(500), 10, false, &schedule, NOW, 0.0).status,
            DeliveryStatus::Exhausted
        );
        let jittered = judge(answered(500), 1, false, &schedule, NOW, 0.5).next_attempt_at;
        assert_eq!(jittered, Some(Timestamp::from_millis(1_006_000)), "jitter is capped at 20%");
    }

    #[test]
    fn outcomes_map_to_delivery_and_endpoint_states() {
        let schedule = RetrySchedule::parse("1,1,1").unwrap_or_default();
        assert_eq!(schedule.attempts(), 4);
        let ok = judge(answered(204), 1, false, &schedule, NOW, 0.0);
        assert_eq!(
            (ok.status, ok.endpoint),
            (DeliveryStatus::Succeeded, EndpointSignal::Succeeded)
        );
        let gone = judge(answered(410), 1, false, &schedule, NOW, 0.0);
        assert_eq!((gone.status, gone.endpoint), (DeliveryStatus::Failed, EndpointSignal::Gone));
        let redirect = judge(answered(308), 1, false, &schedule, NOW, 0.0);
        assert_eq!(redirect.status, DeliveryStatus::Pending);
        assert_eq!(answered(308).error_kind(), Some(ErrorKind::Redirect));
        let limited = AttemptOutcome::Answered { status: 429, retry_after: Some(120) };
        assert_eq!(
            judge(limited, 1, false, &schedule, NOW, 0.1).next_attempt_at,
            Some(Timestamp::from_millis(1_120_000))
        );
        let huge = AttemptOutcome::Answered { status: 503, retry_after: Some(10_000_000) };
        assert_eq!(
            judge(huge, 1, false, &schedule, NOW, 0.0).next_attempt_at,
            Some(Timestamp::from_millis(1_000_000 + 86_400_000))
        );
        let by_hand =
            judge(AttemptOutcome::NoAnswer(ErrorKind::Timeout), 1, true, &schedule, NOW, 0.0);
        assert_eq!((by_hand.status, by_hand.next_attempt_at), (DeliveryStatus::Failed, None));
        assert!(RetrySchedule::parse("1,x").is_err());
    }

    fn hook(status: EndpointStatus) -> Webhook {
        Webhook {
            id: WebhookId::from_stored("0123456789abcdef0123456789abcdef".into()),
            url: "https://x.com/".into(),
            event_types: Vec::new(),
            description: String::new(),
            status,
            failing_since: None,
            last_success_at: None,
            last_failure_at: None,
            previous_secret_expires_at: None,
            created_at: NOW,
            updated_at: NOW,
        }
    }

    #[test]
    fn an_endpoint_failing_long_enough_is_disabled_with_an_event_and_410_disables_at_once() {
        let day = 86_400_000;
        let (failing, event) =
            endpoint_after(&hook(EndpointStatus::Enabled), EndpointSignal::Failed, NOW, 5 * day);
        assert_eq!(
            (failing.status, failing.failing_since, event),
            (EndpointStatus::Enabled, Some(NOW), None)
        );
        let later = Timestamp::from_millis(NOW.millis() + 5 * day);
        let (disabled, event) = endpoint_after(&failing, EndpointSignal::Failed, later, 5 * day);
        assert_eq!(disabled.status, EndpointStatus::DisabledFailing);
        let event = event.map(|e| (e.kind.as_str(), e.object["status"].clone()));
        assert_eq!(event, Some(("webhook.disabled", Value::from("disabled_failing"))));
        let (gone, event) =
            endpoint_after(&hook(EndpointStatus::Enabled), EndpointSignal::Gone, NOW, 5 * day);
        assert_eq!((gone.status, event.is_some()), (EndpointStatus::DisabledGone, true));
        let (healed, _) = endpoint_after(&failing, EndpointSignal::Succeeded, later, 5 * day);
        assert_eq!((healed.failing_since, healed.last_success_at), (None, Some(later)));
        let (still, event) =
            endpoint_after(&hook(EndpointStatus::Disabled), EndpointSignal::Gone, NOW, day);
        assert_eq!((still.status, event), (EndpointStatus::Disabled, None));
    }

    #[test]
    fn a_batch_of_attempts_changes_its_endpoint_as_one_at_a_time_would() {
        use EndpointSignal::{Failed, Gone, Succeeded};
        // A success then a failure leaves the endpoint failing since now; a 410 among
        // failures disables it once, with one event, and what follows keeps the record.
        let (after, events) =
            endpoint_after_all(&hook(EndpointStatus::Enabled), [Succeeded, Failed], NOW, 1);
        assert_eq!(
            (after.status, after.last_success_at, after.failing_since, events.len()),
            (EndpointStatus::Enabled, Some(NOW), Some(NOW), 0)
        );
        let (gone, events) = endpoint_after_all(
            &hook(EndpointStatus::Enabled),
            [Failed, Gone, Gone, Failed],
            NOW,
            86_400_000,
        );
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!((gone.status, kinds), (EndpointStatus::DisabledGone, vec!["webhook.disabled"]));
        let (same, events) = endpoint_after_all(&hook(EndpointStatus::Enabled), [], NOW, 1);
        assert_eq!((same, events.len()), (hook(EndpointStatus::Enabled), 0));
    }

    #[test]
    fn claims_keep_at_most_four_in_flight_per_endpoint_in_order() {
        let a = WebhookId::from_stored("a".repeat(32));
        let b = WebhookId::from_stored("b".repeat(32));
        let due: Vec<DueDelivery> = (1..=6)
            .map(|id| DueDelivery { id, webhook: a.clone() })
            .chain((7..=8).map(|id| DueDelivery { id, webhook: b.clone() }))
            .collect();
        let in_flight = HashMap::from([(a.clone(), 1), (b.clone(), 3)]);
        assert_eq!(pick_claims(&due, &in_flight, 100), vec![1, 2, 3, 7]);
        assert_eq!(pick_claims(&due, &HashMap::new(), 2), vec![1, 2]);
    }
}
