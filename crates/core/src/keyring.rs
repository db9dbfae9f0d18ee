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

use signet_crypto::RootKey;
use signet_proto::VaultId;
use signet_store::Store;

use crate::{CoreError, CoreResult};

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
