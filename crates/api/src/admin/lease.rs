//! Leased secrets and leases: a leased secret's read mints a database role for the reading
//! machine; leases record those roles until they are renewed, revoked or reaped.

use serde::{Deserialize, Serialize};
use signet_proto::{ConnectionId, LeaseId, MachineId, ProjectId, SecretId};
use utoipa::{OpenApi, ToSchema};

/// How a leased secret mints roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaseSettings {
    /// The database connection (text: validated by the server), in the secret's project.
    pub connection_id: String,
    /// Lifetime of a lease and of each renewal, seconds (60 - 2592000).
    pub ttl_secs: u64,
    /// Hard maximum from minting, seconds (at least `ttlSecs`, at most 2592000).
    pub max_ttl_secs: u64,
    /// A read of the machine's active lease extends it, up to the hard maximum.
    #[serde(default)]
    pub renew_on_read: bool,
    /// Every read mints a fresh role instead of answering the active lease.
    #[serde(default)]
    pub mint_fresh: bool,
    /// Disabling or revoking the machine revokes its leases of this secret.
    #[serde(default)]
    pub revoke_on_disable: bool,
    /// Generated password length (default 32, at least 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_length: Option<u32>,
    /// Generated password charset (default `alphanumeric`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_charset: Option<String>,
    /// Statements granting the new role its rights, run in the minting transaction; `{{name}}`
    /// stands for the role (quoted as an identifier). 1-32 statements of at most 4096 bytes.
    pub grant_sql: Vec<String>,
}

/// `POST /v1/admin/projects/{id}/leased-secrets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateLeasedSecretRequest {
    /// The secret's name, unique among the project's live secrets.
    pub name: String,
    /// Its lease settings.
    pub settings: LeaseSettings,
}

/// A leased secret's settings as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeaseSettingsAnswer {
    /// The secret.
    #[schema(value_type = String)]
    pub secret_id: SecretId,
    /// The connection.
    #[schema(value_type = String)]
    pub connection_id: ConnectionId,
    /// Seconds.
    pub ttl_secs: u64,
    /// Seconds.
    pub max_ttl_secs: u64,
    /// Renew on read.
    pub renew_on_read: bool,
    /// Mint fresh on every read.
    pub mint_fresh: bool,
    /// Revoke on machine disable.
    pub revoke_on_disable: bool,
    /// Password length.
    pub password_length: u32,
    /// Password charset.
    pub password_charset: String,
    /// Grant statements.
    pub grant_sql: Vec<String>,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

/// A lease as operators see it (never its password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeaseAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: LeaseId,
    /// The leased secret.
    #[schema(value_type = String)]
    pub secret_id: SecretId,
    /// Its project.
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    /// The machine it was minted for.
    #[schema(value_type = String)]
    pub machine_id: MachineId,
    /// The connection its role lives behind.
    #[schema(value_type = String)]
    pub connection_id: ConnectionId,
    /// The role's name.
    pub role: String,
    /// Minted, Unix ms.
    pub created_at: i64,
    /// Revoked by the server at this time unless renewed, Unix ms.
    pub expires_at: i64,
    /// Never renewed past this, Unix ms.
    pub max_expires_at: i64,
    /// `active`, `revoking` or `revoked`.
    pub state: String,
    /// Revoked at, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    /// Why: `expired`, `operator` or `machine_disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_reason: Option<String>,
}

/// Lease listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LeasesAnswer {
    /// Newest first, at most 1000.
    pub leases: Vec<LeaseAnswer>,
}

/// `POST /v1/admin/leases/query`: leases of one secret and/or machine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaseQueryRequest {
    /// Only this secret's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_id: Option<String>,
    /// Only this machine's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
}

/// `POST /v1/admin/leases/{id}/renew`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenewLeaseRequest {
    /// Extend to now plus this many seconds (default: the secret's lifetime), never past the
    /// hard maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
}

/// Creates a leased secret in a project.
#[utoipa::path(post, path = "/v1/admin/projects/{id}/leased-secrets", tag = "admin",
    params(("id" = String, Path, description = "The project's id")),
    request_body = CreateLeasedSecretRequest,
    responses((status = 200, description = "Success", body = LeaseSettingsAnswer),
              (status = 400, description = "Malformed request (a setting outside its range, an unknown connection)", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 409, description = "A live secret of that name exists (`conflict`)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_leased_secret() {}

/// A leased secret's settings.
#[utoipa::path(get, path = "/v1/admin/secrets/{id}/lease", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    responses((status = 200, description = "Success", body = LeaseSettingsAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such leased secret", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn show_lease_settings() {}

/// Replaces a leased secret's settings.
#[utoipa::path(post, path = "/v1/admin/secrets/{id}/lease", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    request_body = LeaseSettings,
    responses((status = 200, description = "Success", body = LeaseSettingsAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such leased secret", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn set_lease_settings() {}

/// Every lease the caller may see, newest first.
#[utoipa::path(get, path = "/v1/admin/leases", tag = "admin",
    responses((status = 200, description = "Success", body = LeasesAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn list_leases() {}

/// Leases of one secret and/or machine.
#[utoipa::path(post, path = "/v1/admin/leases/query", tag = "admin",
    request_body = LeaseQueryRequest,
    responses((status = 200, description = "Success", body = LeasesAnswer),
              (status = 400, description = "Malformed id", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn query_leases() {}

/// Extends an active lease, never past its hard maximum (the role's `VALID UNTIL` too).
#[utoipa::path(post, path = "/v1/admin/leases/{id}/renew", tag = "admin",
    params(("id" = String, Path, description = "The lease's id")),
    request_body = RenewLeaseRequest,
    responses((status = 200, description = "Success", body = LeaseAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such lease", body = crate::openapi::ErrorBody),
              (status = 409, description = "Expired or revoked (`conflict`, `lease_state`)", body = crate::openapi::ErrorBody),
              (status = 503, description = "The database could not be reached", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn renew_lease() {}

/// Revokes a lease now: drops its role and ends its sessions.
#[utoipa::path(post, path = "/v1/admin/leases/{id}/revoke", tag = "admin",
    params(("id" = String, Path, description = "The lease's id")),
    responses((status = 200, description = "Success", body = LeaseAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such lease", body = crate::openapi::ErrorBody),
              (status = 503, description = "The database could not be reached (the reaper retries)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn revoke_lease() {}

/// The leased secret and lease routes.
#[derive(OpenApi)]
#[openapi(
    paths(
        create_leased_secret,
        show_lease_settings,
        set_lease_settings,
        list_leases,
        query_leases,
        renew_lease,
        revoke_lease
    ),
    components(schemas(
        LeaseSettings,
        CreateLeasedSecretRequest,
        LeaseSettingsAnswer,
        LeaseAnswer,
        LeasesAnswer,
        LeaseQueryRequest,
        RenewLeaseRequest
    ))
)]
pub struct Api;
