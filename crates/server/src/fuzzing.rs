//! Entry points for the fuzz targets in `fuzz/` (docs/fuzzing.md).
//!
//! Compiled only with the `fuzzing` feature, which no shipped build turns on. Nothing here adds
//! behaviour: each function names a private parser exactly as the request path calls it, so an
//! instrumented build outside this crate can drive it with arbitrary bytes.

use axum::http::HeaderMap;
use serde::de::DeserializeOwned;
use signet_api as api;
use signet_proto::{
    HEADER_MACHINE_ID, HEADER_NONCE, HEADER_OPERATOR_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};

use crate::error::ApiError;
use crate::extract::{header, json, json_opt};

pub use axum::http;

/// The authentication headers as the signed-request extractor reads them: each only if sent
/// exactly once and visible ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthHeaders<'a> {
    /// `X-Machine-Id`.
    pub machine_id: Option<&'a str>,
    /// `X-Operator-Id`.
    pub operator_id: Option<&'a str>,
    /// `X-Timestamp`.
    pub timestamp: Option<&'a str>,
    /// `X-Nonce`.
    pub nonce: Option<&'a str>,
    /// `X-Signature`.
    pub signature: Option<&'a str>,
}

/// Reads the authentication headers the way `extract::signed_request` does.
pub fn auth_headers(headers: &HeaderMap) -> AuthHeaders<'_> {
    AuthHeaders {
        machine_id: header(headers, HEADER_MACHINE_ID),
        operator_id: header(headers, HEADER_OPERATOR_ID),
        timestamp: header(headers, HEADER_TIMESTAMP),
        nonce: header(headers, HEADER_NONCE),
        signature: header(headers, HEADER_SIGNATURE),
    }
}

/// One body type's verdict on a body.
pub type BodyVerdict = (&'static str, Result<(), ApiError>);

fn required<T: DeserializeOwned>(name: &'static str, body: &[u8]) -> BodyVerdict {
    (name, json::<T>(body).map(drop))
}

fn optional<T: DeserializeOwned>(name: &'static str, body: &[u8]) -> BodyVerdict {
    (name, json_opt::<T>(body).map(drop))
}

/// Parses `body` as every JSON request body the server accepts, through the same `json` /
/// `json_opt` calls the handlers make, and says what each made of it.
pub fn json_bodies(body: &[u8]) -> Vec<BodyVerdict> {
    type Object = serde_json::Map<String, serde_json::Value>;
    vec![
        required::<api::admin::account::PasswordChangeRequest>(
            "admin::PasswordChangeRequest",
            body,
        ),
        required::<api::admin::vault::VaultSettingsRequest>("admin::VaultSettingsRequest", body),
        required::<api::admin::project::CreateProjectRequest>("admin::CreateProjectRequest", body),
        required::<api::admin::project::RenameProjectRequest>("admin::RenameProjectRequest", body),
        required::<api::admin::policy::CreatePolicyRequest>("admin::CreatePolicyRequest", body),
        required::<api::admin::policy::UpdatePolicyRequest>("admin::UpdatePolicyRequest", body),
        required::<api::admin::policy::BindPolicyRequest>("admin::BindPolicyRequest", body),
        required::<api::admin::trash::TrashRetentionRequest>("admin::TrashRetentionRequest", body),
        required::<api::admin::project::CreateCanaryRequest>("admin::CreateCanaryRequest", body),
        required::<api::admin::secret::CreateSecretRequest>("admin::CreateSecretRequest", body),
        required::<api::admin::secret::UpdateSecretRequest>("admin::UpdateSecretRequest", body),
        required::<api::admin::rotation::SetRotationRequest>("admin::SetRotationRequest", body),
        required::<api::admin::secret::SecretQueryRequest>("admin::SecretQueryRequest", body),
        required::<api::admin::secret::RollbackRequest>("admin::RollbackRequest", body),
        required::<api::admin::token::EnrollmentTokenRequest>(
            "admin::EnrollmentTokenRequest",
            body,
        ),
        optional::<api::admin::machine::MachineActionRequest>("admin::MachineActionRequest", body),
        required::<api::admin::allowlist::AllowlistAddRequest>("admin::AllowlistAddRequest", body),
        optional::<api::admin::audit::AuditQueryRequest>("admin::AuditQueryRequest", body),
        required::<api::admin::user::CreateUserRequest>("admin::CreateUserRequest", body),
        required::<api::admin::budget::SetBudgetRequest>("admin::SetBudgetRequest", body),
        required::<api::admin::alert::WebhookCreateRequest>("admin::WebhookCreateRequest", body),
        required::<api::admin::alert::WebhookUpdateRequest>("admin::WebhookUpdateRequest", body),
        required::<api::admin::alert::AlertRuleCreateRequest>(
            "admin::AlertRuleCreateRequest",
            body,
        ),
        required::<Object>("admin::no_body", body),
        required::<api::auth::CliLoginRequest>("auth::CliLoginRequest", body),
        required::<api::auth::SetupRequest>("auth::SetupRequest", body),
        required::<api::auth::SessionLoginRequest>("auth::SessionLoginRequest", body),
        required::<api::auth::StepUpRequest>("auth::StepUpRequest", body),
        required::<api::enroll::EnrollRequest>("enroll::EnrollRequest", body),
        required::<api::machine::ProjectScope>("machine::ProjectScope", body),
        optional::<api::machine::ExportRequest>("machine::ExportRequest", body),
        required::<api::machine::PollRequest>("machine::PollRequest", body),
        required::<api::admin::passkey::PasskeyCredentialRequest>(
            "passkey::PasskeyCredentialRequest",
            body,
        ),
        required::<api::admin::passkey::PasskeyNameRequest>("passkey::PasskeyNameRequest", body),
        optional::<Object>("passkey::empty", body),
        required::<api::admin::user::InviteRequest>("user::InviteRequest", body),
        required::<api::admin::user::UserRoleRequest>("user::UserRoleRequest", body),
        required::<api::auth::InviteAcceptRequest>("auth::InviteAcceptRequest", body),
    ]
}
