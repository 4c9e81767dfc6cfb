//! `/organizations/{org}/webhooks`: subscriptions to the change stream (admins only),
//! their delivery log, and recovery. Roster's own; Tallyfy has no such routes.

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_core::events::Cursor;
use roster_core::webhooks::endpoint::{
    parse_grace_seconds, parse_new_webhook, parse_webhook_patch,
};
use roster_core::webhooks::{
    AttemptRecord, Delivery, DeliveryQuery, DeliveryStatus, TargetUrl, Webhook, WebhookSecret,
};
use roster_core::{Timestamp, ValidationErrors};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::auth::{Admins, Permitted};
use crate::body::JsonBody;
use crate::path::{DeliveryPath, WebhookPath};
use crate::query;
use crate::wire::{Collection, Item};
use crate::{ApiError, AppState};

/// Deliveries on one page of the log at most.
const MAX_DELIVERY_LIMIT: u64 = 100;

/// A webhook endpoint as answers show it: never its secret.
#[derive(Serialize, ToSchema)]
pub struct WebhookOut {
    #[schema(example = "5f0c6a1e2b3d4c5e6f708192a3b4c5d6")]
    id: String,
    #[schema(example = "https://hooks.example.com/roster")]
    url: String,
    /// Event types or globs (`group.*`); empty means every type.
    event_types: Vec<String>,
    description: String,
    /// `enabled`, `disabled` (by an admin), `disabled_failing` (failing without a success
    /// for `--webhook-disable-after`) or `disabled_gone` (the receiver answered 410).
    #[schema(example = "enabled")]
    status: &'static str,
    /// When the current run of failures began; null while healthy.
    #[schema(value_type = Option<String>, format = DateTime)]
    failing_since: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    last_success_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    last_failure_at: Option<Timestamp>,
    /// After a rotation: until when the previous secret signs beside the new one.
    #[schema(value_type = Option<String>, format = DateTime)]
    previous_secret_expires_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime, example = "2026-12-06T10:00:00.000Z")]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime, example = "2026-12-06T10:00:00.000Z")]
    updated_at: Timestamp,
}

impl WebhookOut {
    fn new(hook: &Webhook) -> Self {
        Self {
            id: hook.id.to_string(),
            url: hook.url.clone(),
            event_types: hook.event_types.clone(),
            description: hook.description.clone(),
            status: hook.status.as_str(),
            failing_since: hook.failing_since,
            last_success_at: hook.last_success_at,
            last_failure_at: hook.last_failure_at,
            previous_secret_expires_at: hook.previous_secret_expires_at,
            created_at: hook.created_at,
            updated_at: hook.updated_at,
        }
    }
}

/// A new or rotated endpoint, with its secret: shown this once.
#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecret {
    data: WebhookOut,
    /// `whsec_` and the standard base64 of 32 random bytes: give it to your Standard
    /// Webhooks verifier. It is never shown again.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    secret: String,
}

/// `POST /organizations/{org}/webhooks`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WebhookCreate {
    /// An `https` URL (`http` only where the operator allows it) whose host resolves to
    /// public addresses (unless the operator allows private ones).
    #[schema(
        example = "https://hooks.example.com/roster",
        max_length = 2048,
        pattern = r"^[^\u0000]*[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000][^\u0000]*$"
    )]
    url: String,
    /// Event types or globs; absent, null or empty for every type.
    event_types: Option<Vec<String>>,
    #[schema(max_length = 1000, pattern = r"^[^\u0000]*$")]
    description: Option<String>,
    /// Default true.
    enabled: Option<bool>,
}

/// `PATCH /organizations/{org}/webhooks/{webhook}`: absent fields stay as they are.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WebhookUpdate {
    /// As on create; may be left out, but not sent null.
    #[schema(
        nullable = false,
        example = "https://hooks.example.com/roster",
        max_length = 2048,
        pattern = r"^[^\u0000]*[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000][^\u0000]*$"
    )]
    url: Option<String>,
    event_types: Option<Vec<String>>,
    #[schema(max_length = 1000, pattern = r"^[^\u0000]*$")]
    description: Option<String>,
    /// `true` re-enables (clearing the failure state; events committed while it was off
    /// are not sent unless replayed); `false` disables.
    enabled: Option<bool>,
}

