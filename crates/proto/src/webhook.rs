//! Webhook deliveries' signature profile: RFC 9421 HTTP Message Signatures with Ed25519 over
//! an RFC 9530 `Content-Digest`, signed with the vault's webhook key.
//!
//! A delivery is `POST <url>` with a JSON body and these headers:
//!
//! ```text
//! Content-Type: application/json
//! Content-Digest: sha-256=:<standard base64 of SHA-256(body)>:
//! Signet-Delivery-Id: <uuid, the same on every retry>
//! Signature-Input: signet=("@method" "@target-uri" "content-digest" "content-type" "signet-delivery-id");created=<unix s>;keyid="<kid>";alg="ed25519";tag="signet-webhook"
//! Signature: signet=:<standard base64 of the 64-byte Ed25519 signature>:
//! ```
//!
//! The signature base is RFC 9421 §2.5's, one line per covered component and the
//! `@signature-params` line last, joined by `\n` with no trailing newline:
//!
//! ```text
//! "@method": POST
//! "@target-uri": https://hooks.example.com/signet
//! "content-digest": sha-256=:...:
//! "content-type": application/json
//! "signet-delivery-id": 0b7c...
//! "@signature-params": ("@method" ... "signet-delivery-id");created=...;keyid="...";alg="ed25519";tag="signet-webhook"
//! ```
//!
//! `keyid` is the RFC 7638 JWK thumbprint of the public key, which the server publishes as a
//! JWKS (`GET /.well-known/signet/webhook-keys`). A verifier recomputes the digest from the
//! body it received, rebuilds the base from the request as it received it, checks the
//! signature with `verify_strict`, requires every component above to be covered, the tag, the
//! algorithm, and `created` within a window, and drops delivery ids it has seen (replay).
//! Everything here is pure: the caller passes the clock and the keys.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::key::PublicKey;

/// The signature's label in `Signature-Input` and `Signature`.
pub const SIGNATURE_LABEL: &str = "signet";
/// The application tag every Signet webhook signature carries (RFC 9421 §2.3 `tag`).
pub const SIGNATURE_TAG: &str = "signet-webhook";
/// The algorithm name the signature parameters carry.
pub const SIGNATURE_ALG: &str = "ed25519";
/// The delivery id header (lower case, as a covered component is named).
pub const HEADER_DELIVERY_ID: &str = "signet-delivery-id";
/// The body's media type.
pub const CONTENT_TYPE: &str = "application/json";
/// The components every signature covers, in this order; a verifier requires all of them.
pub const COVERED: [&str; 5] = [
    "@method",
    "@target-uri",
    "content-digest",
    "content-type",
    HEADER_DELIVERY_ID,
];
/// How old a signature's `created` may be by default when a delivery is verified: 5 minutes,
/// like signed requests' window.
pub const DEFAULT_MAX_AGE_SECS: i64 = 300;
/// How far in the future `created` may be (clock skew).
pub const MAX_SKEW_SECS: i64 = 60;

/// The vault's webhook signing key (an Ed25519 seed derived from the root key).
pub struct WebhookKey {
    signing: SigningKey,
}

impl std::fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookKey")
            .field("kid", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl WebhookKey {
    /// The key with this 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// The raw public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The `keyid` signatures name: the public key's RFC 7638 thumbprint.
    pub fn key_id(&self) -> String {
        key_id(&self.public_key())
    }

    /// Signs a delivery of `body` to `target_uri` made at `created` (Unix seconds): the
    /// headers to send besides `Content-Type`.
    pub fn sign(
        &self,
        target_uri: &str,
        body: &[u8],
        delivery_id: &str,
        created: i64,
    ) -> SignedDelivery {
        let digest = content_digest(body);
        let params = signature_params(&COVERED, created, &self.key_id());
        let base = signature_base(
            &[
                ("@method", "POST"),
                ("@target-uri", target_uri),
                ("content-digest", &digest),
                ("content-type", CONTENT_TYPE),
                (HEADER_DELIVERY_ID, delivery_id),
            ],
            &params,
        );
        let sig = self.signing.sign(base.as_bytes());
        SignedDelivery {
            content_digest: digest,
            signature_input: format!("{SIGNATURE_LABEL}={params}"),
            signature: format!("{SIGNATURE_LABEL}=:{}:", STANDARD.encode(sig.to_bytes())),
        }
    }
}

/// The signature headers of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDelivery {
    /// `Content-Digest`.
    pub content_digest: String,
    /// `Signature-Input`.
    pub signature_input: String,
    /// `Signature`.
    pub signature: String,
}

