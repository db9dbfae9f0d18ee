//! The trash: soft-deleted secrets and projects, restore, purge and the retention setting.
//!
//! A purge locks the item's row (`FOR UPDATE`) with the condition that makes it due, then
//! deletes, in one transaction. Two replicas racing for one item: the second waits on the lock,
//! re-reads the row once the first commits, finds it gone and gets `NotFound`; its transaction
//! (and the audit record riding on it) is rolled back, so the item is purged and audited once.

use async_trait::async_trait;
use signet_proto::{ProjectId, SecretId};
use signet_store::{Conflict, Deletion, StoreError, StoreResult, TrashItem, TrashKind, TrashStore};
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::error::db;
use crate::row::{col, id};

/// Trashed projects, then secrets trashed on their own, with who and when, in the order
/// [`item`] reads them. `$1` bounds the deletion time (NULL: any).
const ITEMS: &str = "SELECT 'project', p.id, p.name, p.id, p.name, p.deleted_ms,
                            COALESCE(p.deleted_by, ''), COALESCE(p.deleted_by_name, '')
                     FROM projects p
                     WHERE p.deleted_ms IS NOT NULL AND ($1::bigint IS NULL OR p.deleted_ms < $1)
                     UNION ALL
                     SELECT 'secret', s.id, s.name, p.id, p.name, s.deleted_ms,
                            COALESCE(s.deleted_by, ''), COALESCE(s.deleted_by_name, '')
                     FROM secrets s JOIN projects p ON p.id = s.project_id
                     WHERE s.deleted_ms IS NOT NULL AND ($1::bigint IS NULL OR s.deleted_ms < $1)
                     ORDER BY 6, 2";

fn item(row: &PgRow) -> StoreResult<TrashItem> {
    let kind: String = col(row, 0)?;
    Ok(TrashItem {
        kind: if kind == "project" {
            TrashKind::Project
        } else {
            TrashKind::Secret
        },
        id: col(row, 1)?,
        name: col(row, 2)?,
        project_id: id(row, 3)?,
        project_name: col(row, 4)?,
        deletion: Deletion {
            at_ms: col(row, 5)?,
            by_id: col(row, 6)?,
            by_name: col(row, 7)?,
        },
    })
}

impl PgStore {
    async fn items(&self, deleted_before: Option<i64>) -> StoreResult<Vec<TrashItem>> {
        sqlx::query(ITEMS)
            .bind(deleted_before)
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .iter()
            .map(item)
            .collect()
    }
}

