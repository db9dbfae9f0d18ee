//! A test OIDC issuer: a real HTTP server on loopback serving a discovery document and a JWKS,
//! minting platform tokens with RS256, ES256 and EdDSA keys, rotating keys, and crafting the
//! bad tokens a verifier must refuse (`alg: none`, HS256 keyed with a public key, unknown
//! `kid`, a broken signature). It also plays GitHub's token-request endpoint
//! (`ACTIONS_ID_TOKEN_REQUEST_URL`), answering `{"value": token}` to the right bearer.
//!
//! The issuer URL is `http://127.0.0.1:PORT`, so the server under test needs
//! `oidc_allow_cidrs = ["127.0.0.0/8"]` (plain http only to an allowed loopback address).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// The kinds of key the issuer signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA 2048, `RS256`.
    Rs256,
    /// P-256, `ES256`.
    Es256,
    /// Ed25519, `EdDSA`.
    EdDsa,
}

impl KeyKind {
    /// The `alg` it signs with.
    pub fn alg(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }
}

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

struct Key {
    kid: String,
    kind: KeyKind,
    signer: Signer,
    jwk: Value,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64_json(v: &Value) -> String {
    b64(&serde_json::to_vec(v).unwrap())
}

impl Key {
    fn generate(kind: KeyKind, kid: &str) -> Self {
        let (signer, jwk) = match kind {
            KeyKind::Rs256 => {
                let k = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
                let p = k.public_key();
                let jwk = json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                    "n": b64(p.modulus().big_endian_without_leading_zero()),
                    "e": b64(p.exponent().big_endian_without_leading_zero())});
                (Signer::Rsa(k), jwk)
            }
            KeyKind::Es256 => {
                let k = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
                let point = k.public_key().as_ref().to_vec();
                let jwk = json!({"kty": "EC", "kid": kid, "crv": "P-256",
                    "x": b64(&point[1..33]), "y": b64(&point[33..65])});
                (Signer::Ec(k), jwk)
            }
            KeyKind::EdDsa => {
                let k = Ed25519KeyPair::generate().unwrap();
                let jwk = json!({"kty": "OKP", "kid": kid, "crv": "Ed25519",
                    "x": b64(k.public_key().as_ref())});
                (Signer::Ed(k), jwk)
            }
        };
        Self {
            kid: kid.to_owned(),
            kind,
            signer,
            jwk,
        }
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, input, &mut sig).unwrap();
                sig
            }
            Signer::Ec(k) => k.sign(&rng, input).unwrap().as_ref().to_vec(),
            Signer::Ed(k) => k.sign(input).as_ref().to_vec(),
        }
    }
}

struct State {
    /// Published keys.
    keys: Vec<Key>,
    /// Keys that sign but are not published (for an unknown `kid`).
    hidden: Vec<Key>,
    /// GitHub's endpoint: the bearer it wants, the claims it signs and the key.
    github: Option<(String, Value, String)>,
    next: u32,
}

