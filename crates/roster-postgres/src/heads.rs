//! Org heads for many requests in one statement.
//!
//! A cached read needs its org's head (and its token's org's) from the database, so that
//! a write acknowledged by any instance shows in the very next read. One statement per
//! request made PostgreSQL's per-statement work the bound of every cached read. Here the
//! requests that arrive while a head read is in flight wait for the next one, which
//! reads the heads of all their orgs at once. It stays exact: every waiter's statement
//! starts after the waiter arrived, so it sees every commit acknowledged before that.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use deadpool_postgres::Pool;
use roster_core::store::OrgHead;
use roster_core::{OrgId, StoreError};
use tokio::sync::oneshot;

use crate::events;

pub(crate) struct HeadReads {
    pool: Pool,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    /// Whether a task is reading heads (and will take the waiters after its statement).
    running: bool,
    waiting: Vec<Waiter>,
}

struct Waiter {
    orgs: Vec<OrgId>,
    answer: oneshot::Sender<Result<Vec<OrgHead>, StoreError>>,
}

const NO_HEAD: OrgHead = OrgHead { head: 0, callers: 0, next_expiry: None };

impl HeadReads {
    pub(crate) fn new(pool: Pool) -> Arc<Self> {
        Arc::new(Self { pool, queue: Mutex::default() })
    }

    /// The heads of `orgs`, in their order, from a statement that starts after this call.
    pub(crate) async fn heads(
        self: &Arc<Self>,
        orgs: &[&OrgId],
    ) -> Result<Vec<OrgHead>, StoreError> {
        let (answer, answered) = oneshot::channel();
        let orgs = orgs.iter().map(|org| (*org).clone()).collect();
        let start = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.waiting.push(Waiter { orgs, answer });
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            tokio::spawn(Arc::clone(self).read_while_asked());
        }
        answered.await.map_err(|_| StoreError::new("org heads", "the head read was dropped"))?
    }

    /// Reads the heads of everyone waiting, one statement after another, until nobody is.
    async fn read_while_asked(self: Arc<Self>) {
        loop {
            let batch = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if queue.waiting.is_empty() {
                    queue.running = false;
                    return;
                }
                std::mem::take(&mut queue.waiting)
            };
            let mut ids: Vec<&str> =
                batch.iter().flat_map(|w| w.orgs.iter().map(OrgId::as_str)).collect();
            ids.sort_unstable();
            ids.dedup();
            let read = self.read(&ids).await;
            for waiter in batch {
                let answer = match &read {
                    Ok(found) => Ok(waiter
                        .orgs
                        .iter()
                        .map(|org| found.get(org.as_str()).copied().unwrap_or(NO_HEAD))
                        .collect()),
                    Err(e) => Err(e.clone()),
                };
                // A waiter that gave up (its request was dropped) needs no answer.
                let _ = waiter.answer.send(answer);
            }
        }
    }

    async fn read(&self, ids: &[&str]) -> Result<HashMap<String, OrgHead>, StoreError> {
        const CONTEXT: &str = "org heads";
        let client = crate::checkout(&self.pool, CONTEXT).await?;
        events::heads(&client, ids).await.map_err(|e| e.into_store_error(CONTEXT))
    }
}
