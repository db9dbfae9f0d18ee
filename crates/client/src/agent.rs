//! A managed secret's sync agent: the machine calls SikkerKey's CLI agent makes
//! (`client.agent()`), answered only to the machine an operator named as the secret's agent.

use signet_api::agent::{
    AgentAck, ConfirmRotationRequest, HeartbeatRequest, RejectRotationRequest, SyncConfigAnswer,
};
use signet_api::route::agent as route;
use signet_proto::SecretId;

use crate::error::ClientError;
use crate::machine::MachineClient;
use crate::request::RetryNetwork;

/// The agent calls of one machine: `client.agent()`.
#[derive(Clone, Copy)]
pub struct Agent<'a> {
    client: &'a MachineClient,
}

impl MachineClient {
    /// Calls a managed secret's sync agent makes.
    pub fn agent(&self) -> Agent<'_> {
        Agent { client: self }
    }
}

impl Agent<'_> {
    /// `GET /v1/secret/{id}/sync-config`: the database's admin credentials and any pending
    /// rotation.
    pub async fn sync_config(&self, id: &SecretId) -> Result<SyncConfigAnswer, ClientError> {
        let path = route::SYNC_CONFIG.replace("{id}", id.as_str());
        self.client
            .signer()
            .call_json("GET", &path, &[], RetryNetwork::Always, "sync config")
            .await
    }

    /// `POST /v1/secret/{id}/agent/heartbeat`.
    pub async fn heartbeat(
        &self,
        id: &SecretId,
        healthy: bool,
        error: &str,
    ) -> Result<AgentAck, ClientError> {
        let body = crate::admin::body(&HeartbeatRequest {
            status: if healthy { "healthy" } else { "error" }.to_owned(),
            error: Some(error.to_owned()),
        })?;
        let path = route::HEARTBEAT.replace("{id}", id.as_str());
        self.client
            .signer()
            .call_json("POST", &path, &body, RetryNetwork::Always, "heartbeat")
            .await
    }

    /// `POST /v1/secret/{id}/agent/confirm-rotation`. Safe to retry: confirming the rotation
    /// confirmed last answers the same.
    pub async fn confirm(&self, id: &SecretId, rotation: &str) -> Result<AgentAck, ClientError> {
        let body = crate::admin::body(&ConfirmRotationRequest {
            rotation_id: rotation.to_owned(),
        })?;
        let path = route::CONFIRM_ROTATION.replace("{id}", id.as_str());
        self.client
            .signer()
            .call_json("POST", &path, &body, RetryNetwork::Always, "confirmation")
            .await
    }

    /// `POST /v1/secret/{id}/agent/reject-rotation`. Safe to retry, like a confirmation.
    pub async fn reject(
        &self,
        id: &SecretId,
        rotation: &str,
        error: &str,
    ) -> Result<AgentAck, ClientError> {
        let body = crate::admin::body(&RejectRotationRequest {
            rotation_id: rotation.to_owned(),
            error: Some(error.to_owned()),
        })?;
        let path = route::REJECT_ROTATION.replace("{id}", id.as_str());
        self.client
            .signer()
            .call_json("POST", &path, &body, RetryNetwork::Always, "rejection")
            .await
    }
}
