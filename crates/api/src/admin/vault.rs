//! The vault's settings.

use serde::{Deserialize, Serialize};
use signet_proto::VaultId;
use utoipa::{OpenApi, ToSchema};

/// The vault as operators see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub vault_id: VaultId,
    /// Whether tokenless enrollment requests are accepted.
    pub tokenless_enrollment: bool,
    /// Whether the IP allowlist is enforced.
    pub ip_allowlist_enabled: bool,
    /// How long a `signet login` key authenticates, ms.
    pub cli_key_ttl_ms: i64,
    /// Whether enrollment must prove possession of the new key.
    pub require_enrollment_proof: bool,
    /// Whether people must sign in through SSO (password and passkey sign-in refused for all
    /// but the break-glass owner).
    pub sso_required: bool,
    /// The owner who may still sign in with a password and second factor when SSO is
    /// required.
    #[schema(value_type = Option<String>)]
    pub break_glass_user: Option<signet_proto::UserId>,
    /// Whether a second factor the SSO provider asserts (`amr`, within the step-up window of
    /// `auth_time`) counts as Signet's step-up.
    pub sso_trust_provider_mfa: bool,
    /// Unix ms.
    pub created_at: i64,
}

/// `POST /v1/admin/vault/settings`: the settings to change; absent ones stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultSettingsRequest {
    /// Accept enrollment requests without a token (an operator approves each).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenless_enrollment: Option<bool>,
    /// How long a `signet login` key authenticates, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli_key_ttl_ms: Option<i64>,
    /// Whether enrollment must prove possession of the new key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_enrollment_proof: Option<bool>,
    /// Require SSO for everyone but the break-glass owner (owners only; needs a break-glass
    /// owner, set now or before, with a password and a second factor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso_required: Option<bool>,
    /// The break-glass owner: a user id or username of an active owner (owners only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass_user: Option<String>,
    /// Trust the provider's `amr` as the step-up second factor (owners only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso_trust_provider_mfa: Option<bool>,
}

/// The vault's settings.
#[utoipa::path(get, path = "/v1/admin/vault", tag = "admin",
    responses((status = 200, description = "Success", body = VaultAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn vault() {}

/// Changes the vault's settings.
#[utoipa::path(post, path = "/v1/admin/vault/settings", tag = "admin",
    request_body = VaultSettingsRequest,
    responses((status = 200, description = "Success", body = VaultAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn vault_settings() {}

/// The vault routes.
#[derive(OpenApi)]
#[openapi(
    paths(vault, vault_settings),
    components(schemas(VaultAnswer, VaultSettingsRequest))
)]
pub struct Api;
