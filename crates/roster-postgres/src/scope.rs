//! What a write transaction carries beside its SQL, for as long as it runs (until its
//! commit or rollback): whether it recorded events, and the org's turn it holds.
//!
//! **Turns.** An org's writers take turns on its event counter row (see
//! [`crate::events::record`]): each holds the row's lock from the counter's `UPDATE` to
//! its commit. When many of one instance's connections wait on that row, every commit
//! wakes all of them and they fight over PostgreSQL's lock manager again (the bench's
//! one-org creates sampled `Lock:transactionid` and `LWLock:LockManager`). So within an
//! instance, writers first queue for the org's turn in memory, first come first served,
//! and only the turn's holder goes on to the row: the database sees one waiter per
//! instance. The row lock stays what orders writes across instances.
//!
//! The turn is handed on as soon as its holder's counter statement returns, not at its
//! commit: the next writer's statement then waits at the row while the holder commits,
//! and PostgreSQL runs it the moment the commit releases the row, with no round trip to
//! Roster in between. Still only one of the instance's writers waits there.
//!
//! A transaction takes at most one turn (a write that records in several orgs queues
//! for the first only) and waits for it at most [`TURN_WAIT`]; then it goes to the row
//! as if there were no turns. So a transaction that waits for a turn while holding rows
//! the turn's holder needs can delay it by that much at worst, never deadlock unseen:
//! past the wait, PostgreSQL's own deadlock detection sees both.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use roster_core::OrgId;
use tokio::sync::OwnedMutexGuard;

/// The longest a write waits for its org's turn before going to the row lock directly.
const TURN_WAIT: Duration = Duration::from_millis(250);

/// Orgs' turns, one queue per org that has writers now.
#[derive(Default)]
pub(crate) struct Turns {
    queues: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Turns {
    fn queue(&self, org: &OrgId) -> Option<Arc<tokio::sync::Mutex<()>>> {
        // A poisoned map only means another thread panicked mid-insert: go without turns.
        let mut queues = self.queues.lock().ok()?;
        if queues.len() >= 1024 {
            // Forget the queues nobody holds or waits in.
            queues.retain(|_, queue| Arc::strong_count(queue) > 1);
        }
        Some(queues.entry(org.as_str().to_owned()).or_default().clone())
    }
}

struct Scope {
    recorded: Cell<bool>,
    /// Whether this transaction took (or gave up waiting for) a turn: it takes one at most.
    took_turn: Cell<bool>,
    turn: RefCell<Option<OwnedMutexGuard<()>>>,
    turns: Arc<Turns>,
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// Runs a write transaction (its statements and its commit), answering its outcome and
/// whether it recorded events. A turn it still holds is given up as it ends.
pub(crate) async fn tracking<T>(
    turns: &Arc<Turns>,
    transaction: impl Future<Output = T>,
) -> (T, bool) {
    let scope = Scope {
        recorded: Cell::new(false),
        took_turn: Cell::new(false),
        turn: RefCell::new(None),
        turns: turns.clone(),
    };
    SCOPE
        .scope(scope, async {
            let outcome = transaction.await;
            (outcome, SCOPE.with(|scope| scope.recorded.get()))
        })
        .await
}

/// Notes that the running write transaction recorded events.
pub(crate) fn mark_recorded() {
    // Outside `tracking` (no write transaction around) there is nobody to tell.
    let _ = SCOPE.try_with(|scope| scope.recorded.set(true));
}

/// Waits for `org`'s turn, unless the running transaction already took one (or runs
/// outside `tracking`), or [`TURN_WAIT`] passes.
pub(crate) async fn wait_for_turn(org: &OrgId) {
    let queue =
        SCOPE.try_with(
            |scope| {
                if scope.took_turn.replace(true) { None } else { scope.turns.queue(org) }
            },
        );
    let Ok(Some(queue)) = queue else { return };
    if let Ok(turn) = tokio::time::timeout(TURN_WAIT, queue.lock_owned()).await {
        let _ = SCOPE.try_with(|scope| *scope.turn.borrow_mut() = Some(turn));
    }
}

/// Hands the running transaction's turn on to the next writer of its org (see the
/// module docs); it keeps its place in the org's order by the row lock it now holds.
pub(crate) fn pass_turn() {
    let _ = SCOPE.try_with(|scope| scope.turn.borrow_mut().take());
}
