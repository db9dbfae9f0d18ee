//! The root keyring (`signet_store::KeyringStore`). The triggers of migration 0025 keep every
//! project's generation live; the checks here give the refusals their names first.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use signet_proto::ProjectId;
use signet_store::{
    Conflict, KeyringStore, ProjectKeyReplacement, ProjectKeyedRow, ProjectKeyedValue,
    ProjectRecord, RootGenerationRecord, RootGenerationUse, StoreError, StoreResult,
};

use crate::SqliteStore;
use crate::error::db;
use crate::project::project;
use crate::row::col;
use crate::statement::{all, exec};

fn generation(row: &Row<'_>) -> StoreResult<RootGenerationRecord> {
    Ok(RootGenerationRecord {
        generation: col(row, 0)?,
        sealed: col(row, 1)?,
        created_ms: col(row, 2)?,
    })
}

/// Every value sealed under a project's key, one `SELECT` per kind; `?1` is the project id.
/// Each row: kind, row id, number (version or `sealed_for`, else 0), wrapped data key,
/// generation.
const PROJECT_KEY_VALUES: &str = "
    SELECT 'version', v.secret_id, v.version, v.wrapped_dek, v.key_generation
      FROM secret_versions v JOIN secrets s ON s.id = v.secret_id
     WHERE s.project_id = ?1 AND v.wrapped_dek IS NOT NULL
    UNION ALL
    SELECT 'pending', m.secret_id, m.pending_sealed_for, m.pending_wrapped_dek, m.pending_key_generation
      FROM managed_secrets m JOIN secrets s ON s.id = m.secret_id
     WHERE s.project_id = ?1 AND m.pending_wrapped_dek IS NOT NULL
    UNION ALL
    SELECT 'connection', id, 0, password_wrapped_dek, key_generation
      FROM db_connections WHERE project_id = ?1
    UNION ALL
    SELECT 'lease', id, 0, password_wrapped_dek, key_generation
      FROM leases WHERE project_id = ?1";

fn keyed_value(row: &Row<'_>) -> StoreResult<ProjectKeyedValue> {
    let kind: String = col(row, 0)?;
    Ok(ProjectKeyedValue {
        row: ProjectKeyedRow::from_parts(&kind, col(row, 1)?, col(row, 2)?),
        wrapped_dek: col(row, 3)?,
        key_generation: col(row, 4)?,
    })
}

/// Re-wraps one value's data key to `wrapped_dek`, if it is still under generation `from` and
/// its data key is still `listed_dek`.
fn rewrap_value(
    tx: &Connection,
    row: &ProjectKeyedRow,
    listed_dek: &[u8],
    wrapped_dek: &[u8],
    from: u32,
    to: u32,
) -> StoreResult<()> {
    let (sql, id, number) = match row {
        ProjectKeyedRow::Version { secret, version } => (
            "UPDATE secret_versions SET wrapped_dek = ?1, key_generation = ?2
             WHERE secret_id = ?3 AND version = ?4 AND key_generation = ?5
               AND wrapped_dek = ?6",
            secret,
            *version,
        ),
        ProjectKeyedRow::Pending { secret, sealed_for } => (
            "UPDATE managed_secrets SET pending_wrapped_dek = ?1, pending_key_generation = ?2
             WHERE secret_id = ?3 AND pending_sealed_for = ?4 AND pending_key_generation = ?5
               AND pending_wrapped_dek = ?6",
            secret,
            *sealed_for,
        ),
        ProjectKeyedRow::Connection { id } => (
            "UPDATE db_connections SET password_wrapped_dek = ?1, key_generation = ?2
             WHERE id = ?3 AND ?4 = 0 AND key_generation = ?5
               AND password_wrapped_dek = ?6",
            id,
            0,
        ),
        ProjectKeyedRow::Lease { id } => (
            "UPDATE leases SET password_wrapped_dek = ?1, key_generation = ?2
             WHERE id = ?3 AND ?4 = 0 AND key_generation = ?5
               AND password_wrapped_dek = ?6",
            id,
            0,
        ),
    };
    // A row that changed or left since the listing matches nothing here; the late pass re-wraps
    // what it holds now.
    exec(
        tx,
        sql,
        params![wrapped_dek, to, id, number, from, listed_dek],
    )
    .map(drop)
}

