//! Browser sessions. Revocation is a one-way `revoked_ms` stamp, so a revoked session can never
//! be revived by a racing `touch`.

use async_trait::async_trait;
use signet_proto::{SessionId, UserId};
use signet_store::{SessionRecord, SessionStore, StoreResult};
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::error::db;
use crate::row::{col, digest, id};

macro_rules! session_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, token_hash, user_id, operator_id, created_ms, last_seen_ms, expires_ms, step_up_ms, ip,
                    user_agent, revoked_ms
             FROM sessions ",
            $rest
        )
    };
}

fn session(row: &PgRow) -> StoreResult<SessionRecord> {
    Ok(SessionRecord {
        id: id(row, 0)?,
        token_hash: digest(row, 1)?,
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
impl SessionStore for PgStore {
    async fn insert_session(&self, s: &SessionRecord) -> StoreResult<()> {
        self.execute(sqlx::query(
            "INSERT INTO sessions (id, token_hash, user_id, operator_id, created_ms, last_seen_ms,
                 expires_ms, step_up_ms, ip, user_agent, revoked_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(s.id.to_string())
        .bind(s.token_hash.as_slice())
        .bind(s.user_id.to_string())
        .bind(s.operator_id.to_string())
        .bind(s.created_ms)
        .bind(s.last_seen_ms)
        .bind(s.expires_ms)
        .bind(s.step_up_ms)
        .bind(&s.ip)
        .bind(&s.user_agent)
        .bind(s.revoked_ms)
        )
        .await.map(drop)
    }

    async fn session_by_token(&self, token_hash: &[u8; 32]) -> StoreResult<Option<SessionRecord>> {
        sqlx::query(session_select!("WHERE token_hash = $1"))
            .bind(token_hash.as_slice())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| session(&r))
            .transpose()
    }

    async fn touch_session(&self, id: &SessionId, now_ms: i64) -> StoreResult<bool> {
        // `greatest` keeps `last_seen_ms` from going backwards; the live check is the row's
        // existence with no revocation.
        let done = self
            .execute(
                sqlx::query(
                    "UPDATE sessions SET last_seen_ms = greatest(last_seen_ms, $2)
             WHERE id = $1 AND revoked_ms IS NULL",
                )
                .bind(id.to_string())
                .bind(now_ms),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_session_step_up(&self, id: &SessionId, now_ms: i64) -> StoreResult<bool> {
        self.execute_changed(
            sqlx::query("UPDATE sessions SET step_up_ms = $2 WHERE id = $1 AND revoked_ms IS NULL")
                .bind(id.to_string())
                .bind(now_ms),
        )
        .await
    }

    async fn revoke_session(
        &self,
        user: &UserId,
        id: &SessionId,
        now_ms: i64,
    ) -> StoreResult<bool> {
        self.execute_changed(
            sqlx::query(
                "UPDATE sessions SET revoked_ms = $3
                 WHERE id = $1 AND user_id = $2 AND revoked_ms IS NULL",
            )
            .bind(id.to_string())
            .bind(user.to_string())
            .bind(now_ms),
        )
        .await
    }

    async fn revoke_user_sessions(&self, user: &UserId, now_ms: i64) -> StoreResult<u64> {
        let done = self
            .execute(
                sqlx::query(
                    "UPDATE sessions SET revoked_ms = $2 WHERE user_id = $1 AND revoked_ms IS NULL",
                )
                .bind(user.to_string())
                .bind(now_ms),
            )
            .await?;
        Ok(done.rows_affected())
    }

    async fn live_sessions(&self, user: &UserId, now_ms: i64) -> StoreResult<Vec<SessionRecord>> {
        // SQLite breaks ties on insertion order (rowid); the id makes this order stable.
        sqlx::query(session_select!(
            "WHERE user_id = $1 AND revoked_ms IS NULL AND expires_ms > $2
             ORDER BY created_ms DESC, id DESC"
        ))
        .bind(user.to_string())
        .bind(now_ms)
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(session)
        .collect()
    }
}
