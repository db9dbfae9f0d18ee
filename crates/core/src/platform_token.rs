//! Checking a platform token (a compact JWS from a CI system, Kubernetes or a cloud): pure
//! functions over the token, the issuer's settings, its key set and the clock.
//!
//! The order is fixed and every step refuses on its own terms, so a refusal's record names one
//! reason: the form (three base64url parts of JSON objects, at most [`MAX_TOKEN_BYTES`], no
//! `crit`), then the header (`alg` one the issuer allows and never `none` or HMAC, `kid`
//! present), then the key (`kid` in the set, of the type `alg` needs, not marked for another
//! algorithm or use), then the signature, then the claims (`iss` exact, `aud` containing the
//! audience, `exp`, `nbf` and `iat` with leeway). The header is read by this module, not by the
//! JWT library, so nothing the token says chooses how it is checked beyond the issuer's list.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use signet_api::audit::DenialReason;
use signet_store::IssuerRuleRecord;

/// The largest token accepted, bytes. Real ones are 1-2 KiB; the cap bounds parsing work.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Every `alg` an issuer may be set to accept: asymmetric signatures only. `none` and the HMAC
/// family are never accepted (with a public key as the "secret", HMAC is forgeable by anyone).
pub const ACCEPTABLE_ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// What a new issuer accepts unless told otherwise.
pub const DEFAULT_ALGORITHMS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

/// Why a token was refused; each is one [`DenialReason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a well-formed compact JWS of JSON objects, too large, or with `crit`, or without a
    /// numeric `exp`.
    Malformed,
    /// `iss` is not the issuer's.
    WrongIssuer,
    /// `aud` does not contain the issuer's audience.
    WrongAudience,
    /// `exp` plus leeway has passed.
    Expired,
    /// `nbf` or `iat` less leeway is in the future.
    NotYetValid,
    /// `alg` is not allowed, or does not fit the key.
    BadAlgorithm,
    /// No `kid`, or not in the key set.
    UnknownKid,
    /// The signature does not verify.
    BadSignature,
}

impl Refusal {
    /// The audit record's reason.
    pub fn reason(self) -> DenialReason {
        match self {
            Self::Malformed => DenialReason::MalformedToken,
            Self::WrongIssuer => DenialReason::WrongIssuer,
            Self::WrongAudience => DenialReason::WrongAudience,
            Self::Expired => DenialReason::TokenExpired,
            Self::NotYetValid => DenialReason::TokenNotYetValid,
            Self::BadAlgorithm => DenialReason::BadAlgorithm,
            Self::UnknownKid => DenialReason::UnknownKid,
            Self::BadSignature => DenialReason::BadTokenSignature,
        }
    }
}

/// A token split and decoded, nothing yet believed.
#[derive(Debug)]
pub struct Unverified<'a> {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signing_input: &'a str,
    signature: &'a str,
}

/// What the claims said, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// `exp`, Unix seconds.
    pub exp: i64,
    /// `sub`, if a string.
    pub sub: Option<String>,
    /// `jti`, if a non-empty string.
    pub jti: Option<String>,
}

fn object(part: &str) -> Result<Map<String, Value>, Refusal> {
    let raw = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Refusal::Malformed)?;
    match serde_json::from_slice::<Value>(&raw) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Refusal::Malformed),
    }
}

/// Splits and decodes a compact JWS.
pub fn parse(token: &str) -> Result<Unverified<'_>, Refusal> {
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Err(Refusal::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed);
    };
    if s.is_empty() {
        // An unsigned token (`alg: none` writes an empty signature): refused by alg below when
        // it says so, and here when it does not.
        let header = object(h)?;
        return match header.get("alg") {
            Some(Value::String(_)) => Err(Refusal::BadAlgorithm),
            _ => Err(Refusal::Malformed),
        };
    }
    let header = object(h)?;
    // Extensions this verifier would have to understand: none are.
    if header.contains_key("crit") {
        return Err(Refusal::Malformed);
    }
    let claims = object(p)?;
    Ok(Unverified {
        header,
        claims,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature: s,
    })
}

fn num(v: Option<&Value>) -> Result<Option<i64>, Refusal> {
    match v {
        None => Ok(None),
        // NumericDate may carry a fraction; whole seconds are what is compared.
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or(Refusal::Malformed),
        Some(_) => Err(Refusal::Malformed),
    }
}