/// Checks, inside the writer's transaction for a value wrapped under `generation`, that it is
/// the current generation: `NotFound` if it is not live, `Conflict::RootGenerationStale` if a
/// rotation made a newer one (the caller wraps again). One writer at a time, so a rotation
/// cannot land between this check and the write.
pub(crate) fn check_current(tx: &Connection, generation: u32) -> StoreResult<()> {
    let live: Option<u32> = tx
        .query_row(
            "SELECT generation FROM root_keys WHERE generation = ?1",
            [generation],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    if live.is_none() {
        return Err(StoreError::NotFound);
    }
    let current: Option<u32> = tx
        .query_row("SELECT max(generation) FROM root_keys", [], |r| r.get(0))
        .map_err(db)?;
    if current != Some(generation) {
        return Err(StoreError::Conflict(Conflict::RootGenerationStale));
    }
    Ok(())
}

#[async_trait]
impl KeyringStore for SqliteStore {
    async fn root_generations(&self) -> StoreResult<Vec<RootGenerationRecord>> {
        self.read(|c| {
            all(
                c,
                "SELECT generation, sealed, created_ms FROM root_keys ORDER BY generation",
                [],
                generation,
            )
        })
    }

    async fn add_root_generation(&self, record: &RootGenerationRecord) -> StoreResult<()> {
        let record = record.clone();
        self.write(move |tx| {
            let current: Option<u32> = tx
                .query_row("SELECT max(generation) FROM root_keys", [], |r| r.get(0))
                .map_err(db)?;
            if current.map_or(0, |c| c + 1) != record.generation {
                return Err(StoreError::Conflict(Conflict::RootGenerationStale));
            }
            exec(
                tx,
                "INSERT INTO root_keys (generation, sealed, created_ms) VALUES (?1, ?2, ?3)",
                params![record.generation, record.sealed, record.created_ms],
            )
            .map(drop)
        })
        .await
    }

    async fn root_generation_use(&self) -> StoreResult<Vec<RootGenerationUse>> {
        self.read(|c| {
            all(
                c,
                "SELECT k.generation, (SELECT count(*) FROM projects p WHERE p.root_generation = k.generation)
                 FROM root_keys k ORDER BY k.generation",
                [],
                |row| {
                    Ok(RootGenerationUse {
                        generation: col(row, 0)?,
                        project_keys: u64::try_from(col::<i64>(row, 1)?).unwrap_or(0),
                    })
                },
            )
        })
    }

    async fn projects_below_generation(
        &self,
        generation: u32,
        limit: u32,
    ) -> StoreResult<Vec<ProjectRecord>> {
        self.read(|c| {
            all(
                c,
                "SELECT id, name, wrapped_key, created_ms, frozen_ms, root_generation, key_generation
                 FROM projects WHERE root_generation < ?1 ORDER BY created_ms, id LIMIT ?2",
                params![generation, limit],
                project,
            )
        })
    }

    async fn rewrap_project_key(
        &self,
        id: &ProjectId,
        from: u32,
        wrapped: &[u8],
        to: u32,
    ) -> StoreResult<bool> {
        let (id, wrapped) = (id.to_string(), wrapped.to_vec());
        self.write(move |tx| {
            exec(
                tx,
                "UPDATE projects SET wrapped_key = ?3, root_generation = ?4
                 WHERE id = ?1 AND root_generation = ?2",
                params![id, from, wrapped, to],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn retire_root_generation(&self, generation: u32) -> StoreResult<()> {
        self.write(move |tx| {
            let current: Option<u32> = tx
                .query_row("SELECT max(generation) FROM root_keys", [], |r| r.get(0))
                .map_err(db)?;
            let live: Option<u32> = tx
                .query_row(
                    "SELECT generation FROM root_keys WHERE generation = ?1",
                    [generation],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            if live.is_none() {
                return Err(StoreError::NotFound);
            }
            if current == Some(generation) {
                return Err(StoreError::Conflict(Conflict::RootGenerationCurrent));
            }
            // The trigger refuses too; counting first names the refusal without relying on
            // the trigger's message.
            let users: i64 = tx
                .query_row(
                    "SELECT count(*) FROM projects WHERE root_generation = ?1",
                    [generation],
                    |r| r.get(0),
                )
                .map_err(db)?;
            if users > 0 {
                return Err(StoreError::Conflict(Conflict::RootGenerationInUse));
            }
            exec(
                tx,
                "DELETE FROM root_keys WHERE generation = ?1",
                [generation],
            )
            .map(drop)
        })
        .await
    }

    async fn project_key_values(&self, project: &ProjectId) -> StoreResult<Vec<ProjectKeyedValue>> {
        let project = project.to_string();
        self.read(move |c| all(c, PROJECT_KEY_VALUES, [project.as_str()], keyed_value))
    }

    async fn replace_project_key(&self, r: &ProjectKeyReplacement) -> StoreResult<u64> {
        let r = r.clone();
        self.write(move |tx| {
            check_current(tx, r.root_generation)?;
            let to = r
                .from_generation
                .checked_add(1)
                .ok_or(StoreError::Corrupt)?;
            let now: Option<u32> = tx
                .query_row(
                    "SELECT key_generation FROM projects WHERE id = ?1 AND deleted_ms IS NULL",
                    [r.project.as_str()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(db)?;
            match now {
                None => return Err(StoreError::NotFound),
                Some(g) if g != r.from_generation => {
                    return Err(StoreError::Conflict(Conflict::ProjectKeyRotated));
                }
                Some(_) => {}
            }
            exec(
                tx,
                "UPDATE projects SET wrapped_key = ?2, root_generation = ?3, key_generation = ?4
                 WHERE id = ?1",
                params![r.project.as_str(), r.wrapped_key, r.root_generation, to],
            )?;
            for v in &r.values {
                let l = &v.listed;
                rewrap_value(
                    tx,
                    &l.row,
                    &l.wrapped_dek,
                    &v.wrapped_dek,
                    r.from_generation,
                    to,
                )?;
            }
            // What was written (or changed) after the listing: no other writer runs until this
            // transaction ends, so wrapping these here is all that is left.
            let sql = format!("SELECT * FROM ({PROJECT_KEY_VALUES}) WHERE key_generation = ?2");
            let mut late = Vec::new();
            {
                let mut st = tx.prepare(&sql).map_err(db)?;
                let mut rows = st
                    .query(params![r.project.as_str(), r.from_generation])
                    .map_err(db)?;
                while let Some(row) = rows.next().map_err(db)? {
                    late.push(keyed_value(row)?);
                }
            }
            let rewrapped = u64::try_from(late.len()).unwrap_or(u64::MAX);
            for v in late {
                let wrapped_dek = r.late.rewrap(&v).ok_or(StoreError::Corrupt)?;
                rewrap_value(
                    tx,
                    &v.row,
                    &v.wrapped_dek,
                    &wrapped_dek,
                    r.from_generation,
                    to,
                )?;
            }
            let left: i64 = tx
                .query_row(
                    &format!(
                        "SELECT count(*) FROM ({PROJECT_KEY_VALUES}) WHERE key_generation <> ?2"
                    ),
                    params![r.project.as_str(), to],
                    |row| row.get(0),
                )
                .map_err(db)?;
            if left > 0 {
                // Returning the error rolls the whole rotation back.
                return Err(StoreError::Conflict(Conflict::ProjectKeyStale));
            }
            Ok(rewrapped)
        })
        .await
    }
}
