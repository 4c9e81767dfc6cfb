//! Webhooks: subscriptions to an organization's change stream, and the rules of their
//! delivery. Everything here decides; the stores record and the deliverer sends.
//!
//! - [`signature`]: Standard Webhooks 1.0 secrets and signatures.
//! - [`endpoint`]: what a subscription is, how its input is read, which URLs it may name.
//! - [`delivery`]: the retry schedule, what an attempt's outcome means for its delivery
//!   and its endpoint, and which due deliveries are claimed first.

pub mod delivery;
pub mod endpoint;
pub mod signature;
pub mod store;

pub use delivery::{
    AttemptOutcome, AttemptRecord, DeliveryStatus, ErrorKind, Judgement, RetrySchedule,
};
pub use endpoint::{
    EndpointStatus, NewWebhook, TargetRules, TargetUrl, Webhook, WebhookId, WebhookPatch,
};
pub use signature::{SECRET_PREFIX, SecretError, WebhookSecret, signature_header, signing_secrets};
pub use store::{AttemptResult, Claim, Delivery, DeliveryQuery, DeliveryWork, WebhookStore};
