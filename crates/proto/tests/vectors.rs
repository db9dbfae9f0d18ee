//! Runs every conformance vector in `testdata/vectors/` against this crate.
//!
//! The directories are walked, so a new file runs without touching this test. Each case is
//! checked against the verifier described in `docs/protocol.md`, built here from the crate's
//! parsers (`CanonicalPath`, `Timestamp`, `Nonce`, `SignatureB64`, `PublicKey`) and
//! `verify_request`; header lookup and the replay check, which live in the server, are modelled
//! in a few lines. Unknown JSON keys are ignored. The format is in `testdata/vectors/README.md`.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Verifier as _;
use serde::Deserialize;
use signet_proto::request::{signing_string, verify, verify_request};
use signet_proto::{
    BodyHash, CanonicalPath, EnrollmentProof, Fingerprint, Identity, KeyError, MachineId, Method,
    Nonce, OperatorId, ProtocolError, PublicKey, SecretSeed, SignatureB64, SignedHeaders,
    Timestamp, VaultId, proof_message, token_digest,
};

// ---------------------------------------------------------------------------------------------
// File shapes (only the fields this consumer reads; serde ignores the rest).

#[derive(Deserialize)]
struct SigningCase {
    expect: String,
    #[serde(default)]
    reason: Option<String>,
    now: i64,
    principal_header: String,
    #[serde(default)]
    seed: Option<String>,
    public_key: String,
    #[serde(default)]
    seen_nonces: Vec<SeenNonce>,
    request: Request,
    body_sha256: String,
    signing_string: Option<String>,
    #[serde(default)]
    client_signing_string: Option<String>,
}

#[derive(Deserialize)]
struct SeenNonce {
    principal: String,
    nonce: String,
}

#[derive(Deserialize)]
struct Request {
    method: String,
    target: String,
    headers: Vec<Header>,
    #[serde(default)]
    body_utf8: Option<String>,
    #[serde(default)]
    body_hex: Option<String>,
}

#[derive(Deserialize)]
struct Header {
    name: String,
    value: String,
}

#[derive(Deserialize)]
struct KeyCase {
    expect: String,
    #[serde(default)]
    reason: Option<String>,
    public_key: String,
    #[serde(default)]
    raw_hex: Option<String>,
    #[serde(default)]
    seed: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
}

#[derive(Deserialize)]
struct IdentityCase {
    seed: String,
    public_key: String,
    fingerprint: String,
    private_pem: String,
    identity_json: String,
}

// ---------------------------------------------------------------------------------------------
// Walking the directories.

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vectors")
}

/// Runs `check` on every `*.json` file in `dir`, then fails with every file that did not meet
/// its expectation (not just the first).
fn run_dir(dir: &str, check: impl Fn(&str) -> Result<(), String>) {
    let path = vectors_dir().join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no vectors in {}", path.display());
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if let Err(why) = check(&text) {
            failures.push(format!("{dir}/{name}: {why}"));
        }
    }
    println!(
        "{dir}: {} passed, {} failed",
        files.len() - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

fn ensure(ok: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(why()) }
}

fn decode_seed(hex_seed: &str) -> Result<SecretSeed, String> {
    let raw: [u8; 32] = hex::decode(hex_seed)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or("seed is not 32 bytes of hex")?;
    Ok(SecretSeed::from_bytes(raw))
}

// ---------------------------------------------------------------------------------------------
// Signing vectors.

/// Where the modelled verifier stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Valid,
    /// 400.
    Malformed(ProtocolError),
    /// 401 before the signature was checked, or on replay.
    Unauthenticated(Why),
    /// 401: `verify_strict` refused the signature (or the key).
    BadSignature,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    MissingHeader,
    DuplicateHeader,
    PrincipalFormat,
    Protocol(ProtocolError),
    WindowPast,
    WindowFuture,
    Replay,
}

/// The `reason`s of a non-canonical path (`docs/protocol.md` §4).
const PATH_REASONS: [&str; 12] = [
    "not_origin_form",
    "double_slash",
    "trailing_slash",
    "dot_segment",
    "bad_percent",
    "lowercase_percent",
    "encoded_slash",
    "encoded_percent",
    "encoded_unreserved",
    "encoded_control",
    "invalid_utf8",
    "disallowed_byte",
];

