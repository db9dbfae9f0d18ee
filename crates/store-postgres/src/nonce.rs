//! Single-use nonces, in a table every replica shares.
//!
//! A pair is new exactly when its `INSERT … ON CONFLICT DO NOTHING` inserts a row. PostgreSQL
//! makes a second inserter of the same key wait for the first to commit, then skips, so of any
//! number of racing requests on any replicas exactly one is admitted. The insert commits before
//! the call returns, so every replica refuses the pair from then on.
//!
//! The commit does not wait for its WAL flush (`synchronous_commit = off` on the nonce pool),
//! which halves the fsyncs on the signed-read path. It is still durable before any audit record
//! appended after it: PostgreSQL flushes WAL in order, and the audit commit waits for its own
//! flush, which covers the nonce's earlier commit record. If the database crashes in between, the
//! audit record is lost with the nonce, so the request was never answered and a replay of it is
//! no more than a retry.
//!
//! As in the SQLite backend, a pair stays until a sweep forgets it, even past its expiry: the
//! store has no clock of its own, and judging expiry by the database's clock would admit replays
//! whenever the caller's clock (which stamps `expires_ms` and drives the sweeps) runs behind it.

use async_trait::async_trait;
use signet_store::{NonceStore, StoreResult};

use crate::PgStore;
use crate::error::db;

#[async_trait]
impl NonceStore for PgStore {
    async fn remember_nonce(
        &self,
        principal: &str,
        nonce: &str,
        expires_ms: i64,
    ) -> StoreResult<bool> {
        let inserted = sqlx::query(
            "INSERT INTO nonces (principal, nonce, expires_ms) VALUES ($1, $2, $3)
             ON CONFLICT (principal, nonce) DO NOTHING
             RETURNING 1",
        )
        .bind(principal)
        .bind(nonce)
        .bind(expires_ms)
        .fetch_optional(self.nonce_pool())
        .await
        .map_err(db)?;
        Ok(inserted.is_some())
    }

    async fn sweep_nonces(&self, now_ms: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM nonces WHERE expires_ms < $1")
            .bind(now_ms)
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}
