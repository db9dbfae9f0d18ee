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

/// The project routes.
#[derive(OpenApi)]
#[openapi(
    paths(list_projects, create_project, rename_project),
    components(schemas(
        CreateProjectRequest,
        RenameProjectRequest,
        ProjectAnswer,
        ProjectsAnswer
    ))
)]
pub struct Api;
