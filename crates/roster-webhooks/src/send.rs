//! One attempt: resolve the target, refuse addresses the operator does not allow (at
//! every attempt, so that a name re-pointed after it was checked does not help), connect,
//! POST the signed body, and read the status and the first bytes of the answer. No
//! redirect is followed and no connection is kept: the whole attempt is bounded by one
//! timeout.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use roster_core::Clock;
use roster_core::webhooks::delivery::{RESPONSE_HEAD_BYTES, parse_retry_after};
use roster_core::webhooks::{
    AttemptOutcome, AttemptRecord, ErrorKind, TargetRules, TargetUrl, WebhookSecret,
    signature_header,
};
use serde_json::{Map, Value};

/// What one attempt sends.
pub struct Message<'a> {
    pub url: &'a str,
    /// `webhook-id`: the event's id, the same on every attempt.
    pub id: &'a str,
    pub body: &'a [u8],
    pub secrets: &'a [WebhookSecret],
    pub event_type: &'a str,
    /// The event's place in its org's stream (`None` for a ping).
    pub seq: Option<u64>,
    pub attempt: u32,
}

/// What one attempt came to, and its entry in the delivery log.
pub struct Sent {
    pub outcome: AttemptOutcome,
    pub record: AttemptRecord,
}

const USER_AGENT: &str = concat!("Roster-Webhooks/", env!("CARGO_PKG_VERSION"));

