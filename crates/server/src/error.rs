//! The one error type every handler returns, over the table of stable error codes in
//! `signet_api::error`.
//!
//! Bodies are `{"error": "<message>", "code": "<code>"}`. The SikkerKey SDKs read `error`; our
//! own clients switch on `code`, which never changes once published. Every 401 has the same body,
//! whatever failed. 5xx bodies are generic; the cause goes to the log, never to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use signet_core::{Conflict, CoreError};

pub use signet_api::error::ErrorCode;

/// The HTTP status of a code. Every status in the table is a valid one (a test checks), so the
/// fallback is never taken.
pub fn status(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    code: ErrorCode,
    message: Option<String>,
    /// `Retry-After` in seconds, for 429 and 503; `None` means 1 s.
    retry_after_secs: Option<u64>,
    /// The body's `currentVersion`: only a `version_conflict` carries one.
    current_version: Option<u32>,
}

impl ApiError {
    /// An error with the code's fixed message.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message: None,
            retry_after_secs: None,
            current_version: None,
        }
    }

    /// A 400 with a specific, safe message.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::MalformedRequest,
            message: Some(message.into()),
            retry_after_secs: None,
            current_version: None,
        }
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

impl From<CoreError> for ApiError {
    /// One exhaustive `match`, no catch-all: a new `CoreError` variant does not compile until it
    /// is given an answer here.
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::BadRequest(m) => Self::malformed(m),
            CoreError::Conflict(rule) => match conflict_code(rule) {
                ErrorCode::Conflict => Self {
                    code: ErrorCode::Conflict,
                    message: Some(format!("conflict: {rule}")),
                    retry_after_secs: None,
                    current_version: None,
                },
                // Says which of the two refusals it is; both name the rule, never a value.
                ErrorCode::KeyGenerationInUse => Self {
                    code: ErrorCode::KeyGenerationInUse,
                    message: Some(rule.to_string()),
                    retry_after_secs: None,
                    current_version: None,
                },
                code => Self::new(code),
            },
            CoreError::Forbidden => Self::new(ErrorCode::AccessDenied),
            CoreError::InviteRefused => Self::new(ErrorCode::InviteRefused),
            CoreError::NotFound => Self::new(ErrorCode::NotFound),
            CoreError::PasskeysUnavailable => Self::new(ErrorCode::PasskeysUnavailable),
            CoreError::RateLimited => Self::new(ErrorCode::RateLimited),
            CoreError::PayloadTooLarge => Self::new(ErrorCode::PayloadTooLarge),
            CoreError::OverBudget { retry_after_secs } => Self {
                code: ErrorCode::RateLimited,
                message: None,
                retry_after_secs: Some(retry_after_secs.max(1)),
                current_version: None,
            },
            CoreError::Unauthenticated => Self::new(ErrorCode::AuthenticationFailed),
            CoreError::Unavailable => Self::new(ErrorCode::Unavailable),
            CoreError::StepUpRequired => Self::new(ErrorCode::StepUpRequired),
            CoreError::SsoRequired => Self::new(ErrorCode::SsoRequired),
            CoreError::WrongFactor => Self::new(ErrorCode::WrongFactor),
            CoreError::CodeReused => Self::new(ErrorCode::CodeReused),
            CoreError::InvalidName(m) => Self {
                code: ErrorCode::InvalidName,
                message: Some(m),
                retry_after_secs: None,
                current_version: None,
            },
            CoreError::EmptyValue(m) => Self {
                code: ErrorCode::EmptyValue,
                message: Some(m),
                retry_after_secs: None,
                current_version: None,
            },
            CoreError::ProjectFrozen => Self::new(ErrorCode::ProjectFrozen),
            CoreError::SetupClosed => Self::new(ErrorCode::SetupClosed),
            CoreError::EnrollmentProofRequired => Self::new(ErrorCode::EnrollmentProofRequired),
            CoreError::EnrollmentProofInvalid(why) => Self {
                code: ErrorCode::EnrollmentProofInvalid,
                message: Some(format!("enrollment proof invalid: {why}")),
                retry_after_secs: None,
                current_version: None,
            },
            CoreError::WeakPassword(advice) => Self {
                code: ErrorCode::WeakPassword,
                message: Some(format!("password is too easy to guess: {advice}")),
                retry_after_secs: None,
                current_version: None,
            },
            CoreError::VersionConflict { current_version } => Self {
                code: ErrorCode::VersionConflict,
                message: Some(format!(
                    "the secret is at version {current_version}, not the expected one; read it \
                     again and retry"
                )),
                retry_after_secs: None,
                current_version: Some(current_version),
            },
        }
    }
}

