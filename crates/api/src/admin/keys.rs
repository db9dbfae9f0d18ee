//! Root key rotation: the keyring's generations, rotating, retiring; and project key rotation
//! (`docs/operations.md`, "Key rotation"; `docs/protocol.md`, "Key rotation").

use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// One live root key generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RootGenerationAnswer {
    /// Its number: 0 is the root key file itself.
    pub generation: u32,
    /// Whether new project keys are wrapped under it.
    pub current: bool,
    /// Project keys (of live and trashed projects) still wrapped under it.
    pub project_keys: u64,
    /// When it was made, Unix ms (0 for generation 0).
    pub created_ms: i64,
}

/// `GET /v1/admin/keys/root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RootKeyStatusAnswer {
    /// The live generations, lowest first; the last is current.
    pub generations: Vec<RootGenerationAnswer>,
}

/// `POST /v1/admin/keys/root/rotate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateRootRequest {
    /// Make a new generation current first (the first call of a rotation). Without it the call
    /// only continues re-wrapping under the current generation.
    #[serde(default)]
    pub start: bool,
}

/// `POST /v1/admin/keys/root/rotate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RootRotationAnswer {
    /// The current generation, which project keys are re-wrapped under.
    pub generation: u32,
    /// Whether this call made it current.
    pub started: bool,
    /// Project keys this call re-wrapped.
    pub rewrapped: u64,
    /// Project keys still wrapped under older generations.
    pub remaining: u64,
    /// Each call stops after a few seconds of work; call again (without `start`) until `false`.
    pub more: bool,
}

/// `POST /v1/admin/keys/root/retire`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetireRootRequest {
    /// The generation to retire: not the current one, and nothing may refer to it.
    pub generation: u32,
}

/// `POST /v1/admin/keys/root/retire`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RetireRootAnswer {
    /// The retired generation.
    pub generation: u32,
    /// Always `true`.
    pub retired: bool,
}

/// `POST /v1/admin/projects/{id}/key/rotate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectKeyRotationAnswer {
    /// The project.
    pub project_id: String,
    /// The new key's generation (the old one was this minus one, and is gone).
    pub generation: u32,
    /// Values re-wrapped under the new key: secret versions' data keys, a pending managed
    /// rotation's, database connection and lease passwords.
    pub rewrapped: u64,
}

/// The keyring's generations.
#[utoipa::path(get, path = "/v1/admin/keys/root", tag = "admin",
    responses((status = 200, description = "Success", body = RootKeyStatusAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (owners only)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn root_status() {}

/// Starts or continues a root key rotation.
#[utoipa::path(post, path = "/v1/admin/keys/root/rotate", tag = "admin",
    request_body = RotateRootRequest,
    responses((status = 200, description = "Success", body = RootRotationAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (owners only, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 409, description = "Another rotation made a generation meanwhile", body = crate::openapi::ErrorBody),
              (status = 503, description = "The store is down, or a generation does not open", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn root_rotate() {}

/// Retires a root key generation.
#[utoipa::path(post, path = "/v1/admin/keys/root/retire", tag = "admin",
    request_body = RetireRootRequest,
    responses((status = 200, description = "Success", body = RetireRootAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (owners only, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such live generation", body = crate::openapi::ErrorBody),
              (status = 409, description = "`key_generation_in_use`: the generation is current or still wraps values", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn root_retire() {}

/// Replaces a project's key and re-wraps every value sealed under it, in one transaction.
#[utoipa::path(post, path = "/v1/admin/projects/{id}/key/rotate", tag = "admin",
    params(("id" = String, Path, description = "The project id")),
    responses((status = 200, description = "Success", body = ProjectKeyRotationAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (owners and admins, in scope; CSRF or step-up), or no such project", body = crate::openapi::ErrorBody),
              (status = 409, description = "`project_key_conflict`: another rotation of the project finished first", body = crate::openapi::ErrorBody),
              (status = 503, description = "The store is down, the key does not open, or writes kept racing the rotation", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn project_rotate() {}

/// The key rotation routes' part of the document.
#[derive(OpenApi)]
#[openapi(
    paths(root_status, root_rotate, root_retire, project_rotate),
    components(schemas(
        ProjectKeyRotationAnswer,
        RootGenerationAnswer,
        RootKeyStatusAnswer,
        RotateRootRequest,
        RootRotationAnswer,
        RetireRootRequest,
        RetireRootAnswer
    ))
)]
pub struct Api;