impl Unverified<'_> {
    /// The `iss` claim, unverified: only to find which issuer's settings apply.
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    /// Every claim, unverified until `verify` and `check_claims` have held.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The header's `alg` (if in `allowed` and acceptable at all) and `kid`.
    pub fn check_header(&self, allowed: &[String]) -> Result<(Algorithm, &str), Refusal> {
        let alg = self
            .header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(Refusal::Malformed)?;
        if !ACCEPTABLE_ALGORITHMS.contains(&alg) || !allowed.iter().any(|a| a == alg) {
            return Err(Refusal::BadAlgorithm);
        }
        let alg: Algorithm = alg.parse().map_err(|_| Refusal::BadAlgorithm)?;
        match self.header.get("kid") {
            Some(Value::String(kid)) if !kid.is_empty() => Ok((alg, kid)),
            _ => Err(Refusal::UnknownKid),
        }
    }

    /// Verifies the signature with `jwk`, which must be of the type `alg` needs.
    pub fn verify(&self, alg: Algorithm, jwk: &Jwk) -> Result<(), Refusal> {
        let fits = match (&jwk.algorithm, alg) {
            (
                AlgorithmParameters::RSA(_),
                Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512,
            ) => true,
            (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
                ec.curve == EllipticCurve::P256
            }
            (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES384) => {
                ec.curve == EllipticCurve::P384
            }
            (AlgorithmParameters::OctetKeyPair(okp), Algorithm::EdDSA) => {
                okp.curve == EllipticCurve::Ed25519
            }
            _ => false,
        };
        let marked_for_other = jwk
            .common
            .key_algorithm
            .is_some_and(|k| k.to_string() != format!("{alg:?}"))
            || jwk
                .common
                .public_key_use
                .as_ref()
                .is_some_and(|u| *u != PublicKeyUse::Signature);
        if !fits || marked_for_other {
            return Err(Refusal::BadAlgorithm);
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|_| Refusal::BadSignature)?;
        match jsonwebtoken::crypto::verify(self.signature, self.signing_input.as_bytes(), &key, alg)
        {
            Ok(true) => Ok(()),
            _ => Err(Refusal::BadSignature),
        }
    }

    /// Checks `iss`, `aud`, `exp`, `nbf` and `iat` (after the signature: these are believed
    /// only once it holds).
    pub fn check_claims(
        &self,
        issuer: &str,
        audience: &str,
        leeway_secs: i64,
        now_secs: i64,
    ) -> Result<Checked, Refusal> {
        if self.issuer() != Some(issuer) {
            return Err(Refusal::WrongIssuer);
        }
        let aud_ok = match self.claims.get("aud") {
            Some(Value::String(a)) => a == audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !aud_ok {
            return Err(Refusal::WrongAudience);
        }
        let exp = num(self.claims.get("exp"))?.ok_or(Refusal::Malformed)?;
        if now_secs > exp.saturating_add(leeway_secs) {
            return Err(Refusal::Expired);
        }
        for early in ["nbf", "iat"] {
            if let Some(t) = num(self.claims.get(early))?
                && t > now_secs.saturating_add(leeway_secs)
            {
                return Err(Refusal::NotYetValid);
            }
        }
        Ok(Checked {
            exp,
            sub: self
                .claims
                .get("sub")
                .and_then(Value::as_str)
                .map(str::to_owned),
            jti: self
                .claims
                .get("jti")
                .and_then(Value::as_str)
                .filter(|j| !j.is_empty())
                .map(str::to_owned),
        })
    }

    /// The first rule whose every condition holds: the named claim is a string equal to the
    /// value. Rules come in position order.
    pub fn first_match<'r>(&self, rules: &'r [IssuerRuleRecord]) -> Option<&'r IssuerRuleRecord> {
        rules.iter().find(|r| self.matches(&r.claims))
    }

    fn matches(&self, conditions: &BTreeMap<String, String>) -> bool {
        !conditions.is_empty()
            && conditions
                .iter()
                .all(|(k, v)| self.claims.get(k).and_then(Value::as_str) == Some(v.as_str()))
    }
}

