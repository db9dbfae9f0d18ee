//! Projects.

use async_trait::async_trait;
use signet_proto::ProjectId;
use signet_store::{ProjectRecord, ProjectStore, StoreResult};
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::error::db;
use crate::row::{col, id};

fn project(row: &PgRow) -> StoreResult<ProjectRecord> {
    Ok(ProjectRecord {
        id: id(row, 0)?,
        name: col(row, 1)?,
        wrapped_key: col(row, 2)?,
        created_ms: col(row, 3)?,
    })
}

#[async_trait]
impl ProjectStore for PgStore {
    async fn insert_project(&self, p: &ProjectRecord) -> StoreResult<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO projects (id, name, wrapped_key, created_ms) VALUES ($1, $2, $3, $4)",
            )
            .bind(p.id.to_string())
            .bind(&p.name)
            .bind(&p.wrapped_key)
            .bind(p.created_ms),
        )
        .await
        .map(drop)
    }

    async fn rename_project(&self, id: &ProjectId, name: &str) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("UPDATE projects SET name = $2 WHERE id = $1 AND deleted_ms IS NULL")
                .bind(id.to_string())
                .bind(name),
        )
        .await
    }

    async fn project(&self, id: &ProjectId) -> StoreResult<Option<ProjectRecord>> {
        sqlx::query("SELECT id, name, wrapped_key, created_ms FROM projects WHERE id = $1 AND deleted_ms IS NULL")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| project(&r))
            .transpose()
    }

    async fn projects(&self) -> StoreResult<Vec<ProjectRecord>> {
        sqlx::query(
            "SELECT id, name, wrapped_key, created_ms FROM projects WHERE deleted_ms IS NULL ORDER BY name COLLATE \"C\"",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(project)
        .collect()
    }
}
