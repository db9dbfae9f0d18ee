//! The table of stable error codes, declared once.
//!
//! Every error answer is `{"error": "<message>", "code": "<code>"}`. Each row of the table below
//! gives a code's variant, its HTTP status, its code string (which never changes once published)
//! and the message it carries when the server has nothing more specific to say. The server, the
//! SDK and the OpenAPI document all read this one table, so a code cannot get a status in one
//! place and another elsewhere. Statuses are plain numbers: this crate has no HTTP dependency.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

/// Declares [`ErrorCode`] from rows of `Variant = (status, "code", "default message");`, each
/// with its doc comment, and generates every lookup from the same rows.
macro_rules! error_codes {
    ($(
        $(#[$doc:meta])*
        $variant:ident = ($status:literal, $code:literal, $message:expr);
    )*) => {
        /// A stable error code, with the HTTP status it always maps to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(Self::$variant,)*];

            /// The HTTP status.
            pub const fn status(self) -> u16 {
                match self {
                    $(Self::$variant => $status,)*
                }
            }

            /// The stable code string.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }

            /// The message an answer carries when nothing more specific is said.
            pub const fn default_message(self) -> &'static str {
                match self {
                    $(Self::$variant => $message,)*
                }
            }

            /// The code a code string names; `None` for a code this table does not know (a newer
            /// server's, say).
            pub fn parse(code: &str) -> Option<Self> {
                match code {
                    $($code => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    /// 403: not allowed (including a secret that does not exist, to a machine).
    AccessDenied = (403, "access_denied", "access denied");
    /// 401: any authentication failure.
    AuthenticationFailed = (401, "authentication_failed", "authentication failed");
    /// 409: the request conflicts with current state.
    Conflict = (409, "conflict", "conflict");
    /// 500: a bug; details only in the log.
    Internal = (500, "internal", "internal error");
    /// 403: an invitation code that is unknown, used, expired or revoked (one answer for all).
    InviteRefused = (403, "invite_refused", "invitation refused");
    /// 400: malformed input; the message says what.
    MalformedRequest = (400, "malformed_request", "malformed request");
    /// 405: method not routed (HEAD, OPTIONS and TRACE never are on the API).
    MethodNotAllowed = (405, "method_not_allowed", "method not allowed");
    /// 404: no such route, or (operators only) no such object.
    NotFound = (404, "not_found", "not found");
    /// 413: body over the route's limit.
    PayloadTooLarge = (413, "payload_too_large", "request body too large");
    /// 403: the server's public URL cannot be a WebAuthn relying party (no domain, or not HTTPS).
    PasskeysUnavailable = (
        403,
        "passkeys_unavailable",
        "passkeys need the server's public URL to be https://<domain> (or http://localhost)"
    );
    /// 409: the public key is already registered.
    PublicKeyTaken = (409, "public_key_taken", "public key is already registered");
    /// 409: a write carried `expectedVersion` and the secret's current version is another one;
    /// nothing was written. The answer's `currentVersion` says which version is current, so the
    /// client can read it again and retry.
    VersionConflict = (
        409,
        "version_conflict",
        "the secret's current version is not the expected one; read it again and retry"
    );
    /// 429: too many requests from this source.
    RateLimited = (429, "rate_limited", "too many requests");
    /// 503: the store or the audit log is down; fail closed.
    Unavailable = (503, "unavailable", "service temporarily unavailable");
    /// 403: a browser request that another site could have made (no CSRF token, foreign
    /// `Origin` or `Sec-Fetch-Site`).
    CsrfRefused = (403, "csrf_refused", "cross-site request refused");
    /// 403: the action needs a second factor given in this session within five minutes.
    StepUpRequired = (403, "step_up_required", "confirm with a second factor to continue");
    /// 403: first-run setup is closed (wrong, expired or spent code, or a user exists).
    SetupClosed = (403, "setup_closed", "setup is closed");
    /// 415: the body carries a `Content-Encoding`; no route decodes one, so none accepts it.
    UnsupportedEncoding = (
        415,
        "unsupported_encoding",
        "content-encoding is not supported; send the body as is"
    );
    /// 408: the request body did not arrive within the body read timeout.
    RequestTimeout = (408, "request_timeout", "request body not received in time");
    /// 403: the vault requires enrollment to prove possession of the new key, and the request
    /// carried no proof (the SikkerKey SDKs cannot send one). Not 400: the body is well formed,
    /// the vault's policy refuses it, as with any other 403.
    EnrollmentProofRequired = (
        403,
        "enrollment_proof_required",
        "this vault requires enrollment to prove possession of the new key (a `proof` \
         signed by it, as `signet enroll` sends); SikkerKey SDKs cannot, so enroll with \
         `signet enroll` or ask an operator to turn the requirement off"
    );
    /// 400: an enrollment proof was sent and does not hold (bad encoding, stale timestamp, or
    /// a signature that does not verify); the message says which. Not the uniform 401: the
    /// proof is checked only against the request itself and the clock, never against anything
    /// the server keeps secret, so a precise answer is no oracle, and it is checked before the
    /// token is looked up, so it says nothing about the token.
    EnrollmentProofInvalid = (400, "enrollment_proof_invalid", "enrollment proof invalid");
    /// 423: a machine request into a frozen project (a canary secret in it was read). The same
    /// body for every request into that project, on every replica, until an administrator
    /// unfreezes it with a fresh second factor. Only a machine that could otherwise use the
    /// project gets it: one without access still gets the uniform 403.
    ProjectFrozen = (
        423,
        "project_frozen",
        "project frozen: a canary secret in it was read; an administrator must unfreeze it"
    );
    /// 400: a new password is too easy to guess; the message is the estimator's advice.
    WeakPassword = (400, "weak_password", "password is too easy to guess");
    /// 403: the vault requires single sign-on: password and passkey sign-in (and accepting an
    /// invitation) are for its break-glass owner only. The sign-in page tells people to use
    /// their SSO provider. Given only after the password and second factor (or passkey) were
    /// right, so it says nothing about an account to whoever does not hold its factors.
    SsoRequired = (
        403,
        "sso_required",
        "this vault requires single sign-on: sign in through your SSO provider"
    );
    /// 409: a root key generation cannot be retired: it is the current one, or stored values
    /// are still wrapped under it (finish the rotation first). Nothing changed.
    KeyGenerationInUse = (
        409,
        "key_generation_in_use",
        "that key generation is current or still wraps stored values"
    );
    /// 409: another rotation of the same project's key finished while this one ran; this one
    /// changed nothing (the project has a new key already).
    ProjectKeyConflict = (
        409,
        "project_key_conflict",
        "another rotation of this project's key finished first; nothing changed"
    );
    /// 400: inside a live browser session, the person's own factor did not match: the current
    /// password of a password change, or a step-up code. Not the uniform 401: the session is
    /// valid (the request was authenticated by it), so nothing is revealed to a stranger and the
    /// dashboard keeps the person signed in. Counted towards the account's lockout and audited.
    WrongFactor = (400, "wrong_factor", "the current password or code is not right");
    /// 400: a step-up code that was right but used already; wait for the next one.
    CodeReused = (
        400,
        "code_reused",
        "that code was used already; wait for the next one"
    );
    /// 400: a secret name that breaks the name rule (1-255 letters, digits and `_-./:@+`, no
    /// whitespace). Refused as sent, never trimmed or rewritten: a machine's environment
    /// variable is derived from the name, and a rewritten one would not be the name asked for.
    InvalidName = (400, "invalid_name", "invalid secret name");
    /// 400: a value written by a person is empty (a standard secret's value, or a structured
    /// field's); the message names the field. Generated values are never empty.
    EmptyValue = (400, "empty_value", "a value may not be empty");
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code string the table does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownErrorCode;

impl fmt::Display for UnknownErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown error code")
    }
}

impl std::error::Error for UnknownErrorCode {}

impl std::str::FromStr for ErrorCode {
    type Err = UnknownErrorCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or(UnknownErrorCode)
    }
}

// By hand rather than derived: the code strings come from the table, not from variant names.
impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Strict: a code the table does not know is an error. A client that must survive a newer
/// server's codes reads the string and calls [`ErrorCode::parse`].
impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = Cow::<'de, str>::deserialize(deserializer)?;
        Self::parse(&code)
            .ok_or_else(|| serde::de::Error::custom(format_args!("unknown error code `{code}`")))
    }
}

impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .description(Some(
                "A stable error code; never changes once published. Clients should treat a \
                 code they do not know by the answer's HTTP status.",
            ))
            .enum_values(Some(Self::ALL.iter().map(|c| c.as_str())))
            .into()
    }
}

impl ToSchema for ErrorCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_code_is_unique_and_parses_back() {
        let strings: HashSet<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(strings.len(), ErrorCode::ALL.len());
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
            assert!(
                code.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
            assert!((400..600).contains(&code.status()), "{code}");
            assert!(!code.default_message().is_empty(), "{code}");
        }
        assert_eq!(ErrorCode::parse("forbidden"), None);
    }

    #[test]
    fn statuses_are_fixed() {
        assert_eq!(ErrorCode::AuthenticationFailed.status(), 401);
        assert_eq!(ErrorCode::AccessDenied.status(), 403);
        assert_eq!(ErrorCode::PublicKeyTaken.status(), 409);
        assert_eq!(ErrorCode::Internal.status(), 500);
        assert_eq!(ErrorCode::Unavailable.status(), 503);
    }

    #[test]
    fn codes_travel_as_their_strings() {
        let json = serde_json::to_string(&ErrorCode::StepUpRequired).unwrap();
        assert_eq!(json, r#""step_up_required""#);
        let back: ErrorCode = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ErrorCode::StepUpRequired);
        assert!(serde_json::from_str::<ErrorCode>(r#""no_such_code""#).is_err());
    }
}
