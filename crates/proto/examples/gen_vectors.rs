//! Writes the cross-language conformance vectors in `testdata/vectors/`.
//!
//! ```text
//! cargo run -p signet-proto --example gen_vectors -- testdata/vectors          # write
//! cargo run -p signet-proto --example gen_vectors -- testdata/vectors --check  # compare only
//! ```
//!
//! Everything an implementation computes (public keys, signatures, signing strings, body
//! hashes, PEM, fingerprints, `identity.json`) comes from this crate. What each case *expects* is
//! written here by hand: that is the specification the implementation is held to, and
//! `tests/vectors.rs` and `scripts/vectors/check_vectors.py` check it independently. Every input
//! is fixed (seeds, ids, `now`, nonces derived from the case name), so a second run writes
//! byte-identical files.
//!
//! The format of the files is specified in `testdata/vectors/README.md`.

// A generator that cannot build a vector must stop loudly rather than write a wrong one.
#![allow(clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity as _;
use ed25519_dalek::Signer as _;
use serde::Serialize;
use sha2::{Digest, Sha256, Sha512};
use signet_proto::request::signing_string;
use signet_proto::{
    BodyHash, CLOCK_WINDOW_SECS, CanonicalPath, EnrollmentProof, Identity, MachineId, Method,
    Nonce, PublicKey, SecretSeed, SignedHeaders, Timestamp, VaultId, proof_message, token_digest,
};

/// The verifier's clock for every signing case: 2024-03-26T16:00:00Z, the timestamp in
/// SikkerKey's published example, so the vectors never expire.
const NOW: i64 = 1_711_468_800;

/// RFC 8032 §7.1 TEST 1 secret key: a published seed, so anyone can check the derived public key
/// against the RFC without trusting this generator.
const SEED_A: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
/// RFC 8032 §7.1 TEST 2 secret key.
const SEED_B: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

const MACHINE_A: &str = "7d3c9a52-8f41-4b6e-a0d2-5c9e1f3b7a64";
const MACHINE_B: &str = "1f0e2d3c-4b5a-4697-8877-a6b5c4d3e2f1";
const OPERATOR: &str = "e2a4b6c8-1d3f-4a5b-9c7d-0e1f2a3b4c5d";
const VAULT: &str = "vault_a1b2c3d4e5f6g7h8";

const X_MACHINE_ID: &str = "X-Machine-Id";
const X_OPERATOR_ID: &str = "X-Operator-Id";

/// The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian.
const ORDER_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// The encoding of the identity point (0, 1): order 1.
const IDENTITY_POINT: &str = "0100000000000000000000000000000000000000000000000000000000000000";

// ---------------------------------------------------------------------------------------------
// File shapes. Field order is the order written; structs (not maps) keep it independent of
// serde_json's `preserve_order` feature.

#[derive(Serialize)]
struct SigningCase {
    comment: String,
    expect: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    now: i64,
    principal_header: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<String>,
    public_key: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    seen_nonces: Vec<SeenNonce>,
    request: Request,
    body_sha256: String,
    signing_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_signing_string: Option<String>,
}

#[derive(Serialize)]
struct SeenNonce {
    principal: String,
    nonce: String,
}

#[derive(Serialize)]
struct Request {
    method: String,
    target: String,
    headers: Vec<Header>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_utf8: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_hex: Option<String>,
}

#[derive(Serialize, Clone)]
struct Header {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct KeyCase {
    comment: String,
    expect: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    public_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    order: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint: Option<String>,
}

#[derive(Serialize)]
struct IdentityCase {
    comment: String,
    seed: String,
    public_key: String,
    fingerprint: String,
    private_pem: String,
    identity_json: String,
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

fn seed(hex_seed: &str) -> SecretSeed {
    let raw: [u8; 32] = hex::decode(hex_seed)
        .expect("seed hex")
        .try_into()
        .expect("32-byte seed");
    SecretSeed::from_bytes(raw)
}

fn public_b64(hex_seed: &str) -> String {
    seed(hex_seed).public_key().to_base64()
}

/// 16 bytes derived from the case name, so nonces are unique per case yet fixed.
fn nonce_bytes(label: &str) -> Vec<u8> {
    Sha256::digest(format!("signet vectors v1 nonce:{label}").as_bytes())[..16].to_vec()
}

/// The SDKs' nonce form: 16 bytes, standard padded base64 (24 characters).
fn b64_nonce(label: &str) -> String {
    STANDARD.encode(nonce_bytes(label))
}

fn sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// `a + b` over 32-byte little-endian integers, panicking on overflow (never reached for S + L).
fn add_le(a: &[u8], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "S + L overflowed 256 bits");
    out
}

// ---------------------------------------------------------------------------------------------
// Signing cases.

/// The parts of a signing string, as text, so a case can describe what a misbehaving client
/// signed as well as what a conforming one does.
#[derive(Clone)]
struct Parts {
    method: String,
    target: String,
    ts: String,
    nonce: String,
    body: Vec<u8>,
    /// A client that wrote the body hash in upper-case hex.
    upper_hash: bool,
    /// Anything a client appended after the body hash (a newline, say).
    suffix: &'static str,
}

impl Parts {
    fn string(&self) -> String {
        let mut hash = sha256_hex(&self.body);
        if self.upper_hash {
            hash = hash.to_ascii_uppercase();
        }
        format!(
            "{}:{}:{}:{}:{}{}",
            self.method, self.target, self.ts, self.nonce, hash, self.suffix
        )
    }

    /// Whether a conforming client would build exactly this string through the crate's API.
    fn conforming(&self) -> Option<SignedHeadersInput> {
        if self.upper_hash || !self.suffix.is_empty() {
            return None;
        }
        Some(SignedHeadersInput {
            method: Method::parse(&self.method).ok()?,
            path: CanonicalPath::parse(&self.target).ok()?,
            ts: Timestamp::parse(&self.ts).ok()?,
            nonce: Nonce::parse(&self.nonce).ok()?,
        })
    }
}

struct SignedHeadersInput {
    method: Method,
    path: CanonicalPath,
    ts: Timestamp,
    nonce: Nonce,
}

/// How the `X-Signature` bytes are made.
#[derive(Clone, Copy)]
enum Sig {
    /// Ed25519 over the client's string with the case's seed.
    Honest,
    /// The honest signature with S replaced by S + L: same equation, non-canonical scalar.
    NonCanonicalS,
    /// R = the identity point and S = k·a, which satisfies the cofactorless equation.
    SmallOrderR,
    /// No private key: R = B and S = 1 under the identity public key verify any message with a
    /// verifier that does not refuse small-order keys.
    IdentityKeyForgery,
}

/// Changes what the client signed, relative to what was sent.
type PartsEdit = Box<dyn Fn(&mut Parts)>;

struct Draft {
    name: &'static str,
    comment: &'static str,
    expect: &'static str,
    reason: Option<&'static str>,
    /// The header the route authenticates with.
    principal_header: &'static str,
    /// The header actually sent, when it is not `principal_header`.
    sent_header: Option<&'static str>,
    principal: String,
    /// The signer's seed; `None` for a forgery.
    seed: Option<&'static str>,
    /// The key the server has on file for the principal (base64).
    registered: String,
    method: String,
    target: String,
    body: Vec<u8>,
    ts: String,
    nonce: String,
    /// Edits what the client signed, relative to what was sent.
    client_edit: Option<PartsEdit>,
    sig: Sig,
    sig_bytes_edit: Option<fn(Vec<u8>) -> Vec<u8>>,
    sig_text_edit: Option<fn(String) -> String>,
    lowercase_names: bool,
    drop_header: Option<&'static str>,
    extra_header: Option<Header>,
    /// Sends this header a second time, with the same value, after the others.
    repeat_header: Option<&'static str>,
    /// The nonce was already recorded for this principal.
    replayed: bool,
    /// The nonce was already recorded, for another principal.
    seen_by_other: bool,
}

impl Draft {
    /// A valid machine GET with an empty body at `NOW`.
    fn get(name: &'static str, comment: &'static str) -> Self {
        Self {
            name,
            comment,
            expect: "valid",
            reason: None,
            principal_header: X_MACHINE_ID,
            sent_header: None,
            principal: MACHINE_A.to_owned(),
            seed: Some(SEED_A),
            registered: public_b64(SEED_A),
            method: "GET".to_owned(),
            target: "/v1/secret/sk_a1b2c3d4e5".to_owned(),
            body: Vec::new(),
            ts: NOW.to_string(),
            nonce: b64_nonce(name),
            client_edit: None,
            sig: Sig::Honest,
            sig_bytes_edit: None,
            sig_text_edit: None,
            lowercase_names: false,
            drop_header: None,
            extra_header: None,
            repeat_header: None,
            replayed: false,
            seen_by_other: false,
        }
    }

