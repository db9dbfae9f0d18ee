//! Opening an installation: the vault is created once, then every start checks the root key.

use std::sync::Arc;

use signet_api::audit::AuditAction;
use signet_crypto::RootKey;
use signet_proto::VaultId;
use signet_store::{Store, StoreError, VaultRecord};

use crate::CoreResult;
use crate::context::Context;
use crate::network::Network;
use crate::principal::AuthedOperator;
use crate::role::Permission;

/// Why the vault could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The root key is not the one this database was written with.
    #[error(
        "the root key does not match this database (key-check mismatch); refusing to start. \
         Supply the root key this data folder was created with"
    )]
    WrongRootKey,
    /// The store failed.
    #[error("storage failed while opening the vault: {0}")]
    Store(StoreError),
}

/// Opens the vault, creating it with `root`'s key-check value on a fresh store.
pub(crate) async fn open_or_create(
    store: &dyn Store,
    root: &RootKey,
    now_ms: i64,
) -> Result<VaultRecord, OpenError> {
    let check = root.key_check();
    if let Some(v) = store.vault().await.map_err(OpenError::Store)? {
        return if check.matches(&v.key_check) {
            Ok(v)
        } else {
            Err(OpenError::WrongRootKey)
        };
    }
    let v = VaultRecord {
        id: VaultId::generate(),
        key_check: check.0.to_vec(),
        tokenless_enrollment: true,
        ip_allowlist_enabled: false,
        created_ms: now_ms,
        cli_key_ttl_ms: crate::account::CLI_KEY_TTL_MS,
        // Off, so the SikkerKey SDKs (which cannot prove possession) can enroll.
        enrollment_proof_required: false,
        sso_required: false,
        break_glass_user: None,
        sso_trust_provider_mfa: false,
    };
    match store.create_vault(&v).await {
        Ok(()) => Ok(v),
        // Another process created it first; check against theirs.
        Err(StoreError::Conflict(_)) => match store.vault().await.map_err(OpenError::Store)? {
            Some(v) if check.matches(&v.key_check) => Ok(v),
            Some(_) => Err(OpenError::WrongRootKey),
            None => Err(OpenError::Store(StoreError::Unavailable)),
        },
        Err(e) => Err(OpenError::Store(e)),
    }
}

/// The vault as shown to operators.
#[derive(Debug, Clone)]
pub struct VaultView {
    /// Its id.
    pub vault_id: VaultId,
    /// Whether tokenless enrollment requests are accepted.
    pub tokenless_enrollment: bool,
    /// Whether the IP allowlist is enforced.
    pub ip_allowlist_enabled: bool,
    /// How long a `signet login` key authenticates, ms.
    pub cli_key_ttl_ms: i64,
    /// Whether enrollment must prove possession of the new key.
    pub require_enrollment_proof: bool,
    /// Whether people must sign in through SSO (all but the break-glass owner).
    pub sso_required: bool,
    /// The break-glass owner.
    pub break_glass_user: Option<signet_proto::UserId>,
    /// Whether the provider's asserted second factor counts as step-up.
    pub sso_trust_provider_mfa: bool,
    /// Unix ms.
    pub created_at: i64,
}

/// The vault's settings: its view, tokenless enrollment, the enrollment proof, the CLI key lifetime.
#[derive(Clone)]
pub struct VaultSettings {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
    /// Reloads the cached policy after a settings change.
    pub(crate) network: Network,
}

impl VaultSettings {
    /// The vault's settings.
    pub async fn vault_view(&self) -> CoreResult<VaultView> {
        let v = self
            .cx
            .store
            .vault()
            .await?
            .ok_or(crate::CoreError::Unavailable)?;
        Ok(VaultView {
            vault_id: v.id,
            tokenless_enrollment: v.tokenless_enrollment,
            ip_allowlist_enabled: v.ip_allowlist_enabled,
            cli_key_ttl_ms: v.cli_key_ttl_ms,
            require_enrollment_proof: v.enrollment_proof_required,
            sso_required: v.sso_required,
            break_glass_user: v.break_glass_user,
            sso_trust_provider_mfa: v.sso_trust_provider_mfa,
            created_at: v.created_ms,
        })
    }

    /// Turns tokenless enrollment requests on or off.
    pub async fn set_tokenless_enrollment(
        &self,
        op: &AuthedOperator,
        enabled: bool,
    ) -> CoreResult<VaultView> {
        self.cx
            .require(
                op,
                Permission::ManageVault,
                AuditAction::VaultSettingsUpdate,
            )
            .await?;
        self.cx
            .audited(
                op,
                AuditAction::VaultSettingsUpdate,
                "",
                &format!("tokenless_enrollment={enabled}"),
            )
            .set_tokenless_enrollment(enabled)
            .await?;
        self.network.policy.refresh(self.cx.store.as_ref()).await?;
        self.vault_view().await
    }

    /// Requires enrollment to prove possession of the new key, or stops requiring it. While on,
    /// the SikkerKey SDKs cannot enroll (they send no proof).
    pub async fn set_enrollment_proof_required(
        &self,
        op: &AuthedOperator,
        required: bool,
    ) -> CoreResult<VaultView> {
        self.cx
            .require(
                op,
                Permission::ManageVault,
                AuditAction::VaultSettingsUpdate,
            )
            .await?;
        self.cx
            .audited(
                op,
                AuditAction::VaultSettingsUpdate,
                "",
                &format!("require_enrollment_proof={required}"),
            )
            .set_enrollment_proof_required(required)
            .await?;
        self.vault_view().await
    }

