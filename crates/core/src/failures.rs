//! Authentication failures: what a flood of junk requests may cost.
//!
//! Two things are bounded per source (the resolved client address; an IPv6 source is its /64,
//! since one host is usually given a whole /64; every unreadable address is one source):
//!
//! - **work**: each source has a budget of failures (GCRA, `auth_failures_per_minute`). A source
//!   past it is answered 429 *before* any key lookup or signature check, so its requests cost a
//!   hash-map lookup. Only failures spend the budget: a source's valid requests never do, and
//!   one source's flood never touches another's budget.
//! - **audit growth**: the first failure of a source in an interval is recorded at once, as
//!   before; the rest are counted and written as one `auth_failures` record per source when the
//!   interval ends (or on shutdown), with `count=N` in its detail.
//!
//! At most `auth_failure_max_sources` sources are tracked. Past that the oldest is evicted: its
//! counts move to one shared `other` tally (nothing counted is lost), its budget is forgotten.
//! Getting a fresh budget that way needs more addresses than the table holds.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::address::ClientAddr;
use crate::clock::Clock;

/// Distinct reasons kept per tally; further ones are counted under `other`.
const MAX_REASONS: usize = 8;

/// Core's clock as governor's: the limiters move with the manual clock in tests.
#[derive(Clone)]
pub(crate) struct BudgetClock(pub(crate) Arc<dyn Clock>);

impl GovernorClock for BudgetClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let ms = u64::try_from(self.0.now_ms()).unwrap_or(0);
        Nanos::from(ms.saturating_mul(1_000_000))
    }
}

/// One GCRA limiter on core's clock.
pub(crate) type Limiter = RateLimiter<NotKeyed, InMemoryState, BudgetClock, NoOpMiddleware<Nanos>>;

/// Whole seconds until `limiter` admits again, at least 1; `None` if it admits now (and has
/// counted this one).
pub(crate) fn spend(limiter: &Limiter, clock: &BudgetClock) -> Option<u64> {
    match limiter.check() {
        Ok(()) => None,
        Err(not_until) => {
            let wait = not_until.wait_time_from(clock.now());
            Some((wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1))
        }
    }
}

/// Settings, from the server's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimits {
    /// Authentication failures a source may make per minute before it is answered 429 (0: no
    /// budget, only aggregation).
    pub per_minute: u32,
    /// How long failures of one source are counted before their record is written, seconds.
    pub audit_interval_secs: u64,
    /// Sources tracked at most.
    pub max_sources: usize,
}

impl Default for FailureLimits {
    fn default() -> Self {
        Self {
            per_minute: 30,
            audit_interval_secs: 60,
            max_sources: 10_000,
        }
    }
}

/// Where failures come from, as the budget sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    Addr(IpAddr),
    /// The IPv6 /64 with this prefix.
    Net64(u64),
    Unknown,
}

impl Source {
    fn of(addr: ClientAddr) -> Self {
        match addr.ip() {
            Some(IpAddr::V6(v6)) => {
                let [a, b, c, d, ..] = v6.segments();
                Self::Net64(
                    (u64::from(a) << 48)
                        | (u64::from(b) << 32)
                        | (u64::from(c) << 16)
                        | u64::from(d),
                )
            }
            Some(ip) => Self::Addr(ip),
            None => Self::Unknown,
        }
    }

    fn label(self) -> String {
        match self {
            Self::Addr(ip) => ip.to_string(),
            Self::Net64(p) => {
                let seg = |s: u32| ((p >> s) & 0xffff) as u16;
                let net = std::net::Ipv6Addr::new(seg(48), seg(32), seg(16), seg(0), 0, 0, 0, 0);
                format!("{net}/64")
            }
            Self::Unknown => "unknown".to_owned(),
        }
    }
}

/// Failures counted but not yet written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Failures that reached authentication.
    count: u64,
    /// Requests refused before any work because the source was over budget.
    limited: u64,
    reasons: Vec<(String, u64)>,
}

impl Tally {
    fn add(&mut self, reason: &str) {
        self.count += 1;
        self.add_reason(reason, 1);
    }

