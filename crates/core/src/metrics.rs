//! What the business layer counts for the server's `/metrics` scrape: signed-read outcomes, the
//! audit journal's append latency, sign-ins and leases. Plain atomics bumped where the event
//! happens (no lock, no allocation), read by the server at scrape time through
//! [`Metrics::of`]. The exposition format is the server's business, not core's.
//!
//! What is live now (sessions, CLI keys, leases) is not an event this process sees: other
//! replicas open and end them, and they expire without anyone acting. [`Metrics::count_live`]
//! counts them in the store (the server runs it every [`LIVE_COUNT_EVERY`]) and keeps the last
//! count here for the scrape, which never queries.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use signet_api::audit::DenialReason;
use signet_store::LiveCounts;
use signet_store::metrics::Histogram;

/// How often the server counts live sessions, CLI keys and leases ([`Metrics::count_live`]).
pub const LIVE_COUNT_EVERY: Duration = Duration::from_secs(10);

/// How a signed secret read (`GET /v1/secret/{id}`) ended, in classes coarse enough to alert on.
/// Core decides the classes past authentication; the server counts the ones before it (a
/// request that never reached core).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadOutcome {
    /// The value was answered.
    Ok,
    /// The request did not authenticate (401).
    Auth,
    /// The source or machine was over its budget (429).
    Throttled,
    /// The request was malformed or too large (400, 413, ...).
    Malformed,
    /// Authenticated, and refused: no grant, not attached, an access policy (403).
    Denied,
    /// Authenticated, for a secret that does not exist or an id that cannot (403 too).
    NotFound,
    /// The secret's project is frozen (423).
    Frozen,
    /// The server could not answer: store, decryption or audit failure (5xx).
    Error,
}

impl ReadOutcome {
    /// Every class, in the order the counters are kept.
    pub const ALL: [ReadOutcome; 8] = [
        Self::Ok,
        Self::Auth,
        Self::Throttled,
        Self::Malformed,
        Self::Denied,
        Self::NotFound,
        Self::Frozen,
        Self::Error,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Auth => "auth",
            Self::Throttled => "throttled",
            Self::Malformed => "malformed",
            Self::Denied => "denied",
            Self::NotFound => "not_found",
            Self::Frozen => "frozen",
            Self::Error => "error",
        }
    }

    /// The class of an audited refusal.
    pub(crate) fn of_denial(reason: DenialReason) -> Self {
        match reason {
            DenialReason::NotFound => Self::NotFound,
            DenialReason::ProjectFrozen => Self::Frozen,
            _ => Self::Denied,
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }
}

/// How a person signed in, for the sign-in counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignIn {
    /// A browser session was opened (password, passkey or SSO).
    Browser,
    /// A CLI operator key was registered with a password and second factor.
    Cli,
}

impl SignIn {
    /// Every kind, in the order the counters are kept.
    pub const ALL: [SignIn; 2] = [Self::Browser, Self::Cli];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Browser => "browser",
            Self::Cli => "cli",
        }
    }
}

/// The business layer's counters; one per `Signet`.
#[derive(Debug)]
pub struct Metrics {
    reads: [AtomicU64; ReadOutcome::ALL.len()],
    sign_ins: [AtomicU64; SignIn::ALL.len()],
    leases_created: AtomicU64,
    leases_revoked: AtomicU64,
    /// The last [`LiveCounts`], field by field.
    live: [AtomicU64; 3],
    /// When they were counted, Unix ms; 0 before the first count.
    live_at_ms: AtomicI64,
    /// How long the audit journal's appends took (µs), from the call to the durable answer: the
    /// wait a signed read pays before its value may leave.
    pub audit_append: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            reads: Default::default(),
            sign_ins: Default::default(),
            leases_created: AtomicU64::new(0),
            leases_revoked: AtomicU64::new(0),
            live: Default::default(),
            live_at_ms: AtomicI64::new(0),
            audit_append: Histogram::latency(),
        }
    }
}

