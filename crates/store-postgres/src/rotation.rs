//! Rotation settings and the scheduler's claims.

use async_trait::async_trait;
use signet_proto::SecretId;
use signet_store::{
    Conflict, NewVersion, RotationClaim, RotationRecord, RotationStore, StoreError, StoreResult,
};
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::error::{corrupt, db};
use crate::row::{col, id, opt_list, to_list};
use crate::secret::append;

/// The columns [`rotation`] reads, in order.
macro_rules! rotation_columns {
    () => {
        "r.secret_id, r.charset, r.length, r.fields, r.interval_ms, r.paused, r.next_due_ms, r.last_rotated_ms, r.updated_ms"
    };
}

fn rotation(row: &PgRow) -> StoreResult<RotationRecord> {
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
impl RotationStore for PgStore {
    async fn set_rotation(&self, r: &RotationRecord) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "INSERT INTO secret_rotations (secret_id, charset, length, fields, interval_ms, paused,
                                               next_due_ms, last_rotated_ms, updated_ms)
                 SELECT id, $2, $3, $4, $5, $6, $7, $8, $9 FROM secrets WHERE id = $1 AND deleted_ms IS NULL
                 ON CONFLICT (secret_id) DO UPDATE SET
                     charset = excluded.charset, length = excluded.length, fields = excluded.fields,
                     interval_ms = excluded.interval_ms, paused = excluded.paused,
                     next_due_ms = excluded.next_due_ms, updated_ms = excluded.updated_ms",
            )
            .bind(r.secret_id.to_string())
            .bind(&r.charset)
            .bind(i64::from(r.length))
            .bind(r.fields.as_deref().map(to_list))
            .bind(r.interval_ms)
            .bind(r.paused)
            .bind(r.next_due_ms)
            .bind(r.last_rotated_ms)
            .bind(r.updated_ms),
        )
        .await
    }

    async fn clear_rotation(&self, id: &SecretId) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("DELETE FROM secret_rotations WHERE secret_id = $1").bind(id.to_string()),
        )
        .await
    }

    async fn rotation(&self, id: &SecretId) -> StoreResult<Option<RotationRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            rotation_columns!(),
            " FROM secret_rotations r WHERE r.secret_id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .map(|r| rotation(&r))
        .transpose()
    }

    async fn set_rotation_paused(
        &self,
        id: &SecretId,
        paused: bool,
        next_due_ms: Option<i64>,
        now_ms: i64,
    ) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE secret_rotations SET paused = $2, next_due_ms = $3, updated_ms = $4 WHERE secret_id = $1",
            )
            .bind(id.to_string())
            .bind(paused)
            .bind(next_due_ms)
            .bind(now_ms),
        )
        .await
    }

    async fn due_rotations(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<RotationRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            rotation_columns!(),
            " FROM secret_rotations r JOIN secrets s ON s.id = r.secret_id
              WHERE NOT r.paused AND r.next_due_ms <= $1 AND s.deleted_ms IS NULL
              ORDER BY r.next_due_ms, r.secret_id LIMIT $2"
        ))
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(rotation)
        .collect()
    }

    async fn append_rotation(
        &self,
        id: &SecretId,
        expected_current: u32,
        v: &NewVersion,
        claim: Option<RotationClaim>,
    ) -> StoreResult<u32> {
        let id = id.to_string();
        let mut tx = self.begin().await?;
        match claim {
            // The claim is the conditional move of the due moment: a second replica that read
            // the same moment waits on the row lock, then matches nothing.
            Some(c) => {
                let claimed = sqlx::query(
                    "UPDATE secret_rotations SET next_due_ms = $3, last_rotated_ms = $4
                     WHERE secret_id = $1 AND next_due_ms = $2 AND NOT paused",
                )
                .bind(&id)
                .bind(c.due_ms)
                .bind(c.next_due_ms)
                .bind(v.created_ms)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                if claimed.rows_affected() == 0 {
                    return Err(StoreError::Conflict(Conflict::RotationClaimed));
                }
            }
            None => {
                sqlx::query(
                    "UPDATE secret_rotations SET last_rotated_ms = $2,
                         next_due_ms = CASE WHEN interval_ms IS NULL OR paused THEN next_due_ms
                                            ELSE $2 + interval_ms END
                     WHERE secret_id = $1",
                )
                .bind(&id)
                .bind(v.created_ms)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
        }
        let next = append(&mut tx, &id, expected_current, v).await?;
        self.commit(tx).await?;
        Ok(next)
    }
}