#[async_trait]
impl TrashStore for PgStore {
    async fn trash_secret(&self, id: &SecretId, d: &Deletion) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE secrets SET deleted_ms = $2, deleted_by = $3, deleted_by_name = $4
                 WHERE id = $1 AND deleted_ms IS NULL
                   AND project_id IN (SELECT id FROM projects WHERE deleted_ms IS NULL)",
            )
            .bind(id.to_string())
            .bind(d.at_ms)
            .bind(&d.by_id)
            .bind(&d.by_name),
        )
        .await
    }

    async fn trash_project(&self, id: &ProjectId, d: &Deletion) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE projects SET deleted_ms = $2, deleted_by = $3, deleted_by_name = $4
                 WHERE id = $1 AND deleted_ms IS NULL",
            )
            .bind(id.to_string())
            .bind(d.at_ms)
            .bind(&d.by_id)
            .bind(&d.by_name),
        )
        .await
    }

    async fn trash(&self) -> StoreResult<Vec<TrashItem>> {
        self.items(None).await
    }

    async fn restore_secret(&self, id: &SecretId) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // Locks the project row too, so a concurrent project delete cannot slip in between.
        let project_live: Option<bool> = sqlx::query_scalar(
            "SELECT p.deleted_ms IS NULL FROM secrets s JOIN projects p ON p.id = s.project_id
             WHERE s.id = $1 AND s.deleted_ms IS NOT NULL FOR UPDATE",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        match project_live {
            None => return Err(StoreError::NotFound),
            Some(false) => return Err(StoreError::Conflict(Conflict::ProjectTrashed)),
            Some(true) => {}
        }
        let done = sqlx::query(
            "UPDATE secrets SET deleted_ms = NULL, deleted_by = NULL, deleted_by_name = NULL
             WHERE id = $1 AND deleted_ms IS NOT NULL",
        )
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        crate::found(done)?;
        self.commit(tx).await
    }

    async fn restore_project(&self, id: &ProjectId) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE projects SET deleted_ms = NULL, deleted_by = NULL, deleted_by_name = NULL
                 WHERE id = $1 AND deleted_ms IS NOT NULL",
            )
            .bind(id.to_string()),
        )
        .await
    }

    async fn purge_secret(&self, id: &SecretId, deleted_before: Option<i64>) -> StoreResult<()> {
        let id = id.to_string();
        let mut tx = self.begin().await?;
        let due: Option<String> = sqlx::query_scalar(
            "SELECT id FROM secrets WHERE id = $1 AND deleted_ms IS NOT NULL
               AND ($2::bigint IS NULL OR deleted_ms < $2) FOR UPDATE",
        )
        .bind(&id)
        .bind(deleted_before)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if due.is_none() {
            return Err(StoreError::NotFound);
        }
        for statement in [
            "DELETE FROM read_marks WHERE secret_id = $1",
            "DELETE FROM grants WHERE secret_id = $1",
            "DELETE FROM managed_secrets WHERE secret_id = $1",
            "DELETE FROM secret_rotations WHERE secret_id = $1",
            "DELETE FROM secret_versions WHERE secret_id = $1",
            "DELETE FROM secrets WHERE id = $1",
        ] {
            sqlx::query(statement)
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        self.commit(tx).await
    }

    async fn purge_project(&self, id: &ProjectId, deleted_before: Option<i64>) -> StoreResult<()> {
        let id = id.to_string();
        let mut tx = self.begin().await?;
        let due: Option<String> = sqlx::query_scalar(
            "SELECT id FROM projects WHERE id = $1 AND deleted_ms IS NOT NULL
               AND ($2::bigint IS NULL OR deleted_ms < $2) FOR UPDATE",
        )
        .bind(&id)
        .bind(deleted_before)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if due.is_none() {
            return Err(StoreError::NotFound);
        }
        // A scoped user keeps `scoped`, so losing the `user_projects` row only narrows what
        // they see.
        for statement in [
            "DELETE FROM read_marks WHERE secret_id IN (SELECT id FROM secrets WHERE project_id = $1)",
            "DELETE FROM grants WHERE secret_id IN (SELECT id FROM secrets WHERE project_id = $1)",
            "DELETE FROM managed_secrets WHERE secret_id IN (SELECT id FROM secrets WHERE project_id = $1)",
            "DELETE FROM secret_rotations WHERE secret_id IN (SELECT id FROM secrets WHERE project_id = $1)",
            "DELETE FROM secret_versions WHERE secret_id IN (SELECT id FROM secrets WHERE project_id = $1)",
            "DELETE FROM secrets WHERE project_id = $1",
            "DELETE FROM memberships WHERE project_id = $1",
            "DELETE FROM user_projects WHERE project_id = $1",
            "DELETE FROM projects WHERE id = $1",
        ] {
            sqlx::query(statement)
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        self.commit(tx).await
    }

    async fn purge_due(&self, deleted_before: i64) -> StoreResult<Vec<TrashItem>> {
        self.items(Some(deleted_before)).await
    }

    async fn trash_retention_days(&self) -> StoreResult<u32> {
        let days: Option<i64> =
            sqlx::query_scalar("SELECT trash_retention_days FROM vault WHERE singleton = 1")
                .fetch_optional(self.pool())
                .await
                .map_err(db)?;
        let days = days.ok_or(StoreError::NotFound)?;
        u32::try_from(days).map_err(|_| StoreError::Corrupt)
    }

    async fn set_trash_retention_days(&self, days: u32) -> StoreResult<()> {
        let days = i64::from(days);
        self.execute_found(
            sqlx::query("UPDATE vault SET trash_retention_days = $1 WHERE singleton = 1")
                .bind(days),
        )
        .await
    }
}
