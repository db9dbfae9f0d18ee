//! The trash: deleted secrets and projects wait here, with who deleted them and when, until an
//! operator restores or purges them or the vault's retention runs out.
//!
//! * A trashed secret, or any secret of a trashed project, is gone for machines (the uniform 403
//!   on read, absent from list and export; poll says `deleted` only to machines still attached and
//!   granted, see `crate::read`) and from every operator view except the trash.
//! * Restore brings an item back with its versions, grants and memberships, which a soft delete
//!   never touches. A secret whose project is in the trash stays there (409 `conflict`
//!   `project_trashed`); a secret whose name was reused meanwhile is 409 `secret_name`. Project
//!   names stay reserved until a purge, so a project always comes back under its name.
//! * Purge destroys the item's rows: versions (ciphertext and wrapped data keys), grants and read
//!   marks, and for a project its wrapped key, every secret and every membership. Afterwards the
//!   id is unknown: restore and purge answer the same 403 as any id not in the trash.
//! * [`Trash::purge_due`] is the retention job's step. Each purge is a conditional delete in its
//!   own transaction carrying its audit record, so with several replicas running the job each
//!   item is purged, and recorded, exactly once.

use std::sync::Arc;

use signet_api::audit::AuditAction;
use signet_proto::{ProjectId, SecretId};
use signet_store::{ActorKind, AuditResult, Deletion, StoreError, TrashItem, TrashKind};

use crate::context::Context;
use crate::journal::Actor;
use crate::principal::AuthedOperator;
use crate::role::Permission;
use crate::{CoreError, CoreResult};

/// Shortest retention an operator may set, in days.
pub const MIN_RETENTION_DAYS: u32 = 1;
/// Longest retention an operator may set, in days (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;

const DAY_MS: i64 = 86_400_000;

/// One item in the trash, as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrashItemView {
    /// Secret or project.
    pub kind: TrashKind,
    /// The secret's or project's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The project it belongs to (for a project, itself).
    pub project_id: ProjectId,
    /// That project's name.
    pub project_name: String,
    /// The id of the operator who deleted it (empty for a secret deleted before the trash).
    pub deleted_by: String,
    /// A name people recognise for them (the user's, or the key's label).
    pub deleted_by_name: String,
    /// When, Unix ms.
    pub deleted_ms: i64,
    /// When the server will purge it, Unix ms (deletion plus the vault's retention).
    pub purge_after_ms: i64,
}

/// An id named in a trash route: a secret or a project.
enum Target {
    Secret(SecretId),
    Project(ProjectId),
}

impl Target {
    fn parse(id: &str) -> Option<Self> {
        if let Ok(s) = SecretId::parse(id) {
            return Some(Self::Secret(s));
        }
        ProjectId::parse(id).ok().map(Self::Project)
    }
}

/// Who is deleting, for the trash's "deleted by": the signed-in user's name when there is one,
/// else the key's label.
pub(crate) async fn deletion(cx: &Context, op: &AuthedOperator) -> CoreResult<Deletion> {
    let by_name = match &op.user_id {
        Some(user) => match cx.store.user(user).await? {
            Some(u) if !u.display_name.is_empty() => u.display_name,
            Some(u) => u.username,
            None => op.name.clone(),
        },
        None => op.name.clone(),
    };
    Ok(Deletion {
        at_ms: cx.now_ms(),
        by_id: op.id.to_string(),
        by_name,
    })
}

/// The trash, for operators and for the server's retention job.
#[derive(Clone)]
pub struct Trash {
    /// The shared store, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
}

impl Trash {
    /// Moves a project, and with it every secret in it, to the trash.
    pub async fn delete_project(&self, op: &AuthedOperator, id: &str) -> CoreResult<()> {
        self.cx
            .require(op, Permission::ManageProjects, AuditAction::ProjectDelete)
            .await?;
        let parsed = ProjectId::parse(id).ok();
        self.cx
            .require_project(op, parsed.as_ref(), AuditAction::ProjectDelete)
            .await?;
        let id = parsed.ok_or(CoreError::NotFound)?;
        let project = self
            .cx
            .store
            .project(&id)
            .await?
            .ok_or(CoreError::NotFound)?;
        let d = deletion(&self.cx, op).await?;
        self.cx
            .audited(
                op,
                AuditAction::ProjectDelete,
                id.as_str(),
                &format!("name={:?}", project.name),
            )
            .trash_project(&id, &d)
            .await?;
        Ok(())
    }

    /// What is in the trash: to a project-scoped operator, only items of their projects.
    pub async fn list(&self, op: &AuthedOperator) -> CoreResult<Vec<TrashItemView>> {
        self.cx
            .require(op, Permission::Read, AuditAction::TrashList)
            .await?;
        let retention_ms = i64::from(self.cx.store.trash_retention_days().await?) * DAY_MS;
        Ok(self
            .cx
            .store
            .trash()
            .await?
            .into_iter()
            .filter(|i| op.scope.covers(&i.project_id))
            .map(|i| view(i, retention_ms))
            .collect())
    }

