//! Human sign-in: the CLI's key registration (`cli-login`), the dashboard's first-run setup,
//! session, step-up and passkey sign-in, and accepting an invitation. Unsigned, except the
//! session routes that act on the current session (cookie, and the CSRF header when they change
//! something). Every sign-in failure is the same 401 body; a locked account or a source over
//! its budget is 429.

use serde::{Deserialize, Serialize};
use signet_proto::{OperatorId, SessionId, VaultId};
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

use crate::admin::operator::LogoutAnswer;
use crate::admin::passkey::{PasskeyChallengeAnswer, PasskeyCredentialRequest};
use crate::admin::user::UserAnswer;

/// `POST /v1/auth/cli-login`. Its secrets are held in zeroizing memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CliLoginRequest {
    /// Username or email.
    pub login: String,
    /// The password.
    #[schema(value_type = String)]
    pub password: Zeroizing<String>,
    /// A code from the authenticator app (at most one of this and `recoveryCode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub totp: Option<Zeroizing<String>>,
    /// One of the account's recovery codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub recovery_code: Option<Zeroizing<String>>,
    /// The new operator key's Ed25519 public key, base64 (made on the caller's host).
    pub public_key: String,
    /// A label for the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `POST /v1/auth/cli-login`: enough for the CLI to write its operator identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CliLoginAnswer {
    /// The new operator key's id.
    #[schema(value_type = String)]
    pub operator_id: OperatorId,
    /// The vault it administers.
    #[schema(value_type = String)]
    pub vault_id: VaultId,
    /// When the key stops authenticating, Unix ms.
    pub expires_at: i64,
    /// The server's public base URL.
    pub api_url: String,
}

/// `GET /v1/auth/setup`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SetupStateAnswer {
    /// Whether first-run setup is open (no user exists yet).
    pub open: bool,
}

/// `POST /v1/auth/setup`: creates the first owner. Its secrets are held in zeroizing memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetupRequest {
    /// The setup code `signet server` printed at first start.
    #[schema(value_type = String)]
    pub code: Zeroizing<String>,
    /// The owner's username.
    pub username: String,
    /// The owner's email.
    pub email: String,
    /// The owner's password.
    #[schema(value_type = String)]
    pub password: Zeroizing<String>,
}

/// `POST /v1/auth/setup/check`: whether a setup code would still be accepted. Held in zeroizing
/// memory like the setup request itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupCheckRequest {
    /// The setup code from the link.
    #[schema(value_type = String)]
    pub code: Zeroizing<String>,
}

/// A setup code check's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SetupCheckAnswer {
    /// Whether `POST /v1/auth/setup` would accept the code now: it is the live one, not expired,
    /// and no user exists yet. Nothing is spent by asking.
    pub valid: bool,
}

/// What a new account is shown once (first-run setup, an accepted invitation): the user, how to
/// enroll an authenticator, and the recovery codes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewAccountAnswer {
    /// The created account.
    pub user: UserAnswer,
    /// `otpauth://totp/...` with the TOTP seed, for an authenticator app.
    #[schema(value_type = String)]
    pub otpauth_uri: Zeroizing<String>,
    /// The seed alone (base32), for typing in.
    #[schema(value_type = String)]
    pub totp_secret: Zeroizing<String>,
    /// Recovery codes, shown once.
    #[schema(value_type = Vec<String>)]
    pub recovery_codes: Vec<Zeroizing<String>>,
    /// `otpauthUri` drawn as a QR code by the server: a standalone SVG document (black modules
    /// on a white quiet zone, no script, no external reference) for an `<img>`.
    #[schema(value_type = String)]
    pub qr_svg: Zeroizing<String>,
    /// Confirms the new seed at `POST /v1/auth/totp/confirm`: the seed stays pending until a
    /// code from the authenticator is confirmed with this ticket (or signs in).
    #[schema(value_type = String)]
    pub enrollment_ticket: Zeroizing<String>,
    /// When `enrollmentTicket` stops working, Unix ms.
    pub enrollment_expires_at: i64,
}

/// `POST /v1/auth/totp/confirm`: proves the authenticator app has the new seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TotpConfirmRequest {
    /// The `enrollmentTicket` the new account was answered with.
    #[schema(value_type = String)]
    pub ticket: Zeroizing<String>,
    /// The code the authenticator app shows now.
    #[schema(value_type = String)]
    pub totp: Zeroizing<String>,
}

/// A confirmed enrollment, and the browser session it opened (its cookie is set too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TotpConfirmAnswer {
    /// Always `true`: a code that does not confirm is an error.
    pub confirmed: bool,
    /// The session now open; `null` when the vault requires single sign-on for this person,
    /// who then signs in through the provider.
    pub session: Option<SessionAnswer>,
}

/// `POST /v1/auth/session`: a browser sign-in. Its secrets are held in zeroizing memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionLoginRequest {
    /// Username or email.
    pub login: String,
    /// The password.
    #[schema(value_type = String)]
    pub password: Zeroizing<String>,
    /// A code from the authenticator app (at most one of this and `recoveryCode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub totp: Option<Zeroizing<String>>,
    /// One of the account's recovery codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub recovery_code: Option<Zeroizing<String>>,
}

