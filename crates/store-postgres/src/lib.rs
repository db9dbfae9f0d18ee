//! Signet's shared storage backend: every `signet-store` trait on one PostgreSQL database, so
//! several server replicas can serve one installation.
//!
//! # Design
//!
//! * **A connection pool that fails fast.** [`PgStore`] holds a sqlx pool (16 connections unless
//!   [`PgOptions`] says otherwise) with a short acquire timeout: with PostgreSQL down a call
//!   fails within seconds with [`StoreError::Unavailable`], which callers turn into a 503, rather
//!   than queueing requests until they time out somewhere else. The pool tests a connection
//!   that has been idle for a second before handing it out (not a busy one: that would cost a
//!   round trip per statement) and opens new ones as needed, so the store recovers on its own
//!   when the database comes back.
//! * **Forward-only migrations under an advisory lock** (see `schema.rs`). Embedded in the
//!   binary, recorded in `signet_schema_migrations`, applied at connect by whichever replica
//!   gets `pg_advisory_lock` first. A database recording a newer version than this binary knows
//!   is refused as [`StoreError::Corrupt`].
//! * **Every rule is decided by the database, not by a replica.** Single-use things (bootstrap
//!   tokens, invitations, recovery codes, WebAuthn ceremonies, TOTP steps, passkey counters) are
//!   spent by one conditional `UPDATE`/`DELETE`, whose `WHERE` PostgreSQL re-checks after a
//!   concurrent writer commits. Check-then-write rules (the first user, the last owner, the
//!   passkey limit) lock a row or take a transaction advisory lock first.
//! * **A shared nonce table** (see `nonce.rs`). A (principal, nonce) pair is new exactly when
//!   its `INSERT … ON CONFLICT DO NOTHING` inserts, committed before the call returns, so a
//!   replay sent to another replica is refused too. Concurrent pairs share one statement,
//!   which also returns the access stamp the caller validates its caches with.
//! * **One audit chain, group-committed** (see `audit.rs`). Appends from one process are queued
//!   to a journal task that writes up to a few hundred batches in one statement
//!   (`signet_append_audit`), chained after the head it last wrote. The statement takes an
//!   advisory lock that every appender in every process takes, then reads the head, and writes
//!   only if the head is the one the group was chained after, so concurrent replicas still form
//!   one gapless chain.
//! * **A LISTEN/NOTIFY change feed** (see `change.rs`). Writes to the vault settings and the IP
//!   allowlist `pg_notify` in their own transaction; a listener task per store tells watchers,
//!   and tells them when its connection drops ([`Change::Lost`](signet_store::Change::Lost)) and
//!   when it listens again ([`Change::Resumed`](signet_store::Change::Resumed)).
//! * **The same logical schema as SQLite** (see `transfer.rs`): the same tables and columns, so
//!   `signet storage migrate` can move an installation between backends byte for byte.
//!
//! # Known limitation: TCP and Nagle
//!
//! sqlx 0.9.0 does not set `TCP_NODELAY` (transact-rs/sqlx#4335, fixed upstream by #4336 after
//! the 0.9.0 release). Over TCP, a large statement such as a busy audit group commit can then
//! wait about 40 ms for a delayed ACK: measured here, 200 concurrent appenders reach about 4,000
//! records/s over TCP and about 35,000/s over a Unix socket (`?host=/var/run/postgresql`).
//! Prefer a Unix socket for a co-located database, and take the sqlx release with the fix.
//!
//! Every statement text is a `'static` literal; the one exception, the bulk `INSERT` of an
//! import, is built only from names checked against this database's own catalog.
//!
//! No driver error, SQL text or stored value ever leaves this crate: failures are logged with
//! `tracing` and reported as a bare [`StoreError`].
#![forbid(unsafe_code)]

mod ai_agent;
mod alert;
mod audit;
mod budget;
mod change;
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
mod rotation;
mod row;
mod schema;
mod secret;
mod session;
mod share;
mod sso;
mod token;
mod transfer;
mod trash;
mod user;
mod vault;

#[cfg(feature = "testing")]
pub mod testing;

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use signet_store::{
    Audited, Instrumented, LiveCounts, PoolUse, StoreError, StoreMetrics, StoreResult,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::audit::Journal;
use crate::change::Feed;
pub use crate::change::LISTENER_APP;
use crate::nonce::NonceBatcher;

/// Tuning for [`PgStore::connect_with`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PgOptions {
    /// Pool size. Each replica holds up to this many connections, plus one for the listener.
    pub max_connections: u32,
    /// How long a call waits for a pooled connection (or a new one) before it fails with
    /// [`StoreError::Unavailable`].
    pub acquire_timeout: Duration,
    /// How long `connect` waits for the change feed's first `LISTEN` before returning anyway
    /// (the feed then reports `Down` until it is listening).
    pub listen_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(2),
            listen_timeout: Duration::from_secs(2),
        }
    }
}