/// What single use remembers: the issuer and `jti` when there is one (a re-signed copy of the
/// same token is the same token), else the whole token.
pub fn use_digest(issuer: &str, jti: Option<&str>, token: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    match jti {
        Some(jti) => {
            h.update(b"signet-oidc-jti\0");
            h.update(issuer.as_bytes());
            h.update(b"\0");
            h.update(jti.as_bytes());
        }
        None => {
            h.update(b"signet-oidc-token\0");
            h.update(token.as_bytes());
        }
    }
    h.finalize().into()
}

/// Reads a JWKS: every public key of a signing type (RSA, EC, OKP) that names a `kid`; others
/// (symmetric or unknown types, keys without `kid`) are skipped rather than failing the set. `None` if it is not a JWKS.
pub fn parse_key_set(text: &[u8]) -> Option<Vec<Jwk>> {
    let Value::Object(mut set) = serde_json::from_slice::<Value>(text).ok()? else {
        return None;
    };
    let Value::Array(keys) = set.remove("keys")? else {
        return None;
    };
    Some(
        keys.into_iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
            .filter(|k| {
                k.common
                    .key_id
                    .as_deref()
                    .is_some_and(|kid| !kid.is_empty())
                    && matches!(
                        k.algorithm,
                        AlgorithmParameters::RSA(_)
                            | AlgorithmParameters::EllipticCurve(_)
                            | AlgorithmParameters::OctetKeyPair(_)
                    )
            })
            .collect(),
    )
}

