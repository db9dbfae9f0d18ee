//! Leased secrets and leases. The claim and the finish are single conditional `UPDATE`s in the
//! one writer, so of racing reapers exactly one claims a lease and only its claim finishes it.

use async_trait::async_trait;
use rusqlite::{Row, params};
use signet_proto::{LeaseId, MachineId, SecretId};
use signet_store::{
    Conflict, LeaseFilter, LeaseRecord, LeaseState, LeaseStore, LeasedSecretRecord, StoreError,
    StoreResult,
};

use crate::SqliteStore;
use crate::error::corrupt;
use crate::row::{col, id, list, name, to_list};
use crate::statement::{all, exec, exec_found, one};

macro_rules! lease_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, secret_id, project_id, machine_id, connection_id, role_name,
                    password_wrapped_dek, password_ciphertext, created_ms, expires_ms,
                    max_expires_ms, state, claim_until_ms, revoked_ms, revoke_reason,
                    key_generation
             FROM leases ",
            $rest
        )
    };
}

fn lease(row: &Row<'_>) -> StoreResult<LeaseRecord> {
    Ok(LeaseRecord {
        id: id(row, 0)?,
        secret_id: id(row, 1)?,
        project_id: id(row, 2)?,
        machine_id: id(row, 3)?,
        connection_id: id(row, 4)?,
        role_name: col(row, 5)?,
        password_wrapped_dek: col(row, 6)?,
        password_ciphertext: col(row, 7)?,
        created_ms: col(row, 8)?,
        expires_ms: col(row, 9)?,
        max_expires_ms: col(row, 10)?,
        state: name(row, 11, LeaseState::parse)?,
        claim_until_ms: col(row, 12)?,
        revoked_ms: col(row, 13)?,
        revoke_reason: col(row, 14)?,
        key_generation: col(row, 15)?,
    })
}

/// The lease settings in the columns from `at` on (the order of [`LeaseStore::leased_secret`]'s
/// select; the read view joins the same columns).
pub(crate) fn leased(row: &Row<'_>, at: usize) -> StoreResult<LeasedSecretRecord> {
    let length: i64 = col(row, at + 7)?;
    Ok(LeasedSecretRecord {
        secret_id: id(row, at)?,
        connection_id: id(row, at + 1)?,
        ttl_ms: col(row, at + 2)?,
        max_ttl_ms: col(row, at + 3)?,
        renew_on_read: col(row, at + 4)?,
        mint_fresh: col(row, at + 5)?,
        revoke_on_disable: col(row, at + 6)?,
        password_length: u32::try_from(length).map_err(|_| corrupt("password_length"))?,
        password_charset: col(row, at + 8)?,
        grant_sql: list(row, at + 9)?,
        updated_ms: col(row, at + 10)?,
    })
}

