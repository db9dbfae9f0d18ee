//! Managed database passwords: a structured secret (`username`, `password`) bound to a database
//! connection, rotated by a sync agent in two phases. No answer carries a value or the
//! connection's admin password.

use serde::{Deserialize, Serialize};
use signet_proto::SecretId;
use utoipa::{OpenApi, ToSchema};

/// `POST /v1/admin/secrets/{id}/managed`: makes a structured secret with exactly the fields
/// `username` and `password` managed, or changes its binding. The managed role is the secret's
/// current `username`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetManagedRequest {
    /// A database connection of the secret's project.
    pub connection_id: String,
    /// The one machine given the connection's admin credentials and the pending rotations:
    /// it must also be attached to the project and granted the secret. Absent: no agent yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_machine_id: Option<String>,
    /// How often the agent asks for a pending rotation, 5-3600 seconds (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_seconds: Option<u32>,
}

/// A managed secret's binding and rotation state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedAnswer {
    /// The secret.
    #[schema(value_type = String)]
    pub secret_id: SecretId,
    /// Its database connection.
    pub connection_id: String,
    /// The database role it holds the password of.
    pub username: String,
    /// Its sync agent; `null`: none.
    pub agent_machine_id: Option<String>,
    /// The agent's poll interval, seconds.
    pub poll_interval_seconds: u32,
    /// The rotation waiting for the agent; `null`: none.
    pub pending_rotation_id: Option<String>,
    /// When it was made, Unix ms.
    pub pending_since: Option<i64>,
    /// The newest finished rotation's id.
    pub last_rotation_id: Option<String>,
    /// How it ended: `confirmed` or `rejected`.
    pub last_outcome: Option<String>,
    /// The agent's error, for a rejection.
    pub last_error: Option<String>,
    /// When it ended, Unix ms.
    pub last_at: Option<i64>,
    /// The agent's newest heartbeat status: `healthy` or `error`.
    pub heartbeat_status: Option<String>,
    /// Its error text.
    pub heartbeat_error: Option<String>,
    /// When the agent was last heard from, Unix ms.
    pub last_seen_at: Option<i64>,
}

/// `GET /v1/admin/secrets/{id}/managed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ManagedStatusAnswer {
    /// The binding; `null` if the secret is not managed.
    pub managed: Option<ManagedAnswer>,
}

/// Shows a secret's managed binding, pending rotation and agent health.
#[utoipa::path(get, path = "/v1/admin/secrets/{id}/managed", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    responses((status = 200, description = "Success", body = ManagedStatusAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such secret", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn show_managed() {}

/// Makes a secret managed, or changes its connection, agent or poll interval. Needs the
/// developer role or above.
#[utoipa::path(post, path = "/v1/admin/secrets/{id}/managed", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    request_body = SetManagedRequest,
    responses((status = 200, description = "Success: the binding", body = ManagedAnswer),
              (status = 400, description = "Not a structured secret of `username` and `password`, a bad role name, or no such connection or machine", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such secret", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn set_managed() {}

/// The managed-secret routes.
#[derive(OpenApi)]
#[openapi(
    paths(show_managed, set_managed),
    components(schemas(SetManagedRequest, ManagedAnswer, ManagedStatusAnswer))
)]
pub struct Api;
