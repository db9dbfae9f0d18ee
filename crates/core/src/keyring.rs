//! The root keyring and its rotation (`docs/operations.md`, "Key rotation").
//!
//! The key the operator holds (the root key file) is the *unseal key*. It derives the
//! integrity keys (audit chain, key check, webhook and archive signing) as it always has, and it
//! is generation 0 of the keyring. Later generations are random keys the unseal key seals into
//! the store (`signet_store::KeyringStore`); the highest live one is current. Project keys are
//! wrapped under a generation and name it (`ProjectRecord::root_generation`), so rotation is
//! online: a new generation becomes current, old project keys are re-wrapped under it in
//! batches, and once nothing names an old generation it can be retired (its sealed key deleted).
//!
//! Every replica reads the keyring from the shared store: a blob naming a generation this
//! process has not seen makes it reload the keyring once (then it fails closed), and every seal
//! re-reads it, so a replica that missed a rotation never wraps under a retired generation (the
//! store refuses that race too).
//!
//! TOTP seeds, share links, webhook and SSO client secrets are still sealed under keys derived
//! from the unseal key directly, like the integrity keys: this rotation does not re-wrap them.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use signet_api::audit::AuditAction;
use signet_crypto::{ProjectKey, RootKey, WrappedProjectKey};
use signet_proto::{ProjectId, VaultId};
use signet_store::{RootGenerationRecord, Store};

use crate::context::Context;
use crate::principal::AuthedOperator;
use crate::role::Permission;
use crate::{CoreError, CoreResult};

/// How long one operator call keeps re-wrapping before it answers: well inside the clients'
/// 15 s timeout, like `crate::audit::ARCHIVE_CALL_BUDGET`.
pub const ROTATION_CALL_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// Projects re-wrapped per store listing.
const REWRAP_BATCH: u32 = 64;

/// Projects per listing, and whether a call stops after its first listing: [`REWRAP_BATCH`]
/// and no, or 1 and yes in a test build with the fault point `root_rewrap_one_per_call` armed,
/// so end-to-end tests watch a rotation span many calls while load runs (a release build has
/// no fault points).
fn rewrap_batch() -> (u32, bool) {
    fail::fail_point!("root_rewrap_one_per_call", |_| (1, true));
    (REWRAP_BATCH, false)
}

/// The keys of the live generations this process knows, and the unseal key.
pub(crate) struct Keyring {
    /// The root key file's key: seals the generations, derives the integrity keys.
    unseal: Arc<RootKey>,
    /// The vault the generations are bound to.
    vault: String,
    /// Live generations by number, as last read from the store.
    keys: RwLock<BTreeMap<u32, Arc<RootKey>>>,
}

impl Keyring {
    /// A keyring that knows generation 0 (the unseal key) until [`Keyring::load`] reads the
    /// store.
    pub(crate) fn new(unseal: RootKey, vault: &VaultId) -> Self {
        let unseal = Arc::new(unseal);
        Self {
            keys: RwLock::new(BTreeMap::from([(0, unseal.clone())])),
            unseal,
            vault: vault.as_str().to_owned(),
        }
    }

    /// The unseal key, for what it derives directly (integrity keys; TOTP, share, webhook and
    /// SSO secrets' keys).
    pub(crate) fn unseal(&self) -> &RootKey {
        &self.unseal
    }

    fn cached(&self, generation: u32) -> Option<Arc<RootKey>> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&generation)
            .cloned()
    }

    /// Reads the live generations from the store and opens them; answers the current one.
    /// Fails closed: a generation that does not open (another unseal key, tampering) is an
    /// outage, not a reason to seal under an older one.
    pub(crate) async fn load(&self, store: &dyn Store) -> CoreResult<Arc<RootKey>> {
        let rows = store.root_generations().await?;
        let mut keys = BTreeMap::new();
        for row in rows {
            let key = match (row.generation, &row.sealed) {
                (0, _) => self.unseal.clone(),
                (n, Some(sealed)) => Arc::new(
                    self.unseal
                        .open_generation(&self.vault, n, sealed)
                        .map_err(|_| {
                            tracing::error!(
                                generation = n,
                                "a root key generation does not open with this root key file"
                            );
                            CoreError::Unavailable
                        })?,
                ),
                (n, None) => {
                    tracing::error!(generation = n, "a root key generation has no sealed key");
                    return Err(CoreError::Unavailable);
                }
            };
            keys.insert(row.generation, key);
        }
        let Some(current) = keys.values().next_back().cloned() else {
            tracing::error!("the store's root keyring is empty");
            return Err(CoreError::Unavailable);
        };
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
        Ok(current)
    }

    /// The key of `generation`: known, or after one reload (another replica may have made it),
    /// else `Unavailable`.
    pub(crate) async fn generation(
        &self,
        store: &dyn Store,
        generation: u32,
    ) -> CoreResult<Arc<RootKey>> {
        if let Some(key) = self.cached(generation) {
            return Ok(key);
        }
        self.load(store).await?;
        self.cached(generation).ok_or_else(|| {
            tracing::error!(
                generation,
                "a value names a root key generation that is not live"
            );
            CoreError::Unavailable
        })
    }

    /// The current generation's key, read from the store now: seals are rare, and a replica
    /// must not seal under a generation another one has retired meanwhile.
    pub(crate) async fn current(&self, store: &dyn Store) -> CoreResult<Arc<RootKey>> {
        self.load(store).await
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

/// One live root key generation, as `signet key status` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootGenerationView {
    /// Its number (0: the root key file itself).
    pub generation: u32,
    /// Whether new values are wrapped under it.
    pub current: bool,
    /// Project keys still wrapped under it.
    pub project_keys: u64,
    /// When it was made, Unix ms (0 for generation 0).
    pub created_ms: i64,
}

