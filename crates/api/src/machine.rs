//! Machine routes: signed reads with the machine's own Ed25519 key, wire-compatible with the
//! SikkerKey SDKs and CLI (so field names are theirs, camelCase). Success is always 200.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use signet_proto::{MachineId, ProjectId, SecretId, VaultId};
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

use crate::openapi::ErrorBody;
use crate::wire_id::WireId;

/// `GET /v1/secret/{id}`: one secret's value.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SecretAnswer {
    /// The current value; for a structured secret, a JSON object of strings, as text.
    #[schema(value_type = String)]
    pub value: Zeroizing<String>,
}

impl std::fmt::Debug for SecretAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretAnswer { value: *** }")
    }
}

/// A readable secret, without its value (`GET /v1/secrets`, `POST /v1/secrets/list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListedSecret {
    /// The secret's id.
    #[schema(value_type = String)]
    pub id: SecretId,
    /// Its name.
    pub name: String,
    /// The comma-joined field names of a structured secret; null for a standard one.
    pub field_names: Option<String>,
    /// The project it belongs to.
    #[schema(value_type = String)]
    pub project_id: ProjectId,
}

/// The secrets a machine may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecretList {
    /// One entry per readable secret.
    pub secrets: Vec<ListedSecret>,
}

/// `POST /v1/secrets/list`: which project to list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectScope {
    /// The project's id. A malformed one is refused (403) like a project the machine is not
    /// attached to, so it is a plain string on the wire.
    #[schema(value_type = String)]
    pub project_id: WireId<ProjectId>,
}

/// `POST /v1/secrets/export`: which secrets to export. The body may also be empty: everything
/// readable.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportRequest {
    /// Only this project's secrets (403 if the machine is not attached to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub project_id: Option<WireId<ProjectId>>,
    /// The SikkerKey CLI may scope by application; Signet has no applications, so a request
    /// scoped to one is answered with no secrets rather than with all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
}

/// One exported secret, with its value.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportedSecret {
    /// The secret's id.
    #[schema(value_type = String)]
    pub id: SecretId,
    /// Its name.
    pub name: String,
    /// The current value; for a structured secret, a JSON object of strings, as text.
    #[schema(value_type = String)]
    pub value: Zeroizing<String>,
    /// The comma-joined field names of a structured secret; null for a standard one.
    pub field_names: Option<String>,
}

impl std::fmt::Debug for ExportedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportedSecret")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("value", &"***")
            .field("field_names", &self.field_names)
            .finish()
    }
}

/// `POST /v1/secrets/export`: every selected secret with its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportAnswer {
    /// One entry per exported secret.
    pub secrets: Vec<ExportedSecret>,
}

/// `POST /v1/secrets/poll`: the secrets to watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PollRequest {
    /// Secret ids, at most 100. Each is answered under the text sent, so a malformed one is
    /// kept as text and answered `access_denied`.
    pub watch: Vec<String>,
}

/// What a poll says about one watched secret. Unchanged secrets are absent from the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PollStatus {
    /// Not a secret this machine may read (never existed, malformed, another project, or no
    /// longer attached and granted): one answer for all, so poll cannot probe for existence.
    AccessDenied,
    /// A version newer than the one this machine last read.
    Changed,
    /// Deleted while this machine was still attached and granted.
    Deleted,
}

/// One watched secret's change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PollChange {
    /// What changed.
    pub status: PollStatus,
}

/// `POST /v1/secrets/poll`: the watched secrets that changed, by the id as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PollAnswer {
    /// Changed, deleted or refused secrets, keyed by the id as sent.
    pub changes: BTreeMap<String, PollChange>,
}

/// A project the machine can read from (`GET /v1/cli/projects`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CliProject {
    /// The project's id.
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    /// Its name.
    pub project_name: String,
    /// Always empty: Signet has no applications (kept for the SikkerKey CLI).
    pub application_id: String,
    /// Always empty.
    pub application_name: String,
}

/// `GET /v1/cli/projects`: the projects the machine is attached to, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CliProjectList {
    /// One entry per project.
    pub projects: Vec<CliProject>,
}

/// A readable secret with its project's name and its type (`GET /v1/cli/secrets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CliSecret {
    /// The secret's id.
    #[schema(value_type = String)]
    pub id: SecretId,
    /// Its name.
    pub name: String,
    /// The comma-joined field names of a structured secret; null for a standard one.
    pub field_names: Option<String>,
    /// The project's id.
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    /// The project's name.
    pub project_name: String,
    /// Always empty: Signet has no applications.
    pub application_id: String,
    /// Always empty.
    pub application_name: String,
    /// `secret`, `structured`, `leased-secret` or `managed`, the SikkerKey CLI's type names.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `GET /v1/cli/secrets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CliSecretList {
    /// One entry per readable secret.
    pub secrets: Vec<CliSecret>,
}

