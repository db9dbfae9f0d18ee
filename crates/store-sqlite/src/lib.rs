//! Signet's embedded storage backend: every `signet-store` trait on one SQLite file.
//!
//! # Design
//!
//! * **One file, WAL, `synchronous=FULL`.** A write is acknowledged only once it is in the
//!   fsynced log, so it survives `kill -9` and power loss. `busy_timeout` lets another process
//!   (the CLI's `signet operator init`) write to the same file while the server runs.
//! * **One writer thread with group commit** (see `writer.rs`). Callers hand it closures; it runs
//!   everything queued in one transaction, each closure in its own savepoint, and pays one fsync
//!   for the lot. That is what lets durable audit records reach tens of thousands per second,
//!   where one commit per record would cap out near 7k/s. Consecutive journal appends in a
//!   batch share one savepoint and one move of the audit head.
//! * **Checkpoints off the commit path** (see `checkpoint.rs`): the writer never copies the WAL
//!   into the database file; a thread of its own does, and keeps the WAL bounded.
//! * **Pooled read-only connections** used inline on the calling task (see `reader.rs`). WAL
//!   readers never wait for the writer.
//! * **An in-memory nonce set** in front of the durable `nonces` table (see `nonce.rs`).
//! * **Forward-only migrations** embedded in the binary, tracked by `PRAGMA user_version`.
//! * **Export and import of every table** for `signet storage migrate` (see `transfer.rs`): an
//!   export is one read snapshot, an import one write transaction into a file without a vault.
//!
//! No driver error, SQL text or stored value ever leaves this crate: failures are logged with
//! `tracing` and reported as a bare [`StoreError`].
#![forbid(unsafe_code)]

mod ai_agent;
mod alert;
mod audit;
mod budget;
mod checkpoint;
mod connection;
mod error;
mod invite;
mod issuer;
mod keyring;
mod lease;
mod machine;
mod managed;
mod network;
mod nonce;
mod operator;
mod passkey;
mod policy;
mod project;
mod reader;
mod rotation;
mod row;
mod schema;
mod secret;
mod session;
mod share;
mod sso;
mod statement;
mod token;
mod transfer;
mod trash;
mod user;
mod vault;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, Transaction};
use signet_store::{
    Audited, Change, ChangeWatcher, Instrumented, LiveCounts, PoolUse, StoreError, StoreMetrics,
    StoreResult,
};

use crate::checkpoint::{Checkpointer, Thresholds};
use crate::nonce::NonceSet;
use crate::reader::ReaderPool;
use crate::writer::Writer;

/// The SQLite-backed [`Store`](signet_store::Store). Cheap to share as `Arc<dyn Store>`.
///
/// An audited handle (`AuditStore::audited`) is another `SqliteStore` over the same readers,
/// nonce set and writer, carrying the record its next write appends.
pub struct SqliteStore {
    path: PathBuf,
    readers: Arc<ReaderPool>,
    /// The authority for nonce deduplication on this node; the table is its durable copy.
    nonces: Arc<NonceSet>,
    writer: Arc<Writer>,
    /// The audit record the next write commits with, taken by that write.
    record: Mutex<Option<Audited>>,
    /// Told of every audit append this process commits (`Change::Audit`), for the event hub.
    watchers: Arc<Mutex<Vec<ChangeWatcher>>>,
    /// Group commits and checkpoints, for the server's scrape.
    metrics: Arc<StoreMetrics>,
}

