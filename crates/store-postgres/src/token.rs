//! Bootstrap and enrollment tokens. Redemption is a conditional update in the same transaction
//! as the machine it creates, so a token is never spent without its machine. PostgreSQL makes a
//! racing redeemer wait for the first to commit and then re-checks its `WHERE`, so a token is
//! never spent twice (or past `max_uses`), whichever replicas the redeemers reach.

use async_trait::async_trait;
use signet_store::{
    BootstrapTokenRecord, EnrollmentGrant, EnrollmentTokenRecord, NewMachine, StoreResult,
    TokenStore,
};
use sqlx::postgres::PgRow;

use crate::error::db;
use crate::machine::{attach, insert};
use crate::row::{col, digest, id, id_list, small, to_list};
use crate::{PgStore, found};

macro_rules! enrollment_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, token_hash, name, project_ids, secret_ids, max_uses, uses, expires_ms, machine_ttl_secs,
                    source_cidr, hostname_pattern, created_by, created_ms, revoked_ms
             FROM enrollment_tokens ",
            $rest
        )
    };
}

fn bootstrap(row: &PgRow) -> StoreResult<BootstrapTokenRecord> {
    Ok(BootstrapTokenRecord {
        id: col(row, 0)?,
        token_hash: digest(row, 1)?,
        created_by: id(row, 2)?,
        created_ms: col(row, 3)?,
        expires_ms: col(row, 4)?,
        used_ms: col(row, 5)?,
    })
}

fn enrollment(row: &PgRow) -> StoreResult<EnrollmentTokenRecord> {
    Ok(EnrollmentTokenRecord {
        id: col(row, 0)?,
        token_hash: digest(row, 1)?,
        name: col(row, 2)?,
        project_ids: id_list(row, 3)?,
        secret_ids: id_list(row, 4)?,
        max_uses: small(row, 5)?,
        uses: small(row, 6)?,
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
impl TokenStore for PgStore {
    async fn insert_bootstrap_token(&self, t: &BootstrapTokenRecord) -> StoreResult<()> {
        self.execute(sqlx::query(
            "INSERT INTO bootstrap_tokens (id, token_hash, created_by, created_ms, expires_ms, used_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&t.id)
        .bind(t.token_hash.as_slice())
        .bind(t.created_by.to_string())
        .bind(t.created_ms)
        .bind(t.expires_ms)
        .bind(t.used_ms)
        )
        .await.map(drop)
    }

    async fn bootstrap_token(
        &self,
        token_hash: &[u8; 32],
    ) -> StoreResult<Option<BootstrapTokenRecord>> {
        sqlx::query(
            "SELECT id, token_hash, created_by, created_ms, expires_ms, used_ms
             FROM bootstrap_tokens WHERE token_hash = $1",
        )
        .bind(token_hash.as_slice())
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .map(|r| bootstrap(&r))
        .transpose()
    }

    async fn redeem_bootstrap_token(
        &self,
        token_hash: &[u8; 32],
        now_ms: i64,
        machine: &NewMachine,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        found(
            sqlx::query(
                "UPDATE bootstrap_tokens SET used_ms = $2
                 WHERE token_hash = $1 AND used_ms IS NULL AND expires_ms > $2",
            )
            .bind(token_hash.as_slice())
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(db)?,
        )?;
        // On a key conflict the transaction is rolled back, and the token with it.
        insert(&mut tx, machine).await?;
        self.commit(tx).await
    }

    async fn insert_enrollment_token(&self, t: &EnrollmentTokenRecord) -> StoreResult<()> {
        self.execute(sqlx::query(
            "INSERT INTO enrollment_tokens (id, token_hash, name, project_ids, secret_ids, max_uses, uses, expires_ms,
                                            machine_ttl_secs, source_cidr, hostname_pattern, created_by, created_ms,
                                            revoked_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&t.id)
        .bind(t.token_hash.as_slice())
        .bind(&t.name)
        .bind(to_list(&t.project_ids.iter().map(ToString::to_string).collect::<Vec<_>>()))
        .bind(to_list(&t.secret_ids.iter().map(ToString::to_string).collect::<Vec<_>>()))
        .bind(i64::from(t.max_uses))
        .bind(i64::from(t.uses))
        .bind(t.expires_ms)
        .bind(t.machine_ttl_secs)
        .bind(t.source_cidr.as_deref())
        .bind(t.hostname_pattern.as_deref())
        .bind(t.created_by.to_string())
        .bind(t.created_ms)
        .bind(t.revoked_ms)
        )
        .await.map(drop)
    }

    async fn enrollment_token_by_hash(
        &self,
        token_hash: &[u8; 32],
    ) -> StoreResult<Option<EnrollmentTokenRecord>> {
        sqlx::query(enrollment_select!("WHERE token_hash = $1"))
            .bind(token_hash.as_slice())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| enrollment(&r))
            .transpose()
    }

    async fn enrollment_tokens(&self) -> StoreResult<Vec<EnrollmentTokenRecord>> {
        // SQLite breaks ties on insertion order (rowid); the id makes this order stable.
        sqlx::query(enrollment_select!("ORDER BY created_ms DESC, id DESC"))
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .iter()
            .map(enrollment)
            .collect()
    }

    async fn revoke_enrollment_token(&self, id: &str, now_ms: i64) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE enrollment_tokens SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL",
            )
            .bind(id)
            .bind(now_ms),
        )
        .await
    }

    async fn redeem_enrollment_token(
        &self,
        token_id: &str,
        now_ms: i64,
        machine: &NewMachine,
        grant: &EnrollmentGrant,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        found(
            sqlx::query(
                "UPDATE enrollment_tokens SET uses = uses + 1
                 WHERE id = $1 AND uses < max_uses AND revoked_ms IS NULL AND expires_ms > $2",
            )
            .bind(token_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(db)?,
        )?;
        insert(&mut tx, machine).await?;
        let machine_id = machine.id.to_string();
        for project in &grant.project_ids {
            attach(&mut tx, &machine_id, &project.to_string()).await?;
        }
        for secret in &grant.secret_ids {
            // Only secrets of the projects just attached; others are skipped, not refused.
            sqlx::query(
                "INSERT INTO grants (machine_id, secret_id)
                 SELECT m.machine_id, s.id FROM secrets s
                 JOIN memberships m ON m.machine_id = $1 AND m.project_id = s.project_id
                 WHERE s.id = $2
                 ON CONFLICT DO NOTHING",
            )
            .bind(&machine_id)
            .bind(secret.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        self.commit(tx).await
    }
}
