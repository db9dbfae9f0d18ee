//! Managed database passwords: a structured secret (`username`, `password`) whose rotations are
//! applied to a database by a sync agent before they become live. A rotation is first a
//! *pending* value with a rotation id; the agent sets it in the database, logs in with it, and
//! confirms (the pending value becomes the next version) or rejects it (the live version stays).

use async_trait::async_trait;
use signet_proto::{MachineId, SecretId};

use crate::{NewVersion, RotationClaim, StoreResult};

/// A managed secret's binding to its database and its agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedRecord {
    /// The secret (structured, fields `username` and `password`).
    pub secret_id: SecretId,
    /// The database connection (in the secret's project) the agent applies rotations to.
    pub connection_id: String,
    /// The database role whose password the secret holds.
    pub username: String,
    /// The one machine the operator named as the secret's sync agent: only it is given the
    /// database's admin credentials. `None`: no machine is.
    pub agent_machine_id: Option<MachineId>,
    /// How often the agent asks for a pending rotation.
    pub poll_interval_secs: u32,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms.
    pub updated_ms: i64,
}

/// A rotation waiting for the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRotation {
    /// Its id, as the agent quotes it back (random, unguessable).
    pub rotation_id: String,
    /// The value, sealed as version `version.kind`'s next version would be: the AAD binds the
    /// version number `sealed_for`.
    pub version: NewVersion,
    /// The version number the value's AAD names.
    pub sealed_for: u32,
    /// What made it (`manual`, `schedule`, `policy`).
    pub trigger: String,
}

/// How the newest finished rotation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationOutcome {
    /// The agent confirmed it; it is a live version.
    Confirmed,
    /// The agent rejected it; the live version stayed.
    Rejected,
}

impl RotationOutcome {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Rejected => "rejected",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "confirmed" => Some(Self::Confirmed),
            "rejected" => Some(Self::Rejected),
            _ => None,
        }
    }
}

/// The newest finished rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedRotation {
    /// Its id.
    pub rotation_id: String,
    /// How it ended.
    pub outcome: RotationOutcome,
    /// The agent's error text, for a rejection (already sanitised and bounded).
    pub error: Option<String>,
    /// Unix ms.
    pub at_ms: i64,
}

/// The agent's newest heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// `healthy` or `error`.
    pub status: String,
    /// The agent's error text (already sanitised and bounded).
    pub error: Option<String>,
    /// Unix ms.
    pub at_ms: i64,
}

/// A managed secret's binding and its rotation state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedState {
    /// The binding.
    pub record: ManagedRecord,
    /// The rotation waiting for the agent, if any.
    pub pending: Option<PendingRotation>,
    /// The newest finished rotation, if any.
    pub last: Option<FinishedRotation>,
    /// The agent's newest heartbeat, if any.
    pub heartbeat: Option<Heartbeat>,
}

/// Managed secrets and their two-phase rotations.
#[async_trait]
pub trait ManagedStore {
    /// Creates or replaces a live secret's binding (the rotation state is kept). `NotFound` if
    /// the secret does not exist or is deleted.
    async fn set_managed(&self, record: &ManagedRecord) -> StoreResult<()>;
    /// A secret's binding and rotation state, if it is managed (deleted or not).
    async fn managed(&self, id: &SecretId) -> StoreResult<Option<ManagedState>>;
    /// Records a pending rotation. `Conflict::RotationPending` if one is pending already (one
    /// at a time: the agent may be applying it), and nothing is written. With a `claim`, as for
    /// `RotationStore::append_rotation`: written only if the schedule is still due at
    /// `claim.due_ms` (else `Conflict::RotationClaimed`), moving it to `claim.next_due_ms`.
    /// `NotFound` if the secret is not managed or is deleted.
    async fn begin_managed_rotation(
        &self,
        id: &SecretId,
        pending: &PendingRotation,
        claim: Option<RotationClaim>,
    ) -> StoreResult<()>;
    /// Promotes the pending rotation `rotation_id`: appends `version` as version
    /// `expected_current + 1` exactly as `SecretStore::append_version` does, clears the pending
    /// rotation, records it confirmed and the rotation settings' `last_rotated_ms`, in one
    /// transaction; a running schedule starts again from now (as after a manual rotation).
    /// `Conflict::RotationStale` if no rotation of that id is pending; `Conflict::Version` if
    /// the current version moved.
    async fn confirm_managed_rotation(
        &self,
        id: &SecretId,
        rotation_id: &str,
        expected_current: u32,
        version: &NewVersion,
    ) -> StoreResult<u32>;
    /// Drops the pending rotation `rotation_id` and records it rejected with `error`.
    /// `Conflict::RotationStale` if no rotation of that id is pending.
    async fn reject_managed_rotation(
        &self,
        id: &SecretId,
        rotation_id: &str,
        error: &str,
        now_ms: i64,
    ) -> StoreResult<()>;
    /// Records the agent's heartbeat. `NotFound` if the secret is not managed.
    async fn record_heartbeat(&self, id: &SecretId, heartbeat: &Heartbeat) -> StoreResult<()>;
}
