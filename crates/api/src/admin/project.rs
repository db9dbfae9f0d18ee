//! Projects: they group secrets and are what machines are attached to.

use serde::{Deserialize, Serialize};
use signet_proto::ProjectId;
use utoipa::{OpenApi, ToSchema};

/// `POST /v1/admin/projects`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    /// The new project's name.
    pub name: String,
}

/// `POST /v1/admin/projects/{id}/rename`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameProjectRequest {
    /// The project's new name (unique, like a new project's).
    pub name: String,
}

/// `POST /v1/admin/projects/{id}/canaries`: a canary secret, whose value the server generates
/// (nobody ever sees it). To machines it looks like any other secret; a granted machine's read
/// of it answers 200 with the value and freezes the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCanaryRequest {
    /// The canary's name: pick one a thief would want (`AWS_ROOT_KEY`, `prod-db-admin`).
    pub name: String,
    /// The value's length, 1-1024 (default 32; a `uuid` is always 36).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
    /// `symbols` (default), `alphanumeric`, `numbers`, `hex`, `base64url` or `uuid`: choose what
    /// the real secrets it sits among look like.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
}

/// A project as operators see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: ProjectId,
    /// Its name.
    pub name: String,
    /// When it was created, Unix ms.
    pub created_at: i64,
    /// When a canary read froze it, Unix ms; `null` while machines may use it. Every machine
    /// request into a frozen project answers 423 `project_frozen`.
    pub frozen_at: Option<i64>,
}

/// `GET /v1/admin/projects`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProjectsAnswer {
    /// The projects in the caller's scope.
    pub projects: Vec<ProjectAnswer>,
}

/// Lists the projects in the caller's scope.
#[utoipa::path(get, path = "/v1/admin/projects", tag = "admin",
    responses((status = 200, description = "Success", body = ProjectsAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn list_projects() {}

/// Creates a project.
#[utoipa::path(post, path = "/v1/admin/projects", tag = "admin",
    request_body = CreateProjectRequest,
    responses((status = 200, description = "Success", body = ProjectAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 409, description = "Conflicts with current state", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_project() {}

/// Renames a project. Its id, key, secrets and machines' memberships stay as they are.
#[utoipa::path(post, path = "/v1/admin/projects/{id}/rename", tag = "admin",
    params(("id" = String, Path, description = "The project's id")),
    request_body = RenameProjectRequest,
    responses((status = 200, description = "Success: the renamed project", body = ProjectAnswer),
              (status = 400, description = "Malformed request (a name outside the rules)", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such project", body = crate::openapi::ErrorBody),
              (status = 409, description = "Another project has that name (`conflict`)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn rename_project() {}

/// Creates a canary secret in a project (admins and owners). Its value is generated here and
/// never shown; it cannot be updated, patched, rolled back or rotated by hand (409 `conflict`,
/// rule `canary`).
#[utoipa::path(post, path = "/v1/admin/projects/{id}/canaries", tag = "admin",
    params(("id" = String, Path, description = "The project's id")),
    request_body = CreateCanaryRequest,
    responses((status = 200, description = "Success: the canary's metadata", body = crate::admin::secret::SecretMetadataAnswer),
              (status = 400, description = "Malformed request (a name, length or charset outside the rules)", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF)", body = crate::openapi::ErrorBody),
              (status = 409, description = "A live secret of that name exists in the project (`conflict`)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_canary() {}

/// Lifts a canary's freeze: machines may use the project again from their next request, on
/// every replica. Admins and owners; a browser session needs a second factor given within
/// five minutes (`step_up_required` otherwise); operator keys pass, as for every step-up action.
#[utoipa::path(post, path = "/v1/admin/projects/{id}/unfreeze", tag = "admin",
    params(("id" = String, Path, description = "The project's id")),
    responses((status = 200, description = "Success: the project, no longer frozen", body = ProjectAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such project", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn unfreeze_project() {}

/// The project routes.
#[derive(OpenApi)]
#[openapi(
    paths(
        list_projects,
        create_project,
        rename_project,
        create_canary,
        unfreeze_project
    ),
    components(schemas(
        CreateCanaryRequest,
        CreateProjectRequest,
        RenameProjectRequest,
        ProjectAnswer,
        ProjectsAnswer
    ))
)]
pub struct Api;