/// The outcome `expect` and `reason` ask for; `None` where the reason is only descriptive.
fn expected(expect: &str, reason: Option<&str>) -> Result<Option<Outcome>, String> {
    let unauth = |why| Ok(Some(Outcome::Unauthenticated(why)));
    match (expect, reason) {
        ("valid", None) => Ok(Some(Outcome::Valid)),
        ("valid", Some(r)) => Err(format!("a valid case has reason {r}")),
        ("bad_signature", _) => Ok(Some(Outcome::BadSignature)),
        ("malformed_request", Some("query_string")) => {
            Ok(Some(Outcome::Malformed(ProtocolError::QueryString)))
        }
        // The crate reports every path defect as one error; the reason must still be one of
        // docs/protocol.md §4.
        ("malformed_request", Some(r)) if PATH_REASONS.contains(&r) => {
            Ok(Some(Outcome::Malformed(ProtocolError::NonCanonicalPath)))
        }
        ("malformed_request", r) => Err(format!("unknown malformed_request reason {r:?}")),
        ("unauthenticated", Some("missing_header")) => unauth(Why::MissingHeader),
        ("unauthenticated", Some("duplicate_header")) => unauth(Why::DuplicateHeader),
        ("unauthenticated", Some("principal_format")) => unauth(Why::PrincipalFormat),
        ("unauthenticated", Some("timestamp_format")) => {
            unauth(Why::Protocol(ProtocolError::Timestamp))
        }
        ("unauthenticated", Some("window_past")) => unauth(Why::WindowPast),
        ("unauthenticated", Some("window_future")) => unauth(Why::WindowFuture),
        ("unauthenticated", Some("nonce_format")) => unauth(Why::Protocol(ProtocolError::Nonce)),
        ("unauthenticated", Some("signature_encoding")) => {
            unauth(Why::Protocol(ProtocolError::Signature))
        }
        ("unauthenticated", Some("replay")) => unauth(Why::Replay),
        ("unauthenticated", _) => Ok(None),
        (other, _) => Err(format!("unknown expect {other:?}")),
    }
}

/// The single value of header `name` (case-insensitive), or why there is not exactly one.
fn one_header<'a>(headers: &'a [Header], name: &str) -> Result<&'a str, Why> {
    let mut found = headers.iter().filter(|h| h.name.eq_ignore_ascii_case(name));
    match (found.next(), found.next()) {
        (Some(h), None) => Ok(h.value.as_str()),
        (None, _) => Err(Why::MissingHeader),
        (Some(_), Some(_)) => Err(Why::DuplicateHeader),
    }
}

/// The principal id in its one canonical spelling, as the nonce store would key it.
fn principal_id(header: &str, value: &str) -> Option<String> {
    if header.eq_ignore_ascii_case("X-Operator-Id") {
        OperatorId::parse(value).ok().map(|id| id.to_string())
    } else {
        MachineId::parse(value).ok().map(|id| id.to_string())
    }
}

