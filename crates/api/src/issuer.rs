//! Workload identity by OIDC: trusted issuers, their rules, and enrollment with a platform
//! token (a GitHub Actions, GitLab CI, Kubernetes or cloud workload JWT). The token proves
//! where the workload runs; the proof of possession proves the new key is the workload's.
//! The token is used once and never stored (only its digest, until it expires).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use signet_proto::{IssuerId, IssuerRuleId};
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

use crate::enroll::RegisteredMachine;
use crate::openapi::ErrorBody;

/// `POST /v1/admin/issuers`: trusts an issuer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssuerCreateRequest {
    /// A label, unique in the vault.
    pub name: String,
    /// The issuer URL, exactly as the tokens' `iss` claim carries it (`https://`).
    pub issuer: String,
    /// A pinned key set (a JWKS object). Absent: the keys are fetched from the issuer's
    /// discovery document (`/.well-known/openid-configuration` then `jwks_uri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// The audience the tokens must carry in `aud`.
    pub audience: String,
    /// The `alg` values accepted [default: RS256, ES256, EdDSA]; `none` and HMAC never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithms: Option<Vec<String>>,
    /// Clock leeway for `exp`, `nbf` and `iat`, seconds [default 60, at most 300].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leeway_seconds: Option<u32>,
}

/// `POST /v1/admin/issuers/{id}/update`: every field absent is kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssuerUpdateRequest {
    /// A new label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new pinned key set (only for an issuer created with one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// A new expected audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// New accepted algorithms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithms: Option<Vec<String>>,
    /// A new leeway, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leeway_seconds: Option<u32>,
}

/// `POST /v1/admin/issuers/{id}/rules`: adds a rule; rules are tried in the order they were
/// added and the first whose every condition holds decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssuerRuleCreateRequest {
    /// A label.
    pub name: String,
    /// Claim conditions: each named claim must be a string exactly equal to the value. At
    /// least one.
    pub claims: BTreeMap<String, String>,
    /// Projects the machine joins (at least one; text: a malformed id answers like an unknown
    /// one).
    pub project_ids: Vec<String>,
    /// Secrets it is granted, in those projects.
    #[serde(default)]
    pub secret_ids: Vec<String>,
    /// The machine's lifetime, seconds [default 3600; 60 to 31,622,400].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_ttl_seconds: Option<i64>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuerRuleAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: IssuerRuleId,
    /// Its label.
    pub name: String,
    /// Its place in the order rules are tried (1 first).
    pub position: u32,
    /// Claim conditions, all of which must hold.
    pub claims: BTreeMap<String, String>,
    /// Projects a matching workload joins.
    #[schema(value_type = Vec<String>)]
    pub project_ids: Vec<signet_proto::ProjectId>,
    /// Secrets it is granted.
    #[schema(value_type = Vec<String>)]
    pub secret_ids: Vec<signet_proto::SecretId>,
    /// The machine's lifetime, seconds.
    pub machine_ttl_seconds: i64,
    /// Unix ms.
    pub created_at: i64,
}

/// One trusted issuer with its rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuerAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: IssuerId,
    /// Its label.
    pub name: String,
    /// The `iss` its tokens carry.
    pub issuer: String,
    /// Whether its keys are pinned (otherwise discovered and cached).
    pub pinned: bool,
    /// The expected audience.
    pub audience: String,
    /// Accepted algorithms.
    pub algorithms: Vec<String>,
    /// Clock leeway, seconds.
    pub leeway_seconds: u32,
    /// Rules in the order they are tried.
    pub rules: Vec<IssuerRuleAnswer>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

/// `GET /v1/admin/issuers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuersAnswer {
    /// Every trusted issuer.
    pub issuers: Vec<IssuerAnswer>,
}

/// `POST /v1/{vault}/enroll/oidc`: the platform token, the new key and its proof of
/// possession (required here: the token alone would let whoever sees it enroll any key).
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcEnrollRequest {
    /// The platform token (a compact JWS), at most 16 KiB.
    #[schema(value_type = String)]
    pub token: Zeroizing<String>,
    /// The new raw Ed25519 public key, standard base64.
    pub public_key: String,
    /// The hostname the workload reports.
    pub hostname: String,
    /// A label; defaults to the hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The new key's base64 signature over the proof string, whose token part is the SHA-256
    /// of the platform token (`docs/protocol.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
    /// The Unix seconds the proof signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
}

impl std::fmt::Debug for OidcEnrollRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcEnrollRequest")
            .field("token", &"***")
            .field("public_key", &self.public_key)
            .field("hostname", &self.hostname)
            .field("name", &self.name)
            .field("proof", &self.proof)
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

