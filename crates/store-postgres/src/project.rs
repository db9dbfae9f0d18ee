//! Projects.

use async_trait::async_trait;
use signet_proto::ProjectId;
use signet_store::{ProjectRecord, ProjectStore, StoreResult};
use sqlx::postgres::PgRow;

use crate::change::policy_changed;
use crate::error::db;
use crate::row::{col, id, small};
use crate::{PgStore, found};

pub(crate) fn project(row: &PgRow) -> StoreResult<ProjectRecord> {
    Ok(ProjectRecord {
        id: id(row, 0)?,
        name: col(row, 1)?,
        wrapped_key: col(row, 2)?,
        created_ms: col(row, 3)?,
        frozen_ms: col(row, 4)?,
        root_generation: small(row, 5)?,
        key_generation: small(row, 6)?,
    })
}

#[async_trait]
impl ProjectStore for PgStore {
    async fn insert_project(&self, p: &ProjectRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        crate::keyring::hold_current(&mut tx, p.root_generation).await?;
        sqlx::query(
            "INSERT INTO projects (id, name, wrapped_key, created_ms, root_generation, key_generation)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(p.id.to_string())
        .bind(&p.name)
        .bind(&p.wrapped_key)
        .bind(p.created_ms)
        .bind(i64::from(p.root_generation))
        .bind(i64::from(p.key_generation))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        self.commit(tx).await
    }

    async fn rename_project(&self, id: &ProjectId, name: &str) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("UPDATE projects SET name = $2 WHERE id = $1 AND deleted_ms IS NULL")
                .bind(id.to_string())
                .bind(name),
        )
        .await
    }

    async fn freeze_project(&self, id: &ProjectId, now_ms: i64) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // The first freeze time stays: it is when the project stopped being trusted.
        found(
            sqlx::query("UPDATE projects SET frozen_ms = COALESCE(frozen_ms, $2) WHERE id = $1")
                .bind(id.to_string())
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .map_err(db)?,
        )?;
        policy_changed(&mut tx).await?;
        self.commit(tx).await
    }

    async fn unfreeze_project(&self, id: &ProjectId) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        found(
            sqlx::query("UPDATE projects SET frozen_ms = NULL WHERE id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db)?,
        )?;
        policy_changed(&mut tx).await?;
        self.commit(tx).await
    }

    async fn project(&self, id: &ProjectId) -> StoreResult<Option<ProjectRecord>> {
        sqlx::query(
            "SELECT id, name, wrapped_key, created_ms, frozen_ms, root_generation, key_generation FROM projects WHERE id = $1 AND deleted_ms IS NULL",
        )
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .map(|r| project(&r))
        .transpose()
    }

    async fn projects(&self) -> StoreResult<Vec<ProjectRecord>> {
        sqlx::query(
            "SELECT id, name, wrapped_key, created_ms, frozen_ms, root_generation, key_generation FROM projects WHERE deleted_ms IS NULL ORDER BY name COLLATE \"C\"",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(project)
        .collect()
    }
}