/// The verifier, step by step in the order `docs/protocol.md` gives.
fn verifier(case: &SigningCase, body: &[u8]) -> Outcome {
    let req = &case.request;
    let method = match Method::parse(&req.method) {
        Ok(m) => m,
        Err(e) => return Outcome::Unauthenticated(Why::Protocol(e)),
    };
    let path = match CanonicalPath::parse(&req.target) {
        Ok(p) => p,
        Err(e) => return Outcome::Malformed(e),
    };
    let names = [
        case.principal_header.as_str(),
        "X-Timestamp",
        "X-Nonce",
        "X-Signature",
    ];
    let mut values = Vec::new();
    for name in names {
        match one_header(&req.headers, name) {
            Ok(v) => values.push(v),
            Err(why) => return Outcome::Unauthenticated(why),
        }
    }
    let [principal, ts, nonce, sig] = values[..] else {
        unreachable!("four headers")
    };
    let Some(principal) = principal_id(&case.principal_header, principal) else {
        return Outcome::Unauthenticated(Why::PrincipalFormat);
    };
    let ts = match Timestamp::parse(ts) {
        Ok(ts) => ts,
        Err(e) => return Outcome::Unauthenticated(Why::Protocol(e)),
    };
    if ts.check_window(case.now).is_err() {
        let why = if ts.secs() < case.now {
            Why::WindowPast
        } else {
            Why::WindowFuture
        };
        return Outcome::Unauthenticated(why);
    }
    let nonce = match Nonce::parse(nonce) {
        Ok(n) => n,
        Err(e) => return Outcome::Unauthenticated(Why::Protocol(e)),
    };
    let sig = match SignatureB64::parse(sig) {
        Ok(s) => s,
        Err(e) => return Outcome::Unauthenticated(Why::Protocol(e)),
    };
    let verified = match PublicKey::from_base64(&case.public_key) {
        Ok(key) => verify_request(&key, &method, &path, body, ts, &nonce, &sig),
        // A small-order key can never be registered; if one were on file anyway, the strict
        // verifier must still refuse it, so check that path with the raw key.
        Err(KeyError::Weak) => {
            let raw = STANDARD.decode(&case.public_key).unwrap_or_default();
            match raw
                .try_into()
                .ok()
                .and_then(|b: [u8; 32]| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
            {
                Some(vk) => {
                    let s = signing_string(&method, &path, ts, &nonce, &BodyHash::of(body));
                    verify(&vk, &s, &sig)
                }
                None => Err(ProtocolError::BadSignature),
            }
        }
        // Refused by `check_signing` before the verifier runs.
        Err(_) => Err(ProtocolError::BadSignature),
    };
    if verified.is_err() {
        return Outcome::BadSignature;
    }
    // Recorded only now, after the signature verified.
    if case
        .seen_nonces
        .iter()
        .any(|s| s.principal == principal && s.nonce == nonce.as_str())
    {
        return Outcome::Unauthenticated(Why::Replay);
    }
    Outcome::Valid
}

/// The signing string the request's parts define, or `None` when one is missing, repeated or
/// not canonical.
fn defined_signing_string(case: &SigningCase, body: &[u8]) -> Option<String> {
    let req = &case.request;
    let method = Method::parse(&req.method).ok()?;
    let path = CanonicalPath::parse(&req.target).ok()?;
    let ts = Timestamp::parse(one_header(&req.headers, "X-Timestamp").ok()?).ok()?;
    let nonce = Nonce::parse(one_header(&req.headers, "X-Nonce").ok()?).ok()?;
    Some(signing_string(
        &method,
        &path,
        ts,
        &nonce,
        &BodyHash::of(body),
    ))
}

fn check_signing(text: &str) -> Result<(), String> {
    let case: SigningCase = serde_json::from_str(text).map_err(|e| format!("unreadable: {e}"))?;
    let req = &case.request;
    let body = match (&req.body_hex, &req.body_utf8) {
        (Some(h), _) => hex::decode(h).map_err(|_| "body_hex is not hex")?,
        (None, Some(t)) => t.as_bytes().to_vec(),
        (None, None) => Vec::new(),
    };
    let hash = BodyHash::of(&body);
    ensure(hash.as_str() == case.body_sha256, || {
        format!(
            "body_sha256 is {}, the body hashes to {}",
            case.body_sha256,
            hash.as_str()
        )
    })?;

    let built = defined_signing_string(&case, &body);
    ensure(built == case.signing_string, || {
        format!(
            "signing_string: vector {:?}, crate {built:?}",
            case.signing_string
        )
    })?;

    // The key on file must be one registration could have stored, or (for the defence-in-depth
    // case) a small-order one; anything else would make the case test nothing.
    match PublicKey::from_base64(&case.public_key) {
        Ok(_) | Err(KeyError::Weak) => {}
        Err(e) => return Err(format!("the registered public_key is refused: {e}")),
    }

    let reason = case.reason.as_deref();
    let want = expected(&case.expect, reason)?;
    let got = verifier(&case, &body);
    match want {
        Some(want) => ensure(got == want, || {
            format!(
                "expected {want:?} ({} / {reason:?}), verifier gave {got:?}",
                case.expect
            )
        })?,
        None => ensure(matches!(got, Outcome::Unauthenticated(_)), || {
            format!("expected a 401, verifier gave {got:?}")
        })?,
    }

    let sig_header = one_header(&req.headers, "X-Signature").ok();
    let client_string = case
        .client_signing_string
        .as_ref()
        .or(case.signing_string.as_ref());

    // Signer side: a conforming client with this seed produces exactly these headers.
    if case.expect == "valid" {
        let seed = decode_seed(case.seed.as_deref().ok_or("a valid case needs a seed")?)?;
        ensure(seed.public_key().to_base64() == case.public_key, || {
            "the seed does not match public_key".into()
        })?;
        let ts =
            Timestamp::parse(one_header(&req.headers, "X-Timestamp").map_err(|_| "X-Timestamp")?)
                .map_err(|e| e.to_string())?;
        let nonce = Nonce::parse(one_header(&req.headers, "X-Nonce").map_err(|_| "X-Nonce")?)
            .map_err(|e| e.to_string())?;
        let method = Method::parse(&req.method).map_err(|e| e.to_string())?;
        let path = CanonicalPath::parse(&req.target).map_err(|e| e.to_string())?;
        let signed = SignedHeaders::sign(&seed, &method, &path, &body, ts, &nonce);
        ensure(
            Some(&signed.signing_string) == case.signing_string.as_ref(),
            || "SignedHeaders::sign built another string".into(),
        )?;
        ensure(Some(signed.signature.as_str()) == sig_header, || {
            format!("SignedHeaders::sign gave signature {}", signed.signature)
        })?;
    }

    // Strictness cases must be real: the lax (cofactorless, small-order-tolerant) check accepts
    // them, so only the strict rules refuse them.
    if matches!(reason, Some("small_order_key" | "small_order_r")) {
        let raw: [u8; 32] = STANDARD
            .decode(&case.public_key)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or("public_key")?;
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&raw)
            .map_err(|_| "public_key does not decompress")?;
        let sig: [u8; 64] = STANDARD
            .decode(sig_header.ok_or("no signature")?)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or("signature")?;
        let message = client_string.ok_or("no signing string")?;
        let lax = vk.verify(
            message.as_bytes(),
            &ed25519_dalek::Signature::from_bytes(&sig),
        );
        ensure(lax.is_ok(), || {
            "the lax verifier refuses it too, so the case tests nothing strict".into()
        })?;
    }
    if reason == Some("non_canonical_signature") {
        let sig = STANDARD
            .decode(sig_header.ok_or("no signature")?)
            .map_err(|_| "signature base64")?;
        let s: [u8; 32] = sig
            .get(32..)
            .and_then(|s| s.try_into().ok())
            .ok_or("signature length")?;
        let canonical: Option<curve25519_dalek::Scalar> =
            curve25519_dalek::Scalar::from_canonical_bytes(s).into();
        ensure(canonical.is_none(), || "S is canonical".into())?;
    }

    // The reason of a signature mismatch must name what actually differs.
    if case.expect == "bad_signature"
        && !matches!(
            reason,
            Some("small_order_key" | "small_order_r" | "non_canonical_signature")
        )
        && let Some(stated) = reason
        && let Some(found) =
            diagnose_mismatch(&case, client_string.map(String::as_str), sig_header)?
    {
        ensure(found == stated, || {
            format!("reason says {stated}, but the case shows {found}")
        })?;
    }

    // One defect per case: where the refusal is not about the signature, the client's signature
    // over what it signed verifies, so the stated reason is the only thing wrong.
    let signature_is_the_defect = matches!(case.expect.as_str(), "bad_signature")
        || matches!(reason, Some("signature_encoding" | "missing_header"));
    if !signature_is_the_defect
        && let (Some(seed), Some(sig), Some(message)) = (&case.seed, sig_header, client_string)
    {
        let key = decode_seed(seed)?.public_key();
        let sig = SignatureB64::parse(sig).map_err(|_| "X-Signature does not decode")?;
        ensure(
            key.verifying_key()
                .is_ok_and(|vk| verify(&vk, message, &sig).is_ok()),
            || "the client's own signature does not verify".into(),
        )?;
    }
    Ok(())
}

