//! The one error type every handler returns, and the table of stable error codes.
//!
//! Bodies are `{"error": "<message>", "code": "<code>"}`. The SikkerKey SDKs read `error`; our
//! own clients switch on `code`, which never changes once published. Every 401 has the same body,
//! whatever failed. 5xx bodies are generic; the cause goes to the log, never to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use signet_core::CoreError;

/// A stable error code and the status it always maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 403: not allowed (including a secret that does not exist, to a machine).
    AccessDenied,
    /// 401: any authentication failure.
    AuthenticationFailed,
    /// 409: the request conflicts with current state.
    Conflict,
    /// 500: a bug; details only in the log.
    Internal,
    /// 403: an invitation code that is unknown, used, expired or revoked (one answer for all).
    InviteRefused,
    /// 400: malformed input; the message says what.
    MalformedRequest,
    /// 405: method not routed (HEAD, OPTIONS and TRACE never are on the API).
    MethodNotAllowed,
    /// 404: no such route, or (operators only) no such object.
    NotFound,
    /// 413: body over the route's limit.
    PayloadTooLarge,
    /// 403: the server's public URL cannot be a WebAuthn relying party (no domain, or not HTTPS).
    PasskeysUnavailable,
    /// 409: the public key is already registered.
    PublicKeyTaken,
    /// 429: too many requests from this source.
    RateLimited,
    /// 503: the store or the audit log is down; fail closed.
    Unavailable,
    /// 403: a browser request that another site could have made (no CSRF token, foreign
    /// `Origin` or `Sec-Fetch-Site`).
    CsrfRefused,
    /// 403: the action needs a second factor given in this session within five minutes.
    StepUpRequired,
    /// 403: first-run setup is closed (wrong, expired or spent code, or a user exists).
    SetupClosed,
    /// 415: the body carries a `Content-Encoding`; no route decodes one, so none accepts it.
    UnsupportedEncoding,
    /// 408: the request body did not arrive within the body read timeout.
    RequestTimeout,
    /// 403: the vault requires enrollment to prove possession of the new key, and the request
    /// carried no proof (the SikkerKey SDKs cannot send one). Not 400: the body is well formed,
    /// the vault's policy refuses it, as with any other 403.
    EnrollmentProofRequired,
    /// 400: an enrollment proof was sent and does not hold (bad encoding, stale timestamp, or
    /// a signature that does not verify); the message says which. Not the uniform 401: the
    /// proof is checked only against the request itself and the clock, never against anything
    /// the server keeps secret, so a precise answer is no oracle, and it is checked before the
    /// token is looked up, so it says nothing about the token.
    EnrollmentProofInvalid,
    /// 400: a new password is too easy to guess; the message is the estimator's advice.
    WeakPassword,
}

impl ErrorCode {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Self::AccessDenied
            | Self::CsrfRefused
            | Self::InviteRefused
            | Self::StepUpRequired
            | Self::SetupClosed
            | Self::PasskeysUnavailable
            | Self::EnrollmentProofRequired => StatusCode::FORBIDDEN,
            Self::AuthenticationFailed => StatusCode::UNAUTHORIZED,
            Self::Conflict | Self::PublicKeyTaken => StatusCode::CONFLICT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::MalformedRequest | Self::EnrollmentProofInvalid | Self::WeakPassword => {
                StatusCode::BAD_REQUEST
            }
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::UnsupportedEncoding => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// The stable code string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "access_denied",
            Self::AuthenticationFailed => "authentication_failed",
            Self::Conflict => "conflict",
            Self::Internal => "internal",
            Self::InviteRefused => "invite_refused",
            Self::MalformedRequest => "malformed_request",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::NotFound => "not_found",
            Self::PayloadTooLarge => "payload_too_large",
            Self::PasskeysUnavailable => "passkeys_unavailable",
            Self::PublicKeyTaken => "public_key_taken",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::CsrfRefused => "csrf_refused",
            Self::StepUpRequired => "step_up_required",
            Self::SetupClosed => "setup_closed",
            Self::UnsupportedEncoding => "unsupported_encoding",
            Self::RequestTimeout => "request_timeout",
            Self::EnrollmentProofRequired => "enrollment_proof_required",
            Self::EnrollmentProofInvalid => "enrollment_proof_invalid",
            Self::WeakPassword => "weak_password",
        }
    }

    /// The fixed message for codes whose message never varies.
    fn default_message(self) -> &'static str {
        match self {
            Self::AccessDenied => "access denied",
            Self::AuthenticationFailed => "authentication failed",
            Self::Conflict => "conflict",
            Self::Internal => "internal error",
            Self::InviteRefused => "invitation refused",
            Self::MalformedRequest => "malformed request",
            Self::MethodNotAllowed => "method not allowed",
            Self::NotFound => "not found",
            Self::PayloadTooLarge => "request body too large",
            Self::PasskeysUnavailable => {
                "passkeys need the server's public URL to be https://<domain> (or http://localhost)"
            }
            Self::PublicKeyTaken => "public key is already registered",
            Self::RateLimited => "too many requests",
            Self::Unavailable => "service temporarily unavailable",
            Self::CsrfRefused => "cross-site request refused",
            Self::StepUpRequired => "confirm with a second factor to continue",
            Self::SetupClosed => "setup is closed",
            Self::UnsupportedEncoding => "content-encoding is not supported; send the body as is",
            Self::RequestTimeout => "request body not received in time",
            Self::EnrollmentProofRequired => {
                "this vault requires enrollment to prove possession of the new key (a `proof` \
                 signed by it, as `signet enroll` sends); SikkerKey SDKs cannot, so enroll with \
                 `signet enroll` or ask an operator to turn the requirement off"
            }
            Self::EnrollmentProofInvalid => "enrollment proof invalid",
            Self::WeakPassword => "password is too easy to guess",
        }
    }
}

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    code: ErrorCode,
    message: Option<String>,
    /// `Retry-After` in seconds, for 429 and 503; `None` means 1 s.
    retry_after_secs: Option<u64>,
}