/// RFC 9530 `Content-Digest` of `body` with sha-256.
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)))
}

/// RFC 7638 JWK thumbprint of an Ed25519 public key (base64url, no padding).
pub fn key_id(public: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The JWKS that publishes `public` (RFC 7517, RFC 8037 `OKP`/`Ed25519`).
pub fn jwks(public: &[u8; 32]) -> serde_json::Value {
    serde_json::json!({
        "keys": [{
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(public),
            "kid": key_id(public),
            "alg": "EdDSA",
            "use": "sig",
        }]
    })
}

/// The public keys of a JWKS document as `(kid, key)`, Ed25519 keys only; keys that are
/// malformed or weak are left out.
pub fn keys_from_jwks(doc: &serde_json::Value) -> Vec<(String, [u8; 32])> {
    let Some(keys) = doc.get("keys").and_then(|k| k.as_array()) else {
        return Vec::new();
    };
    keys.iter()
        .filter(|k| {
            k.get("kty").and_then(|v| v.as_str()) == Some("OKP")
                && k.get("crv").and_then(|v| v.as_str()) == Some("Ed25519")
        })
        .filter_map(|k| {
            let x = URL_SAFE_NO_PAD
                .decode(k.get("x")?.as_str()?.as_bytes())
                .ok()?;
            let raw: [u8; 32] = x.as_slice().try_into().ok()?;
            // The same checks as a machine's registered key: no small-order or non-canonical
            // point can verify anything.
            PublicKey::from_bytes(&raw).ok()?;
            let kid = k
                .get("kid")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| key_id(&raw));
            Some((kid, raw))
        })
        .collect()
}

/// The serialised `@signature-params` value (an RFC 8941 inner list with parameters).
pub fn signature_params(covered: &[&str], created: i64, key_id: &str) -> String {
    let list: Vec<String> = covered.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        "({});created={created};keyid=\"{key_id}\";alg=\"{SIGNATURE_ALG}\";tag=\"{SIGNATURE_TAG}\"",
        list.join(" ")
    )
}

/// RFC 9421 §2.5's signature base: `"<name>": <value>` per component, then the
/// `@signature-params` line, joined by `\n`.
pub fn signature_base(components: &[(&str, &str)], params: &str) -> String {
    let mut lines: Vec<String> = components
        .iter()
        .map(|(name, value)| format!("\"{name}\": {value}"))
        .collect();
    lines.push(format!("\"@signature-params\": {params}"));
    lines.join("\n")
}

/// SikkerKey's `X-SikkerKey-Signature`: lower-case hex HMAC-SHA256 of the raw body under the
/// webhook's own secret.
pub fn sikkerkey_signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A delivery as a receiver got it: the saved form `signet webhook verify` reads is its JSON,
/// `{"method", "url", "headers": {name: value}, "body"}` (the body as UTF-8 text).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReceivedDelivery {
    /// The request method.
    pub method: String,
    /// The full URL the request was sent to (`@target-uri`).
    pub url: String,
    /// The headers, names in any case.
    pub headers: std::collections::BTreeMap<String, String>,
    /// The raw body.
    pub body: String,
}

