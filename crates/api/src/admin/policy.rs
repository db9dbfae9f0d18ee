//! Access policies: named, project-scoped rules a machine's read of a bound secret must pass,
//! after its grant and before the value is decrypted. Each axis is off unless present.

use serde::{Deserialize, Serialize};
use signet_proto::{PolicyId, ProjectId};
use utoipa::{OpenApi, ToSchema};

/// A daily time window in one IANA time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeWindow {
    /// Opens at this wall-clock time, `HH:MM` (24-hour).
    pub start: String,
    /// Closes at this wall-clock time, `HH:MM`; earlier than `start` wraps past midnight.
    pub end: String,
    /// IANA time zone such as `Europe/Oslo`.
    pub time_zone: String,
    /// Days the window opens on (`mon` … `sun`); empty means every day. A window that wraps
    /// midnight counts on the day it opened.
    #[serde(default)]
    pub days: Vec<String>,
}

/// Co-sign: another machine must have read the same secret recently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CoSign {
    /// The machine whose read counts (text: validated by the server).
    pub machine_id: String,
    /// How recent its last read must be, seconds.
    pub within_seconds: u32,
}

/// The rules of a policy. Every axis is off when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyRules {
    /// Reads only inside this window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeWindow>,
    /// Reads only from these networks (the source address as the allowlist sees it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidrs: Option<Vec<String>>,
    /// Reads per machine per calendar minute (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_minute: Option<u32>,
    /// Reads per machine per calendar day (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<u32>,
    /// Another machine must have read the secret within the last N seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cosign: Option<CoSign>,
    /// No reads at or after this instant (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// At most this many reads of the secret, by all machines together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_reads: Option<u64>,
    /// Rotate the secret each time its current version has been read this many times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate_after_reads: Option<u64>,
}

/// `POST /v1/admin/projects/{id}/policies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePolicyRequest {
    /// Unique within the project.
    pub name: String,
    /// The rules.
    #[serde(default)]
    pub rules: PolicyRules,
}

/// `POST /v1/admin/projects/{id}/policies/{policy}/update`: the new name (absent: kept) and the
/// rules, which replace the old ones as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdatePolicyRequest {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The rules.
    #[serde(default)]
    pub rules: PolicyRules,
}

/// `POST /v1/admin/secrets/{id}/policy`: binds a policy of the secret's project, or unbinds with
/// `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BindPolicyRequest {
    /// The policy (text: a malformed id answers like an unknown one), or `null`.
    pub policy_id: Option<String>,
}

/// A policy as operators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: PolicyId,
    /// Its project.
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    /// Its name.
    pub name: String,
    /// Its rules.
    pub rules: PolicyRules,
    /// Secrets it is bound to (deleted ones included: they may be restored).
    pub bound_secrets: u32,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

/// `GET /v1/admin/projects/{id}/policies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PoliciesAnswer {
    /// The project's policies, by name.
    pub policies: Vec<PolicyAnswer>,
}

/// The answer to a bind: the secret and the policy now bound (`null`: none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretPolicyAnswer {
    /// The secret.
    pub secret_id: String,
    /// The bound policy.
    #[schema(value_type = Option<String>)]
    pub policy_id: Option<PolicyId>,
}

/// Lists a project's policies.
#[utoipa::path(get, path = "/v1/admin/projects/{id}/policies", tag = "admin",
    params(("id" = String, Path, description = "The project's id")),
    responses((status = 200, description = "Success", body = PoliciesAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such project", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn list_policies() {}

/// Creates a policy.
#[utoipa::path(post, path = "/v1/admin/projects/{id}/policies", tag = "admin",
    params(("id" = String, Path, description = "The project's id")),
    request_body = CreatePolicyRequest,
    responses((status = 200, description = "Success", body = PolicyAnswer),
              (status = 400, description = "Malformed request (a rule outside its range)", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such project", body = crate::openapi::ErrorBody),
              (status = 409, description = "The project has a policy of that name (`conflict`)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_policy() {}

/// One policy.
#[utoipa::path(get, path = "/v1/admin/projects/{id}/policies/{policy}", tag = "admin",
    params(("id" = String, Path, description = "The project's id"),
           ("policy" = String, Path, description = "The policy's id")),
    responses((status = 200, description = "Success", body = PolicyAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such policy in that project", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn show_policy() {}

/// Renames a policy and replaces its rules; bound secrets follow the new rules from their next
/// read.
#[utoipa::path(post, path = "/v1/admin/projects/{id}/policies/{policy}/update", tag = "admin",
    params(("id" = String, Path, description = "The project's id"),
           ("policy" = String, Path, description = "The policy's id")),
    request_body = UpdatePolicyRequest,
    responses((status = 200, description = "Success", body = PolicyAnswer),
              (status = 400, description = "Malformed request (a rule outside its range)", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such policy in that project", body = crate::openapi::ErrorBody),
              (status = 409, description = "The project has another policy of that name (`conflict`)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn update_policy() {}

/// Deletes a policy that no secret is bound to.
#[utoipa::path(post, path = "/v1/admin/projects/{id}/policies/{policy}/delete", tag = "admin",
    params(("id" = String, Path, description = "The project's id"),
           ("policy" = String, Path, description = "The policy's id")),
    responses((status = 200, description = "Success", body = super::DeletedAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such policy in that project", body = crate::openapi::ErrorBody),
              (status = 409, description = "A secret is still bound to it (`conflict`, `policy_in_use`)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn delete_policy() {}

/// The policy bound to a secret (`policyId` `null`: none).
#[utoipa::path(get, path = "/v1/admin/secrets/{id}/policy", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    responses((status = 200, description = "Success", body = SecretPolicyAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such secret", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn show_binding() {}

/// Binds a policy to a secret (replacing any bound one), or unbinds with `policyId: null`.
#[utoipa::path(post, path = "/v1/admin/secrets/{id}/policy", tag = "admin",
    params(("id" = String, Path, description = "The secret's id")),
    request_body = BindPolicyRequest,
    responses((status = 200, description = "Success", body = SecretPolicyAnswer),
              (status = 400, description = "Malformed request, or a policy of another project", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such secret or policy", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn bind_policy() {}

/// The policy routes.
#[derive(OpenApi)]
#[openapi(
    paths(
        list_policies,
        create_policy,
        show_policy,
        update_policy,
        delete_policy,
        show_binding,
        bind_policy
    ),
    components(schemas(
        TimeWindow,
        CoSign,
        PolicyRules,
        CreatePolicyRequest,
        UpdatePolicyRequest,
        BindPolicyRequest,
        PolicyAnswer,
        PoliciesAnswer,
        SecretPolicyAnswer
    ))
)]
pub struct Api;
