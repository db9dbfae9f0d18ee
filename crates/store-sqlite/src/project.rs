//! Projects.

use async_trait::async_trait;
use rusqlite::{Row, params};
use signet_proto::ProjectId;
use signet_store::{ProjectRecord, ProjectStore, StoreResult};

use crate::SqliteStore;
use crate::row::{col, id};
use crate::statement::{all, exec, exec_found, one};
use crate::vault::bump_policy;

pub(crate) fn project(row: &Row<'_>) -> StoreResult<ProjectRecord> {
    Ok(ProjectRecord {
        id: id(row, 0)?,
        name: col(row, 1)?,
        wrapped_key: col(row, 2)?,
        created_ms: col(row, 3)?,
        frozen_ms: col(row, 4)?,
        root_generation: col(row, 5)?,
        key_generation: col(row, 6)?,
    })
}

#[async_trait]
impl ProjectStore for SqliteStore {
    async fn insert_project(&self, p: &ProjectRecord) -> StoreResult<()> {
        let p = p.clone();
        self.write(move |tx| {
            crate::keyring::check_current(tx, p.root_generation)?;
            exec(
                tx,
                "INSERT INTO projects (id, name, wrapped_key, created_ms, root_generation, key_generation)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![p.id.as_str(), p.name, p.wrapped_key, p.created_ms, p.root_generation, p.key_generation],
            )
            .map(drop)
        })
        .await
    }

    async fn rename_project(&self, id: &ProjectId, name: &str) -> StoreResult<()> {
        let (id, name) = (id.to_string(), name.to_owned());
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE projects SET name = ?2 WHERE id = ?1 AND deleted_ms IS NULL",
                params![id, name],
            )
        })
        .await
    }

    async fn freeze_project(&self, id: &ProjectId, now_ms: i64) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |tx| {
            // The first freeze time stays: it is when the project stopped being trusted.
            exec_found(
                tx,
                "UPDATE projects SET frozen_ms = COALESCE(frozen_ms, ?2) WHERE id = ?1",
                params![id, now_ms],
            )?;
            bump_policy(tx)
        })
        .await
    }

    async fn unfreeze_project(&self, id: &ProjectId) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE projects SET frozen_ms = NULL WHERE id = ?1",
                params![id],
            )?;
            bump_policy(tx)
        })
        .await
    }

    async fn project(&self, id: &ProjectId) -> StoreResult<Option<ProjectRecord>> {
        self.read(|c| {
            one(
                c,
                "SELECT id, name, wrapped_key, created_ms, frozen_ms, root_generation, key_generation FROM projects WHERE id = ?1 AND deleted_ms IS NULL",
                [id.as_str()],
                project,
            )
        })
    }

    async fn projects(&self) -> StoreResult<Vec<ProjectRecord>> {
        self.read(|c| {
            all(
                c,
                "SELECT id, name, wrapped_key, created_ms, frozen_ms, root_generation, key_generation FROM projects WHERE deleted_ms IS NULL ORDER BY name",
                [],
                project,
            )
        })
    }
}
