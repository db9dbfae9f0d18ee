//! Database connections. Deleting one decides "still bound to a leased secret" inside the
//! writer's transaction, so a concurrent binding cannot slip between the check and the delete.

use async_trait::async_trait;
use rusqlite::{Row, params};
use signet_proto::{ConnectionId, ProjectId};
use signet_store::{Conflict, ConnectionRecord, ConnectionStore, StoreError, StoreResult, TlsMode};

use crate::SqliteStore;
use crate::row::{col, id, name};
use crate::statement::{all, exec, exec_found, one};

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

fn connection(row: &Row<'_>) -> StoreResult<ConnectionRecord> {
    Ok(ConnectionRecord {
        id: id(row, 0)?,
        project_id: id(row, 1)?,
        name: col(row, 2)?,
        host: col(row, 3)?,
        port: col(row, 4)?,
        database: col(row, 5)?,
        admin_user: col(row, 6)?,
        tls_mode: name(row, 7, TlsMode::parse)?,
        password_wrapped_dek: col(row, 8)?,
        password_ciphertext: col(row, 9)?,
        created_ms: col(row, 10)?,
        updated_ms: col(row, 11)?,
        key_generation: col(row, 12)?,
    })
}

#[async_trait]
impl ConnectionStore for SqliteStore {
    async fn insert_connection(&self, c: &ConnectionRecord) -> StoreResult<()> {
        let c = c.clone();
        self.write(move |tx| {
            // The project must exist (there is no foreign key: see the migration).
            exec_found(
                tx,
                "INSERT INTO db_connections (id, project_id, name, host, port, database,
                     admin_user, tls_mode, password_wrapped_dek, password_ciphertext,
                     created_ms, updated_ms, key_generation)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13
                 WHERE EXISTS (SELECT 1 FROM projects WHERE id = ?2)",
                params![
                    c.id.as_str(),
                    c.project_id.as_str(),
                    c.name,
                    c.host,
                    c.port,
                    c.database,
                    c.admin_user,
                    c.tls_mode.as_str(),
                    c.password_wrapped_dek,
                    c.password_ciphertext,
                    c.created_ms,
                    c.updated_ms,
                    c.key_generation
                ],
            )
        })
        .await
    }

    async fn connection(&self, cid: &ConnectionId) -> StoreResult<Option<ConnectionRecord>> {
        self.read(|c| {
            one(
                c,
                connection_select!("WHERE id = ?1"),
                [cid.as_str()],
                connection,
            )
        })
    }

    async fn connections(&self, project: &ProjectId) -> StoreResult<Vec<ConnectionRecord>> {
        self.read(|c| {
            all(
                c,
                connection_select!("WHERE project_id = ?1 ORDER BY name"),
                [project.as_str()],
                connection,
            )
        })
    }

    async fn update_connection(&self, c: &ConnectionRecord) -> StoreResult<()> {
        let c = c.clone();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE db_connections SET name = ?2, host = ?3, port = ?4, database = ?5,
                     admin_user = ?6, tls_mode = ?7, password_wrapped_dek = ?8,
                     password_ciphertext = ?9, updated_ms = ?10, key_generation = ?11
                 WHERE id = ?1",
                params![
                    c.id.as_str(),
                    c.name,
                    c.host,
                    c.port,
                    c.database,
                    c.admin_user,
                    c.tls_mode.as_str(),
                    c.password_wrapped_dek,
                    c.password_ciphertext,
                    c.updated_ms,
                    c.key_generation
                ],
            )
        })
        .await
    }

    async fn delete_connection(&self, cid: &ConnectionId) -> StoreResult<()> {
        let cid = cid.clone();
        self.write(move |tx| {
            // Settings of purged secrets (the trash deletes secrets by its own statements) bind
            // nothing any more.
            exec(
                tx,
                "DELETE FROM leased_secrets WHERE connection_id = ?1
                   AND secret_id NOT IN (SELECT id FROM secrets)",
                [cid.as_str()],
            )?;
            let gone = exec(
                tx,
                "DELETE FROM db_connections WHERE id = ?1
                   AND NOT EXISTS (SELECT 1 FROM leased_secrets l JOIN secrets s ON s.id = l.secret_id
                                   WHERE l.connection_id = ?1)
                   AND NOT EXISTS (SELECT 1 FROM managed_secrets WHERE connection_id = ?1)
                   AND NOT EXISTS (SELECT 1 FROM leases
                                   WHERE connection_id = ?1 AND state <> 'revoked')",
                [cid.as_str()],
            )?;
            if gone > 0 {
                return Ok(());
            }
            let exists = one(
                tx,
                "SELECT 1 FROM db_connections WHERE id = ?1",
                [cid.as_str()],
                |_| Ok(()),
            )?;
            Err(match exists {
                Some(()) => StoreError::Conflict(Conflict::ConnectionInUse),
                None => StoreError::NotFound,
            })
        })
        .await
    }
}
