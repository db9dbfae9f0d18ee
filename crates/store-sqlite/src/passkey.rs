//! Passkeys and WebAuthn ceremony state. The per-user limit, the forward-only counter and the
//! single use of a ceremony are each decided inside the writer's transaction, never from a read
//! made earlier.

use async_trait::async_trait;
use rusqlite::{Row, params};
use signet_proto::{CeremonyId, PasskeyId, UserId};
use signet_store::{
    CeremonyKind, CeremonyRecord, Conflict, PasskeyRecord, PasskeyStore, StoreError, StoreResult,
};

use crate::SqliteStore;
use crate::row::{col, id, name, opt_id};
use crate::statement::{all, exec, exec_found, one};

fn passkey(row: &Row<'_>) -> StoreResult<PasskeyRecord> {
    Ok(PasskeyRecord {
        id: id(row, 0)?,
        user_id: id(row, 1)?,
        credential_id: col(row, 2)?,
        name: col(row, 3)?,
        credential: col(row, 4)?,
        sign_count: col(row, 5)?,
        created_ms: col(row, 6)?,
        last_used_ms: col(row, 7)?,
    })
}

fn ceremony(row: &Row<'_>) -> StoreResult<CeremonyRecord> {
    Ok(CeremonyRecord {
        id: id(row, 0)?,
        kind: name(row, 1, CeremonyKind::parse)?,
        user_id: opt_id(row, 2)?,
        state: col(row, 3)?,
        expires_ms: col(row, 4)?,
    })
}

#[async_trait]
impl PasskeyStore for SqliteStore {
    async fn insert_passkey(&self, p: &PasskeyRecord, max_per_user: u32) -> StoreResult<()> {
        let p = p.clone();
        self.write(move |tx| {
            let user = p.user_id.to_string();
            let held = one(
                tx,
                "SELECT count(*) FROM passkeys WHERE user_id = ?1",
                [&user],
                |r| col::<u32>(r, 0),
            )?
            .unwrap_or(0);
            if held >= max_per_user {
                return Err(StoreError::Conflict(Conflict::PasskeyLimit));
            }
            exec(
                tx,
                "INSERT INTO passkeys (id, user_id, credential_id, name, credential, sign_count,
                     created_ms, last_used_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    p.id.as_str(),
                    user,
                    p.credential_id,
                    p.name,
                    p.credential,
                    p.sign_count,
                    p.created_ms,
                    p.last_used_ms
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn passkeys(&self, user: &UserId) -> StoreResult<Vec<PasskeyRecord>> {
        let user = user.to_string();
        self.read(|c| {
            all(
                c,
                "SELECT id, user_id, credential_id, name, credential, sign_count, created_ms, last_used_ms
                 FROM passkeys WHERE user_id = ?1 ORDER BY created_ms, id",
                [user],
                passkey,
            )
        })
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> StoreResult<Option<PasskeyRecord>> {
        let credential_id = credential_id.to_vec();
        self.read(|c| {
            one(
                c,
                "SELECT id, user_id, credential_id, name, credential, sign_count, created_ms, last_used_ms
                 FROM passkeys WHERE credential_id = ?1",
                [credential_id],
                passkey,
            )
        })
    }

    async fn record_passkey_use(
        &self,
        id: &PasskeyId,
        credential: &str,
        sign_count: u32,
        used_ms: i64,
    ) -> StoreResult<bool> {
        let (id, credential) = (id.to_string(), credential.to_owned());
        self.write(move |tx| {
            // The comparison and the write are one statement: of two assertions verified against
            // the same stored counter, only the first to land may move it.
            let changed = exec(
                tx,
                "UPDATE passkeys SET credential = ?2, sign_count = ?3, last_used_ms = ?4
                 WHERE id = ?1 AND (sign_count < ?3 OR (sign_count = 0 AND ?3 = 0))",
                params![id, credential, sign_count, used_ms],
            )?;
            if changed == 1 {
                return Ok(true);
            }
            let exists = one(tx, "SELECT 1 FROM passkeys WHERE id = ?1", [&id], |r| {
                col::<i64>(r, 0)
            })?;
            if exists.is_some() {
                Ok(false)
            } else {
                Err(StoreError::NotFound)
            }
        })
        .await
    }

    async fn rename_passkey(
        &self,
        user: &UserId,
        id: &PasskeyId,
        name: &str,
    ) -> StoreResult<PasskeyRecord> {
        let (user, id, name) = (user.to_string(), id.to_string(), name.to_owned());
        self.write(move |tx| {
            one(
                tx,
                "UPDATE passkeys SET name = ?3 WHERE id = ?1 AND user_id = ?2
                 RETURNING id, user_id, credential_id, name, credential, sign_count, created_ms, last_used_ms",
                params![id, user, name],
                passkey,
            )?
            .ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn delete_passkey(&self, user: &UserId, id: &PasskeyId) -> StoreResult<()> {
        let (user, id) = (user.to_string(), id.to_string());
        self.write(move |tx| {
            exec_found(
                tx,
                "DELETE FROM passkeys WHERE id = ?1 AND user_id = ?2",
                params![id, user],
            )
        })
        .await
    }

    async fn insert_ceremony(&self, c: &CeremonyRecord) -> StoreResult<()> {
        let c = c.clone();
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO webauthn_ceremonies (id, kind, user_id, state, expires_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    c.id.as_str(),
                    c.kind.as_str(),
                    c.user_id.map(|u| u.to_string()),
                    c.state,
                    c.expires_ms
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn take_ceremony(
        &self,
        id: &CeremonyId,
        kind: CeremonyKind,
        now_ms: i64,
    ) -> StoreResult<Option<CeremonyRecord>> {
        let id = id.to_string();
        let taken = self
            .write(move |tx| {
                one(
                    tx,
                    "DELETE FROM webauthn_ceremonies WHERE id = ?1 AND kind = ?2
                     RETURNING id, kind, user_id, state, expires_ms",
                    params![id, kind.as_str()],
                    ceremony,
                )
            })
            .await?;
        Ok(taken.filter(|c| now_ms < c.expires_ms))
    }

    async fn sweep_ceremonies(&self, now_ms: i64) -> StoreResult<u64> {
        self.write(move |tx| {
            exec(
                tx,
                "DELETE FROM webauthn_ceremonies WHERE expires_ms <= ?1",
                [now_ms],
            )
            .map(|n| n as u64)
        })
        .await
    }
}
