//! The vault: this installation's tenant, with its settings and root-key check value.

use async_trait::async_trait;
use signet_proto::VaultId;

use crate::StoreResult;

/// The single vault an installation serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultRecord {
    /// Its id, fixed at creation.
    pub id: VaultId,
    /// Identifies the root key the data was written under (see `signet_crypto::KeyCheck`).
    pub key_check: Vec<u8>,
    /// Whether machines may register without any token (`signet enroll --request`).
    pub tokenless_enrollment: bool,
    /// Whether the vault IP allowlist is enforced. Enabled and empty admits nothing.
    pub ip_allowlist_enabled: bool,
    /// Creation time, Unix ms.
    pub created_ms: i64,
    /// How long a key registered by `signet login` authenticates, ms.
    pub cli_key_ttl_ms: i64,
    /// Whether enrollment must carry the new key's proof of possession. Off by default: the
    /// SikkerKey SDKs cannot send one.
    pub enrollment_proof_required: bool,
    /// Whether people must sign in through SSO: password and passkey sign-in, and accepting
    /// an invitation, are refused for all but [`VaultRecord::break_glass_user`].
    pub sso_required: bool,
    /// The owner who may still sign in with a password and second factor when SSO is required;
    /// never linked to or signed in through a provider.
    pub break_glass_user: Option<signet_proto::UserId>,
    /// Whether a second factor the provider asserts (`amr`) counts as Signet's step-up.
    pub sso_trust_provider_mfa: bool,
}

/// The vault's policy stamp: a counter that moves forward in the same transaction as every write
/// to the vault settings or the IP allowlist, on every backend.
///
/// A replica caches the policy; a signed request reads the stamp with its machine lookup
/// ([`MachineStore::machine_at_policy`](crate::MachineStore::machine_at_policy)), and a cache
/// older than the stamp is reloaded before it decides anything. That makes a policy change
/// effective on every replica at the next request, whether or not a change notification has
/// arrived. Zero on a store without a vault.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyVersion(pub i64);

/// The access stamp: a counter that moves forward in the same transaction as every committed
/// change to the data a machine's record or a secret's read view is built from (the vault
/// settings and allowlist, machines, memberships, grants, projects, secrets and versions,
/// policies, leased-secret settings), on every backend, by database triggers.
///
/// A replica caches machine records and read views tagged with the stamp they were read at (or
/// an older one), and uses an entry only when the stamp read for the request at hand, after it
/// arrived, is the same: any change committed before that read has moved the stamp, so a
/// revocation or a removed grant is seen by the next request on every replica. Equal stamps
/// mean equal access data; nothing is promised about how far it moves per change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccessStamp(pub i64);

/// Vault creation and settings.
#[async_trait]
pub trait VaultStore {
    /// The vault, or `None` on a fresh database.
    async fn vault(&self) -> StoreResult<Option<VaultRecord>>;
    /// Creates the vault. Fails with `Conflict::Vault` if one exists.
    async fn create_vault(&self, vault: &VaultRecord) -> StoreResult<()>;
    /// Turns tokenless enrollment requests on or off.
    async fn set_tokenless_enrollment(&self, enabled: bool) -> StoreResult<()>;
    /// Turns the vault IP allowlist on or off.
    async fn set_ip_allowlist_enabled(&self, enabled: bool) -> StoreResult<()>;
    /// Sets how long new CLI sign-in keys live. Keys already issued keep their expiry.
    async fn set_cli_key_ttl(&self, ttl_ms: i64) -> StoreResult<()>;
    /// Requires (or stops requiring) a proof of possession at enrollment.
    async fn set_enrollment_proof_required(&self, required: bool) -> StoreResult<()>;
    /// Replaces the three SSO settings together (core checks the rules between them).
    async fn set_sso_settings(
        &self,
        required: bool,
        break_glass_user: Option<&signet_proto::UserId>,
        trust_provider_mfa: bool,
    ) -> StoreResult<()>;
    /// The current policy stamp (see [`PolicyVersion`]). Every setter above, and every
    /// allowlist write, advances it in its own transaction; a write that fails leaves it.
    async fn policy_version(&self) -> StoreResult<PolicyVersion>;
    /// The current access stamp (see [`AccessStamp`]), as committed now.
    async fn access_stamp(&self) -> StoreResult<AccessStamp>;
}
