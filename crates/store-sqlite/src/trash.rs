//! The trash: soft-deleted secrets and projects, restore, purge and the retention setting.
//!
//! Every purge is one write job of the single writer: the conditional check and the deletions
//! run in one transaction, so two processes sharing the file cannot both purge an item (the
//! second finds nothing to purge and gets `NotFound`, and its audit record is not written).

use async_trait::async_trait;
use rusqlite::{Connection, Row, params};
use signet_proto::{ProjectId, SecretId};
use signet_store::{Conflict, Deletion, StoreError, StoreResult, TrashItem, TrashKind, TrashStore};

use crate::SqliteStore;
use crate::row::{col, id};
use crate::statement::{all, exec, exec_found, one};

/// Trashed projects, then secrets trashed on their own, with who and when, in the order
/// [`item`] reads them. `?1` bounds the deletion time (NULL: any).
const ITEMS: &str = "SELECT 'project', p.id, p.name, p.id, p.name, p.deleted_ms,
                            COALESCE(p.deleted_by, ''), COALESCE(p.deleted_by_name, '')
                     FROM projects p
                     WHERE p.deleted_ms IS NOT NULL AND (?1 IS NULL OR p.deleted_ms < ?1)
                     UNION ALL
                     SELECT 'secret', s.id, s.name, p.id, p.name, s.deleted_ms,
                            COALESCE(s.deleted_by, ''), COALESCE(s.deleted_by_name, '')
                     FROM secrets s JOIN projects p ON p.id = s.project_id
                     WHERE s.deleted_ms IS NOT NULL AND (?1 IS NULL OR s.deleted_ms < ?1)
                     ORDER BY 6, 2";