/// The code a broken rule is answered with. A `conflict` answer names the rule in its message
/// (`conflict: <rule>`); a rule with a code of its own gets that code's message.
fn conflict_code(rule: Conflict) -> ErrorCode {
    match rule {
        Conflict::PublicKeyTaken => ErrorCode::PublicKeyTaken,
        Conflict::RootGenerationCurrent | Conflict::RootGenerationInUse => {
            ErrorCode::KeyGenerationInUse
        }
        Conflict::ProjectKeyRotated => ErrorCode::ProjectKeyConflict,
        // A write that sealed under a key a rotation replaced a moment ago wrote nothing; the
        // clients retry a 503, and the retry seals under the new key.
        Conflict::ProjectKeyStale => ErrorCode::Unavailable,
        Conflict::Id
        | Conflict::Vault
        | Conflict::ProjectName
        | Conflict::SecretName
        | Conflict::Version
        | Conflict::PublicKey
        | Conflict::Cidr
        | Conflict::Username
        | Conflict::Email
        | Conflict::TokenHash
        | Conflict::InviteCode
        | Conflict::InviteSpent
        | Conflict::CredentialId
        | Conflict::PasskeyLimit
        | Conflict::LastOwner
        | Conflict::UsersExist
        | Conflict::NotEmpty
        | Conflict::MachineState
        | Conflict::StaleBase
        | Conflict::PasskeyExists
        | Conflict::PolicyName
        | Conflict::PolicyInUse
        | Conflict::ShareSpent
        | Conflict::RotationClaimed
        | Conflict::ProjectTrashed
        | Conflict::Canary
        | Conflict::RotationPending
        | Conflict::RotationStale
        | Conflict::ConnectionName
        | Conflict::ConnectionInUse
        | Conflict::LeaseState
        | Conflict::IssuerName
        | Conflict::SsoProviderName
        | Conflict::SsoIdentity
        | Conflict::BreakGlass
        | Conflict::RootGenerationStale => ErrorCode::Conflict,
    }
}

/// The body of every error answer; field order is the wire's (`error`, then `code`, then
/// `currentVersion` on a `version_conflict` only).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    error: &'a str,
    code: ErrorCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_version: Option<u32>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Authentication failures must be indistinguishable, so their message is never custom.
        let message = match self.code {
            ErrorCode::AuthenticationFailed => self.code.default_message().to_owned(),
            _ => self
                .message
                .unwrap_or_else(|| self.code.default_message().to_owned()),
        };
        let mut resp = (
            status(self.code),
            Json(Body {
                error: &message,
                code: self.code,
                current_version: self.current_version,
            }),
        )
            .into_response();
        if self.code == ErrorCode::RateLimited || self.code == ErrorCode::Unavailable {
            let secs = self.retry_after_secs.unwrap_or(1).max(1);
            resp.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from(secs));
        }
        resp
    }
}

/// Handler result alias.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_code_has_a_valid_status() {
        for &code in ErrorCode::ALL {
            assert_eq!(status(code).as_u16(), code.status(), "{code}");
        }
        assert_eq!(
            status(ErrorCode::AuthenticationFailed),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(status(ErrorCode::AccessDenied), StatusCode::FORBIDDEN);
    }

    async fn body_of(e: ApiError) -> (StatusCode, String) {
        let resp = e.into_response();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// The bytes on the wire, exactly as they were before the table moved to `signet_api`.
    #[tokio::test]
    async fn bodies_are_byte_identical() {
        assert_eq!(
            body_of(ApiError::new(ErrorCode::AccessDenied)).await,
            (
                StatusCode::FORBIDDEN,
                r#"{"error":"access denied","code":"access_denied"}"#.to_owned()
            )
        );
        assert_eq!(
            body_of(CoreError::Conflict(Conflict::PublicKeyTaken).into()).await,
            (
                StatusCode::CONFLICT,
                r#"{"error":"public key is already registered","code":"public_key_taken"}"#
                    .to_owned()
            )
        );
        assert_eq!(
            body_of(CoreError::Conflict(Conflict::Username).into()).await,
            (
                StatusCode::CONFLICT,
                r#"{"error":"conflict: username","code":"conflict"}"#.to_owned()
            )
        );
        assert_eq!(
            body_of(CoreError::Conflict(Conflict::StaleBase).into())
                .await
                .1,
            r#"{"error":"conflict: version: the secret has a newer version than baseVersion; start again from it","code":"conflict"}"#
        );
        // Only a version conflict carries the current version.
        assert_eq!(
            body_of(CoreError::VersionConflict { current_version: 7 }.into()).await,
            (
                StatusCode::CONFLICT,
                r#"{"error":"the secret is at version 7, not the expected one; read it again and retry","code":"version_conflict","currentVersion":7}"#
                    .to_owned()
            )
        );
        // A custom message never reaches a 401.
        let e = ApiError {
            code: ErrorCode::AuthenticationFailed,
            message: Some("no such key".into()),
            retry_after_secs: None,
            current_version: None,
        };
        assert_eq!(
            body_of(e).await.1,
            r#"{"error":"authentication failed","code":"authentication_failed"}"#
        );
    }

    #[test]
    fn over_budget_is_429_with_its_retry_after() {
        let resp = ApiError::from(CoreError::OverBudget {
            retry_after_secs: 17,
        })
        .into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()["retry-after"], "17");
        // A zero would tell a client to hammer at once; the floor is one second.
        let resp = ApiError::from(CoreError::OverBudget {
            retry_after_secs: 0,
        })
        .into_response();
        assert_eq!(resp.headers()["retry-after"], "1");
        let resp = ApiError::from(CoreError::RateLimited).into_response();
        assert_eq!(resp.headers()["retry-after"], "1");
    }
}
