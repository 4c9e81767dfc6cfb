//! Telling other instances that an org's stream moved, after the commit and off its path.
//!
//! A `NOTIFY` inside a write's transaction makes its commit take PostgreSQL's one
//! database-wide notification lock and hold it through the commit's WAL flush, so every
//! writing transaction of every org would commit one after another (the bench's spread
//! creates spent 37% of their samples on `Lock:object`). The notification is only a hint:
//! a listener re-reads the stream, and a long-poll re-reads it periodically anyway. So a
//! write only marks that it recorded events ([`mark_recorded`]); after its commit, the
//! [`Announcer`] sends one `NOTIFY` for every commit since its last one, from a
//! transaction of its own whose commit needs no flush (it stores nothing). Being sent
//! after the commit, it still reaches listeners only once the write is visible.

use deadpool_postgres::Pool;

macro_rules! channel {
    () => {
        "roster_events"
    };
}

/// The channel other instances LISTEN on.
pub(crate) const CHANNEL: &str = channel!();

/// One statement, one round trip: the notification and its own commit, which
/// `synchronous_commit = off` lets return without waiting for the WAL flush.
const NOTIFY: &str =
    concat!("BEGIN; SET LOCAL synchronous_commit TO off; NOTIFY ", channel!(), "; COMMIT");

/// Sends the notifications of this instance's commits, coalesced: commits that come while
/// one is being sent share the next. Its task ends when the store (the sender) is dropped.
pub(crate) struct Announcer {
    wake: tokio::sync::mpsc::UnboundedSender<()>,
}

impl Announcer {
    pub(crate) fn spawn(pool: Pool) -> Self {
        let (wake, mut woken) = tokio::sync::mpsc::unbounded_channel::<()>();
        tokio::spawn(async move {
            while woken.recv().await.is_some() {
                while woken.try_recv().is_ok() {}
                let sent = match pool.get().await {
                    Ok(client) => client.batch_execute(NOTIFY).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = sent {
                    // Listeners fall back on their periodic re-read.
                    tracing::warn!(error = %e, "could not notify other instances of a commit");
                }
            }
        });
        Self { wake }
    }

    /// A commit recorded events: other instances should hear of it.
    pub(crate) fn announce(&self) {
        let _ = self.wake.send(());
    }
}
