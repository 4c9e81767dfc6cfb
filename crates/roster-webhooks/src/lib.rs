//! The webhook deliverer. It turns each org's change stream into deliveries for the
//! endpoints that want them, claims due deliveries, sends each as a signed Standard
//! Webhooks request, and records what came of it. The rules (what is sent, when it is
//! retried, when an endpoint is disabled) are `roster_core::webhooks`'; the state is the
//! store's, so that any number of instances share the work and a restart loses nothing.
//!
//! No HTTP call is ever made inside a transaction: a claim is one short transaction, the
//! attempt runs outside any, and its record is another. A claim not recorded within its
//! lease (the instance died) is claimed again, by any instance.

mod send;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use roster_core::Store;
use roster_core::webhooks::delivery::{
    ATTEMPT_TIMEOUT_MILLIS, DEFAULT_DISABLE_AFTER_MILLIS, judge,
};
use roster_core::webhooks::{Claim, RetrySchedule, TargetRules};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

pub use send::{Message, Sent, check_subscription_target, send};

/// How this instance delivers.
#[derive(Clone, Debug)]
pub struct Settings {
    pub rules: TargetRules,
    pub schedule: RetrySchedule,
    /// An endpoint failing without a success this long is disabled.
    pub disable_after_millis: i64,
    /// One attempt's bound, connect to answer.
    pub timeout: Duration,
    /// Attempts in flight at once on this instance (each endpoint has at most four).
    pub concurrency: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            rules: TargetRules::default(),
            schedule: RetrySchedule::default(),
            disable_after_millis: DEFAULT_DISABLE_AFTER_MILLIS,
            timeout: Duration::from_millis(ATTEMPT_TIMEOUT_MILLIS),
            concurrency: 64,
        }
    }
}

/// Events per endpoint turned into deliveries by one dispatch.
const DISPATCH_BATCH: u64 = 500;
/// The deliverer looks again at least this often, whatever it heard: it covers commits it
/// was not told of (a lost NOTIFY) and retries falling due.
const POLL: Duration = Duration::from_secs(1);
/// After a claim that found nothing (another instance took it), the deliverer waits at
/// least this long before it looks again unless woken.
const NOTHING_CLAIMED: Duration = Duration::from_millis(50);

/// Runs the deliverer until `stop` turns true. Attempts in flight then finish on their
/// own (or are claimed again after their lease, if the process ends first).
pub fn spawn(
    store: Arc<dyn Store>,
    settings: Settings,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(store, Arc::new(settings), stop))
}

async fn run(
    store: Arc<dyn Store>,
    settings: Arc<Settings>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let finished = Arc::new(Notify::new());
    let mut commits = store.commits();
    let mut failing = false;
    loop {
        if *stop.borrow() {
            return;
        }
        if let Some(commits) = &mut commits {
            commits.borrow_and_update();
        }
        let wait = match step(&store, &settings, &slots, &finished).await {
            Ok(wait) => {
                if failing {
                    tracing::info!("webhook delivery works again");
                    failing = false;
                }
                wait
            }
            Err(err) => {
                if !failing {
                    tracing::warn!(%err, "webhook delivery failed; retrying");
                    failing = true;
                }
                Some(POLL)
            }
        };
        let Some(wait) = wait else { continue };
        tokio::select! {
            () = async {
                let heard = match &mut commits {
                    Some(commits) => commits.changed().await.is_ok(),
                    None => false,
                };
                if !heard {
                    std::future::pending::<()>().await;
                }
            } => {}
            () = tokio::time::sleep(wait) => {}
            () = finished.notified() => {}
            changed = stop.changed() => {
                // A dropped sender means nobody can ask to go on: stop.
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// One look: dispatch what is new, claim what is due and start its attempts. Answers how
/// long to wait before the next look unless woken (`None`: look again at once).
async fn step(
    store: &Arc<dyn Store>,
    settings: &Arc<Settings>,
    slots: &Arc<Semaphore>,
    finished: &Arc<Notify>,
) -> Result<Option<Duration>, roster_core::StoreError> {
    let work = store.delivery_work().await?;
    if work.behind {
        store.dispatch_webhooks(DISPATCH_BATCH).await?;
        return Ok(None);
    }
    let now = store.clock().now();
    let until_due = work.next_due.map(|due| due.millis().saturating_sub(now.millis()).max(0));
    let free = slots.available_permits();
    if until_due == Some(0) && free > 0 {
        let claims = store.claim_deliveries(free).await?;
        if claims.is_empty() {
            return Ok(Some(NOTHING_CLAIMED));
        }
        for claim in claims {
            let Ok(permit) = Arc::clone(slots).try_acquire_owned() else { break };
            tokio::spawn(attempt(
                Arc::clone(store),
                Arc::clone(settings),
                claim,
                permit,
                Arc::clone(finished),
            ));
        }
        return Ok(None);
    }
    // Due now with every slot busy: a finishing attempt wakes the deliverer.
    let wait = until_due.map_or(POLL, |ms| Duration::from_millis(ms.unsigned_abs()).min(POLL));
    Ok(Some(if until_due == Some(0) { POLL } else { wait }))
}

/// A jitter between −0.2 and 0.2 for the retry schedule.
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.0;
    }
    (f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) - 0.5) * 0.4
}

/// Makes one claimed attempt and records it.
async fn attempt(
    store: Arc<dyn Store>,
    settings: Arc<Settings>,
    claim: Claim,
    _slot: OwnedSemaphorePermit,
    finished: Arc<Notify>,
) {
    let message = Message {
        url: &claim.url,
        id: &claim.event_id,
        body: claim.payload.as_bytes(),
        secrets: &claim.secrets,
        event_type: &claim.event_type,
        seq: Some(claim.seq),
        attempt: claim.attempt,
    };
    let sent = send(&message, settings.rules, store.clock(), settings.timeout).await;
    let judgement = judge(
        sent.outcome,
        claim.schedule_attempt,
        claim.by_hand,
        &settings.schedule,
        store.clock().now(),
        jitter(),
    );
    match store
        .record_attempt(&claim, &sent.record, &judgement, settings.disable_after_millis)
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::info!(
            delivery = claim.delivery,
            "a webhook attempt's claim was lost (its lease ran out); its result is discarded"
        ),
        // The lease runs out and the delivery is attempted again.
        Err(err) => {
            tracing::warn!(%err, delivery = claim.delivery, "recording a webhook attempt failed")
        }
    }
    finished.notify_one();
}
