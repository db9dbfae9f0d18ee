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
//!   where one commit per record would cap out near 7k/s.
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

mod audit;
mod budget;
mod error;
mod invite;
mod machine;
mod network;
mod nonce;
mod operator;
mod passkey;
mod project;
mod reader;
mod row;
mod schema;
mod secret;
mod session;
mod statement;
mod token;
mod transfer;
mod user;
mod vault;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, Transaction};
use signet_store::{StoreError, StoreResult};

use crate::nonce::NonceSet;
use crate::reader::ReaderPool;
use crate::writer::Writer;

/// The SQLite-backed [`Store`](signet_store::Store). Cheap to share as `Arc<dyn Store>`.
pub struct SqliteStore {
    path: PathBuf,
    readers: ReaderPool,
    /// The authority for nonce deduplication on this node; the table is its durable copy.
    nonces: NonceSet,
    writer: Writer,
}

impl SqliteStore {
    /// Opens the database at `path`, creating it with mode 0600 if it does not exist, and
    /// applies any missing migrations. The caller creates the (0700) directory.
    ///
    /// Fails with [`StoreError::Corrupt`] if the file is not a database or was written by a
    /// newer version, and [`StoreError::Unavailable`] if it cannot be opened.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = schema::open_writer(path)?;
        let nonces = NonceSet::load(&conn)?;
        let writer = Writer::spawn(conn)?;
        Ok(SqliteStore {
            path: path.to_owned(),
            readers: ReaderPool::new(path),
            nonces,
            writer,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read<R>(&self, f: impl FnOnce(&Connection) -> StoreResult<R>) -> StoreResult<R> {
        self.readers.read(f)
    }

    async fn write<F, R>(&self, job: F) -> StoreResult<R>
    where
        F: FnOnce(&Transaction<'_>) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        self.writer.write(job).await
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
// core refreshes its caches after its own writes, so there is never anything to report.
impl signet_store::ChangeFeed for SqliteStore {
    fn watch(&self, _watcher: signet_store::ChangeWatcher) -> signet_store::FeedState {
        signet_store::FeedState::Live
    }
}
