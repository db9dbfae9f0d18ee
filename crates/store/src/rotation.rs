//! Rotation: how a secret's value is regenerated, and when the scheduler next does it.

use async_trait::async_trait;
use signet_proto::SecretId;

use crate::{NewVersion, StoreResult};

/// One secret's rotation settings and schedule state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationRecord {
    /// The secret it rotates.
    pub secret_id: SecretId,
    /// The generator's charset, by its stable name (the store does not interpret it).
    pub charset: String,
    /// The generated value's length, in characters.
    pub length: u32,
    /// For a structured secret, the fields that rotate (the others are kept); `None`: every
    /// field.
    pub fields: Option<Vec<String>>,
    /// The schedule's interval; `None`: rotated only by hand or by a policy.
    pub interval_ms: Option<i64>,
    /// A paused schedule is never due.
    pub paused: bool,
    /// When the scheduler next rotates it; `None` without a schedule.
    pub next_due_ms: Option<i64>,
    /// The newest rotation, by any trigger.
    pub last_rotated_ms: Option<i64>,
    /// When the settings last changed, Unix ms.
    pub updated_ms: i64,
}

/// A scheduled rotation's claim on its due moment: the rotation is written only if the
/// schedule still says `due_ms` (and is not paused), and moves it to `next_due_ms` in the same
/// transaction, so of several replicas that saw the same due rotation exactly one writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationClaim {
    /// The due moment the scheduler read.
    pub due_ms: i64,
    /// The next one.
    pub next_due_ms: i64,
}

/// Rotation settings and the scheduler's claims.
#[async_trait]
pub trait RotationStore {
    /// Creates or replaces a live secret's settings; the `last_rotated_ms` already stored is
    /// kept (the record's is used only for a new row). `NotFound` if the secret does not exist
    /// or is deleted.
    async fn set_rotation(&self, record: &RotationRecord) -> StoreResult<()>;
    /// Removes a secret's settings. `NotFound` if it has none.
    async fn clear_rotation(&self, id: &SecretId) -> StoreResult<()>;
    /// A secret's settings, if it has any (whether or not the secret is deleted).
    async fn rotation(&self, id: &SecretId) -> StoreResult<Option<RotationRecord>>;
    /// Pauses (`next_due_ms` `None`) or resumes (the schedule's next due moment) a schedule.
    /// `NotFound` if the secret has no settings.
    async fn set_rotation_paused(
        &self,
        id: &SecretId,
        paused: bool,
        next_due_ms: Option<i64>,
        now_ms: i64,
    ) -> StoreResult<()>;
    /// Schedules of live secrets, not paused, due at or before `now_ms`: the most overdue first,
    /// at most `limit`.
    async fn due_rotations(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<RotationRecord>>;
    /// Appends a rotation's version exactly as `SecretStore::append_version` does, and in the
    /// same transaction records it on the settings (if any): `last_rotated_ms` becomes the
    /// version's time. With a `claim`, the write happens only if the schedule is not paused and
    /// still due at `claim.due_ms`, and moves it to `claim.next_due_ms`: otherwise
    /// `Conflict::RotationClaimed` and nothing is written. Without one (a manual or policy
    /// rotation), a running schedule starts again from the version's time.
    async fn append_rotation(
        &self,
        id: &SecretId,
        expected_current: u32,
        version: &NewVersion,
        claim: Option<RotationClaim>,
    ) -> StoreResult<u32>;
}