/// The request's headers, in order; the signature is the one that must not be logged.
fn headers(
    message: &Message<'_>,
    timestamp: i64,
) -> Result<Vec<(&'static str, String)>, ErrorKind> {
    let secrets: Vec<&WebhookSecret> = message.secrets.iter().collect();
    let signature = signature_header(&secrets, message.id, timestamp, message.body)
        .map_err(|_| ErrorKind::Io)?;
    let mut headers = vec![
        ("content-type", "application/json".to_owned()),
        ("user-agent", USER_AGENT.to_owned()),
        ("webhook-id", message.id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
        ("roster-event-type", message.event_type.to_owned()),
        ("roster-attempt", message.attempt.to_string()),
    ];
    if let Some(seq) = message.seq {
        headers.push(("roster-seq", seq.to_string()));
    }
    Ok(headers)
}

/// Sends one attempt of `message` within `timeout`.
pub async fn send(
    message: &Message<'_>,
    rules: TargetRules,
    clock: &Clock,
    timeout: Duration,
) -> Sent {
    let started_at = clock.now();
    let timestamp = started_at.millis().div_euclid(1000);
    let began = Instant::now();
    let headers = headers(message, timestamp);
    let logged = match &headers {
        Ok(headers) => logged_headers(headers),
        Err(_) => Value::Object(Map::new()),
    };
    let result = match headers {
        Ok(headers) => tokio::time::timeout(timeout, exchange(message, &headers, rules))
            .await
            .unwrap_or(Err(ErrorKind::Timeout)),
        Err(kind) => Err(kind),
    };
    let (outcome, response_head) = match result {
        Ok((status, retry_after, head)) => (AttemptOutcome::Answered { status, retry_after }, head),
        Err(kind) => (AttemptOutcome::NoAnswer(kind), String::new()),
    };
    let record = AttemptRecord {
        number: message.attempt,
        started_at,
        duration_millis: i64::try_from(began.elapsed().as_millis()).unwrap_or(i64::MAX),
        status_code: outcome.status_code(),
        error_kind: outcome.error_kind(),
        response_head,
        request_headers: logged,
    };
    Sent { outcome, record }
}

/// The headers as the delivery log shows them: the signature redacted.
fn logged_headers(headers: &[(&'static str, String)]) -> Value {
    let mut logged = Map::new();
    for (name, value) in headers {
        let shown =
            if *name == "webhook-signature" { "[redacted]".to_owned() } else { value.clone() };
        logged.insert((*name).to_owned(), Value::String(shown));
    }
    Value::Object(logged)
}

/// How long a new or changed endpoint waits for its host's name to resolve.
const SUBSCRIPTION_LOOKUP: Duration = Duration::from_secs(5);

/// The check an endpoint's URL passes when it is made or changed: refused (with the reason)
/// only when its host resolves and every address is one the rules forbid.
///
/// A name that does not resolve now, or not within five seconds, is accepted: DNS may be
/// down for a moment or the record not yet published, and refusing would be wrong for
/// both. Nothing is sent to it unchecked, since every connection resolves and checks anew.
pub async fn check_subscription_target(url: &TargetUrl, rules: TargetRules) -> Result<(), String> {
    match tokio::time::timeout(SUBSCRIPTION_LOOKUP, allowed_addresses(url, rules)).await {
        Ok(Err((ErrorKind::ForbiddenAddress, reason))) => Err(reason),
        Ok(_) | Err(_) => Ok(()),
    }
}

/// The addresses `url`'s host resolves to now that the rules allow; `Err` when there are
/// none (unresolvable, or every address refused).
pub(crate) async fn allowed_addresses(
    url: &TargetUrl,
    rules: TargetRules,
) -> Result<Vec<SocketAddr>, (ErrorKind, String)> {
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host((url.host.as_str(), url.port))
        .await
        .map_err(|_| (ErrorKind::Dns, format!("The host {} does not resolve.", url.host)))?
        .collect();
    let mut refused = None;
    let allowed: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|addr| match rules.refuse_address(addr.ip()) {
            Some(reason) => {
                refused = Some((addr.ip(), reason));
                false
            }
            None => true,
        })
        .collect();
    match (allowed.is_empty(), refused) {
        (false, _) => Ok(allowed),
        (true, Some((ip, reason))) => Err((
            ErrorKind::ForbiddenAddress,
            format!(
                "The host {} resolves to {ip}, a {reason} address, which this server does not send to.",
                url.host
            ),
        )),
        (true, None) => Err((ErrorKind::Dns, format!("The host {} does not resolve.", url.host))),
    }
}

/// Connects, sends, and reads the status, `Retry-After` and the answer's first bytes.
async fn exchange(
    message: &Message<'_>,
    headers: &[(&'static str, String)],
    rules: TargetRules,
) -> Result<(u16, Option<u64>, String), ErrorKind> {
    let url = TargetUrl::parse(message.url, rules).map_err(|_| ErrorKind::ForbiddenAddress)?;
    let addresses = allowed_addresses(&url, rules).await.map_err(|(kind, _)| kind)?;
    let mut stream = None;
    for address in addresses {
        if let Ok(connected) = tokio::net::TcpStream::connect(address).await {
            stream = Some(connected);
            break;
        }
    }
    let stream = stream.ok_or(ErrorKind::Connect)?;
    if url.https {
        return crate::tls::exchange(stream, &url, message, headers).await;
    }
    http_exchange(TokioIo::new(stream), &url, message, headers).await
}

/// The HTTP/1.1 exchange over a connected (and, for https, encrypted) stream.
pub(crate) async fn http_exchange<S>(
    io: S,
    url: &TargetUrl,
    message: &Message<'_>,
    headers: &[(&'static str, String)],
) -> Result<(u16, Option<u64>, String), ErrorKind>
where
    S: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(io).await.map_err(|_| ErrorKind::Io)?;
    tokio::spawn(async move {
        // Ends when the answer has been read as far as wanted and the sender is dropped.
        let _ = connection.await;
    });
    let mut request =
        hyper::Request::post(url.path_and_query.as_str()).header("host", url.authority());
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request =
        request.body(Full::new(Bytes::copy_from_slice(message.body))).map_err(|_| ErrorKind::Io)?;
    let response = sender.send_request(request).await.map_err(|_| ErrorKind::Io)?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let mut body = response.into_body();
    let mut head = Vec::new();
    while head.len() < RESPONSE_HEAD_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let room = RESPONSE_HEAD_BYTES - head.len();
                    head.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            // A body cut short still leaves the status, which decides.
            Some(Err(_)) | None => break,
        }
    }
    // PostgreSQL text cannot hold NUL.
    let head = String::from_utf8_lossy(&head).replace('\0', "\u{fffd}");
    Ok((status, retry_after, head))
}
