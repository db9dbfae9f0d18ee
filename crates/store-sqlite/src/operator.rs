//! Operator keys, registered in the shared `principal_keys` table.

use async_trait::async_trait;
use rusqlite::{Row, Transaction, params};
use signet_proto::{OperatorId, PublicKey, UserId};
use signet_store::{OperatorRecord, OperatorStore, StoreResult};

use crate::SqliteStore;
use crate::row::{col, id, opt_id, public_key};
use crate::statement::{all, exec, exec_found, one};

/// Claims a key for a principal, forever. `Conflict::PublicKey` if any principal, live or
/// revoked, ever held it.
pub(crate) fn claim_key(
    tx: &Transaction<'_>,
    key: &PublicKey,
    kind: &'static str,
    principal: &str,
) -> StoreResult<()> {
    exec(
        tx,
        "INSERT INTO principal_keys (public_key, kind, principal_id) VALUES (?1, ?2, ?3)",
        params![key.as_bytes(), kind, principal],
    )
    .map(drop)
}

fn operator(row: &Row<'_>) -> StoreResult<OperatorRecord> {
    Ok(OperatorRecord {
        id: id(row, 0)?,
        name: col(row, 1)?,
        public_key: public_key(row, 2)?,
        owner: col(row, 3)?,
        disabled: col(row, 4)?,
        created_ms: col(row, 5)?,
        user_id: opt_id(row, 6)?,
        expires_ms: col(row, 7)?,
    })
}

#[async_trait]
impl OperatorStore for SqliteStore {
    async fn insert_operator(&self, op: &OperatorRecord) -> StoreResult<()> {
        let op = op.clone();
        self.write(move |tx| {
            let id = op.id.to_string();
            claim_key(tx, &op.public_key, "operator", &id)?;
            exec(
                tx,
                "INSERT INTO operators (id, name, public_key, owner, disabled, created_ms, user_id, expires_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id,
                    op.name,
                    op.public_key.as_bytes(),
                    op.owner,
                    op.disabled,
                    op.created_ms,
                    op.user_id.map(|u| u.to_string()),
                    op.expires_ms
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn operator(&self, id: &OperatorId) -> StoreResult<Option<OperatorRecord>> {
        let id = id.to_string();
        self.read(|c| one(c, "SELECT id, name, public_key, owner, disabled, created_ms, user_id, expires_ms FROM operators WHERE id = ?1", [id], operator))
    }

    async fn operators(&self) -> StoreResult<Vec<OperatorRecord>> {
        self.read(|c| {
            all(c, "SELECT id, name, public_key, owner, disabled, created_ms, user_id, expires_ms FROM operators ORDER BY created_ms, rowid", [], operator)
        })
    }

    async fn user_operators(&self, user: &UserId, now_ms: i64) -> StoreResult<Vec<OperatorRecord>> {
        let user = user.to_string();
        self.read(|c| {
            all(
                c,
                "SELECT id, name, public_key, owner, disabled, created_ms, user_id, expires_ms FROM operators
                 WHERE user_id = ?1 AND disabled = 0 AND (expires_ms IS NULL OR expires_ms > ?2)
                 ORDER BY created_ms DESC, rowid DESC",
                params![user, now_ms],
                operator,
            )
        })
    }

    async fn disable_operator(&self, id: &OperatorId) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE operators SET disabled = 1 WHERE id = ?1 AND disabled = 0",
                [id],
            )
        })
        .await
    }
}
