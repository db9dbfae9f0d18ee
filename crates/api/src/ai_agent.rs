//! AI agents' wire types (issue 14 §2): the agent routes (`/v1/ai/...`, signed like machine
//! routes) and the operators' agent management (`/v1/admin/ai-agents...`). Answers reuse the
//! operator routes' metadata answers, none of which carries a value; requests may carry a value
//! in (creating a secret), never ask for one out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use signet_proto::ProjectId;
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

use crate::admin::audit::{AuditQueryRequest, AuditRecordsAnswer};
use crate::admin::machine::{MachineAnswer, MachinesAnswer};
use crate::admin::project::{CreateProjectRequest, ProjectAnswer, ProjectsAnswer};
use crate::admin::secret::{SecretMetadataAnswer, SecretQueryRequest, SecretsAnswer};
use crate::openapi::ErrorBody;

/// `GET /v1/ai/whoami`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentWhoami {
    /// The agent's id (its `X-Machine-Id`).
    pub agent_id: String,
    /// Its name.
    pub name: String,
    /// Its scopes, as an operator set them.
    pub scopes: Vec<String>,
    /// Its project allowlist; absent: every project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub project_ids: Option<Vec<ProjectId>>,
}

/// `POST /v1/ai/secrets`: exactly one of `value`, `fields` and `generate: true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentCreateSecretRequest {
    /// The project (text: a malformed id answers like an unknown one).
    pub project_id: String,
    /// The secret's name.
    pub name: String,
    /// A standard secret's value, written and never answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub value: Option<Zeroizing<String>>,
    /// A structured secret's fields, written and never answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub fields: Option<BTreeMap<String, Zeroizing<String>>>,
    /// The server generates the value (32 symbols) and nobody ever sees it.
    #[serde(default)]
    pub generate: bool,
}

/// `POST /v1/ai/machines/{id}/approve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentApproveRequest {
    /// The fingerprint the machine printed, always required.
    pub fingerprint: String,
}

/// `POST /v1/ai/machines/{id}/grant` and `.../revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentGrantRequest {
    /// The secret.
    pub secret_id: String,
}

/// `POST /v1/admin/ai-agents/{id}/approve`: approves a pending machine as an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApproveAgentRequest {
    /// The fingerprint the agent's host printed.
    pub fingerprint: String,
    /// Scope names (`projects.read`, `projects.write`, `secrets.read`, `secrets.write`,
    /// `machines.read`, `machines.write`, `audit.read`).
    pub scopes: Vec<String>,
    /// The project allowlist; absent: every project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_ids: Option<Vec<String>>,
}

/// `POST /v1/admin/ai-agents/{id}/scopes`: replaces the scopes and the allowlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentScopesRequest {
    /// Scope names, as for approval.
    pub scopes: Vec<String>,
    /// The project allowlist; absent: every project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_ids: Option<Vec<String>>,
}

/// One agent, as operators see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AiAgentAnswer {
    /// Its machine row (state, fingerprint, ...).
    pub machine: MachineAnswer,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Its project allowlist; absent: every project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub project_ids: Option<Vec<ProjectId>>,
}

/// `GET /v1/admin/ai-agents`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AiAgentsAnswer {
    /// Every agent, newest first.
    pub agents: Vec<AiAgentAnswer>,
}

