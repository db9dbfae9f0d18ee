//! Single sign-on for people (issue 14 §3): OpenID Connect providers an owner trusts, the
//! mappings from a person's claims to a role and project scope, and the two ways a person signs
//! in through one: the dashboard (authorization code with PKCE, `state` and `nonce`) and
//! `signet login --sso` (the same flow, finished through a loopback redirect to the CLI, which
//! then registers a fresh operator key it made itself).
//!
//! The server is the OIDC client: the provider redirects to [`crate::route::sso::CALLBACK`]
//! only, whichever flow started, so a provider registers one redirect URI per Signet
//! installation (`{api_url}/v1/auth/sso/callback`).

use serde::{Deserialize, Serialize};
use signet_proto::{SsoMappingId, SsoProviderId};
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

use crate::openapi::ErrorBody;

/// `POST /v1/admin/sso/providers`: trusts an OpenID provider for people's sign-in.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SsoProviderCreateRequest {
    /// A label shown on the sign-in button, unique in the vault.
    pub name: String,
    /// The provider's issuer URL, exactly as its ID tokens' `iss` carries it. Its discovery
    /// document (`/.well-known/openid-configuration`) names the endpoints and keys.
    pub issuer: String,
    /// The client id Signet is registered under at the provider.
    pub client_id: String,
    /// The client secret (`client_secret_basic`); absent for a public client (PKCE alone).
    /// Sealed under the root key at rest, never answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<Zeroizing<String>>,
    /// Scopes asked for besides `openid` [default: `profile`, `email`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// The claim that names the Signet user [default `preferred_username`, else `email`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_claim: Option<String>,
    /// The claim that lists the person's groups [default `groups`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_claim: Option<String>,
    /// Whether a first sign-in that matches a mapping creates the user (just in time)
    /// [default false: only users already linked may sign in].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jit_users: Option<bool>,
    /// Whether the sign-in button is offered and sign-ins accepted [default true].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl std::fmt::Debug for SsoProviderCreateRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoProviderCreateRequest")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("scopes", &self.scopes)
            .field("username_claim", &self.username_claim)
            .field("groups_claim", &self.groups_claim)
            .field("jit_users", &self.jit_users)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// `POST /v1/admin/sso/providers/{id}/update`: every field absent is kept.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SsoProviderUpdateRequest {
    /// A new label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A new client secret; an empty string removes it (a public client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<Zeroizing<String>>,
    /// New scopes besides `openid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// A new username claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_claim: Option<String>,
    /// A new groups claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_claim: Option<String>,
    /// Just-in-time user creation on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jit_users: Option<bool>,
    /// Sign-ins accepted or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl std::fmt::Debug for SsoProviderUpdateRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoProviderUpdateRequest")
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("scopes", &self.scopes)
            .field("username_claim", &self.username_claim)
            .field("groups_claim", &self.groups_claim)
            .field("jit_users", &self.jit_users)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// `POST /v1/admin/sso/providers/{id}/mappings`: maps a claim value to a role. Mappings are
/// tried in the order they were added; the first that holds decides the person's role and
/// project scope at every sign-in. A person no mapping holds for is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SsoMappingCreateRequest {
    /// The claim to test (for example `groups`, `email`, `hd`).
    pub claim: String,
    /// The value it must equal (a string claim) or contain (an array claim).
    pub value: String,
    /// The role it gives: `owner`, `admin`, `developer` or `viewer`.
    pub role: String,
    /// The projects a developer or viewer is limited to; empty: every project.
    #[serde(default)]
    pub project_ids: Vec<String>,
}

/// One mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoMappingAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: SsoMappingId,
    /// Its place in the order mappings are tried (1 first).
    pub position: u32,
    /// The claim tested.
    pub claim: String,
    /// The value it must equal or contain.
    pub value: String,
    /// The role it gives.
    pub role: String,
    /// The project scope it gives; empty: every project.
    #[schema(value_type = Vec<String>)]
    pub project_ids: Vec<signet_proto::ProjectId>,
    /// Unix ms.
    pub created_at: i64,
}

