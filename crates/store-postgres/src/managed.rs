//! Managed secrets and their two-phase rotations.

use async_trait::async_trait;
use signet_proto::SecretId;
use signet_store::{
    Conflict, FinishedRotation, Heartbeat, ManagedRecord, ManagedState, ManagedStore, NewVersion,
    PendingRotation, RotationClaim, RotationOutcome, SecretKind, StoreError, StoreResult,
    VersionContent,
};
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::error::{corrupt, db};
use crate::row::{col, id, name, opt_id, opt_list, small, to_list};
use crate::secret::append;

fn state(row: &PgRow) -> StoreResult<ManagedState> {
    let record = ManagedRecord {
        secret_id: id(row, 0)?,
        connection_id: col(row, 1)?,
        username: col(row, 2)?,
        agent_machine_id: opt_id(row, 3)?,
        poll_interval_secs: small(row, 4)?,
        created_ms: col(row, 20)?,
        updated_ms: col(row, 21)?,
    };
    let pending_id: Option<String> = col(row, 5)?;
    let pending = match pending_id {
        None => None,
        Some(rotation_id) => {
            let field_names = opt_list(row, 7)?;
            Some(PendingRotation {
                rotation_id,
                sealed_for: small(row, 6).map_err(|_| corrupt("version"))?,
                trigger: col(row, 10)?,
                version: NewVersion {
                    kind: if field_names.is_some() {
                        SecretKind::Structured
                    } else {
                        SecretKind::Standard
                    },
                    field_names,
                    content: VersionContent::Sealed {
                        wrapped_dek: col(row, 8)?,
                        ciphertext: col(row, 9)?,
                    },
                    created_by: col(row, 11)?,
                    created_ms: col(row, 12)?,
                    changed_fields: None,
                    key_generation: small(row, 22)?,
                },
            })
        }
    };
    let last_id: Option<String> = col(row, 13)?;
    let last = match last_id {
        None => None,
        Some(rotation_id) => Some(FinishedRotation {
            rotation_id,
            outcome: name(row, 14, RotationOutcome::parse)?,
            error: col(row, 15)?,
            at_ms: col(row, 16)?,
        }),
    };
    let hb_status: Option<String> = col(row, 17)?;
    let heartbeat = match hb_status {
        None => None,
        Some(status) => Some(Heartbeat {
            status,
            error: col(row, 18)?,
            at_ms: col(row, 19)?,
        }),
    };
    Ok(ManagedState {
        record,
        pending,
        last,
        heartbeat,
    })
}

