//! Managed secrets and their two-phase rotations.

use async_trait::async_trait;
use rusqlite::{Row, params};
use signet_proto::SecretId;
use signet_store::{
    Conflict, FinishedRotation, Heartbeat, ManagedRecord, ManagedState, ManagedStore, NewVersion,
    PendingRotation, RotationClaim, RotationOutcome, SecretKind, StoreError, StoreResult,
    VersionContent,
};

use crate::SqliteStore;
use crate::error::corrupt;
use crate::row::{col, id, name, opt_id, opt_list, to_list};
use crate::secret::append;
use crate::statement::{exec, exec_found, one};

fn state(row: &Row<'_>) -> StoreResult<ManagedState> {
    let poll: i64 = col(row, 4)?;
    let record = ManagedRecord {
        secret_id: id(row, 0)?,
        connection_id: col(row, 1)?,
        username: col(row, 2)?,
        agent_machine_id: opt_id(row, 3)?,
        poll_interval_secs: u32::try_from(poll).map_err(|_| corrupt("poll interval"))?,
        created_ms: col(row, 20)?,
        updated_ms: col(row, 21)?,
    };
    let pending_id: Option<String> = col(row, 5)?;
    let pending = match pending_id {
        None => None,
        Some(rotation_id) => {
            let sealed_for: i64 = col(row, 6)?;
            let field_names = opt_list(row, 7)?;
            Some(PendingRotation {
                rotation_id,
                sealed_for: u32::try_from(sealed_for).map_err(|_| corrupt("version"))?,
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
                    key_generation: col(row, 22)?,
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
impl ManagedStore for SqliteStore {
    async fn set_managed(&self, r: &ManagedRecord) -> StoreResult<()> {
        let r = r.clone();
        self.write(move |tx| {
            exec_found(
                tx,
                "INSERT INTO managed_secrets (secret_id, connection_id, username, agent_machine_id,
                                              poll_interval_secs, created_ms, updated_ms)
                 SELECT id, ?2, ?3, ?4, ?5, ?6, ?7 FROM secrets WHERE id = ?1 AND deleted_ms IS NULL
                 ON CONFLICT (secret_id) DO UPDATE SET
                     connection_id = excluded.connection_id, username = excluded.username,
                     agent_machine_id = excluded.agent_machine_id,
                     poll_interval_secs = excluded.poll_interval_secs,
                     updated_ms = excluded.updated_ms",
                params![
                    r.secret_id.as_str(),
                    r.connection_id,
                    r.username,
                    r.agent_machine_id.map(|m| m.to_string()),
                    r.poll_interval_secs,
                    r.created_ms,
                    r.updated_ms,
                ],
            )
        })
        .await
    }

    async fn managed(&self, id: &SecretId) -> StoreResult<Option<ManagedState>> {
        self.read(|c| {
            one(
                c,
                "SELECT secret_id, connection_id, username, agent_machine_id, poll_interval_secs,
                        pending_id, pending_sealed_for, pending_field_names, pending_wrapped_dek,
                        pending_ciphertext, pending_trigger, pending_by, pending_ms,
                        last_id, last_outcome, last_error, last_ms,
                        heartbeat_status, heartbeat_error, heartbeat_ms, created_ms, updated_ms,
                        pending_key_generation
                 FROM managed_secrets WHERE secret_id = ?1",
                [id.as_str()],
                state,
            )
        })
    }

    async fn begin_managed_rotation(
        &self,
        id: &SecretId,
        p: &PendingRotation,
        claim: Option<RotationClaim>,
    ) -> StoreResult<()> {
        let (id, p) = (id.clone(), p.clone());
        self.write(move |tx| {
            let VersionContent::Sealed {
                wrapped_dek,
                ciphertext,
            } = &p.version.content
            else {
                // A pending value is always a fresh encryption.
                return Err(StoreError::Corrupt);
            };
            let row = one(
                tx,
                "SELECT m.pending_id IS NOT NULL FROM managed_secrets m JOIN secrets s ON s.id = m.secret_id
                 WHERE m.secret_id = ?1 AND s.deleted_ms IS NULL",
                [id.as_str()],
                |r| col::<bool>(r, 0),
            )?;
            match row {
                None => return Err(StoreError::NotFound),
                Some(true) => return Err(StoreError::Conflict(Conflict::RotationPending)),
                Some(false) => {}
            }
            if let Some(c) = claim {
                // The same conditional move of the due moment as a plain scheduled rotation:
                // a second replica that read the same moment matches no row.
                let claimed = exec(
                    tx,
                    "UPDATE secret_rotations SET next_due_ms = ?3
                     WHERE secret_id = ?1 AND next_due_ms = ?2 AND paused = 0",
                    params![id.as_str(), c.due_ms, c.next_due_ms],
                )?;
                if claimed == 0 {
                    return Err(StoreError::Conflict(Conflict::RotationClaimed));
                }
            }
            exec_found(
                tx,
                "UPDATE managed_secrets SET pending_id = ?2, pending_sealed_for = ?3,
                     pending_field_names = ?4, pending_wrapped_dek = ?5, pending_ciphertext = ?6,
                     pending_trigger = ?7, pending_by = ?8, pending_ms = ?9,
                     pending_key_generation = ?10
                 WHERE secret_id = ?1 AND pending_id IS NULL",
                params![
                    id.as_str(),
                    p.rotation_id,
                    p.sealed_for,
                    p.version.field_names.as_deref().map(to_list),
                    wrapped_dek,
                    ciphertext,
                    p.trigger,
                    p.version.created_by,
                    p.version.created_ms,
                    p.version.key_generation,
                ],
            )
        })
        .await
    }

    async fn confirm_managed_rotation(
        &self,
        id: &SecretId,
        rotation_id: &str,
        expected_current: u32,
        v: &NewVersion,
    ) -> StoreResult<u32> {
        let (id, rotation_id, v) = (id.clone(), rotation_id.to_owned(), v.clone());
        self.write(move |tx| {
            // Clearing the pending rotation is the claim: of two confirmations (or a confirm
            // and a reject) racing on one rotation id, exactly one matches it.
            let cleared = exec(
                tx,
                "UPDATE managed_secrets SET pending_id = NULL, pending_sealed_for = NULL,
                     pending_field_names = NULL, pending_wrapped_dek = NULL,
                     pending_ciphertext = NULL, pending_trigger = NULL, pending_by = NULL,
                     pending_ms = NULL, last_id = ?2, last_outcome = 'confirmed',
                     last_error = NULL, last_ms = ?3
                 WHERE secret_id = ?1 AND pending_id = ?2",
                params![id.as_str(), rotation_id, v.created_ms],
            )?;
            if cleared == 0 {
                return Err(StoreError::Conflict(Conflict::RotationStale));
            }
            exec(
                tx,
                "UPDATE secret_rotations SET last_rotated_ms = ?2,
                     next_due_ms = CASE WHEN interval_ms IS NULL OR paused = 1 THEN next_due_ms
                                        ELSE ?2 + interval_ms END
                 WHERE secret_id = ?1",
                params![id.as_str(), v.created_ms],
            )?;
            append(tx, &id, expected_current, &v)
        })
        .await
    }

    async fn reject_managed_rotation(
        &self,
        id: &SecretId,
        rotation_id: &str,
        error: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        let (id, rotation_id, error) = (id.clone(), rotation_id.to_owned(), error.to_owned());
        self.write(move |tx| {
            let cleared = exec(
                tx,
                "UPDATE managed_secrets SET pending_id = NULL, pending_sealed_for = NULL,
                     pending_field_names = NULL, pending_wrapped_dek = NULL,
                     pending_ciphertext = NULL, pending_trigger = NULL, pending_by = NULL,
                     pending_ms = NULL, last_id = ?2, last_outcome = 'rejected',
                     last_error = ?3, last_ms = ?4
                 WHERE secret_id = ?1 AND pending_id = ?2",
                params![id.as_str(), rotation_id, error, now_ms],
            )?;
            if cleared == 0 {
                return Err(StoreError::Conflict(Conflict::RotationStale));
            }
            Ok(())
        })
        .await
    }

    async fn record_heartbeat(&self, id: &SecretId, hb: &Heartbeat) -> StoreResult<()> {
        let (id, hb) = (id.clone(), hb.clone());
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE managed_secrets SET heartbeat_status = ?2, heartbeat_error = ?3,
                     heartbeat_ms = ?4
                 WHERE secret_id = ?1",
                params![id.as_str(), hb.status, hb.error, hb.at_ms],
            )
        })
        .await
    }
}
