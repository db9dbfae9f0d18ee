//! Rotation: a secret's value regenerated on the server by hand or on a schedule. Like every
//! operator answer, none carries a value.

use serde::{Deserialize, Serialize};
use signet_proto::SecretId;
use utoipa::{OpenApi, ToSchema};

/// `POST /v1/admin/secrets/{id}/rotation`: creates or replaces the settings. Every field may be
/// left out (the default: 32 `symbols`, every field, no schedule).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetRotationRequest {
    /// `symbols`, `alphanumeric`, `numbers`, `hex`, `base64url` or `uuid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
    /// 1-1024 characters (default 32; a uuid is always 36).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
    /// For a structured secret: the fields that rotate (each a current field); the others are
    /// kept. Absent: every field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// The schedule: rotate every this many seconds, 300 (5 minutes) to 2592000 (30 days).
    /// Absent: no schedule (manual and policy rotation only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u64>,
}

/// A secret's rotation settings and schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotationAnswer {
    /// The secret.
    #[schema(value_type = String)]
    pub secret_id: SecretId,
    /// The generator's charset.
    pub charset: String,
    /// The generated length.
    pub length: u32,
    /// The fields that rotate; `null`: all of them.
    pub fields: Option<Vec<String>>,
    /// The schedule's interval in seconds; `null`: no schedule.
    pub interval_seconds: Option<u64>,
    /// Whether the schedule is paused.
    pub paused: bool,
    /// When the scheduler next rotates it, Unix ms; `null` without a running schedule.
    pub next_due_at: Option<i64>,
    /// The newest rotation by any trigger, Unix ms.
    pub last_rotated_at: Option<i64>,
}

/// `GET /v1/admin/secrets/{id}/rotation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RotationStatusAnswer {
    /// The settings; `null` if the secret has none.
    pub rotation: Option<RotationAnswer>,
}

/// Shows a secret's rotation settings.
#[utoipa::path(get, path = "/v1/admin/secrets/{id}/rotation", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    responses((status = 200, description = "Success", body = RotationStatusAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such secret", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn show_rotation() {}

/// Creates or replaces a secret's rotation settings; a schedule is next due one interval from
/// now. Needs the developer role or above.
#[utoipa::path(post, path = "/v1/admin/secrets/{id}/rotation", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    request_body = SetRotationRequest,
    responses((status = 200, description = "Success: the settings", body = RotationAnswer),
              (status = 400, description = "Malformed request (charset, length, fields or interval)", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such secret", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn set_rotation() {}

/// Removes a secret's rotation settings and schedule.
#[utoipa::path(post, path = "/v1/admin/secrets/{id}/rotation/clear", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    responses((status = 200, description = "Success", body = crate::admin::DeletedFlagAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such secret, or it has no settings", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn clear_rotation() {}

/// Pauses a secret's rotation schedule.
#[utoipa::path(post, path = "/v1/admin/secrets/{id}/rotation/pause", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    responses((status = 200, description = "Success: the settings", body = RotationAnswer),
              (status = 400, description = "The secret has no schedule", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such secret", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn pause_rotation() {}

/// Resumes a paused schedule: next due one interval from now.
#[utoipa::path(post, path = "/v1/admin/secrets/{id}/rotation/resume", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    responses((status = 200, description = "Success: the settings", body = RotationAnswer),
              (status = 400, description = "The secret has no schedule", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such secret", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn resume_rotation() {}

/// Rotates a secret now: a new version with a generated value (its settings, or 32 `symbols`
/// in every field), audited `secret_rotate` with `trigger=manual`.
#[utoipa::path(post, path = "/v1/admin/secrets/{id}/rotate", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    responses((status = 200, description = "Success: the secret at its new version", body = crate::admin::secret::SecretMetadataAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such secret", body = crate::openapi::ErrorBody),
              (status = 409, description = "A concurrent write won (`conflict`); nothing was written", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn rotate_secret() {}

/// The rotation routes.
#[derive(OpenApi)]
#[openapi(
    paths(
        show_rotation,
        set_rotation,
        clear_rotation,
        pause_rotation,
        resume_rotation,
        rotate_secret
    ),
    components(schemas(SetRotationRequest, RotationAnswer, RotationStatusAnswer))
)]
pub struct Api;