fn item(row: &Row<'_>) -> StoreResult<TrashItem> {
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

/// Deletes everything hanging off the secrets a `WHERE` selects, then the secrets. `?1` is the
/// id the selection uses.
fn destroy_secrets(tx: &Connection, id: &str, by_project: bool) -> StoreResult<()> {
    if by_project {
        exec(
            tx,
            "DELETE FROM read_marks WHERE secret_id IN (SELECT id FROM secrets WHERE project_id = ?1)",
            [id],
        )?;
        exec(
            tx,
            "DELETE FROM grants WHERE secret_id IN (SELECT id FROM secrets WHERE project_id = ?1)",
            [id],
        )?;
        // Rows that refer to the secrets go first (foreign keys).
        exec(
            tx,
            "DELETE FROM managed_secrets WHERE secret_id IN (SELECT id FROM secrets WHERE project_id = ?1)",
            [id],
        )?;
        exec(
            tx,
            "DELETE FROM secret_rotations WHERE secret_id IN (SELECT id FROM secrets WHERE project_id = ?1)",
            [id],
        )?;
        exec(
            tx,
            "DELETE FROM secret_versions WHERE secret_id IN (SELECT id FROM secrets WHERE project_id = ?1)",
            [id],
        )?;
        exec(tx, "DELETE FROM secrets WHERE project_id = ?1", [id])?;
    } else {
        exec(tx, "DELETE FROM read_marks WHERE secret_id = ?1", [id])?;
        exec(tx, "DELETE FROM grants WHERE secret_id = ?1", [id])?;
        exec(tx, "DELETE FROM managed_secrets WHERE secret_id = ?1", [id])?;
        exec(
            tx,
            "DELETE FROM secret_rotations WHERE secret_id = ?1",
            [id],
        )?;
        exec(tx, "DELETE FROM secret_versions WHERE secret_id = ?1", [id])?;
        exec_found(tx, "DELETE FROM secrets WHERE id = ?1", [id])?;
    }
    Ok(())
}

#[async_trait]
impl TrashStore for SqliteStore {
    async fn trash_secret(&self, id: &SecretId, d: &Deletion) -> StoreResult<()> {
        let (id, d) = (id.to_string(), d.clone());
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE secrets SET deleted_ms = ?2, deleted_by = ?3, deleted_by_name = ?4
                 WHERE id = ?1 AND deleted_ms IS NULL
                   AND project_id IN (SELECT id FROM projects WHERE deleted_ms IS NULL)",
                params![id, d.at_ms, d.by_id, d.by_name],
            )
        })
        .await
    }

    async fn trash_project(&self, id: &ProjectId, d: &Deletion) -> StoreResult<()> {
        let (id, d) = (id.to_string(), d.clone());
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE projects SET deleted_ms = ?2, deleted_by = ?3, deleted_by_name = ?4
                 WHERE id = ?1 AND deleted_ms IS NULL",
                params![id, d.at_ms, d.by_id, d.by_name],
            )
        })
        .await
    }

    async fn trash(&self) -> StoreResult<Vec<TrashItem>> {
        self.read(|c| all(c, ITEMS, [None::<i64>], item))
    }

    async fn restore_secret(&self, id: &SecretId) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |tx| {
            let project_live = one(
                tx,
                "SELECT p.deleted_ms IS NULL FROM secrets s JOIN projects p ON p.id = s.project_id
                 WHERE s.id = ?1 AND s.deleted_ms IS NOT NULL",
                [id.as_str()],
                |r| col::<bool>(r, 0),
            )?;
            match project_live {
                None => Err(StoreError::NotFound),
                Some(false) => Err(StoreError::Conflict(Conflict::ProjectTrashed)),
                Some(true) => exec_found(
                    tx,
                    "UPDATE secrets SET deleted_ms = NULL, deleted_by = NULL, deleted_by_name = NULL
                     WHERE id = ?1 AND deleted_ms IS NOT NULL",
                    [id.as_str()],
                ),
            }
        })
        .await
    }

    async fn restore_project(&self, id: &ProjectId) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE projects SET deleted_ms = NULL, deleted_by = NULL, deleted_by_name = NULL
                 WHERE id = ?1 AND deleted_ms IS NOT NULL",
                [id.as_str()],
            )
        })
        .await
    }

    async fn purge_secret(&self, id: &SecretId, deleted_before: Option<i64>) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |tx| {
            // Decided inside the write: the writer is the only one, so nothing moves between
            // this check and the deletions below.
            let due = one(
                tx,
                "SELECT 1 FROM secrets WHERE id = ?1 AND deleted_ms IS NOT NULL
                   AND (?2 IS NULL OR deleted_ms < ?2)",
                params![id, deleted_before],
                |_| Ok(()),
            )?;
            if due.is_none() {
                return Err(StoreError::NotFound);
            }
            destroy_secrets(tx, &id, false)
        })
        .await
    }

    async fn purge_project(&self, id: &ProjectId, deleted_before: Option<i64>) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |tx| {
            let due = one(
                tx,
                "SELECT 1 FROM projects WHERE id = ?1 AND deleted_ms IS NOT NULL
                   AND (?2 IS NULL OR deleted_ms < ?2)",
                params![id, deleted_before],
                |_| Ok(()),
            )?;
            if due.is_none() {
                return Err(StoreError::NotFound);
            }
            destroy_secrets(tx, &id, true)?;
            exec(
                tx,
                "DELETE FROM memberships WHERE project_id = ?1",
                [id.as_str()],
            )?;
            // A scoped user keeps `scoped = 1`, so losing the row only narrows what they see.
            exec(
                tx,
                "DELETE FROM user_projects WHERE project_id = ?1",
                [id.as_str()],
            )?;
            exec_found(tx, "DELETE FROM projects WHERE id = ?1", [id.as_str()])
        })
        .await
    }

    async fn purge_due(&self, deleted_before: i64) -> StoreResult<Vec<TrashItem>> {
        self.read(|c| all(c, ITEMS, [Some(deleted_before)], item))
    }

    async fn trash_retention_days(&self) -> StoreResult<u32> {
        self.read(|c| {
            one(
                c,
                "SELECT trash_retention_days FROM vault WHERE singleton = 1",
                [],
                |r| col(r, 0),
            )
        })?
        .ok_or(StoreError::NotFound)
    }

    async fn set_trash_retention_days(&self, days: u32) -> StoreResult<()> {
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE vault SET trash_retention_days = ?1 WHERE singleton = 1",
                [days],
            )
        })
        .await
    }
}