/// `POST .../secret/rotate`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RotateSecret {
    /// How long the old secret keeps signing beside the new one: 0 to 604800 (7 days);
    /// default 86400.
    #[schema(minimum = 0, maximum = 604_800)]
    grace_period_seconds: Option<i64>,
}

/// `POST .../recover`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RecoverRequest {
    /// UTC date-time: deliveries made at or after it.
    #[schema(format = DateTime, example = "2026-12-06T00:00:00Z")]
    since: String,
    /// UTC date-time, exclusive; default now.
    #[schema(format = DateTime)]
    until: Option<String>,
}

/// `POST .../replay`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReplayRequest {
    /// A feed cursor (a `next_cursor` of `/events`, or a listing's `Roster-Cursor`):
    /// every matching event after it is delivered again, in order.
    #[schema(example = "cur_...")]
    after: String,
}

/// How many deliveries a recovery or replay queued.
#[derive(Serialize, ToSchema)]
pub struct Queued {
    queued: u64,
}

/// One delivery of an event to an endpoint.
#[derive(Serialize, ToSchema)]
pub struct DeliveryOut {
    id: i64,
    /// The event's id: the `webhook-id` of every attempt.
    event_id: String,
    event_type: String,
    /// The event's place in the org's stream.
    seq: u64,
    /// `pending` (an attempt is due at `next_attempt_at`), `succeeded`, `failed` (no
    /// attempt scheduled: a 410, or a retry by hand that failed) or `exhausted`.
    #[schema(example = "succeeded")]
    status: &'static str,
    /// How many attempts were made (a delivery's detail lists them as `attempts`).
    attempt_count: u32,
    #[schema(value_type = Option<String>, format = DateTime)]
    next_attempt_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl DeliveryOut {
    fn new(delivery: &Delivery) -> Self {
        Self {
            id: delivery.id,
            event_id: delivery.event_id.clone(),
            event_type: delivery.event_type.clone(),
            seq: delivery.seq,
            status: delivery.status.as_str(),
            attempt_count: delivery.attempts,
            next_attempt_at: delivery.next_attempt_at,
            created_at: delivery.created_at,
            updated_at: delivery.updated_at,
        }
    }
}

/// One attempt of a delivery.
#[derive(Serialize, ToSchema)]
pub struct AttemptOut {
    number: u32,
    #[schema(value_type = String, format = DateTime)]
    started_at: Timestamp,
    duration_ms: i64,
    /// The receiver's status; null when it gave none.
    status_code: Option<u16>,
    /// Why the attempt failed: `dns`, `forbidden_address`, `connect`, `tls`, `timeout`,
    /// `io`, `redirect` (3xx: never followed) or `status`; null on success.
    error_kind: Option<&'static str>,
    /// The first 4 KiB of the receiver's answer.
    response_head: String,
    /// The headers sent, the signature redacted.
    #[schema(value_type = Object)]
    request_headers: Value,
}

impl AttemptOut {
    fn new(attempt: &AttemptRecord) -> Self {
        Self {
            number: attempt.number,
            started_at: attempt.started_at,
            duration_ms: attempt.duration_millis,
            status_code: attempt.status_code,
            error_kind: attempt.error_kind.map(|k| k.as_str()),
            response_head: attempt.response_head.clone(),
            request_headers: attempt.request_headers.clone(),
        }
    }
}

/// A delivery with every attempt, oldest first.
#[derive(Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    delivery: DeliveryOut,
    attempts: Vec<AttemptOut>,
}

/// A page of the delivery log, newest first.
#[derive(Serialize, ToSchema)]
pub struct DeliveryPage {
    data: Vec<DeliveryOut>,
    /// Pass as `after` for the next page; null on the last.
    next_cursor: Option<String>,
}

