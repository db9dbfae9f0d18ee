//! The vault's IP allowlist.

use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// An allowlist entry's public id (`ipa_` and hex, made by the server). Opaque to clients; the
/// server looks it up as it is, so an unknown or malformed one is the same 404.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct AllowlistEntryId(pub String);

impl AllowlistEntryId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The allowlist as operators see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllowlistAnswer {
    /// Whether it is enforced.
    pub enabled: bool,
    /// Its entries.
    pub entries: Vec<AllowlistEntryAnswer>,
}

/// One allowlist entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllowlistEntryAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: AllowlistEntryId,
    /// The network.
    pub cidr: String,
    /// A label.
    pub label: String,
    /// Unix ms.
    pub created_at: i64,
}

/// `POST /v1/admin/ip-allowlist`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowlistAddRequest {
    /// The network, as `address/prefix`.
    pub cidr: String,
    /// A label; empty when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// The allowlist's entries and whether it is enforced.
#[utoipa::path(get, path = "/v1/admin/ip-allowlist", tag = "admin",
    responses((status = 200, description = "Success", body = AllowlistAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn allowlist() {}

/// Adds an entry.
#[utoipa::path(post, path = "/v1/admin/ip-allowlist", tag = "admin",
    request_body = AllowlistAddRequest,
    responses((status = 200, description = "Success", body = AllowlistEntryAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn allowlist_add() {}

/// Turns the allowlist on.
#[utoipa::path(post, path = "/v1/admin/ip-allowlist/enable", tag = "admin",
    responses((status = 200, description = "Success", body = AllowlistAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn allowlist_enable() {}

/// Turns the allowlist off.
#[utoipa::path(post, path = "/v1/admin/ip-allowlist/disable", tag = "admin",
    responses((status = 200, description = "Success", body = AllowlistAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn allowlist_disable() {}

/// Removes an entry.
#[utoipa::path(post, path = "/v1/admin/ip-allowlist/{id}/delete", tag = "admin",
    params(("id" = String, Path, description = "The entry's id")),
    responses((status = 200, description = "Success", body = super::DeletedAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn allowlist_delete() {}

/// The allowlist routes.
#[derive(OpenApi)]
#[openapi(
    paths(
        allowlist,
        allowlist_add,
        allowlist_enable,
        allowlist_disable,
        allowlist_delete
    ),
    components(schemas(AllowlistAnswer, AllowlistEntryAnswer, AllowlistAddRequest))
)]
pub struct Api;