    fn add_reason(&mut self, reason: &str, n: u64) {
        if let Some(r) = self.reasons.iter_mut().find(|(r, _)| r == reason) {
            r.1 += n;
        } else if self.reasons.len() < MAX_REASONS {
            self.reasons.push((reason.to_owned(), n));
        } else if let Some(r) = self.reasons.iter_mut().find(|(r, _)| r == "other") {
            r.1 += n;
        } else if let Some(last) = self.reasons.last_mut() {
            // The last slot becomes the catch-all: the list never grows past its bound.
            *last = ("other".to_owned(), last.1 + n);
        }
    }

    fn merge(&mut self, other: &Tally) {
        self.count += other.count;
        self.limited += other.limited;
        for (reason, n) in &other.reasons {
            self.add_reason(reason, *n);
        }
    }

    fn is_empty(&self) -> bool {
        self.count == 0 && self.limited == 0
    }

    pub(crate) fn detail(&self, window_ms: i64) -> String {
        let reasons: Vec<String> = self
            .reasons
            .iter()
            .map(|(r, n)| format!("{r}:{n}"))
            .collect();
        format!(
            "count={} limited={} reasons={} window_ms={window_ms}",
            self.count,
            self.limited,
            reasons.join(",")
        )
    }
}

struct Entry {
    generation: u64,
    limiter: Option<Limiter>,
    blocked_until_ms: i64,
    last_ms: i64,
    /// The open interval's start and what it counted after its first (immediately written)
    /// failure.
    window: Option<(i64, Tally)>,
}

#[derive(Default)]
struct Table {
    entries: HashMap<Source, Entry>,
    /// Insertion order for eviction; stale pairs (removed or re-inserted keys) are skipped.
    order: VecDeque<(Source, u64)>,
    next_generation: u64,
    /// Counts of evicted sources, written as one record for `other`.
    other: Option<(i64, Tally)>,
}

/// What the caller should do about one failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Write this failure's own record now (the first of its source's interval).
    pub(crate) write_now: bool,
    /// The source is now over its budget: answer 429 with this `Retry-After`.
    pub(crate) over_budget: Option<u64>,
}

/// One aggregate record, due to be written.
pub(crate) struct Due {
    pub(crate) source: String,
    pub(crate) started_ms: i64,
    pub(crate) tally: Tally,
}

/// The per-source table.
pub(crate) struct Failures {
    pub(crate) limits: FailureLimits,
    quota: Option<Quota>,
    clock: BudgetClock,
    table: Mutex<Table>,
}

impl Failures {
    pub(crate) fn new(limits: FailureLimits, clock: Arc<dyn Clock>) -> Self {
        Self {
            quota: NonZeroU32::new(limits.per_minute).map(Quota::per_minute),
            limits: FailureLimits {
                max_sources: limits.max_sources.max(1),
                audit_interval_secs: limits.audit_interval_secs.max(1),
                ..limits
            },
            clock: BudgetClock(clock),
            table: Mutex::new(Table::default()),
        }
    }

