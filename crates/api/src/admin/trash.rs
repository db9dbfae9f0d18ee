//! The trash: deleted secrets and projects until they are restored or purged, and how long the
//! vault keeps them.

use serde::{Deserialize, Serialize};
use signet_proto::ProjectId;
use utoipa::{OpenApi, ToSchema};

/// One item in the trash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrashItemAnswer {
    /// `secret` (deleted on its own) or `project` (with every secret in it).
    pub kind: String,
    /// The secret's or project's id: what restore and purge take.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The project it belongs to (a project's own id for a project).
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    /// That project's name.
    pub project_name: String,
    /// The id of the operator who deleted it; empty for a secret deleted before the trash
    /// existed.
    pub deleted_by: String,
    /// Who that was, by name (the user's, or the key's label).
    pub deleted_by_name: String,
    /// When it was deleted, Unix ms.
    pub deleted_at: i64,
    /// When the server purges it, Unix ms (deletion plus the vault's retention).
    pub purge_after: i64,
}

/// `GET /v1/admin/trash`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrashAnswer {
    /// The items in the caller's scope, oldest deletion first.
    pub items: Vec<TrashItemAnswer>,
    /// How long the vault keeps trashed items, in days.
    pub retention_days: u32,
}

/// The answer to a restore or a purge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TrashOutcomeAnswer {
    /// The item's id, as the path named it.
    pub id: String,
    /// `secret` or `project`.
    pub kind: String,
    /// `restored` or `purged`.
    pub outcome: String,
}

/// `POST /v1/admin/trash/retention`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrashRetentionRequest {
    /// Days a trashed item is kept before the server purges it: 1 to 3650 (default 30).
    pub days: u32,
}

/// The answer to a retention change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrashRetentionAnswer {
    /// The retention now in force, in days.
    pub retention_days: u32,
}

/// Moves a project, and every secret in it, to the trash. Machines get the uniform 403 for its
/// secrets from then on; its name stays reserved until it is purged.
#[utoipa::path(post, path = "/v1/admin/projects/{id}/delete", tag = "admin",
    params(("id" = String, Path, description = "The project's id")),
    responses((status = 200, description = "Success", body = super::DeletedAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role or scope, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such live project", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn delete_project() {}

/// Lists the trash: to a project-scoped user, only their projects' items.
#[utoipa::path(get, path = "/v1/admin/trash", tag = "admin",
    responses((status = 200, description = "Success", body = TrashAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn list_trash() {}

/// Brings a secret or project back with its versions and grants.
#[utoipa::path(post, path = "/v1/admin/trash/{id}/restore", tag = "admin",
    params(("id" = String, Path, description = "A trashed secret's or project's id")),
    responses((status = 200, description = "Success", body = TrashOutcomeAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed, or not in the trash (unknown, purged, live)", body = crate::openapi::ErrorBody),
              (status = 409, description = "`conflict`: the secret's project is in the trash \
                  (`project_trashed`), or a live secret has taken its name (`secret_name`)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn restore_trash() {}

/// Destroys a trashed secret or project for good: versions, data keys, grants, read marks, and
/// for a project its key and every secret. Admins and owners only.
#[utoipa::path(post, path = "/v1/admin/trash/{id}/purge", tag = "admin",
    params(("id" = String, Path, description = "A trashed secret's or project's id")),
    responses((status = 200, description = "Success", body = TrashOutcomeAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed, or not in the trash (unknown, purged, live)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn purge_trash() {}

/// Sets how long trashed items are kept. Admins and owners only.
#[utoipa::path(post, path = "/v1/admin/trash/retention", tag = "admin",
    request_body = TrashRetentionRequest,
    responses((status = 200, description = "Success", body = TrashRetentionAnswer),
              (status = 400, description = "Malformed request (days outside 1-3650)", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn set_trash_retention() {}

/// The trash routes.
#[derive(OpenApi)]
#[openapi(
    paths(
        delete_project,
        list_trash,
        restore_trash,
        purge_trash,
        set_trash_retention
    ),
    components(schemas(
        TrashItemAnswer,
        TrashAnswer,
        TrashOutcomeAnswer,
        TrashRetentionRequest,
        TrashRetentionAnswer
    ))
)]
pub struct Api;
