//! Operator keys, registered in the shared `principal_keys` table.

use async_trait::async_trait;
use signet_proto::{OperatorId, PublicKey, UserId};
use signet_store::{OperatorRecord, OperatorStore, StoreResult};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::error::db;
use crate::row::{col, id, opt_id, public_key};

/// Claims a key for a principal, forever. `Conflict::PublicKey` if any principal, live or
/// revoked, ever held it.
pub(crate) async fn claim_key(
    conn: &mut PgConnection,
    key: &PublicKey,
    kind: &'static str,
    principal: &str,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO principal_keys (public_key, kind, principal_id) VALUES ($1, $2, $3)")
        .bind(key.as_bytes().as_slice())
        .bind(kind)
        .bind(principal)
        .execute(conn)
        .await
        .map(drop)
        .map_err(db)
}

macro_rules! operator_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, public_key, owner, disabled, created_ms, user_id, expires_ms FROM operators ",
            $rest
        )
    };
}

fn operator(row: &PgRow) -> StoreResult<OperatorRecord> {
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
impl OperatorStore for PgStore {
    async fn insert_operator(&self, op: &OperatorRecord) -> StoreResult<()> {
        let id = op.id.to_string();
        let mut tx = self.begin().await?;
        claim_key(&mut tx, &op.public_key, "operator", &id).await?;
        sqlx::query(
            "INSERT INTO operators (id, name, public_key, owner, disabled, created_ms, user_id, expires_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(&op.name)
        .bind(op.public_key.as_bytes().as_slice())
        .bind(op.owner)
        .bind(op.disabled)
        .bind(op.created_ms)
        .bind(op.user_id.map(|u| u.to_string()))
        .bind(op.expires_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        self.commit(tx).await
    }

    async fn operator(&self, id: &OperatorId) -> StoreResult<Option<OperatorRecord>> {
        sqlx::query(operator_select!("WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| operator(&r))
            .transpose()
    }

    async fn operators(&self) -> StoreResult<Vec<OperatorRecord>> {
        // SQLite breaks ties on insertion order (rowid); the id makes this order stable.
        sqlx::query(operator_select!("ORDER BY created_ms, id"))
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .iter()
            .map(operator)
            .collect()
    }

    async fn user_operators(&self, user: &UserId, now_ms: i64) -> StoreResult<Vec<OperatorRecord>> {
        sqlx::query(operator_select!(
            "WHERE user_id = $1 AND NOT disabled AND (expires_ms IS NULL OR expires_ms > $2)
             ORDER BY created_ms DESC, id DESC"
        ))
        .bind(user.to_string())
        .bind(now_ms)
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(operator)
        .collect()
    }

    async fn disable_operator(&self, id: &OperatorId) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("UPDATE operators SET disabled = TRUE WHERE id = $1 AND NOT disabled")
                .bind(id.to_string()),
        )
        .await
    }
}
