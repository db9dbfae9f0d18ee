//! Secrets and their versions, and the views the machine read path needs.

use async_trait::async_trait;
use signet_proto::{MachineId, ProjectId, SecretId};

use crate::StoreResult;

/// The two shapes of secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// One opaque value.
    Standard,
    /// A JSON object of string fields, stored as one encrypted value.
    Structured,
}

impl SecretKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Structured => "structured",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "standard" => Some(Self::Standard),
            "structured" => Some(Self::Structured),
            _ => None,
        }
    }
}

/// A secret's metadata (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    /// Its id.
    pub id: SecretId,
    /// The project it belongs to, fixed at creation.
    pub project_id: ProjectId,
    /// Unique among the live secrets of its project.
    pub name: String,
    /// Shape of the current version.
    pub kind: SecretKind,
    /// Field names of the current version, for structured secrets.
    pub field_names: Option<Vec<String>>,
    /// The newest version number (1-based).
    pub current_version: u32,
    /// Creation time, Unix ms.
    pub created_ms: i64,
    /// Time of the newest version, Unix ms.
    pub updated_ms: i64,
    /// Set when soft-deleted; a deleted secret is invisible to machines.
    pub deleted_ms: Option<i64>,
    /// A canary: its value is server-generated, never written by hand, and a machine's read of
    /// it freezes its project. Fixed at creation; machines never see this flag.
    pub canary: bool,
}

/// Where a version's value lives.
#[derive(Clone, PartialEq, Eq)]
pub enum VersionContent {
    /// A fresh encryption of a new value.
    Sealed {
        /// The per-version data key, wrapped under the project key.
        wrapped_dek: Vec<u8>,
        /// The value, sealed under the data key.
        ciphertext: Vec<u8>,
    },
    /// A rollback: the value is the one stored at this earlier version.
    Pointer(u32),
}

impl std::fmt::Debug for VersionContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sealed { ciphertext, .. } => write!(f, "Sealed({} bytes)", ciphertext.len()),
            Self::Pointer(v) => write!(f, "Pointer({v})"),
        }
    }
}

/// A version to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVersion {
    /// Shape of this version.
    pub kind: SecretKind,
    /// Field names, for structured secrets.
    pub field_names: Option<Vec<String>>,
    /// The value, or a pointer to an earlier version's value.
    pub content: VersionContent,
    /// The project key generation that sealed `content`'s data key (ignored for a pointer).
    /// The store refuses a sealed version under a generation that is no longer the project's
    /// with `Conflict::ProjectKeyStale`.
    pub key_generation: u32,
    /// Who wrote it (an audit actor id).
    pub created_by: String,
    /// Unix ms.
    pub created_ms: i64,
    /// Which fields of the version written over changed value here, by name (never values):
    /// those in both versions whose value differs. `None` when not recorded (a standard secret,
    /// a first version, a rollback).
    pub changed_fields: Option<Vec<String>>,
}

/// A version as listed to operators (no ciphertext).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    /// The version number.
    pub version: u32,
    /// The version whose ciphertext holds this version's value (itself, unless a rollback).
    pub value_version: u32,
    /// Shape.
    pub kind: SecretKind,
    /// Field names, for structured secrets.
    pub field_names: Option<Vec<String>>,
    /// Who wrote it.
    pub created_by: String,
    /// Unix ms.
    pub created_ms: i64,
    /// As [`NewVersion::changed_fields`]; `None` also for versions written before it was kept.
    pub changed_fields: Option<Vec<String>>,
}

/// Everything the machine read path needs about one secret, in one round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretReadView {
    /// The secret's metadata.
    pub secret: SecretRecord,
    /// Whether the machine is attached to the secret's project.
    pub attached: bool,
    /// Whether the machine holds an explicit grant for this secret.
    pub granted: bool,
    /// Whether the secret's project is frozen (a canary in it was read).
    pub project_frozen: bool,
    /// The project key, wrapped under a root key generation.
    pub wrapped_project_key: Vec<u8>,
    /// That root key generation.
    pub project_root_generation: u32,
    /// The project key's generation, for a value sealed under it on the read path (a lease's
    /// password).
    pub project_key_generation: u32,
    /// The version whose ciphertext holds the current value (the AAD binds this number).
    pub value_version: u32,
    /// The data key of `value_version`, wrapped under the project key.
    pub wrapped_dek: Vec<u8>,
    /// The value of `value_version`, sealed under the data key.
    pub ciphertext: Vec<u8>,
    /// The access policy bound to the secret, joined into the same query: a read of a secret
    /// without one costs no extra round trip, and a policy change is seen by the next read on
    /// every replica (nothing is cached to go stale).
    pub policy: Option<crate::PolicyRecord>,
    /// The secret's lease settings if it is a leased secret, joined into the same query the
    /// way the policy is: a read of any other secret costs no extra round trip for them.
    pub leased: Option<crate::LeasedSecretRecord>,
}

