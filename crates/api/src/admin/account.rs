//! The signed-in user's own account: security overview, password, sessions and CLI keys.
//! Session or signed; a headless `operator init` key has no account (400).

use serde::{Deserialize, Serialize};
use signet_proto::{OperatorId, SessionId};
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

use super::passkey::PasskeyAnswer;
use super::user::UserAnswer;

/// One of the user's live browser sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountSessionAnswer {
    /// The session's id.
    #[schema(value_type = String)]
    pub id: SessionId,
    /// Sign-in time, Unix ms.
    pub created_at: i64,
    /// Last request (to the minute), Unix ms.
    pub last_seen_at: i64,
    /// The absolute end, Unix ms.
    pub expires_at: i64,
    /// Where it signed in from.
    pub ip: String,
    /// The browser's `User-Agent` at sign-in.
    pub user_agent: String,
    /// Whether it is the session asking.
    pub current: bool,
}

/// A CLI key the user made with `signet login`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CliKeyAnswer {
    /// The key's operator id.
    #[schema(value_type = String)]
    pub operator_id: OperatorId,
    /// Its label (`signet login --name`).
    pub name: String,
    /// When it was made, Unix ms.
    pub created_at: i64,
    /// When it stops authenticating, Unix ms.
    pub expires_at: Option<i64>,
}

/// One sign-in attempt naming the account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginAttemptAnswer {
    /// When, Unix ms.
    pub at: i64,
    /// From where.
    pub ip: String,
    /// The client's `User-Agent`.
    pub user_agent: String,
    /// `ok`, `failed` or `throttled`.
    pub result: String,
}

/// `GET /v1/admin/account`: the signed-in user's own security settings and activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountAnswer {
    /// The user.
    pub user: UserAnswer,
    /// Whether an authenticator is enrolled.
    pub totp_enabled: bool,
    /// Whether the enrolled authenticator still waits for its first right code (it signs in
    /// meanwhile, and that code confirms it).
    #[serde(default)]
    pub totp_pending: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
    /// Registered passkeys, oldest first.
    pub passkeys: Vec<PasskeyAnswer>,
    /// Live browser sessions.
    pub sessions: Vec<AccountSessionAnswer>,
    /// Live CLI keys.
    pub cli_keys: Vec<CliKeyAnswer>,
    /// The last 50 sign-in attempts naming this account.
    pub logins: Vec<LoginAttemptAnswer>,
}

/// `POST /v1/admin/account/password`. Both passwords are held in zeroizing memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordChangeRequest {
    /// The password now.
    #[schema(value_type = String)]
    pub current_password: Zeroizing<String>,
    /// The new one (at least 12 characters).
    #[schema(value_type = String)]
    pub new_password: Zeroizing<String>,
}

/// `POST /v1/admin/account/password`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PasswordChangedAnswer {
    /// Always `true`; the user's other sessions are ended.
    pub changed: bool,
}

/// The caller's account.
#[utoipa::path(get, path = "/v1/admin/account", tag = "admin",
    responses((status = 200, description = "Success", body = AccountAnswer),
              (status = 400, description = "The caller has no account (a headless key)", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (CSRF)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn account() {}

/// Changes the caller's password.
#[utoipa::path(post, path = "/v1/admin/account/password", tag = "admin",
    request_body = PasswordChangeRequest,
    responses((status = 200, description = "Success", body = PasswordChangedAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed (or a wrong current password)", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (CSRF)", body = crate::openapi::ErrorBody),
              (status = 429, description = "The account is locked", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn change_password() {}

/// Ends one of the caller's browser sessions.
#[utoipa::path(post, path = "/v1/admin/account/sessions/{id}/revoke", tag = "admin",
    params(("id" = String, Path, description = "The session's id")),
    responses((status = 200, description = "Success", body = super::RevokedAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (CSRF)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn revoke_own_session() {}

/// Revokes one of the caller's CLI keys.
#[utoipa::path(post, path = "/v1/admin/account/cli-keys/{id}/revoke", tag = "admin",
    params(("id" = String, Path, description = "The key's operator id")),
    responses((status = 200, description = "Success", body = super::RevokedAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (CSRF)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn revoke_own_cli_key() {}

/// The account routes of the operator API.
#[derive(OpenApi)]
#[openapi(
    paths(account, change_password, revoke_own_session, revoke_own_cli_key),
    components(schemas(
        AccountAnswer,
        AccountSessionAnswer,
        CliKeyAnswer,
        LoginAttemptAnswer,
        PasswordChangeRequest,
        PasswordChangedAnswer
    ))
)]
pub struct Api;