/// The agent itself.
#[utoipa::path(operation_id = "ai_whoami", get, path = "/v1/ai/whoami", tag = "ai-agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    responses((status = 200, description = "The agent", body = AgentWhoami),
              (status = 401, description = "Authentication failed (or not an agent's key)", body = ErrorBody),
              (status = 403, description = "The agent is pending or disabled", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn whoami() {}

/// Projects within the allowlist (`projects.read`).
#[utoipa::path(operation_id = "ai_projects", get, path = "/v1/ai/projects", tag = "ai-agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    responses((status = 200, description = "Projects", body = ProjectsAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Outside the agent's scopes", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn projects() {}

/// Creates a project (`projects.write`; never for an agent with an allowlist).
#[utoipa::path(operation_id = "ai_create_project", post, path = "/v1/ai/projects", tag = "ai-agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    request_body = CreateProjectRequest,
    responses((status = 200, description = "Created", body = ProjectAnswer),
              (status = 400, description = "Malformed request", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Outside the agent's scopes", body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_project() {}

/// A project's secrets' metadata (`secrets.read`).
#[utoipa::path(operation_id = "ai_query_secrets", post, path = "/v1/ai/secrets/query", tag = "ai-agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    request_body = SecretQueryRequest,
    responses((status = 200, description = "Metadata only", body = SecretsAnswer),
              (status = 400, description = "Malformed request", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Outside the agent's scopes or allowlist", body = ErrorBody),
              (status = 404, description = "No such project", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn query_secrets() {}

/// Creates a secret (`secrets.write`); the answer is its metadata.
#[utoipa::path(operation_id = "ai_create_secret", post, path = "/v1/ai/secrets", tag = "ai-agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    request_body = AgentCreateSecretRequest,
    responses((status = 200, description = "Created (metadata only)", body = SecretMetadataAnswer),
              (status = 400, description = "Malformed request", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Outside the agent's scopes or allowlist", body = ErrorBody),
              (status = 404, description = "No such project", body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_secret() {}

/// Rotates a secret to a server-generated value (`secrets.write`).
#[utoipa::path(operation_id = "ai_rotate_secret", post, path = "/v1/ai/secrets/{id}/rotate", tag = "ai-agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    params(("id" = String, Path, description = "The secret's id")),
    responses((status = 200, description = "Rotated (metadata only)", body = SecretMetadataAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Outside the agent's scopes or allowlist", body = ErrorBody),
              (status = 404, description = "No such secret", body = ErrorBody),
              (status = 409, description = "Conflicts with current state", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn rotate_secret() {}

/// Machines (`machines.read`); agents are never listed.
#[utoipa::path(operation_id = "ai_machines", get, path = "/v1/ai/machines", tag = "ai-agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    responses((status = 200, description = "Machines", body = MachinesAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Outside the agent's scopes", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn machines() {}

/// Approves a pending machine by its fingerprint (`machines.write`).
#[utoipa::path(operation_id = "ai_approve_machine", post, path = "/v1/ai/machines/{id}/approve", tag = "ai-agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    params(("id" = String, Path, description = "The machine's id")),
    request_body = AgentApproveRequest,
    responses((status = 200, description = "Approved", body = MachineAnswer),
              (status = 400, description = "Malformed request or a fingerprint that does not match", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Outside the agent's scopes, an agent, or no such machine", body = ErrorBody),
              (status = 409, description = "Not pending", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn approve_machine() {}

/// Enables a machine (`machines.write`).
#[utoipa::path(operation_id = "ai_enable_machine", post, path = "/v1/ai/machines/{id}/enable", tag = "ai-agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    params(("id" = String, Path, description = "The machine's id")),
    responses((status = 200, description = "Enabled", body = MachineAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Outside the agent's scopes, an agent, or no such machine", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn enable_machine() {}

/// Disables a machine (`machines.write`).
#[utoipa::path(operation_id = "ai_disable_machine", post, path = "/v1/ai/machines/{id}/disable", tag = "ai-agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    params(("id" = String, Path, description = "The machine's id")),
    responses((status = 200, description = "Disabled", body = MachineAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Outside the agent's scopes, an agent, or no such machine", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn disable_machine() {}

/// Grants a secret to a machine, attaching it to the secret's project (`machines.write`).
#[utoipa::path(operation_id = "ai_grant", post, path = "/v1/ai/machines/{id}/grant", tag = "ai-agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    params(("id" = String, Path, description = "The machine's id")),
    request_body = AgentGrantRequest,
    responses((status = 200, description = "Granted", body = MachineAnswer),
              (status = 400, description = "Malformed request", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Outside the agent's scopes or allowlist, an agent, or no such machine", body = ErrorBody),
              (status = 404, description = "No such secret", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn grant() {}

/// Removes a machine's grant (`machines.write`).
#[utoipa::path(operation_id = "ai_revoke", post, path = "/v1/ai/machines/{id}/revoke", tag = "ai-agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    params(("id" = String, Path, description = "The machine's id")),
    request_body = AgentGrantRequest,
    responses((status = 200, description = "Removed", body = MachineAnswer),
              (status = 400, description = "Malformed request", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Outside the agent's scopes, an agent, or no such machine", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn revoke() {}

/// The audit log (`audit.read`; never for an agent with an allowlist).
#[utoipa::path(operation_id = "ai_audit_query", post, path = "/v1/ai/audit/query", tag = "ai-agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    request_body = AuditQueryRequest,
    responses((status = 200, description = "Records, newest first", body = AuditRecordsAnswer),
              (status = 400, description = "Malformed request", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Outside the agent's scopes", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn audit_query() {}

/// Every AI agent.
#[utoipa::path(get, path = "/v1/admin/ai-agents", tag = "admin",
    responses((status = 200, description = "Success", body = AiAgentsAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn admin_agents() {}

/// Approves a pending machine as an AI agent, with its scopes.
#[utoipa::path(post, path = "/v1/admin/ai-agents/{id}/approve", tag = "admin",
    params(("id" = String, Path, description = "The pending machine's id")),
    request_body = ApproveAgentRequest,
    responses((status = 200, description = "Approved", body = AiAgentAnswer),
              (status = 400, description = "Malformed request, unknown scope or project, or a fingerprint that does not match", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, scope or step-up)", body = ErrorBody),
              (status = 404, description = "No such machine", body = ErrorBody),
              (status = 409, description = "Not pending", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn admin_approve() {}

/// Replaces an AI agent's scopes and allowlist.
#[utoipa::path(post, path = "/v1/admin/ai-agents/{id}/scopes", tag = "admin",
    params(("id" = String, Path, description = "The agent's id")),
    request_body = AgentScopesRequest,
    responses((status = 200, description = "Changed", body = AiAgentAnswer),
              (status = 400, description = "Malformed request, unknown scope or project", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, scope or step-up)", body = ErrorBody),
              (status = 404, description = "No such agent", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn admin_scopes() {}

/// The AI agent routes' part of the document.
#[derive(OpenApi)]
#[openapi(
    paths(whoami, projects, create_project, query_secrets, create_secret, rotate_secret,
        machines, approve_machine, enable_machine, disable_machine, grant, revoke, audit_query,
        admin_agents, admin_approve, admin_scopes),
    components(schemas(AgentWhoami, AgentCreateSecretRequest, AgentApproveRequest,
        AgentGrantRequest, ApproveAgentRequest, AgentScopesRequest, AiAgentAnswer,
        AiAgentsAnswer)),
    tags((name = "ai-agent", description = "AI agents (issue 14 §2): signed like machine \
        requests with the agent's key, answered only to a machine approved as an agent; \
        management by scope, and never a secret's value."))
)]
pub struct Api;
