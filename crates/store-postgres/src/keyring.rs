//! The root keyring (`signet_store::KeyringStore`). Migration 0020's foreign key keeps every
//! project's generation live under concurrency; the checks here give the refusals their names.

use async_trait::async_trait;
use signet_proto::ProjectId;
use signet_store::{
    Conflict, KeyringStore, ProjectKeyReplacement, ProjectKeyedRow, ProjectKeyedValue,
    ProjectRecord, RootGenerationRecord, RootGenerationUse, StoreError, StoreResult,
};
use sqlx::Row as _;
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::error::db;
use crate::project::project;
use crate::row::{col, small};

fn generation(row: &PgRow) -> StoreResult<RootGenerationRecord> {
    Ok(RootGenerationRecord {
        generation: small(row, 0)?,
        sealed: col(row, 1)?,
        created_ms: col(row, 2)?,
    })
}

/// Every value sealed under a project's key, one `SELECT` per kind; `$1` is the project id.
/// Each row: kind, row id, number (version or `sealed_for`, else 0), wrapped data key,
/// generation. A macro, so the rotation's check can splice it into a static statement.
macro_rules! project_key_values {
    () => {
        "
    SELECT 'version' AS kind, v.secret_id AS id, v.version AS number, v.wrapped_dek,
           v.key_generation
      FROM secret_versions v JOIN secrets s ON s.id = v.secret_id
     WHERE s.project_id = $1 AND v.wrapped_dek IS NOT NULL
    UNION ALL
    SELECT 'pending', m.secret_id, m.pending_sealed_for, m.pending_wrapped_dek,
           m.pending_key_generation
      FROM managed_secrets m JOIN secrets s ON s.id = m.secret_id
     WHERE s.project_id = $1 AND m.pending_wrapped_dek IS NOT NULL
    UNION ALL
    SELECT 'connection', id, 0, password_wrapped_dek, key_generation
      FROM db_connections WHERE project_id = $1
    UNION ALL
    SELECT 'lease', id, 0, password_wrapped_dek, key_generation
      FROM leases WHERE project_id = $1"
    };
}

fn keyed_value(row: &PgRow) -> StoreResult<ProjectKeyedValue> {
    let kind: String = col(row, 0)?;
    Ok(ProjectKeyedValue {
        row: ProjectKeyedRow::from_parts(&kind, col(row, 1)?, small(row, 2)?),
        wrapped_dek: col(row, 3)?,
        key_generation: small(row, 4)?,
    })
}

