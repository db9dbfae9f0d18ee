//! Trusted OIDC issuers and their rules. A platform token's digest is inserted in the same
//! transaction as the machine it creates; PostgreSQL makes a racing insert of the same digest
//! wait for the first to commit and then do nothing, so a token enrolls one machine at most,
//! whichever replicas the requests reach.

use std::collections::BTreeMap;

use async_trait::async_trait;
use signet_proto::{IssuerId, IssuerRuleId};
use signet_store::{
    EnrollmentGrant, IssuerRecord, IssuerRuleRecord, IssuerStore, NewMachine, PlatformTokenUse,
    StoreError, StoreResult,
};
use sqlx::postgres::PgRow;

use crate::error::{corrupt, db};
use crate::machine::{attach, insert};
use crate::row::{col, id, id_list, list, small, to_list};
use crate::{PgStore, found};

macro_rules! issuer_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, issuer, pinned_jwks, audience, algorithms, leeway_secs, created_by,
                    created_ms, updated_ms
             FROM oidc_issuers ",
            $rest
        )
    };
}

fn issuer(row: &PgRow) -> StoreResult<IssuerRecord> {
    Ok(IssuerRecord {
        id: id(row, 0)?,
        name: col(row, 1)?,
        issuer: col(row, 2)?,
        pinned_jwks: col(row, 3)?,
        audience: col(row, 4)?,
        algorithms: list(row, 5)?,
        leeway_secs: small(row, 6)?,
        created_by: id(row, 7)?,
        created_ms: col(row, 8)?,
        updated_ms: col(row, 9)?,
    })
}

fn rule(row: &PgRow) -> StoreResult<IssuerRuleRecord> {
    let claims: String = col(row, 4)?;
    Ok(IssuerRuleRecord {
        id: id(row, 0)?,
        issuer_id: id(row, 1)?,
        position: small(row, 2)?,
        name: col(row, 3)?,
        claims: serde_json::from_str::<BTreeMap<String, String>>(&claims)
            .map_err(|_| corrupt("rule claims"))?,
        project_ids: id_list(row, 5)?,
        secret_ids: id_list(row, 6)?,
        machine_ttl_secs: col(row, 7)?,
        created_ms: col(row, 8)?,
    })
}

#[async_trait]
impl IssuerStore for PgStore {
    async fn insert_issuer(&self, i: &IssuerRecord) -> StoreResult<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO oidc_issuers (id, name, issuer, pinned_jwks, audience, algorithms,
                     leeway_secs, created_by, created_ms, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(i.id.as_str())
            .bind(&i.name)
            .bind(&i.issuer)
            .bind(i.pinned_jwks.as_deref())
            .bind(&i.audience)
            .bind(to_list(&i.algorithms))
            .bind(i64::from(i.leeway_secs))
            .bind(i.created_by.to_string())
            .bind(i.created_ms)
            .bind(i.updated_ms),
        )
        .await
        .map(drop)
    }

    async fn issuers(&self) -> StoreResult<Vec<IssuerRecord>> {
        sqlx::query(issuer_select!("ORDER BY name"))
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .iter()
            .map(issuer)
            .collect()
    }

    async fn issuer(&self, iid: &IssuerId) -> StoreResult<Option<IssuerRecord>> {
        sqlx::query(issuer_select!("WHERE id = $1"))
            .bind(iid.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| issuer(&r))
            .transpose()
    }

    async fn issuer_by_url(&self, url: &str) -> StoreResult<Option<IssuerRecord>> {
        sqlx::query(issuer_select!("WHERE issuer = $1"))
            .bind(url)
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| issuer(&r))
            .transpose()
    }

    async fn update_issuer(&self, i: &IssuerRecord) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE oidc_issuers SET name = $2, pinned_jwks = $3, audience = $4,
                     algorithms = $5, leeway_secs = $6, updated_ms = $7
                 WHERE id = $1",
            )
            .bind(i.id.as_str())
            .bind(&i.name)
            .bind(i.pinned_jwks.as_deref())
            .bind(&i.audience)
            .bind(to_list(&i.algorithms))
            .bind(i64::from(i.leeway_secs))
            .bind(i.updated_ms),
        )
        .await
    }

    async fn delete_issuer(&self, iid: &IssuerId) -> StoreResult<()> {
        // The rules go with it (ON DELETE CASCADE).
        self.execute_found(sqlx::query("DELETE FROM oidc_issuers WHERE id = $1").bind(iid.as_str()))
            .await
    }

    async fn insert_issuer_rule(&self, r: &IssuerRuleRecord) -> StoreResult<()> {
        let claims = serde_json::to_string(&r.claims).map_err(|_| StoreError::Corrupt)?;
        let projects: Vec<&str> = r.project_ids.iter().map(|p| p.as_str()).collect();
        let secrets: Vec<&str> = r.secret_ids.iter().map(|s| s.as_str()).collect();
        self.execute(
            sqlx::query(
                "INSERT INTO oidc_rules (id, issuer_id, position, name, claims, project_ids,
                     secret_ids, machine_ttl_secs, created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(r.id.as_str())
            .bind(r.issuer_id.as_str())
            .bind(i64::from(r.position))
            .bind(&r.name)
            .bind(claims)
            .bind(to_list(&projects))
            .bind(to_list(&secrets))
            .bind(r.machine_ttl_secs)
            .bind(r.created_ms),
        )
        .await
        .map(drop)
    }

    async fn issuer_rules(&self, iid: &IssuerId) -> StoreResult<Vec<IssuerRuleRecord>> {
        sqlx::query(
            "SELECT id, issuer_id, position, name, claims, project_ids, secret_ids,
                    machine_ttl_secs, created_ms
             FROM oidc_rules WHERE issuer_id = $1 ORDER BY position",
        )
        .bind(iid.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(rule)
        .collect()
    }

    async fn delete_issuer_rule(&self, iid: &IssuerId, rid: &IssuerRuleId) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("DELETE FROM oidc_rules WHERE id = $1 AND issuer_id = $2")
                .bind(rid.as_str())
                .bind(iid.as_str()),
        )
        .await
    }

    async fn enroll_with_platform_token(
        &self,
        token: &PlatformTokenUse,
        now_ms: i64,
        machine: &NewMachine,
        grant: &EnrollmentGrant,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM oidc_tokens_used WHERE forget_after_ms < $1")
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        // A replay inserts nothing: NotFound, and dropping `tx` writes nothing else.
        found(
            sqlx::query(
                "INSERT INTO oidc_tokens_used (digest, forget_after_ms) VALUES ($1, $2)
                 ON CONFLICT (digest) DO NOTHING",
            )
            .bind(token.digest.as_slice())
            .bind(token.forget_after_ms)
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
