//! The calling operator: who it is, and ending its CLI key.

use serde::{Deserialize, Serialize};
use signet_proto::{OperatorId, ProjectId, UserId, VaultId};
use utoipa::{OpenApi, ToSchema};

/// `GET /v1/admin/whoami`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhoamiAnswer {
    /// The acting principal: the key's id, or the session's own operator id.
    #[schema(value_type = String)]
    pub operator_id: OperatorId,
    /// The key's label, or `browser` for a session.
    pub name: String,
    /// The vault.
    #[schema(value_type = String)]
    pub vault_id: VaultId,
    /// Whether it is the headless owner key made by `signet operator init`.
    pub owner: bool,
    /// The signed-in user behind it; `null` for a headless key.
    #[schema(value_type = Option<String>)]
    pub user_id: Option<UserId>,
    /// Whether the request came with a browser session.
    pub session: bool,
    /// `owner`, `admin`, `developer` or `viewer`.
    pub role: String,
    /// The projects the caller is limited to; `null` for every project.
    #[schema(value_type = Option<Vec<String>>)]
    pub projects: Option<Vec<ProjectId>>,
}

/// `POST /v1/admin/logout`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogoutAnswer {
    /// Always `true`: the key that signed the request no longer authenticates.
    pub logged_out: bool,
}

/// The caller's identity and role.
#[utoipa::path(get, path = "/v1/admin/whoami", tag = "admin",
    responses((status = 200, description = "Success", body = WhoamiAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn whoami() {}

/// Revokes the CLI key that signed the request.
#[utoipa::path(post, path = "/v1/admin/logout", tag = "admin",
    responses((status = 200, description = "Success", body = LogoutAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn logout() {}

/// The calling operator's routes.
#[derive(OpenApi)]
#[openapi(paths(whoami, logout), components(schemas(WhoamiAnswer, LogoutAnswer)))]
pub struct Api;