/// The five fields of a signing string. The path may contain ':' and the others may not, so
/// the method is split off the front and the rest off the back.
fn fields(s: &str) -> Option<[&str; 5]> {
    let mut back = s.rsplitn(4, ':');
    let (hash, nonce, ts, rest) = (back.next()?, back.next()?, back.next()?, back.next()?);
    let (method, path) = rest.split_once(':')?;
    Some([method, path, ts, nonce, hash])
}

/// What makes a bad-signature case fail, worked out from the case itself (not used for the
/// strictness reasons, which have their own checks); `None` when there is no signer to compare.
fn diagnose_mismatch(
    case: &SigningCase,
    client: Option<&str>,
    sig_header: Option<&str>,
) -> Result<Option<&'static str>, String> {
    let (Some(seed), Some(client)) = (&case.seed, client) else {
        return Ok(None);
    };
    let verifier = case
        .signing_string
        .as_deref()
        .ok_or("a bad-signature case needs a signing_string")?;
    if client != verifier {
        let (c, v) = (
            fields(client).ok_or("client string")?,
            fields(verifier).ok_or("signing string")?,
        );
        let lower_hex = |h: &str| {
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        if !lower_hex(c[4]) || c[0] != c[0].to_ascii_uppercase() {
            return Ok(Some("signing_string_format"));
        }
        let names = [
            "method_mismatch",
            "path_mismatch",
            "timestamp_mismatch",
            "nonce_mismatch",
            "body_mismatch",
        ];
        let first = (0..5)
            .find(|&i| c[i] != v[i])
            .ok_or("the strings differ but no field does")?;
        return Ok(Some(names[first]));
    }
    let signer = decode_seed(seed)?;
    if signer.public_key().to_base64() != case.public_key {
        return Ok(Some("wrong_key"));
    }
    let sig = sig_header.ok_or("no signature")?;
    let expected = STANDARD
        .encode(ed25519_dalek::Signer::sign(&signer.signing_key(), client.as_bytes()).to_bytes());
    Ok((sig != expected).then_some("corrupted_signature"))
}

