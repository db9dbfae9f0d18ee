//! Rotating one project's key (`docs/operations.md`, "Key rotation"; `docs/protocol.md`, §26):
//! `signet project rotate-key`. A new random project key, wrapped under the current root key
//! generation, replaces the old one, and every value sealed under the old key has its data key
//! re-wrapped under the new one: secret versions (of trashed secrets too), a managed secret's
//! pending rotation, database connection and lease passwords. The values' own ciphertexts stay.
//!
//! The store applies all of it in one transaction (`signet_store::KeyringStore`), so every
//! replica reads either the old key with the old wrapped data keys or the new key with the new
//! ones, and the old key is deleted in the same moment nothing refers to it any more: there is
//! no old key to retire. Nothing caches an unwrapped project key across reads (the read path
//! caches data keys, keyed by the wrapped project key they came from, `crate::read`), so a
//! replica needs no notice. A write that read the old key just before the rotation committed is
//! refused by the store (`Conflict::ProjectKeyStale`, a 503 the clients retry) instead of
//! landing under a deleted key. A write that lands between this service's listing and its
//! commit is re-wrapped inside the commit (`signet_store::LateRewrap`), with writers to the
//! project held for that moment: the work done there is only what landed in the window, so
//! the rotation converges however hard the project is written (an earlier design listed again
//! and gave up after 20 rounds of losing that race).

use std::sync::Arc;

use signet_api::audit::AuditAction;
use signet_crypto::{CryptoError, ProjectKey, RecordAad, RecordKind, SecretAad};
use signet_proto::ProjectId;
use signet_store::{
    Conflict, LateRewrap, ProjectKeyReplacement, ProjectKeyedRow, ProjectKeyedValue, ProjectRecord,
    RewrappedValue, StoreError,
};

use crate::principal::AuthedOperator;
use crate::role::Permission;
use crate::root_rotation::Keys;
use crate::{CoreError, CoreResult};

/// Listings a rotation makes before it gives up (a 503; the operator tries again). Writes to
/// the project never cost one (they are re-wrapped inside the commit); a root key rotation
/// that makes a new generation current between the listing and the commit does.
const ATTEMPTS: u32 = 5;

/// A pause between each listing and its commit, in a test build with the fault point
/// `project_key_rotate_pause` armed (`return(MS)`), so end-to-end tests can run two rotations
/// at once and writes during one (a release build has no fault points).
fn listing_pause() -> Option<std::time::Duration> {
    fail::fail_point!("project_key_rotate_pause", |ms: Option<String>| {
        ms.and_then(|m| m.parse().ok())
            .map(std::time::Duration::from_millis)
    });
    None
}

/// What one `signet project rotate-key` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectKeyRotation {
    /// The project.
    pub project: ProjectId,
    /// The new key's generation.
    pub generation: u32,
    /// Values re-wrapped under it: those listed, and those written meanwhile (the audit
    /// record's `values=`, written before the commit, counts the listed ones only).
    pub rewrapped: u64,
}

