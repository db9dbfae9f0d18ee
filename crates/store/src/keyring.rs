//! The root keyring (`docs/operations.md`, "Key rotation"): the generations of the root key
//! that wrap project keys. Generation 0 is the unseal key itself (the root key file), so its
//! row holds no key; every later generation is a random key the unseal key seals
//! (`signet_crypto::RootKey::seal_generation`). The highest live generation is current: new
//! project keys are wrapped under it, and rotation re-wraps older ones until nothing refers to
//! an older generation, which can then be retired (its row, and with it its sealed key, is
//! deleted).
//!
//! Every wrapped project key names its generation (`projects.root_generation`). The store
//! keeps that name pointing at a live generation under concurrency: a write naming a retired
//! generation fails with `NotFound`, and a retirement fails while anything (committed or
//! not) names the generation. So a replica that sealed under a generation a moment before
//! another retired it either lands before the retirement (which then refuses) or fails.

use async_trait::async_trait;
use signet_proto::ProjectId;

use crate::{ProjectRecord, StoreResult};

/// One live root key generation.
#[derive(Clone, PartialEq, Eq)]
pub struct RootGenerationRecord {
    /// Its number: 0 for the unseal key, then 1, 2, ...
    pub generation: u32,
    /// The generation's key sealed under the unseal key; `None` for generation 0 only.
    pub sealed: Option<Vec<u8>>,
    /// When it was made (0 for generation 0, which predates the keyring).
    pub created_ms: i64,
}

impl std::fmt::Debug for RootGenerationRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootGenerationRecord")
            .field("generation", &self.generation)
            .field("sealed", &self.sealed.as_ref().map(|_| "***"))
            .field("created_ms", &self.created_ms)
            .finish()
    }
}

/// How many stored values one live generation still wraps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootGenerationUse {
    /// The generation.
    pub generation: u32,
    /// Project keys (of live projects and of projects in the trash) wrapped under it.
    pub project_keys: u64,
}

/// The root keyring.
#[async_trait]
pub trait KeyringStore {
    /// The live generations, lowest first; the last is current. Never empty on a migrated
    /// store unless generation 0 was retired after a rotation (then the list starts at 1).
    async fn root_generations(&self) -> StoreResult<Vec<RootGenerationRecord>>;
    /// Adds a generation, which becomes current. `Conflict::RootGenerationStale` unless its
    /// number is one more than the current one's (of two concurrent rotations, one wins).
    async fn add_root_generation(&self, record: &RootGenerationRecord) -> StoreResult<()>;
    /// For each live generation, lowest first, how many values it still wraps.
    async fn root_generation_use(&self) -> StoreResult<Vec<RootGenerationUse>>;
    /// Up to `limit` projects (in the trash too) whose key is wrapped under a generation
    /// below `generation`, oldest first.
    async fn projects_below_generation(
        &self,
        generation: u32,
        limit: u32,
    ) -> StoreResult<Vec<ProjectRecord>>;
    /// Replaces a project's wrapped key with `wrapped`, under generation `to`, if it is still
    /// wrapped under generation `from`; `false` (nothing changed) if it is not any more or the
    /// project is gone (purged). `NotFound` if `to` is not a live generation.
    async fn rewrap_project_key(
        &self,
        id: &ProjectId,
        from: u32,
        wrapped: &[u8],
        to: u32,
    ) -> StoreResult<bool>;
    /// Retires a generation: deletes its row and sealed key. `NotFound` if it is not live;
    /// `Conflict::RootGenerationCurrent` if it is the current one;
    /// `Conflict::RootGenerationInUse` while any value refers to it.
    async fn retire_root_generation(&self, generation: u32) -> StoreResult<()>;
}
