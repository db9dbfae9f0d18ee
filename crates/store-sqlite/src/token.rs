//! Bootstrap and enrollment tokens. Redemption is a conditional update in the same transaction
//! as the machine it creates, so a token is never spent without its machine, and never spent
//! twice however many redeemers race.

use async_trait::async_trait;
use rusqlite::{Row, params};
use signet_store::{
    BootstrapTokenRecord, EnrollmentGrant, EnrollmentTokenRecord, NewMachine, StoreResult,
    TokenStore,
};

use crate::SqliteStore;
use crate::machine::{attach, insert};
use crate::row::{col, id, id_list, to_list};
use crate::statement::{all, exec, exec_found, one};

fn bootstrap(row: &Row<'_>) -> StoreResult<BootstrapTokenRecord> {
    Ok(BootstrapTokenRecord {
        id: col(row, 0)?,
        token_hash: col(row, 1)?,
        created_by: id(row, 2)?,
        created_ms: col(row, 3)?,
        expires_ms: col(row, 4)?,
        used_ms: col(row, 5)?,
    })
}

fn enrollment(row: &Row<'_>) -> StoreResult<EnrollmentTokenRecord> {
    Ok(EnrollmentTokenRecord {
        id: col(row, 0)?,
        token_hash: col(row, 1)?,
        name: col(row, 2)?,
        project_ids: id_list(row, 3)?,
        secret_ids: id_list(row, 4)?,
        max_uses: col(row, 5)?,
        uses: col(row, 6)?,
        expires_ms: col(row, 7)?,
        machine_ttl_secs: col(row, 8)?,
        source_cidr: col(row, 9)?,
        hostname_pattern: col(row, 10)?,
        created_by: id(row, 11)?,
        created_ms: col(row, 12)?,
        revoked_ms: col(row, 13)?,
    })
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn insert_bootstrap_token(&self, t: &BootstrapTokenRecord) -> StoreResult<()> {
        let t = t.clone();
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO bootstrap_tokens (id, token_hash, created_by, created_ms, expires_ms, used_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![t.id, t.token_hash, t.created_by.to_string(), t.created_ms, t.expires_ms, t.used_ms],
            )
            .map(drop)
        })
        .await
    }

    async fn bootstrap_token(
        &self,
        token_hash: &[u8; 32],
    ) -> StoreResult<Option<BootstrapTokenRecord>> {
        self.read(|c| {
            one(
                c,
                "SELECT id, token_hash, created_by, created_ms, expires_ms, used_ms FROM bootstrap_tokens WHERE token_hash = ?1",
                [token_hash],
                bootstrap,
            )
        })
    }

    async fn redeem_bootstrap_token(
        &self,
        token_hash: &[u8; 32],
        now_ms: i64,
        machine: &NewMachine,
    ) -> StoreResult<()> {
        let (token_hash, machine) = (*token_hash, machine.clone());
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE bootstrap_tokens SET used_ms = ?2 WHERE token_hash = ?1 AND used_ms IS NULL AND expires_ms > ?2",
                params![token_hash, now_ms],
            )?;
            // On a key conflict the savepoint is rolled back, and the token with it.
            insert(tx, &machine)
        })
        .await
    }

    async fn insert_enrollment_token(&self, t: &EnrollmentTokenRecord) -> StoreResult<()> {
        let t = t.clone();
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO enrollment_tokens (id, token_hash, name, project_ids, secret_ids, max_uses, uses, expires_ms,
                                                machine_ttl_secs, source_cidr, hostname_pattern, created_by, created_ms,
                                                revoked_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    t.id,
                    t.token_hash,
                    t.name,
                    to_list(&t.project_ids.iter().map(|p| p.as_str()).collect::<Vec<_>>()),
                    to_list(&t.secret_ids.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
                    t.max_uses,
                    t.uses,
                    t.expires_ms,
                    t.machine_ttl_secs,
                    t.source_cidr,
                    t.hostname_pattern,
                    t.created_by.to_string(),
                    t.created_ms,
                    t.revoked_ms,
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn enrollment_token_by_hash(
        &self,
        token_hash: &[u8; 32],
    ) -> StoreResult<Option<EnrollmentTokenRecord>> {
        self.read(|c| {
            one(
                c,
                "SELECT id, token_hash, name, project_ids, secret_ids, max_uses, uses, expires_ms, machine_ttl_secs,
                        source_cidr, hostname_pattern, created_by, created_ms, revoked_ms
                 FROM enrollment_tokens WHERE token_hash = ?1",
                [token_hash],
                enrollment,
            )
        })
    }

    async fn enrollment_tokens(&self) -> StoreResult<Vec<EnrollmentTokenRecord>> {
        self.read(|c| {
            all(
                c,
                "SELECT id, token_hash, name, project_ids, secret_ids, max_uses, uses, expires_ms, machine_ttl_secs,
                        source_cidr, hostname_pattern, created_by, created_ms, revoked_ms
                 FROM enrollment_tokens ORDER BY created_ms DESC, rowid DESC",
                [],
                enrollment,
            )
        })
    }

    async fn revoke_enrollment_token(&self, id: &str, now_ms: i64) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE enrollment_tokens SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL",
                params![id, now_ms],
            )
        })
        .await
    }

    async fn redeem_enrollment_token(
        &self,
        token_id: &str,
        now_ms: i64,
        machine: &NewMachine,
        grant: &EnrollmentGrant,
    ) -> StoreResult<()> {
        let (token_id, machine, grant) = (token_id.to_owned(), machine.clone(), grant.clone());
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE enrollment_tokens SET uses = uses + 1
                 WHERE id = ?1 AND uses < max_uses AND revoked_ms IS NULL AND expires_ms > ?2",
                params![token_id, now_ms],
            )?;
            insert(tx, &machine)?;
            let machine_id = machine.id.to_string();
            for project in &grant.project_ids {
                attach(tx, &machine_id, project.as_str())?;
            }
            for secret in &grant.secret_ids {
                // Only secrets of the projects just attached; others are skipped, not refused.
                exec(
                    tx,
                    "INSERT INTO grants (machine_id, secret_id)
                     SELECT m.machine_id, s.id FROM secrets s
                     JOIN memberships m ON m.machine_id = ?1 AND m.project_id = s.project_id
                     WHERE s.id = ?2
                     ON CONFLICT DO NOTHING",
                    [machine_id.as_str(), secret.as_str()],
                )?;
            }
            Ok(())
        })
        .await
    }
}
