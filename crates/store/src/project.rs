//! Projects: groups of secrets, each with its own wrapped key.

use async_trait::async_trait;
use signet_proto::ProjectId;

use crate::StoreResult;

/// One project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRecord {
    /// Its id.
    pub id: ProjectId,
    /// Unique name.
    pub name: String,
    /// The project key, wrapped under a root key generation (opaque to the store).
    pub wrapped_key: Vec<u8>,
    /// The root key generation `wrapped_key` is wrapped under (`KeyringStore`). Inserting a
    /// project under a generation that is not live fails with `NotFound`.
    pub root_generation: u32,
    /// The project key's generation: 0 when the project is made, one more at each rotation
    /// (`KeyringStore::replace_project_key`). Every value sealed under the key names it.
    pub key_generation: u32,
    /// Creation time, Unix ms.
    pub created_ms: i64,
    /// When a canary read froze it; `None` while machines may use it. A new project is never
    /// frozen, whatever the record says.
    pub frozen_ms: Option<i64>,
}

/// Projects.
#[async_trait]
pub trait ProjectStore {
    /// Adds a project. `Conflict::ProjectName` if the name is taken (by a trashed project too:
    /// names stay reserved until a purge). Its key must be wrapped under the current root key
    /// generation (`KeyringStore`): `NotFound` if `root_generation` is not live,
    /// `Conflict::RootGenerationStale` if a newer one is current (wrap again under that one). A
    /// rotation waits for an insert in flight, so its re-wrapping finds every project.
    async fn insert_project(&self, project: &ProjectRecord) -> StoreResult<()>;
    /// Looks a live one up by id (a project in the trash is `None`; see `TrashStore`).
    async fn project(&self, id: &ProjectId) -> StoreResult<Option<ProjectRecord>>;
    /// All live projects, by name.
    async fn projects(&self) -> StoreResult<Vec<ProjectRecord>>;
    /// Gives a project a new name. `Conflict::ProjectName` if another project has it (renaming
    /// a project to its own name changes nothing and succeeds); `NotFound` if there is no such
    /// project.
    async fn rename_project(&self, id: &ProjectId, name: &str) -> StoreResult<()>;
    /// Freezes a project at `now_ms` (a frozen project keeps its first freeze time) and advances
    /// the vault's policy stamp in the same transaction. `NotFound` if there is no such project.
    async fn freeze_project(&self, id: &ProjectId, now_ms: i64) -> StoreResult<()>;
    /// Lifts a freeze (a project that is not frozen stays so) and advances the policy stamp.
    /// `NotFound` if there is no such project.
    async fn unfreeze_project(&self, id: &ProjectId) -> StoreResult<()>;
}