impl ReceivedDelivery {
    /// The value of header `name` (case-insensitive), trimmed as RFC 9421 §2.1 does.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// Why a delivery does not verify. The texts are what `signet webhook verify` prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A header the profile needs is absent.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// `Signature-Input` or `Signature` does not parse as this profile's.
    #[error("the {0} header is malformed")]
    Malformed(&'static str),
    /// The body does not hash to `Content-Digest`: the body was altered.
    #[error("the body does not match Content-Digest (the body was altered)")]
    DigestMismatch,
    /// A component the profile requires is not covered.
    #[error("the signature does not cover {0}")]
    NotCovered(&'static str),
    /// `alg` or `tag` is not this profile's.
    #[error("the signature is not a Signet webhook signature (alg or tag)")]
    WrongProfile,
    /// No published key has the signature's `keyid`.
    #[error("no published key has keyid {0}")]
    UnknownKey(String),
    /// `created` is older than the window allows: a replay or a stale file.
    #[error("the signature was created {0} s ago, more than the {1} s allowed")]
    TooOld(i64, i64),
    /// `created` lies in the future.
    #[error("the signature's created time is in the future")]
    FromFuture,
    /// The signature does not verify: a covered header, the URL or the method was altered, or
    /// another key signed it.
    #[error("the signature does not verify (a signed header, the URL or the method was altered)")]
    BadSignature,
}

/// The parsed `signet` member of `Signature-Input`.
#[derive(Debug)]
struct ParsedInput<'a> {
    /// The raw inner list with its parameters, exactly as received: the `@signature-params`
    /// value.
    raw: &'a str,
    covered: Vec<&'a str>,
    created: Option<i64>,
    keyid: Option<&'a str>,
    alg: Option<&'a str>,
    tag: Option<&'a str>,
}

/// Parses `signet=(...)` params; other labels are not accepted (one signature per delivery).
fn parse_input(header: &str) -> Result<ParsedInput<'_>, VerifyError> {
    const H: &str = "Signature-Input";
    let raw = header
        .strip_prefix(SIGNATURE_LABEL)
        .and_then(|r| r.strip_prefix('='))
        .ok_or(VerifyError::Malformed(H))?;
    let inner = raw.strip_prefix('(').ok_or(VerifyError::Malformed(H))?;
    let close = inner.find(')').ok_or(VerifyError::Malformed(H))?;
    let mut covered = Vec::new();
    for item in inner[..close].split(' ').filter(|s| !s.is_empty()) {
        let name = item
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .filter(|s| !s.contains('"') && !s.contains('\\'))
            .ok_or(VerifyError::Malformed(H))?;
        covered.push(name);
    }
    let mut parsed = ParsedInput {
        raw,
        covered,
        created: None,
        keyid: None,
        alg: None,
        tag: None,
    };
    let params = &inner[close + 1..];
    if params.is_empty() {
        return Ok(parsed);
    }
    let params = params.strip_prefix(';').ok_or(VerifyError::Malformed(H))?;
    for p in params.split(';') {
        let (k, v) = p.split_once('=').ok_or(VerifyError::Malformed(H))?;
        let text = || {
            v.strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .filter(|s| !s.contains('"') && !s.contains('\\'))
                .ok_or(VerifyError::Malformed(H))
        };
        match k {
            "created" => {
                if v.is_empty() || v.len() > 15 || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(VerifyError::Malformed(H));
                }
                parsed.created = Some(v.parse().map_err(|_| VerifyError::Malformed(H))?);
            }
            "keyid" => parsed.keyid = Some(text()?),
            "alg" => parsed.alg = Some(text()?),
            "tag" => parsed.tag = Some(text()?),
            // Other parameters (expires, nonce) are signed as received and otherwise unused.
            _ => {}
        }
    }
    Ok(parsed)
}

/// Checks a received delivery against the published keys at `now` (Unix seconds), allowing
/// `created` to be at most `max_age_secs` old.
pub fn verify(
    d: &ReceivedDelivery,
    keys: &[(String, [u8; 32])],
    now: i64,
    max_age_secs: i64,
) -> Result<(), VerifyError> {
    let input = d
        .header("signature-input")
        .ok_or(VerifyError::MissingHeader("Signature-Input"))?;
    let signature = d
        .header("signature")
        .ok_or(VerifyError::MissingHeader("Signature"))?;
    let digest = d
        .header("content-digest")
        .ok_or(VerifyError::MissingHeader("Content-Digest"))?;
    let parsed = parse_input(input)?;
    for required in COVERED {
        if !parsed.covered.contains(&required) {
            return Err(VerifyError::NotCovered(required));
        }
    }
    if parsed.alg != Some(SIGNATURE_ALG) || parsed.tag != Some(SIGNATURE_TAG) {
        return Err(VerifyError::WrongProfile);
    }
    let created = parsed
        .created
        .ok_or(VerifyError::Malformed("Signature-Input"))?;
    let keyid = parsed
        .keyid
        .ok_or(VerifyError::Malformed("Signature-Input"))?;
    let key = keys
        .iter()
        .find(|(kid, _)| kid == keyid)
        .map(|(_, k)| k)
        .ok_or_else(|| VerifyError::UnknownKey(keyid.to_owned()))?;
    // The digest first: a clear "body altered" beats a generic bad signature.
    if content_digest(d.body.as_bytes()) != digest {
        return Err(VerifyError::DigestMismatch);
    }
    let mut components = Vec::with_capacity(parsed.covered.len());
    for name in &parsed.covered {
        let value = match *name {
            "@method" => d.method.as_str(),
            "@target-uri" => d.url.as_str(),
            n if n.starts_with('@') => return Err(VerifyError::Malformed("Signature-Input")),
            n => d
                .header(n)
                .ok_or(VerifyError::Malformed("Signature-Input"))?,
        };
        components.push((*name, value));
    }
    let base = signature_base(&components, parsed.raw);
    let sig_b64 = signature
        .strip_prefix(SIGNATURE_LABEL)
        .and_then(|s| s.strip_prefix("=:"))
        .and_then(|s| s.strip_suffix(':'))
        .ok_or(VerifyError::Malformed("Signature"))?;
    let sig_bytes: [u8; 64] = STANDARD
        .decode(sig_b64)
        .ok()
        .and_then(|v| v.as_slice().try_into().ok())
        .ok_or(VerifyError::Malformed("Signature"))?;
    let vk = VerifyingKey::from_bytes(key).map_err(|_| VerifyError::BadSignature)?;
    vk.verify_strict(base.as_bytes(), &Signature::from_bytes(&sig_bytes))
        .map_err(|_| VerifyError::BadSignature)?;
    // Time last, on a signature known to be genuine, so the message names the real cause.
    if created > now + MAX_SKEW_SECS {
        return Err(VerifyError::FromFuture);
    }
    if now - created > max_age_secs {
        return Err(VerifyError::TooOld(now - created, max_age_secs));
    }
    Ok(())
}

