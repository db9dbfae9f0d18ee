//! The database file: how it is created, configured and migrated.
//!
//! Migrations are embedded in the binary and forward-only. `PRAGMA user_version` records how many
//! have been applied; each run applies the missing ones in one `BEGIN IMMEDIATE` transaction, so
//! two processes opening the same new file (the server and `signet operator init`) cannot both
//! apply them.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};
use signet_store::{StoreError, StoreResult};

use crate::error::db;
use crate::reader::{BUSY_TIMEOUT, STATEMENT_CACHE};

/// Every migration, in order. Never edit or reorder one that has shipped; add a new file.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_accounts.sql"),
    include_str!("../migrations/0003_sessions.sql"),
    include_str!("../migrations/0004_cli_key_ttl.sql"),
    include_str!("../migrations/0005_members.sql"),
    include_str!("../migrations/0006_passkeys.sql"),
    include_str!("../migrations/0007_policy_version.sql"),
    include_str!("../migrations/0008_request_budget.sql"),
    include_str!("../migrations/0009_enrollment_proof.sql"),
    include_str!("../migrations/0010_policies.sql"),
    include_str!("../migrations/0011_shares.sql"),
    include_str!("../migrations/0012_rotation.sql"),
    include_str!("../migrations/0013_trash.sql"),
    include_str!("../migrations/0014_canaries.sql"),
    include_str!("../migrations/0015_leases.sql"),
    include_str!("../migrations/0016_alerts.sql"),
    include_str!("../migrations/0017_managed.sql"),
    include_str!("../migrations/0018_lease_reuse.sql"),
    include_str!("../migrations/0019_audit_evidence.sql"),
    include_str!("../migrations/0020_access_stamp.sql"),
    include_str!("../migrations/0021_oidc_issuers.sql"),
    include_str!("../migrations/0022_ai_agents.sql"),
    include_str!("../migrations/0023_nonce_keys.sql"),
    include_str!("../migrations/0024_sso.sql"),
    include_str!("../migrations/0025_keyring.sql"),
    include_str!("../migrations/0026_project_keys.sql"),
    include_str!("../migrations/0027_totp_confirmed.sql"),
    include_str!("../migrations/0028_version_changes.sql"),
];

/// Creates the file if needed and opens the write connection, configured and migrated.
pub(crate) fn open_writer(path: &Path) -> StoreResult<Connection> {
    create_private(path)?;
    let mut conn = Connection::open(path).map_err(|e| {
        tracing::error!(error = %e, path = %path.display(), "cannot open the sqlite database");
        StoreError::Unavailable
    })?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
    crate::reader::plan_once(&conn)?;
    // Before `migrate`: migration 0023 computes the keys of the stored nonces with it.
    crate::nonce::register_key_function(&conn)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // WAL lets readers run beside the writer. FULL makes every commit fsync the log, so an
    // acknowledged write survives `kill -9` and power loss (NORMAL could lose the last commits
    // on power loss). `journal_mode` answers with the mode it got, which must be checked.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(db)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::error!(mode, "sqlite refused WAL mode");
        return Err(StoreError::Unavailable);
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db)?;
    // The commit that takes the WAL past 1000 pages would otherwise copy them into the database
    // file and fsync it while every queued caller waits: the checkpointer thread does it
    // instead (`checkpoint.rs`). When the WAL starts over, this connection trims the file back
    // to the limit, so a burst does not keep its disk space.
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .map_err(db)?;
    conn.pragma_update(
        None,
        "journal_size_limit",
        crate::checkpoint::WAL_SIZE_LIMIT,
    )
    .map_err(db)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
    // Each job of a group commit runs in its own savepoint, so SQLite copies every page a job
    // touches into a statement journal first. In a temp file that is a pwrite per page (19% of
    // the server's CPU in the read benchmark); in memory it is a memcpy. The journal holds only
    // the pages of one transaction and is never needed after a crash: the WAL is the log.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(db)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// The file is created empty with mode 0600 before SQLite sees it: SQLite would create it with
/// the process umask, and it gives its `-wal` and `-shm` files the mode of the database file.
#[cfg(unix)]
fn create_private(path: &Path) -> StoreResult<()> {
    use std::os::unix::fs::OpenOptionsExt;

    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => {
            tracing::error!(error = %e, path = %path.display(), "cannot create the sqlite database");
            Err(StoreError::Unavailable)
        }
    }
}

#[cfg(not(unix))]
fn create_private(_path: &Path) -> StoreResult<()> {
    Ok(())
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let applied: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db)?;
    let applied = usize::try_from(applied).map_err(|_| StoreError::Corrupt)?;
    if applied > MIGRATIONS.len() {
        tracing::error!(
            schema = applied,
            known = MIGRATIONS.len(),
            "the database was written by a newer Signet; refusing to open it"
        );
        return Err(StoreError::Corrupt);
    }
    for (version, sql) in (1_i64..).zip(MIGRATIONS).skip(applied) {
        tx.execute_batch(sql).map_err(db)?;
        // `user_version` lives in the file header and is part of the transaction.
        tx.pragma_update(None, "user_version", version)
            .map_err(db)?;
        tracing::info!(version, "applied sqlite migration");
        // A crash between two migrations must leave the file as it was: they share one
        // transaction, so the next start applies them all again.
        fail::fail_point!("migration_mid", |_| std::process::abort());
    }
    tx.commit().map_err(db)
}
