//! Rotation settings and the scheduler's claims.

use async_trait::async_trait;
use rusqlite::{Row, params};
use signet_proto::SecretId;
use signet_store::{
    Conflict, NewVersion, RotationClaim, RotationRecord, RotationStore, StoreError, StoreResult,
};

use crate::SqliteStore;
use crate::error::corrupt;
use crate::row::{col, id, opt_list, to_list};
use crate::secret::append;
use crate::statement::{all, exec, exec_found, one};

/// The columns [`rotation`] reads, in order.
macro_rules! rotation_columns {
    () => {
        "r.secret_id, r.charset, r.length, r.fields, r.interval_ms, r.paused, r.next_due_ms, r.last_rotated_ms, r.updated_ms"
    };
}

fn rotation(row: &Row<'_>) -> StoreResult<RotationRecord> {
    let length: i64 = col(row, 2)?;
    Ok(RotationRecord {
        secret_id: id(row, 0)?,
        charset: col(row, 1)?,
        length: u32::try_from(length).map_err(|_| corrupt("rotation length"))?,
        fields: opt_list(row, 3)?,
        interval_ms: col(row, 4)?,
        paused: col(row, 5)?,
        next_due_ms: col(row, 6)?,
        last_rotated_ms: col(row, 7)?,
        updated_ms: col(row, 8)?,
    })
}

#[async_trait]
impl RotationStore for SqliteStore {
    async fn set_rotation(&self, r: &RotationRecord) -> StoreResult<()> {
        let r = r.clone();
        self.write(move |tx| {
            exec_found(
                tx,
                "INSERT INTO secret_rotations (secret_id, charset, length, fields, interval_ms, paused,
                                               next_due_ms, last_rotated_ms, updated_ms)
                 SELECT id, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM secrets WHERE id = ?1 AND deleted_ms IS NULL
                 ON CONFLICT (secret_id) DO UPDATE SET
                     charset = excluded.charset, length = excluded.length, fields = excluded.fields,
                     interval_ms = excluded.interval_ms, paused = excluded.paused,
                     next_due_ms = excluded.next_due_ms, updated_ms = excluded.updated_ms",
                params![
                    r.secret_id.as_str(),
                    r.charset,
                    r.length,
                    r.fields.as_deref().map(to_list),
                    r.interval_ms,
                    r.paused,
                    r.next_due_ms,
                    r.last_rotated_ms,
                    r.updated_ms,
                ],
            )
        })
        .await
    }

    async fn clear_rotation(&self, id: &SecretId) -> StoreResult<()> {
        let id = id.clone();
        self.write(move |tx| {
            exec_found(
                tx,
                "DELETE FROM secret_rotations WHERE secret_id = ?1",
                [id.as_str()],
            )
        })
        .await
    }

    async fn rotation(&self, id: &SecretId) -> StoreResult<Option<RotationRecord>> {
        self.read(|c| {
            one(
                c,
                concat!(
                    "SELECT ",
                    rotation_columns!(),
                    " FROM secret_rotations r WHERE r.secret_id = ?1"
                ),
                [id.as_str()],
                rotation,
            )
        })
    }

    async fn set_rotation_paused(
        &self,
        id: &SecretId,
        paused: bool,
        next_due_ms: Option<i64>,
        now_ms: i64,
    ) -> StoreResult<()> {
        let id = id.clone();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE secret_rotations SET paused = ?2, next_due_ms = ?3, updated_ms = ?4 WHERE secret_id = ?1",
                params![id.as_str(), paused, next_due_ms, now_ms],
            )
        })
        .await
    }

    async fn due_rotations(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<RotationRecord>> {
        self.read(|c| {
            all(
                c,
                concat!(
                    "SELECT ",
                    rotation_columns!(),
                    " FROM secret_rotations r JOIN secrets s ON s.id = r.secret_id
                      WHERE r.paused = 0 AND r.next_due_ms <= ?1 AND s.deleted_ms IS NULL
                      ORDER BY r.next_due_ms, r.secret_id LIMIT ?2"
                ),
                params![now_ms, limit],
                rotation,
            )
        })
    }

    async fn append_rotation(
        &self,
        id: &SecretId,
        expected_current: u32,
        v: &NewVersion,
        claim: Option<RotationClaim>,
    ) -> StoreResult<u32> {
        let (id, v) = (id.clone(), v.clone());
        self.write(move |tx| {
            match claim {
                // The claim is the conditional move of the due moment: a second replica that
                // read the same moment matches no row, inside the one writer transaction.
                Some(c) => {
                    let claimed = exec(
                        tx,
                        "UPDATE secret_rotations SET next_due_ms = ?3, last_rotated_ms = ?4
                         WHERE secret_id = ?1 AND next_due_ms = ?2 AND paused = 0",
                        params![id.as_str(), c.due_ms, c.next_due_ms, v.created_ms],
                    )?;
                    if claimed == 0 {
                        return Err(StoreError::Conflict(Conflict::RotationClaimed));
                    }
                }
                None => {
                    exec(
                        tx,
                        "UPDATE secret_rotations SET last_rotated_ms = ?2,
                             next_due_ms = CASE WHEN interval_ms IS NULL OR paused = 1 THEN next_due_ms
                                                ELSE ?2 + interval_ms END
                         WHERE secret_id = ?1",
                        params![id.as_str(), v.created_ms],
                    )?;
                }
            }
            append(tx, &id, expected_current, &v)
        })
        .await
    }
}