/// The current browser session, as the dashboard sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionAnswer {
    /// Send it as `X-CSRF-Token` with every state-changing request.
    pub csrf_token: String,
    /// The signed-in user.
    pub user: UserAnswer,
    /// The session's id.
    #[schema(value_type = String)]
    pub session_id: SessionId,
    /// The absolute end, Unix ms.
    pub expires_at: i64,
    /// Idle timeout, ms.
    pub idle_timeout_ms: i64,
    /// Until when sensitive actions need no new second factor, Unix ms; `null` if never.
    pub step_up_until: Option<i64>,
    /// What the user's role allows: `read`, `write_secrets`, `manage_projects`, `manage_tokens`,
    /// `manage_machines`, `manage_allowlist`, `manage_vault`, `manage_users`, `manage_owners`.
    /// The server still checks every request; this only spares the dashboard offering what
    /// would be refused.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Whether the user is limited to some projects; such a user is also refused the
    /// enrollment-token list and the audit log.
    #[serde(default)]
    pub scoped: bool,
}

/// `POST /v1/auth/step-up`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUpRequest {
    /// A code from the authenticator app.
    #[schema(value_type = String)]
    pub totp: Zeroizing<String>,
}

/// A step-up's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepUpAnswer {
    /// Until when sensitive actions need no new second factor, Unix ms.
    pub step_up_until: i64,
}

/// `POST /v1/auth/invite/accept`. Its secrets are held in zeroizing memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteAcceptRequest {
    /// The code from the invitation link.
    #[schema(value_type = String)]
    pub code: Zeroizing<String>,
    /// The username chosen.
    pub username: String,
    /// The password chosen (at least 12 characters).
    #[schema(value_type = String)]
    pub password: Zeroizing<String>,
}

/// `POST /v1/auth/invite/check`: whether an invitation code would still be accepted. Held in
/// zeroizing memory like the acceptance itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteCheckRequest {
    /// The code from the invitation link.
    #[schema(value_type = String)]
    pub code: Zeroizing<String>,
}

/// An invitation code check's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InviteCheckAnswer {
    /// Whether `POST /v1/auth/invite/accept` would accept the code now: known, not used, not
    /// revoked, not expired. Nothing is spent by asking.
    pub valid: bool,
}

