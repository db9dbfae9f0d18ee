//! One-time share links. Closing one is a single conditional `UPDATE` on `status = 'pending'`
//! that also erases the sealed value, so a link is opened (or destroyed) at most once however
//! many requests race.

use async_trait::async_trait;
use rusqlite::{Row, params};
use signet_proto::ShareId;
use signet_store::{ShareRecord, ShareStatus, ShareStore, StoreResult};

use crate::SqliteStore;
use crate::row::{col, id, name, opt_id};
use crate::statement::{all, exec, exec_found, one};

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

fn share(row: &Row<'_>) -> StoreResult<ShareRecord> {
    Ok(ShareRecord {
        id: id(row, 0)?,
        secret_hash: col(row, 1)?,
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
impl ShareStore for SqliteStore {
    async fn insert_share(&self, s: &ShareRecord) -> StoreResult<()> {
        let s = s.clone();
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO shares (id, secret_hash, passphrase_hash, wrapped_dek, ciphertext,
                     created_by, created_by_user, created_ms, expires_ms, status, closed_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    s.id.as_str(),
                    s.secret_hash.as_slice(),
                    s.passphrase_hash,
                    s.wrapped_dek,
                    s.ciphertext,
                    s.created_by.to_string(),
                    s.created_by_user.map(|u| u.to_string()),
                    s.created_ms,
                    s.expires_ms,
                    s.status.as_str(),
                    s.closed_ms
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn shares(&self) -> StoreResult<Vec<ShareRecord>> {
        self.read(|c| {
            all(
                c,
                share_select!("ORDER BY created_ms DESC, rowid DESC"),
                [],
                share,
            )
        })
    }

    async fn share(&self, share_id: &ShareId) -> StoreResult<Option<ShareRecord>> {
        let share_id = share_id.to_string();
        self.read(|c| one(c, share_select!("WHERE id = ?1"), [&share_id], share))
    }

    async fn close_share(
        &self,
        share_id: &ShareId,
        to: ShareStatus,
        now_ms: i64,
    ) -> StoreResult<()> {
        let share_id = share_id.to_string();
        let viewed = to == ShareStatus::Viewed;
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE shares SET status = ?2, closed_ms = ?3, passphrase_hash = NULL,
                     wrapped_dek = NULL, ciphertext = NULL
                 WHERE id = ?1 AND status = 'pending' AND (?4 = 0 OR expires_ms > ?3)",
                params![share_id, to.as_str(), now_ms, i64::from(viewed)],
            )
        })
        .await
    }

    async fn expire_shares(&self, now_ms: i64) -> StoreResult<u64> {
        self.write(move |tx| {
            exec(
                tx,
                "UPDATE shares SET status = 'expired', closed_ms = ?1, passphrase_hash = NULL,
                     wrapped_dek = NULL, ciphertext = NULL
                 WHERE status = 'pending' AND expires_ms <= ?1",
                params![now_ms],
            )
            .map(|n| n as u64)
        })
        .await
    }
}