#[async_trait]
impl ManagedStore for PgStore {
    async fn set_managed(&self, r: &ManagedRecord) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "INSERT INTO managed_secrets (secret_id, connection_id, username, agent_machine_id,
                                              poll_interval_secs, created_ms, updated_ms)
                 SELECT id, $2, $3, $4, $5, $6, $7 FROM secrets WHERE id = $1 AND deleted_ms IS NULL
                 ON CONFLICT (secret_id) DO UPDATE SET
                     connection_id = excluded.connection_id, username = excluded.username,
                     agent_machine_id = excluded.agent_machine_id,
                     poll_interval_secs = excluded.poll_interval_secs,
                     updated_ms = excluded.updated_ms",
            )
            .bind(r.secret_id.to_string())
            .bind(&r.connection_id)
            .bind(&r.username)
            .bind(r.agent_machine_id.map(|m| m.to_string()))
            .bind(i64::from(r.poll_interval_secs))
            .bind(r.created_ms)
            .bind(r.updated_ms),
        )
        .await
    }

    async fn managed(&self, id: &SecretId) -> StoreResult<Option<ManagedState>> {
        sqlx::query(
            "SELECT secret_id, connection_id, username, agent_machine_id, poll_interval_secs,
                    pending_id, pending_sealed_for, pending_field_names, pending_wrapped_dek,
                    pending_ciphertext, pending_trigger, pending_by, pending_ms,
                    last_id, last_outcome, last_error, last_ms,
                    heartbeat_status, heartbeat_error, heartbeat_ms, created_ms, updated_ms,
                    pending_key_generation
             FROM managed_secrets WHERE secret_id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .map(|r| state(&r))
        .transpose()
    }

    async fn begin_managed_rotation(
        &self,
        id: &SecretId,
        p: &PendingRotation,
        claim: Option<RotationClaim>,
    ) -> StoreResult<()> {
        let VersionContent::Sealed {
            wrapped_dek,
            ciphertext,
        } = &p.version.content
        else {
            // A pending value is always a fresh encryption.
            return Err(StoreError::Corrupt);
        };
        let id = id.to_string();
        let mut tx = self.begin().await?;
        // The row lock orders concurrent beginnings: the second sees the first's pending id.
        let pending: Option<bool> = sqlx::query_scalar(
            "SELECT m.pending_id IS NOT NULL FROM managed_secrets m JOIN secrets s ON s.id = m.secret_id
             WHERE m.secret_id = $1 AND s.deleted_ms IS NULL FOR UPDATE OF m",
        )
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        match pending {
            None => return Err(StoreError::NotFound),
            Some(true) => return Err(StoreError::Conflict(Conflict::RotationPending)),
            Some(false) => {}
        }
        if let Some(c) = claim {
            // The same conditional move of the due moment as a plain scheduled rotation: a
            // second replica that read the same moment waits on the row lock, then matches
            // nothing.
            let claimed = sqlx::query(
                "UPDATE secret_rotations SET next_due_ms = $3
                 WHERE secret_id = $1 AND next_due_ms = $2 AND NOT paused",
            )
            .bind(&id)
            .bind(c.due_ms)
            .bind(c.next_due_ms)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            if claimed.rows_affected() == 0 {
                return Err(StoreError::Conflict(Conflict::RotationClaimed));
            }
        }
        let set = sqlx::query(
            "UPDATE managed_secrets SET pending_id = $2, pending_sealed_for = $3,
                 pending_field_names = $4, pending_wrapped_dek = $5, pending_ciphertext = $6,
                 pending_trigger = $7, pending_by = $8, pending_ms = $9,
                 pending_key_generation = $10
             WHERE secret_id = $1 AND pending_id IS NULL",
        )
        .bind(&id)
        .bind(&p.rotation_id)
        .bind(i64::from(p.sealed_for))
        .bind(p.version.field_names.as_deref().map(to_list))
        .bind(wrapped_dek)
        .bind(ciphertext)
        .bind(&p.trigger)
        .bind(&p.version.created_by)
        .bind(p.version.created_ms)
        .bind(i64::from(p.version.key_generation))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if set.rows_affected() == 0 {
            return Err(StoreError::Conflict(Conflict::RotationPending));
        }
        self.commit(tx).await
    }

    async fn confirm_managed_rotation(
        &self,
        id: &SecretId,
        rotation_id: &str,
        expected_current: u32,
        v: &NewVersion,
    ) -> StoreResult<u32> {
        let id = id.to_string();
        let mut tx = self.begin().await?;
        // Clearing the pending rotation is the claim: of two confirmations (or a confirm and a
        // reject) racing on one rotation id, the second waits on the row lock, then matches
        // nothing.
        let cleared = sqlx::query(
            "UPDATE managed_secrets SET pending_id = NULL, pending_sealed_for = NULL,
                 pending_field_names = NULL, pending_wrapped_dek = NULL,
                 pending_ciphertext = NULL, pending_trigger = NULL, pending_by = NULL,
                 pending_ms = NULL, last_id = $2, last_outcome = 'confirmed',
                 last_error = NULL, last_ms = $3
             WHERE secret_id = $1 AND pending_id = $2",
        )
        .bind(&id)
        .bind(rotation_id)
        .bind(v.created_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if cleared.rows_affected() == 0 {
            return Err(StoreError::Conflict(Conflict::RotationStale));
        }
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
        let next = append(&mut tx, &id, expected_current, v).await?;
        self.commit(tx).await?;
        Ok(next)
    }

    async fn reject_managed_rotation(
        &self,
        id: &SecretId,
        rotation_id: &str,
        error: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        let changed = self
            .execute_changed(
                sqlx::query(
                    "UPDATE managed_secrets SET pending_id = NULL, pending_sealed_for = NULL,
                         pending_field_names = NULL, pending_wrapped_dek = NULL,
                         pending_ciphertext = NULL, pending_trigger = NULL, pending_by = NULL,
                         pending_ms = NULL, last_id = $2, last_outcome = 'rejected',
                         last_error = $3, last_ms = $4
                     WHERE secret_id = $1 AND pending_id = $2",
                )
                .bind(id.to_string())
                .bind(rotation_id)
                .bind(error)
                .bind(now_ms),
            )
            .await?;
        if changed {
            Ok(())
        } else {
            Err(StoreError::Conflict(Conflict::RotationStale))
        }
    }

    async fn record_heartbeat(&self, id: &SecretId, hb: &Heartbeat) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE managed_secrets SET heartbeat_status = $2, heartbeat_error = $3,
                     heartbeat_ms = $4
                 WHERE secret_id = $1",
            )
            .bind(id.to_string())
            .bind(&hb.status)
            .bind(&hb.error)
            .bind(hb.at_ms),
        )
        .await
    }
}