impl SqliteStore {
    /// Opens the database at `path`, creating it with mode 0600 if it does not exist, and
    /// applies any missing migrations. The caller creates the (0700) directory.
    ///
    /// Fails with [`StoreError::Corrupt`] if the file is not a database or was written by a
    /// newer version, and [`StoreError::Unavailable`] if it cannot be opened.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = schema::open_writer(path)?;
        let readers = Arc::new(ReaderPool::new(path));
        // Migrated above, so the loader reads the current table.
        let nonces = NonceSet::open(Arc::clone(&readers))?;
        let metrics = Arc::new(StoreMetrics::default());
        let checkpointer =
            Checkpointer::spawn_counted(path, Thresholds::default(), Arc::clone(&metrics))?;
        let writer = Writer::spawn_counted(conn, Some(checkpointer), Arc::clone(&metrics))?;
        Ok(SqliteStore {
            path: path.to_owned(),
            readers,
            nonces,
            writer: Arc::new(writer),
            record: Mutex::new(None),
            watchers: Arc::default(),
            metrics,
        })
    }

    /// A handle on the same database whose next write carries `record`.
    fn with_record(&self, record: Audited) -> SqliteStore {
        SqliteStore {
            path: self.path.clone(),
            readers: Arc::clone(&self.readers),
            nonces: Arc::clone(&self.nonces),
            writer: Arc::clone(&self.writer),
            record: Mutex::new(Some(record)),
            watchers: Arc::clone(&self.watchers),
            metrics: Arc::clone(&self.metrics),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read<R>(&self, f: impl FnOnce(&Connection) -> StoreResult<R>) -> StoreResult<R> {
        self.readers.read(f)
    }

    /// Runs `job` in the writer's transaction. On an audited handle the record is chained and
    /// appended after the job in the same savepoint, so a failed append undoes the change.
    async fn write<F, R>(&self, job: F) -> StoreResult<R>
    where
        F: FnOnce(&Transaction<'_>) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        self.write_where(job, |_| true).await
    }

    /// [`SqliteStore::write`] for a job whose answer can say "nothing changed" (`changed`
    /// false): then an audited handle's record is not appended, as nothing happened that it
    /// would describe.
    async fn write_where<F, R>(&self, job: F, changed: fn(&R) -> bool) -> StoreResult<R>
    where
        F: FnOnce(&Transaction<'_>) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        // A poisoned lock only means another write through this handle panicked; the slot is
        // still an Option.
        let record = self
            .record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(record) = record else {
            return self.writer.write(job).await;
        };
        let done = self
            .writer
            .write(move |tx| {
                let done = job(tx)?;
                if !changed(&done) {
                    return Ok(done);
                }
                audit::append_record(tx, &record)?;
                // A crash here leaves neither the change nor its record: the batch is not
                // committed.
                fail::fail_point!("change_before_commit", |_| std::process::abort());
                Ok(done)
            })
            .await?;
        // A crash here leaves both, unanswered.
        fail::fail_point!("change_after_commit", |_| std::process::abort());
        if changed(&done) {
            self.audit_appended();
        }
        Ok(done)
    }

    /// Whether this is an audited handle whose record is still to be written.
    fn carries_record(&self) -> bool {
        self.record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Tells the watchers that this process committed audit records. Called after the commit,
    /// so a watcher that reads the log finds them.
    pub(crate) fn audit_appended(&self) {
        // A poisoned lock only means a watcher panicked while registering; the list is whole.
        let watchers = self
            .watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for w in watchers {
            w(Change::Audit);
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        let unwritten = self
            .record
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        if unwritten {
            // Core drops a handle unwritten only when the write was never attempted (it
            // failed a check first), so nothing happened that the record would describe.
            tracing::debug!("an audited store handle was dropped without a write");
        }
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

// One process writes the file (the server; the CLI only adds operators, which nothing caches), and
// core refreshes its caches after its own writes, so the only report is this process's own
// audit appends, which wake the event hub early. Another process on the same file appends
// unreported: the hub's slow check of the head finds those.
#[async_trait::async_trait]
impl Instrumented for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn metrics(&self) -> &StoreMetrics {
        &self.metrics
    }

    fn pool_use(&self) -> PoolUse {
        self.readers.pool_use()
    }

    fn nonces_held(&self) -> Option<u64> {
        Some(u64::try_from(self.nonces.len()).unwrap_or(u64::MAX))
    }

    // One statement on a reader: one snapshot of the three tables. Leases use the partial index
    // `leases_active_expiry`; sessions and operators have no index on these columns and are
    // scanned: their rows are never deleted, but 200 000 sessions count in about 30 ms, and this
    // runs every 10 s off the request path.
    async fn live_counts(&self, now_ms: i64, seen_after_ms: i64) -> StoreResult<LiveCounts> {
        let count = |n: i64| u64::try_from(n).map_err(|_| StoreError::Corrupt);
        self.read(|c| {
            statement::one(
                c,
                "SELECT
                     (SELECT COUNT(*) FROM sessions
                      WHERE revoked_ms IS NULL AND expires_ms > ?1 AND last_seen_ms > ?2
                        AND user_id IN (SELECT id FROM users WHERE status = 'active')),
                     (SELECT COUNT(*) FROM operators
                      WHERE user_id IN (SELECT id FROM users WHERE status = 'active')
                        AND disabled = 0 AND (expires_ms IS NULL OR expires_ms > ?1)),
                     (SELECT COUNT(*) FROM leases WHERE state = 'active' AND expires_ms > ?1)",
                rusqlite::params![now_ms, seen_after_ms],
                |r| {
                    Ok(LiveCounts {
                        browser_sessions: count(row::col(r, 0)?)?,
                        cli_keys: count(row::col(r, 1)?)?,
                        leases: count(row::col(r, 2)?)?,
                    })
                },
            )
        })?
        // A query of aggregates always answers one row.
        .ok_or(StoreError::Corrupt)
    }
}

impl signet_store::ChangeFeed for SqliteStore {
    fn watch(&self, watcher: ChangeWatcher) -> signet_store::FeedState {
        self.watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(watcher);
        signet_store::FeedState::Live
    }
}
