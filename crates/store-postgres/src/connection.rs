//! Database connections. Deleting one locks its row first, so a concurrent binding of a leased
//! secret (whose foreign key check takes a share lock on the same row) is ordered against it.

use async_trait::async_trait;
use signet_proto::{ConnectionId, ProjectId};
use signet_store::{Conflict, ConnectionRecord, ConnectionStore, StoreError, StoreResult, TlsMode};
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::error::{corrupt, db};
use crate::row::{col, id, name, small};

macro_rules! connection_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, project_id, name, host, port, database, admin_user, tls_mode,
                    password_wrapped_dek, password_ciphertext, created_ms, updated_ms,
                    key_generation
             FROM db_connections ",
            $rest
        )
    };
}

fn connection(row: &PgRow) -> StoreResult<ConnectionRecord> {
    let port: i64 = col(row, 4)?;
    Ok(ConnectionRecord {
        id: id(row, 0)?,
        project_id: id(row, 1)?,
        name: col(row, 2)?,
        host: col(row, 3)?,
        port: u16::try_from(port).map_err(|_| corrupt("port"))?,
        database: col(row, 5)?,
        admin_user: col(row, 6)?,
        tls_mode: name(row, 7, TlsMode::parse)?,
        password_wrapped_dek: col(row, 8)?,
        password_ciphertext: col(row, 9)?,
        created_ms: col(row, 10)?,
        updated_ms: col(row, 11)?,
        key_generation: small(row, 12)?,
    })
}

#[async_trait]
impl ConnectionStore for PgStore {
    async fn insert_connection(&self, c: &ConnectionRecord) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "INSERT INTO db_connections (id, project_id, name, host, port, database,
                     admin_user, tls_mode, password_wrapped_dek, password_ciphertext,
                     created_ms, updated_ms, key_generation)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
                 WHERE EXISTS (SELECT 1 FROM projects WHERE id = $2)",
            )
            .bind(c.id.as_str())
            .bind(c.project_id.as_str())
            .bind(&c.name)
            .bind(&c.host)
            .bind(i64::from(c.port))
            .bind(&c.database)
            .bind(&c.admin_user)
            .bind(c.tls_mode.as_str())
            .bind(c.password_wrapped_dek.as_slice())
            .bind(c.password_ciphertext.as_slice())
            .bind(c.created_ms)
            .bind(c.updated_ms)
            .bind(i64::from(c.key_generation)),
        )
        .await
    }

    async fn connection(&self, cid: &ConnectionId) -> StoreResult<Option<ConnectionRecord>> {
        sqlx::query(connection_select!("WHERE id = $1"))
            .bind(cid.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| connection(&r))
            .transpose()
    }

    async fn connections(&self, project: &ProjectId) -> StoreResult<Vec<ConnectionRecord>> {
        sqlx::query(connection_select!(
            "WHERE project_id = $1 ORDER BY name COLLATE \"C\""
        ))
        .bind(project.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(connection)
        .collect()
    }

    async fn update_connection(&self, c: &ConnectionRecord) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE db_connections SET name = $2, host = $3, port = $4, database = $5,
                     admin_user = $6, tls_mode = $7, password_wrapped_dek = $8,
                     password_ciphertext = $9, updated_ms = $10, key_generation = $11
                 WHERE id = $1",
            )
            .bind(c.id.as_str())
            .bind(&c.name)
            .bind(&c.host)
            .bind(i64::from(c.port))
            .bind(&c.database)
            .bind(&c.admin_user)
            .bind(c.tls_mode.as_str())
            .bind(c.password_wrapped_dek.as_slice())
            .bind(c.password_ciphertext.as_slice())
            .bind(c.updated_ms)
            .bind(i64::from(c.key_generation)),
        )
        .await
    }

    async fn delete_connection(&self, cid: &ConnectionId) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM db_connections WHERE id = $1 FOR UPDATE")
            .bind(cid.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let bound = sqlx::query(
            "SELECT 1 FROM leased_secrets l JOIN secrets s ON s.id = l.secret_id
             WHERE l.connection_id = $1
             UNION ALL
             SELECT 1 FROM managed_secrets WHERE connection_id = $1
             UNION ALL
             SELECT 1 FROM leases WHERE connection_id = $1 AND state <> 'revoked'
             LIMIT 1",
        )
        .bind(cid.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if bound.is_some() {
            return Err(StoreError::Conflict(Conflict::ConnectionInUse));
        }
        // Settings of purged secrets (the trash deletes secrets by its own statements) bind
        // nothing any more.
        sqlx::query(
            "DELETE FROM leased_secrets WHERE connection_id = $1
               AND secret_id NOT IN (SELECT id FROM secrets)",
        )
        .bind(cid.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query("DELETE FROM db_connections WHERE id = $1")
            .bind(cid.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        self.commit(tx).await
    }
}