/// Re-wraps one value's data key to `wrapped_dek`, if it is still under generation `from` and
/// its data key is still `listed_dek`.
async fn rewrap_value(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    row: &ProjectKeyedRow,
    listed_dek: &[u8],
    wrapped_dek: &[u8],
    from: u32,
    to: u32,
) -> StoreResult<()> {
    let (sql, id, number) = match row {
        ProjectKeyedRow::Version { secret, version } => (
            "UPDATE secret_versions SET wrapped_dek = $1, key_generation = $2
             WHERE secret_id = $3 AND version = $4 AND key_generation = $5
               AND wrapped_dek = $6",
            secret,
            *version,
        ),
        ProjectKeyedRow::Pending { secret, sealed_for } => (
            "UPDATE managed_secrets SET pending_wrapped_dek = $1, pending_key_generation = $2
             WHERE secret_id = $3 AND pending_sealed_for = $4 AND pending_key_generation = $5
               AND pending_wrapped_dek = $6",
            secret,
            *sealed_for,
        ),
        ProjectKeyedRow::Connection { id } => (
            "UPDATE db_connections SET password_wrapped_dek = $1, key_generation = $2
             WHERE id = $3 AND $4 = 0 AND key_generation = $5
               AND password_wrapped_dek = $6",
            id,
            0,
        ),
        ProjectKeyedRow::Lease { id } => (
            "UPDATE leases SET password_wrapped_dek = $1, key_generation = $2
             WHERE id = $3 AND $4 = 0 AND key_generation = $5
               AND password_wrapped_dek = $6",
            id,
            0,
        ),
    };
    // A row that changed or left since the listing matches nothing here; the late pass re-wraps
    // what it holds now.
    sqlx::query(sql)
        .bind(wrapped_dek)
        .bind(i64::from(to))
        .bind(id.as_str())
        .bind(i64::from(number))
        .bind(i64::from(from))
        .bind(listed_dek)
        .execute(&mut **tx)
        .await
        .map_err(db)
        .map(drop)
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
            "SELECT id, name, wrapped_key, created_ms, frozen_ms, root_generation, key_generation
             FROM projects WHERE root_generation < $1 ORDER BY created_ms, id LIMIT $2",
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

    async fn project_key_values(&self, project: &ProjectId) -> StoreResult<Vec<ProjectKeyedValue>> {
        sqlx::query(project_key_values!())
            .bind(project.as_str())
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .iter()
            .map(keyed_value)
            .collect()
    }

    async fn replace_project_key(&self, r: &ProjectKeyReplacement) -> StoreResult<u64> {
        let to = r
            .from_generation
            .checked_add(1)
            .ok_or(StoreError::Corrupt)?;
        let mut tx = self.begin().await?;
        hold_current(&mut tx, r.root_generation).await?;
        // The row lock orders this rotation with every writer's trigger (which holds the row
        // FOR SHARE) and with another rotation: whichever comes second sees the first.
        let now = sqlx::query(
            "SELECT key_generation FROM projects WHERE id = $1 AND deleted_ms IS NULL FOR UPDATE",
        )
        .bind(r.project.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(now) = now else {
            return Err(StoreError::NotFound);
        };
        if small(&now, 0)? != r.from_generation {
            return Err(StoreError::Conflict(Conflict::ProjectKeyRotated));
        }
        sqlx::query(
            "UPDATE projects SET wrapped_key = $2, root_generation = $3, key_generation = $4
             WHERE id = $1",
        )
        .bind(r.project.as_str())
        .bind(r.wrapped_key.as_slice())
        .bind(i64::from(r.root_generation))
        .bind(i64::from(to))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        for v in &r.values {
            let l = &v.listed;
            rewrap_value(
                &mut tx,
                &l.row,
                &l.wrapped_dek,
                &v.wrapped_dek,
                r.from_generation,
                to,
            )
            .await?;
        }
        // What was written (or changed) after the listing: every writer's trigger waits on the
        // project's row, locked above, so what committed before the lock is all there is, and
        // this statement (read committed) sees it.
        let late = sqlx::query(concat!(
            "SELECT * FROM (",
            project_key_values!(),
            ") AS keyed WHERE key_generation = $2"
        ))
        .bind(r.project.as_str())
        .bind(i64::from(r.from_generation))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .iter()
        .map(keyed_value)
        .collect::<StoreResult<Vec<_>>>()?;
        let rewrapped = u64::try_from(late.len()).unwrap_or(u64::MAX);
        for v in late {
            let wrapped_dek = r.late.rewrap(&v).ok_or(StoreError::Corrupt)?;
            rewrap_value(
                &mut tx,
                &v.row,
                &v.wrapped_dek,
                &wrapped_dek,
                r.from_generation,
                to,
            )
            .await?;
        }
        let left: i64 = sqlx::query(concat!(
            "SELECT count(*) FROM (",
            project_key_values!(),
            ") AS keyed WHERE key_generation <> $2"
        ))
        .bind(r.project.as_str())
        .bind(i64::from(to))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?
        .try_get(0)
        .map_err(db)?;
        if left > 0 {
            // Dropping `tx` rolls the whole rotation back.
            return Err(StoreError::Conflict(Conflict::ProjectKeyStale));
        }
        self.commit(tx).await.map(|()| rewrapped)
    }
}