/// The machine a platform token created: as an enrollment token's answer.
pub type OidcEnrolled = RegisteredMachine;

/// Every trusted issuer with its rules.
#[utoipa::path(operation_id = "issuers", get, path = "/v1/admin/issuers", tag = "admin",
    responses((status = 200, description = "Success", body = IssuersAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (the caller's role or scope)", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn issuers() {}

/// Trusts an OIDC issuer.
#[utoipa::path(operation_id = "issuer_create", post, path = "/v1/admin/issuers", tag = "admin",
    request_body = IssuerCreateRequest,
    responses((status = 200, description = "Trusted", body = IssuerAnswer),
              (status = 400, description = "Malformed request", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = ErrorBody),
              (status = 409, description = "An issuer of that name or URL is trusted already", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_issuer() {}

/// One trusted issuer with its rules.
#[utoipa::path(operation_id = "issuer_show", get, path = "/v1/admin/issuers/{id}", tag = "admin",
    params(("id" = String, Path, description = "The issuer's id")),
    responses((status = 200, description = "Success", body = IssuerAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (the caller's role or scope)", body = ErrorBody),
              (status = 404, description = "No such issuer", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn issuer() {}

/// Changes a trusted issuer's settings.
#[utoipa::path(operation_id = "issuer_update", post, path = "/v1/admin/issuers/{id}/update", tag = "admin",
    params(("id" = String, Path, description = "The issuer's id")),
    request_body = IssuerUpdateRequest,
    responses((status = 200, description = "Changed", body = IssuerAnswer),
              (status = 400, description = "Malformed request", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = ErrorBody),
              (status = 404, description = "No such issuer", body = ErrorBody),
              (status = 409, description = "An issuer of that name is trusted already", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn update_issuer() {}

/// Removes a trusted issuer and its rules; machines it enrolled keep their lifetimes.
#[utoipa::path(operation_id = "issuer_delete", post, path = "/v1/admin/issuers/{id}/delete", tag = "admin",
    params(("id" = String, Path, description = "The issuer's id")),
    responses((status = 200, description = "Removed", body = crate::admin::DeletedAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = ErrorBody),
              (status = 404, description = "No such issuer", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn delete_issuer() {}

/// Adds a rule under a trusted issuer; it is tried after the existing ones.
#[utoipa::path(operation_id = "issuer_rule_create", post, path = "/v1/admin/issuers/{id}/rules", tag = "admin",
    params(("id" = String, Path, description = "The issuer's id")),
    request_body = IssuerRuleCreateRequest,
    responses((status = 200, description = "Added; the issuer with its rules", body = IssuerAnswer),
              (status = 400, description = "Malformed request, or the same conditions as an existing rule", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = ErrorBody),
              (status = 404, description = "No such issuer", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_rule() {}

/// Removes one rule.
#[utoipa::path(operation_id = "issuer_rule_delete", post, path = "/v1/admin/issuers/{id}/rules/{rule}/delete", tag = "admin",
    params(("id" = String, Path, description = "The issuer's id"),
           ("rule" = String, Path, description = "The rule's id")),
    responses((status = 200, description = "Removed; the issuer with its rules", body = IssuerAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = ErrorBody),
              (status = 404, description = "No such issuer or rule", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn delete_rule() {}

/// Registers an ephemeral machine with a platform token from a trusted issuer; approved at
/// once, joined to the first matching rule's projects and secrets.
#[utoipa::path(operation_id = "enroll_oidc", post, path = "/v1/{vault}/enroll/oidc", tag = "enroll",
    params(("vault" = String, Path, description = "The vault's id")),
    request_body = OidcEnrollRequest,
    responses((status = 200, description = "Registered and approved", body = RegisteredMachine),
              (status = 400, description = "Malformed body, or a proof that does not hold", body = ErrorBody),
              (status = 403, description = "Another vault, a missing proof, or a token refused \
                  for any reason (one answer; the audit record names the reason)", body = ErrorBody),
              (status = 409, description = "The public key is already registered", body = ErrorBody),
              (status = 429, description = "Too many enrollments from this address", body = ErrorBody),
              (status = 503, description = "The store, the audit log or the issuer's keys are \
                  unavailable", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn enroll_oidc() {}

/// The issuer routes' part of the document.
#[derive(OpenApi)]
#[openapi(
    paths(
        issuers,
        create_issuer,
        issuer,
        update_issuer,
        delete_issuer,
        create_rule,
        delete_rule,
        enroll_oidc
    ),
    components(schemas(
        IssuerCreateRequest,
        IssuerUpdateRequest,
        IssuerRuleCreateRequest,
        IssuerRuleAnswer,
        IssuerAnswer,
        IssuersAnswer,
        OidcEnrollRequest
    ))
)]
pub struct Api;
