//! Changes made by other processes that share the store, for the caches core keeps.
//!
//! A single-node backend (SQLite) has one writer process, and core refreshes its own caches after
//! its own writes, so it reports only its own audit appends (for the event hub). A shared
//! backend (PostgreSQL behind several replicas) reports every write that touches cached state
//! and every audit append, from any replica, and reports when it may have missed some.
//!
//! The feed is a hint for early reloads, never what correctness rests on: a report arrives some
//! time after the commit. What makes a policy change bind every replica's next request is the
//! policy stamp ([`PolicyVersion`](crate::PolicyVersion)) each request reads with its machine.

use std::sync::Arc;

/// What a watcher is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The vault settings or the IP allowlist changed.
    Policy,
    /// The audit log grew: the event hub (`signet_core::events`) reads the new records. Only a
    /// wake-up, never the records themselves: the hub reads them from the log.
    Audit,
    /// The feed is down: changes may be missed from now on, so every cache is suspect until
    /// [`Change::Resumed`].
    Lost,
    /// The feed is live again. Anything may have changed while it was down.
    Resumed,
}

/// Whether the feed is live when a watcher registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedState {
    /// Every later change will be reported.
    Live,
    /// Changes may be missed until [`Change::Resumed`] arrives.
    Down,
}

/// A callback for changes. It runs on the backend's listener task, so it must be quick and must
/// not block: flag the cache, and reload on the next request.
pub type ChangeWatcher = Arc<dyn Fn(Change) + Send + Sync>;

/// Reports changes made through the store by any process.
pub trait ChangeFeed {
    /// Registers `watcher` and says whether the feed is live right now. A watcher registered
    /// before a cache is loaded misses nothing that the load does not already see.
    fn watch(&self, watcher: ChangeWatcher) -> FeedState;
}
