//! The signed request: `METHOD:path:timestamp:nonce:sha256hex(body)`.
//!
//! Each part is parsed from exactly what was received and rejected when it is not already in its
//! one canonical form. Nothing is normalised: a request that a proxy or client rewrote fails
//! rather than being "fixed" into something its signer never signed.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _};
use sha2::{Digest, Sha256};

use crate::key::{PublicKey, SecretSeed};

/// Header carrying a machine's id on machine routes.
pub const HEADER_MACHINE_ID: &str = "x-machine-id";
/// Header carrying an operator's id on admin routes.
pub const HEADER_OPERATOR_ID: &str = "x-operator-id";
/// Header carrying the decimal Unix-seconds timestamp.
pub const HEADER_TIMESTAMP: &str = "x-timestamp";
/// Header carrying the single-use nonce.
pub const HEADER_NONCE: &str = "x-nonce";
/// Header carrying the base64 Ed25519 signature.
pub const HEADER_SIGNATURE: &str = "x-signature";
/// How far, in seconds, a request's timestamp may be from the server's clock either way.
pub const CLOCK_WINDOW_SECS: i64 = 300;

/// Why a request's signed parts were refused. The server maps every variant except the two
/// malformed-path ones to one uniform 401; it never tells a client which check failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The signature did not verify under the principal's key.
    #[error("bad signature")]
    BadSignature,
    /// The method is not an upper-case token.
    #[error("malformed method")]
    Method,
    /// The nonce is not 16 to 64 characters of `[A-Za-z0-9+/=_-]`.
    #[error("malformed nonce")]
    Nonce,
    /// The request target is not a canonical origin-form path (`docs/protocol.md` §4). Refused:
    ///
    /// - a target that does not start with `/` (absolute-form, `*`, empty);
    /// - an empty segment (`//`), including an empty last one (a trailing slash; `/` alone is
    ///   fine);
    /// - a `.` or `..` segment;
    /// - `%` not followed by two hex digits;
    /// - percent-encoding with lower-case hex (`%c3`);
    /// - an encoded `/` (`%2F`) or `%` (`%25`);
    /// - an encoded unreserved character: letter, digit, `-`, `.`, `_`, `~` (`%73`, `%2E`);
    /// - an encoded control character, `%00` to `%1F` or `%7F`;
    /// - encoded octets of a segment that do not decode to UTF-8 (`%FF`, the overlong `%C0%AF`);
    /// - any raw byte outside the `pchar` set of RFC 3986 (unreserved, `!$&'()*+,;=`, `:`, `@`):
    ///   a space, `\`, `#`, `"`, controls, raw non-ASCII.
    ///
    /// Encoded reserved characters (`%3A`), encoded spaces and encoded UTF-8 are accepted as sent.
    /// A `?` anywhere is [`ProtocolError::QueryString`] instead.
    #[error("non-canonical path")]
    NonCanonicalPath,
    /// A query string on a signed route: signed routes take none.
    #[error("query string on a signed route")]
    QueryString,
    /// The signature is not standard padded base64 of 64 bytes.
    #[error("malformed signature")]
    Signature,
    /// The timestamp is not decimal seconds without sign or leading zeros.
    #[error("malformed timestamp")]
    Timestamp,
    /// The timestamp is more than [`CLOCK_WINDOW_SECS`] from the server's clock.
    #[error("timestamp outside the window")]
    Window,
}

impl ProtocolError {
    /// True for the errors that make the request itself malformed (400) rather than
    /// unauthenticated (401).
    pub fn is_malformed_request(self) -> bool {
        matches!(self, Self::NonCanonicalPath | Self::QueryString)
    }
}

/// An HTTP method as signed: one to sixteen upper-case ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method(String);

impl Method {
    /// Parses the method exactly as sent.
    pub fn parse(s: &str) -> Result<Self, ProtocolError> {
        if (1..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ProtocolError::Method)
        }
    }

    /// The method text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A request path that is already canonical. Parsing is the only way to build one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalPath(String);

