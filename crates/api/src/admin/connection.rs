//! Database connections: the PostgreSQL servers a project's leased secrets mint roles in. The
//! admin password is write-only: no answer ever carries it.

use serde::{Deserialize, Serialize};
use signet_proto::{ConnectionId, ProjectId};
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

/// `POST /v1/admin/projects/{id}/connections` and `.../{connection}/update`. On update an
/// absent `adminPassword` keeps the stored one.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionRequest {
    /// Unique within the project.
    pub name: String,
    /// Host name or address of the PostgreSQL server.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The database roles are granted rights in.
    pub database: String,
    /// The role Signet connects as (needs `CREATEROLE`).
    pub admin_user: String,
    /// Its password (write-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub admin_password: Option<Zeroizing<String>>,
    /// `disable`, `prefer`, `require` or `verify-full`.
    pub tls_mode: String,
}

impl std::fmt::Debug for ConnectionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionRequest")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("admin_user", &self.admin_user)
            .field("tls_mode", &self.tls_mode)
            .finish_non_exhaustive()
    }
}

/// A connection as operators see it: never the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: ConnectionId,
    /// Its project.
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    /// Its name.
    pub name: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database.
    pub database: String,
    /// Admin role.
    pub admin_user: String,
    /// TLS mode.
    pub tls_mode: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

/// `GET /v1/admin/projects/{id}/connections`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConnectionsAnswer {
    /// The project's connections, by name.
    pub connections: Vec<ConnectionAnswer>,
}

/// `POST .../connections/{connection}/test`: whether Signet can log in as the admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionTestAnswer {
    /// `true` if the login and a trivial query worked.
    pub ok: bool,
    /// Otherwise a safe class: `unreachable`, `tls`, `authentication`, `privilege`,
    /// `statement`, `timeout`, `other`, `unconfigured`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Lists a project's connections.
#[utoipa::path(get, path = "/v1/admin/projects/{id}/connections", tag = "admin",
    params(("id" = String, Path, description = "The project's id")),
    responses((status = 200, description = "Success", body = ConnectionsAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such project", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn list_connections() {}

/// Registers a connection.
#[utoipa::path(post, path = "/v1/admin/projects/{id}/connections", tag = "admin",
    params(("id" = String, Path, description = "The project's id")),
    request_body = ConnectionRequest,
    responses((status = 200, description = "Success", body = ConnectionAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such project", body = crate::openapi::ErrorBody),
              (status = 409, description = "The project has a connection of that name (`conflict`)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_connection() {}

/// One connection.
#[utoipa::path(get, path = "/v1/admin/projects/{id}/connections/{connection}", tag = "admin",
    params(("id" = String, Path, description = "The project's id"),
           ("connection" = String, Path, description = "The connection's id")),
    responses((status = 200, description = "Success", body = ConnectionAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such connection in that project", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn show_connection() {}

/// Changes a connection (an absent password keeps the stored one).
#[utoipa::path(post, path = "/v1/admin/projects/{id}/connections/{connection}/update", tag = "admin",
    params(("id" = String, Path, description = "The project's id"),
           ("connection" = String, Path, description = "The connection's id")),
    request_body = ConnectionRequest,
    responses((status = 200, description = "Success", body = ConnectionAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such connection in that project", body = crate::openapi::ErrorBody),
              (status = 409, description = "Another connection has that name (`conflict`)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn update_connection() {}

/// Deletes a connection no leased secret or live lease uses.
#[utoipa::path(post, path = "/v1/admin/projects/{id}/connections/{connection}/delete", tag = "admin",
    params(("id" = String, Path, description = "The project's id"),
           ("connection" = String, Path, description = "The connection's id")),
    responses((status = 200, description = "Success", body = super::DeletedAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such connection in that project", body = crate::openapi::ErrorBody),
              (status = 409, description = "In use (`conflict`, `connection_in_use`)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn delete_connection() {}

/// Logs in as the connection's admin and answers whether it worked.
#[utoipa::path(post, path = "/v1/admin/projects/{id}/connections/{connection}/test", tag = "admin",
    params(("id" = String, Path, description = "The project's id"),
           ("connection" = String, Path, description = "The connection's id")),
    responses((status = 200, description = "Success (see `ok`)", body = ConnectionTestAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such connection in that project", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn test_connection() {}

/// The database connection routes.
#[derive(OpenApi)]
#[openapi(
    paths(
        list_connections,
        create_connection,
        show_connection,
        update_connection,
        delete_connection,
        test_connection
    ),
    components(schemas(
        ConnectionRequest,
        ConnectionAnswer,
        ConnectionsAnswer,
        ConnectionTestAnswer
    ))
)]
pub struct Api;
