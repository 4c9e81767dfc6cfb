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
use roster_core::webhooks::{AttemptResult, Claim, RetrySchedule, TargetRules};
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
    let (results, recorded) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(record(
        Arc::clone(&store),
        Arc::clone(&settings),
        recorded,
        Arc::clone(&finished),
    ));
    let mut commits = store.commits();
    let mut failing = false;
    loop {
        if *stop.borrow() {
            return;
        }
        if let Some(commits) = &mut commits {
            commits.borrow_and_update();
        }
        let wait = match step(&store, &settings, &slots, &results).await {
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
    results: &Results,
) -> Result<Option<Duration>, roster_core::StoreError> {
    let work = store.delivery_work().await?;
    let now = store.clock().now();
    let until_due = work.next_due.map(|due| due.millis().saturating_sub(now.millis()).max(0));
    let free = slots.available_permits();
    let claims = if work.behind {
        // New events are dispatched, and what is due claimed, in the same look: under a
        // steady stream of writes the stream is always a little ahead, and claiming only
        // once it was caught up would send nothing while the writes last. Two
        // transactions on purpose: in one, a freshly dispatched delivery would leave it
        // already claimed (a SIGKILL right after a write then holds it for its lease), and
        // on PostgreSQL holding the dispatch's endpoint locks while claiming others could
        // deadlock two instances.
        store.dispatch_webhooks(DISPATCH_BATCH).await?;
        if free == 0 { Vec::new() } else { store.claim_deliveries(free).await? }
    } else if until_due == Some(0) && free > 0 {
        store.claim_deliveries(free).await?
    } else {
        // Nothing due yet, or due now with every slot busy: a finishing attempt wakes
        // the deliverer.
        let wait = until_due.map_or(POLL, |ms| Duration::from_millis(ms.unsigned_abs()).min(POLL));
        return Ok(Some(if until_due == Some(0) { POLL } else { wait }));
    };
    if claims.is_empty() {
        return Ok(if work.behind { None } else { Some(NOTHING_CLAIMED) });
    }
    for claim in claims {
        let Ok(permit) = Arc::clone(slots).try_acquire_owned() else { break };
        tokio::spawn(attempt(
            Arc::clone(store),
            Arc::clone(settings),
            claim,
            permit,
            results.clone(),
        ));
    }
    Ok(None)
}

/// A jitter between −0.2 and 0.2 for the retry schedule.
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.0;
    }
    (f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) - 0.5) * 0.4
}

/// Attempts made and not yet recorded, each with the slot it holds until it is.
type Results = tokio::sync::mpsc::UnboundedSender<(AttemptResult, OwnedSemaphorePermit)>;

/// Attempts recorded in one transaction at most.
const RECORD_BATCH: usize = 256;

/// Makes one claimed attempt and hands it to the recorder.
async fn attempt(
    store: Arc<dyn Store>,
    settings: Arc<Settings>,
    claim: Claim,
    slot: OwnedSemaphorePermit,
    results: Results,
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
    // The recorder ends only with the deliverer; an attempt finishing after that is
    // claimed again when its lease runs out.
    let _ = results.send((AttemptResult { claim, record: sent.record, judgement }, slot));
}

/// Records finished attempts, all that are waiting in one transaction (up to
/// [`RECORD_BATCH`]): at a thousand deliveries a second, one commit each would take the
/// database's writes from the API. A batch that fails is recorded one attempt at a time,
/// so that one bad record (or a deadlock with another instance) costs only itself; an
/// attempt not recorded is claimed again after its lease.
async fn record(
    store: Arc<dyn Store>,
    settings: Arc<Settings>,
    mut results: tokio::sync::mpsc::UnboundedReceiver<(AttemptResult, OwnedSemaphorePermit)>,
    finished: Arc<Notify>,
) {
    let mut waiting = Vec::with_capacity(RECORD_BATCH);
    while results.recv_many(&mut waiting, RECORD_BATCH).await > 0 {
        let (mut batch, slots): (Vec<AttemptResult>, Vec<OwnedSemaphorePermit>) =
            waiting.drain(..).unzip();
        AttemptResult::sort_for_recording(&mut batch);
        let outcomes = match store.record_attempts(&batch, settings.disable_after_millis).await {
            Ok(outcomes) => outcomes.into_iter().zip(&batch).collect::<Vec<_>>(),
            Err(err) if batch.len() > 1 => {
                tracing::warn!(%err, attempts = batch.len(), "recording webhook attempts together failed; recording each alone");
                let mut outcomes = Vec::with_capacity(batch.len());
                for one in &batch {
                    let alone = store
                        .record_attempts(std::slice::from_ref(one), settings.disable_after_millis)
                        .await;
                    match alone {
                        Ok(recorded) => {
                            outcomes.push((recorded.first().copied().unwrap_or(false), one))
                        }
                        Err(err) => {
                            tracing::warn!(%err, delivery = one.claim.delivery, "recording a webhook attempt failed")
                        }
                    }
                }
                outcomes
            }
            Err(err) => {
                tracing::warn!(%err, "recording a webhook attempt failed");
                Vec::new()
            }
        };
        for (recorded, one) in outcomes {
            if !recorded {
                tracing::info!(
                    delivery = one.claim.delivery,
                    "a webhook attempt's claim was lost (its lease ran out); its result is discarded"
                );
            }
        }
        drop(slots);
        finished.notify_one();
    }
}