/// One trusted provider with its mappings. The client secret is never answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoProviderAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: SsoProviderId,
    /// Its label.
    pub name: String,
    /// Its issuer URL.
    pub issuer: String,
    /// Signet's client id there.
    pub client_id: String,
    /// Whether a client secret is set (a confidential client).
    pub has_client_secret: bool,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// The claim naming the user.
    pub username_claim: String,
    /// The claim listing groups.
    pub groups_claim: String,
    /// Whether a first sign-in creates the user.
    pub jit_users: bool,
    /// Whether sign-ins are accepted.
    pub enabled: bool,
    /// The redirect URI to register at the provider.
    pub redirect_uri: String,
    /// Mappings in the order they are tried.
    pub mappings: Vec<SsoMappingAnswer>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

/// `GET /v1/admin/sso/providers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoProvidersAnswer {
    /// Every trusted provider.
    pub providers: Vec<SsoProviderAnswer>,
}

/// A provider as the sign-in page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoLoginOption {
    /// Its id (the `{provider}` of the start route).
    #[schema(value_type = String)]
    pub id: SsoProviderId,
    /// Its label.
    pub name: String,
}

/// `GET /v1/auth/sso/providers`: no authentication; what the sign-in page offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoLoginOptionsAnswer {
    /// Enabled providers.
    pub providers: Vec<SsoLoginOption>,
    /// Whether the vault refuses password and passkey sign-in for everyone but its
    /// break-glass owner.
    pub required: bool,
}

/// `POST /v1/auth/sso/cli/start`: `signet login --sso` asks to sign in through a provider. The
/// CLI has made its key pair and listens on `127.0.0.1:{loopbackPort}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SsoCliStartRequest {
    /// The provider's id or name.
    pub provider: String,
    /// The new raw Ed25519 public key, standard base64.
    pub public_key: String,
    /// A label for the key [default `cli`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The loopback port the CLI listens on (1024 to 65535): the server sends the browser to
    /// `http://127.0.0.1:{port}/callback` when the provider is done.
    pub loopback_port: u16,
}

/// The attempt started: open `authorizeUrl` in a browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoCliStartAnswer {
    /// Names the attempt in the finish call.
    pub attempt_id: String,
    /// The provider's authorization URL, with `state`, `nonce` and the PKCE challenge.
    pub authorize_url: String,
    /// The attempt ends unused at this time, Unix ms.
    pub expires_at: i64,
}

/// `POST /v1/auth/sso/cli/finish`: the CLI got the completion code on its loopback listener
/// and proves it holds the key the attempt named.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SsoCliFinishRequest {
    /// From the start answer.
    pub attempt_id: String,
    /// The `code` query parameter the loopback listener received.
    #[schema(value_type = String)]
    pub completion_code: Zeroizing<String>,
    /// The new key's base64 Ed25519 signature over
    /// `signet-sso-cli-v1:{attemptId}:{completionCode}`.
    pub signature: String,
}

impl std::fmt::Debug for SsoCliFinishRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoCliFinishRequest")
            .field("attempt_id", &self.attempt_id)
            .field("completion_code", &"***")
            .field("signature", &self.signature)
            .finish()
    }
}

/// The text the CLI signs to finish: binds the completion code to the key the attempt named.
pub fn cli_finish_message(attempt_id: &str, completion_code: &str) -> String {
    format!("signet-sso-cli-v1:{attempt_id}:{completion_code}")
}

/// One provider identity linked to the signed-in user (the account page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoIdentityAnswer {
    /// The provider's id.
    #[schema(value_type = String)]
    pub provider_id: SsoProviderId,
    /// The provider's label.
    pub provider_name: String,
    /// The provider's `sub` for this person.
    pub subject: String,
    /// Unix ms.
    pub linked_at: i64,
    /// The last sign-in through it, Unix ms.
    pub last_login_at: Option<i64>,
}

/// `GET /v1/admin/account/sso`: the caller's linked identities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoIdentitiesAnswer {
    /// Linked identities.
    pub identities: Vec<SsoIdentityAnswer>,
}