/// The key `kid` names.
pub fn find<'k>(keys: &'k [Jwk], kid: &str) -> Option<&'k Jwk> {
    keys.iter()
        .find(|k| k.common.key_id.as_deref() == Some(kid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    fn token(header: Value, claims: Value, sig: &str) -> String {
        format!("{}.{}.{sig}", b64(&header), b64(&claims))
    }

    fn allowed() -> Vec<String> {
        DEFAULT_ALGORITHMS.iter().map(|s| (*s).to_owned()).collect()
    }

    fn claims() -> Value {
        serde_json::json!({"iss": "https://i.example", "aud": ["x", "signet"], "exp": 1000,
            "nbf": 900, "iat": 900, "sub": "repo:acme/api", "repository": "acme/api",
            "ref": "refs/heads/main", "jti": "j1"})
    }

    #[test]
    fn the_form_is_strict() {
        let good = token(
            serde_json::json!({"alg": "RS256", "kid": "k"}),
            claims(),
            "c2ln",
        );
        assert!(parse(&good).is_ok());
        for bad in [
            String::new(),
            "a.b".to_owned(),
            format!("{good}.x.y"),
            good.replace('.', "=."),
            format!("{}.{}.c2ln", b64(&serde_json::json!([1])), b64(&claims())),
            token(
                serde_json::json!({"alg": "RS256", "kid": "k", "crit": ["b64"]}),
                claims(),
                "c2ln",
            ),
            "x".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            assert_eq!(parse(&bad).err(), Some(Refusal::Malformed), "{bad:.60}");
        }
        // `alg: none` with its empty signature.
        let none = token(serde_json::json!({"alg": "none"}), claims(), "");
        assert_eq!(parse(&none).err(), Some(Refusal::BadAlgorithm));
    }

    #[test]
    fn the_header_must_name_an_allowed_asymmetric_alg_and_a_kid() {
        let check = |h: Value| {
            let t = token(h, claims(), "c2ln");
            parse(&t)
                .unwrap()
                .check_header(&allowed())
                .map(|(a, k)| (a, k.to_owned()))
        };
        assert_eq!(
            check(serde_json::json!({"alg": "ES256", "kid": "k"})),
            Ok((Algorithm::ES256, "k".to_owned()))
        );
        for alg in ["none", "HS256", "HS512", "RS512", "rs256", ""] {
            assert_eq!(
                check(serde_json::json!({"alg": alg, "kid": "k"})),
                Err(Refusal::BadAlgorithm),
                "{alg}"
            );
        }
        // HMAC stays refused even if an operator listed it.
        let t = token(
            serde_json::json!({"alg": "HS256", "kid": "k"}),
            claims(),
            "c2ln",
        );
        assert_eq!(
            parse(&t).unwrap().check_header(&["HS256".to_owned()]).err(),
            Some(Refusal::BadAlgorithm)
        );
        for h in [
            serde_json::json!({"alg": "RS256"}),
            serde_json::json!({"alg": "RS256", "kid": ""}),
            serde_json::json!({"alg": "RS256", "kid": 7}),
        ] {
            assert_eq!(check(h), Err(Refusal::UnknownKid));
        }
    }

    #[test]
    fn claims_are_checked_with_leeway() {
        let t = token(
            serde_json::json!({"alg": "RS256", "kid": "k"}),
            claims(),
            "c2ln",
        );
        let u = parse(&t).unwrap();
        let ok = u
            .check_claims("https://i.example", "signet", 60, 1000)
            .unwrap();
        assert_eq!(ok.jti.as_deref(), Some("j1"));
        assert_eq!(ok.sub.as_deref(), Some("repo:acme/api"));
        assert!(
            u.check_claims("https://i.example", "signet", 60, 1060)
                .is_ok()
        );
        assert_eq!(
            u.check_claims("https://i.example", "signet", 60, 1061),
            Err(Refusal::Expired)
        );
        assert_eq!(
            u.check_claims("https://i.example", "signet", 60, 839),
            Err(Refusal::NotYetValid)
        );
        assert!(
            u.check_claims("https://i.example", "signet", 60, 840)
                .is_ok()
        );
        assert_eq!(
            u.check_claims("https://i.example/", "signet", 60, 1000),
            Err(Refusal::WrongIssuer)
        );
        assert_eq!(
            u.check_claims("https://i.example", "signe", 60, 1000),
            Err(Refusal::WrongAudience)
        );
        let no_exp = token(
            serde_json::json!({"alg": "RS256", "kid": "k"}),
            serde_json::json!({"iss": "https://i.example", "aud": "signet"}),
            "c2ln",
        );
        assert_eq!(
            parse(&no_exp)
                .unwrap()
                .check_claims("https://i.example", "signet", 60, 0),
            Err(Refusal::Malformed)
        );
    }

    #[test]
    fn the_first_rule_whose_every_condition_holds_decides() {
        let rule = |pos: u32, conds: &[(&str, &str)]| IssuerRuleRecord {
            id: signet_proto::IssuerRuleId::generate(),
            issuer_id: signet_proto::IssuerId::generate(),
            position: pos,
            name: format!("r{pos}"),
            claims: conds
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            project_ids: Vec::new(),
            secret_ids: Vec::new(),
            machine_ttl_secs: 60,
            created_ms: 0,
        };
        let t = token(
            serde_json::json!({"alg": "RS256", "kid": "k"}),
            claims(),
            "c2ln",
        );
        let u = parse(&t).unwrap();
        let rules = [
            rule(1, &[("repository", "acme/api"), ("ref", "refs/heads/dev")]),
            rule(2, &[("repository", "acme/ap")]),
            rule(3, &[("repository", "acme/api"), ("ref", "refs/heads/main")]),
            rule(4, &[("repository", "acme/api")]),
        ];
        assert_eq!(u.first_match(&rules).map(|r| r.position), Some(3));
        assert_eq!(u.first_match(&rules[..2]), None);
        // A claim that is not a string never matches its text.
        assert_eq!(u.first_match(&[rule(1, &[("exp", "1000")])]), None);
        assert_eq!(u.first_match(&[rule(1, &[])]), None);
    }

    #[test]
    fn single_use_digests_bind_the_issuer() {
        assert_ne!(
            use_digest("a", Some("j"), "t"),
            use_digest("b", Some("j"), "t")
        );
        assert_eq!(
            use_digest("a", Some("j"), "t"),
            use_digest("a", Some("j"), "u")
        );
        assert_ne!(use_digest("a", None, "t"), use_digest("a", None, "u"));
    }

    #[test]
    fn key_sets_keep_signing_keys_with_kids() {
        let set = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "a"},
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "h"},
            {"kty": "weird", "kid": "w"}
        ]});
        let keys = parse_key_set(&serde_json::to_vec(&set).unwrap()).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(find(&keys, "a").is_some());
        assert!(find(&keys, "h").is_none());
        assert!(parse_key_set(b"[]").is_none());
        assert!(parse_key_set(b"{\"keys\": 1}").is_none());
    }
}
