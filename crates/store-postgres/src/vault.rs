//! The vault row. Every change to it advances the policy stamp and is announced on the change
//! feed, in its own transaction (`change::policy_changed`).

use async_trait::async_trait;
use signet_store::{AccessStamp, PolicyVersion, StoreResult, VaultRecord, VaultStore};
use sqlx::postgres::PgRow;

use crate::change::policy_changed;
use crate::error::db;
use crate::row::{col, id, opt_id};
use crate::{PgStore, found};

fn vault(row: &PgRow) -> StoreResult<VaultRecord> {
    Ok(VaultRecord {
        id: id(row, 0)?,
        key_check: col(row, 1)?,
        tokenless_enrollment: col(row, 2)?,
        ip_allowlist_enabled: col(row, 3)?,
        created_ms: col(row, 4)?,
        cli_key_ttl_ms: col(row, 5)?,
        enrollment_proof_required: col(row, 6)?,
        sso_required: col(row, 7)?,
        break_glass_user: opt_id(row, 8)?,
        sso_trust_provider_mfa: col(row, 9)?,
    })
}

impl PgStore {
    /// Runs one settings update and announces it, committed together.
    async fn update_vault(
        &self,
        query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        found(query.execute(&mut *tx).await.map_err(db)?)?;
        policy_changed(&mut tx).await?;
        self.commit(tx).await
    }
}

#[async_trait]
impl VaultStore for PgStore {
    async fn vault(&self) -> StoreResult<Option<VaultRecord>> {
        sqlx::query(
            "SELECT id, key_check, tokenless_enrollment, ip_allowlist_enabled, created_ms, cli_key_ttl_ms,
                    enrollment_proof_required, sso_required, break_glass_user, sso_trust_provider_mfa
             FROM vault WHERE singleton = 1",
        )
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .map(|r| vault(&r))
        .transpose()
    }

    async fn create_vault(&self, v: &VaultRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO vault (singleton, id, key_check, tokenless_enrollment, ip_allowlist_enabled, created_ms, cli_key_ttl_ms,
                                enrollment_proof_required, sso_required, break_glass_user,
                                sso_trust_provider_mfa)
             VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(v.id.to_string())
        .bind(&v.key_check)
        .bind(v.tokenless_enrollment)
        .bind(v.ip_allowlist_enabled)
        .bind(v.created_ms)
        .bind(v.cli_key_ttl_ms)
        .bind(v.enrollment_proof_required)
        .bind(v.sso_required)
        .bind(v.break_glass_user.map(|u| u.to_string()))
        .bind(v.sso_trust_provider_mfa)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        policy_changed(&mut tx).await?;
        self.commit(tx).await
    }

    async fn set_sso_settings(
        &self,
        required: bool,
        break_glass_user: Option<&signet_proto::UserId>,
        trust_provider_mfa: bool,
    ) -> StoreResult<()> {
        self.update_vault(
            sqlx::query(
                "UPDATE vault SET sso_required = $1, break_glass_user = $2,
                     sso_trust_provider_mfa = $3
                 WHERE singleton = 1",
            )
            .bind(required)
            .bind(break_glass_user.map(ToString::to_string))
            .bind(trust_provider_mfa),
        )
        .await
    }

    async fn set_tokenless_enrollment(&self, enabled: bool) -> StoreResult<()> {
        self.update_vault(
            sqlx::query("UPDATE vault SET tokenless_enrollment = $1 WHERE singleton = 1")
                .bind(enabled),
        )
        .await
    }

    async fn set_ip_allowlist_enabled(&self, enabled: bool) -> StoreResult<()> {
        self.update_vault(
            sqlx::query("UPDATE vault SET ip_allowlist_enabled = $1 WHERE singleton = 1")
                .bind(enabled),
        )
        .await
    }

    async fn set_cli_key_ttl(&self, ttl_ms: i64) -> StoreResult<()> {
        self.update_vault(
            sqlx::query("UPDATE vault SET cli_key_ttl_ms = $1 WHERE singleton = 1").bind(ttl_ms),
        )
        .await
    }

    async fn set_enrollment_proof_required(&self, required: bool) -> StoreResult<()> {
        self.update_vault(
            sqlx::query("UPDATE vault SET enrollment_proof_required = $1 WHERE singleton = 1")
                .bind(required),
        )
        .await
    }

    async fn policy_version(&self) -> StoreResult<PolicyVersion> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT policy_version FROM vault WHERE singleton = 1")
                .fetch_optional(self.pool())
                .await
                .map_err(db)?;
        Ok(PolicyVersion(version.unwrap_or_default()))
    }

    async fn access_stamp(&self) -> StoreResult<AccessStamp> {
        let stamp: Option<i64> =
            sqlx::query_scalar("SELECT stamp FROM access_stamp WHERE singleton = 1")
                .fetch_optional(self.pool())
                .await
                .map_err(db)?;
        Ok(AccessStamp(stamp.unwrap_or_default()))
    }
}