#[test]
fn signing_vectors() {
    run_dir("signing", check_signing);
}

// ---------------------------------------------------------------------------------------------
// Public-key registration vectors.

fn check_key(text: &str) -> Result<(), String> {
    let case: KeyCase = serde_json::from_str(text).map_err(|e| format!("unreadable: {e}"))?;
    let parsed = PublicKey::from_base64(&case.public_key);
    match (case.expect.as_str(), &parsed) {
        ("accept", Ok(key)) => {
            ensure(key.to_base64() == case.public_key, || {
                "does not round-trip".into()
            })?;
            let fp = case
                .fingerprint
                .as_deref()
                .ok_or("an accepted key needs a fingerprint")?;
            ensure(key.fingerprint().to_string() == fp, || {
                format!("fingerprint is {}", key.fingerprint())
            })?;
            ensure(
                Fingerprint::parse(fp).is_some_and(|f| f.matches(&key.fingerprint())),
                || "fingerprint does not parse back".into(),
            )?;
            if let Some(seed) = &case.seed {
                ensure(decode_seed(seed)?.public_key() == *key, || {
                    "seed does not give this key".into()
                })?;
            }
        }
        ("reject", Err(err)) => {
            let want = match case.reason.as_deref() {
                Some("encoding") => KeyError::Encoding,
                Some("non_canonical" | "not_on_curve") => KeyError::NonCanonical,
                Some("small_order") => KeyError::Weak,
                Some("mixed_order") => KeyError::Torsion,
                other => return Err(format!("unknown reason {other:?}")),
            };
            ensure(*err == want, || {
                format!("refused as {err:?}, expected {want:?}")
            })?;
        }
        (expect, got) => return Err(format!("expected {expect}, got {got:?}")),
    }
    if let Some(raw_hex) = &case.raw_hex {
        let raw: [u8; 32] = hex::decode(raw_hex)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or("raw_hex is not 32 bytes")?;
        ensure(STANDARD.encode(raw) == case.public_key, || {
            "public_key is not the base64 of raw_hex".into()
        })?;
        ensure(PublicKey::from_bytes(&raw) == parsed, || {
            "from_bytes and from_base64 disagree".into()
        })?;
    }
    Ok(())
}

#[test]
fn key_vectors() {
    run_dir("keys", check_key);
}

// ---------------------------------------------------------------------------------------------
// Identity files.

fn check_identity(text: &str) -> Result<(), String> {
    let case: IdentityCase = serde_json::from_str(text).map_err(|e| format!("unreadable: {e}"))?;
    let seed = decode_seed(&case.seed)?;
    let pem = seed.to_pkcs8_pem().map_err(|e| e.to_string())?;
    ensure(*pem == case.private_pem, || {
        format!("to_pkcs8_pem gave {}", pem.as_str())
    })?;
    let back = SecretSeed::from_pkcs8_pem(&case.private_pem).map_err(|e| e.to_string())?;
    ensure(back.expose() == seed.expose(), || {
        "the PEM holds another seed".into()
    })?;
    let public = seed.public_key();
    ensure(public.to_base64() == case.public_key, || {
        format!("public key is {}", public.to_base64())
    })?;
    ensure(public.fingerprint().to_string() == case.fingerprint, || {
        format!("fingerprint is {}", public.fingerprint())
    })?;
    let identity = Identity::from_json(&case.identity_json).map_err(|e| e.to_string())?;
    ensure(identity.to_json() == case.identity_json, || {
        "identity.json does not round-trip byte for byte".into()
    })?;
    let dir = format!("/vaults/{}/", identity.vault_id);
    ensure(
        identity
            .private_key_path
            .ends_with(&format!("{dir}private.pem")),
        || "privateKeyPath is not <home>/vaults/<vaultId>/private.pem".into(),
    )?;
    Ok(())
}