impl Keys {
    /// Replaces `project`'s key and re-wraps every value sealed under it (owners and admins
    /// with the project in scope, with a fresh second factor in a browser; audited
    /// `project_key_rotate`). A project that does not exist, or is in the trash, is refused
    /// like one out of reach. `Conflict::ProjectKeyRotated` if another rotation of the project
    /// committed first.
    pub async fn rotate_project_key(
        &self,
        op: &AuthedOperator,
        project: &str,
    ) -> CoreResult<ProjectKeyRotation> {
        const ACTION: AuditAction = AuditAction::ProjectKeyRotate;
        let cx = &self.cx;
        cx.require(op, Permission::ManageProjects, ACTION).await?;
        let parsed = ProjectId::parse(project).ok();
        cx.require_project(op, parsed.as_ref(), ACTION).await?;
        cx.require_step_up(op, ACTION).await?;
        let Some(id) = parsed else {
            return Err(cx.deny(op, ACTION, "project=none").await);
        };
        for _ in 0..ATTEMPTS {
            let Some(current) = cx.store.project(&id).await? else {
                return Err(cx.deny(op, ACTION, "project=none").await);
            };
            let values = cx.store.project_key_values(&id).await?;
            // A rotation that committed between the two reads: list again.
            if values
                .iter()
                .any(|v| v.key_generation != current.key_generation)
            {
                continue;
            }
            let replacement = self.rewrapped(&current, values).await?;
            if let Some(pause) = listing_pause() {
                tokio::time::sleep(pause).await;
            }
            let detail = format!(
                "from={} to={} values={}",
                current.key_generation,
                current.key_generation + 1,
                replacement.values.len()
            );
            match cx
                .audited(op, ACTION, id.as_str(), &detail)
                .replace_project_key(&replacement)
                .await
            {
                Ok(late) => {
                    let listed = u64::try_from(replacement.values.len()).unwrap_or(u64::MAX);
                    return Ok(ProjectKeyRotation {
                        project: id,
                        generation: current.key_generation + 1,
                        rewrapped: listed.saturating_add(late),
                    });
                }
                // A root key rotation made a new generation current (or, which the store's
                // late re-wrap rules out, a value is left under another generation): list and
                // wrap again.
                Err(StoreError::Conflict(
                    Conflict::ProjectKeyStale | Conflict::RootGenerationStale,
                )) => {}
                // Moved to the trash meanwhile.
                Err(StoreError::NotFound) => {
                    return Err(cx.deny(op, ACTION, "project=none").await);
                }
                Err(e) => return Err(e.into()),
            }
        }
        tracing::warn!(project = %id, "project key rotation kept racing root key rotations; gave up");
        Err(CoreError::Unavailable)
    }

    /// A new project key for `project`, wrapped under the current root key generation, and
    /// every value in `values` re-wrapped from the current key to it; the store re-wraps values
    /// written after the listing with the same two keys.
    async fn rewrapped(
        &self,
        project: &ProjectRecord,
        values: Vec<ProjectKeyedValue>,
    ) -> CoreResult<ProjectKeyReplacement> {
        let cx = &self.cx;
        let mover = Arc::new(Mover {
            old: cx.project_key(project).await?,
            new: ProjectKey::generate().map_err(|_| CoreError::Unavailable)?,
            vault: cx.vault.as_str().to_owned(),
            project: project.id.clone(),
        });
        let mut out = Vec::with_capacity(values.len());
        for listed in values {
            let wrapped_dek = mover.rewrap(&listed).ok_or(CoreError::Unavailable)?;
            out.push(RewrappedValue {
                listed,
                wrapped_dek,
            });
        }
        let (wrapped_key, root_generation) = cx.wrap_project_key(&project.id, &mover.new).await?;
        let late = LateRewrap::new(move |v| mover.rewrap(v));
        Ok(ProjectKeyReplacement {
            project: project.id.clone(),
            from_generation: project.key_generation,
            wrapped_key,
            root_generation,
            values: out,
            late,
        })
    }
}

/// The old and new keys of one rotation, and what a value's AAD binds besides its row.
struct Mover {
    old: ProjectKey,
    new: ProjectKey,
    vault: String,
    project: ProjectId,
}

impl Mover {
    /// `v`'s data key re-wrapped from the old key to the new one; `None` (logged) if it does
    /// not unwrap.
    fn rewrap(&self, v: &ProjectKeyedValue) -> Option<Vec<u8>> {
        let (vault, pid) = (self.vault.as_str(), self.project.as_str());
        let moved: Result<Vec<u8>, CryptoError> = match &v.row {
            ProjectKeyedRow::Version {
                secret,
                version: number,
            }
            | ProjectKeyedRow::Pending {
                secret,
                sealed_for: number,
            } => {
                let aad = SecretAad {
                    vault,
                    project: pid,
                    secret,
                    version: *number,
                };
                self.old.rewrap_data_key(&self.new, &aad, &v.wrapped_dek)
            }
            ProjectKeyedRow::Connection { id } | ProjectKeyedRow::Lease { id } => {
                let kind = match v.row {
                    ProjectKeyedRow::Connection { .. } => RecordKind::ConnectionPassword,
                    _ => RecordKind::LeasePassword,
                };
                let aad = RecordAad {
                    vault,
                    project: pid,
                    kind,
                    id,
                };
                self.old.rewrap_record_key(&self.new, &aad, &v.wrapped_dek)
            }
        };
        moved
            .map_err(|_| {
                tracing::error!(project = %self.project, row = ?v.row, "a stored data key failed to unwrap");
            })
            .ok()
    }
}
