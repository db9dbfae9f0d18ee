//! The trash: soft-deleted secrets and projects, their restore and purge, and the retention
//! after which the server purges them.
//!
//! A trashed project hides every secret in it (from machines and from the operator lists) without
//! touching the secrets' own rows, so a restore brings back exactly what was live before. Grants,
//! memberships and versions are never removed by a soft delete; only a purge destroys them.

use async_trait::async_trait;
use signet_proto::{ProjectId, SecretId};

use crate::StoreResult;

/// Days a trashed item is kept when no operator has chosen otherwise.
pub const DEFAULT_TRASH_RETENTION_DAYS: u32 = 30;

/// Who moved something to the trash, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// Unix ms.
    pub at_ms: i64,
    /// The acting principal's id (an operator id).
    pub by_id: String,
    /// A name a person recognises (the user's login, or the key's label).
    pub by_name: String,
}

/// Which kind of item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrashKind {
    /// A secret deleted on its own.
    Secret,
    /// A project, with every secret in it.
    Project,
}

impl TrashKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Project => "project",
        }
    }
}

/// One item in the trash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrashItem {
    /// Secret or project.
    pub kind: TrashKind,
    /// The secret's or project's id, as text.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The project (for a project, itself).
    pub project_id: ProjectId,
    /// The project's name.
    pub project_name: String,
    /// Who deleted it and when. Secrets deleted before the trash existed have an empty `by_id`.
    pub deletion: Deletion,
}

/// The trash.
#[async_trait]
pub trait TrashStore {
    /// Moves a live secret to the trash. `NotFound` if missing or already trashed.
    async fn trash_secret(&self, id: &SecretId, deletion: &Deletion) -> StoreResult<()>;
    /// Moves a live project, and so every secret in it, to the trash. `NotFound` if missing or
    /// already trashed.
    async fn trash_project(&self, id: &ProjectId, deletion: &Deletion) -> StoreResult<()>;
    /// Every trashed project and every secret trashed on its own, oldest deletion first.
    async fn trash(&self) -> StoreResult<Vec<TrashItem>>;
    /// Brings a trashed secret back with its versions and grants. `NotFound` if it is not in
    /// the trash; `Conflict::ProjectTrashed` if its project is; `Conflict::SecretName` if a
    /// live secret of its project has taken its name meanwhile.
    async fn restore_secret(&self, id: &SecretId) -> StoreResult<()>;
    /// Brings a trashed project back with every secret that was live in it. `NotFound` if it is
    /// not in the trash. (Project names stay reserved while in the trash, so no clash.)
    async fn restore_project(&self, id: &ProjectId) -> StoreResult<()>;
    /// Destroys a trashed secret: its versions (ciphertext and wrapped data keys), grants, read
    /// marks, rotation settings and managed binding, then the row. With `deleted_before`, only if it was trashed before that
    /// instant. The check and the deletion are one transaction that holds the row, so of two
    /// concurrent purges exactly one succeeds; the other gets `NotFound`.
    async fn purge_secret(&self, id: &SecretId, deleted_before: Option<i64>) -> StoreResult<()>;
    /// Destroys a trashed project: its wrapped key, every secret in it (as
    /// [`TrashStore::purge_secret`]), memberships and user scopes naming it. Same conditions
    /// and guarantee as [`TrashStore::purge_secret`].
    async fn purge_project(&self, id: &ProjectId, deleted_before: Option<i64>) -> StoreResult<()>;
    /// Items trashed before `deleted_before`, oldest first: what the retention job purges.
    async fn purge_due(&self, deleted_before: i64) -> StoreResult<Vec<TrashItem>>;
    /// The vault's retention, in days.
    async fn trash_retention_days(&self) -> StoreResult<u32>;
    /// Sets the vault's retention (the caller checks the range).
    async fn set_trash_retention_days(&self, days: u32) -> StoreResult<()>;
}
