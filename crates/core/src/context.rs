//! The shared context every service works over: the store, the keys, the clock and the
//! settings, plus the audit writer (`crate::journal`) and the permission checks
//! (`crate::permission`) implemented on it. It sits below every service, so a service needing
//! one of those rules reaches it here instead of importing a sibling service.

use std::sync::Arc;

use signet_crypto::{ProjectKey, WrappedProjectKey};
use signet_proto::ProjectId;
use signet_proto::{SecretId, VaultId};
use signet_store::Store;

use crate::chain::ChainKey;
use crate::clock::Clock;
use crate::failures::{FailureLimits, Failures};
use crate::keyring::Keyring;
use crate::metrics::Metrics;
use crate::provision::{NoProvisioner, Provisioner};
use crate::stamped::StampedCache;
use crate::{CoreError, CoreResult};

/// Event streams one machine may hold open unless configured (`crate::events`, which re-exports
/// it as `MAX_STREAMS_PER_MACHINE`; declared here because the context sits below the services).
pub(crate) const EVENT_STREAMS_PER_MACHINE: usize = 4;

/// Settings that come from the server's configuration rather than the database.
#[derive(Debug, Clone)]
pub struct SignetConfig {
    /// The public base URL machines are told to use (no trailing slash).
    pub api_url: String,
    /// Tokenless enrollment requests allowed per source address per minute.
    pub tokenless_requests_per_minute: u32,
    /// The per-source authentication-failure budget and audit aggregation
    /// (`crate::failures`).
    pub auth_failures: FailureLimits,
    /// Creates and drops roles in the databases leased secrets mint credentials in
    /// (`crate::provision`); the default fails every operation (`unconfigured`).
    pub provisioner: Arc<dyn Provisioner>,
    /// Event streams one machine may hold open at once (`crate::events`).
    pub event_streams_per_machine: usize,
}

impl Default for SignetConfig {
    fn default() -> Self {
        Self {
            api_url: "http://localhost:8420".to_owned(),
            tokenless_requests_per_minute: 5,
            auth_failures: FailureLimits::default(),
            provisioner: Arc::new(NoProvisioner),
            event_streams_per_machine: EVENT_STREAMS_PER_MACHINE,
        }
    }
}

/// What every service shares; one per process, behind an `Arc` each service holds. State only
/// one service uses lives in that service instead (the password-hash gate in `Accounts`, the
/// policy cache in `Network`, ...).
pub(crate) struct Context {
    /// Where everything lives.
    pub(crate) store: Arc<dyn Store>,
    /// The root keyring (`crate::keyring`): the unseal key and the generations that wrap
    /// project keys. Held for the life of the process; zeroized on drop.
    pub(crate) root: Keyring,
    /// This installation's vault.
    pub(crate) vault: VaultId,
    /// Time source (tests move it).
    pub(crate) clock: Arc<dyn Clock>,
    /// Links the audit chain with a key derived from the root key.
    pub(crate) chain: Arc<ChainKey>,
    /// Authentication failures per source: the budget authentication checks first, and the
    /// aggregated records the audit writer and `AuditLog::flush_auth_failures` write.
    pub(crate) failures: Failures,
    /// Static settings.
    pub(crate) config: SignetConfig,
    /// Rotations an access policy made due ("rotate after N reads"): `(secret, version read)`.
    /// A channel rather than a call because the read path sits below the rotation service;
    /// `Signet::open` spawns the task that rotates them. Bounded, and a full queue drops the
    /// request: every later read past N asks again, so nothing is lost but a duplicate.
    pub(crate) rotations_due: tokio::sync::mpsc::Sender<(SecretId, u32)>,
    /// Machine lookups and read views, valid while the access stamp has not moved
    /// (`crate::stamped`): authentication and the read path share them.
    pub(crate) stamped: StampedCache,
    /// Counters for the server's scrape (`crate::metrics`).
    pub(crate) metrics: Metrics,
    /// Where audit records go besides the store (`crate::audit_device`).
    pub(crate) devices: crate::audit_device::AuditDevices,
}

impl Context {
    /// Current time, Unix ms.
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Installs the audit devices (`crate::audit_device`).
    pub(crate) async fn set_audit_devices(
        &self,
        devices: Vec<Arc<dyn crate::audit_device::AuditDevice>>,
    ) -> CoreResult<()> {
        self.devices.install(self.store.as_ref(), devices).await
    }

    /// Writes the records the audit devices lack, up to `up_to` or the head
    /// (`crate::audit_device::AuditDevices::flush`).
    pub(crate) async fn flush_devices(&self, up_to: Option<u64>) -> CoreResult<()> {
        self.devices
            .flush(self.store.as_ref(), up_to, self.now_ms())
            .await
    }

    /// Failed writes per audit device, for the metrics scrape.
    pub(crate) fn device_failures(&self) -> Vec<(String, u64)> {
        self.devices.failures()
    }
}

impl Context {
    /// A project's key, unwrapped under the generation its row names.
    pub(crate) async fn unwrap_project_key(
        &self,
        project: &ProjectId,
        wrapped: &[u8],
        generation: u32,
    ) -> CoreResult<ProjectKey> {
        let root = self
            .root
            .generation(self.store.as_ref(), generation)
            .await?;
        root.unwrap_project_key(
            self.vault.as_str(),
            project.as_str(),
            &WrappedProjectKey(wrapped.to_vec()),
        )
        .map_err(|_| {
            tracing::error!(project = %project, generation, "project key failed to unwrap");
            CoreError::Unavailable
        })
    }

    /// Wraps a new project key under the current generation: the wrapped key and its
    /// generation, for the project's row.
    pub(crate) async fn wrap_project_key(
        &self,
        project: &ProjectId,
        key: &ProjectKey,
    ) -> CoreResult<(Vec<u8>, u32)> {
        let root = self.root.current(self.store.as_ref()).await?;
        let wrapped = root
            .wrap_project_key(self.vault.as_str(), project.as_str(), key)
            .map_err(|_| CoreError::Unavailable)?;
        Ok((wrapped.0, root.generation()))
    }
}