/// What a ping came to.
#[derive(Serialize, ToSchema)]
pub struct PingResult {
    /// Whether the receiver answered 2xx.
    succeeded: bool,
    status_code: Option<u16>,
    error_kind: Option<&'static str>,
    duration_ms: i64,
    response_head: String,
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::validation(ValidationErrors::single(field, message))
}

/// 422 on `url` when its host resolves only to addresses the operator does not allow.
async fn check_target(state: &AppState, url: &TargetUrl) -> Result<(), ApiError> {
    roster_webhooks::check_subscription_target(url, state.config.webhooks.rules)
        .await
        .map_err(|reason| invalid("url", reason))
}

fn new_secret() -> Result<WebhookSecret, ApiError> {
    WebhookSecret::generate().map_err(|e| ApiError::internal("webhook secret", e))
}

/// Subscribe an endpoint
///
/// Creates a webhook endpoint that receives the organization's events from now on (no
/// back-fill; `POST .../replay` sends earlier ones), each as a Standard Webhooks request
/// signed with the secret answered here, once. At most 20 endpoints per organization by
/// default (409 beyond). Admins only; 422 names the bad field: a URL that is not `https`
/// (unless the operator allows `http`), carries credentials, or whose host resolves to a
/// loopback, private, link-local or multicast address (unless the operator allows them).
#[utoipa::path(post, operation_id = "createWebhook", path = "/organizations/{org}/webhooks", tag = "webhooks", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters")), request_body = WebhookCreate, responses((status = 201, description = "The endpoint, with its secret (shown once)", body = WebhookWithSecret), (status = 409, description = "The organization has the most endpoints allowed", body = crate::error::ErrorBody), (status = 422, description = "A field is invalid", body = crate::error::ErrorBody)))]
pub async fn create(
    admin: Permitted<Admins>,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let new = parse_new_webhook(&body, state.config.webhooks.rules)?;
    check_target(&state, &new.url).await?;
    let secret = new_secret()?;
    let org = &admin.caller.org;
    let hook =
        state.store.create_webhook(org, &new, &secret, state.config.webhooks.max_per_org).await?;
    let answer = WebhookWithSecret { data: WebhookOut::new(&hook), secret: secret.expose() };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// List endpoints
///
/// The organization's webhook endpoints, oldest first, with their status and health.
/// Never a secret. Admins only.
#[utoipa::path(get, operation_id = "listWebhooks", path = "/organizations/{org}/webhooks", tag = "webhooks", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters")), responses((status = 200, description = "Every endpoint", body = Collection<WebhookOut>)))]
pub async fn list(
    admin: Permitted<Admins>,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let hooks = state.store.list_webhooks(&admin.caller.org).await?;
    let data = hooks.iter().map(WebhookOut::new).collect();
    Ok(Json(Collection { data }).into_response())
}

/// Get an endpoint
///
/// One webhook endpoint with its status and health. Never its secret. Admins only.
#[utoipa::path(get, operation_id = "getWebhook", path = "/organizations/{org}/webhooks/{webhook}", tag = "webhooks", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("webhook" = String, Path, description = "Webhook endpoint id: 32 lowercase hex characters")), responses((status = 200, description = "The endpoint", body = Item<WebhookOut>)))]
pub async fn get(
    admin: Permitted<Admins>,
    WebhookPath(id): WebhookPath,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let hook =
        state.store.webhook(&admin.caller.org, &id).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(Item { data: WebhookOut::new(&hook) }).into_response())
}

/// Update an endpoint
///
/// Changes the URL, event types, description, or enables (`enabled: true`, which clears
/// the failure state) or disables it. Fields left out stay. Admins only; 422 as on create.
#[utoipa::path(patch, operation_id = "updateWebhook", path = "/organizations/{org}/webhooks/{webhook}", tag = "webhooks", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("webhook" = String, Path, description = "Webhook endpoint id: 32 lowercase hex characters")), request_body = WebhookUpdate, responses((status = 200, description = "The endpoint", body = Item<WebhookOut>), (status = 422, description = "A field is invalid", body = crate::error::ErrorBody)))]
pub async fn update(
    admin: Permitted<Admins>,
    WebhookPath(id): WebhookPath,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let patch = parse_webhook_patch(&body, state.config.webhooks.rules)?;
    if let Some(url) = &patch.url {
        check_target(&state, url).await?;
    }
    let hook = state.store.update_webhook(&admin.caller.org, &id, &patch).await?;
    Ok(Json(Item { data: WebhookOut::new(&hook) }).into_response())
}