    /// A valid machine POST of `body` to `target`.
    fn post(name: &'static str, comment: &'static str, target: &str, body: &str) -> Self {
        Self {
            method: "POST".to_owned(),
            target: target.to_owned(),
            body: body.as_bytes().to_vec(),
            ..Self::get(name, comment)
        }
    }

    fn with(mut self, edit: impl FnOnce(&mut Self)) -> Self {
        edit(&mut self);
        self
    }

    fn at(self, ts: i64) -> Self {
        self.with(|d| d.ts = ts.to_string())
    }

    fn to(self, target: &str) -> Self {
        self.with(|d| d.target = target.to_owned())
    }

    fn operator(self) -> Self {
        self.with(|d| {
            d.principal_header = X_OPERATOR_ID;
            d.principal = OPERATOR.to_owned();
        })
    }

    fn expect(mut self, expect: &'static str, reason: &'static str) -> Self {
        self.expect = expect;
        self.reason = Some(reason);
        self
    }

    fn client(mut self, edit: impl Fn(&mut Parts) + 'static) -> Self {
        self.client_edit = Some(Box::new(edit));
        self
    }

    fn render(&self) -> SigningCase {
        let sent = Parts {
            method: self.method.clone(),
            target: self.target.clone(),
            ts: self.ts.clone(),
            nonce: self.nonce.clone(),
            body: self.body.clone(),
            upper_hash: false,
            suffix: "",
        };
        let mut client = sent.clone();
        if let Some(edit) = &self.client_edit {
            edit(&mut client);
        }
        let client_string = client.string();

        let mut sig = match self.sig {
            Sig::Honest => honest_signature(
                self.seed.expect("an honest case has a seed"),
                &client,
                &client_string,
            )
            .to_vec(),
            Sig::NonCanonicalS => {
                let honest = honest_signature(self.seed.expect("seed"), &client, &client_string);
                let s_plus_l = add_le(&honest[32..], &ORDER_L);
                // With the top three bits clear, only a full `S < L` comparison catches it (the
                // old `s[31] & 0xe0` check does not), which is the point of the case.
                assert_eq!(
                    s_plus_l[31] & 0xe0,
                    0,
                    "S + L must stay below 2^253 for {}",
                    self.name
                );
                [&honest[..32], &s_plus_l[..]].concat()
            }
            Sig::SmallOrderR => {
                small_order_r_signature(self.seed.expect("seed"), &client_string).to_vec()
            }
            Sig::IdentityKeyForgery => {
                let r = curve25519_dalek::constants::ED25519_BASEPOINT_COMPRESSED.to_bytes();
                let mut s = [0u8; 32];
                s[0] = 1;
                [&r[..], &s[..]].concat()
            }
        };
        if let Some(edit) = self.sig_bytes_edit {
            sig = edit(sig);
        }
        let mut sig_text = STANDARD.encode(&sig);
        if let Some(edit) = self.sig_text_edit {
            let edited = edit(sig_text.clone());
            assert_ne!(
                edited, sig_text,
                "the signature edit of {} changed nothing",
                self.name
            );
            sig_text = edited;
        }

        let mut headers = Vec::new();
        if !self.body.is_empty() {
            // Not signed and not checked; present because real clients send it.
            headers.push(header("Content-Type", "application/json"));
        }
        headers.push(header(
            self.sent_header.unwrap_or(self.principal_header),
            &self.principal,
        ));
        headers.push(header("X-Timestamp", &self.ts));
        headers.push(header("X-Nonce", &self.nonce));
        headers.push(header("X-Signature", &sig_text));
        if let Some(drop) = self.drop_header {
            headers.retain(|h| h.name != drop);
        }
        if let Some(extra) = &self.extra_header {
            headers.push(extra.clone());
        }
        if let Some(name) = self.repeat_header {
            let again = headers
                .iter()
                .find(|h| h.name == name)
                .expect("the repeated header is sent")
                .clone();
            headers.push(again);
        }
        if self.lowercase_names {
            for h in &mut headers {
                h.name = h.name.to_ascii_lowercase();
            }
        }

        let verifier_string = verifier_string(&self.method, &self.target, &self.body, &headers);
        let client_signing_string =
            (verifier_string.as_deref() != Some(client_string.as_str())).then_some(client_string);

        let mut seen_nonces = Vec::new();
        if self.replayed {
            seen_nonces.push(SeenNonce {
                principal: self.principal.clone(),
                nonce: self.nonce.clone(),
            });
        }
        if self.seen_by_other {
            seen_nonces.push(SeenNonce {
                principal: MACHINE_B.to_owned(),
                nonce: self.nonce.clone(),
            });
        }

        let (body_utf8, body_hex) = match std::str::from_utf8(&self.body) {
            Ok(text) => (Some(text.to_owned()), None),
            Err(_) => (None, Some(hex::encode(&self.body))),
        };

        SigningCase {
            comment: self.comment.to_owned(),
            expect: self.expect,
            reason: self.reason,
            now: NOW,
            principal_header: self.principal_header,
            seed: self.seed.map(str::to_owned),
            public_key: self.registered.clone(),
            seen_nonces,
            request: Request {
                method: self.method.clone(),
                target: self.target.clone(),
                headers,
                body_utf8,
                body_hex,
            },
            body_sha256: sha256_hex(&self.body),
            signing_string: verifier_string,
            client_signing_string,
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

/// Signs `client_string`; when a conforming client could have built it, also signs through
/// `SignedHeaders::sign` and insists both agree, so the generator's own string formatting is
/// checked against the crate's.
fn honest_signature(hex_seed: &str, client: &Parts, client_string: &str) -> [u8; 64] {
    let seed = seed(hex_seed);
    let raw = seed.signing_key().sign(client_string.as_bytes()).to_bytes();
    if let Some(input) = client.conforming() {
        let headers = SignedHeaders::sign(
            &seed,
            &input.method,
            &input.path,
            &client.body,
            input.ts,
            &input.nonce,
        );
        assert_eq!(
            headers.signing_string, client_string,
            "generator and crate disagree on the signing string"
        );
        assert_eq!(
            headers.signature,
            STANDARD.encode(raw),
            "generator and crate disagree on the signature"
        );
    }
    raw
}

/// R = identity, S = k·a mod L with k = SHA-512(R ‖ A ‖ M): [S]B = R + [k]A holds, so only a
/// verifier that refuses a small-order R rejects it.
fn small_order_r_signature(hex_seed: &str, message: &str) -> [u8; 64] {
    let seed = seed(hex_seed);
    let public = seed.public_key();
    let expanded = Sha512::digest(seed.expose());
    let mut a = [0u8; 32];
    a.copy_from_slice(&expanded[..32]);
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    let a = Scalar::from_bytes_mod_order(a);
    let r = hex_array(IDENTITY_POINT);
    let mut h = Sha512::new();
    h.update(r);
    h.update(public.as_bytes());
    h.update(message.as_bytes());
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&h.finalize());
    let s = Scalar::from_bytes_mod_order_wide(&wide) * a;
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&r);
    out[32..].copy_from_slice(&s.to_bytes());
    out
}

fn hex_array(s: &str) -> [u8; 32] {
    hex::decode(s).expect("hex").try_into().expect("32 bytes")
}

/// The string a verifier builds from what it received, or `None` when a part is missing,
/// repeated or not canonical (the request is refused before any string is built).
fn verifier_string(method: &str, target: &str, body: &[u8], headers: &[Header]) -> Option<String> {
    let one = |name: &str| {
        let mut found = headers.iter().filter(|h| h.name.eq_ignore_ascii_case(name));
        match (found.next(), found.next()) {
            (Some(h), None) => Some(h.value.clone()),
            _ => None,
        }
    };
    let method = Method::parse(method).ok()?;
    let path = CanonicalPath::parse(target).ok()?;
    let ts = Timestamp::parse(&one("X-Timestamp")?).ok()?;
    let nonce = Nonce::parse(&one("X-Nonce")?).ok()?;
    Some(signing_string(
        &method,
        &path,
        ts,
        &nonce,
        &BodyHash::of(body),
    ))
}

fn drop_padding(s: String) -> String {
    s.trim_end_matches('=').to_owned()
}

fn url_safe(s: String) -> String {
    s.replace('+', "-").replace('/', "_")
}

fn flip_first_bit(mut sig: Vec<u8>) -> Vec<u8> {
    sig[0] ^= 0x01;
    sig
}

fn truncate_one(mut sig: Vec<u8>) -> Vec<u8> {
    sig.pop();
    sig
}

fn nonzero_trailing_bits(s: String) -> String {
    set_trailing_bit(&s)
}

/// Sets the lowest unused bit of the last base64 character. Decoders that ignore those bits read
/// the same bytes, so accepting the result would give one value two spellings.
fn set_trailing_bit(s: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let data = s.trim_end_matches('=');
    let pad = s.len() - data.len();
    let (head, last) = data.split_at(data.len() - 1);
    let index = ALPHABET
        .iter()
        .position(|c| *c == last.as_bytes()[0])
        .expect("base64 character");
    // The last character carries 2 data bits and 4 unused ones ("=="), or 4 and 2 ("="); the
    // lowest is unused either way.
    assert_eq!(index & 1, 0, "trailing bits were already set");
    format!("{head}{}{}", ALPHABET[index | 1] as char, "=".repeat(pad))
}

fn signing_cases() -> Vec<Draft> {
    const LIST_BODY: &str = r#"{"projectId": "proj_a1b2c3d4e5"}"#;
    let window = CLOCK_WINDOW_SECS;
    let mut c = Vec::new();

    // ---- valid -----------------------------------------------------------------------------
    c.push(Draft::get(
        "valid_get_empty_body_v1",
        "A machine reads one secret. GET has no body, so the last field is the SHA-256 of zero \
         bytes.",
    ));
    c.push(Draft::post(
        "valid_post_json_body_v1",
        "POST with the JSON body exactly as the Python SDK writes it (a space after ':'). The \
         hash covers these bytes; the server never re-serialises the JSON.",
        "/v1/secrets/list",
        LIST_BODY,
    ));
    c.push(Draft::post(
        "valid_post_empty_body_v1",
        "POST /v1/secrets/export without a project sends no body: the hash is that of zero \
         bytes, as for GET.",
        "/v1/secrets/export",
        "",
    ));
    c.push(
        Draft::get(
            "valid_hex_nonce_v1",
            "The nonce as 32 lower-case hex digits (16 bytes), the form some clients send. \
             Nonces are opaque text: never decoded.",
        )
        .with(|d| d.nonce = hex::encode(nonce_bytes(d.name))),
    );
    c.push(
        Draft::get(
            "valid_window_past_edge_v1",
            "Timestamp exactly 300 s before the verifier's clock: the window is inclusive.",
        )
        .at(NOW - window),
    );
    c.push(
        Draft::get(
            "valid_window_future_edge_v1",
            "Timestamp exactly 300 s after the verifier's clock: the window is inclusive.",
        )
        .at(NOW + window),
    );
    c.push(
        Draft::get(
            "valid_nonce_min_length_v1",
            "A 16-character nonce (the minimum) using every punctuation character the grammar \
             allows.",
        )
        .with(|d| d.nonce = "AZaz09+/=_-AZaz0".to_owned()),
    );
    c.push(
        Draft::get(
            "valid_nonce_max_length_v1",
            "A 64-character nonce, the maximum.",
        )
        .with(|d| d.nonce = hex::encode(nonce_bytes(d.name)).repeat(2)),
    );
    c.push(
        Draft::get(
            "valid_lowercase_header_names_v1",
            "Header names are case-insensitive (HTTP/2 sends them in lower case); only the \
             values are checked.",
        )
        .with(|d| d.lowercase_names = true),
    );
    c.push(
        Draft::get(
            "valid_percent_encoded_path_v1",
            "A percent-encoded UTF-8 path segment (upper-case hex) is signed exactly as sent, \
             still encoded. The signature layer is route-agnostic; routing comes after it.",
        )
        .to("/v1/secret/caf%C3%A9"),
    );
    c.push(
        Draft::get(
            "valid_encoded_reserved_v1",
            "%3A is an encoded ':', a reserved character. RFC 3986 §2.2 makes it a different \
             path from a raw ':', so it is neither refused nor decoded: signed as sent.",
        )
        .to("/v1/secret/sk_a1b2c3d4e5%3Av2"),
    );
    c.push(
        Draft::get(
            "valid_nonce_seen_by_other_principal_v1",
            "The same nonce was already used by another machine. Nonces are single-use per \
             (principal, nonce), not globally.",
        )
        .with(|d| d.seen_by_other = true),
    );
    c.push(
        Draft::post(
            "valid_operator_post_utf8_body_v1",
            "An operator signs admin requests the same way, with X-Operator-Id. The body \
             contains non-ASCII text: the hash covers its UTF-8 bytes as sent.",
            "/v1/admin/secrets",
            r#"{"projectId": "proj_a1b2c3d4e5", "name": "café-db", "value": "pässwörd"}"#,
        )
        .operator(),
    );
    c.push(
        Draft::get(
            "valid_second_key_v1",
            "A second machine with its own key (RFC 8032 TEST 2).",
        )
        .with(|d| {
            d.seed = Some(SEED_B);
            d.registered = public_b64(SEED_B);
            d.principal = MACHINE_B.to_owned();
        }),
    );
    c.push(
        Draft::post(
            "valid_non_utf8_body_v1",
            "The hash is over raw bytes, whatever they are: this body is not UTF-8 (given as \
             body_hex). The signature is valid; the handler may still refuse the body later.",
            "/v1/secrets/list",
            "",
        )
        .with(|d| d.body = vec![0xff, 0xfe, 0x00, 0x7b, 0x0a]),
    );

    // ---- bad_signature: the string the verifier builds is not the one that was signed -------
    c.push(
        Draft::post(
            "body_mismatch_v1",
            "The body was changed after signing (another project id).",
            "/v1/secrets/list",
            r#"{"projectId": "proj_z9y8x7w6v5"}"#,
        )
        .client(|p| p.body = LIST_BODY.as_bytes().to_vec())
        .expect("bad_signature", "body_mismatch"),
    );
    c.push(
        Draft::post(
            "body_reformatted_v1",
            "The client signed the spaced JSON but a proxy re-serialised it compactly. Same JSON \
             value, different bytes: the signature fails. Never re-serialise a signed body.",
            "/v1/secrets/list",
            r#"{"projectId":"proj_a1b2c3d4e5"}"#,
        )
        .client(|p| p.body = LIST_BODY.as_bytes().to_vec())
        .expect("bad_signature", "body_mismatch"),
    );
    c.push(
        Draft::get(
            "path_mismatch_v1",
            "The client signed one secret's path and the request asks for another.",
        )
        .client(|p| p.target = "/v1/secret/sk_z9y8x7w6v5".to_owned())
        .expect("bad_signature", "path_mismatch"),
    );
    c.push(
        Draft::get(
            "path_signed_decoded_v1",
            "The client signed the decoded path ('café') but sent it percent-encoded. The signed \
             path is the exact request target, encoded.",
        )
        .to("/v1/secret/caf%C3%A9")
        .client(|p| p.target = "/v1/secret/café".to_owned())
        .expect("bad_signature", "path_mismatch"),
    );
    c.push(
        Draft::post(
            "method_mismatch_v1",
            "Signed as GET, sent as POST (same path, empty body).",
            "/v1/secret/sk_a1b2c3d4e5",
            "",
        )
        .client(|p| p.method = "GET".to_owned())
        .expect("bad_signature", "method_mismatch"),
    );
    c.push(
        Draft::get(
            "timestamp_mismatch_v1",
            "X-Timestamp was changed by one second after signing; still inside the window, so \
             only the signature catches it.",
        )
        .at(NOW + 1)
        .client(|p| p.ts = NOW.to_string())
        .expect("bad_signature", "timestamp_mismatch"),
    );
    c.push(
        Draft::get(
            "nonce_mismatch_v1",
            "X-Nonce was replaced after signing (well-formed, unused).",
        )
        .client(|p| p.nonce = b64_nonce("nonce_mismatch_v1/signed"))
        .expect("bad_signature", "nonce_mismatch"),
    );
    c.push(
        Draft::get(
            "wrong_key_v1",
            "Signed with another machine's key (RFC 8032 TEST 2) while naming this machine.",
        )
        .with(|d| d.seed = Some(SEED_B))
        .expect("bad_signature", "wrong_key"),
    );
    c.push(
        Draft::get(
            "body_hash_uppercase_v1",
            "The client wrote the body hash in upper-case hex. The hash is lower-case hex only; \
             the verifier never accepts a second spelling.",
        )
        .client(|p| p.upper_hash = true)
        .expect("bad_signature", "signing_string_format"),
    );
    c.push(
        Draft::get(
            "signing_string_trailing_newline_v1",
            "The client signed the string with a trailing newline. The signed string has none.",
        )
        .client(|p| p.suffix = "\n")
        .expect("bad_signature", "signing_string_format"),
    );
    c.push(
        Draft::get("corrupted_signature_v1", "One bit of R flipped in transit.")
            .with(|d| d.sig_bytes_edit = Some(flip_first_bit))
            .expect("bad_signature", "corrupted_signature"),
    );
    c.push(
        Draft::get(
            "non_canonical_signature_v1",
            "The honest signature with S replaced by S + L (still below 2^253). The verification \
             equation holds, but S >= L is a second encoding of the same signature: \
             verify_strict refuses it.",
        )
        .with(|d| d.sig = Sig::NonCanonicalS)
        .expect("bad_signature", "non_canonical_signature"),
    );
    c.push(
        Draft::get(
            "small_order_r_v1",
            "R is the identity point and S = k*a, so [S]B = R + [k]A holds; verify_strict \
             refuses a small-order R.",
        )
        .with(|d| d.sig = Sig::SmallOrderR)
        .expect("bad_signature", "small_order_r"),
    );
    c.push(
        Draft::get(
            "small_order_key_v1",
            "Forgery without a private key: with the identity point as public key, R = B and \
             S = 1 satisfy the equation for every message. Registration refuses such a key; \
             verify_strict refuses it too, as defence in depth.",
        )
        .with(|d| {
            d.sig = Sig::IdentityKeyForgery;
            d.seed = None;
            d.registered = STANDARD.encode(hex_array(IDENTITY_POINT));
        })
        .expect("bad_signature", "small_order_key"),
    );

    // ---- malformed_request (400): the target is refused before authentication ---------------
    let path_cases: [(&str, &str, &str, &'static str); 21] = [
        (
            "query_string_v1",
            "Signed routes take no query string: 400, even though the client signed it.",
            "/v1/secrets?projectId=proj_a1b2c3d4e5",
            "query_string",
        ),
        (
            "query_string_empty_v1",
            "A bare '?' is a query string too.",
            "/v1/secrets?",
            "query_string",
        ),
        (
            "dot_segment_v1",
            "A '.' segment is refused, never resolved.",
            "/v1/./secrets",
            "dot_segment",
        ),
        (
            "dot_dot_segment_v1",
            "A '..' segment is refused, never resolved.",
            "/v1/secret/../secrets",
            "dot_segment",
        ),
        (
            "double_slash_v1",
            "An empty segment ('//') is refused, never merged.",
            "/v1//secrets",
            "double_slash",
        ),
        (
            "trailing_slash_v1",
            "A trailing slash is an empty last segment: refused, never stripped.",
            "/v1/secrets/",
            "trailing_slash",
        ),
        (
            "encoded_slash_v1",
            "%2F would hide a separator from one router and not another.",
            "/v1/secret%2Fsk_a1b2c3d4e5",
            "encoded_slash",
        ),
        (
            "encoded_percent_v1",
            "%25 invites double decoding.",
            "/v1/secret/sk_%2541",
            "encoded_percent",
        ),
        (
            "encoded_unreserved_v1",
            "%73 is 's', an unreserved character, which has one spelling: unencoded.",
            "/v1/secret/%73k_a1b2c3d4e5",
            "encoded_unreserved",
        ),
        (
            "encoded_dot_segment_v1",
            "%2E%2E is '..' in disguise; '.' is unreserved and is never encoded.",
            "/v1/%2E%2E/admin/vault",
            "encoded_unreserved",
        ),
        (
            "lowercase_percent_v1",
            "Percent-encoding uses upper-case hex; %c3%a9 is a second spelling of %C3%A9.",
            "/v1/secret/caf%c3%a9",
            "lowercase_percent",
        ),
        (
            "bad_percent_v1",
            "'%' must be followed by two hex digits.",
            "/v1/secret/sk_%zz",
            "bad_percent",
        ),
        (
            "truncated_percent_v1",
            "A '%' with one hex digit at the end of the path.",
            "/v1/secret/sk_%2",
            "bad_percent",
        ),
        (
            "encoded_nul_v1",
            "%00 is an encoded NUL. Encoded control characters (%00-%1F, %7F) are refused: they \
             name no resource and cut strings once decoded.",
            "/v1/secret/sk_a1b2c3d4e5%00",
            "encoded_control",
        ),
        (
            "encoded_newline_v1",
            "%0A is an encoded line feed, a way to split log lines or headers once decoded.",
            "/v1/secret/sk_a1b2c3d4e5%0A",
            "encoded_control",
        ),
        (
            "encoded_delete_v1",
            "%7F is an encoded DEL, the one control character above the printable range.",
            "/v1/secret/sk_a1b2c3d4e5%7F",
            "encoded_control",
        ),
        (
            "encoded_invalid_utf8_v1",
            "%FF can never occur in UTF-8. Encoded octets of 0x80 and above are allowed only as \
             UTF-8 (valid_percent_encoded_path_v1).",
            "/v1/secret/sk_%FF",
            "invalid_utf8",
        ),
        (
            "encoded_overlong_slash_v1",
            "%C0%AF is an overlong UTF-8 spelling of '/': a lenient decoder reads a separator \
             that %2F would not be allowed to carry. Not UTF-8, so refused.",
            "/v1/secret/sk_a1b2%C0%AFc3d4e5",
            "invalid_utf8",
        ),
        (
            "raw_utf8_path_v1",
            "Bytes outside the allowed set (here raw UTF-8) must be percent-encoded.",
            "/v1/secret/café",
            "disallowed_byte",
        ),
        (
            "backslash_path_v1",
            "A backslash is not a separator and is not allowed unencoded.",
            "/v1\\secrets",
            "disallowed_byte",
        ),
        (
            "absolute_form_target_v1",
            "An absolute-form request target: only origin-form ('/' and a path) is accepted.",
            "https://vault.example/v1/secrets",
            "not_origin_form",
        ),
    ];
    for (name, comment, target, reason) in path_cases {
        c.push(
            Draft::get(name, comment)
                .to(target)
                .expect("malformed_request", reason),
        );
    }

    // ---- unauthenticated (401): a header is missing, malformed, stale or replayed -----------
    c.push(
        Draft::get(
            "window_past_v1",
            "Timestamp 301 s before the verifier's clock: one second outside the window.",
        )
        .at(NOW - window - 1)
        .expect("unauthenticated", "window_past"),
    );
    c.push(
        Draft::get(
            "window_future_v1",
            "Timestamp 301 s after the verifier's clock: one second outside the window.",
        )
        .at(NOW + window + 1)
        .expect("unauthenticated", "window_future"),
    );
    let timestamp_cases = [
        (
            "timestamp_milliseconds_v1",
            "Milliseconds instead of seconds: 13 digits, more than the 12 allowed.",
            format!("{NOW}000"),
        ),
        (
            "timestamp_leading_zero_v1",
            "A leading zero is a second spelling of the same number.",
            format!("0{NOW}"),
        ),
        (
            "timestamp_plus_sign_v1",
            "No sign is allowed.",
            format!("+{NOW}"),
        ),
        (
            "timestamp_fraction_v1",
            "Whole seconds only.",
            format!("{NOW}.5"),
        ),
    ];
    for (name, comment, ts) in timestamp_cases {
        c.push(
            Draft::get(name, comment)
                .with(|d| d.ts = ts)
                .expect("unauthenticated", "timestamp_format"),
        );
    }
    c.push(
        Draft::get(
            "nonce_too_short_v1",
            "15 characters: one fewer than the minimum of 16.",
        )
        .with(|d| d.nonce.truncate(15))
        .expect("unauthenticated", "nonce_format"),
    );
    c.push(
        Draft::get(
            "nonce_too_long_v1",
            "65 characters: one more than the maximum of 64.",
        )
        .with(|d| d.nonce = format!("{}0", hex::encode(nonce_bytes(d.name)).repeat(2)))
        .expect("unauthenticated", "nonce_format"),
    );
    c.push(
        Draft::get(
            "nonce_colon_v1",
            "A ':' in the nonce would let one signing string be split into fields two ways.",
        )
        .with(|d| d.nonce = "c2lnbmV0:dmVjdG9y".to_owned())
        .expect("unauthenticated", "nonce_format"),
    );
    c.push(
        Draft::get(
            "signature_unpadded_v1",
            "The signature without its '==' padding.",
        )
        .with(|d| d.sig_text_edit = Some(drop_padding))
        .expect("unauthenticated", "signature_encoding"),
    );
    c.push(
        Draft::get(
            "signature_url_safe_v1",
            "The signature in the URL-safe alphabet ('-' and '_'); only the standard alphabet is \
             accepted.",
        )
        .with(|d| d.sig_text_edit = Some(url_safe))
        .expect("unauthenticated", "signature_encoding"),
    );
    c.push(
        Draft::get("signature_63_bytes_v1", "Valid base64, but of 63 bytes.")
            .with(|d| d.sig_bytes_edit = Some(truncate_one))
            .expect("unauthenticated", "signature_encoding"),
    );
    c.push(
        Draft::get(
            "signature_trailing_bits_v1",
            "The last base64 character has a non-zero padding bit: a second spelling of the same \
             64 bytes.",
        )
        .with(|d| d.sig_text_edit = Some(nonzero_trailing_bits))
        .expect("unauthenticated", "signature_encoding"),
    );
    c.push(
        Draft::get("missing_signature_header_v1", "No X-Signature header.")
            .with(|d| d.drop_header = Some("X-Signature"))
            .expect("unauthenticated", "missing_header"),
    );
    c.push(
        Draft::get("missing_timestamp_header_v1", "No X-Timestamp header.")
            .with(|d| d.drop_header = Some("X-Timestamp"))
            .expect("unauthenticated", "missing_header"),
    );
    c.push(
        Draft::post(
            "operator_route_machine_header_v1",
            "An admin route authenticates with X-Operator-Id only; a machine id in X-Machine-Id \
             does not authenticate there. principal_header names the header the route requires.",
            "/v1/admin/projects",
            r#"{"name": "payments"}"#,
        )
        .operator()
        .with(|d| {
            d.sent_header = Some(X_MACHINE_ID);
            d.principal = MACHINE_A.to_owned();
        })
        .expect("unauthenticated", "missing_header"),
    );
    c.push(
        Draft::get(
            "duplicate_nonce_header_v1",
            "X-Nonce sent twice. Each authentication header must appear exactly once; a verifier \
             never picks one.",
        )
        .with(|d| d.extra_header = Some(header("X-Nonce", &b64_nonce("duplicate/second"))))
        .expect("unauthenticated", "duplicate_header"),
    );
    let repeated = [
        (
            "duplicate_machine_id_header_v1",
            "X-Machine-Id sent twice with the same value. A repeated authentication header is \
             refused even when both copies agree: the rule is 'exactly once', not 'consistent'.",
            X_MACHINE_ID,
        ),
        (
            "duplicate_timestamp_header_v1",
            "X-Timestamp sent twice with the same value: refused, never merged or picked.",
            "X-Timestamp",
        ),
        (
            "duplicate_signature_header_v1",
            "X-Signature sent twice with the same (valid) value: refused, never merged or picked.",
            "X-Signature",
        ),
    ];
    for (name, comment, repeat) in repeated {
        c.push(
            Draft::get(name, comment)
                .with(|d| d.repeat_header = Some(repeat))
                .expect("unauthenticated", "duplicate_header"),
        );
    }
    c.push(
        Draft::get(
            "machine_id_uppercase_v1",
            "The machine id in upper case. Ids have one spelling (lower-case hyphenated UUID) \
             because the nonce store is keyed on it.",
        )
        .with(|d| d.principal = MACHINE_A.to_ascii_uppercase())
        .expect("unauthenticated", "principal_format"),
    );
    c.push(
        Draft::get(
            "replay_v1",
            "A valid request whose (principal, nonce) is already recorded: a replay inside the \
             window.",
        )
        .with(|d| d.replayed = true)
        .expect("unauthenticated", "replay"),
    );
    c
}

// ---------------------------------------------------------------------------------------------
// Public-key registration cases.

/// One of the four points of order 8 (the other three are its negation and the sign variants).
const ORDER_8_POINT: &str = "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05";

fn key_accept(comment: &str, raw: [u8; 32], seed: Option<&str>) -> KeyCase {
    let fingerprint = PublicKey::from_bytes(&raw)
        .ok()
        .map(|k| k.fingerprint().to_string());
    if fingerprint.is_none() {
        // The consumer test will report the failed expectation; the file still states the spec.
        eprintln!(
            "warning: the implementation refuses a key the vectors accept: {}",
            hex::encode(raw)
        );
    }
    KeyCase {
        comment: comment.to_owned(),
        expect: "accept",
        reason: None,
        public_key: STANDARD.encode(raw),
        raw_hex: Some(hex::encode(raw)),
        seed: seed.map(str::to_owned),
        order: None,
        fingerprint,
    }
}

fn key_reject(comment: &str, raw_hex: &str, reason: &'static str, order: Option<u8>) -> KeyCase {
    KeyCase {
        comment: comment.to_owned(),
        expect: "reject",
        reason: Some(reason),
        public_key: STANDARD.encode(hex::decode(raw_hex).expect("hex")),
        raw_hex: Some(raw_hex.to_owned()),
        seed: None,
        order,
        fingerprint: None,
    }
}

fn key_bad_text(comment: &str, text: String) -> KeyCase {
    KeyCase {
        comment: comment.to_owned(),
        expect: "reject",
        reason: Some("encoding"),
        public_key: text,
        raw_hex: None,
        seed: None,
        order: None,
        fingerprint: None,
    }
}

/// TEST 1's public key plus the small-order point `torsion_hex`, as hex.
fn mixed_order_key(torsion_hex: &str) -> String {
    let a = CompressedEdwardsY(*seed(SEED_A).public_key().as_bytes())
        .decompress()
        .expect("TEST 1 key decompresses");
    let t = CompressedEdwardsY(hex_array(torsion_hex))
        .decompress()
        .expect("small-order point decompresses");
    assert!(
        !t.is_identity() && t.is_small_order(),
        "not a torsion point"
    );
    hex::encode((a + t).compress().to_bytes())
}

fn key_cases() -> Vec<(&'static str, KeyCase)> {
    let raw_a = *seed(SEED_A).public_key().as_bytes();
    let raw_b = *seed(SEED_B).public_key().as_bytes();
    let b64_a = STANDARD.encode(raw_a);

    // ---- accepted ----------------------------------------------------------------------------
    let mut c = vec![
        (
            "key_rfc8032_test1_v1",
            key_accept(
                "The RFC 8032 §7.1 TEST 1 public key, derived from its published seed.",
                raw_a,
                Some(SEED_A),
            ),
        ),
        (
            "key_rfc8032_test2_v1",
            key_accept(
                "The RFC 8032 §7.1 TEST 2 public key, derived from its published seed.",
                raw_b,
                Some(SEED_B),
            ),
        ),
    ];

    // ---- mixed order: not small, but with a torsion component, so [L]A != identity ---------
    let mixed: [(&'static str, String, &str); 4] = [
        (
            "key_mixed_order_v1",
            mixed_order_key(ORDER_8_POINT),
            "TEST 1's key plus a point of order 8: canonical and not of small order, but not in \
             the prime-order subgroup ([L]A is the order-8 point, not the identity). A key made \
             from a seed never has a torsion component. verify_strict accepts such a key, and \
             cofactored and cofactorless verifiers disagree about it, so registration refuses it.",
        ),
        (
            "key_mixed_order_4_v1",
            mixed_order_key("0000000000000000000000000000000000000000000000000000000000000000"),
            "TEST 1's key plus a point of order 4 (y = 0): [L]A has order 4. Refused.",
        ),
        (
            "key_mixed_order_2_v1",
            mixed_order_key("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
            "TEST 1's key plus the point of order 2, (0, -1): [L]A has order 2. Refused.",
        ),
        (
            "key_canonical_y3_v1",
            "0300000000000000000000000000000000000000000000000000000000000000".to_owned(),
            "y = 3, canonically encoded: a point of order 8L, neither small nor in the \
             prime-order subgroup. Refused as mixed order. Its non-canonical spelling \
             (y = p + 3) is key_non_canonical_y_p_plus_3_v1.",
        ),
    ];
    for (name, raw_hex, comment) in mixed {
        c.push((name, key_reject(comment, &raw_hex, "mixed_order", None)));
    }

    // ---- small order: the eight torsion points, canonically encoded -------------------------
    let torsion: [(&'static str, &str, &str, u8); 8] = [
        (
            "key_small_order_1_v1",
            "The identity point (0, 1).",
            IDENTITY_POINT,
            1,
        ),
        (
            "key_small_order_2_v1",
            "The point (0, -1).",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            2,
        ),
        (
            "key_small_order_4a_v1",
            "y = 0, x even.",
            "0000000000000000000000000000000000000000000000000000000000000000",
            4,
        ),
        (
            "key_small_order_4b_v1",
            "y = 0, x odd.",
            "0000000000000000000000000000000000000000000000000000000000000080",
            4,
        ),
        (
            "key_small_order_8a_v1",
            "A point of order 8.",
            ORDER_8_POINT,
            8,
        ),
        (
            "key_small_order_8b_v1",
            "The negation of key_small_order_8a_v1.",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
            8,
        ),
        (
            "key_small_order_8c_v1",
            "A point of order 8.",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
            8,
        ),
        (
            "key_small_order_8d_v1",
            "The negation of key_small_order_8c_v1.",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
            8,
        ),
    ];
    for (name, what, raw_hex, order) in torsion {
        let comment = format!(
            "{what} Order {order}: with a small-order public key one signature can verify for \
             many messages, so registration refuses it."
        );
        c.push((
            name,
            key_reject(&comment, raw_hex, "small_order", Some(order)),
        ));
    }

    // ---- not canonical, or not a point ------------------------------------------------------
    let non_canonical: [(&'static str, &str, &str, &'static str); 7] = [
        (
            "key_non_canonical_y_p_v1",
            "y = p, which reduces to 0: a second spelling of an order-4 point. Non-canonical \
             encodings are refused before the order is looked at.",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "non_canonical",
        ),
        (
            "key_non_canonical_y_p_plus_1_v1",
            "y = p + 1, which reduces to 1: a second spelling of the identity point.",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "non_canonical",
        ),
        (
            "key_non_canonical_negative_zero_v1",
            "The identity point with the sign bit set: x = 0 has no negative, so its canonical \
             sign bit is 0.",
            "0100000000000000000000000000000000000000000000000000000000000080",
            "non_canonical",
        ),
        (
            "key_non_canonical_order_2_sign_v1",
            "(0, -1) with the sign bit set: x = 0, so the sign bit must be 0.",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            "non_canonical",
        ),
        (
            "key_non_canonical_y_p_plus_3_v1",
            "y = p + 3: a second spelling of the point of key_canonical_y3_v1, which is of \
             mixed order. The encoding is checked first, so the reason is non_canonical.",
            "f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "non_canonical",
        ),
        (
            "key_non_canonical_y_max_v1",
            "y = 2^255 - 1 = p + 18, the largest 255-bit value. A point with y = 18 exists (of \
             mixed order); the encoding is checked first, so the reason is non_canonical.",
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "non_canonical",
        ),
        (
            "key_not_on_curve_v1",
            "y = 2: no x satisfies the curve equation.",
            "0200000000000000000000000000000000000000000000000000000000000000",
            "not_on_curve",
        ),
    ];
    for (name, comment, raw_hex, reason) in non_canonical {
        c.push((name, key_reject(comment, raw_hex, reason, None)));
    }

    // ---- not the registration form: standard padded base64 of exactly 32 bytes -------------
    let spki = [
        &hex::decode("302a300506032b6570032100").expect("hex")[..],
        &raw_a[..],
    ]
    .concat();
    let encodings: [(&'static str, &str, String); 9] = [
        (
            "key_unpadded_v1",
            "TEST 1's key without its '=' padding.",
            b64_a.trim_end_matches('=').to_owned(),
        ),
        (
            "key_url_safe_v1",
            "TEST 1's key in the URL-safe alphabet ('_' for '/').",
            url_safe(b64_a.clone()),
        ),
        (
            "key_trailing_newline_v1",
            "TEST 1's key followed by a newline, as a shell might leave it.",
            format!("{b64_a}\n"),
        ),
        (
            "key_trailing_bits_v1",
            "TEST 1's key with a non-zero padding bit in the last character: a second spelling of \
             the same bytes.",
            set_trailing_bit(&b64_a),
        ),
        (
            "key_31_bytes_v1",
            "31 bytes: one short.",
            STANDARD.encode(&raw_a[..31]),
        ),
        (
            "key_33_bytes_v1",
            "33 bytes: one too many.",
            STANDARD.encode([&raw_a[..], &[0u8]].concat()),
        ),
        ("key_empty_v1", "An empty string.", String::new()),
        (
            "key_hex_v1",
            "The key in hex: every character is in the base64 alphabet, but it decodes to 48 \
             bytes.",
            hex::encode(raw_a),
        ),
        (
            "key_spki_der_v1",
            "The SubjectPublicKeyInfo DER (what `openssl pkey -pubout -outform DER` writes) \
             instead of the raw 32 bytes.",
            STANDARD.encode(spki),
        ),
    ];
    for (name, comment, text) in encodings {
        c.push((name, key_bad_text(comment, text)));
    }
    c
}

// ---------------------------------------------------------------------------------------------
// Identity files.

fn identity_case(hex_seed: &str, machine: &str, machine_name: &str, comment: &str) -> IdentityCase {
    let seed = seed(hex_seed);
    let public = seed.public_key();
    let pem = seed.to_pkcs8_pem().expect("PKCS#8 PEM");
    let identity = Identity {
        machine_id: MachineId::parse(machine).expect("machine id"),
        machine_name: machine_name.to_owned(),
        vault_id: VaultId::parse(VAULT).expect("vault id"),
        api_url: "https://signet.example".to_owned(),
        private_key_path: format!("/home/signet/.signet/vaults/{VAULT}/private.pem"),
    };
    IdentityCase {
        comment: comment.to_owned(),
        seed: hex_seed.to_owned(),
        public_key: public.to_base64(),
        fingerprint: public.fingerprint().to_string(),
        private_pem: pem.as_str().to_owned(),
        identity_json: identity.to_json(),
    }
}

fn identity_cases() -> Vec<(&'static str, IdentityCase)> {
    vec![
        (
            "identity_rfc8032_test1_v1",
            identity_case(
                SEED_A,
                MACHINE_A,
                "web-1",
                "The files a machine keeps for the RFC 8032 TEST 1 seed: private.pem (PKCS#8 v1, \
                 no public key, as `openssl genpkey -algorithm Ed25519` writes), the registration \
                 form of its public key, its fingerprint, and identity.json.",
            ),
        ),
        (
            "identity_rfc8032_test2_v1",
            identity_case(
                SEED_B,
                MACHINE_B,
                "batch-worker-2",
                "The same for the RFC 8032 TEST 2 seed.",
            ),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Enrollment proofs.

/// A bootstrap token (`sgb_` and 64 hex digits); fixed, so the vectors are.
const BOOTSTRAP_TOKEN: &str =
    "sgb_0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// An enrollment token (`sge_` and 64 hex digits).
const ENROLLMENT_TOKEN: &str =
    "sge_a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8e9f";
/// Another vault, for proofs made for the wrong one.
const OTHER_VAULT: &str = "vault_Zz9Yy8Xx7Ww6Vv5U";

#[derive(Serialize)]
struct EnrollmentCase {
    comment: String,
    expect: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    now: i64,
    route: &'static str,
    seed: String,
    vault_id: Option<String>,
    token: Option<String>,
    token_sha256: Option<String>,
    public_key: String,
    timestamp: i64,
    proof: String,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_message: Option<String>,
}

/// What a client signed: the route's vault and token as it saw them, and the key it named.
struct Signed<'a> {
    vault: Option<&'a str>,
    token: Option<&'a str>,
    key_seed: &'a str,
    ts: i64,
}

/// One enrollment case: the verifier's view (`route`'s vault, the token and key sent) and, when
/// it differs, the client's (`signed`). `seed` signs; `tamper` alters the signature text.
#[allow(clippy::too_many_arguments)]
fn enrollment_case(
    comment: &str,
    reason: Option<&'static str>,
    route: &'static str,
    sent_token: Option<&str>,
    sent_key_seed: &str,
    signer: &str,
    signed: &Signed<'_>,
    tamper: fn(Vec<u8>) -> String,
) -> EnrollmentCase {
    let vault_of = |v: Option<&str>| v.map(|v| VaultId::parse(v).expect("vault id"));
    let route_vault = match route {
        "bootstrap" => None,
        _ => Some(VAULT),
    };
    let ts = Timestamp::from_secs(signed.ts);
    let client_message = proof_message(
        vault_of(signed.vault).as_ref(),
        signed.token,
        &seed(signed.key_seed).public_key(),
        ts,
    );
    let message = proof_message(
        vault_of(route_vault).as_ref(),
        sent_token,
        &seed(sent_key_seed).public_key(),
        ts,
    );
    // The crate's signer when the client signed its own key's string; a raw signature when it
    // names another key (the attack a proof exists to stop).
    let raw = if signer == signed.key_seed {
        let p = EnrollmentProof::sign(
            &seed(signer),
            vault_of(signed.vault).as_ref(),
            signed.token,
            ts,
        );
        assert_eq!(
            p.verify(
                &seed(signer).public_key(),
                vault_of(signed.vault).as_ref(),
                signed.token,
                signed.ts,
            ),
            Ok(()),
            "the crate's proof verifies"
        );
        STANDARD.decode(p.signature.to_base64()).expect("base64")
    } else {
        seed(signer)
            .signing_key()
            .sign(client_message.as_bytes())
            .to_bytes()
            .to_vec()
    };
    EnrollmentCase {
        comment: comment.to_owned(),
        expect: if reason.is_some() { "invalid" } else { "valid" },
        reason,
        now: NOW,
        route,
        seed: signer.to_owned(),
        vault_id: route_vault.map(str::to_owned),
        token: sent_token.map(str::to_owned),
        token_sha256: sent_token.map(token_digest),
        public_key: public_b64(sent_key_seed),
        timestamp: signed.ts,
        proof: tamper(raw),
        client_message: (client_message != message).then_some(client_message),
        message,
    }
}

fn enrollment_cases() -> Vec<(&'static str, EnrollmentCase)> {
    let honest = |v: Vec<u8>| STANDARD.encode(v);
    let unpadded = |v: Vec<u8>| drop_padding(STANDARD.encode(v));
    let corrupted = |mut v: Vec<u8>| {
        v[32] ^= 0x01;
        STANDARD.encode(v)
    };
    let s_plus_l = |v: Vec<u8>| {
        let mut out = v[..32].to_vec();
        out.extend_from_slice(&add_le(&v[32..], &ORDER_L));
        STANDARD.encode(out)
    };
    let register = |ts| Signed {
        vault: Some(VAULT),
        token: Some(ENROLLMENT_TOKEN),
        key_seed: SEED_A,
        ts,
    };
    vec![
        (
            "valid_register_v1",
            enrollment_case(
                "An enrollment-token registration (POST /v1/{vaultId}/enroll/register): the new key \
                 signs the vault in the route, the token's SHA-256, itself and the time.",
                None,
                "register",
                Some(ENROLLMENT_TOKEN),
                SEED_A,
                SEED_A,
                &register(NOW),
                honest,
            ),
        ),
        (
            "valid_bootstrap_v1",
            enrollment_case(
                "A bootstrap registration (POST /v1/enroll/bootstrap): the token names the vault and \
                 the machine does not know it yet, so the vault field is empty.",
                None,
                "bootstrap",
                Some(BOOTSTRAP_TOKEN),
                SEED_B,
                SEED_B,
                &Signed {
                    vault: None,
                    token: Some(BOOTSTRAP_TOKEN),
                    key_seed: SEED_B,
                    ts: NOW,
                },
                honest,
            ),
        ),
        (
            "valid_request_v1",
            enrollment_case(
                "A tokenless request (POST /v1/{vaultId}/enroll/request): no token, so the token \
                 field is empty.",
                None,
                "request",
                None,
                SEED_A,
                SEED_A,
                &Signed {
                    vault: Some(VAULT),
                    token: None,
                    key_seed: SEED_A,
                    ts: NOW,
                },
                honest,
            ),
        ),
        (
            "valid_window_edge_v1",
            enrollment_case(
                "A timestamp exactly 300 s behind the verifier's clock is still inside the window.",
                None,
                "register",
                Some(ENROLLMENT_TOKEN),
                SEED_A,
                SEED_A,
                &register(NOW - CLOCK_WINDOW_SECS),
                honest,
            ),
        ),
        (
            "wrong_key_v1",
            enrollment_case(
                "The attack: a token holder registers someone else's public key (TEST 2's) and signs \
                 the proof string naming it with their own key (TEST 1's). Only the named key's \
                 private half can make a proof that verifies.",
                Some("wrong_key"),
                "register",
                Some(ENROLLMENT_TOKEN),
                SEED_B,
                SEED_A,
                &Signed {
                    vault: Some(VAULT),
                    token: Some(ENROLLMENT_TOKEN),
                    key_seed: SEED_B,
                    ts: NOW,
                },
                honest,
            ),
        ),
        (
            "wrong_token_v1",
            enrollment_case(
                "A proof made for another token (a bootstrap token's) replayed with this one.",
                Some("wrong_token"),
                "register",
                Some(ENROLLMENT_TOKEN),
                SEED_A,
                SEED_A,
                &Signed {
                    vault: Some(VAULT),
                    token: Some(BOOTSTRAP_TOKEN),
                    key_seed: SEED_A,
                    ts: NOW,
                },
                honest,
            ),
        ),
        (
            "wrong_vault_v1",
            enrollment_case(
                "A proof made for another vault, sent to this one with the same token.",
                Some("wrong_vault"),
                "register",
                Some(ENROLLMENT_TOKEN),
                SEED_A,
                SEED_A,
                &Signed {
                    vault: Some(OTHER_VAULT),
                    token: Some(ENROLLMENT_TOKEN),
                    key_seed: SEED_A,
                    ts: NOW,
                },
                honest,
            ),
        ),
        (
            "bootstrap_proof_on_register_v1",
            enrollment_case(
                "A proof with an empty vault field (the bootstrap route's) sent to a route that \
                 names a vault: the verifier signs the route's vault in, so it does not verify.",
                Some("wrong_vault"),
                "register",
                Some(ENROLLMENT_TOKEN),
                SEED_A,
                SEED_A,
                &Signed {
                    vault: None,
                    token: Some(ENROLLMENT_TOKEN),
                    key_seed: SEED_A,
                    ts: NOW,
                },
                honest,
            ),
        ),
        (
            "window_past_v1",
            enrollment_case(
                "An honest proof 301 s old: outside the window, refused before the signature is \
                 checked.",
                Some("window_past"),
                "register",
                Some(ENROLLMENT_TOKEN),
                SEED_A,
                SEED_A,
                &register(NOW - CLOCK_WINDOW_SECS - 1),
                honest,
            ),
        ),
        (
            "window_future_v1",
            enrollment_case(
                "An honest proof dated 301 s ahead of the verifier's clock.",
                Some("window_future"),
                "register",
                Some(ENROLLMENT_TOKEN),
                SEED_A,
                SEED_A,
                &register(NOW + CLOCK_WINDOW_SECS + 1),
                honest,
            ),
        ),
        (
            "signature_encoding_v1",
            enrollment_case(
                "The honest signature without its base64 padding: only the canonical padded form \
                 of 64 bytes is accepted.",
                Some("signature_encoding"),
                "register",
                Some(ENROLLMENT_TOKEN),
                SEED_A,
                SEED_A,
                &register(NOW),
                unpadded,
            ),
        ),
        (
            "corrupted_signature_v1",
            enrollment_case(
                "The honest signature with one bit of S flipped.",
                Some("corrupted_signature"),
                "register",
                Some(ENROLLMENT_TOKEN),
                SEED_A,
                SEED_A,
                &register(NOW),
                corrupted,
            ),
        ),
        (
            "non_canonical_signature_v1",
            enrollment_case(
                "The honest signature with S + L (malleated): it satisfies the verification \
                 equation, but S >= L is refused, as by verify_strict.",
                Some("non_canonical_signature"),
                "register",
                Some(ENROLLMENT_TOKEN),
                SEED_A,
                SEED_A,
                &register(NOW),
                s_plus_l,
            ),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Output.

fn pretty<T: Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("vectors serialise");
    text.push('\n');
    text
}

/// Every file, as (path relative to the output directory, contents).
fn all_files() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for draft in signing_cases() {
        files.push((
            Path::new("signing").join(format!("{}.json", draft.name)),
            pretty(&draft.render()),
        ));
    }
    for (name, case) in key_cases() {
        files.push((
            Path::new("keys").join(format!("{name}.json")),
            pretty(&case),
        ));
    }
    for (name, case) in identity_cases() {
        files.push((
            Path::new("identity").join(format!("{name}.json")),
            pretty(&case),
        ));
    }
    for (name, case) in enrollment_cases() {
        files.push((
            Path::new("enrollment").join(format!("{name}.json")),
            pretty(&case),
        ));
    }
    let names: BTreeSet<&PathBuf> = files.iter().map(|(p, _)| p).collect();
    assert_eq!(names.len(), files.len(), "two cases share a name");
    assert!(
        files
            .iter()
            .all(|(p, _)| p.to_string_lossy().ends_with("_v1.json")),
        "every vector name ends in _v1"
    );
    files
}

fn run(out: &Path, check: bool) -> Result<usize, Box<dyn std::error::Error>> {
    let files = all_files();
    let mut problems = 0;
    for (rel, contents) in &files {
        let path = out.join(rel);
        if check {
            match std::fs::read_to_string(&path) {
                Ok(existing) if existing == *contents => {}
                Ok(_) => {
                    eprintln!("differs: {}", path.display());
                    problems += 1;
                }
                Err(e) => {
                    eprintln!("missing: {} ({e})", path.display());
                    problems += 1;
                }
            }
        } else {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, contents)?;
        }
    }
    // Hand-written or imported vectors may live beside the generated ones; name them, never
    // delete them.
    let ours: BTreeSet<PathBuf> = files.iter().map(|(p, _)| out.join(p)).collect();
    for dir in ["signing", "keys", "identity", "enrollment"] {
        let Ok(entries) = std::fs::read_dir(out.join(dir)) else {
            continue;
        };
        let mut others: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json") && !ours.contains(p))
            .collect();
        others.sort();
        for p in others {
            eprintln!("not generated here (left as is): {}", p.display());
        }
    }
    println!(
        "gen_vectors: {} files {}",
        files.len(),
        if check { "checked" } else { "written" }
    );
    Ok(problems)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.iter().any(|a| a == "--check");
    let dirs: Vec<&String> = args.iter().filter(|a| *a != "--check").collect();
    let [out] = dirs[..] else {
        eprintln!("usage: gen_vectors <testdata/vectors> [--check]");
        return ExitCode::from(2);
    };
    let out = PathBuf::from(out);
    match run(&out, check) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(n) => {
            eprintln!("gen_vectors: {n} files differ from what the implementation generates");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("gen_vectors: {e}");
            ExitCode::FAILURE
        }
    }
}