    /// Sets how long keys made by `signet login` from now on authenticate: between
    /// [`CLI_KEY_TTL_MIN_MS`] and [`CLI_KEY_TTL_MAX_MS`]. Keys already issued keep their expiry.
    pub async fn set_cli_key_ttl(&self, op: &AuthedOperator, ttl_ms: i64) -> CoreResult<VaultView> {
        self.cx
            .require(
                op,
                Permission::ManageVault,
                AuditAction::VaultSettingsUpdate,
            )
            .await?;
        if !(CLI_KEY_TTL_MIN_MS..=CLI_KEY_TTL_MAX_MS).contains(&ttl_ms) {
            return Err(crate::CoreError::bad(
                "cliKeyTtlMs must be between 5 minutes and 30 days",
            ));
        }
        self.cx
            .audited(
                op,
                AuditAction::VaultSettingsUpdate,
                "",
                &format!("cli_key_ttl_ms={ttl_ms}"),
            )
            .set_cli_key_ttl(ttl_ms)
            .await?;
        self.vault_view().await
    }
}

/// Shortest lifetime a vault may give CLI sign-in keys: 5 minutes.
/// A change to the SSO settings; `None` keeps a setting. `break_glass_user` is a user id or
/// username; an empty one clears it.
#[derive(Debug, Clone, Default)]
pub struct SsoSettings {
    /// Require SSO.
    pub required: Option<bool>,
    /// The break-glass owner.
    pub break_glass_user: Option<String>,
    /// Trust the provider's MFA.
    pub trust_provider_mfa: Option<bool>,
}

impl VaultSettings {
    /// Changes the SSO settings (owners only). Requiring SSO needs a break-glass owner (set now
    /// or before: an active owner with a password and a TOTP or passkey, linked to no
    /// provider) and an enabled provider with a mapping; a break-glass owner cannot be cleared
    /// while SSO is required.
    pub async fn set_sso_settings(
        &self,
        op: &AuthedOperator,
        change: SsoSettings,
    ) -> CoreResult<VaultView> {
        const ACTION: AuditAction = AuditAction::VaultSettingsUpdate;
        self.cx.require(op, Permission::ManageOwners, ACTION).await?;
        let v = self
            .cx
            .store
            .vault()
            .await?
            .ok_or(crate::CoreError::Unavailable)?;
        let break_glass = match change.break_glass_user.as_deref().map(str::trim) {
            None => v.break_glass_user,
            Some("") => None,
            Some(name) => Some(self.break_glass_candidate(name).await?),
        };
        if change.break_glass_user.is_none()
            && let Some(id) = break_glass
        {
            // Still a fit break-glass owner? (Checked again whenever SSO is turned on.)
            if change.required == Some(true) {
                self.break_glass_candidate(&id.to_string()).await?;
            }
        }
        let required = change.required.unwrap_or(v.sso_required);
        let trust = change.trust_provider_mfa.unwrap_or(v.sso_trust_provider_mfa);
        if required {
            if break_glass.is_none() {
                return Err(crate::CoreError::bad(
                    "requiring SSO needs a break-glass owner (breakGlassUser)",
                ));
            }
            let mut usable = false;
            for p in self.cx.store.sso_providers().await? {
                if p.enabled && !self.cx.store.sso_mappings(&p.id).await?.is_empty() {
                    usable = true;
                    break;
                }
            }
            if !usable {
                return Err(crate::CoreError::bad(
                    "requiring SSO needs an enabled provider with at least one mapping",
                ));
            }
        }
        self.cx
            .audited(
                op,
                ACTION,
                "",
                &format!(
                    "sso_required={required} break_glass_user={} sso_trust_provider_mfa={trust}",
                    break_glass.map(|u| u.to_string()).unwrap_or_default()
                ),
            )
            .set_sso_settings(required, break_glass.as_ref(), trust)
            .await?;
        self.vault_view().await
    }

    /// The user `name` (an id or username) if they can be the break-glass owner.
    async fn break_glass_candidate(&self, name: &str) -> CoreResult<signet_proto::UserId> {
        let user = match signet_proto::UserId::parse(name) {
            Ok(id) => self.cx.store.user(&id).await?,
            Err(_) => match crate::account::canonical(name) {
                Ok(c) => self.cx.store.user_by_login(&c).await?,
                Err(_) => None,
            },
        };
        let unfit = || {
            crate::CoreError::bad(
                "breakGlassUser must be an active owner with a password and a TOTP or passkey,                  linked to no SSO provider",
            )
        };
        let user = user.ok_or_else(unfit)?;
        let second_factor = user.totp_sealed.is_some()
            || !self.cx.store.passkeys(&user.id).await?.is_empty();
        let fit = user.role == signet_store::Role::Owner
            && user.status == signet_store::UserStatus::Active
            && !user.password_hash.is_empty()
            && second_factor
            && self.cx.store.user_sso_identities(&user.id).await?.is_empty();
        if !fit {
            return Err(unfit());
        }
        Ok(user.id)
    }
}

pub const CLI_KEY_TTL_MIN_MS: i64 = 5 * 60 * 1000;
/// Longest: 30 days.
pub const CLI_KEY_TTL_MAX_MS: i64 = 30 * 24 * 3600 * 1000;
