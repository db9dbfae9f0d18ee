//! Read-only connections, pooled, used directly on the calling task.
//!
//! In WAL mode a reader never waits for the writer: it sees the last commit made before its
//! statement started. Reads run inline in the async method rather than through `spawn_blocking`:
//! the hot reads (a machine, a read view) touch a few cached pages and take microseconds, less
//! than the hop to the blocking pool and back. Nothing in a read awaits while holding a
//! connection.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use signet_store::{PoolUse, StoreError, StoreResult};

use crate::error::db;

/// Idle connections kept open. Concurrency of reads is bounded by the runtime's worker threads,
/// so a handful suffices; extras opened under a burst are closed when returned.
const MAX_IDLE: usize = 8;

/// Prepared statements kept per connection: more than the store has distinct queries.
pub(crate) const STATEMENT_CACHE: usize = 64;

/// How long a statement waits on a lock held by another process before giving up.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Turns on SQLite's query-planner stability guarantee. Without it, a statement whose plan
/// could depend on a bound value (here: the partial unique index on live secret names, which
/// `deleted_ms IS NULL` matches) is re-prepared every time a parameter is rebound. Measured on
/// the signed-read benchmark, that re-parse cost 18% of the server's CPU; with the guarantee,
/// each statement is planned once, when it is first prepared.
pub(crate) fn plan_once(conn: &Connection) -> StoreResult<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(db)?;
    Ok(())
}

pub(crate) struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Connections open, idle or not (for the scrape).
    open: AtomicU64,
    /// Connections running a read now (for the scrape).
    busy: AtomicU64,
}

impl ReaderPool {
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            open: AtomicU64::new(0),
            busy: AtomicU64::new(0),
        }
    }

    /// Runs `f` on a pooled connection.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Connection) -> StoreResult<R>) -> StoreResult<R> {
        let conn = match self.take() {
            Some(conn) => conn,
            None => self.open()?,
        };
        self.busy.fetch_add(1, Ordering::Relaxed);
        let result = f(&conn);
        self.busy.fetch_sub(1, Ordering::Relaxed);
        self.put_back(conn);
        result
    }

    /// Connections open and busy now.
    pub(crate) fn pool_use(&self) -> PoolUse {
        PoolUse {
            open: self.open.load(Ordering::Relaxed),
            busy: self.busy.load(Ordering::Relaxed),
        }
    }

    fn take(&self) -> Option<Connection> {
        // A poisoned lock only means another reader panicked; the idle list is still valid.
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn put_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        } else {
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn open(&self) -> StoreResult<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(|e| {
            tracing::error!(error = %e, path = %self.path.display(), "cannot open a sqlite reader");
            StoreError::Unavailable
        })?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
        plan_once(&conn)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        self.open.fetch_add(1, Ordering::Relaxed);
        Ok(conn)
    }
}