/// A fresh per-webhook HMAC secret (`whsec_` and 64 hex digits), shown once at creation.
pub fn generate_hmac_secret() -> Zeroizing<String> {
    let mut raw = Zeroizing::new([0u8; 32]);
    // The OS RNG failing is not recoverable for a secrets server; every key would be unsafe.
    #[allow(clippy::expect_used)]
    getrandom::fill(raw.as_mut()).expect("the OS random number generator failed");
    Zeroizing::new(format!("whsec_{}", hex::encode(raw.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(key: &WebhookKey, body: &str, created: i64) -> ReceivedDelivery {
        let url = "https://hooks.example.com/signet";
        let id = "0b7c3f0e-9a43-4c55-8d3e-1f0a2b3c4d5e";
        let s = key.sign(url, body.as_bytes(), id, created);
        let mut headers = std::collections::BTreeMap::new();
        headers.insert("Content-Type".to_owned(), CONTENT_TYPE.to_owned());
        headers.insert("Content-Digest".to_owned(), s.content_digest);
        headers.insert("Signet-Delivery-Id".to_owned(), id.to_owned());
        headers.insert("Signature-Input".to_owned(), s.signature_input);
        headers.insert("Signature".to_owned(), s.signature);
        ReceivedDelivery {
            method: "POST".to_owned(),
            url: url.to_owned(),
            headers,
            body: body.to_owned(),
        }
    }

    #[test]
    fn a_signed_delivery_verifies_and_every_alteration_is_named() {
        let key = WebhookKey::from_seed(&[7; 32]);
        let keys = vec![(key.key_id(), key.public_key())];
        let d = delivery(&key, r#"{"id":"x"}"#, 1_700_000_000);
        assert_eq!(verify(&d, &keys, 1_700_000_010, 300), Ok(()));

        let mut body = d.clone();
        body.body = r#"{"id":"y"}"#.to_owned();
        assert_eq!(
            verify(&body, &keys, 1_700_000_010, 300),
            Err(VerifyError::DigestMismatch)
        );
        let mut id = d.clone();
        id.headers.insert(
            "Signet-Delivery-Id".to_owned(),
            "11111111-1111-4111-8111-111111111111".to_owned(),
        );
        assert_eq!(
            verify(&id, &keys, 1_700_000_010, 300),
            Err(VerifyError::BadSignature)
        );
        let mut url = d.clone();
        url.url = "https://evil.example.com/signet".to_owned();
        assert_eq!(
            verify(&url, &keys, 1_700_000_010, 300),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(&d, &keys, 1_700_000_301, 300),
            Err(VerifyError::TooOld(301, 300))
        );
        let other = WebhookKey::from_seed(&[8; 32]);
        assert!(matches!(
            verify(
                &d,
                &[(other.key_id(), other.public_key())],
                1_700_000_010,
                300
            ),
            Err(VerifyError::UnknownKey(_))
        ));
        assert_eq!(
            verify(
                &d,
                &[(key.key_id(), other.public_key())],
                1_700_000_010,
                300
            ),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn the_jwks_round_trips_and_the_thumbprint_matches_rfc_8037() {
        // RFC 8037 appendix A.3: the thumbprint of the RFC 8032 test key 1.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let raw: [u8; 32] = x.as_slice().try_into().unwrap();
        assert_eq!(key_id(&raw), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        let keys = keys_from_jwks(&jwks(&raw));
        assert_eq!(keys, vec![(key_id(&raw), raw)]);
    }

    #[test]
    fn the_sikkerkey_signature_is_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            sikkerkey_signature(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
