//! Machines, their project memberships, grants and network restrictions.

use async_trait::async_trait;
use signet_proto::{MachineId, ProjectId, PublicKey, SecretId};

use crate::{AccessStamp, AiAgentProfile, PolicyVersion, StoreResult};

/// Where a machine is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineStatus {
    /// Approved by an operator (or auto-approved by an enrollment token).
    Approved,
    /// Refused by an operator. Terminal.
    Denied,
    /// Registered, waiting for an operator.
    Pending,
    /// Revoked: its grants and memberships are gone. Terminal.
    Revoked,
}

impl MachineStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Pending => "pending",
            Self::Revoked => "revoked",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            "pending" => Some(Self::Pending),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// How long a machine lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineKind {
    /// Created from an enrollment token; stops authenticating at `expires_ms`.
    Ephemeral,
    /// Long-lived.
    Standard,
}

impl MachineKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ephemeral => "ephemeral",
            Self::Standard => "standard",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ephemeral" => Some(Self::Ephemeral),
            "standard" => Some(Self::Standard),
            _ => None,
        }
    }
}

/// How a machine was registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollMethod {
    /// With a single-use bootstrap token.
    Bootstrap,
    /// With a reusable enrollment token (auto-approved, ephemeral).
    Enrollment,
    /// Without any token; approved only by quoting the key's fingerprint.
    Request,
}

impl EnrollMethod {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bootstrap => "bootstrap",
            Self::Enrollment => "enrollment",
            Self::Request => "request",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "bootstrap" => Some(Self::Bootstrap),
            "enrollment" => Some(Self::Enrollment),
            "request" => Some(Self::Request),
            _ => None,
        }
    }
}

/// One machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineRecord {
    /// Travels in `X-Machine-Id`.
    pub id: MachineId,
    /// A label for people.
    pub name: String,
    /// The hostname it reported at enrollment.
    pub hostname: String,
    /// Its Ed25519 key. Unique across machines and operators, forever (revoked keys included).
    pub public_key: PublicKey,
    /// Lifecycle state.
    pub status: MachineStatus,
    /// Operators can disable an approved machine without revoking it.
    pub enabled: bool,
    /// Ephemeral or standard.
    pub kind: MachineKind,
    /// When it stops authenticating (Unix ms), for ephemeral machines.
    pub expires_ms: Option<i64>,
    /// How it registered.
    pub enrolled_via: EnrollMethod,
    /// The enrollment token that created it, if any.
    pub enrollment_token_id: Option<String>,
    /// The source address it registered from.
    pub registered_ip: String,
    /// If non-empty, requests must come from one of these CIDRs.
    pub allowed_cidrs: Vec<String>,
    /// Creation time, Unix ms.
    pub created_ms: i64,
    /// Set when the machine is an AI agent (`crate::ai_agent`): machine routes refuse it.
    pub ai_agent: Option<AiAgentProfile>,
}

/// A machine lookup together with the vault's policy stamp, both read by one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineAtPolicy {
    /// The machine, or `None` if the id is unknown.
    pub machine: Option<MachineRecord>,
    /// The policy stamp at the moment of the lookup (known or not).
    pub policy_version: PolicyVersion,
    /// The access stamp the lookup saw, read by the same statement: the machine (and the
    /// policy stamp) are exactly as of this stamp.
    pub access_stamp: AccessStamp,
}

/// A machine to register (alias kept for readability at call sites).
pub type NewMachine = MachineRecord;

/// Machines and what they may reach.
#[async_trait]
pub trait MachineStore {
    /// Looks one up by id. On the hot path: backends answer from an index in one round trip.
    async fn machine(&self, id: &MachineId) -> StoreResult<Option<MachineRecord>>;
    /// [`machine`](Self::machine) plus the vault's policy stamp, in the same statement (no extra
    /// round trip): the lookup every signed machine request makes. The stamp is returned for an
    /// unknown id too, so the allowlist still decides such a request on a current policy.
    async fn machine_at_policy(&self, id: &MachineId) -> StoreResult<MachineAtPolicy>;
    /// All machines, newest first.
    async fn machines(&self) -> StoreResult<Vec<MachineRecord>>;
    /// Registers a pending machine without any token (tokenless request).
    /// `Conflict::PublicKey` if the key is known.
    async fn insert_machine(&self, machine: &NewMachine) -> StoreResult<()>;
    /// Moves a machine from `from` to `to` (for example pending → approved). `NotFound` if the
    /// machine is missing or not in `from`.
    async fn transition_machine(
        &self,
        id: &MachineId,
        from: MachineStatus,
        to: MachineStatus,
    ) -> StoreResult<()>;
    /// Enables or disables. `NotFound` if missing.
    async fn set_machine_enabled(&self, id: &MachineId, enabled: bool) -> StoreResult<()>;
    /// Marks it revoked and drops all its grants and memberships, atomically. `NotFound` if
    /// missing or already revoked.
    async fn revoke_machine(&self, id: &MachineId) -> StoreResult<()>;
    /// Replaces the machine's allowed CIDRs. `NotFound` if missing.
    async fn set_machine_cidrs(&self, id: &MachineId, cidrs: &[String]) -> StoreResult<()>;
    /// Attaches to a project (idempotent). `NotFound` if either is missing.
    async fn attach(&self, machine: &MachineId, project: &ProjectId) -> StoreResult<()>;
    /// Detaches from a project and drops the machine's grants on that project's secrets.
    async fn detach(&self, machine: &MachineId, project: &ProjectId) -> StoreResult<()>;
    /// Projects the machine is attached to.
    async fn memberships(&self, machine: &MachineId) -> StoreResult<Vec<ProjectId>>;
    /// Grants one secret (idempotent). `NotFound` if either is missing.
    async fn grant(&self, machine: &MachineId, secret: &SecretId) -> StoreResult<()>;
    /// Removes one grant (idempotent).
    async fn ungrant(&self, machine: &MachineId, secret: &SecretId) -> StoreResult<()>;
    /// Secrets explicitly granted to the machine.
    async fn grants(&self, machine: &MachineId) -> StoreResult<Vec<SecretId>>;
}
