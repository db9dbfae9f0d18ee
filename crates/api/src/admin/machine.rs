//! Machines as operators drive them: approval, enabling, projects, grants, source networks.

use serde::{Deserialize, Serialize};
use signet_proto::{MachineId, ProjectId, SecretId};
use utoipa::{OpenApi, ToSchema};

/// A machine as operators see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachineAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: MachineId,
    /// Its name.
    pub name: String,
    /// The hostname it reported.
    pub hostname: String,
    /// `pending`, `approved`, `denied` or `revoked`.
    pub status: String,
    /// Whether it may act when approved.
    pub enabled: bool,
    /// `standard` or `ephemeral`.
    pub kind: String,
    /// When it stops authenticating, Unix ms.
    pub expires_at: Option<i64>,
    /// `bootstrap`, `enrollment` or `request`.
    pub enrolled_via: String,
    /// The key's fingerprint, to compare with what the machine printed.
    pub fingerprint: String,
    /// The raw public key, base64.
    pub public_key: String,
    /// Where it registered from.
    pub registered_ip: String,
    /// Source restriction; empty means any.
    pub allowed_cidrs: Vec<String>,
    /// Projects it is attached to.
    #[schema(value_type = Vec<String>)]
    pub projects: Vec<ProjectId>,
    /// Secrets it is granted.
    #[schema(value_type = Vec<String>)]
    pub grants: Vec<SecretId>,
    /// Unix ms.
    pub created_at: i64,
}

/// `GET /v1/admin/machines`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MachinesAnswer {
    /// The machines the caller may see.
    pub machines: Vec<MachineAnswer>,
}

/// The `{action}` of `POST /v1/admin/machines/{id}/{action}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MachineAction {
    /// Approves a pending machine (optionally checking `fingerprint`).
    Approve,
    /// Denies a pending machine.
    Deny,
    /// Lets an approved machine act again.
    Enable,
    /// Stops an approved machine from acting, reversibly.
    Disable,
    /// Revokes a machine for good.
    Revoke,
    /// Attaches it to `projectId`.
    Attach,
    /// Detaches it from `projectId`.
    Detach,
    /// Grants it `secretIds`.
    Grant,
    /// Withdraws `secretIds`.
    Ungrant,
    /// Restricts it to `cidrs` (empty: any source).
    Cidrs,
}

impl MachineAction {
    /// The action as it appears in the path.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
            Self::Enable => "enable",
            Self::Disable => "disable",
            Self::Revoke => "revoke",
            Self::Attach => "attach",
            Self::Detach => "detach",
            Self::Grant => "grant",
            Self::Ungrant => "ungrant",
            Self::Cidrs => "cidrs",
        }
    }
}

/// `POST /v1/admin/machines/{id}/{action}`: the fields the action uses (the body may be empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MachineActionRequest {
    /// `approve`: the fingerprint the machine printed; refused when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// `attach`, `detach`: the project (text: a malformed id answers like an unknown one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// `grant`, `ungrant`: the secrets (text, likewise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ids: Option<Vec<String>>,
    /// `cidrs`: the networks it may call from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidrs: Option<Vec<String>>,
}

/// Lists machines.
#[utoipa::path(get, path = "/v1/admin/machines", tag = "admin",
    responses((status = 200, description = "Success", body = MachinesAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn machines() {}

/// One machine.
#[utoipa::path(get, path = "/v1/admin/machines/{id}", tag = "admin",
    params(("id" = String, Path, description = "The machine's id")),
    responses((status = 200, description = "Success", body = MachineAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn machine() {}

/// An action on one machine; answers the machine as it is after.
#[utoipa::path(post, path = "/v1/admin/machines/{id}/{action}", tag = "admin",
    params(("id" = String, Path, description = "The machine's id"),
           ("action" = MachineAction, Path, description = "What to do")),
    request_body = MachineActionRequest,
    responses((status = 200, description = "Success", body = MachineAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody),
              (status = 409, description = "Conflicts with current state", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn machine_action() {}

/// The machine routes.
#[derive(OpenApi)]
#[openapi(
    paths(machines, machine, machine_action),
    components(schemas(MachineAnswer, MachinesAnswer, MachineAction, MachineActionRequest))
)]
pub struct Api;
