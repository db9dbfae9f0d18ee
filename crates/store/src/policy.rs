//! Access policies, their bindings to secrets, and the counters their caps spend.
//!
//! The store keeps a policy's rules as an opaque document (core owns its format and its
//! meaning). What the store does own is exactness: every counter a read spends is taken in one
//! transaction with conditional upserts, so racing readers, on one replica or several, can
//! never together take more than a cap.

use async_trait::async_trait;
use signet_proto::{MachineId, PolicyId, ProjectId, SecretId};

use crate::StoreResult;

/// One policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRecord {
    /// Its id.
    pub id: PolicyId,
    /// The project it belongs to, fixed at creation.
    pub project_id: ProjectId,
    /// Unique within the project.
    pub name: String,
    /// The rules, as core serialised them.
    pub rules: String,
    /// Creation time, Unix ms.
    pub created_ms: i64,
    /// Time of the last change, Unix ms.
    pub updated_ms: i64,
}

/// Which count a [`CounterTake`] spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CounterAxis {
    /// Reads by one machine in one minute.
    Minute,
    /// Reads by one machine in one day.
    Day,
    /// Reads of the secret by every machine, ever.
    Total,
    /// Reads of one version of the secret by every machine (rotate after N reads).
    Version,
}

impl CounterAxis {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "minute",
            Self::Day => "day",
            Self::Total => "total",
            Self::Version => "version",
        }
    }
}

/// One counter a read spends: the key is (secret, machine or none, axis, window).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterTake {
    /// Whose count: one machine's, or `None` for every machine's together.
    pub machine: Option<MachineId>,
    /// Which count.
    pub axis: CounterAxis,
    /// The fixed window the count belongs to (its start, or a version number); rows of older
    /// windows of the same key are dropped as the take moves on.
    pub window: i64,
    /// The take succeeds only while the count is below this; `None`: no cap, only a count.
    pub cap: Option<u64>,
}

/// One policy-checked read to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRead {
    /// The secret read.
    pub secret: SecretId,
    /// The reader.
    pub machine: MachineId,
    /// Now, Unix ms: recorded as the reader's last read of the secret.
    pub now_ms: i64,
    /// Co-sign: this machine must have read the secret at or after this time, Unix ms.
    pub cosign: Option<(MachineId, i64)>,
    /// The counters to spend, all or none.
    pub takes: Vec<CounterTake>,
}

/// How a [`PolicyRead`] ended. Unless `Taken`, nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyReadOutcome {
    /// Every counter was spent; their new counts, in the order given.
    Taken(Vec<u64>),
    /// The co-signing machine has not read the secret since the time given.
    NoCosign,
    /// The take at this index was at its cap.
    AtCap(usize),
}

/// Access policies.
#[async_trait]
pub trait PolicyStore {
    /// Adds a policy. `Conflict::PolicyName` if the project has one of that name; `NotFound`
    /// if the project does not exist.
    async fn insert_policy(&self, policy: &PolicyRecord) -> StoreResult<()>;
    /// Looks one up by id.
    async fn policy(&self, id: &PolicyId) -> StoreResult<Option<PolicyRecord>>;
    /// A project's policies, by name, each with the number of secrets bound to it (deleted
    /// secrets included).
    async fn policies(&self, project: &ProjectId) -> StoreResult<Vec<(PolicyRecord, u32)>>;
    /// Replaces a policy's name and rules. `Conflict::PolicyName` if another policy of the
    /// project has the name; `NotFound` if there is no such policy.
    async fn update_policy(
        &self,
        id: &PolicyId,
        name: &str,
        rules: &str,
        now_ms: i64,
    ) -> StoreResult<()>;
    /// Deletes a policy. `Conflict::PolicyInUse` if a secret (deleted or not) is still bound to
    /// it, decided in the delete's own statement; `NotFound` if there is no such policy.
    async fn delete_policy(&self, id: &PolicyId) -> StoreResult<()>;
    /// Binds `policy` to a secret, replacing any bound one, or unbinds (`None`). `NotFound` if
    /// the secret does not exist, or the policy does not exist in the secret's project (checked
    /// in the same statement, so a policy can never be bound across projects).
    async fn bind_policy(&self, secret: &SecretId, policy: Option<&PolicyId>) -> StoreResult<()>;
    /// The policy bound to a secret.
    async fn secret_policy(&self, secret: &SecretId) -> StoreResult<Option<PolicyId>>;
    /// Checks co-sign, spends every counter and records the read's time, in one transaction.
    async fn record_policy_read(&self, read: &PolicyRead) -> StoreResult<PolicyReadOutcome>;
    /// When a machine last read a secret through a policy, Unix ms.
    async fn last_policy_read(
        &self,
        machine: &MachineId,
        secret: &SecretId,
    ) -> StoreResult<Option<i64>>;
}