/// The issuer; stops serving when dropped.
pub struct TestIssuer {
    url: String,
    state: Arc<Mutex<State>>,
    jwks_fetches: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Now, Unix seconds.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

impl TestIssuer {
    /// Starts serving with one published key of each kind: kids `rs-1`, `es-1`, `ed-1`.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        let state = Arc::new(Mutex::new(State {
            keys: vec![
                Key::generate(KeyKind::Rs256, "rs-1"),
                Key::generate(KeyKind::Es256, "es-1"),
                Key::generate(KeyKind::EdDsa, "ed-1"),
            ],
            hidden: Vec::new(),
            github: None,
            next: 2,
        }));
        let jwks_fetches = Arc::new(AtomicU32::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, fetches, stop, url) = (
                state.clone(),
                jwks_fetches.clone(),
                stop.clone(),
                url.clone(),
            );
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    Self::serve(&mut stream, &state, &fetches, &url);
                }
            })
        };
        Self {
            url,
            state,
            jwks_fetches,
            stop,
            thread: Some(thread),
        }
    }

    fn serve(stream: &mut TcpStream, state: &Mutex<State>, fetches: &AtomicU32, url: &str) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let target = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let mut authorization = String::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some((name, value)) = h.split_once(':')
                && name.eq_ignore_ascii_case("authorization")
            {
                authorization = value.trim().to_owned();
            }
        }
        let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
        match path {
            "/.well-known/openid-configuration" => {
                let doc = json!({"issuer": url, "jwks_uri": format!("{url}/jwks"),
                    "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"]});
                respond(stream, "200 OK", &doc.to_string());
            }
            "/jwks" => {
                fetches.fetch_add(1, Ordering::SeqCst);
                let keys: Vec<Value> = state
                    .lock()
                    .unwrap()
                    .keys
                    .iter()
                    .map(|k| k.jwk.clone())
                    .collect();
                respond(stream, "200 OK", &json!({ "keys": keys }).to_string());
            }
            "/github/token" => {
                let s = state.lock().unwrap();
                let Some((bearer, claims, kid)) = s.github.clone() else {
                    return respond(stream, "404 Not Found", "{}");
                };
                if !authorization.eq_ignore_ascii_case(&format!("bearer {bearer}")) {
                    return respond(stream, "401 Unauthorized", "{}");
                }
                let mut claims = claims;
                if let Some(aud) = query.split('&').find_map(|p| p.strip_prefix("audience=")) {
                    claims["aud"] = json!(aud);
                }
                let token = Self::mint_locked(&s, &kid, &claims);
                respond(stream, "200 OK", &json!({ "value": token }).to_string());
            }
            _ => respond(stream, "404 Not Found", "{}"),
        }
        let _ = reader.read(&mut [0; 0]);
    }

    /// The issuer URL (`iss`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The published key set.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .state
            .lock()
            .unwrap()
            .keys
            .iter()
            .map(|k| k.jwk.clone())
            .collect();
        json!({ "keys": keys })
    }

    /// How many times the key set was fetched.
    pub fn jwks_fetches(&self) -> u32 {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Replaces the published key of `kind` with a new one; returns its kid. Tokens signed by
    /// the old key no longer verify.
    pub fn rotate(&self, kind: KeyKind) -> String {
        let mut s = self.state.lock().unwrap();
        let kid = format!("{}-{}", &kind.alg()[..2].to_ascii_lowercase(), s.next);
        s.next += 1;
        s.keys.retain(|k| k.kind != kind);
        s.keys.push(Key::generate(kind, &kid));
        kid
    }

    /// A key that signs but is not published; returns its kid.
    pub fn hidden_key(&self, kind: KeyKind) -> String {
        let mut s = self.state.lock().unwrap();
        let kid = format!("hidden-{}", s.next);
        s.next += 1;
        s.hidden.push(Key::generate(kind, &kid));
        kid
    }

    /// The published kid of `kind`.
    pub fn kid(&self, kind: KeyKind) -> String {
        self.state
            .lock()
            .unwrap()
            .keys
            .iter()
            .find(|k| k.kind == kind)
            .unwrap()
            .kid
            .clone()
    }

    /// Claims as a CI platform would issue them: this issuer, `aud`, valid from a second ago
    /// for five minutes, a fresh `jti`, and `extra` on top.
    pub fn claims(&self, aud: &str, extra: Value) -> Value {
        let now = now_secs();
        let mut jti = [0u8; 12];
        getrandom::fill(&mut jti).unwrap();
        let mut c = json!({"iss": self.url, "aud": aud, "iat": now - 1, "nbf": now - 1,
            "exp": now + 300, "jti": hex::encode(jti), "sub": "repo:acme/api:ref:refs/heads/main"});
        if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), extra) {
            c.extend(extra);
        }
        c
    }

    fn mint_locked(s: &State, kid: &str, claims: &Value) -> String {
        let key = s
            .keys
            .iter()
            .chain(s.hidden.iter())
            .find(|k| k.kid == kid)
            .unwrap();
        let header = json!({"alg": key.kind.alg(), "kid": kid, "typ": "JWT"});
        Self::signed_with(key, &header, claims)
    }

    fn signed_with(key: &Key, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64_json(header), b64_json(claims));
        let sig = key.sign(input.as_bytes());
        format!("{input}.{}", b64(&sig))
    }

    /// A token signed by the key `kid` (published or hidden).
    pub fn mint(&self, kid: &str, claims: &Value) -> String {
        Self::mint_locked(&self.state.lock().unwrap(), kid, claims)
    }

    /// A token with the given header, signed by the key `kid` whatever the header says.
    pub fn mint_with_header(&self, kid: &str, header: &Value, claims: &Value) -> String {
        let s = self.state.lock().unwrap();
        let key = s
            .keys
            .iter()
            .chain(s.hidden.iter())
            .find(|k| k.kid == kid)
            .unwrap();
        Self::signed_with(key, header, claims)
    }

    /// An unsigned token: `alg: none`, empty signature.
    pub fn unsigned(&self, kid: &str, claims: &Value) -> String {
        format!(
            "{}.{}.",
            b64_json(&json!({"alg": "none", "kid": kid, "typ": "JWT"})),
            b64_json(claims)
        )
    }

    /// The key-confusion attack: `alg: HS256`, an HMAC keyed with the published public key
    /// of `kid` (its JWK text, and the raw modulus both tried by confused verifiers; this uses
    /// the JWK text).
    pub fn hs256_with_public_key(&self, kid: &str, claims: &Value) -> String {
        let s = self.state.lock().unwrap();
        let key = s.keys.iter().find(|k| k.kid == kid).unwrap();
        let secret = serde_json::to_vec(&key.jwk).unwrap();
        let input = format!(
            "{}.{}",
            b64_json(&json!({"alg": "HS256", "kid": kid, "typ": "JWT"})),
            b64_json(claims)
        );
        let tag = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret),
            input.as_bytes(),
        );
        format!("{input}.{}", b64(tag.as_ref()))
    }

    /// Serves GitHub's token-request endpoint: to `Authorization: bearer {bearer}` it answers a
    /// token with `claims` (its `aud` set from the `audience` parameter) signed by `kid`.
    pub fn serve_github(&self, bearer: &str, claims: Value, kid: &str) {
        self.state.lock().unwrap().github = Some((bearer.to_owned(), claims, kid.to_owned()));
    }

    /// What a runner puts in `ACTIONS_ID_TOKEN_REQUEST_URL` (already with a query).
    pub fn github_request_url(&self) -> String {
        format!("{}/github/token?api-version=2.0", self.url)
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