/// Delete an endpoint
///
/// Deletes the endpoint with its delivery log; nothing pending is sent. Admins only.
#[utoipa::path(delete, operation_id = "deleteWebhook", path = "/organizations/{org}/webhooks/{webhook}", tag = "webhooks", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("webhook" = String, Path, description = "Webhook endpoint id: 32 lowercase hex characters")), responses((status = 204, description = "Deleted")))]
pub async fn delete(
    admin: Permitted<Admins>,
    WebhookPath(id): WebhookPath,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    state.store.delete_webhook(&admin.caller.org, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Rotate an endpoint's secret
///
/// A new secret, answered once. The old one keeps signing beside it (two entries in
/// `webhook-signature`) for `grace_period_seconds` (default a day, at most 7 days), so
/// that the receiver can switch without losing a delivery. Admins only.
#[utoipa::path(post, operation_id = "rotateWebhookSecret", path = "/organizations/{org}/webhooks/{webhook}/secret/rotate", tag = "webhooks", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("webhook" = String, Path, description = "Webhook endpoint id: 32 lowercase hex characters")), request_body(content = RotateSecret, description = "Optional"), responses((status = 200, description = "The endpoint, with its new secret (shown once)", body = WebhookWithSecret), (status = 422, description = "The grace period is out of range", body = crate::error::ErrorBody)))]
pub async fn rotate(
    admin: Permitted<Admins>,
    WebhookPath(id): WebhookPath,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let grace = parse_grace_seconds(&body)?;
    let secret = new_secret()?;
    let until = Timestamp::from_millis(
        state.store.clock().now().millis().saturating_add(grace.saturating_mul(1000)),
    );
    let hook = state.store.rotate_webhook_secret(&admin.caller.org, &id, &secret, until).await?;
    Ok(Json(WebhookWithSecret { data: WebhookOut::new(&hook), secret: secret.expose() })
        .into_response())
}

/// Ping an endpoint
///
/// Sends a signed `webhook.ping` to the endpoint now, whatever its status, and answers
/// what came of it (not kept in the delivery log). Admins only.
#[utoipa::path(post, operation_id = "pingWebhook", path = "/organizations/{org}/webhooks/{webhook}/ping", tag = "webhooks", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("webhook" = String, Path, description = "Webhook endpoint id: 32 lowercase hex characters")), responses((status = 200, description = "The attempt's result", body = Item<PingResult>)))]
pub async fn ping(
    admin: Permitted<Admins>,
    WebhookPath(id): WebhookPath,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let org = &admin.caller.org;
    let hook = state.store.webhook(org, &id).await?.ok_or_else(ApiError::not_found)?;
    let secrets = state.store.webhook_secrets(org, &id).await?.ok_or_else(ApiError::not_found)?;
    let now = state.store.clock().now();
    let message_id = format!(
        "msg_{}",
        roster_core::GroupId::generate().map_err(|e| ApiError::internal("ping id", e))?
    );
    let body = json!({
        "id": message_id,
        "type": "webhook.ping",
        "timestamp": now,
        "org_id": org.as_str(),
        "data": {"webhook_id": hook.id.as_str()},
    })
    .to_string();
    let message = roster_webhooks::Message {
        url: &hook.url,
        id: &message_id,
        body: body.as_bytes(),
        secrets: &secrets,
        event_type: "webhook.ping",
        seq: None,
        attempt: 1,
    };
    let sent = roster_webhooks::send(
        &message,
        state.config.webhooks.rules,
        state.store.clock(),
        state.config.webhooks.timeout,
    )
    .await;
    let data = PingResult {
        succeeded: sent.outcome.error_kind().is_none(),
        status_code: sent.record.status_code,
        error_kind: sent.record.error_kind.map(|k| k.as_str()),
        duration_ms: sent.record.duration_millis,
        response_head: sent.record.response_head,
    };
    Ok(Json(Item { data }).into_response())
}

/// A delivery log cursor exactly as `next_cursor` writes it (the pattern
/// `DeliveryLogQuery` gives `after`): a delivery id in decimal, no sign, padding or leading zero.
fn delivery_cursor(raw: &str) -> Option<i64> {
    let canonical =
        raw.len() <= 18 && raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0');
    canonical.then(|| raw.parse().ok()).flatten()
}

/// Read the delivery log
///
/// The endpoint's deliveries, newest first: one per event it was sent, with its status,
/// attempts and next attempt. Filter by `status`; page with `limit` (at most 100) and
/// `after` (the previous page's `next_cursor`). Admins only.
#[utoipa::path(get, operation_id = "listWebhookDeliveries", path = "/organizations/{org}/webhooks/{webhook}/deliveries", tag = "webhooks", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("webhook" = String, Path, description = "Webhook endpoint id: 32 lowercase hex characters"), crate::openapi::DeliveryLogQuery), responses((status = 200, description = "A page of deliveries", body = DeliveryPage)))]
pub async fn deliveries(
    admin: Permitted<Admins>,
    WebhookPath(id): WebhookPath,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(&uri);
    let status = match query::value(&pairs, "status") {
        None => None,
        Some(raw) => Some(DeliveryStatus::parse(raw).ok_or_else(|| {
            invalid("status", "The status must be pending, succeeded, failed or exhausted.")
        })?),
    };
    let before = match query::value(&pairs, "after") {
        None => None,
        Some(raw) => Some(
            delivery_cursor(raw)
                .ok_or_else(|| invalid("after", "The after must be a next_cursor of this log."))?,
        ),
    };
    let limit = match query::value(&pairs, "limit").map(str::trim) {
        None => 50,
        Some(raw) => {
            raw.parse::<u64>().ok().filter(|n| (1..=MAX_DELIVERY_LIMIT).contains(n)).ok_or_else(
                || invalid("limit", "The limit must be an integer between 1 and 100."),
            )?
        }
    };
    let org = &admin.caller.org;
    state.store.webhook(org, &id).await?.ok_or_else(ApiError::not_found)?;
    let found =
        state.store.list_deliveries(org, &id, &DeliveryQuery { status, before, limit }).await?;
    let next_cursor =
        (found.len() as u64 == limit).then(|| found.last().map(|d| d.id.to_string())).flatten();
    let data = found.iter().map(DeliveryOut::new).collect();
    Ok(Json(DeliveryPage { data, next_cursor }).into_response())
}

/// Get a delivery
///
/// One delivery with every attempt: when, how long, the status code or why there was
/// none, the first 4 KiB of the answer, and the headers sent (signature redacted).
/// Admins only.
#[utoipa::path(get, operation_id = "getWebhookDelivery", path = "/organizations/{org}/webhooks/{webhook}/deliveries/{delivery}", tag = "webhooks", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("webhook" = String, Path, description = "Webhook endpoint id: 32 lowercase hex characters"), ("delivery" = i64, Path, minimum = 1, description = "Delivery id")), responses((status = 200, description = "The delivery and its attempts", body = Item<DeliveryDetail>)))]
pub async fn delivery(
    admin: Permitted<Admins>,
    WebhookPath(id): WebhookPath,
    DeliveryPath(delivery): DeliveryPath,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let (found, attempts) = state
        .store
        .delivery(&admin.caller.org, &id, delivery)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let data = DeliveryDetail {
        delivery: DeliveryOut::new(&found),
        attempts: attempts.iter().map(AttemptOut::new).collect(),
    };
    Ok(Json(Item { data }).into_response())
}

/// Retry a delivery
///
/// Makes one attempt of the delivery now, with the same `webhook-id`, whatever became of
/// it (a delivery still on its schedule only has its next attempt brought forward).
/// Allowed while its event is kept (409 after). Admins only.
#[utoipa::path(post, operation_id = "retryWebhookDelivery", path = "/organizations/{org}/webhooks/{webhook}/deliveries/{delivery}/retry", tag = "webhooks", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("webhook" = String, Path, description = "Webhook endpoint id: 32 lowercase hex characters"), ("delivery" = i64, Path, minimum = 1, description = "Delivery id")), responses((status = 202, description = "The delivery, due now", body = Item<DeliveryOut>), (status = 409, description = "The event is past retention", body = crate::error::ErrorBody)))]
pub async fn retry(
    admin: Permitted<Admins>,
    WebhookPath(id): WebhookPath,
    DeliveryPath(delivery): DeliveryPath,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let found = state.store.retry_delivery(&admin.caller.org, &id, delivery).await?;
    Ok((StatusCode::ACCEPTED, Json(Item { data: DeliveryOut::new(&found) })).into_response())
}

fn time_field(body: &Value, field: &str, required: bool) -> Result<Option<Timestamp>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(raw)) => Timestamp::parse_utc(raw.trim()).map(Some).ok_or_else(|| {
            invalid(
                field,
                format!("The {field} must be a UTC date-time, e.g. 2026-12-06T10:00:00Z."),
            )
        }),
        _ => Err(invalid(field, format!("The {field} field is required."))),
    }
}

