//! Leased secrets and leases. The claim and the finish are single conditional `UPDATE`s: a
//! racing second claim waits for the first's row lock, then finds the lease no longer
//! claimable, so of any number of reapers on any number of replicas exactly one claims it, and
//! only that claim can finish it.

use async_trait::async_trait;
use signet_proto::{LeaseId, MachineId, SecretId};
use signet_store::{
    Conflict, LeaseFilter, LeaseRecord, LeaseState, LeaseStore, LeasedSecretRecord, StoreError,
    StoreResult,
};
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::error::db;
use crate::row::{col, id, list, name, small, to_list};

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

fn lease(row: &PgRow) -> StoreResult<LeaseRecord> {
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
        key_generation: small(row, 15)?,
    })
}

/// The lease settings in the columns from `at` on (the order of [`LeaseStore::leased_secret`]'s
/// select; the read view joins the same columns).
pub(crate) fn leased(row: &PgRow, at: usize) -> StoreResult<LeasedSecretRecord> {
    Ok(LeasedSecretRecord {
        secret_id: id(row, at)?,
        connection_id: id(row, at + 1)?,
        ttl_ms: col(row, at + 2)?,
        max_ttl_ms: col(row, at + 3)?,
        renew_on_read: col(row, at + 4)?,
        mint_fresh: col(row, at + 5)?,
        revoke_on_disable: col(row, at + 6)?,
        password_length: small(row, at + 7)?,
        password_charset: col(row, at + 8)?,
        grant_sql: list(row, at + 9)?,
        updated_ms: col(row, at + 10)?,
    })
}