impl CanonicalPath {
    /// Parses the raw request target (path plus any query) exactly as received.
    pub fn parse(target: &str) -> Result<Self, ProtocolError> {
        if target.contains('?') {
            return Err(ProtocolError::QueryString);
        }
        let Some(rest) = target.strip_prefix('/') else {
            return Err(ProtocolError::NonCanonicalPath);
        };
        if rest.is_empty() {
            return Ok(Self("/".to_owned()));
        }
        for segment in rest.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(ProtocolError::NonCanonicalPath);
            }
            check_segment(segment)?;
        }
        Ok(Self(target.to_owned()))
    }

    /// The path text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks the bytes of one non-empty segment (see [`ProtocolError::NonCanonicalPath`]).
fn check_segment(segment: &str) -> Result<(), ProtocolError> {
    let bytes = segment.as_bytes();
    // The segment with its escapes decoded, to check that encoded octets form UTF-8.
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or(ProtocolError::NonCanonicalPath)?;
            // RFC 3986 spells percent-encoding with upper-case hex; lower case is a second
            // spelling of the same path.
            if !hex
                .iter()
                .all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(h))
            {
                return Err(ProtocolError::NonCanonicalPath);
            }
            let octet = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(ProtocolError::NonCanonicalPath)?;
            // An encoded separator, percent or unreserved character would let two spellings
            // name one resource (or smuggle a segment past a router). An encoded control
            // character (NUL, CR, LF, DEL, ...) has no place in a resource name and is a classic
            // way to cut or split a path, a log line or a header once something decodes it.
            let refused = matches!(octet, b'/' | b'%' | b'.' | b'-' | b'_' | b'~')
                || octet.is_ascii_alphanumeric()
                || octet.is_ascii_control();
            if refused {
                return Err(ProtocolError::NonCanonicalPath);
            }
            decoded.push(octet);
            i += 3;
            continue;
        }
        // `pchar` of RFC 3986 without `pct-encoded`: unreserved, sub-delims, `:` and `@`.
        let allowed = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b);
        if !allowed {
            return Err(ProtocolError::NonCanonicalPath);
        }
        decoded.push(b);
        i += 1;
    }
    // Encoded octets >= 0x80 are how UTF-8 travels, so they are allowed, but only as UTF-8: a
    // stray `%FF` names nothing, and an overlong form such as `%C0%AF` is `/` in disguise to a
    // lenient decoder.
    if std::str::from_utf8(&decoded).is_err() {
        return Err(ProtocolError::NonCanonicalPath);
    }
    Ok(())
}

/// A timestamp in decimal Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Parses decimal digits with no sign, no leading zeros, at most 12 digits.
    pub fn parse(s: &str) -> Result<Self, ProtocolError> {
        let digits_ok = !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok || (s.len() > 1 && s.starts_with('0')) {
            return Err(ProtocolError::Timestamp);
        }
        s.parse().map(Self).map_err(|_| ProtocolError::Timestamp)
    }

    /// From seconds.
    pub fn from_secs(secs: i64) -> Self {
        Self(secs)
    }

    /// Seconds since the Unix epoch.
    pub fn secs(self) -> i64 {
        self.0
    }

    /// Whether this timestamp is within [`CLOCK_WINDOW_SECS`] of `now_secs`, inclusive.
    pub fn check_window(self, now_secs: i64) -> Result<(), ProtocolError> {
        if (now_secs - self.0).abs() <= CLOCK_WINDOW_SECS {
            Ok(())
        } else {
            Err(ProtocolError::Window)
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An opaque single-use nonce: 16 to 64 characters of `[A-Za-z0-9+/=_-]`. SDKs send 24
/// characters of base64; some clients send 32 hex digits. It is never decoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nonce(String);

impl Nonce {
    /// Parses the header value.
    pub fn parse(s: &str) -> Result<Self, ProtocolError> {
        let ok = (16..=64).contains(&s.len())
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-')
            });
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ProtocolError::Nonce)
        }
    }

    /// A fresh nonce in the SDKs' form: 16 OS-random bytes, standard base64.
    pub fn generate() -> Self {
        let mut raw = [0u8; 16];
        // A nonce from anything but the OS RNG could repeat; there is no safe fallback.
        #[allow(clippy::expect_used)]
        getrandom::fill(&mut raw).expect("the OS random number generator failed");
        Self(STANDARD.encode(raw))
    }

    /// The nonce text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A decoded signature header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureB64(Signature);

