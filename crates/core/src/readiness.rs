//! Readiness: whether this process can answer a read *and* audit it right now.
//!
//! Every read waits for its audit record to be durable, so a store that answers queries but
//! cannot take a write (another process holding SQLite's write lock, a PostgreSQL standby, a
//! stuck WAL) serves nothing but 503s; a load balancer must be told. Probing a write costs a
//! transaction, so `/readyz` (unauthenticated) must not become a lever: at most one probe runs
//! at a time, its answer is reused for [`FRESH_FOR`], and a probe is given up after
//! [`PROBE_DEADLINE`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

use signet_store::Store;

/// How long a probe's answer stands.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// How long a probe may take before the write path counts as stuck.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(2);

/// The last answer and the single-flight gate.
#[derive(Default)]
pub(crate) struct Readiness {
    last: Mutex<Option<(Instant, bool)>>,
    probing: tokio::sync::Mutex<()>,
}

impl Readiness {
    fn cached(&self, fresh: bool) -> Option<bool> {
        // A poisoned lock holds a plain value that was either written whole or not at all.
        let last = *self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.filter(|(at, _)| !fresh || at.elapsed() < FRESH_FOR)
            .map(|(_, ok)| ok)
    }

    /// Whether reads can be answered and audited.
    pub(crate) async fn check(&self, store: &dyn Store) -> bool {
        if let Some(ok) = self.cached(true) {
            return ok;
        }
        let Ok(_gate) = self.probing.try_lock() else {
            // A probe is running: answer with the last result rather than queue behind it.
            // Before the first result, not ready is the safe answer.
            return self.cached(false).unwrap_or(false);
        };
        // Another caller may have finished a probe while this one waited for the gate.
        if let Some(ok) = self.cached(true) {
            return ok;
        }
        let probe = async { store.vault().await.is_ok() && store.probe_write().await.is_ok() };
        let ok = tokio::time::timeout(PROBE_DEADLINE, probe)
            .await
            .unwrap_or(false);
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), ok));
        ok
    }
}
