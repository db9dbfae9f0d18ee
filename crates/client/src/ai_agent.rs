//! The AI agent routes (`docs/openapi.json`, tag `ai-agent`), signed with the agent's key: its
//! identity file is a machine's (`identity.json` and its key, 0600 in a 0700 folder), approved
//! by an operator as an agent. No call here returns a secret's value: the server has no agent
//! route that answers one.

use std::path::Path;

use serde::Serialize;
use signet_api::admin::audit::{AuditQueryRequest, AuditRecordsAnswer};
use signet_api::admin::machine::{MachineAnswer, MachinesAnswer};
use signet_api::admin::project::{CreateProjectRequest, ProjectAnswer, ProjectsAnswer};
use signet_api::admin::secret::{SecretMetadataAnswer, SecretQueryRequest, SecretsAnswer};
use signet_api::ai_agent::{
    AgentApproveRequest, AgentCreateSecretRequest, AgentGrantRequest, AgentWhoami,
};
use signet_api::route;
use signet_proto::Identity;

use crate::ClientError;
use crate::identity::Credentials;
use crate::machine::MachineClient;
use crate::request::{ClientOptions, RetryNetwork};

/// Manages a vault as one AI agent. Reads are retried like a machine's; writes only when the
/// connection never opened, so none is applied twice. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AgentClient {
    /// An agent's key is a machine identity and signs exactly as a machine's does; only the
    /// routes differ.
    machine: MachineClient,
}

impl AgentClient {
    /// A client for a loaded identity.
    pub fn new(credentials: Credentials<Identity>) -> Result<Self, ClientError> {
        Self::with_options(credentials, ClientOptions::default())
    }

    /// A client with explicit timeout and retry settings.
    pub fn with_options(
        credentials: Credentials<Identity>,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        MachineClient::with_options(credentials, options).map(|machine| Self { machine })
    }

    /// A client for the identity at `explicit`, else `SIGNET_IDENTITY`, else the single vault
    /// under `SIGNET_HOME`, like a machine's.
    pub fn from_env(explicit: Option<&Path>) -> Result<Self, ClientError> {
        MachineClient::from_env(explicit).map(|machine| Self { machine })
    }

    /// The identity this client signs as.
    pub fn identity(&self) -> &Identity {
        self.machine.identity()
    }

    /// `GET /v1/ai/whoami`.
    pub async fn whoami(&self) -> Result<AgentWhoami, ClientError> {
        self.get(route::ai_agent::WHOAMI, "whoami").await
    }

    /// `GET /v1/ai/projects`.
    pub async fn projects(&self) -> Result<ProjectsAnswer, ClientError> {
        self.get(route::ai_agent::PROJECTS, "projects").await
    }

    /// `POST /v1/ai/projects`.
    pub async fn create_project(&self, name: &str) -> Result<ProjectAnswer, ClientError> {
        let body = CreateProjectRequest {
            name: name.to_owned(),
        };
        self.write(route::ai_agent::PROJECTS, &body, "project")
            .await
    }

    /// `POST /v1/ai/secrets/query`: metadata only.
    pub async fn secrets(&self, project_id: &str) -> Result<SecretsAnswer, ClientError> {
        let body = SecretQueryRequest {
            project_id: project_id.to_owned(),
        };
        let body = encode(&body)?;
        self.machine
            .signer()
            .call_json(
                "POST",
                route::ai_agent::SECRETS_QUERY,
                &body,
                RetryNetwork::Always,
                "secrets",
            )
            .await
    }

    /// `POST /v1/ai/secrets`: the answer is the new secret's metadata.
    pub async fn create_secret(
        &self,
        request: &AgentCreateSecretRequest,
    ) -> Result<SecretMetadataAnswer, ClientError> {
        self.write(route::ai_agent::SECRETS, request, "secret")
            .await
    }

    /// `POST /v1/ai/secrets/{id}/rotate`.
    pub async fn rotate_secret(&self, id: &str) -> Result<SecretMetadataAnswer, ClientError> {
        let path = path_with(route::ai_agent::SECRET_ROTATE, id)?;
        self.write_empty(&path, "secret").await
    }

    /// `GET /v1/ai/machines`.
    pub async fn machines(&self) -> Result<MachinesAnswer, ClientError> {
        self.get(route::ai_agent::MACHINES, "machines").await
    }

    /// `POST /v1/ai/machines/{id}/approve`.
    pub async fn approve_machine(
        &self,
        id: &str,
        fingerprint: &str,
    ) -> Result<MachineAnswer, ClientError> {
        let path = path_with(route::ai_agent::MACHINE_APPROVE, id)?;
        let body = AgentApproveRequest {
            fingerprint: fingerprint.to_owned(),
        };
        self.write(&path, &body, "machine").await
    }

    /// `POST /v1/ai/machines/{id}/enable` or `.../disable`.
    pub async fn set_machine_enabled(
        &self,
        id: &str,
        enabled: bool,
    ) -> Result<MachineAnswer, ClientError> {
        let route = if enabled {
            route::ai_agent::MACHINE_ENABLE
        } else {
            route::ai_agent::MACHINE_DISABLE
        };
        let path = path_with(route, id)?;
        self.write_empty(&path, "machine").await
    }

    /// `POST /v1/ai/machines/{id}/grant` or `.../revoke`.
    pub async fn set_grant(
        &self,
        machine: &str,
        secret_id: &str,
        grant: bool,
    ) -> Result<MachineAnswer, ClientError> {
        let route = if grant {
            route::ai_agent::MACHINE_GRANT
        } else {
            route::ai_agent::MACHINE_REVOKE
        };
        let path = path_with(route, machine)?;
        let body = AgentGrantRequest {
            secret_id: secret_id.to_owned(),
        };
        self.write(&path, &body, "machine").await
    }

    /// `POST /v1/ai/audit/query`.
    pub async fn audit(
        &self,
        query: &AuditQueryRequest,
    ) -> Result<AuditRecordsAnswer, ClientError> {
        let body = encode(query)?;
        self.machine
            .signer()
            .call_json(
                "POST",
                route::ai_agent::AUDIT_QUERY,
                &body,
                RetryNetwork::Always,
                "audit records",
            )
            .await
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        what: &'static str,
    ) -> Result<T, ClientError> {
        self.machine
            .signer()
            .call_json("GET", path, &[], RetryNetwork::Always, what)
            .await
    }

    async fn write<B: Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        what: &'static str,
    ) -> Result<T, ClientError> {
        let body = encode(body)?;
        self.machine
            .signer()
            .call_json("POST", path, &body, RetryNetwork::ConnectOnly, what)
            .await
    }

    async fn write_empty<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        what: &'static str,
    ) -> Result<T, ClientError> {
        self.machine
            .signer()
            .call_json("POST", path, &[], RetryNetwork::ConnectOnly, what)
            .await
    }
}

/// A route with its `{id}` filled. Ids are `[A-Za-z0-9_-]`: anything else (a slash, a dot, a
/// query) is refused here rather than sent as another path.
fn path_with(route: &str, id: &str) -> Result<String, ClientError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return Err(ClientError::InvalidRequest { what: "id" });
    }
    Ok(route.replace("{id}", id))
}

fn encode<T: Serialize>(body: &T) -> Result<Vec<u8>, ClientError> {
    serde_json::to_vec(body).map_err(|_| ClientError::InvalidRequest { what: "body" })
}
