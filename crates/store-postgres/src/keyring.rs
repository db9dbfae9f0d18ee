//! The root keyring (`signet_store::KeyringStore`). Migration 0020's foreign key keeps every
//! project's generation live under concurrency; the checks here give the refusals their names.

use async_trait::async_trait;
use signet_proto::ProjectId;
use signet_store::{
    Conflict, KeyringStore, ProjectRecord, RootGenerationRecord, RootGenerationUse, StoreError,
    StoreResult,
};
use sqlx::Row as _;
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::error::db;
use crate::row::{col, id, small};

fn generation(row: &PgRow) -> StoreResult<RootGenerationRecord> {
    Ok(RootGenerationRecord {
        generation: small(row, 0)?,
        sealed: col(row, 1)?,
        created_ms: col(row, 2)?,
    })
}

fn project(row: &PgRow) -> StoreResult<ProjectRecord> {
    Ok(ProjectRecord {
        id: id(row, 0)?,
        name: col(row, 1)?,
        wrapped_key: col(row, 2)?,
        created_ms: col(row, 3)?,
        frozen_ms: col(row, 4)?,
        root_generation: small(row, 5)?,
    })
}

/// The current generation, locked against a rotation (`FOR UPDATE` below) until `tx` ends.
async fn current_locked(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    lock: &str,
) -> StoreResult<Option<i64>> {
    let current: Option<i64> = sqlx::query("SELECT max(generation) FROM root_keys")
        .fetch_one(&mut **tx)
        .await
        .map_err(db)?
        .try_get(0)
        .map_err(db)?;
    let Some(current) = current else {
        return Ok(None);
    };
    let sql = if lock == "share" {
        "SELECT generation FROM root_keys WHERE generation = $1 FOR SHARE"
    } else {
        "SELECT generation FROM root_keys WHERE generation = $1 FOR UPDATE"
    };
    let held = sqlx::query(sql)
        .bind(current)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    Ok(held.map(|_| current))
}

/// Checks, inside a transaction that writes a value wrapped under `generation`, that it is
/// the current generation, and holds it so until the transaction ends: a rotation
/// (`add_root_generation`) waits for the write to commit, so its re-wrapping finds the value;
/// a write that comes after the rotation fails with `Conflict::RootGenerationStale` (and the
/// caller wraps again under the new generation). `NotFound` if the generation is not live.
pub(crate) async fn hold_current(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    generation: u32,
) -> StoreResult<()> {
    let live = sqlx::query("SELECT generation FROM root_keys WHERE generation = $1 FOR SHARE")
        .bind(i64::from(generation))
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    if live.is_none() {
        return Err(StoreError::NotFound);
    }
    // Read after the lock: a rotation that committed while this waited is seen.
    let current: Option<i64> = sqlx::query("SELECT max(generation) FROM root_keys")
        .fetch_one(&mut **tx)
        .await
        .map_err(db)?
        .try_get(0)
        .map_err(db)?;
    if current != Some(i64::from(generation)) {
        return Err(StoreError::Conflict(Conflict::RootGenerationStale));
    }
    Ok(())
}

#[async_trait]
impl KeyringStore for PgStore {
    async fn root_generations(&self) -> StoreResult<Vec<RootGenerationRecord>> {
        sqlx::query("SELECT generation, sealed, created_ms FROM root_keys ORDER BY generation")
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .iter()
            .map(generation)
            .collect()
    }

    async fn add_root_generation(&self, record: &RootGenerationRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // Waits for every write still wrapping under the current generation (`hold_current`),
        // so the re-wrapping that follows finds them all.
        let current = current_locked(&mut tx, "update").await?;
        if current.map_or(0, |c| c + 1) != i64::from(record.generation) {
            return Err(StoreError::Conflict(Conflict::RootGenerationStale));
        }
        // Two rotations that both read the same current generation collide on the primary
        // key, which `error.rs` names `RootGenerationStale`.
        sqlx::query("INSERT INTO root_keys (generation, sealed, created_ms) VALUES ($1, $2, $3)")
            .bind(i64::from(record.generation))
            .bind(&record.sealed)
            .bind(record.created_ms)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        self.commit(tx).await
    }

    async fn root_generation_use(&self) -> StoreResult<Vec<RootGenerationUse>> {
        sqlx::query(
            "SELECT k.generation, (SELECT count(*) FROM projects p WHERE p.root_generation = k.generation)
             FROM root_keys k ORDER BY k.generation",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(|row| {
            Ok(RootGenerationUse {
                generation: small(row, 0)?,
                project_keys: u64::try_from(col::<i64>(row, 1)?).unwrap_or(0),
            })
        })
        .collect()
    }

    async fn projects_below_generation(
        &self,
        generation: u32,
        limit: u32,
    ) -> StoreResult<Vec<ProjectRecord>> {
        sqlx::query(
            "SELECT id, name, wrapped_key, created_ms, frozen_ms, root_generation FROM projects
             WHERE root_generation < $1 ORDER BY created_ms, id LIMIT $2",
        )
        .bind(i64::from(generation))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(project)
        .collect()
    }

    async fn rewrap_project_key(
        &self,
        id: &ProjectId,
        from: u32,
        wrapped: &[u8],
        to: u32,
    ) -> StoreResult<bool> {
        self.execute_changed(
            sqlx::query(
                "UPDATE projects SET wrapped_key = $3, root_generation = $4
                 WHERE id = $1 AND root_generation = $2",
            )
            .bind(id.to_string())
            .bind(i64::from(from))
            .bind(wrapped)
            .bind(i64::from(to)),
        )
        .await
    }

    async fn retire_root_generation(&self, generation: u32) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // The row lock waits for every transaction still inserting or re-wrapping a project
        // under this generation (their foreign key checks hold a share lock on it), and makes
        // any that start later wait for this one, then fail: the count below sees them all.
        let live = sqlx::query("SELECT generation FROM root_keys WHERE generation = $1 FOR UPDATE")
            .bind(i64::from(generation))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if live.is_none() {
            return Err(StoreError::NotFound);
        }
        let current: Option<i64> = sqlx::query("SELECT max(generation) FROM root_keys")
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?
            .try_get(0)
            .map_err(db)?;
        if current == Some(i64::from(generation)) {
            return Err(StoreError::Conflict(Conflict::RootGenerationCurrent));
        }
        let users: i64 = sqlx::query("SELECT count(*) FROM projects WHERE root_generation = $1")
            .bind(i64::from(generation))
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?
            .try_get(0)
            .map_err(db)?;
        if users > 0 {
            return Err(StoreError::Conflict(Conflict::RootGenerationInUse));
        }
        sqlx::query("DELETE FROM root_keys WHERE generation = $1")
            .bind(i64::from(generation))
            .execute(&mut *tx)
            .await
            .map_err(|e| match db(e) {
                // The foreign key: a project still names it.
                StoreError::NotFound => StoreError::Conflict(Conflict::RootGenerationInUse),
                other => other,
            })?;
        self.commit(tx).await
    }
}