    fn interval_ms(&self) -> i64 {
        i64::try_from(self.limits.audit_interval_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A poisoned lock only means a panic elsewhere mid-update of plain counters.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Before any signature work: `Err(retry_after_secs)` if `addr` is over its budget (the
    /// refusal is counted for the interval's record).
    pub(crate) fn admit(&self, addr: ClientAddr, now_ms: i64) -> Result<(), u64> {
        let mut t = self.lock();
        let Some(e) = t.entries.get_mut(&Source::of(addr)) else {
            return Ok(());
        };
        if e.blocked_until_ms <= now_ms {
            return Ok(());
        }
        e.last_ms = now_ms;
        e.window
            .get_or_insert_with(|| (now_ms, Tally::default()))
            .1
            .limited += 1;
        let wait_ms = e.blocked_until_ms - now_ms;
        Err(
            u64::try_from(wait_ms.div_euclid(1000) + i64::from(wait_ms % 1000 != 0))
                .unwrap_or(1)
                .max(1),
        )
    }

    /// Counts one failure of `addr`; `spends` says whether it uses up budget (failed
    /// authentication does; a refusal after a valid signature does not).
    pub(crate) fn record(
        &self,
        addr: ClientAddr,
        reason: &str,
        spends: bool,
        now_ms: i64,
    ) -> Outcome {
        let source = Source::of(addr);
        let mut guard = self.lock();
        let t = &mut *guard;
        if !t.entries.contains_key(&source) {
            while t.entries.len() >= self.limits.max_sources {
                let Some((old, generation)) = t.order.pop_front() else {
                    break;
                };
                if t.entries
                    .get(&old)
                    .is_some_and(|e| e.generation == generation)
                    && let Some(e) = t.entries.remove(&old)
                    && let Some((started, tally)) = e.window
                {
                    let other = t.other.get_or_insert_with(|| (started, Tally::default()));
                    other.1.merge(&tally);
                }
            }
            let generation = t.next_generation;
            t.next_generation += 1;
            t.order.push_back((source, generation));
            t.entries.insert(
                source,
                Entry {
                    generation,
                    limiter: self
                        .quota
                        .map(|q| RateLimiter::direct_with_clock(q, self.clock.clone())),
                    blocked_until_ms: i64::MIN,
                    last_ms: now_ms,
                    window: None,
                },
            );
        }
        let Some(e) = t.entries.get_mut(&source) else {
            return Outcome {
                write_now: true,
                over_budget: None,
            };
        };
        e.last_ms = now_ms;
        let write_now = match &mut e.window {
            None => {
                e.window = Some((now_ms, Tally::default()));
                true
            }
            Some((_, tally)) => {
                tally.add(reason);
                false
            }
        };
        let over_budget = match (&e.limiter, spends) {
            (Some(limiter), true) => spend(limiter, &self.clock),
            _ => None,
        };
        if let Some(secs) = over_budget {
            let until = now_ms.saturating_add(i64::try_from(secs * 1000).unwrap_or(i64::MAX));
            e.blocked_until_ms = e.blocked_until_ms.max(until);
        }
        Outcome {
            write_now,
            over_budget,
        }
    }

    /// Takes the tallies whose interval has ended (every tally, when `all`), and forgets sources
    /// that have been quiet for an interval and are not blocked.
    pub(crate) fn take_due(&self, now_ms: i64, all: bool) -> Vec<Due> {
        let interval = self.interval_ms();
        // A forgotten source gets its full budget back, so keep it at least as long as the
        // budget takes to refill.
        let quiet = interval.max(60_000);
        let ended = |started: i64| all || now_ms.saturating_sub(started) >= interval;
        let mut due = Vec::new();
        let mut t = self.lock();
        for (source, e) in &mut t.entries {
            if e.window
                .as_ref()
                .is_some_and(|(started, _)| ended(*started))
                && let Some((started, tally)) = e.window.take()
                && !tally.is_empty()
            {
                due.push(Due {
                    source: source.label(),
                    started_ms: started,
                    tally,
                });
            }
        }
        t.entries.retain(|_, e| {
            e.window.is_some()
                || e.blocked_until_ms > now_ms
                || now_ms.saturating_sub(e.last_ms) < quiet
        });
        if t.other.as_ref().is_some_and(|(started, _)| ended(*started))
            && let Some((started, tally)) = t.other.take()
            && !tally.is_empty()
        {
            due.push(Due {
                source: "other".to_owned(),
                started_ms: started,
                tally,
            });
        }
        let Table { entries, order, .. } = &mut *t;
        order.retain(|(s, g)| entries.get(s).is_some_and(|e| e.generation == *g));
        due
    }

    /// Sources tracked now.
    pub(crate) fn tracked(&self) -> usize {
        self.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;

    struct Manual(AtomicI64);

    impl Clock for Manual {
        fn now_ms(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn table(per_minute: u32, max_sources: usize) -> (Failures, Arc<Manual>) {
        let clock = Arc::new(Manual(AtomicI64::new(1_800_000_000_000)));
        let limits = FailureLimits {
            per_minute,
            audit_interval_secs: 60,
            max_sources,
        };
        (Failures::new(limits, clock.clone()), clock)
    }

    fn ip(s: &str) -> ClientAddr {
        ClientAddr::Known(s.parse().unwrap())
    }

    #[test]
    fn past_the_budget_a_source_is_refused_before_any_work_and_others_are_not() {
        let (f, clock) = table(3, 100);
        let now = clock.now_ms();
        let bad = ip("203.0.113.9");
        for _ in 0..3 {
            assert_eq!(f.admit(bad, now), Ok(()));
            assert_eq!(f.record(bad, "bad_signature", true, now).over_budget, None);
        }
        let over = f.record(bad, "bad_signature", true, now).over_budget;
        assert!(over.is_some_and(|s| (1..=20).contains(&s)), "{over:?}");
        assert!(f.admit(bad, now).is_err());
        // Another source, and the same source's /64 neighbour for IPv4 (none), are untouched.
        assert_eq!(f.admit(ip("203.0.113.10"), now), Ok(()));
        // The budget refills at its rate: 3 a minute is one every 20 s.
        clock.0.fetch_add(21_000, Ordering::SeqCst);
        assert_eq!(f.admit(bad, clock.now_ms()), Ok(()));
    }

    #[test]
    fn refusals_after_a_valid_signature_do_not_spend_the_budget() {
        let (f, clock) = table(1, 100);
        let now = clock.now_ms();
        let src = ip("198.51.100.1");
        for _ in 0..10 {
            assert_eq!(
                f.record(src, "machine_disabled", false, now).over_budget,
                None
            );
        }
        assert_eq!(f.admit(src, now), Ok(()));
    }

    #[test]
    fn an_ipv6_source_is_its_64_and_unknown_addresses_are_one_source() {
        let (f, clock) = table(1, 100);
        let now = clock.now_ms();
        f.record(ip("2001:db8:1:2::1"), "bad_signature", true, now);
        f.record(ip("2001:db8:1:2::2"), "bad_signature", true, now);
        assert!(f.admit(ip("2001:db8:1:2:ffff::9"), now).is_err());
        assert_eq!(f.admit(ip("2001:db8:1:3::1"), now), Ok(()));
        f.record(ClientAddr::Unknown, "bad_signature", true, now);
        f.record(ClientAddr::Unknown, "bad_signature", true, now);
        assert!(f.admit(ClientAddr::Unknown, now).is_err());
    }

    #[test]
    fn one_record_now_then_one_count_per_interval() {
        let (f, clock) = table(0, 100);
        let now = clock.now_ms();
        let src = ip("192.0.2.7");
        assert!(f.record(src, "bad_signature", true, now).write_now);
        for _ in 0..499 {
            assert!(!f.record(src, "unknown_principal", true, now).write_now);
        }
        assert!(f.take_due(now + 59_999, false).is_empty());
        let due = f.take_due(now + 60_000, false);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].source, "192.0.2.7");
        assert_eq!(due[0].tally.count, 499);
        assert!(
            due[0]
                .tally
                .detail(60_000)
                .starts_with("count=499 limited=0 ")
        );
        // The next failure opens a new interval and is written at once again.
        assert!(f.record(src, "bad_signature", true, now + 60_001).write_now);
    }

    #[test]
    fn the_table_is_bounded_and_evicted_counts_are_kept_under_other() {
        let (f, clock) = table(30, 4);
        let now = clock.now_ms();
        for i in 0..50u8 {
            let src = ip(&format!("10.0.0.{i}"));
            f.record(src, "bad_signature", true, now);
            f.record(src, "bad_signature", true, now);
            assert!(f.tracked() <= 4);
        }
        let due = f.take_due(now, true);
        assert_eq!(due.len(), 5, "four sources and `other`");
        let total: u64 = due.iter().map(|d| d.tally.count).sum();
        assert_eq!(
            total, 50,
            "every failure beyond each source's first is counted once"
        );
    }

    #[test]
    fn the_reason_list_is_bounded() {
        let mut t = Tally::default();
        for i in 0..100 {
            t.add(&format!("r{i}"));
        }
        assert_eq!(t.reasons.len(), MAX_REASONS);
        assert_eq!(t.count, 100);
        assert_eq!(t.reasons.iter().map(|r| r.1).sum::<u64>(), 100);
    }
}
