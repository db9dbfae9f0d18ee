//! One-time share links. Closing one is a single conditional `UPDATE` on `status = 'pending'`
//! that also erases the sealed value, so a link is opened (or destroyed) at most once however
//! many requests race: a second `UPDATE` waits for the first's row lock, then finds the row no
//! longer pending.

use async_trait::async_trait;
use signet_proto::ShareId;
use signet_store::{ShareRecord, ShareStatus, ShareStore, StoreResult};
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::error::db;
use crate::row::{col, digest, id, name, opt_id};

macro_rules! share_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, secret_hash, passphrase_hash, wrapped_dek, ciphertext, created_by,
                    created_by_user, created_ms, expires_ms, status, closed_ms
             FROM shares ",
            $rest
        )
    };
}

fn share(row: &PgRow) -> StoreResult<ShareRecord> {
    Ok(ShareRecord {
        id: id(row, 0)?,
        secret_hash: digest(row, 1)?,
        passphrase_hash: col(row, 2)?,
        wrapped_dek: col(row, 3)?,
        ciphertext: col(row, 4)?,
        created_by: id(row, 5)?,
        created_by_user: opt_id(row, 6)?,
        created_ms: col(row, 7)?,
        expires_ms: col(row, 8)?,
        status: name(row, 9, ShareStatus::parse)?,
        closed_ms: col(row, 10)?,
    })
}

#[async_trait]
impl ShareStore for PgStore {
    async fn insert_share(&self, s: &ShareRecord) -> StoreResult<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO shares (id, secret_hash, passphrase_hash, wrapped_dek, ciphertext,
                     created_by, created_by_user, created_ms, expires_ms, status, closed_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(s.id.as_str())
            .bind(s.secret_hash.as_slice())
            .bind(s.passphrase_hash.as_deref())
            .bind(s.wrapped_dek.as_deref())
            .bind(s.ciphertext.as_deref())
            .bind(s.created_by.to_string())
            .bind(s.created_by_user.map(|u| u.to_string()))
            .bind(s.created_ms)
            .bind(s.expires_ms)
            .bind(s.status.as_str())
            .bind(s.closed_ms),
        )
        .await
        .map(drop)
    }

    async fn shares(&self) -> StoreResult<Vec<ShareRecord>> {
        // SQLite breaks ties on insertion order (rowid); the id makes this order stable.
        sqlx::query(share_select!("ORDER BY created_ms DESC, id DESC"))
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .iter()
            .map(share)
            .collect()
    }

    async fn share(&self, share_id: &ShareId) -> StoreResult<Option<ShareRecord>> {
        sqlx::query(share_select!("WHERE id = $1"))
            .bind(share_id.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| share(&r))
            .transpose()
    }

    async fn close_share(
        &self,
        share_id: &ShareId,
        to: ShareStatus,
        now_ms: i64,
    ) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE shares SET status = $2, closed_ms = $3, passphrase_hash = NULL,
                     wrapped_dek = NULL, ciphertext = NULL
                 WHERE id = $1 AND status = 'pending' AND (NOT $4 OR expires_ms > $3)",
            )
            .bind(share_id.as_str())
            .bind(to.as_str())
            .bind(now_ms)
            .bind(to == ShareStatus::Viewed),
        )
        .await
    }

    async fn expire_shares(&self, now_ms: i64) -> StoreResult<u64> {
        self.execute(
            sqlx::query(
                "UPDATE shares SET status = 'expired', closed_ms = $1, passphrase_hash = NULL,
                     wrapped_dek = NULL, ciphertext = NULL
                 WHERE status = 'pending' AND expires_ms <= $1",
            )
            .bind(now_ms),
        )
        .await
        .map(|done| done.rows_affected())
    }
}
