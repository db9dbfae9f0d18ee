//! Browser sessions. Revocation is a one-way `revoked_ms` stamp, so a revoked session can never
//! be revived by a racing `touch`.

use async_trait::async_trait;
use rusqlite::{Row, params};
use signet_proto::{SessionId, UserId};
use signet_store::{SessionRecord, SessionStore, StoreError, StoreResult};

use crate::SqliteStore;
use crate::row::{col, id};
use crate::statement::{all, exec, one};

fn session(row: &Row<'_>) -> StoreResult<SessionRecord> {
    let hash: Vec<u8> = col(row, 1)?;
    Ok(SessionRecord {
        id: id(row, 0)?,
        token_hash: hash.try_into().map_err(|_| StoreError::Corrupt)?,
        user_id: id(row, 2)?,
        operator_id: id(row, 3)?,
        created_ms: col(row, 4)?,
        last_seen_ms: col(row, 5)?,
        expires_ms: col(row, 6)?,
        step_up_ms: col(row, 7)?,
        ip: col(row, 8)?,
        user_agent: col(row, 9)?,
        revoked_ms: col(row, 10)?,
    })
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(&self, s: &SessionRecord) -> StoreResult<()> {
        let s = s.clone();
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO sessions (id, token_hash, user_id, operator_id, created_ms, last_seen_ms,
                     expires_ms, step_up_ms, ip, user_agent, revoked_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    s.id.to_string(),
                    s.token_hash.as_slice(),
                    s.user_id.to_string(),
                    s.operator_id.to_string(),
                    s.created_ms,
                    s.last_seen_ms,
                    s.expires_ms,
                    s.step_up_ms,
                    s.ip,
                    s.user_agent,
                    s.revoked_ms
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn session_by_token(&self, token_hash: &[u8; 32]) -> StoreResult<Option<SessionRecord>> {
        let hash = *token_hash;
        self.read(|c| {
            one(
                c,
                "SELECT id, token_hash, user_id, operator_id, created_ms, last_seen_ms, expires_ms, step_up_ms, ip, user_agent, revoked_ms FROM sessions WHERE token_hash = ?1",
                [hash.as_slice()],
                session,
            )
        })
    }

    async fn touch_session(&self, id: &SessionId, now_ms: i64) -> StoreResult<bool> {
        let id = id.to_string();
        self.write(move |tx| {
            // "Seen before now" makes the update idempotent; the live check is the row's
            // existence with no revocation.
            exec(
                tx,
                "UPDATE sessions SET last_seen_ms = max(last_seen_ms, ?2)
                 WHERE id = ?1 AND revoked_ms IS NULL",
                params![id, now_ms],
            )
            .map(|n| n == 1)
        })
        .await
    }

    async fn set_session_step_up(&self, id: &SessionId, now_ms: i64) -> StoreResult<bool> {
        let id = id.to_string();
        self.write_where(
            move |tx| {
                exec(
                    tx,
                    "UPDATE sessions SET step_up_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL",
                    params![id, now_ms],
                )
                .map(|n| n == 1)
            },
            |changed| *changed,
        )
        .await
    }

    async fn revoke_session(
        &self,
        user: &UserId,
        id: &SessionId,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let (user, id) = (user.to_string(), id.to_string());
        self.write_where(
            move |tx| {
                exec(
                    tx,
                    "UPDATE sessions SET revoked_ms = ?3
                 WHERE id = ?1 AND user_id = ?2 AND revoked_ms IS NULL",
                    params![id, user, now_ms],
                )
                .map(|n| n == 1)
            },
            |changed| *changed,
        )
        .await
    }

    async fn revoke_user_sessions(&self, user: &UserId, now_ms: i64) -> StoreResult<u64> {
        let user = user.to_string();
        self.write(move |tx| {
            exec(
                tx,
                "UPDATE sessions SET revoked_ms = ?2 WHERE user_id = ?1 AND revoked_ms IS NULL",
                params![user, now_ms],
            )
            .map(|n| n as u64)
        })
        .await
    }

    async fn live_sessions(&self, user: &UserId, now_ms: i64) -> StoreResult<Vec<SessionRecord>> {
        let user = user.to_string();
        self.read(|c| {
            all(
                c,
                "SELECT id, token_hash, user_id, operator_id, created_ms, last_seen_ms, expires_ms, step_up_ms, ip, user_agent, revoked_ms
                 FROM sessions WHERE user_id = ?1 AND revoked_ms IS NULL AND expires_ms > ?2
                 ORDER BY created_ms DESC, rowid DESC",
                params![user, now_ms],
                session,
            )
        })
    }
}