/// `GET /v1/whoami`: the server's view of the calling machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachineWhoami {
    /// The machine's id.
    #[schema(value_type = String)]
    pub machine_id: MachineId,
    /// Its name.
    pub machine_name: String,
    /// Its vault.
    #[schema(value_type = String)]
    pub vault_id: VaultId,
    /// Its approval status (`approved`: no other machine can sign).
    pub status: String,
    /// `standard` or `ephemeral`.
    pub kind: String,
    /// When an ephemeral machine stops authenticating (Unix ms); null for standard machines.
    pub expires_at: Option<i64>,
}

/// Reads one secret's value.
#[utoipa::path(operation_id = "machine_read_secret", get, path = "/v1/secret/{id}", tag = "machine",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    params(("id" = String, Path, description = "The secret's id. One that is malformed, missing, \
        or not granted is the same 403.")),
    responses((status = 200, description = "The value", body = SecretAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not a secret this machine may read", body = ErrorBody),
              (status = 429, description = "Over the machine's request budget", body = ErrorBody),
              (status = 503, description = "The store or audit log is down", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn read_secret() {}

/// Lists the secrets this machine may read, across projects.
#[utoipa::path(operation_id = "machine_list_secrets", get, path = "/v1/secrets", tag = "machine",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    responses((status = 200, description = "The readable secrets", body = SecretList),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 503, description = "The store or audit log is down", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn list_secrets() {}

/// Lists the secrets this machine may read in one project.
#[utoipa::path(operation_id = "machine_list_in_project", post, path = "/v1/secrets/list", tag = "machine",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    request_body = ProjectScope,
    responses((status = 200, description = "The project's readable secrets", body = SecretList),
              (status = 400, description = "Malformed body", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not a project this machine is attached to", body = ErrorBody),
              (status = 503, description = "The store or audit log is down", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn list_in_project() {}

/// Exports every readable secret's value in one round trip, each read audited.
#[utoipa::path(operation_id = "machine_export", post, path = "/v1/secrets/export", tag = "machine",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    request_body(content = Option<ExportRequest>, description = "Optional: an empty body exports everything readable"),
    responses((status = 200, description = "The values", body = ExportAnswer),
              (status = 400, description = "Malformed body", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not a project this machine is attached to", body = ErrorBody),
              (status = 503, description = "The store or audit log is down", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn export() {}

/// Says which watched secrets changed since this machine last read them.
#[utoipa::path(operation_id = "machine_poll", post, path = "/v1/secrets/poll", tag = "machine",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    request_body = PollRequest,
    responses((status = 200, description = "The changes", body = PollAnswer),
              (status = 400, description = "Malformed body, or more than 100 ids", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 503, description = "The store or audit log is down", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn poll() {}

/// Lists the projects this machine can read from (SikkerKey CLI).
#[utoipa::path(operation_id = "machine_cli_projects", get, path = "/v1/cli/projects", tag = "machine",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    responses((status = 200, description = "The projects, by name", body = CliProjectList),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 503, description = "The store or audit log is down", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn cli_projects() {}

/// Lists the secrets this machine can read, with project names and types (SikkerKey CLI).
#[utoipa::path(operation_id = "machine_cli_secrets", get, path = "/v1/cli/secrets", tag = "machine",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    responses((status = 200, description = "The readable secrets", body = CliSecretList),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 503, description = "The store or audit log is down", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn cli_secrets() {}

/// The calling machine's own identity.
#[utoipa::path(operation_id = "machine_whoami", get, path = "/v1/whoami", tag = "machine",
    security(("machine_id" = [], "timestamp" = [], "nonce" = [], "signature" = [])),
    responses((status = 200, description = "This machine", body = MachineWhoami),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 503, description = "The store or audit log is down", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn whoami() {}

/// The machine routes' part of the document.
#[derive(OpenApi)]
#[openapi(
    paths(read_secret, list_secrets, list_in_project, export, poll, cli_projects, cli_secrets, whoami),
    components(schemas(SecretAnswer, ListedSecret, SecretList, ProjectScope, ExportRequest,
        ExportedSecret, ExportAnswer, PollRequest, PollStatus, PollChange, PollAnswer, CliProject,
        CliProjectList, CliSecret, CliSecretList, MachineWhoami)),
    tags((name = "machine", description = "Signed reads with the machine's Ed25519 key \
        (docs/protocol.md); wire-compatible with the SikkerKey SDKs and CLI."))
)]
pub struct Api;