#[test]
fn identity_vectors() {
    run_dir("identity", check_identity);
}

// ---------------------------------------------------------------------------------------------
// Enrollment proofs.

#[derive(Deserialize)]
struct EnrollmentCase {
    expect: String,
    #[serde(default)]
    reason: Option<String>,
    now: i64,
    seed: String,
    vault_id: Option<String>,
    token: Option<String>,
    token_sha256: Option<String>,
    public_key: String,
    timestamp: i64,
    proof: String,
    message: String,
    #[serde(default)]
    client_message: Option<String>,
}

fn check_enrollment(text: &str) -> Result<(), String> {
    let case: EnrollmentCase =
        serde_json::from_str(text).map_err(|e| format!("unreadable: {e}"))?;
    let vault = case
        .vault_id
        .as_deref()
        .map(VaultId::parse)
        .transpose()
        .map_err(|_| "vault_id")?;
    let key = PublicKey::from_base64(&case.public_key).map_err(|e| e.to_string())?;
    ensure(
        case.token.as_deref().map(token_digest) == case.token_sha256,
        || "token_sha256 is not the token's".into(),
    )?;
    let ts = Timestamp::parse(&case.timestamp.to_string()).map_err(|e| e.to_string())?;
    let built = proof_message(vault.as_ref(), case.token.as_deref(), &key, ts);
    ensure(built == case.message, || {
        format!("the crate builds {built}")
    })?;

    let got = EnrollmentProof::parse(&case.proof, case.timestamp)
        .and_then(|p| p.verify(&key, vault.as_ref(), case.token.as_deref(), case.now));
    let want = match (case.expect.as_str(), case.reason.as_deref()) {
        ("valid", None) => Ok(()),
        ("invalid", Some("signature_encoding")) => Err(ProtocolError::Signature),
        ("invalid", Some("window_past" | "window_future")) => Err(ProtocolError::Window),
        (
            "invalid",
            Some(
                "wrong_key"
                | "wrong_token"
                | "wrong_vault"
                | "corrupted_signature"
                | "non_canonical_signature",
            ),
        ) => Err(ProtocolError::BadSignature),
        (e, r) => return Err(format!("unknown expect/reason {e}/{r:?}")),
    };
    ensure(got == want, || format!("expected {want:?}, got {got:?}"))?;

    // One defect per case: the client's own signature over what it signed is the honest one
    // (Ed25519 is deterministic), except where the signature itself is the defect.
    let client = case.client_message.as_deref().unwrap_or(&case.message);
    ensure(
        case.client_message.as_deref() != Some(case.message.as_str()),
        || "client_message repeats message".into(),
    )?;
    let honest = STANDARD.encode(
        ed25519_dalek::Signer::sign(&decode_seed(&case.seed)?.signing_key(), client.as_bytes())
            .to_bytes(),
    );
    let signature_is_the_defect = matches!(
        case.reason.as_deref(),
        Some("signature_encoding" | "corrupted_signature" | "non_canonical_signature")
    );
    ensure(signature_is_the_defect || honest == case.proof, || {
        "the proof is not the signer's honest signature over client_message".into()
    })?;
    if case.reason.as_deref() == Some("non_canonical_signature") {
        // The honest signature with S + L: R is the honest one and S is not canonical.
        let sig = STANDARD.decode(&case.proof).map_err(|_| "proof base64")?;
        let s: [u8; 32] = sig
            .get(32..)
            .and_then(|s| s.try_into().ok())
            .ok_or("proof length")?;
        let canonical: Option<curve25519_dalek::Scalar> =
            curve25519_dalek::Scalar::from_canonical_bytes(s).into();
        ensure(canonical.is_none(), || "S is canonical".into())?;
        ensure(
            sig.get(..32)
                == STANDARD
                    .decode(&honest)
                    .ok()
                    .as_deref()
                    .and_then(|h| h.get(..32)),
            || "R is not the honest signature's".into(),
        )?;
    }
    if case.reason.as_deref() == Some("wrong_key") {
        ensure(decode_seed(&case.seed)?.public_key() != key, || {
            "the signer owns the key".into()
        })?;
    }
    Ok(())
}

#[test]
fn enrollment_vectors() {
    run_dir("enrollment", check_enrollment);
}
