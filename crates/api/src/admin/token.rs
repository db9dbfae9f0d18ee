//! Bootstrap and enrollment tokens: what lets a new machine register its key.

use serde::{Deserialize, Serialize};
use signet_proto::{ProjectId, SecretId};
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

/// An enrollment token's public id (`et_` and hex, made by the server). Opaque to clients; the
/// server looks it up as it is, so an unknown or malformed one is the same 404.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct EnrollmentTokenId(pub String);

impl EnrollmentTokenId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `POST /v1/admin/tokens/bootstrap`: shown once; the token's text is never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapTokenAnswer {
    /// The token's public id, for listing and audit.
    pub id: String,
    /// The token text.
    #[schema(value_type = String)]
    pub token: Zeroizing<String>,
    /// When it stops working, Unix ms.
    pub expires_at: i64,
    /// The enrollment script's URL (it carries the token).
    #[schema(value_type = String)]
    pub script_url: Zeroizing<String>,
    /// The command to run on the new machine (it carries the token).
    #[schema(value_type = String)]
    pub command: Zeroizing<String>,
}

/// `POST /v1/admin/tokens/enrollment`; every field has a default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollmentTokenRequest {
    /// A label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Projects new machines join (text: a malformed id answers like an unknown one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub project_ids: Vec<String>,
    /// Secrets new machines are granted (text, likewise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_ids: Vec<String>,
    /// How many machines it may create; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
    /// The token's lifetime, seconds; default one hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<i64>,
    /// Each new machine's lifetime, seconds; default one day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_ttl_secs: Option<i64>,
    /// The network new machines must register from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_cidr: Option<String>,
    /// A pattern (regex over the whole hostname) new machines' hostnames must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname_pattern: Option<String>,
}

/// An enrollment token as operators see it (its text only in the answer that issued it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentTokenAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: EnrollmentTokenId,
    /// The token text: present only in the answer that issued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub token: Option<Zeroizing<String>>,
    /// A label.
    pub name: String,
    /// Projects new machines join.
    #[schema(value_type = Vec<String>)]
    pub project_ids: Vec<ProjectId>,
    /// Secrets new machines are granted.
    #[schema(value_type = Vec<String>)]
    pub secret_ids: Vec<SecretId>,
    /// How many machines it may create.
    pub max_uses: u32,
    /// How many it has created.
    pub uses: u32,
    /// Unix ms.
    pub expires_at: i64,
    /// Each new machine's lifetime, seconds.
    pub machine_ttl_secs: i64,
    /// Required source network.
    pub source_cidr: Option<String>,
    /// Required hostname pattern.
    pub hostname_pattern: Option<String>,
    /// When it was revoked, Unix ms.
    pub revoked_at: Option<i64>,
    /// Unix ms.
    pub created_at: i64,
}

/// `GET /v1/admin/tokens/enrollment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EnrollmentTokensAnswer {
    /// Every enrollment token.
    pub tokens: Vec<EnrollmentTokenAnswer>,
}

/// Issues a one-use bootstrap token and the command that redeems it.
#[utoipa::path(post, path = "/v1/admin/tokens/bootstrap", tag = "admin",
    responses((status = 200, description = "Success", body = BootstrapTokenAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn bootstrap_token() {}

/// Lists enrollment tokens.
#[utoipa::path(get, path = "/v1/admin/tokens/enrollment", tag = "admin",
    responses((status = 200, description = "Success", body = EnrollmentTokensAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn enrollment_tokens() {}

/// Issues an enrollment token.
#[utoipa::path(post, path = "/v1/admin/tokens/enrollment", tag = "admin",
    request_body = EnrollmentTokenRequest,
    responses((status = 200, description = "Success", body = EnrollmentTokenAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_enrollment_token() {}

/// Revokes an enrollment token.
#[utoipa::path(post, path = "/v1/admin/tokens/enrollment/{id}/revoke", tag = "admin",
    params(("id" = String, Path, description = "The token's id")),
    responses((status = 200, description = "Success", body = EnrollmentTokenAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn revoke_enrollment_token() {}

/// The token routes.
#[derive(OpenApi)]
#[openapi(
    paths(
        bootstrap_token,
        enrollment_tokens,
        create_enrollment_token,
        revoke_enrollment_token
    ),
    components(schemas(
        BootstrapTokenAnswer,
        EnrollmentTokenRequest,
        EnrollmentTokenAnswer,
        EnrollmentTokensAnswer
    ))
)]
pub struct Api;
