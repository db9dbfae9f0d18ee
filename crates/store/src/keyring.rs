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
//!
//! A project key has generations of its own (`ProjectRecord::key_generation`), and every value
//! sealed under it names the generation that sealed it ([`ProjectKeyedValue`]). A project key
//! rotation replaces the key and re-wraps every such value in one transaction
//! ([`KeyringStore::replace_project_key`]), so a read sees either the old key with the old
//! wrapped data keys or the new key with the new ones, and the old key is gone the moment
//! nothing refers to it. A write sealed under a generation that is no longer the project's
//! fails with `Conflict::ProjectKeyStale` (the backends' triggers check it, with the project's
//! row locked on PostgreSQL), so nothing is ever left under a deleted key.

use std::sync::Arc;

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

/// Which row holds a value sealed under a project key; the ids are what the value's AAD binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectKeyedRow {
    /// A secret version holding its own ciphertext (a rollback pointer holds none).
    Version {
        /// The secret's id.
        secret: String,
        /// The version number.
        version: u32,
    },
    /// A managed secret's pending rotation, sealed for version `sealed_for`.
    Pending {
        /// The secret's id.
        secret: String,
        /// The version number its AAD binds.
        sealed_for: u32,
    },
    /// A database connection's admin password.
    Connection {
        /// The connection's id.
        id: String,
    },
    /// A lease's role password (of a revoked lease too: its row is history).
    Lease {
        /// The lease's id.
        id: String,
    },
}

impl ProjectKeyedRow {
    /// The row a backend's listing names by `kind` (`version`, `pending`, `connection` or
    /// `lease`), `id` (the secret's for the first two) and `number` (the version, or
    /// `sealed_for`; 0 for the others). The listings of both backends return these columns.
    #[must_use]
    pub fn from_parts(kind: &str, id: String, number: u32) -> Self {
        match kind {
            "version" => Self::Version {
                secret: id,
                version: number,
            },
            "pending" => Self::Pending {
                secret: id,
                sealed_for: number,
            },
            "connection" => Self::Connection { id },
            _ => Self::Lease { id },
        }
    }
}

/// One value sealed under a project key: where it is, its data key as wrapped, and the project
/// key generation that wrapped it.
#[derive(Clone, PartialEq, Eq)]
pub struct ProjectKeyedValue {
    /// The row.
    pub row: ProjectKeyedRow,
    /// The data key, wrapped under the project key (opaque to the store).
    pub wrapped_dek: Vec<u8>,
    /// The project key generation that wrapped it.
    pub key_generation: u32,
}

impl std::fmt::Debug for ProjectKeyedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectKeyedValue")
            .field("row", &self.row)
            .field("wrapped_dek", &"***")
            .field("key_generation", &self.key_generation)
            .finish()
    }
}

/// A listed value and its data key re-wrapped under the new project key.
#[derive(Clone, PartialEq, Eq)]
pub struct RewrappedValue {
    /// The value as listed, its data key as the old key wrapped it: the rotation replaces the
    /// row's data key only if it is still this one (a row re-sealed since, such as a connection
    /// given a new password, is re-wrapped late instead, from what it holds then).
    pub listed: ProjectKeyedValue,
    /// Its data key re-wrapped under the new key.
    pub wrapped_dek: Vec<u8>,
}

impl std::fmt::Debug for RewrappedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RewrappedValue")
            .field("listed", &self.listed)
            .field("wrapped_dek", &"***")
            .finish()
    }
}

/// Re-wraps one value's data key from the old project key to the new one. The store calls it
/// inside the rotation's transaction, with writers to the project held, for each value written
/// after the listing ([`ProjectKeyReplacement::values`]), so a rotation never races writes: the
/// values it must wrap there are only those that landed in the window between the listing and
/// the commit. `None` if the data key does not unwrap (the rotation changes nothing and fails
/// with `Corrupt`).
#[derive(Clone)]
pub struct LateRewrap(Arc<dyn Rewrap>);

/// What [`LateRewrap`] holds: a function from a value to its re-wrapped data key, callable
/// from the store's writer thread.
trait Rewrap: Fn(&ProjectKeyedValue) -> Option<Vec<u8>> + Send + Sync {}

impl<F: Fn(&ProjectKeyedValue) -> Option<Vec<u8>> + Send + Sync> Rewrap for F {}

impl LateRewrap {
    /// Wraps `f`.
    pub fn new(f: impl Fn(&ProjectKeyedValue) -> Option<Vec<u8>> + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// The data key of `value` re-wrapped under the new key, or `None` if it does not unwrap.
    pub fn rewrap(&self, value: &ProjectKeyedValue) -> Option<Vec<u8>> {
        (self.0)(value)
    }
}

impl std::fmt::Debug for LateRewrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LateRewrap")
    }
}

/// A project key rotation, applied whole or not at all.
#[derive(Clone)]
pub struct ProjectKeyReplacement {
    /// The project.
    pub project: ProjectId,
    /// The generation being replaced; the new key is generation `from_generation + 1`.
    pub from_generation: u32,
    /// The new project key, wrapped under the current root key generation.
    pub wrapped_key: Vec<u8>,
    /// That root key generation.
    pub root_generation: u32,
    /// Every value of the project as listed, with its data key re-wrapped under the new key.
    pub values: Vec<RewrappedValue>,
    /// How to re-wrap a value written after the listing.
    pub late: LateRewrap,
}

impl std::fmt::Debug for ProjectKeyReplacement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectKeyReplacement")
            .field("project", &self.project)
            .field("from_generation", &self.from_generation)
            .field("root_generation", &self.root_generation)
            .field("values", &self.values.len())
            .finish_non_exhaustive()
    }
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
    /// Every value sealed under `project`'s key (of trashed secrets too), each with the
    /// generation that sealed it; empty for a project with none or no such project.
    async fn project_key_values(&self, project: &ProjectId) -> StoreResult<Vec<ProjectKeyedValue>>;
    /// Rotates a project key in one transaction: the project's key becomes `wrapped_key`
    /// (generation `from_generation + 1`) and each listed value's data key the one given, if it
    /// is still under `from_generation` with the data key listed. Then, with writers to the project held (one writer at
    /// a time on SQLite, the project's row locked on PostgreSQL), every value still under
    /// `from_generation` (written after the listing, or changed since) is re-wrapped by
    /// `late`, so a rotation converges however many writes land meanwhile. `NotFound` if the
    /// project is not live (or in the trash); `Conflict::ProjectKeyRotated` if its key is no
    /// longer `from_generation`; `Corrupt` (nothing changed) if `late` cannot re-wrap a value;
    /// `Conflict::ProjectKeyStale` (nothing changed) if a value under another generation is
    /// left even so; `Conflict::RootGenerationStale` unless `root_generation` is the current
    /// root key generation. Answers how many values `late` re-wrapped.
    async fn replace_project_key(&self, replacement: &ProjectKeyReplacement) -> StoreResult<u64>;
}
