//! Secrets as operators write them. Values go in, never come back out: no answer here carries
//! one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use signet_proto::{ProjectId, SecretId};
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

/// `POST /v1/admin/secrets`: exactly one of `value` and `fields`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSecretRequest {
    /// The project to create it in (text: a malformed id answers 404, like an unknown one).
    pub project_id: String,
    /// The secret's name.
    pub name: String,
    /// A standard secret's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub value: Option<Zeroizing<String>>,
    /// A structured secret's fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub fields: Option<BTreeMap<String, Zeroizing<String>>>,
}

/// `POST /v1/admin/secrets/{id}/update`, in one of three forms:
///
/// * a whole new value: exactly one of `value` and `fields`;
/// * a partial update of a structured secret: `set` and/or `unset`; every current field not
///   named is kept as it is (its value never leaves the server);
/// * a field merge that names every current field: `baseVersion` with `keepFields`,
///   `removeFields` and `fields`.
///
/// Each form may carry `expectedVersion`: the write happens only if the secret's current version
/// is that one, else the answer is 409 `version_conflict` with `currentVersion`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateSecretRequest {
    /// A standard secret's new value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub value: Option<Zeroizing<String>>,
    /// A structured secret's new fields (with a merge: the fields replaced or added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub fields: Option<BTreeMap<String, Zeroizing<String>>>,
    /// Current fields carried over as they are; their values never leave the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_fields: Option<Vec<String>>,
    /// Current fields left out of the new version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_fields: Option<Vec<String>>,
    /// The version the caller read the fields from; a newer one on the server is a 409.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_version: Option<u32>,
    /// Fields to set (a current field's name replaces it, another name adds a field); every
    /// current field not named in `set` or `unset` is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub set: Option<BTreeMap<String, Zeroizing<String>>>,
    /// Current fields to remove; each must exist, and none may also be in `set`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unset: Option<Vec<String>>,
    /// Write only if this is still the secret's current version (check-and-set); otherwise 409
    /// `version_conflict` with `currentVersion`, and nothing is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u32>,
}

/// `POST /v1/admin/secrets/query`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretQueryRequest {
    /// The project whose secrets to list (text: a malformed id answers like an unknown one).
    pub project_id: String,
}

/// `POST /v1/admin/secrets/{id}/rollback`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollbackRequest {
    /// The version whose value becomes current again, as a new version.
    pub version: u32,
    /// Roll back only if this is still the secret's current version (check-and-set); otherwise
    /// 409 `version_conflict` with `currentVersion`, and nothing is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u32>,
}

/// A secret's metadata (never its value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretMetadataAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: SecretId,
    /// Its name.
    pub name: String,
    /// Its project.
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    /// `standard` or `structured`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A structured secret's field names; `null` for a standard one.
    pub field_names: Option<Vec<String>>,
    /// The current version.
    pub version: u32,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
    /// A canary: its value is the server's and cannot be written by hand; a machine's read of
    /// it freezes the project. Only operators see this flag.
    pub canary: bool,
}

/// `POST /v1/admin/secrets/query`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SecretsAnswer {
    /// The project's live secrets.
    pub secrets: Vec<SecretMetadataAnswer>,
}

/// One version of a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionAnswer {
    /// The version number.
    pub version: u32,
    /// The version whose value it carries (differs after a rollback).
    pub value_version: u32,
    /// `standard` or `structured`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A structured version's field names; `null` for a standard one.
    pub field_names: Option<Vec<String>>,
    /// The operator that wrote it.
    pub created_by: String,
    /// The person behind `created_by` (a username; a machine's name for a rotation its agent
    /// confirmed), when known: for people, next to the raw id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_name: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    /// The fields present both here and in the version before whose value this version changed,
    /// by name (values are compared on the server and never shown). Added and removed fields
    /// are told by the two versions' `fieldNames`. Absent when not recorded: a standard secret,
    /// a first version, a rollback, or a version written before the server kept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_fields: Option<Vec<String>>,
}

/// `GET /v1/admin/secrets/{id}/versions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VersionsAnswer {
    /// Every version, oldest first.
    pub versions: Vec<VersionAnswer>,
}

/// Creates a secret.
#[utoipa::path(post, path = "/v1/admin/secrets", tag = "admin",
    request_body = CreateSecretRequest,
    responses((status = 200, description = "Success", body = SecretMetadataAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody),
              (status = 409, description = "Conflicts with current state", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_secret() {}

/// Lists a project's secrets.
#[utoipa::path(post, path = "/v1/admin/secrets/query", tag = "admin",
    request_body = SecretQueryRequest,
    responses((status = 200, description = "Success", body = SecretsAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn query_secrets() {}

/// One secret's metadata.
#[utoipa::path(get, path = "/v1/admin/secrets/{id}", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    responses((status = 200, description = "Success", body = SecretMetadataAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn show_secret() {}

/// Writes a new version of a secret.
#[utoipa::path(post, path = "/v1/admin/secrets/{id}/update", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    request_body = UpdateSecretRequest,
    responses((status = 200, description = "Success", body = SecretMetadataAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody),
              (status = 409, description = "Conflicts with current state: `version_conflict` (with \
                  `currentVersion`) when `expectedVersion` is not the current version, `conflict` \
                  when `baseVersion` is not or a concurrent write won; nothing was written", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn update_secret() {}

/// A secret's versions.
#[utoipa::path(get, path = "/v1/admin/secrets/{id}/versions", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    responses((status = 200, description = "Success", body = VersionsAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn secret_versions() {}

/// Makes an earlier version's value current again, as a new version.
#[utoipa::path(post, path = "/v1/admin/secrets/{id}/rollback", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    request_body = RollbackRequest,
    responses((status = 200, description = "Success", body = SecretMetadataAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody),
              (status = 409, description = "Conflicts with current state: `version_conflict` (with \
                  `currentVersion`) when `expectedVersion` is not the current version, `conflict` \
                  when a concurrent write won; nothing was written", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn rollback_secret() {}

/// Deletes a secret.
#[utoipa::path(post, path = "/v1/admin/secrets/{id}/delete", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    responses((status = 200, description = "Success", body = super::DeletedAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn delete_secret() {}

/// The secret routes.
#[derive(OpenApi)]
#[openapi(
    paths(
        create_secret,
        query_secrets,
        show_secret,
        update_secret,
        secret_versions,
        rollback_secret,
        delete_secret
    ),
    components(schemas(
        CreateSecretRequest,
        UpdateSecretRequest,
        SecretQueryRequest,
        RollbackRequest,
        SecretMetadataAnswer,
        SecretsAnswer,
        VersionAnswer,
        VersionsAnswer
    ))
)]
pub struct Api;
