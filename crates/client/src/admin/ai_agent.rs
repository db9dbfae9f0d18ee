//! AI agents as operators manage them: approving a pending machine as an agent, and its scopes.
//! Disabling and revoking one are the ordinary machine actions (`client.machines()`).

use signet_api::ai_agent::{
    AgentScopesRequest, AiAgentAnswer, AiAgentsAnswer, ApproveAgentRequest,
};
use signet_api::route::ai_agent as route;
use signet_proto::MachineId;

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// AI agents: `client.ai_agents()`.
#[derive(Clone, Copy)]
pub struct AiAgents<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// Calls on AI agents: listing, approval with scopes, changing scopes.
    pub fn ai_agents(&self) -> AiAgents<'_> {
        AiAgents { client: self }
    }
}

impl AiAgents<'_> {
    /// `GET /v1/admin/ai-agents`.
    pub async fn list(&self) -> Result<AiAgentsAnswer, ClientError> {
        self.client.call("GET", route::ADMIN_AGENTS, &[]).await
    }

    /// `POST /v1/admin/ai-agents/{id}/approve`.
    pub async fn approve(
        &self,
        id: &MachineId,
        request: &ApproveAgentRequest,
    ) -> Result<AiAgentAnswer, ClientError> {
        let path = super::path(route::ADMIN_APPROVE, &[("id", &id.to_string())]);
        self.client
            .call("POST", &path, &super::body(request)?)
            .await
    }

    /// `POST /v1/admin/ai-agents/{id}/scopes`.
    pub async fn set_scopes(
        &self,
        id: &MachineId,
        request: &AgentScopesRequest,
    ) -> Result<AiAgentAnswer, ClientError> {
        let path = super::path(route::ADMIN_SCOPES, &[("id", &id.to_string())]);
        self.client
            .call("POST", &path, &super::body(request)?)
            .await
    }
}
