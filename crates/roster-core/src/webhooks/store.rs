//! What a backend stores for webhooks. Like [`crate::Store`], every method that touches
//! an endpoint or a delivery takes its organization; only the deliverer's own methods
//! (dispatch, claim, record) span organizations, and they hand out nothing to a client.

use async_trait::async_trait;

use super::delivery::{AttemptRecord, DeliveryStatus, Judgement};
use super::endpoint::{NewWebhook, Webhook, WebhookId, WebhookPatch};
use super::signature::WebhookSecret;
use crate::{OrgId, StoreError, Timestamp, WriteError};

/// One (endpoint, event) to deliver, as its log shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub webhook: WebhookId,
    pub event_id: String,
    pub event_type: String,
    pub seq: u64,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Which deliveries of an endpoint to list: newest first, before `before` (an id).
#[derive(Clone, Debug, Default)]
pub struct DeliveryQuery {
    pub status: Option<DeliveryStatus>,
    pub before: Option<i64>,
    pub limit: u64,
}

/// A delivery claimed for one attempt: everything the attempt needs, read in the claim.
#[derive(Clone, Debug)]
pub struct Claim {
    pub delivery: i64,
    pub org: OrgId,
    pub webhook: WebhookId,
    pub url: String,
    /// The current secret, then a rotated-out one still in its grace period.
    pub secrets: Vec<WebhookSecret>,
    pub event_id: String,
    pub event_type: String,
    pub seq: u64,
    /// The event's stored bytes: the body of every attempt.
    pub payload: String,
    /// This attempt's number (1 for the first).
    pub attempt: u32,
    /// Its place in the retry schedule (a recovered delivery starts the schedule again).
    pub schedule_attempt: u32,
    /// Asked for by hand: no scheduled attempt follows a failure.
    pub by_hand: bool,
    /// The claim's own mark: recording the attempt checks it is still this claim's.
    pub lease: String,
}

/// An attempt made under a claim, with what came of it, to record.
#[derive(Clone, Debug)]
pub struct AttemptResult {
    pub claim: Claim,
    pub record: AttemptRecord,
    pub judgement: Judgement,
}

impl AttemptResult {
    /// Sorts a batch the way every recorder locks rows (organization, endpoint,
    /// delivery), so that two instances recording at once never wait on each other in a
    /// circle.
    pub fn sort_for_recording(batch: &mut [Self]) {
        batch.sort_by(|a, b| {
            (a.claim.org.as_str(), a.claim.webhook.as_str(), a.claim.delivery).cmp(&(
                b.claim.org.as_str(),
                b.claim.webhook.as_str(),
                b.claim.delivery,
            ))
        });
    }
}

/// What the deliverer has to do, as one cheap read tells it (so that an idle deliverer
/// writes nothing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryWork {
    /// Some enabled endpoint has not looked at its org's newest events yet.
    pub behind: bool,
    /// When the earliest claimable delivery is due (an endpoint at its in-flight limit
    /// has none claimable).
    pub next_due: Option<Timestamp>,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// See [`DeliveryWork`].
    async fn delivery_work(&self) -> Result<DeliveryWork, StoreError>;

    /// Creates an endpoint signing with `secret`, following the org's stream from its head
    /// now (no back-fill), with its `webhook.created`; refused past `max_per_org`.
    async fn create_webhook(
        &self,
        org: &OrgId,
        new: &NewWebhook,
        secret: &WebhookSecret,
        max_per_org: usize,
    ) -> Result<Webhook, WriteError>;

    /// The org's endpoints, oldest first.
    async fn list_webhooks(&self, org: &OrgId) -> Result<Vec<Webhook>, StoreError>;

    async fn webhook(&self, org: &OrgId, id: &WebhookId) -> Result<Option<Webhook>, StoreError>;

    /// The secrets an endpoint signs with now (current first).
    async fn webhook_secrets(
        &self,
        org: &OrgId,
        id: &WebhookId,
    ) -> Result<Option<Vec<WebhookSecret>>, StoreError>;

    /// Applies `patch` (see [`WebhookPatch::apply`]). An endpoint enabled again follows
    /// the stream from its head: what was committed while it was off is not sent unless
    /// replayed.
    async fn update_webhook(
        &self,
        org: &OrgId,
        id: &WebhookId,
        patch: &WebhookPatch,
    ) -> Result<Webhook, WriteError>;

    /// Deletes an endpoint and its deliveries (nothing pending is sent).
    async fn delete_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<(), WriteError>;

    /// Signs with `secret` from now on; the current one keeps signing beside it until
    /// `previous_until`.
    async fn rotate_webhook_secret(
        &self,
        org: &OrgId,
        id: &WebhookId,
        secret: &WebhookSecret,
        previous_until: Timestamp,
    ) -> Result<Webhook, WriteError>;

    /// Turns the events committed since each enabled endpoint last looked into deliveries
    /// due now (those it wants, in stream order), at most `limit` events per endpoint;
    /// answers how many deliveries were made.
    async fn dispatch_webhooks(&self, limit: u64) -> Result<u64, StoreError>;

    /// Claims up to `max` due deliveries of enabled endpoints for [`LEASE_MILLIS`]
    /// (see [`super::delivery::pick_claims`] for which).
    ///
    /// [`LEASE_MILLIS`]: super::delivery::LEASE_MILLIS
    async fn claim_deliveries(&self, max: usize) -> Result<Vec<Claim>, StoreError>;

    /// Records claimed attempts and their judgements, in the order given and in one
    /// transaction, and updates each endpoint by [`super::delivery::endpoint_after`] (with
    /// its event when that disables it). One answer per attempt: `false` when its claim
    /// was lost meanwhile, and then nothing of it is recorded. One transaction for many
    /// attempts keeps the delivery's commits from crowding out the API's writes.
    async fn record_attempts(
        &self,
        attempts: &[AttemptResult],
        disable_after_millis: i64,
    ) -> Result<Vec<bool>, StoreError>;

    /// An endpoint's deliveries, newest first.
    async fn list_deliveries(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        query: &DeliveryQuery,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// One delivery with every attempt, oldest first.
    async fn delivery(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        id: i64,
    ) -> Result<Option<(Delivery, Vec<AttemptRecord>)>, StoreError>;

    /// Makes one attempt of a delivery due now, by hand (its event must still be kept).
    async fn retry_delivery(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        id: i64,
    ) -> Result<Delivery, WriteError>;

    /// Makes every failed or exhausted delivery made in [since, until) due now, with the
    /// retry schedule started again; answers how many.
    async fn recover_deliveries(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        since: Timestamp,
        until: Option<Timestamp>,
    ) -> Result<u64, WriteError>;

    /// New deliveries, due now, of every event the endpoint wants after seq `after` up to
    /// where it has looked (later ones come by dispatch as usual); answers how many.
    async fn replay_webhook(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        after: u64,
    ) -> Result<u64, WriteError>;

    /// Drops attempts (and finished deliveries) older than `before`.
    async fn trim_deliveries(&self, before: Timestamp) -> Result<u64, StoreError>;
}