/// What one `signet key rotate-root` call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootRotation {
    /// The current generation, which everything is being re-wrapped under.
    pub generation: u32,
    /// Whether this call made it current.
    pub started: bool,
    /// Project keys this call re-wrapped.
    pub rewrapped: u64,
    /// Project keys still wrapped under older generations.
    pub remaining: u64,
    /// Whether another call is needed (`remaining > 0`).
    pub more: bool,
}

/// Root key rotation and retirement: `Keys::of(&signet)`.
#[derive(Clone)]
pub struct Keys {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
}

impl Keys {
    async fn require_owner_write(
        &self,
        op: &AuthedOperator,
        action: AuditAction,
    ) -> CoreResult<()> {
        self.cx
            .require(op, Permission::ManageOwners, action)
            .await?;
        self.cx.require_step_up(op, action).await
    }

    /// The live generations, lowest first, with what each still wraps (owners).
    pub async fn root_status(&self, op: &AuthedOperator) -> CoreResult<Vec<RootGenerationView>> {
        self.cx
            .require(op, Permission::ManageOwners, AuditAction::RootKeyRotate)
            .await?;
        let store = self.cx.store.as_ref();
        let rows = store.root_generations().await?;
        let uses = store.root_generation_use().await?;
        let current = rows.last().map(|r| r.generation);
        Ok(rows
            .into_iter()
            .map(|r| RootGenerationView {
                generation: r.generation,
                current: Some(r.generation) == current,
                project_keys: uses
                    .iter()
                    .find(|u| u.generation == r.generation)
                    .map_or(0, |u| u.project_keys),
                created_ms: r.created_ms,
            })
            .collect())
    }

    /// With `start`, makes a new generation current (audited `root_key_rotate`); then
    /// re-wraps project keys under the current generation for up to
    /// [`ROTATION_CALL_BUDGET`]. Call again (without `start`) while `more` (owners, with a
    /// fresh second factor in a browser).
    pub async fn rotate_root(&self, op: &AuthedOperator, start: bool) -> CoreResult<RootRotation> {
        const ACTION: AuditAction = AuditAction::RootKeyRotate;
        self.require_owner_write(op, ACTION).await?;
        let store = self.cx.store.as_ref();
        let deadline = tokio::time::Instant::now() + ROTATION_CALL_BUDGET;
        let mut current = self.cx.root.current(store).await?;
        if start {
            let from = current.generation();
            let next = from.checked_add(1).ok_or(CoreError::Unavailable)?;
            let key = RootKey::generate_generation(next).map_err(|_| CoreError::Unavailable)?;
            let sealed = self
                .cx
                .root
                .unseal()
                .seal_generation(self.cx.vault.as_str(), &key)
                .map_err(|_| CoreError::Unavailable)?;
            let record = RootGenerationRecord {
                generation: next,
                sealed: Some(sealed),
                created_ms: self.cx.now_ms(),
            };
            self.cx
                .audited(op, ACTION, "", &format!("from={from} to={next}"))
                .add_root_generation(&record)
                .await?;
            // Re-read: another rotation may have made a newer one in the instant between, and
            // everything goes under whichever is current.
            current = self.cx.root.current(store).await?;
        }
        let to = current.generation();
        let mut rewrapped = 0u64;
        let (batch_size, one_batch) = rewrap_batch();
        'batches: loop {
            let batch = store.projects_below_generation(to, batch_size).await?;
            if batch.is_empty() {
                break;
            }
            for p in batch {
                let key = self
                    .cx
                    .unwrap_project_key(&p.id, &p.wrapped_key, p.root_generation)
                    .await?;
                let wrapped = current
                    .wrap_project_key(self.cx.vault.as_str(), p.id.as_str(), &key)
                    .map_err(|_| CoreError::Unavailable)?;
                // A compare-and-swap: another caller may have moved it meanwhile.
                if store
                    .rewrap_project_key(&p.id, p.root_generation, &wrapped.0, to)
                    .await?
                {
                    rewrapped += 1;
                }
                if tokio::time::Instant::now() >= deadline {
                    break 'batches;
                }
            }
            if one_batch {
                break;
            }
        }
        let remaining = store
            .root_generation_use()
            .await?
            .iter()
            .filter(|u| u.generation < to)
            .map(|u| u.project_keys)
            .sum::<u64>();
        Ok(RootRotation {
            generation: to,
            started: start,
            rewrapped,
            remaining,
            more: remaining > 0,
        })
    }

    /// Retires a generation nothing refers to any more: deletes its sealed key (audited
    /// `root_key_retire`). Retiring generation 0 means the root key file no longer wraps any
    /// project key. `Conflict` while a value still refers to it or if it is current; `NotFound`
    /// if it is not live.
    pub async fn retire_root(&self, op: &AuthedOperator, generation: u32) -> CoreResult<()> {
        const ACTION: AuditAction = AuditAction::RootKeyRetire;
        self.require_owner_write(op, ACTION).await?;
        self.cx
            .audited(op, ACTION, "", &format!("generation={generation}"))
            .retire_root_generation(generation)
            .await?;
        // Forget it here now; other replicas forget it at their next reload.
        self.cx.root.load(self.cx.store.as_ref()).await?;
        Ok(())
    }
}
