//! Passkeys and WebAuthn ceremony state. The per-user limit is decided with the user's row
//! locked; the forward-only counter and the single use of a ceremony are each one conditional
//! statement, which PostgreSQL re-checks after a concurrent writer commits.

use async_trait::async_trait;
use signet_proto::{CeremonyId, PasskeyId, UserId};
use signet_store::{
    CeremonyKind, CeremonyRecord, Conflict, PasskeyRecord, PasskeyStore, StoreError, StoreResult,
};
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::error::db;
use crate::row::{col, id, name, opt_id, small};

macro_rules! passkey_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, user_id, credential_id, name, credential, sign_count, created_ms, last_used_ms
             FROM passkeys ",
            $rest
        )
    };
}

fn passkey(row: &PgRow) -> StoreResult<PasskeyRecord> {
    Ok(PasskeyRecord {
        id: id(row, 0)?,
        user_id: id(row, 1)?,
        credential_id: col(row, 2)?,
        name: col(row, 3)?,
        credential: col(row, 4)?,
        sign_count: small(row, 5)?,
        created_ms: col(row, 6)?,
        last_used_ms: col(row, 7)?,
    })
}

fn ceremony(row: &PgRow) -> StoreResult<CeremonyRecord> {
    Ok(CeremonyRecord {
        id: id(row, 0)?,
        kind: name(row, 1, CeremonyKind::parse)?,
        user_id: opt_id(row, 2)?,
        state: col(row, 3)?,
        expires_ms: col(row, 4)?,
    })
}

#[async_trait]
impl PasskeyStore for PgStore {
    async fn insert_passkey(&self, p: &PasskeyRecord, max_per_user: u32) -> StoreResult<()> {
        let user = p.user_id.to_string();
        let mut tx = self.begin().await?;
        // Locking the user's row makes racing registrations for one user count one at a time.
        let exists = sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
            .bind(&user)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let held: i64 = sqlx::query_scalar("SELECT count(*) FROM passkeys WHERE user_id = $1")
            .bind(&user)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        if held >= i64::from(max_per_user) {
            return Err(StoreError::Conflict(Conflict::PasskeyLimit));
        }
        sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, name, credential, sign_count,
                 created_ms, last_used_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(p.id.to_string())
        .bind(&user)
        .bind(&p.credential_id)
        .bind(&p.name)
        .bind(&p.credential)
        .bind(i64::from(p.sign_count))
        .bind(p.created_ms)
        .bind(p.last_used_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        self.commit(tx).await
    }

    async fn passkeys(&self, user: &UserId) -> StoreResult<Vec<PasskeyRecord>> {
        sqlx::query(passkey_select!(
            "WHERE user_id = $1 ORDER BY created_ms, id COLLATE \"C\""
        ))
        .bind(user.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(passkey)
        .collect()
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> StoreResult<Option<PasskeyRecord>> {
        sqlx::query(passkey_select!("WHERE credential_id = $1"))
            .bind(credential_id)
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| passkey(&r))
            .transpose()
    }

    async fn record_passkey_use(
        &self,
        id: &PasskeyId,
        credential: &str,
        sign_count: u32,
        used_ms: i64,
    ) -> StoreResult<bool> {
        let id = id.to_string();
        // The comparison and the write are one statement: of two assertions verified against
        // the same stored counter, only the first to land may move it.
        let changed = self
            .execute(
                sqlx::query(
                    "UPDATE passkeys SET credential = $2, sign_count = $3, last_used_ms = $4
             WHERE id = $1 AND (sign_count < $3 OR (sign_count = 0 AND $3 = 0))",
                )
                .bind(&id)
                .bind(credential)
                .bind(i64::from(sign_count))
                .bind(used_ms),
            )
            .await?;
        if changed.rows_affected() == 1 {
            return Ok(true);
        }
        let exists = sqlx::query("SELECT 1 FROM passkeys WHERE id = $1")
            .bind(&id)
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        if exists.is_some() {
            Ok(false)
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn rename_passkey(
        &self,
        user: &UserId,
        id: &PasskeyId,
        name: &str,
    ) -> StoreResult<PasskeyRecord> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2
             RETURNING id, user_id, credential_id, name, credential, sign_count, created_ms, last_used_ms",
        )
        .bind(id.to_string())
        .bind(user.to_string())
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound)?;
        let renamed = passkey(&row)?;
        self.commit(tx).await?;
        Ok(renamed)
    }

    async fn delete_passkey(&self, user: &UserId, id: &PasskeyId) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
                .bind(id.to_string())
                .bind(user.to_string()),
        )
        .await
    }

    async fn insert_ceremony(&self, c: &CeremonyRecord) -> StoreResult<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO webauthn_ceremonies (id, kind, user_id, state, expires_ms)
             VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(c.id.to_string())
            .bind(c.kind.as_str())
            .bind(c.user_id.map(|u| u.to_string()))
            .bind(&c.state)
            .bind(c.expires_ms),
        )
        .await
        .map(drop)
    }

    async fn take_ceremony(
        &self,
        id: &CeremonyId,
        kind: CeremonyKind,
        now_ms: i64,
    ) -> StoreResult<Option<CeremonyRecord>> {
        let taken = sqlx::query(
            "DELETE FROM webauthn_ceremonies WHERE id = $1 AND kind = $2
             RETURNING id, kind, user_id, state, expires_ms",
        )
        .bind(id.to_string())
        .bind(kind.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .map(|r| ceremony(&r))
        .transpose()?;
        Ok(taken.filter(|c| now_ms < c.expires_ms))
    }

    async fn sweep_ceremonies(&self, now_ms: i64) -> StoreResult<u64> {
        let done = self
            .execute(
                sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_ms <= $1").bind(now_ms),
            )
            .await?;
        Ok(done.rows_affected())
    }
}
