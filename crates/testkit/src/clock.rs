//! The time source tests move by hand: expiry, lockouts and windows are then exact, not slept.

use std::sync::atomic::{AtomicI64, Ordering};

use signet_core::Clock;

/// Where every [`ManualClock`] starts: 2027-01-15, far from the epoch and from today, so a test
/// that leaks real time into a comparison fails.
pub const START_MS: i64 = 1_800_000_000_000;

/// A [`Clock`] that stands still until the test moves it.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `now_ms`.
    pub fn at(now_ms: i64) -> Self {
        Self(AtomicI64::new(now_ms))
    }

    /// Moves the clock by `ms` (backwards when negative, to age a record in place).
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock to `now_ms`.
    pub fn set(&self, now_ms: i64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    /// A clock at [`START_MS`].
    fn default() -> Self {
        Self::at(START_MS)
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_moves_only_when_told() {
        let c = ManualClock::default();
        assert_eq!(c.now_ms(), START_MS);
        c.advance(1500);
        assert_eq!(c.now_ms(), START_MS + 1500);
        c.advance(-500);
        assert_eq!(c.now_ms(), START_MS + 1000);
        c.set(7);
        assert_eq!(c.now_ms(), 7);
    }
}
