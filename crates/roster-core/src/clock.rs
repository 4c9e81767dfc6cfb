//! The one clock every time-based rule reads: token expiry, idempotency windows, trash
//! retention, membership expiry, event timestamps. Nothing else reads the wall clock
//! (clippy's `disallowed-methods` enforces it), so a test (or a sandbox) can move time
//! for a whole store and its server without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::Timestamp;

/// A clock: the system's time plus an offset, or a frozen instant. Cloning shares it.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    state: Arc<ClockState>,
}

#[derive(Debug, Default)]
struct ClockState {
    /// Added to the system's time, in milliseconds.
    offset: AtomicI64,
    /// The instant the clock stands still at; `i64::MIN` while it runs.
    frozen_at: AtomicI64,
}

const RUNNING: i64 = i64::MIN;

impl Clock {
    /// The system's time, until someone moves it.
    pub fn system() -> Self {
        let clock = Self::default();
        clock.state.frozen_at.store(RUNNING, Ordering::Relaxed);
        clock
    }

    pub fn now(&self) -> Timestamp {
        let frozen = self.state.frozen_at.load(Ordering::Acquire);
        if frozen != RUNNING {
            return Timestamp::from_millis(frozen);
        }
        let offset = self.state.offset.load(Ordering::Acquire);
        Timestamp::from_millis(system_millis().saturating_add(offset))
    }

    /// Moves the clock forward (or back, for a negative `millis`); a frozen clock stays
    /// frozen at its new instant.
    pub fn advance(&self, millis: i64) {
        let frozen = self.state.frozen_at.load(Ordering::Acquire);
        if frozen != RUNNING {
            self.state.frozen_at.store(frozen.saturating_add(millis), Ordering::Release);
        } else {
            self.state.offset.fetch_add(millis, Ordering::AcqRel);
        }
    }

    /// Stops the clock at `at`.
    pub fn freeze(&self, at: Timestamp) {
        self.state.frozen_at.store(at.millis(), Ordering::Release);
    }

    /// Lets a frozen clock run again from where it stands.
    pub fn resume(&self) {
        let frozen = self.state.frozen_at.swap(RUNNING, Ordering::AcqRel);
        if frozen != RUNNING {
            self.state.offset.store(frozen - system_millis(), Ordering::Release);
        }
    }
}

/// The one read of the wall clock.
#[allow(clippy::disallowed_methods)]
fn system_millis() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    i64::try_from(millis).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_clock_moves_every_clone() {
        let clock = Clock::system();
        let shared = clock.clone();
        let before = shared.now().millis();
        clock.advance(86_400_000);
        assert!(shared.now().millis() >= before + 86_400_000);
        clock.freeze(Timestamp::from_millis(5_000));
        assert_eq!(shared.now(), Timestamp::from_millis(5_000));
        clock.advance(1_000);
        assert_eq!(shared.now(), Timestamp::from_millis(6_000));
        clock.resume();
        let resumed = shared.now().millis();
        assert!((6_000..6_000 + 60_000).contains(&resumed), "{resumed}");
    }
}
