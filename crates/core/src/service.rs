//! The service object shared by every request.

use std::sync::Arc;

use signet_crypto::RootKey;
use signet_proto::VaultId;
use signet_store::Store;

use crate::audit::ChainKey;
use crate::auth::KeyCache;
use crate::clock::Clock;
use crate::enrollment::RequestLimiter;
use crate::network::PolicyCache;
use crate::vault::{self, OpenError};

/// Settings that come from the server's configuration rather than the database.
#[derive(Debug, Clone)]
pub struct SignetConfig {
    /// The public base URL machines are told to use (no trailing slash).
    pub api_url: String,
    /// Tokenless enrollment requests allowed per source address per minute.
    pub tokenless_requests_per_minute: u32,
    /// The per-source authentication-failure budget and audit aggregation
    /// (`crate::failures`).
    pub auth_failures: crate::failures::FailureLimits,
}

impl Default for SignetConfig {
    fn default() -> Self {
        Self {
            api_url: "http://localhost:8420".to_owned(),
            tokenless_requests_per_minute: 5,
            auth_failures: crate::failures::FailureLimits::default(),
        }
    }
}

/// The business layer: one per process, shared by all requests.
pub struct Signet {
    /// Where everything lives.
    pub(crate) store: Arc<dyn Store>,
    /// Unwraps project keys. Held for the life of the process; zeroized on drop.
    pub(crate) root: RootKey,
    /// This installation's vault.
    pub(crate) vault: VaultId,
    /// Time source (tests move it).
    pub(crate) clock: Arc<dyn Clock>,
    /// Links the audit chain with a key derived from the root key.
    pub(crate) chain: Arc<ChainKey>,
    /// The allowlist, read on every machine request, so cached: reloaded whenever a request's
    /// policy stamp is newer than the cache (another replica changed it), after this process's
    /// own changes, and early when the store's change feed reports one.
    pub(crate) policy: PolicyCache,
    /// Parsed public keys: decompressing a point costs more than the lookup.
    pub(crate) keys: KeyCache,
    /// Throttles tokenless enrollment requests.
    pub(crate) limiter: RequestLimiter,
    /// Bounds concurrent password hashes (memory-hard, 19 MiB each).
    pub(crate) hashes: crate::account::HashGate,
    /// Throttles sign-in attempts per source address (the per-account lock is in the store).
    pub(crate) login_limiter: RequestLimiter,
    /// The first-run setup code, while no user exists.
    pub(crate) setup: crate::session::SetupSlot,
    /// The WebAuthn relying party, from `config.api_url`.
    pub(crate) passkeys: crate::passkey::RelyingParty,
    /// The last readiness answer (`/readyz`).
    pub(crate) readiness: crate::readiness::Readiness,
    /// Authentication failures per source: the budget and the aggregated audit.
    pub(crate) failures: crate::failures::Failures,
    /// Request budgets per machine.
    pub(crate) budgets: crate::budget::Budgets,
    /// Static settings.
    pub(crate) config: SignetConfig,
}

impl Signet {
    /// Opens the vault in `store` (creating it on a fresh store) and checks that `root` is the
    /// key its data was written under.
    pub async fn open(
        store: Arc<dyn Store>,
        root: RootKey,
        clock: Arc<dyn Clock>,
        config: SignetConfig,
    ) -> Result<Self, OpenError> {
        let vault = vault::open_or_create(store.as_ref(), &root, clock.now_ms()).await?;
        let policy = PolicyCache::load(store.as_ref())
            .await
            .map_err(OpenError::Store)?;
        Ok(Self {
            chain: Arc::new(ChainKey::new(root.audit_key())),
            limiter: RequestLimiter::new(config.tokenless_requests_per_minute),
            hashes: crate::account::HashGate::new(),
            login_limiter: RequestLimiter::new(
                crate::account::LOGIN_ATTEMPTS_PER_SOURCE_PER_MINUTE,
            ),
            store,
            root,
            vault: vault.id,
            clock: clock.clone(),
            policy,
            keys: KeyCache::default(),
            setup: Default::default(),
            passkeys: crate::passkey::RelyingParty::from_api_url(&config.api_url),
            readiness: Default::default(),
            failures: crate::failures::Failures::new(config.auth_failures, clock.clone()),
            budgets: crate::budget::Budgets::new(clock.clone()),
            config,
        })
    }

    /// The vault this installation serves.
    pub fn vault_id(&self) -> &VaultId {
        &self.vault
    }

    /// The public base URL.
    pub fn api_url(&self) -> &str {
        &self.config.api_url
    }

    /// Current time, Unix ms.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Whether the store answers reads and takes the audit log's writes (for `/readyz`);
    /// bounded and cached, see [`crate::readiness`].
    pub async fn ready(&self) -> bool {
        self.readiness.check(self.store.as_ref()).await
    }

    /// Forgets expired nonces and WebAuthn ceremonies; run periodically. Returns how many rows
    /// went.
    pub async fn sweep(&self) -> crate::CoreResult<u64> {
        let nonces = self.store.sweep_nonces(self.now_ms()).await?;
        Ok(nonces + self.sweep_ceremonies().await?)
    }
}