/// A secret a machine may read: attached to its project and explicitly granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedSecret {
    /// The secret's metadata.
    pub secret: SecretRecord,
    /// The project's name, for the CLI listing.
    pub project_name: String,
    /// Whether the project is frozen (a canary in it was read).
    pub project_frozen: bool,
    /// Whether it is a leased secret (has a `leased_secrets` row), joined into the listing's
    /// query so a listing costs no lookup per structured secret.
    pub leased: bool,
}

/// One watched secret's state, for the poll endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollRow {
    /// The watched id.
    pub secret_id: SecretId,
    /// `None` if no such secret ever existed.
    pub current_version: Option<u32>,
    /// Set if the secret is soft-deleted.
    pub deleted: bool,
    /// The machine is attached to the secret's project and granted the secret, whether or not
    /// it is deleted: only such a machine may learn that it was deleted.
    pub granted: bool,
    /// The version this machine last read, if it ever read it.
    pub last_read_version: Option<u32>,
    /// The secret's project is frozen (false if no such secret).
    pub project_frozen: bool,
}

/// Secrets, versions, and the machine-side views.
#[async_trait]
pub trait SecretStore {
    /// Creates a secret (a canary if `secret.canary`) with its first version. `Conflict::SecretName` if a live secret of
    /// that name exists in the project; `NotFound` if the project does not exist.
    async fn insert_secret(&self, secret: &SecretRecord, first: &NewVersion) -> StoreResult<()>;
    /// Appends version `expected_current + 1`. Fails with `Conflict::Version` if the current
    /// version is no longer `expected_current` (a concurrent write won), and `NotFound` if the
    /// secret does not exist or is deleted. A `Pointer` must name an existing sealed version.
    /// Returns the number of the version this call wrote, decided inside its transaction, so
    /// a caller answers with its own write even when another has already followed it.
    async fn append_version(
        &self,
        id: &SecretId,
        expected_current: u32,
        version: &NewVersion,
    ) -> StoreResult<u32>;
    /// Soft-deletes a live secret. `NotFound` if missing or already deleted.
    async fn delete_secret(&self, id: &SecretId, now_ms: i64) -> StoreResult<()>;
    /// Metadata of a secret, deleted or not.
    async fn secret(&self, id: &SecretId) -> StoreResult<Option<SecretRecord>>;
    /// Live secrets of a project, by name.
    async fn secrets_in_project(&self, project: &ProjectId) -> StoreResult<Vec<SecretRecord>>;
    /// All versions of a secret, oldest first.
    async fn versions(&self, id: &SecretId) -> StoreResult<Vec<VersionRecord>>;
    /// The read view of one live secret for one machine; `None` if the secret does not exist or
    /// is deleted.
    async fn read_view(
        &self,
        machine: &MachineId,
        secret: &SecretId,
    ) -> StoreResult<Option<SecretReadView>>;
    /// Read views of every live secret the machine is attached to and granted, optionally within
    /// one project, by name.
    async fn granted_read_views(
        &self,
        machine: &MachineId,
        project: Option<&ProjectId>,
    ) -> StoreResult<Vec<SecretReadView>>;
    /// Metadata of every live secret the machine is attached to and granted, optionally within
    /// one project, by project then name.
    async fn granted_secrets(
        &self,
        machine: &MachineId,
        project: Option<&ProjectId>,
    ) -> StoreResult<Vec<GrantedSecret>>;
    /// Poll state of each watched id, in the order given.
    async fn poll(&self, machine: &MachineId, ids: &[SecretId]) -> StoreResult<Vec<PollRow>>;
}
