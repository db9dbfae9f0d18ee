//! Users as operators manage them: listing and creating (the per-user actions and invitations are
//! the account routes').

use serde::{Deserialize, Serialize};
use signet_proto::{ProjectId, UserId};
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

/// A user as operators see them: no hash, no seed, no counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserAnswer {
    /// The account's id.
    #[schema(value_type = String)]
    pub id: UserId,
    /// Canonical username.
    pub username: String,
    /// Canonical email.
    pub email: String,
    /// The username as typed at creation.
    pub display_name: String,
    /// `owner`, `admin`, `developer` or `viewer`.
    pub role: String,
    /// `active`, `suspended` or `removed`.
    pub status: String,
    /// Unix ms.
    pub created_at: i64,
    /// The projects a developer or viewer is limited to; `null` for every project.
    #[schema(value_type = Option<Vec<String>>)]
    pub projects: Option<Vec<ProjectId>>,
}

/// `GET /v1/admin/users`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsersAnswer {
    /// Every user.
    pub users: Vec<UserAnswer>,
}

/// `POST /v1/admin/users`. The password is held in zeroizing memory and never echoed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// The username.
    pub username: String,
    /// The email.
    pub email: String,
    /// The initial password.
    #[schema(value_type = String)]
    pub password: Zeroizing<String>,
    /// `admin`, `developer` or `viewer` (or `owner`, for an owner).
    pub role: String,
    /// The projects a developer or viewer is limited to; absent for every project (text: a
    /// malformed id answers like an unknown one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projects: Option<Vec<String>>,
}

/// `POST /v1/admin/users`: the new user, and what they are shown once to enroll a second factor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedUserAnswer {
    /// The created account.
    pub user: UserAnswer,
    /// `otpauth://totp/...` with the TOTP seed, for an authenticator app.
    #[schema(value_type = String)]
    pub otpauth_uri: Zeroizing<String>,
    /// Recovery codes, shown once.
    #[schema(value_type = Vec<String>)]
    pub recovery_codes: Vec<Zeroizing<String>>,
}

/// Lists users.
#[utoipa::path(get, path = "/v1/admin/users", tag = "admin",
    responses((status = 200, description = "Success", body = UsersAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn users() {}

/// Creates a user.
#[utoipa::path(post, path = "/v1/admin/users", tag = "admin",
    request_body = CreateUserRequest,
    responses((status = 200, description = "Success", body = CreatedUserAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 409, description = "Conflicts with current state", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_user() {}

/// The user routes of the operator API.
#[derive(OpenApi)]
#[openapi(
    paths(users, create_user),
    components(schemas(UserAnswer, UsersAnswer, CreateUserRequest, CreatedUserAnswer))
)]
pub struct Api;