    /// The item `id` names if it is in the trash and within the operator's scope; anything else
    /// (unknown, purged, live, malformed, out of scope) is the same audited 403.
    async fn trashed(
        &self,
        op: &AuthedOperator,
        id: &str,
        action: AuditAction,
    ) -> CoreResult<(Target, TrashItem)> {
        let target = Target::parse(id);
        let found = match &target {
            Some(_) => self
                .cx
                .store
                .trash()
                .await?
                .into_iter()
                .find(|i| i.id == id && op.scope.covers(&i.project_id)),
            None => None,
        };
        match (target, found) {
            (Some(t), Some(item)) => Ok((t, item)),
            _ => Err(self.cx.deny(op, action, "trash=absent").await),
        }
    }

    /// Brings an item back. A secret needs `WriteSecrets`, a project `ManageProjects`.
    pub async fn restore(&self, op: &AuthedOperator, id: &str) -> CoreResult<TrashKind> {
        // The role first, so a viewer learns nothing about what is in the trash.
        self.cx
            .require(op, Permission::WriteSecrets, AuditAction::TrashRestore)
            .await?;
        let (target, item) = self.trashed(op, id, AuditAction::TrashRestore).await?;
        if matches!(target, Target::Project(_)) {
            self.cx
                .require(op, Permission::ManageProjects, AuditAction::TrashRestore)
                .await?;
        }
        let detail = format!("kind={} name={:?}", item.kind.as_str(), item.name);
        let store = self.cx.audited(op, AuditAction::TrashRestore, id, &detail);
        let done = match &target {
            Target::Secret(s) => store.restore_secret(s).await,
            Target::Project(p) => store.restore_project(p).await,
        };
        match done {
            Ok(()) => Ok(item.kind),
            // Restored or purged by someone else since the lookup above.
            Err(StoreError::NotFound) => Err(self
                .cx
                .deny(op, AuditAction::TrashRestore, "trash=absent")
                .await),
            Err(e) => Err(e.into()),
        }
    }

    /// Destroys an item for good. Only `ManageProjects` (admins and owners).
    pub async fn purge(&self, op: &AuthedOperator, id: &str) -> CoreResult<TrashKind> {
        self.cx
            .require(op, Permission::ManageProjects, AuditAction::TrashPurge)
            .await?;
        let (target, item) = self.trashed(op, id, AuditAction::TrashPurge).await?;
        let detail = format!("kind={} name={:?}", item.kind.as_str(), item.name);
        let store = self.cx.audited(op, AuditAction::TrashPurge, id, &detail);
        let done = match &target {
            Target::Secret(s) => store.purge_secret(s, None).await,
            Target::Project(p) => store.purge_project(p, None).await,
        };
        match done {
            Ok(()) => Ok(item.kind),
            Err(StoreError::NotFound) => Err(self
                .cx
                .deny(op, AuditAction::TrashPurge, "trash=absent")
                .await),
            Err(e) => Err(e.into()),
        }
    }

    /// The vault's retention, in days.
    pub async fn retention_days(&self, op: &AuthedOperator) -> CoreResult<u32> {
        self.cx
            .require(op, Permission::Read, AuditAction::TrashList)
            .await?;
        Ok(self.cx.store.trash_retention_days().await?)
    }

    /// Sets how long trashed items are kept (1 to 3650 days). Items already in the trash are
    /// purged by the new rule from the next run of the job on.
    pub async fn set_retention_days(&self, op: &AuthedOperator, days: u32) -> CoreResult<u32> {
        self.cx
            .require(op, Permission::ManageVault, AuditAction::TrashRetentionSet)
            .await?;
        if !(MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS).contains(&days) {
            return Err(CoreError::bad(format!(
                "the trash retention is {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} days"
            )));
        }
        let before = self.cx.store.trash_retention_days().await?;
        self.cx
            .audited(
                op,
                AuditAction::TrashRetentionSet,
                "",
                &format!("from={before} to={days}"),
            )
            .set_trash_retention_days(days)
            .await?;
        Ok(days)
    }

    /// One run of the retention job: purges every item deleted longer ago than the retention,
    /// each audited with actor `system`. An item another replica purged first is skipped (its
    /// conditional purge finds nothing and writes no record). Returns how many this call purged.
    pub async fn purge_due(&self) -> CoreResult<usize> {
        let now = self.cx.now_ms();
        let retention_ms = i64::from(self.cx.store.trash_retention_days().await?) * DAY_MS;
        let cutoff = now.saturating_sub(retention_ms);
        let mut purged = 0;
        for item in self.cx.store.purge_due(cutoff).await? {
            let e = self.cx.event(
                &Actor::new(ActorKind::System, "", ""),
                AuditAction::TrashPurge,
                &item.id,
                AuditResult::Ok,
                &format!("kind={} reason=retention", item.kind.as_str()),
            );
            let store = self.cx.audited_event(e);
            let done = match Target::parse(&item.id) {
                Some(Target::Secret(s)) => store.purge_secret(&s, Some(cutoff)).await,
                Some(Target::Project(p)) => store.purge_project(&p, Some(cutoff)).await,
                None => Err(StoreError::Corrupt),
            };
            match done {
                Ok(()) => purged += 1,
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(purged)
    }
}

fn view(i: TrashItem, retention_ms: i64) -> TrashItemView {
    TrashItemView {
        kind: i.kind,
        id: i.id,
        name: i.name,
        project_id: i.project_id,
        project_name: i.project_name,
        deleted_by: i.deletion.by_id,
        deleted_by_name: i.deletion.by_name,
        deleted_ms: i.deletion.at_ms,
        purge_after_ms: i.deletion.at_ms.saturating_add(retention_ms),
    }
}