#[async_trait]
impl LeaseStore for SqliteStore {
    async fn set_leased_secret(&self, r: &LeasedSecretRecord) -> StoreResult<()> {
        let r = r.clone();
        self.write(move |tx| {
            exec_found(
                tx,
                "INSERT INTO leased_secrets (secret_id, connection_id, ttl_ms, max_ttl_ms,
                     renew_on_read, mint_fresh, revoke_on_disable, password_length,
                     password_charset, grant_sql, updated_ms)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11
                 WHERE EXISTS (SELECT 1 FROM secrets s JOIN db_connections c
                                   ON c.project_id = s.project_id
                               WHERE s.id = ?1 AND c.id = ?2)
                 ON CONFLICT (secret_id) DO UPDATE SET connection_id = excluded.connection_id,
                     ttl_ms = excluded.ttl_ms, max_ttl_ms = excluded.max_ttl_ms,
                     renew_on_read = excluded.renew_on_read, mint_fresh = excluded.mint_fresh,
                     revoke_on_disable = excluded.revoke_on_disable,
                     password_length = excluded.password_length,
                     password_charset = excluded.password_charset,
                     grant_sql = excluded.grant_sql, updated_ms = excluded.updated_ms",
                params![
                    r.secret_id.as_str(),
                    r.connection_id.as_str(),
                    r.ttl_ms,
                    r.max_ttl_ms,
                    r.renew_on_read,
                    r.mint_fresh,
                    r.revoke_on_disable,
                    r.password_length,
                    r.password_charset,
                    to_list(&r.grant_sql),
                    r.updated_ms
                ],
            )
        })
        .await
    }

    async fn leased_secret(&self, secret: &SecretId) -> StoreResult<Option<LeasedSecretRecord>> {
        self.read(|c| {
            one(
                c,
                "SELECT secret_id, connection_id, ttl_ms, max_ttl_ms, renew_on_read, mint_fresh,
                        revoke_on_disable, password_length, password_charset, grant_sql,
                        updated_ms
                 FROM leased_secrets WHERE secret_id = ?1",
                [secret.as_str()],
                |r| leased(r, 0),
            )
        })
    }

    async fn insert_lease(&self, l: &LeaseRecord) -> StoreResult<()> {
        let l = l.clone();
        self.write(move |tx| {
            // An expired lease still active (the reaper has not come yet), or one on a connection
            // the secret has since left, is no longer the one reads reuse: it leaves the unique
            // set (and stays due for the reaper), so the new lease can take its place.
            exec(
                tx,
                "UPDATE leases SET reusable = 0
                 WHERE machine_id = ?1 AND secret_id = ?2 AND state = 'active' AND reusable = 1
                   AND (expires_ms <= ?3 OR connection_id <> ?4)",
                params![
                    l.machine_id.to_string(),
                    l.secret_id.as_str(),
                    l.created_ms,
                    l.connection_id.as_str()
                ],
            )?;
            let inserted = exec(
                tx,
                "INSERT INTO leases (id, secret_id, project_id, machine_id, connection_id,
                     role_name, password_wrapped_dek, password_ciphertext, created_ms,
                     expires_ms, max_expires_ms, state, claim_until_ms, revoked_ms,
                     revoke_reason, reusable, key_generation)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                     COALESCE((SELECT 1 - mint_fresh FROM leased_secrets WHERE secret_id = ?2), 0),
                     ?16)
                 ON CONFLICT (machine_id, secret_id) WHERE state = 'active' AND reusable = 1
                 DO NOTHING",
                params![
                    l.id.as_str(),
                    l.secret_id.as_str(),
                    l.project_id.as_str(),
                    l.machine_id.to_string(),
                    l.connection_id.as_str(),
                    l.role_name,
                    l.password_wrapped_dek,
                    l.password_ciphertext,
                    l.created_ms,
                    l.expires_ms,
                    l.max_expires_ms,
                    l.state.as_str(),
                    l.claim_until_ms,
                    l.revoked_ms,
                    l.revoke_reason,
                    l.key_generation
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::Conflict(Conflict::LeaseState));
            }
            Ok(())
        })
        .await
    }

    async fn lease(&self, lid: &LeaseId) -> StoreResult<Option<LeaseRecord>> {
        self.read(|c| one(c, lease_select!("WHERE id = ?1"), [lid.as_str()], lease))
    }

    async fn leases(&self, filter: &LeaseFilter, limit: u32) -> StoreResult<Vec<LeaseRecord>> {
        let secret = filter.secret.as_ref().map(|s| s.as_str().to_owned());
        let machine = filter.machine.map(|m| m.to_string());
        let projects = filter
            .projects
            .as_ref()
            .map(|p| to_list(&p.iter().map(|p| p.as_str()).collect::<Vec<_>>()));
        self.read(|c| {
            all(
                c,
                lease_select!(
                    "WHERE (?1 IS NULL OR secret_id = ?1) AND (?2 IS NULL OR machine_id = ?2)
                       AND (?3 IS NULL OR project_id IN (SELECT value FROM json_each(?3)))
                     ORDER BY created_ms DESC, id DESC LIMIT ?4"
                ),
                params![secret, machine, projects, limit],
                lease,
            )
        })
    }

    async fn active_lease(
        &self,
        machine: &MachineId,
        secret: &SecretId,
        now_ms: i64,
    ) -> StoreResult<Option<LeaseRecord>> {
        let machine = machine.to_string();
        self.read(|c| {
            one(
                c,
                lease_select!(
                    "WHERE machine_id = ?1 AND secret_id = ?2 AND state = 'active'
                       AND expires_ms > ?3
                     ORDER BY created_ms DESC, id DESC LIMIT 1"
                ),
                params![machine, secret.as_str(), now_ms],
                lease,
            )
        })
    }

    async fn renew_lease(&self, lid: &LeaseId, expires_ms: i64, now_ms: i64) -> StoreResult<()> {
        let lid = lid.clone();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE leases SET expires_ms = ?2
                 WHERE id = ?1 AND state = 'active' AND expires_ms > ?3
                   AND ?2 <= max_expires_ms",
                params![lid.as_str(), expires_ms, now_ms],
            )
        })
        .await
    }

    async fn due_leases(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<LeaseRecord>> {
        self.read(|c| {
            all(
                c,
                lease_select!(
                    "WHERE (state = 'active' AND expires_ms <= ?1)
                        OR (state = 'revoking' AND claim_until_ms <= ?1)
                     ORDER BY expires_ms, id LIMIT ?2"
                ),
                params![now_ms, limit],
                lease,
            )
        })
    }

    async fn disable_revocable_leases(&self, machine: &MachineId) -> StoreResult<Vec<LeaseRecord>> {
        let machine = machine.to_string();
        self.read(|c| {
            all(
                c,
                lease_select!(
                    "WHERE machine_id = ?1 AND state = 'active'
                       AND secret_id IN (SELECT secret_id FROM leased_secrets
                                         WHERE revoke_on_disable = 1)
                     ORDER BY created_ms, id"
                ),
                [machine],
                lease,
            )
        })
    }

    async fn claim_lease(
        &self,
        lid: &LeaseId,
        now_ms: i64,
        claim_until_ms: i64,
    ) -> StoreResult<()> {
        let lid = lid.clone();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE leases SET state = 'revoking', claim_until_ms = ?3
                 WHERE id = ?1 AND (state = 'active'
                                    OR (state = 'revoking' AND claim_until_ms <= ?2))",
                params![lid.as_str(), now_ms, claim_until_ms],
            )
        })
        .await
    }

    async fn finish_lease(
        &self,
        lid: &LeaseId,
        claim_until_ms: i64,
        now_ms: i64,
        reason: &str,
    ) -> StoreResult<()> {
        let (lid, reason) = (lid.clone(), reason.to_owned());
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE leases SET state = 'revoked', claim_until_ms = NULL, revoked_ms = ?3,
                     revoke_reason = ?4
                 WHERE id = ?1 AND state = 'revoking' AND claim_until_ms = ?2",
                params![lid.as_str(), claim_until_ms, now_ms, reason],
            )
        })
        .await
    }
}
