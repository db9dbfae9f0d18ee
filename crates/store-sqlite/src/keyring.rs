//! The root keyring (`signet_store::KeyringStore`). The triggers of migration 0025 keep every
//! project's generation live; the checks here give the refusals their names first.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use signet_proto::ProjectId;
use signet_store::{
    Conflict, KeyringStore, ProjectRecord, RootGenerationRecord, RootGenerationUse, StoreError,
    StoreResult,
};

use crate::SqliteStore;
use crate::error::db;
use crate::row::{col, id};
use crate::statement::{all, exec};

fn generation(row: &Row<'_>) -> StoreResult<RootGenerationRecord> {
    Ok(RootGenerationRecord {
        generation: col(row, 0)?,
        sealed: col(row, 1)?,
        created_ms: col(row, 2)?,
    })
}

fn project(row: &Row<'_>) -> StoreResult<ProjectRecord> {
    Ok(ProjectRecord {
        id: id(row, 0)?,
        name: col(row, 1)?,
        wrapped_key: col(row, 2)?,
        created_ms: col(row, 3)?,
        frozen_ms: col(row, 4)?,
        root_generation: col(row, 5)?,
    })
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
                "SELECT id, name, wrapped_key, created_ms, frozen_ms, root_generation FROM projects
                 WHERE root_generation < ?1 ORDER BY created_ms, id LIMIT ?2",
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
}