/// Recover failed deliveries
///
/// Queues again every `failed` or `exhausted` delivery made in [`since`, `until`), each
/// with the retry schedule started afresh. Admins only.
#[utoipa::path(post, operation_id = "recoverWebhookDeliveries", path = "/organizations/{org}/webhooks/{webhook}/recover", tag = "webhooks", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("webhook" = String, Path, description = "Webhook endpoint id: 32 lowercase hex characters")), request_body = RecoverRequest, responses((status = 202, description = "How many were queued", body = Item<Queued>), (status = 422, description = "A time is missing or malformed", body = crate::error::ErrorBody)))]
pub async fn recover(
    admin: Permitted<Admins>,
    WebhookPath(id): WebhookPath,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let since = time_field(&body, "since", true)?.unwrap_or(Timestamp::from_millis(0));
    let until = time_field(&body, "until", false)?;
    let queued = state.store.recover_deliveries(&admin.caller.org, &id, since, until).await?;
    Ok((StatusCode::ACCEPTED, Json(Item { data: Queued { queued } })).into_response())
}

/// Replay the stream to an endpoint
///
/// Delivers again, in order, every event the endpoint wants after a feed cursor (a
/// `next_cursor` of `/events` or a listing's `Roster-Cursor`): the same ids and bytes as
/// the feed and the audit log. Admins only; 422 for a cursor that is malformed or of
/// another organization.
#[utoipa::path(post, operation_id = "replayWebhook", path = "/organizations/{org}/webhooks/{webhook}/replay", tag = "webhooks", params(("org" = String, Path, description = "Organization id: 32 lowercase hex characters"), ("webhook" = String, Path, description = "Webhook endpoint id: 32 lowercase hex characters")), request_body = ReplayRequest, responses((status = 202, description = "How many were queued", body = Item<Queued>), (status = 422, description = "The cursor is missing, malformed or another organization's", body = crate::error::ErrorBody)))]
pub async fn replay(
    admin: Permitted<Admins>,
    WebhookPath(id): WebhookPath,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let org = &admin.caller.org;
    let after = match body.get("after") {
        Some(Value::String(raw)) => Cursor::decode(raw.trim(), org).map_err(|_| {
            invalid("after", "The after must be a cursor of this organization's feed.")
        })?,
        _ => return Err(invalid("after", "The after field is required.")),
    };
    let queued = state.store.replay_webhook(org, &id, after.0).await?;
    Ok((StatusCode::ACCEPTED, Json(Item { data: Queued { queued } })).into_response())
}
