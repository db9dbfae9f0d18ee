//! The managed-secret sync agent's routes, wire-compatible with SikkerKey's CLI agent (its
//! paths and camelCase field names). Signed like every machine route, and answered only to the
//! machine an operator named as the secret's agent. Success is always 200.

use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

use crate::openapi::ErrorBody;

/// The database the agent applies rotations to, with its admin credentials.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncConnection {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The database to connect to.
    pub database: String,
    /// The role the agent connects as to change the managed role's password.
    pub admin_user: String,
    /// Its password.
    #[schema(value_type = String)]
    pub admin_pass: Zeroizing<String>,
    /// SikkerKey's Supabase routing suffix; always empty here.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub project_reference: String,
    /// How the agent should use TLS (`disable`, `prefer`, `require`, `verify-full`); SikkerKey's
    /// CLI ignores it and always connects without TLS.
    pub tls_mode: String,
}

impl std::fmt::Debug for SyncConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncConnection")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("admin_user", &self.admin_user)
            .field("admin_pass", &"***")
            .field("tls_mode", &self.tls_mode)
            .finish_non_exhaustive()
    }
}

/// `GET /v1/secret/{id}/sync-config`.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncConfigAnswer {
    /// Always `postgresql`.
    pub provider_type: String,
    /// The database and its admin credentials.
    pub connection: SyncConnection,
    /// The role whose password the secret holds.
    pub managed_username: String,
    /// How often the agent should ask again, in seconds.
    pub poll_interval_seconds: u32,
    /// The rotation waiting for the agent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_rotation_id: Option<String>,
    /// Its value: a JSON object of strings (`username`, `password`), as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub pending_value: Option<Zeroizing<String>>,
    /// `pending` while a rotation waits; otherwise how the newest one ended (`confirmed`,
    /// `rejected`), or `idle` before the first.
    pub rotation_status: String,
}

impl std::fmt::Debug for SyncConfigAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncConfigAnswer")
            .field("provider_type", &self.provider_type)
            .field("connection", &self.connection)
            .field("managed_username", &self.managed_username)
            .field("pending_rotation_id", &self.pending_rotation_id)
            .field("rotation_status", &self.rotation_status)
            .finish_non_exhaustive()
    }
}

/// `POST /v1/secret/{id}/agent/heartbeat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// `healthy` or `error`.
    pub status: String,
    /// What went wrong (SikkerKey's CLI sends an empty string when healthy). Control
    /// characters are replaced and it is cut to 500 characters before it is stored.
    #[serde(default)]
    pub error: Option<String>,
}

/// `POST /v1/secret/{id}/agent/confirm-rotation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmRotationRequest {
    /// The pending rotation's id, from the sync configuration.
    pub rotation_id: String,
}

/// `POST /v1/secret/{id}/agent/reject-rotation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RejectRotationRequest {
    /// The pending rotation's id.
    pub rotation_id: String,
    /// Why it failed (sanitised and cut to 500 characters, as for a heartbeat).
    #[serde(default)]
    pub error: Option<String>,
}

/// The answer to a heartbeat, confirmation or rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentAck {
    /// Always `true`.
    pub ok: bool,
}

/// The database's admin credentials and any pending rotation, for the secret's agent.
#[utoipa::path(operation_id = "agent_sync_config", get, path = "/v1/secret/{id}/sync-config", tag = "agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    params(("id" = String, Path, description = "The managed secret's id")),
    responses((status = 200, description = "The sync configuration", body = SyncConfigAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not a managed secret this machine is the agent of", body = ErrorBody),
              (status = 423, description = "The secret's project is frozen", body = ErrorBody),
              (status = 503, description = "The store, audit log or key is unavailable", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn sync_config() {}

/// Records the agent's health.
#[utoipa::path(operation_id = "agent_heartbeat", post, path = "/v1/secret/{id}/agent/heartbeat", tag = "agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    params(("id" = String, Path, description = "The managed secret's id")),
    request_body = HeartbeatRequest,
    responses((status = 200, description = "Recorded", body = AgentAck),
              (status = 400, description = "Malformed body or status", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not a managed secret this machine is the agent of", body = ErrorBody),
              (status = 503, description = "The store or audit log is down", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn heartbeat() {}

/// Makes the pending rotation the live version. Idempotent: confirming the rotation that was
/// confirmed last answers 200 again and changes nothing.
#[utoipa::path(operation_id = "agent_confirm_rotation", post, path = "/v1/secret/{id}/agent/confirm-rotation", tag = "agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    params(("id" = String, Path, description = "The managed secret's id")),
    request_body = ConfirmRotationRequest,
    responses((status = 200, description = "Confirmed", body = AgentAck),
              (status = 400, description = "Malformed body", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not a managed secret this machine is the agent of", body = ErrorBody),
              (status = 409, description = "No rotation of that id is pending (`conflict`)", body = ErrorBody),
              (status = 503, description = "The store or audit log is down", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn confirm_rotation() {}

/// Drops the pending rotation and keeps the live version. Idempotent like a confirmation.
#[utoipa::path(operation_id = "agent_reject_rotation", post, path = "/v1/secret/{id}/agent/reject-rotation", tag = "agent",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    params(("id" = String, Path, description = "The managed secret's id")),
    request_body = RejectRotationRequest,
    responses((status = 200, description = "Rejected", body = AgentAck),
              (status = 400, description = "Malformed body", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not a managed secret this machine is the agent of", body = ErrorBody),
              (status = 409, description = "No rotation of that id is pending (`conflict`)", body = ErrorBody),
              (status = 503, description = "The store or audit log is down", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn reject_rotation() {}

/// The agent routes' part of the document.
#[derive(OpenApi)]
#[openapi(
    paths(sync_config, heartbeat, confirm_rotation, reject_rotation),
    components(schemas(SyncConnection, SyncConfigAnswer, HeartbeatRequest,
        ConfirmRotationRequest, RejectRotationRequest, AgentAck)),
    tags((name = "agent", description = "A managed secret's sync agent (SikkerKey's CLI agent \
        paths): signed machine requests, answered only to the machine named as the secret's \
        agent."))
)]
pub struct Api;
