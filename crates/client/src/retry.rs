//! How the SDK waits between attempts, and the one notice a program may ask for when a call
//! starts retrying.
//!
//! Pauses grow exponentially and are jittered (`backon`'s exponential backoff): when a server
//! restarts, the hundreds of machines that were reading from it come back spread over a window
//! instead of all in the same second.

use std::sync::OnceLock;
use std::time::Duration;

use backon::{BackoffBuilder as _, ExponentialBuilder};

/// Why a call is being retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryCause {
    /// 429: over a request budget.
    RateLimited,
    /// 503 (a fail-closed dependency of the server is down), or the server could not be
    /// reached.
    Unavailable,
}

static NOTICE: OnceLock<fn(RetryCause)> = OnceLock::new();

/// Sets the function every client calls once per call, when that call starts retrying (before
/// its first pause), so an interactive program can say why it is waiting: the `signet` CLI
/// prints one line to stderr. The SDK itself never prints. The first setting wins; later ones
/// are ignored.
pub fn on_retry(notice: fn(RetryCause)) {
    let _ = NOTICE.set(notice);
}

/// Tells the program a call starts retrying, if it asked to know.
pub(crate) fn notify(cause: RetryCause) {
    if let Some(notice) = NOTICE.get() {
        notice(cause);
    }
}

/// The pauses of one call: `retries` of them, the first between `first` and twice `first`, each
/// next one's range twice the previous one's.
pub(crate) fn pauses(first: Duration, retries: usize) -> impl Iterator<Item = Duration> {
    ExponentialBuilder::new()
        .with_min_delay(first)
        .with_factor(2.0)
        .with_max_times(retries)
        .with_jitter()
        .build()
}

/// The pauses of a reconnecting stream: without end, from `first` up to `cap`, jittered within
/// the same bound.
pub(crate) fn reconnect_pauses(first: Duration, cap: Duration) -> impl Iterator<Item = Duration> {
    // The jitter adds up to the delay again, so the delay itself stops at half the cap.
    ExponentialBuilder::new()
        .with_min_delay(first)
        .with_max_delay(cap / 2)
        .with_factor(2.0)
        .without_max_times()
        .with_jitter()
        .build()
        .map(move |d| d.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_within_their_jitter_and_stop_after_the_retries() {
        let first = Duration::from_millis(100);
        let all: Vec<Duration> = pauses(first, 3).collect();
        assert_eq!(all.len(), 3);
        for (i, pause) in all.iter().enumerate() {
            let base = first * (1 << i);
            assert!(*pause >= base && *pause <= base * 2, "pause {i}: {pause:?}");
        }
        assert_eq!(pauses(first, 0).count(), 0);
    }

    #[test]
    fn pauses_are_jittered() {
        // Twenty clients starting together: their first pauses must not all be the same.
        let firsts: std::collections::BTreeSet<Duration> = (0..20)
            .filter_map(|_| pauses(Duration::from_secs(1), 1).next())
            .collect();
        assert!(firsts.len() > 1, "{firsts:?}");
    }

    #[test]
    fn reconnect_pauses_never_end_nor_pass_the_cap() {
        let cap = Duration::from_secs(30);
        let all: Vec<Duration> = reconnect_pauses(Duration::from_secs(1), cap)
            .take(50)
            .collect();
        assert_eq!(all.len(), 50);
        assert!(
            all.iter()
                .all(|d| *d <= cap && *d >= Duration::from_secs(1))
        );
        assert!(all[49] >= cap / 2);
    }
}
