//! Rotating the root keyring (`crate::keyring`): the owners' service behind `signet key
//! status | rotate-root | retire-root` (`docs/operations.md`, "Key rotation"). A new generation
//! becomes current, project keys are re-wrapped under it in batches that each fit one call, and
//! an old generation nothing names any more can be retired.

use std::sync::Arc;

use signet_api::audit::AuditAction;
use signet_crypto::RootKey;
use signet_store::RootGenerationRecord;

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