/// Registers a CLI operator key with a password and second factor.
#[utoipa::path(operation_id = "auth_cli_login", post, path = "/v1/auth/cli-login", tag = "auth",
    request_body = CliLoginRequest,
    responses((status = 200, description = "Success", body = CliLoginAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 409, description = "The public key is already registered", body = crate::openapi::ErrorBody),
              (status = 429, description = "Locked account or source over its budget", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn cli_login() {}

/// Whether first-run setup is open.
#[utoipa::path(operation_id = "auth_setup_state", get, path = "/v1/auth/setup", tag = "auth",
    responses((status = 200, description = "Success", body = SetupStateAnswer)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn setup_state() {}

/// Creates the first owner with the setup code.
#[utoipa::path(operation_id = "auth_setup", post, path = "/v1/auth/setup", tag = "auth",
    request_body = SetupRequest,
    responses((status = 200, description = "Success", body = NewAccountAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 403, description = "Setup closed, or a cross-site request", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn setup() {}

/// The current browser session.
#[utoipa::path(operation_id = "auth_session", get, path = "/v1/auth/session", tag = "auth",
    responses((status = 200, description = "Success", body = SessionAnswer),
              (status = 401, description = "No live session", body = crate::openapi::ErrorBody),
              (status = 403, description = "A cross-site request", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn session() {}

/// Signs in a browser: answers the session and sets its cookie.
#[utoipa::path(operation_id = "auth_session_login", post, path = "/v1/auth/session", tag = "auth",
    request_body = SessionLoginRequest,
    responses((status = 200, description = "Signed in; the session cookie is set", body = SessionAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "A cross-site request", body = crate::openapi::ErrorBody),
              (status = 429, description = "Locked account or source over its budget", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn session_login() {}

/// Ends the browser session and clears its cookie.
#[utoipa::path(operation_id = "auth_session_logout", post, path = "/v1/auth/session/logout", tag = "auth",
    responses((status = 200, description = "Signed out; the cookie is cleared", body = LogoutAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (CSRF)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn session_logout() {}

/// Confirms a TOTP code for the sensitive actions that need a recent second factor.
#[utoipa::path(operation_id = "auth_step_up", post, path = "/v1/auth/step-up", tag = "auth",
    request_body = StepUpRequest,
    responses((status = 200, description = "Success", body = StepUpAnswer),
              (status = 400, description = "Malformed request, or not a browser session", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed (or a wrong code)", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (CSRF)", body = crate::openapi::ErrorBody),
              (status = 429, description = "The account is locked", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn step_up() {}

/// Starts a usernameless passkey sign-in. Takes no body (or `{}`).
#[utoipa::path(operation_id = "auth_passkey_login_start", post, path = "/v1/auth/passkey/login/start", tag = "auth",
    responses((status = 200, description = "Success", body = PasskeyChallengeAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 403, description = "Passkeys unavailable, or a cross-site request", body = crate::openapi::ErrorBody),
              (status = 429, description = "Source over its budget", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn passkey_login_start() {}

/// Finishes a passkey sign-in: answers the session and sets its cookie, as a password sign-in
/// does.
#[utoipa::path(operation_id = "auth_passkey_login_finish", post, path = "/v1/auth/passkey/login/finish", tag = "auth",
    request_body = PasskeyCredentialRequest,
    responses((status = 200, description = "Signed in; the session cookie is set", body = SessionAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Passkeys unavailable, or a cross-site request", body = crate::openapi::ErrorBody),
              (status = 429, description = "Source over its budget", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn passkey_login_finish() {}

/// Starts a passkey step-up in the current browser session. Takes no body (or `{}`).
#[utoipa::path(operation_id = "auth_step_up_passkey_start", post, path = "/v1/auth/step-up/passkey/start", tag = "auth",
    responses((status = 200, description = "Success", body = PasskeyChallengeAnswer),
              (status = 400, description = "Malformed request, no passkey, or not a browser session", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (CSRF), or passkeys unavailable", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn step_up_passkey_start() {}

/// Finishes a passkey step-up.
#[utoipa::path(operation_id = "auth_step_up_passkey_finish", post, path = "/v1/auth/step-up/passkey/finish", tag = "auth",
    request_body = PasskeyCredentialRequest,
    responses((status = 200, description = "Success", body = StepUpAnswer),
              (status = 400, description = "Malformed request, or not a browser session", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (CSRF), or passkeys unavailable", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn step_up_passkey_finish() {}

/// Accepts an invitation: creates the invited user, and answers what they are shown once.
#[utoipa::path(operation_id = "auth_invite_accept", post, path = "/v1/auth/invite/accept", tag = "auth",
    request_body = InviteAcceptRequest,
    responses((status = 200, description = "Success", body = NewAccountAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 403, description = "Unknown, used, expired or revoked invitation", body = crate::openapi::ErrorBody),
              (status = 409, description = "The username or email is taken", body = crate::openapi::ErrorBody),
              (status = 429, description = "Source over its budget", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn invite_accept() {}

/// Whether a setup code would still be accepted, without spending it. Budgeted per source like
/// a sign-in.
#[utoipa::path(operation_id = "auth_setup_check", post, path = "/v1/auth/setup/check", tag = "auth",
    request_body = SetupCheckRequest,
    responses((status = 200, description = "Success", body = SetupCheckAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 403, description = "A cross-site request", body = crate::openapi::ErrorBody),
              (status = 429, description = "Source over its budget", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn setup_check() {}

/// Confirms a new account's pending TOTP seed with a code from the authenticator app, and opens
/// a browser session (its cookie set). A wrong code, or a right one used already, is a 400 that
/// changes nothing but the lockout count; the seed stays pending.
#[utoipa::path(operation_id = "auth_totp_confirm", post, path = "/v1/auth/totp/confirm", tag = "auth",
    request_body = TotpConfirmRequest,
    responses((status = 200, description = "Success", body = TotpConfirmAnswer),
              (status = 400, description = "Malformed request, a wrong code (`wrong_factor`) or a right one used already (`code_reused`)", body = crate::openapi::ErrorBody),
              (status = 401, description = "The ticket is unknown, expired or already used", body = crate::openapi::ErrorBody),
              (status = 403, description = "A cross-site request", body = crate::openapi::ErrorBody),
              (status = 429, description = "The account is locked, or the source over its budget", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn totp_confirm() {}

/// Whether an invitation code would still be accepted, without spending it, so the invitation
/// page can say "used, revoked or expired" before the form is filled in. Budgeted per source
/// like a sign-in.
#[utoipa::path(operation_id = "auth_invite_check", post, path = "/v1/auth/invite/check", tag = "auth",
    request_body = InviteCheckRequest,
    responses((status = 200, description = "Success", body = InviteCheckAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 429, description = "Source over its budget", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn invite_check() {}

/// The sign-in routes.
#[derive(OpenApi)]
#[openapi(
    paths(
        cli_login,
        setup_state,
        setup,
        session,
        session_login,
        session_logout,
        step_up,
        passkey_login_start,
        passkey_login_finish,
        step_up_passkey_start,
        step_up_passkey_finish,
        invite_accept,
        setup_check,
        totp_confirm,
        invite_check
    ),
    components(schemas(
        CliLoginRequest,
        CliLoginAnswer,
        SetupStateAnswer,
        SetupRequest,
        NewAccountAnswer,
        SessionLoginRequest,
        SessionAnswer,
        StepUpRequest,
        StepUpAnswer,
        InviteAcceptRequest,
        SetupCheckRequest,
        SetupCheckAnswer,
        TotpConfirmRequest,
        TotpConfirmAnswer,
        InviteCheckRequest,
        InviteCheckAnswer
    )),
    tags((name = "auth", description = "Human sign-in: unsigned (a password and second factor, a \
                                       passkey, or an invitation code), or acting on the \
                                       current browser session (cookie, plus the CSRF header \
                                       when it changes something)."))
)]
pub struct Api;