#[async_trait]
impl LeaseStore for PgStore {
    async fn set_leased_secret(&self, r: &LeasedSecretRecord) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "INSERT INTO leased_secrets (secret_id, connection_id, ttl_ms, max_ttl_ms,
                     renew_on_read, mint_fresh, revoke_on_disable, password_length,
                     password_charset, grant_sql, updated_ms)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
                 WHERE EXISTS (SELECT 1 FROM secrets s JOIN db_connections c
                                   ON c.project_id = s.project_id
                               WHERE s.id = $1 AND c.id = $2)
                 ON CONFLICT (secret_id) DO UPDATE SET connection_id = excluded.connection_id,
                     ttl_ms = excluded.ttl_ms, max_ttl_ms = excluded.max_ttl_ms,
                     renew_on_read = excluded.renew_on_read, mint_fresh = excluded.mint_fresh,
                     revoke_on_disable = excluded.revoke_on_disable,
                     password_length = excluded.password_length,
                     password_charset = excluded.password_charset,
                     grant_sql = excluded.grant_sql, updated_ms = excluded.updated_ms",
            )
            .bind(r.secret_id.as_str())
            .bind(r.connection_id.as_str())
            .bind(r.ttl_ms)
            .bind(r.max_ttl_ms)
            .bind(r.renew_on_read)
            .bind(r.mint_fresh)
            .bind(r.revoke_on_disable)
            .bind(i64::from(r.password_length))
            .bind(&r.password_charset)
            .bind(to_list(&r.grant_sql))
            .bind(r.updated_ms),
        )
        .await
    }

    async fn leased_secret(&self, secret: &SecretId) -> StoreResult<Option<LeasedSecretRecord>> {
        sqlx::query(
            "SELECT secret_id, connection_id, ttl_ms, max_ttl_ms, renew_on_read, mint_fresh,
                    revoke_on_disable, password_length, password_charset, grant_sql, updated_ms
             FROM leased_secrets WHERE secret_id = $1",
        )
        .bind(secret.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .map(|r| leased(&r, 0))
        .transpose()
    }

    async fn insert_lease(&self, l: &LeaseRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // An expired lease still active (the reaper has not come yet), or one on a connection
        // the secret has since left, is no longer the one reads reuse: it leaves the unique set
        // (and stays due for the reaper), so the new lease can take its place.
        sqlx::query(
            "UPDATE leases SET reusable = FALSE
             WHERE machine_id = $1 AND secret_id = $2 AND state = 'active' AND reusable
               AND (expires_ms <= $3 OR connection_id <> $4)",
        )
        .bind(l.machine_id.to_string())
        .bind(l.secret_id.as_str())
        .bind(l.created_ms)
        .bind(l.connection_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        // A racing insert of the same machine's reusable lease waits on the unique index until
        // the first commits, then inserts nothing.
        let done = sqlx::query(
            "INSERT INTO leases (id, secret_id, project_id, machine_id, connection_id,
                 role_name, password_wrapped_dek, password_ciphertext, created_ms,
                 expires_ms, max_expires_ms, state, claim_until_ms, revoked_ms,
                 revoke_reason, reusable, key_generation)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                 COALESCE((SELECT NOT mint_fresh FROM leased_secrets WHERE secret_id = $2), FALSE),
                 $16)
             ON CONFLICT (machine_id, secret_id) WHERE state = 'active' AND reusable
             DO NOTHING",
        )
        .bind(l.id.as_str())
        .bind(l.secret_id.as_str())
        .bind(l.project_id.as_str())
        .bind(l.machine_id.to_string())
        .bind(l.connection_id.as_str())
        .bind(&l.role_name)
        .bind(l.password_wrapped_dek.as_slice())
        .bind(l.password_ciphertext.as_slice())
        .bind(l.created_ms)
        .bind(l.expires_ms)
        .bind(l.max_expires_ms)
        .bind(l.state.as_str())
        .bind(l.claim_until_ms)
        .bind(l.revoked_ms)
        .bind(l.revoke_reason.as_deref())
        .bind(i64::from(l.key_generation))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            // Dropping `tx` rolls back, with any record this handle carries.
            return Err(StoreError::Conflict(Conflict::LeaseState));
        }
        self.commit(tx).await
    }

    async fn lease(&self, lid: &LeaseId) -> StoreResult<Option<LeaseRecord>> {
        sqlx::query(lease_select!("WHERE id = $1"))
            .bind(lid.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| lease(&r))
            .transpose()
    }

    async fn leases(&self, filter: &LeaseFilter, limit: u32) -> StoreResult<Vec<LeaseRecord>> {
        let projects: Option<Vec<String>> = filter
            .projects
            .as_ref()
            .map(|p| p.iter().map(|p| p.as_str().to_owned()).collect());
        sqlx::query(lease_select!(
            "WHERE ($1::TEXT IS NULL OR secret_id = $1) AND ($2::TEXT IS NULL OR machine_id = $2)
               AND ($3::TEXT[] IS NULL OR project_id = ANY($3))
             ORDER BY created_ms DESC, id DESC LIMIT $4"
        ))
        .bind(filter.secret.as_ref().map(|s| s.as_str()))
        .bind(filter.machine.map(|m| m.to_string()))
        .bind(projects)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(lease)
        .collect()
    }

    async fn active_lease(
        &self,
        machine: &MachineId,
        secret: &SecretId,
        now_ms: i64,
    ) -> StoreResult<Option<LeaseRecord>> {
        sqlx::query(lease_select!(
            "WHERE machine_id = $1 AND secret_id = $2 AND state = 'active' AND expires_ms > $3
             ORDER BY created_ms DESC, id DESC LIMIT 1"
        ))
        .bind(machine.to_string())
        .bind(secret.as_str())
        .bind(now_ms)
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .map(|r| lease(&r))
        .transpose()
    }

    async fn renew_lease(&self, lid: &LeaseId, expires_ms: i64, now_ms: i64) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE leases SET expires_ms = $2
                 WHERE id = $1 AND state = 'active' AND expires_ms > $3
                   AND $2 <= max_expires_ms",
            )
            .bind(lid.as_str())
            .bind(expires_ms)
            .bind(now_ms),
        )
        .await
    }

    async fn due_leases(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<LeaseRecord>> {
        sqlx::query(lease_select!(
            "WHERE (state = 'active' AND expires_ms <= $1)
                OR (state = 'revoking' AND claim_until_ms <= $1)
             ORDER BY expires_ms, id LIMIT $2"
        ))
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(lease)
        .collect()
    }

    async fn disable_revocable_leases(&self, machine: &MachineId) -> StoreResult<Vec<LeaseRecord>> {
        sqlx::query(lease_select!(
            "WHERE machine_id = $1 AND state = 'active'
               AND secret_id IN (SELECT secret_id FROM leased_secrets WHERE revoke_on_disable)
             ORDER BY created_ms, id"
        ))
        .bind(machine.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(lease)
        .collect()
    }

    async fn claim_lease(
        &self,
        lid: &LeaseId,
        now_ms: i64,
        claim_until_ms: i64,
    ) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE leases SET state = 'revoking', claim_until_ms = $3
                 WHERE id = $1 AND (state = 'active'
                                    OR (state = 'revoking' AND claim_until_ms <= $2))",
            )
            .bind(lid.as_str())
            .bind(now_ms)
            .bind(claim_until_ms),
        )
        .await
    }

    async fn finish_lease(
        &self,
        lid: &LeaseId,
        claim_until_ms: i64,
        now_ms: i64,
        reason: &str,
    ) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE leases SET state = 'revoked', claim_until_ms = NULL, revoked_ms = $3,
                     revoke_reason = $4
                 WHERE id = $1 AND state = 'revoking' AND claim_until_ms = $2",
            )
            .bind(lid.as_str())
            .bind(claim_until_ms)
            .bind(now_ms)
            .bind(reason),
        )
        .await
    }
}