impl ApiError {
    /// An error with the code's fixed message.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message: None,
            retry_after_secs: None,
        }
    }

    /// A 400 with a specific, safe message.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::MalformedRequest,
            message: Some(message.into()),
            retry_after_secs: None,
        }
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::BadRequest(m) => Self::malformed(m),
            CoreError::Conflict("public_key_taken") => Self::new(ErrorCode::PublicKeyTaken),
            CoreError::Conflict(rule) => Self {
                code: ErrorCode::Conflict,
                message: Some(format!("conflict: {rule}")),
                retry_after_secs: None,
            },
            CoreError::Forbidden => Self::new(ErrorCode::AccessDenied),
            CoreError::InviteRefused => Self::new(ErrorCode::InviteRefused),
            CoreError::NotFound => Self::new(ErrorCode::NotFound),
            CoreError::PasskeysUnavailable => Self::new(ErrorCode::PasskeysUnavailable),
            CoreError::RateLimited => Self::new(ErrorCode::RateLimited),
            CoreError::OverBudget { retry_after_secs } => Self {
                code: ErrorCode::RateLimited,
                message: None,
                retry_after_secs: Some(retry_after_secs.max(1)),
            },
            CoreError::Unauthenticated => Self::new(ErrorCode::AuthenticationFailed),
            CoreError::Unavailable => Self::new(ErrorCode::Unavailable),
            CoreError::StepUpRequired => Self::new(ErrorCode::StepUpRequired),
            CoreError::SetupClosed => Self::new(ErrorCode::SetupClosed),
            CoreError::EnrollmentProofRequired => Self::new(ErrorCode::EnrollmentProofRequired),
            CoreError::EnrollmentProofInvalid(why) => Self {
                code: ErrorCode::EnrollmentProofInvalid,
                message: Some(format!("enrollment proof invalid: {why}")),
                retry_after_secs: None,
            },
            CoreError::WeakPassword(advice) => Self {
                code: ErrorCode::WeakPassword,
                message: Some(format!("password is too easy to guess: {advice}")),
                retry_after_secs: None,
            },
            _ => Self::new(ErrorCode::Internal),
        }
    }
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
            self.code.status(),
            Json(json!({ "error": message, "code": self.code.as_str() })),
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
    use super::*;

    #[test]
    fn codes_are_unique_and_statuses_fixed() {
        let all = [
            ErrorCode::AccessDenied,
            ErrorCode::AuthenticationFailed,
            ErrorCode::Conflict,
            ErrorCode::Internal,
            ErrorCode::InviteRefused,
            ErrorCode::MalformedRequest,
            ErrorCode::MethodNotAllowed,
            ErrorCode::NotFound,
            ErrorCode::PayloadTooLarge,
            ErrorCode::PasskeysUnavailable,
            ErrorCode::PublicKeyTaken,
            ErrorCode::RateLimited,
            ErrorCode::Unavailable,
            ErrorCode::UnsupportedEncoding,
            ErrorCode::RequestTimeout,
            ErrorCode::EnrollmentProofRequired,
            ErrorCode::EnrollmentProofInvalid,
            ErrorCode::WeakPassword,
        ];
        let mut names: Vec<_> = all.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert_eq!(
            ErrorCode::AuthenticationFailed.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(ErrorCode::AccessDenied.status(), StatusCode::FORBIDDEN);
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