/// Every trusted OpenID provider with its mappings (owners).
#[utoipa::path(operation_id = "sso_providers", get, path = "/v1/admin/sso/providers", tag = "admin",
    responses((status = 200, description = "Success", body = SsoProvidersAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (owners only)", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn providers() {}

/// Trusts an OpenID provider for people's sign-in (owners, with a fresh second factor).
#[utoipa::path(operation_id = "sso_provider_create", post, path = "/v1/admin/sso/providers", tag = "admin",
    request_body = SsoProviderCreateRequest,
    responses((status = 200, description = "Trusted", body = SsoProviderAnswer),
              (status = 400, description = "Malformed request", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (owners only, CSRF or step-up)", body = ErrorBody),
              (status = 409, description = "A provider of that name is trusted already", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_provider() {}

/// One provider with its mappings.
#[utoipa::path(operation_id = "sso_provider_show", get, path = "/v1/admin/sso/providers/{id}", tag = "admin",
    params(("id" = String, Path, description = "The provider's id")),
    responses((status = 200, description = "Success", body = SsoProviderAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (owners only)", body = ErrorBody),
              (status = 404, description = "No such provider", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn provider() {}

/// Changes a provider's settings.
#[utoipa::path(operation_id = "sso_provider_update", post, path = "/v1/admin/sso/providers/{id}/update", tag = "admin",
    params(("id" = String, Path, description = "The provider's id")),
    request_body = SsoProviderUpdateRequest,
    responses((status = 200, description = "Changed", body = SsoProviderAnswer),
              (status = 400, description = "Malformed request", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (owners only, CSRF or step-up)", body = ErrorBody),
              (status = 404, description = "No such provider", body = ErrorBody),
              (status = 409, description = "A provider of that name is trusted already", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn update_provider() {}

/// Removes a provider, its mappings and the identities linked through it; users stay.
#[utoipa::path(operation_id = "sso_provider_delete", post, path = "/v1/admin/sso/providers/{id}/delete", tag = "admin",
    params(("id" = String, Path, description = "The provider's id")),
    responses((status = 200, description = "Removed", body = crate::admin::DeletedAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (owners only, CSRF or step-up)", body = ErrorBody),
              (status = 404, description = "No such provider", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn delete_provider() {}

/// Adds a mapping, tried after the existing ones.
#[utoipa::path(operation_id = "sso_mapping_create", post, path = "/v1/admin/sso/providers/{id}/mappings", tag = "admin",
    params(("id" = String, Path, description = "The provider's id")),
    request_body = SsoMappingCreateRequest,
    responses((status = 200, description = "Added; the provider with its mappings", body = SsoProviderAnswer),
              (status = 400, description = "Malformed request", body = ErrorBody),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (owners only, CSRF or step-up)", body = ErrorBody),
              (status = 404, description = "No such provider", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_mapping() {}

/// Removes one mapping.
#[utoipa::path(operation_id = "sso_mapping_delete", post, path = "/v1/admin/sso/providers/{id}/mappings/{mapping}/delete", tag = "admin",
    params(("id" = String, Path, description = "The provider's id"),
           ("mapping" = String, Path, description = "The mapping's id")),
    responses((status = 200, description = "Removed; the provider with its mappings", body = SsoProviderAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (owners only, CSRF or step-up)", body = ErrorBody),
              (status = 404, description = "No such provider or mapping", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn delete_mapping() {}

/// What the sign-in page offers: enabled providers, and whether SSO is required.
#[utoipa::path(operation_id = "sso_login_options", get, path = "/v1/auth/sso/providers", tag = "auth",
    responses((status = 200, description = "Success", body = SsoLoginOptionsAnswer)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn login_options() {}

/// Starts a browser sign-in (or, with `purpose=link`, linking the signed-in user's account, or
/// with `purpose=step_up`, a fresh sign-in at the provider that confirms a second factor):
/// sets a short-lived cookie binding the attempt to this browser and redirects to the provider.
#[utoipa::path(operation_id = "sso_start", get, path = "/v1/auth/sso/{provider}/start", tag = "auth",
    params(("provider" = String, Path, description = "The provider's id"),
           ("purpose" = Option<String>, Query, description = "`login` (default), `link` or `step_up`")),
    responses((status = 302, description = "To the provider's authorization endpoint"),
              (status = 403, description = "No such enabled provider, or `link`/`step_up` without a session", body = ErrorBody),
              (status = 429, description = "Too many attempts from this address", body = ErrorBody),
              (status = 503, description = "The provider's discovery document is unavailable", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn start() {}

/// Where the provider sends the browser back. Checks `state` (known, unused, unexpired, bound
/// to this browser or to a CLI attempt), `iss` if given, exchanges the code with the PKCE
/// verifier, checks the ID token (signature, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`),
/// maps the claims, then redirects: to the dashboard with a new session, or to the CLI's
/// loopback listener with a completion code. Every refusal redirects with one generic error;
/// the audit record names the reason.
#[utoipa::path(operation_id = "sso_callback", get, path = "/v1/auth/sso/callback", tag = "auth",
    params(("code" = Option<String>, Query, description = "The authorization code"),
           ("state" = Option<String>, Query, description = "The attempt's state"),
           ("iss" = Option<String>, Query, description = "The provider's issuer (RFC 9207)"),
           ("error" = Option<String>, Query, description = "The provider's error")),
    responses((status = 302, description = "To the dashboard or the CLI's loopback listener")))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn callback() {}

/// Starts `signet login --sso`.
#[utoipa::path(operation_id = "sso_cli_start", post, path = "/v1/auth/sso/cli/start", tag = "auth",
    request_body = SsoCliStartRequest,
    responses((status = 200, description = "Started", body = SsoCliStartAnswer),
              (status = 400, description = "Malformed request", body = ErrorBody),
              (status = 403, description = "No such enabled provider", body = ErrorBody),
              (status = 429, description = "Too many attempts from this address", body = ErrorBody),
              (status = 503, description = "The provider's discovery document is unavailable", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn cli_start() {}

/// Finishes `signet login --sso`: registers the key as the signed-in user's operator key.
#[utoipa::path(operation_id = "sso_cli_finish", post, path = "/v1/auth/sso/cli/finish", tag = "auth",
    request_body = SsoCliFinishRequest,
    responses((status = 200, description = "Registered", body = crate::auth::CliLoginAnswer),
              (status = 400, description = "Malformed request", body = ErrorBody),
              (status = 401, description = "Unknown, unfinished, used or expired attempt, wrong code or signature", body = ErrorBody),
              (status = 409, description = "The public key is already registered", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn cli_finish() {}

/// The signed-in user's linked provider identities.
#[utoipa::path(operation_id = "sso_identities", get, path = "/v1/admin/account/sso", tag = "admin",
    responses((status = 200, description = "Success", body = SsoIdentitiesAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn identities() {}

/// Unlinks one of the signed-in user's provider identities (with a fresh second factor).
#[utoipa::path(operation_id = "sso_identity_delete", post, path = "/v1/admin/account/sso/{provider}/delete", tag = "admin",
    params(("provider" = String, Path, description = "The provider's id")),
    responses((status = 200, description = "Unlinked", body = SsoIdentitiesAnswer),
              (status = 401, description = "Authentication failed", body = ErrorBody),
              (status = 403, description = "Not allowed (CSRF or step-up), or no such link", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn delete_identity() {}

/// The SSO routes' part of the document.
#[derive(OpenApi)]
#[openapi(
    paths(
        providers,
        create_provider,
        provider,
        update_provider,
        delete_provider,
        create_mapping,
        delete_mapping,
        login_options,
        start,
        callback,
        cli_start,
        cli_finish,
        identities,
        delete_identity
    ),
    components(schemas(
        SsoProviderCreateRequest,
        SsoProviderUpdateRequest,
        SsoMappingCreateRequest,
        SsoMappingAnswer,
        SsoProviderAnswer,
        SsoProvidersAnswer,
        SsoLoginOption,
        SsoLoginOptionsAnswer,
        SsoCliStartRequest,
        SsoCliStartAnswer,
        SsoCliFinishRequest,
        SsoIdentityAnswer,
        SsoIdentitiesAnswer
    ))
)]
pub struct Api;
