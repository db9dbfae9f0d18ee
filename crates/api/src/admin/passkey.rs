//! The caller's own passkeys (WebAuthn): registering, renaming and deleting them. The ceremony
//! types here are shared with the passkey sign-in and step-up routes (`crate::auth`).
//!
//! WebAuthn's own payloads (the options a browser hands to `navigator.credentials`, and the
//! credential it answers with) are opaque JSON to this contract: the server checks them with
//! its WebAuthn library, and no client but a browser builds them.

use serde::{Deserialize, Serialize};
use signet_proto::{CeremonyId, PasskeyId};
use utoipa::{OpenApi, ToSchema};

/// A passkey as its owner sees it: no key material.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyAnswer {
    /// The passkey's id.
    #[schema(value_type = String)]
    pub id: PasskeyId,
    /// What the user calls it.
    pub name: String,
    /// Registration time, Unix ms.
    pub created_at: i64,
    /// Last sign-in or step-up with it, Unix ms.
    pub last_used_at: Option<i64>,
}

/// What a browser needs to run a ceremony: the id to send back, and the options for
/// `navigator.credentials.create/get`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyChallengeAnswer {
    /// Sent back with the answer.
    #[schema(value_type = String)]
    pub challenge_id: CeremonyId,
    /// `PublicKeyCredential{Creation,Request}OptionsJSON`, as the browser's
    /// `parse…OptionsFromJSON` reads it.
    #[schema(value_type = Object)]
    pub public_key: serde_json::Value,
}

/// A browser's answer to a ceremony.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasskeyCredentialRequest {
    /// The `challengeId` it was given (text: a malformed one is refused by the server).
    pub challenge_id: String,
    /// `PublicKeyCredential.toJSON()`.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// `POST /v1/admin/account/passkeys/register/start` and `.../{id}/rename`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyNameRequest {
    /// What the user calls it: 1 to 64 characters.
    pub name: String,
}

/// Starts registering a passkey for the caller.
#[utoipa::path(post, path = "/v1/admin/account/passkeys/register/start", tag = "admin",
    request_body = PasskeyNameRequest,
    responses((status = 200, description = "Success", body = PasskeyChallengeAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (CSRF, step-up, or passkeys unavailable)", body = crate::openapi::ErrorBody),
              (status = 409, description = "Conflicts with current state", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn passkey_register_start() {}

/// Finishes registering a passkey.
#[utoipa::path(post, path = "/v1/admin/account/passkeys/register/finish", tag = "admin",
    request_body = PasskeyCredentialRequest,
    responses((status = 200, description = "Success", body = PasskeyAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (CSRF, or passkeys unavailable)", body = crate::openapi::ErrorBody),
              (status = 409, description = "Conflicts with current state", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn passkey_register_finish() {}

/// Renames one of the caller's passkeys.
#[utoipa::path(post, path = "/v1/admin/account/passkeys/{id}/rename", tag = "admin",
    params(("id" = String, Path, description = "The passkey's id")),
    request_body = PasskeyNameRequest,
    responses((status = 200, description = "Success", body = PasskeyAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (CSRF)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn rename_passkey() {}

/// Deletes one of the caller's passkeys.
#[utoipa::path(post, path = "/v1/admin/account/passkeys/{id}/delete", tag = "admin",
    params(("id" = String, Path, description = "The passkey's id")),
    responses((status = 200, description = "Success", body = super::DeletedFlagAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (CSRF)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn delete_passkey() {}

/// The passkey routes of the operator API.
#[derive(OpenApi)]
#[openapi(
    paths(
        passkey_register_start,
        passkey_register_finish,
        rename_passkey,
        delete_passkey
    ),
    components(schemas(
        PasskeyAnswer,
        PasskeyChallengeAnswer,
        PasskeyCredentialRequest,
        PasskeyNameRequest
    ))
)]
pub struct Api;
