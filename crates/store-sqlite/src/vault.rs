//! The vault row. Every settings write advances the policy stamp in the same statement.

use async_trait::async_trait;
use rusqlite::{Row, params};
use signet_store::{AccessStamp, PolicyVersion, StoreResult, VaultRecord, VaultStore};

use crate::SqliteStore;
use crate::row::{col, id, opt_id};
use crate::statement::{exec, exec_found, one};

/// Advances the policy stamp inside the caller's transaction; a store without a vault has no
/// stamp to advance, which is not an error (the allowlist can be written before `create_vault`).
pub(crate) fn bump_policy(tx: &rusqlite::Connection) -> StoreResult<()> {
    exec(
        tx,
        "UPDATE vault SET policy_version = policy_version + 1 WHERE singleton = 1",
        [],
    )
    .map(drop)
}

fn vault(row: &Row<'_>) -> StoreResult<VaultRecord> {
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

#[async_trait]
impl VaultStore for SqliteStore {
    async fn vault(&self) -> StoreResult<Option<VaultRecord>> {
        self.read(|c| {
            one(
                c,
                "SELECT id, key_check, tokenless_enrollment, ip_allowlist_enabled, created_ms, cli_key_ttl_ms, enrollment_proof_required, sso_required, break_glass_user, sso_trust_provider_mfa FROM vault WHERE singleton = 1",
                [],
                vault,
            )
        })
    }

    async fn create_vault(&self, v: &VaultRecord) -> StoreResult<()> {
        let v = v.clone();
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO vault (singleton, id, key_check, tokenless_enrollment, ip_allowlist_enabled, created_ms, cli_key_ttl_ms, enrollment_proof_required, sso_required, break_glass_user, sso_trust_provider_mfa)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![v.id.as_str(), v.key_check, v.tokenless_enrollment, v.ip_allowlist_enabled, v.created_ms, v.cli_key_ttl_ms, v.enrollment_proof_required, v.sso_required, v.break_glass_user.map(|u| u.to_string()), v.sso_trust_provider_mfa],
            )
            .map(drop)
        })
        .await
    }

    async fn set_tokenless_enrollment(&self, enabled: bool) -> StoreResult<()> {
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE vault SET tokenless_enrollment = ?1, policy_version = policy_version + 1 WHERE singleton = 1",
                [enabled],
            )
        })
        .await
    }

    async fn set_ip_allowlist_enabled(&self, enabled: bool) -> StoreResult<()> {
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE vault SET ip_allowlist_enabled = ?1, policy_version = policy_version + 1 WHERE singleton = 1",
                [enabled],
            )
        })
        .await
    }

    async fn set_cli_key_ttl(&self, ttl_ms: i64) -> StoreResult<()> {
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE vault SET cli_key_ttl_ms = ?1, policy_version = policy_version + 1 WHERE singleton = 1",
                [ttl_ms],
            )
        })
        .await
    }

    async fn set_enrollment_proof_required(&self, required: bool) -> StoreResult<()> {
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE vault SET enrollment_proof_required = ?1, policy_version = policy_version + 1 WHERE singleton = 1",
                [required],
            )
        })
        .await
    }

    async fn set_sso_settings(
        &self,
        required: bool,
        break_glass_user: Option<&signet_proto::UserId>,
        trust_provider_mfa: bool,
    ) -> StoreResult<()> {
        let user = break_glass_user.map(ToString::to_string);
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE vault SET sso_required = ?1, break_glass_user = ?2, sso_trust_provider_mfa = ?3,
                     policy_version = policy_version + 1
                 WHERE singleton = 1",
                params![required, user, trust_provider_mfa],
            )
        })
        .await
    }

    async fn policy_version(&self) -> StoreResult<PolicyVersion> {
        self.read(|c| {
            one(
                c,
                "SELECT policy_version FROM vault WHERE singleton = 1",
                [],
                |r| col(r, 0).map(PolicyVersion),
            )
        })
        .map(Option::unwrap_or_default)
    }

    async fn access_stamp(&self) -> StoreResult<AccessStamp> {
        self.read(|c| {
            one(
                c,
                "SELECT stamp FROM access_stamp WHERE singleton = 1",
                [],
                |r| col(r, 0).map(AccessStamp),
            )
        })
        .map(Option::unwrap_or_default)
    }
}
