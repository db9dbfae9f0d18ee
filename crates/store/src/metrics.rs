//! What a backend counts as it works, for the server's `/metrics` scrape.
//!
//! Plain atomics: the writer and the read path add to them with relaxed `fetch_add`s (no lock,
//! no allocation), and the server reads them when it is scraped. Nothing here knows the
//! exposition format; the server (`crates/server/src/metrics.rs`) turns them into it. The one
//! exception is [`Instrumented::live_counts`], a query the server runs in the background.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::StoreResult;

/// Upper bounds (µs) of the latency histograms' buckets, from 100 µs to 10 s; one more bucket
/// counts anything longer.
pub const LATENCY_MICROS: &[u64] = &[
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// Upper bounds of the batch-size histograms' buckets (the SQLite writer commits at most 512
/// pieces of work together).
pub const BATCH_SIZES: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/// A histogram over fixed bucket bounds, in integer units (µs, or a count).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [u64],
    /// `buckets[i]` counts observations at most `bounds[i]` and above `bounds[i - 1]`; the
    /// last one (past the bounds) counts the rest.
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
    count: AtomicU64,
}

/// A histogram as it was read: per-bucket counts (not cumulative), the last past every bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// The buckets' upper bounds.
    pub bounds: &'static [u64],
    /// One count per bound, then one for everything above the last.
    pub buckets: Vec<u64>,
    /// The sum of every observation.
    pub sum: u64,
    /// How many observations.
    pub count: u64,
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending).
    pub fn new(bounds: &'static [u64]) -> Self {
        Self {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// A latency histogram (µs) over [`LATENCY_MICROS`].
    pub fn latency() -> Self {
        Self::new(LATENCY_MICROS)
    }

    /// Counts one observation of `value`.
    pub fn observe(&self, value: u64) {
        // A handful of bounds: a scan beats a search, and never allocates.
        let i = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        if let Some(bucket) = self.buckets.get(i) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one observation of `took`, in µs.
    pub fn observe_duration(&self, took: Duration) {
        self.observe(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
    }

    /// The counts now. Read bucket by bucket while others may add: a scrape can see an
    /// observation in `count` and not yet in its bucket, which the next scrape settles.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: self.bounds,
            buckets: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            sum: self.sum.load(Ordering::Relaxed),
            count: self.count.load(Ordering::Relaxed),
        }
    }
}

/// A backend's histograms. One per store; audited handles share their store's.
#[derive(Debug)]
pub struct StoreMetrics {
    /// Pieces of work (SQLite: closures on the writer's queue; PostgreSQL: journal batches)
    /// committed per group commit.
    pub commit_batch: Histogram,
    /// How long each group commit took, fsync included (µs).
    pub commit_micros: Histogram,
    /// How long the durable step of each group commit took (µs): SQLite's `COMMIT`, where the
    /// WAL is written and fsynced; PostgreSQL's journal write, one autocommitted statement whose
    /// commit waits for the server's WAL flush. Apart from `commit_micros` so that a slow disk
    /// shows apart from slow statements.
    pub sync_micros: Histogram,
    /// How long each WAL checkpoint took (µs); SQLite only.
    pub checkpoint_micros: Histogram,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        Self {
            commit_batch: Histogram::new(BATCH_SIZES),
            commit_micros: Histogram::latency(),
            sync_micros: Histogram::latency(),
            checkpoint_micros: Histogram::latency(),
        }
    }
}

/// Database connections held by a backend's pool, now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections open (busy or idle).
    pub open: u64,
    /// Connections running a statement for someone.
    pub busy: u64,
}

/// What is live in the whole store at one instant (every replica's rows, not this process's),
/// for the scrape's gauges. One statement counts all three, so they come from one snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounts {
    /// Browser sessions of active users neither revoked, nor past their absolute end, nor idle.
    pub browser_sessions: u64,
    /// CLI keys (operator keys a user made by signing in: `user_id` set) of active users,
    /// neither disabled nor expired. The headless `signet operator init` key is no sign-in and
    /// is not counted; a suspended user's keys and sessions authenticate nothing and are not
    /// either.
    pub cli_keys: u64,
    /// Leases `active` and not yet expired (a lease past its expiry that the reaper has not
    /// reached yet no longer counts; one being revoked does not either).
    pub leases: u64,
}

/// What every backend reports to the scrape. Cheap: each call reads atomics or a pool's
/// counters, never the database; except [`Instrumented::live_counts`], which the server runs
/// off the scrape.
#[async_trait]
pub trait Instrumented {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// The backend's histograms.
    fn metrics(&self) -> &StoreMetrics;
    /// The read pool's connections (SQLite: the reader pool; PostgreSQL: the main pool).
    fn pool_use(&self) -> PoolUse;
    /// Nonces held for replay checks: SQLite's in-memory set, PostgreSQL's shared table as
    /// counted without a query (its last sweep plus this process's inserts since). `None` for a
    /// backend that cannot tell.
    fn nonces_held(&self) -> Option<u64>;
    /// Counts what is live at `now_ms`: browser sessions of active users, not revoked, with
    /// `expires_ms` after `now_ms` and `last_seen_ms` after `seen_after_ms` (idle expiry is the
    /// caller's rule, given as that bound); keys of active users, enabled, with no expiry or
    /// one after `now_ms`; leases
    /// `active` with `expires_ms` after `now_ms`. A query over the whole store: never run it in
    /// a scrape (the server refreshes these in the background and the scrape reads the last).
    async fn live_counts(&self, now_ms: i64, seen_after_ms: i64) -> StoreResult<LiveCounts>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_whose_bound_holds_them() {
        let h = Histogram::new(&[1, 10, 100]);
        for v in [0, 1, 2, 10, 11, 100, 101, u64::MAX / 2] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.buckets, vec![2, 2, 2, 2]);
        assert_eq!(s.count, 8);
        assert_eq!(s.sum, 225 + u64::MAX / 2);
    }

    #[test]
    fn durations_are_counted_in_microseconds() {
        let h = Histogram::latency();
        h.observe_duration(Duration::from_millis(3));
        let s = h.snapshot();
        assert_eq!(s.sum, 3000);
        let at = LATENCY_MICROS.iter().position(|b| *b == 5_000).unwrap();
        assert_eq!(s.buckets[at], 1);
    }
}
