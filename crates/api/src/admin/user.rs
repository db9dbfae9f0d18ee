//! Users as operators manage them: listing, creating, inviting, and the per-user actions (role,
//! suspension, removal).

use serde::{Deserialize, Serialize};
use signet_proto::{InviteId, ProjectId, UserId};
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
    /// `otpauthUri` drawn as a QR code by the server, for the person to scan where the account
    /// was made: a standalone SVG (black modules on a white quiet zone, no script, no external
    /// reference). Empty from a server that does not draw one.
    #[serde(default)]
    #[schema(value_type = String)]
    pub qr_svg: Zeroizing<String>,
}

/// `POST /v1/admin/users/invite`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// The invitee's email.
    pub email: String,
    /// The role they will get: `admin`, `developer` or `viewer` (or `owner`, for an owner).
    pub role: String,
    /// The projects a developer or viewer will be limited to; absent or `null` for every
    /// project (text: a malformed id answers like an unknown one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projects: Option<Vec<String>>,
}

/// `POST /v1/admin/users/invite`: the invitation and its link, which holds the code. Shown once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitedAnswer {
    /// The invitation's id.
    #[schema(value_type = String)]
    pub invite_id: InviteId,
    /// `<api URL>/#/invite/<code>`: pass it on privately.
    #[schema(value_type = String)]
    pub invite_url: Zeroizing<String>,
    /// When it stops working, Unix ms.
    pub expires_at: i64,
}

/// An invitation as operators see it: never the code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: InviteId,
    /// The invitee's canonical email.
    pub email: String,
    /// The role they will get.
    pub role: String,
    /// Their project scope; `null` for every project.
    #[schema(value_type = Option<Vec<String>>)]
    pub projects: Option<Vec<ProjectId>>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub expires_at: i64,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub status: String,
}

/// `GET /v1/admin/users/invites`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InvitesAnswer {
    /// Every invitation.
    pub invites: Vec<InviteAnswer>,
}

/// The `{action}` of `POST /v1/admin/users/{id}/{action}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserAction {
    /// Changes the role and project scope (body: [`UserRoleRequest`]).
    Role,
    /// Suspends the user: their keys and sessions stop working.
    Suspend,
    /// Activates a suspended user.
    Activate,
    /// Removes the user for good.
    Delete,
}

impl UserAction {
    /// The action as it appears in the path.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Role => "role",
            Self::Suspend => "suspend",
            Self::Activate => "activate",
            Self::Delete => "delete",
        }
    }
}

/// The body of the `role` action (the other actions take none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRoleRequest {
    /// `owner`, `admin`, `developer` or `viewer`.
    pub role: String,
    /// The projects a developer or viewer is limited to; absent or `null` for every project
    /// (text: a malformed id answers like an unknown one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projects: Option<Vec<String>>,
}

/// The answer to a user action: the user as they are after, or, for `delete`,
/// `{"deleted": true}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum UserActionAnswer {
    /// `role`, `suspend`, `activate`: the user after.
    User(UserAnswer),
    /// `delete`.
    Deleted(super::DeletedFlagAnswer),
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

/// Invites a user: answers a link, shown once (Signet sends no mail).
#[utoipa::path(post, path = "/v1/admin/users/invite", tag = "admin",
    request_body = InviteRequest,
    responses((status = 200, description = "Success", body = InvitedAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 409, description = "Conflicts with current state", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn invite_user() {}

/// Lists invitations and their state.
#[utoipa::path(get, path = "/v1/admin/users/invites", tag = "admin",
    responses((status = 200, description = "Success", body = InvitesAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn invites() {}

/// Revokes a pending invitation. Takes no body (or `{}`).
#[utoipa::path(post, path = "/v1/admin/users/invites/{id}/revoke", tag = "admin",
    params(("id" = String, Path, description = "The invitation's id")),
    responses((status = 200, description = "Success", body = super::RevokedAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody),
              (status = 409, description = "Conflicts with current state", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn revoke_invite() {}

/// An action on one user. `role` takes a [`UserRoleRequest`]; the others take no body (or
/// `{}`).
#[utoipa::path(post, path = "/v1/admin/users/{id}/{action}", tag = "admin",
    params(("id" = String, Path, description = "The user's id"),
           ("action" = UserAction, Path, description = "What to do")),
    request_body = UserRoleRequest,
    responses((status = 200, description = "Success", body = UserActionAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody),
              (status = 409, description = "Conflicts with current state", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn user_action() {}

/// The user routes of the operator API.
#[derive(OpenApi)]
#[openapi(
    paths(users, create_user, invite_user, invites, revoke_invite, user_action),
    components(schemas(
        UserAnswer,
        UsersAnswer,
        CreateUserRequest,
        CreatedUserAnswer,
        InviteRequest,
        InvitedAnswer,
        InviteAnswer,
        InvitesAnswer,
        UserAction,
        UserRoleRequest,
        UserActionAnswer
    ))
)]
pub struct Api;