impl Metrics {
    /// Counts one signed read ending as `outcome`.
    pub fn read(&self, outcome: ReadOutcome) {
        if let Some(c) = self.reads.get(outcome.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Signed reads that ended as `outcome` so far.
    pub fn reads(&self, outcome: ReadOutcome) -> u64 {
        self.reads
            .get(outcome.index())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    pub(crate) fn signed_in(&self, how: SignIn) {
        let i = SignIn::ALL.iter().position(|s| *s == how).unwrap_or(0);
        if let Some(c) = self.sign_ins.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sign-ins of kind `how` so far.
    pub fn sign_ins(&self, how: SignIn) -> u64 {
        let i = SignIn::ALL.iter().position(|s| *s == how).unwrap_or(0);
        self.sign_ins
            .get(i)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    pub(crate) fn lease_created(&self) {
        self.leases_created.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn lease_revoked(&self) {
        self.leases_revoked.fetch_add(1, Ordering::Relaxed);
    }

    /// Leases minted by this process so far.
    pub fn leases_created(&self) -> u64 {
        self.leases_created.load(Ordering::Relaxed)
    }

    /// Leases revoked by this process so far (by the reaper, an operator or an agent).
    pub fn leases_revoked(&self) -> u64 {
        self.leases_revoked.load(Ordering::Relaxed)
    }

    pub(crate) fn set_live(&self, counts: LiveCounts, at_ms: i64) {
        let [browser, cli, leases] = &self.live;
        browser.store(counts.browser_sessions, Ordering::Relaxed);
        cli.store(counts.cli_keys, Ordering::Relaxed);
        leases.store(counts.leases, Ordering::Relaxed);
        // Release: a reader that sees the time sees the counts stored before it.
        self.live_at_ms.store(at_ms.max(1), Ordering::Release);
    }

    /// The last count of what is live in the whole store and when it was made (Unix ms); `None`
    /// before the first. Read field by field while the next count may store: a scrape can mix
    /// two counts ten seconds apart, which the next scrape settles.
    pub fn live(&self) -> Option<(LiveCounts, i64)> {
        let at_ms = self.live_at_ms.load(Ordering::Acquire);
        if at_ms == 0 {
            return None;
        }
        let [browser, cli, leases] = &self.live;
        Some((
            LiveCounts {
                browser_sessions: browser.load(Ordering::Relaxed),
                cli_keys: cli.load(Ordering::Relaxed),
                leases: leases.load(Ordering::Relaxed),
            },
            at_ms,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_has_its_own_counter_and_label() {
        let m = Metrics::default();
        for (n, o) in ReadOutcome::ALL.iter().enumerate() {
            for _ in 0..=n {
                m.read(*o);
            }
        }
        for (n, o) in ReadOutcome::ALL.iter().enumerate() {
            assert_eq!(m.reads(*o), n as u64 + 1, "{}", o.as_str());
        }
        let labels: std::collections::HashSet<_> =
            ReadOutcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(labels.len(), ReadOutcome::ALL.len());
    }

    #[test]
    fn denials_fall_in_their_class() {
        assert_eq!(
            ReadOutcome::of_denial(DenialReason::NotFound),
            ReadOutcome::NotFound
        );
        assert_eq!(
            ReadOutcome::of_denial(DenialReason::NoGrant),
            ReadOutcome::Denied
        );
        assert_eq!(
            ReadOutcome::of_denial(DenialReason::ProjectFrozen),
            ReadOutcome::Frozen
        );
    }

    #[test]
    fn live_counts_are_unknown_until_the_first_and_then_the_last() {
        let m = Metrics::default();
        assert_eq!(m.live(), None, "no zero is made up before a count");
        let first = LiveCounts {
            browser_sessions: 3,
            cli_keys: 2,
            leases: 1,
        };
        m.set_live(first, 1_000);
        assert_eq!(m.live(), Some((first, 1_000)));
        m.set_live(LiveCounts::default(), 2_000);
        assert_eq!(m.live(), Some((LiveCounts::default(), 2_000)));
    }
}