impl PgOptions {
    /// Sets the pool size.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Sets the acquire timeout (also the limit on opening the migration connection).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Sets how long `connect` waits for the change feed to listen.
    pub fn listen_timeout(mut self, timeout: Duration) -> Self {
        self.listen_timeout = timeout;
        self
    }
}

/// The PostgreSQL-backed [`Store`](signet_store::Store). Cheap to share as `Arc<dyn Store>`.
///
/// An audited handle (`AuditStore::audited`) is another `PgStore` over the same pools, journal
/// and feed, carrying the record its next write appends before committing.
pub struct PgStore {
    pool: PgPool,
    /// Inserts concurrent requests' nonces together (see `nonce.rs`), on connections that
    /// commit without waiting for the WAL flush: a replay is refused from the moment of commit,
    /// and the flush of the audit record that follows carries the nonce's earlier WAL with it.
    nonce_batcher: Arc<NonceBatcher>,
    journal: Arc<Journal>,
    feed: Arc<Feed>,
    /// The audit record the next write commits with, taken by that write.
    record: Mutex<Option<Audited>>,
    /// The journal's group commits, for the server's scrape.
    metrics: Arc<StoreMetrics>,
}

impl PgStore {
    /// Connects to `url` (`postgres://` or `postgresql://`) with default [`PgOptions`].
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        Self::connect_with(url, PgOptions::default()).await
    }

    /// Connects, applies any missing migrations, and starts the journal and the change feed.
    ///
    /// Fails with [`StoreError::Unavailable`] if the URL is malformed or the database cannot be
    /// reached, and [`StoreError::Corrupt`] if it was migrated by a newer Signet.
    pub async fn connect_with(url: &str, options: PgOptions) -> Result<PgStore, StoreError> {
        // The parse error is not logged: it may quote the URL, and the URL may hold a password.
        let connect = PgConnectOptions::from_str(url).map_err(|_| {
            tracing::error!("the postgres database URL does not parse");
            StoreError::Unavailable
        })?;
        schema::migrate(&connect, options.acquire_timeout).await?;
        let pool = pool_options(&options)
            .max_connections(options.max_connections)
            .connect_lazy_with(connect.clone().application_name("signet"));
        // The batcher has one statement in flight; the second connection covers a replacement.
        let nonces = pool_options(&options).max_connections(2).connect_lazy_with(
            connect
                .clone()
                .application_name("signet-nonces")
                .options([("synchronous_commit", "off")]),
        );
        let feed = Feed::start(&connect, &options).await;
        let metrics = Arc::new(StoreMetrics::default());
        Ok(PgStore {
            journal: Arc::new(Journal::spawn(pool.clone(), Arc::clone(&metrics))),
            metrics,
            nonce_batcher: Arc::new(NonceBatcher::spawn(nonces)),
            pool,
            feed: Arc::new(feed),
            record: Mutex::new(None),
        })
    }

    /// A handle on the same database whose next write carries `record`.
    fn with_record(&self, record: Audited) -> PgStore {
        PgStore {
            pool: self.pool.clone(),
            nonce_batcher: Arc::clone(&self.nonce_batcher),
            journal: Arc::clone(&self.journal),
            feed: Arc::clone(&self.feed),
            record: Mutex::new(Some(record)),
            metrics: Arc::clone(&self.metrics),
        }
    }

    /// The pool, for the crate's own statements.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The batcher that inserts nonces on the pool whose commits do not wait for the WAL flush.
    pub(crate) fn nonce_batcher(&self) -> &NonceBatcher {
        &self.nonce_batcher
    }

    /// Starts a transaction on a pooled connection.
    pub(crate) async fn begin(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.pool.begin().await.map_err(error::db)
    }

    /// Commits a write's transaction. On an audited handle the record is chained and appended
    /// first, in the same transaction, so the change and its record are durable together or
    /// not at all. Every write method ends here (a single-statement write too), which is what
    /// lets any of them carry a record.
    pub(crate) async fn commit(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    ) -> StoreResult<()> {
        // A poisoned lock only means another write through this handle panicked; the slot is
        // still an Option.
        let record = self
            .record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(record) = record else {
            return tx.commit().await.map_err(error::db);
        };
        // Dropping `tx` on error rolls the change back with the record.
        audit::append_record(&mut tx, &record).await?;
        // A crash here leaves neither the change nor its record.
        fail::fail_point!("change_before_commit", |_| std::process::abort());
        tx.commit().await.map_err(error::db)?;
        // A crash here leaves both, unanswered.
        fail::fail_point!("change_after_commit", |_| std::process::abort());
        Ok(())
    }
}