impl SignatureB64 {
    /// Decodes standard padded base64 of exactly 64 bytes; anything looser is refused.
    pub fn parse(s: &str) -> Result<Self, ProtocolError> {
        let raw = STANDARD.decode(s).map_err(|_| ProtocolError::Signature)?;
        let bytes: [u8; 64] = raw.try_into().map_err(|_| ProtocolError::Signature)?;
        Ok(Self(Signature::from_bytes(&bytes)))
    }

    /// The header value.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.to_bytes())
    }

    /// The raw 64 bytes, as the audit log keeps them.
    pub fn to_bytes(&self) -> [u8; 64] {
        self.0.to_bytes()
    }

    /// From raw bytes (as the audit log keeps them).
    pub fn from_bytes(bytes: &[u8; 64]) -> Self {
        Self(Signature::from_bytes(bytes))
    }
}

impl From<Signature> for SignatureB64 {
    fn from(sig: Signature) -> Self {
        Self(sig)
    }
}

/// Lower-case hex SHA-256 of the exact body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyHash(String);

impl BodyHash {
    /// Hashes a body; an empty body hashes the empty string.
    pub fn of(body: &[u8]) -> Self {
        Self::from_digest(&Sha256::digest(body).into())
    }

    /// From a SHA-256 already computed (a body hashed once, or one kept by the audit log).
    pub fn from_digest(digest: &[u8; 32]) -> Self {
        Self(hex::encode(digest))
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Builds the exact string that is signed.
pub fn signing_string(
    method: &Method,
    path: &CanonicalPath,
    ts: Timestamp,
    nonce: &Nonce,
    body: &BodyHash,
) -> String {
    format!(
        "{}:{}:{}:{}:{}",
        method.as_str(),
        path.as_str(),
        ts.secs(),
        nonce.as_str(),
        body.as_str()
    )
}

/// Checks a signature over the signing string with `verify_strict`, which also refuses
/// small-order keys and non-canonical signatures.
pub fn verify(
    key: &ed25519_dalek::VerifyingKey,
    signing_string: &str,
    signature: &SignatureB64,
) -> Result<(), ProtocolError> {
    key.verify_strict(signing_string.as_bytes(), &signature.0)
        .map_err(|_| ProtocolError::BadSignature)
}

/// The four authentication headers of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// The signing string, kept for vectors and debugging of clients (never secret).
    pub signing_string: String,
    /// `X-Timestamp`.
    pub timestamp: String,
    /// `X-Nonce`.
    pub nonce: String,
    /// `X-Signature`.
    pub signature: String,
}

impl SignedHeaders {
    /// Signs one request. `path` must be the exact path the client will send.
    pub fn sign(
        seed: &SecretSeed,
        method: &Method,
        path: &CanonicalPath,
        body: &[u8],
        ts: Timestamp,
        nonce: &Nonce,
    ) -> Self {
        let s = signing_string(method, path, ts, nonce, &BodyHash::of(body));
        let sig = seed.signing_key().sign(s.as_bytes());
        Self {
            timestamp: ts.to_string(),
            nonce: nonce.as_str().to_owned(),
            signature: SignatureB64(sig).to_base64(),
            signing_string: s,
        }
    }
}

/// Verifies `headers` against `key` for a request with this method, path and body.
pub fn verify_request(
    key: &PublicKey,
    method: &Method,
    path: &CanonicalPath,
    body: &[u8],
    ts: Timestamp,
    nonce: &Nonce,
    sig: &SignatureB64,
) -> Result<(), ProtocolError> {
    let s = signing_string(method, path, ts, nonce, &BodyHash::of(body));
    let vk = key
        .verifying_key()
        .map_err(|_| ProtocolError::BadSignature)?;
    verify(&vk, &s, sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths() {
        for ok in [
            "/v1/secret/sk_a1b2c3d4e5",
            "/v1/secrets",
            "/",
            "/v1/a%20b",
            "/v1/a:b",
            "/v1/a%3Ab",
            "/v1/caf%C3%A9",
            "/v1/%E2%82%AC",
            "/v1/%F0%9F%94%91",
            "/v1/%C2%80",
        ] {
            assert!(CanonicalPath::parse(ok).is_ok(), "{ok}");
        }
        let cases = [
            ("/v1/secrets?x=1", ProtocolError::QueryString),
            ("/v1/secrets?", ProtocolError::QueryString),
            ("/v1//secrets", ProtocolError::NonCanonicalPath),
            ("/v1/./secrets", ProtocolError::NonCanonicalPath),
            ("/v1/../secrets", ProtocolError::NonCanonicalPath),
            ("/v1/secrets/", ProtocolError::NonCanonicalPath),
            ("/v1/secret%2Fsk_x", ProtocolError::NonCanonicalPath),
            ("/v1/secret%2fsk_x", ProtocolError::NonCanonicalPath),
            ("/v1/%2E%2E/x", ProtocolError::NonCanonicalPath),
            ("/v1/%25", ProtocolError::NonCanonicalPath),
            ("/v1/%73ecrets", ProtocolError::NonCanonicalPath),
            ("/v1/%zz", ProtocolError::NonCanonicalPath),
            ("/v1/%2", ProtocolError::NonCanonicalPath),
            ("v1/secrets", ProtocolError::NonCanonicalPath),
            ("", ProtocolError::NonCanonicalPath),
            ("/v1/sec rets", ProtocolError::NonCanonicalPath),
            ("/v1/séc", ProtocolError::NonCanonicalPath),
            ("/v1\\secrets", ProtocolError::NonCanonicalPath),
            ("/v1/sec\u{0}rets", ProtocolError::NonCanonicalPath),
            ("/v1/sec\trets", ProtocolError::NonCanonicalPath),
            ("/v1/a#b", ProtocolError::NonCanonicalPath),
            ("/v1/a\"b", ProtocolError::NonCanonicalPath),
            // Encoded controls: every one of %00-%1F and %7F is refused (all 33 below).
            ("/v1/sk_%00", ProtocolError::NonCanonicalPath),
            ("/v1/sk_%0A", ProtocolError::NonCanonicalPath),
            ("/v1/sk_%0D%0A", ProtocolError::NonCanonicalPath),
            ("/v1/sk_%1F", ProtocolError::NonCanonicalPath),
            ("/v1/sk_%7F", ProtocolError::NonCanonicalPath),
            // Encoded octets that are not UTF-8.
            ("/v1/sk_%FF", ProtocolError::NonCanonicalPath),
            ("/v1/sk_%80", ProtocolError::NonCanonicalPath),
            ("/v1/caf%C3", ProtocolError::NonCanonicalPath),
            ("/v1/caf%C3/%A9", ProtocolError::NonCanonicalPath),
            ("/v1/%C0%AF", ProtocolError::NonCanonicalPath),
            ("/v1/%C0%AE%C0%AE", ProtocolError::NonCanonicalPath),
            ("/v1/%ED%A0%80", ProtocolError::NonCanonicalPath),
        ];
        for (bad, want) in cases {
            assert_eq!(CanonicalPath::parse(bad), Err(want), "{bad:?}");
        }
        for octet in (0x00..=0x1f).chain([0x7f]) {
            let path = format!("/v1/sk_%{octet:02X}x");
            assert_eq!(
                CanonicalPath::parse(&path),
                Err(ProtocolError::NonCanonicalPath),
                "{path}"
            );
        }
        // Every other encoded ASCII octet that is neither unreserved nor `/` or `%` is accepted.
        for octet in 0x20..0x7fu8 {
            let path = format!("/v1/sk_%{octet:02X}x");
            let refused = octet.is_ascii_alphanumeric() || b"/%.-_~".contains(&octet);
            assert_eq!(CanonicalPath::parse(&path).is_err(), refused, "{path}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(Timestamp::parse("1711468800"), Ok(Timestamp(1711468800)));
        assert_eq!(Timestamp::parse("0"), Ok(Timestamp(0)));
        for bad in [
            "",
            "-1",
            "+1",
            "01711468800",
            "1711468800000000",
            "17114688e0",
            " 1",
            "1.0",
        ] {
            assert_eq!(
                Timestamp::parse(bad),
                Err(ProtocolError::Timestamp),
                "{bad}"
            );
        }
        let t = Timestamp(1000);
        assert!(t.check_window(1300).is_ok());
        assert!(t.check_window(700).is_ok());
        assert_eq!(t.check_window(1301), Err(ProtocolError::Window));
        assert_eq!(t.check_window(699), Err(ProtocolError::Window));
    }

    #[test]
    fn nonces() {
        assert!(Nonce::parse("AAAAAAAAAAAAAAAAAAAAAA==").is_ok());
        assert!(Nonce::parse("0123456789abcdef0123456789abcdef").is_ok());
        assert!(Nonce::parse(&"a".repeat(64)).is_ok());
        for bad in [
            "short",
            &"a".repeat(65),
            "aaaaaaaaaaaaaaa:a",
            "aaaaaaaaaaaaaaaa aa",
            "aaaaaaaaaaaaaaaaé",
        ] {
            assert_eq!(Nonce::parse(bad), Err(ProtocolError::Nonce), "{bad}");
        }
        let n = Nonce::generate();
        assert_eq!(n.as_str().len(), 24);
        assert!(Nonce::parse(n.as_str()).is_ok());
    }

    #[test]
    fn sign_then_verify_and_tamper() {
        let seed = SecretSeed::from_bytes([1; 32]);
        let pk = seed.public_key();
        let m = Method::parse("GET").unwrap();
        let p = CanonicalPath::parse("/v1/secret/sk_a1b2c3d4e5").unwrap();
        let ts = Timestamp(1711468800);
        let n = Nonce::parse("AAAAAAAAAAAAAAAAAAAAAA==").unwrap();
        let h = SignedHeaders::sign(&seed, &m, &p, b"", ts, &n);
        assert_eq!(
            h.signing_string,
            "GET:/v1/secret/sk_a1b2c3d4e5:1711468800:AAAAAAAAAAAAAAAAAAAAAA==:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sig = SignatureB64::parse(&h.signature).unwrap();
        assert!(verify_request(&pk, &m, &p, b"", ts, &n, &sig).is_ok());
        let post = Method::parse("POST").unwrap();
        assert_eq!(
            verify_request(&pk, &post, &p, b"", ts, &n, &sig),
            Err(ProtocolError::BadSignature)
        );
        assert_eq!(
            verify_request(&pk, &m, &p, b"x", ts, &n, &sig),
            Err(ProtocolError::BadSignature)
        );
        assert_eq!(
            verify_request(&pk, &m, &p, b"", Timestamp(1711468801), &n, &sig),
            Err(ProtocolError::BadSignature)
        );
        let other = SecretSeed::from_bytes([2; 32]).public_key();
        assert_eq!(
            verify_request(&other, &m, &p, b"", ts, &n, &sig),
            Err(ProtocolError::BadSignature)
        );
    }

    #[test]
    fn signature_decoding_is_strict() {
        let seed = SecretSeed::from_bytes([1; 32]);
        let h = SignedHeaders::sign(
            &seed,
            &Method::parse("GET").unwrap(),
            &CanonicalPath::parse("/").unwrap(),
            b"",
            Timestamp(1),
            &Nonce::generate(),
        );
        assert!(SignatureB64::parse(&h.signature).is_ok());
        assert_eq!(
            SignatureB64::parse(h.signature.trim_end_matches('=')),
            Err(ProtocolError::Signature)
        );
        let url_safe = h.signature.replace('+', "-").replace('/', "_");
        if url_safe != h.signature {
            assert_eq!(
                SignatureB64::parse(&url_safe),
                Err(ProtocolError::Signature)
            );
        }
        assert_eq!(SignatureB64::parse("AAAA"), Err(ProtocolError::Signature));
    }
}
