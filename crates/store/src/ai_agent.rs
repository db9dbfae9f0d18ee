//! AI agents: machines whose principal is a set of management scopes instead of grants
//! (issue 14 §2). An agent is a machine row with an [`AiAgentProfile`], so it enrolls, signs,
//! spends nonces and is approved, disabled and revoked exactly like a machine; what it may do
//! is decided in core (`signet_core::ai_agent`), never by grants.

use async_trait::async_trait;
use signet_proto::{MachineId, ProjectId};

use crate::StoreResult;

/// What makes a machine an agent: its scopes and its optional project allowlist.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AiAgentProfile {
    /// Scope names as stored. Core parses them and ignores none: an unknown name grants
    /// nothing (a downgrade reading a newer server's rows fails closed).
    pub scopes: Vec<String>,
    /// `None`: every project; `Some`: only these.
    pub projects: Option<Vec<ProjectId>>,
}

/// Turning machines into agents and changing what they may do. Only operators reach these.
#[async_trait]
pub trait AiAgentStore {
    /// Approves a pending machine as an agent with `profile`, dropping any grants and
    /// memberships it holds, atomically. `NotFound` if missing or not pending.
    async fn approve_agent(&self, id: &MachineId, profile: &AiAgentProfile) -> StoreResult<()>;
    /// Replaces an agent's profile. `NotFound` if missing or not an agent (a machine never
    /// becomes an agent after approval: it might hold grants an agent must not have).
    async fn set_agent_profile(&self, id: &MachineId, profile: &AiAgentProfile) -> StoreResult<()>;
}
