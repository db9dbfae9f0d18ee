//! The one error type of the SDK, and the classification of HTTP error statuses.

use std::path::PathBuf;

pub use signet_api::error::ErrorCode;

/// What kind of refusal an HTTP error status is. The SikkerKey SDKs raise one exception class
/// per status; this enum is the Rust equivalent, so callers can match on the kind without
/// remembering numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpErrorKind {
    /// 400: the request was malformed (bad JSON, non-canonical path, query string...).
    BadRequest,
    /// 409: the request conflicts with the current state (e.g. a public key already taken).
    Conflict,
    /// 403: not allowed, including a secret that does not exist.
    Forbidden,
    /// 404: unknown route.
    NotFound,
    /// Any status without a kind of its own (500, 413, an unexpected 2xx or 3xx...).
    Other,
    /// 413: the body is larger than the route accepts.
    PayloadTooLarge,
    /// 423: the project is frozen (`project_frozen`: a canary secret in it was read). Not
    /// retried: nothing changes until an administrator unfreezes it.
    Locked,
    /// 429: rate limited; the SDK retried before giving up.
    RateLimited,
    /// 401: the signature, timestamp, nonce or principal was refused. The server gives one
    /// uniform answer on purpose, so this does not say which check failed.
    Unauthenticated,
    /// 503: a fail-closed dependency (store or audit log) is down; the SDK retried first.
    Unavailable,
}

impl HttpErrorKind {
    /// Classifies a status code.
    pub fn from_status(status: u16) -> Self {
        match status {
            400 => Self::BadRequest,
            401 => Self::Unauthenticated,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            409 => Self::Conflict,
            413 => Self::PayloadTooLarge,
            423 => Self::Locked,
            429 => Self::RateLimited,
            503 => Self::Unavailable,
            _ => Self::Other,
        }
    }
}

/// Why an identity or key file could not be found, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityFileError {
    /// Neither `SIGNET_HOME` nor a home directory is set, so there is nowhere to look.
    #[error("cannot find a home directory; set SIGNET_HOME")]
    NoHome,
    /// A read, write, rename or permission change failed.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done ("cannot read", "cannot create"...).
        action: &'static str,
        /// The file or folder involved.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// `identity.json` is not the JSON shape of an identity file.
    #[error("{} is not a valid identity file", path.display())]
    Malformed {
        /// The identity file.
        path: PathBuf,
    },
    /// The identity's `apiUrl` would send signed requests in the clear to another host, or is
    /// not a bare origin as the one URL parser writes it.
    #[error("{}: {reason}", path.display())]
    InsecureUrl {
        /// The identity file.
        path: PathBuf,
        /// Which rule it breaks.
        reason: signet_proto::IdentityError,
    },
    /// The private key file is not a PKCS#8 Ed25519 PEM.
    #[error("{} is not a PKCS#8 Ed25519 private key", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
    },
    /// The private key file can be read or written by other users. Like OpenSSH, the SDK
    /// refuses such a key rather than warn: a warning from a library is easy to miss, and a
    /// leaked machine key is a leaked set of secrets.
    #[error("{} is accessible by other users (mode {mode:04o}); run `chmod 600 {}`", path.display(), path.display())]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// No identity was given and the identity folder holds none.
    #[error("no identity found in {}; enroll first, or pass the identity file's path", dir.display())]
    NotFound {
        /// The folder that was searched.
        dir: PathBuf,
    },
    /// No identity was given and the identity folder holds more than one.
    #[error("several identities in {} ({}); choose one by path", dir.display(), names.join(", "))]
    Ambiguous {
        /// The folder that was searched.
        dir: PathBuf,
        /// The vault folders found there.
        names: Vec<String>,
    },
}