#[async_trait::async_trait]
impl Instrumented for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn metrics(&self) -> &StoreMetrics {
        &self.metrics
    }

    fn pool_use(&self) -> PoolUse {
        let open = u64::from(self.pool.size());
        let idle = u64::try_from(self.pool.num_idle()).unwrap_or(u64::MAX);
        PoolUse {
            open,
            busy: open.saturating_sub(idle),
        }
    }

    fn nonces_held(&self) -> Option<u64> {
        Some(self.nonce_batcher.held())
    }

    // One statement: one snapshot of the three tables, shared by every replica. Leases use the
    // partial index `leases_active_expiry`; sessions and operators have no index on these
    // columns and are scanned: 200 000 sessions count in about 50 ms, every 10 s, off the request
    // path.
    async fn live_counts(&self, now_ms: i64, seen_after_ms: i64) -> StoreResult<LiveCounts> {
        let counted = sqlx::query(
            "SELECT
                 (SELECT COUNT(*) FROM sessions
                  WHERE revoked_ms IS NULL AND expires_ms > $1 AND last_seen_ms > $2
                    AND user_id IN (SELECT id FROM users WHERE status = 'active')),
                 (SELECT COUNT(*) FROM operators
                  WHERE user_id IN (SELECT id FROM users WHERE status = 'active')
                    AND NOT disabled AND (expires_ms IS NULL OR expires_ms > $1)),
                 (SELECT COUNT(*) FROM leases WHERE state = 'active' AND expires_ms > $1)",
        )
        .bind(now_ms)
        .bind(seen_after_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(error::db)?;
        let count = |i: usize| {
            row::col::<i64>(&counted, i)
                .and_then(|n| u64::try_from(n).map_err(|_| StoreError::Corrupt))
        };
        Ok(LiveCounts {
            browser_sessions: count(0)?,
            cli_keys: count(1)?,
            leases: count(2)?,
        })
    }
}

/// A connection idle longer than this is pinged before it is handed out; a busier one is not.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The pools' common settings. sqlx's own liveness test pings every connection on every
/// acquire: a round trip per statement, as much again as a signed read's statements
/// themselves. Here only a connection idle for [`PING_AFTER_IDLE`] is pinged (a restart of the
/// database while the pool is quiet is still absorbed before anyone asks); a busy connection
/// broken since its last statement fails that statement, which the caller answers with a 503
/// like any outage, and sqlx closes it rather than returning it to the pool.
fn pool_options(options: &PgOptions) -> PgPoolOptions {
    PgPoolOptions::new()
        .acquire_timeout(options.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("pool_size", &self.pool.size())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    fn carries_record(&self) -> bool {
        self.record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Runs a one-statement write. Without a record it autocommits on the pool; with one it
    /// runs in a transaction that commits the record too.
    pub(crate) async fn execute(
        &self,
        statement: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> StoreResult<sqlx::postgres::PgQueryResult> {
        if !self.carries_record() {
            return statement.execute(&self.pool).await.map_err(error::db);
        }
        let mut tx = self.begin().await?;
        let done = statement.execute(&mut *tx).await.map_err(error::db)?;
        self.commit(tx).await?;
        Ok(done)
    }

    /// [`PgStore::execute`] for a statement whose answer is whether it changed a row: when it
    /// changed none, the record is not committed, as nothing happened that it would describe.
    pub(crate) async fn execute_changed(
        &self,
        statement: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> StoreResult<bool> {
        if !self.carries_record() {
            let done = statement.execute(&self.pool).await.map_err(error::db)?;
            return Ok(done.rows_affected() > 0);
        }
        let mut tx = self.begin().await?;
        let done = statement.execute(&mut *tx).await.map_err(error::db)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        self.commit(tx).await?;
        Ok(true)
    }

    /// [`PgStore::execute`] for a statement that must change a row: `NotFound`, with nothing
    /// committed (not the record either), if it changed none.
    pub(crate) async fn execute_found(
        &self,
        statement: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> StoreResult<()> {
        if !self.carries_record() {
            return found(statement.execute(&self.pool).await.map_err(error::db)?);
        }
        let mut tx = self.begin().await?;
        found(statement.execute(&mut *tx).await.map_err(error::db)?)?;
        self.commit(tx).await
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if self.carries_record() {
            // The write failed before its commit, or was never attempted: nothing the record
            // describes happened.
            tracing::debug!("an audited store handle was dropped with its record unwritten");
        }
    }
}

/// That a statement which must change a row did: [`StoreError::NotFound`] otherwise, the row
/// being missing or no longer in the state the statement's `WHERE` requires.
pub(crate) fn found(done: sqlx::postgres::PgQueryResult) -> StoreResult<()> {
    if done.rows_affected() == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