/// Everything that can go wrong in the SDK.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The private CA file (`SIGNET_CACERT`, or the one set by [`crate::trust_ca_file`])
    /// cannot be read or holds no PEM certificate.
    #[error("cannot use the CA certificates in {}: {reason}", path.display())]
    CaCertificate {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A 2xx response whose body is not the JSON the contract promises.
    #[error("unexpected response from the server: {what}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// The parser's complaint, when there was one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The fingerprint the server computed from the public key it received differs from the
    /// local one: the key was altered in transit, so the enrollment must not be trusted.
    #[error("the server reported fingerprint {server}, but the local key's is {local}")]
    FingerprintMismatch {
        /// The fingerprint of the key that was sent.
        local: String,
        /// The fingerprint the server answered with.
        server: String,
    },
    /// The server answered with an error status (anything but 200 on a signed route, or a
    /// non-2xx status on enrollment). `message` is the server's `error` text, which is safe
    /// to show to a user.
    #[error("{message}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The status's classification.
        kind: HttpErrorKind,
        /// The server's stable error code (`code`), when the body had one, as sent; see
        /// [`ClientError::error_code`] for it decoded.
        code: Option<String>,
        /// The server's `error` message, or a description of the status when there was none.
        message: String,
        /// The body's `currentVersion`: on a `version_conflict`, the secret's current version,
        /// to read again and retry from; `None` on every other error.
        current_version: Option<u32>,
    },
    /// An identity or key file could not be found, read or written.
    #[error(transparent)]
    Identity(#[from] IdentityFileError),
    /// `signet login --sso` could not listen on, or accept from, its loopback address.
    #[error("cannot listen for the sign-in's redirect on 127.0.0.1")]
    Loopback(#[source] std::io::Error),
    /// A server URL is neither https:// nor http:// to a loopback host.
    #[error("{url}: the server URL must be https://, or http:// to a loopback host")]
    InsecureUrl {
        /// The refused URL.
        url: String,
    },
    /// A URL that is not written as the one URL parser reads it, or not of the form asked for
    /// (`signet_proto::web_url`): it is refused rather than rewritten.
    #[error("{url:?}: the server URL {why}")]
    MalformedUrl {
        /// The refused URL.
        url: String,
        /// What is wrong with it, and what to write instead when that is known.
        why: signet_proto::web_url::UrlError,
    },
    /// A request that cannot be put on the wire: an invalid method, URL or header.
    #[error("cannot build the request: invalid {what}")]
    InvalidRequest {
        /// The part that was invalid.
        what: &'static str,
    },
    /// A structured-secret operation on a secret whose value is not a JSON object of strings.
    #[error("secret {secret} is not a structured secret")]
    NotStructured {
        /// The secret's id.
        secret: String,
    },
    /// The request could not be built: a non-canonical path, a malformed method or nonce.
    #[error("cannot build the request: {0}")]
    Protocol(#[from] signet_proto::ProtocolError),
    /// The server could not be reached, or the connection failed or timed out.
    #[error("cannot reach the server")]
    Transport {
        /// True when no connection was made, so the request certainly never reached the server.
        connect: bool,
        /// The underlying network error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ClientError {
    /// The HTTP status, for an [`ClientError::Http`] error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's stable error code of an [`ClientError::Http`] error, decoded with the same
    /// table the server answers from. `None` for another kind of error, a body without a code,
    /// or a code this SDK does not know (a newer server's): match on [`ClientError::http_kind`]
    /// then.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Self::Http {
                code: Some(code), ..
            } => ErrorCode::parse(code),
            _ => None,
        }
    }

    /// The secret's current version that a `409 version_conflict` answer names (a
    /// check-and-set write expected another one); `None` for any other error.
    pub fn current_version(&self) -> Option<u32> {
        match self {
            Self::Http {
                current_version, ..
            } => *current_version,
            _ => None,
        }
    }

    /// The classification of an [`ClientError::Http`] error.
    pub fn http_kind(&self) -> Option<HttpErrorKind> {
        match self {
            Self::Http { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Builds the error for a non-success response from its status and body. The body is
    /// `{"error","code"}` by contract; anything else is shown as (sanitised, shortened) text so a
    /// proxy's HTML error page still gives the user a clue.
    pub(crate) fn from_response(status: u16, body: &[u8]) -> Self {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct ErrorBody {
            error: Option<String>,
            code: Option<String>,
            current_version: Option<u32>,
        }
        let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
        let (message, code, current_version) = match parsed {
            Some(ErrorBody {
                error: Some(error),
                code,
                current_version,
            }) if !error.is_empty() => (error, code, current_version),
            Some(ErrorBody {
                code,
                current_version,
                ..
            }) => (fallback_message(status, body), code, current_version),
            None => (fallback_message(status, body), None, None),
        };
        Self::Http {
            status,
            kind: HttpErrorKind::from_status(status),
            code,
            message: one_line(&message),
            current_version,
        }
    }

    pub(crate) fn transport(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Transport {
            connect: false,
            source: Box::new(source),
        }
    }

    pub(crate) fn decode(
        what: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Decode {
            what,
            source: Some(Box::new(source)),
        }
    }
}

/// The message for an error body without an `error` field: its text, else the status.
fn fallback_message(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() || text.starts_with('{') {
        format!("HTTP {status}")
    } else {
        let short: String = text.chars().take(200).collect();
        format!("HTTP {status}: {short}")
    }
}

/// Collapses control characters so that a server message prints as one line and cannot move
/// the cursor of the terminal it is printed on.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn error_body_message_and_code_are_used() {
        let e = ClientError::from_response(403, br#"{"error":"access denied","code":"forbidden"}"#);
        match e {
            ClientError::Http {
                status,
                kind,
                code,
                message,
                current_version,
            } => {
                assert_eq!((status, kind), (403, HttpErrorKind::Forbidden));
                assert_eq!(code.as_deref(), Some("forbidden"));
                assert_eq!(message, "access denied");
                assert_eq!(current_version, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn codes_decode_with_the_servers_table() {
        let e = ClientError::from_response(
            409,
            br#"{"error":"public key is already registered","code":"public_key_taken"}"#,
        );
        assert_eq!(e.error_code(), Some(ErrorCode::PublicKeyTaken));
        assert_eq!(e.error_code().map(ErrorCode::status), e.status());
        assert_eq!(e.current_version(), None);
        let e = ClientError::from_response(
            409,
            br#"{"error":"the secret is at version 4","code":"version_conflict","currentVersion":4}"#,
        );
        assert_eq!(e.error_code(), Some(ErrorCode::VersionConflict));
        assert_eq!(e.current_version(), Some(4));
        assert_eq!(e.to_string(), "the secret is at version 4");
        // A code from a newer server is kept as sent, and decodes to nothing.
        let e = ClientError::from_response(403, br#"{"error":"no","code":"forbidden"}"#);
        assert_eq!(e.error_code(), None);
        assert_eq!(ClientError::from_response(404, b"").error_code(), None);
    }

    #[test]
    fn non_json_bodies_fall_back_to_text_or_status() {
        let e = ClientError::from_response(502, b"Bad Gateway\n<html>");
        assert_eq!(e.to_string(), "HTTP 502: Bad Gateway <html>");
        assert_eq!(ClientError::from_response(404, b"").to_string(), "HTTP 404");
        assert_eq!(
            ClientError::from_response(401, br#"{"code":"x"}"#).to_string(),
            "HTTP 401"
        );
        assert_eq!(
            ClientError::from_response(429, b"").http_kind(),
            Some(HttpErrorKind::RateLimited)
        );
        assert_eq!(
            ClientError::from_response(503, b"").http_kind(),
            Some(HttpErrorKind::Unavailable)
        );
        assert_eq!(
            ClientError::from_response(409, b"").http_kind(),
            Some(HttpErrorKind::Conflict)
        );
        assert_eq!(
            ClientError::from_response(401, b"").http_kind(),
            Some(HttpErrorKind::Unauthenticated)
        );
    }
}
