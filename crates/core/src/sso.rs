//! Single sign-on for people (issue 14 §3): OpenID Connect providers an owner trusts, the
//! mappings from a person's claims to a role and project scope, and sign-in through a provider,
//! for the dashboard and for `signet login --sso`.
//!
//! # Rules (docs/threat-model.md "SSO account takeover" repeats them)
//!
//! * The authorization code flow with PKCE (S256), `state` and `nonce`, each 256 random bits.
//!   An attempt is stored (replicas share it) with the SHA-256 of its state, and consumed at the
//!   callback by one conditional statement: unknown, used and expired (10 minutes) are one
//!   refusal, so a callback replayed, or a state guessed, never signs anyone in.
//! * A browser attempt is bound to the browser that started it by a cookie carrying 256 random
//!   bits whose SHA-256 the attempt keeps (login CSRF: an attacker's callback URL, opened in a
//!   victim's browser, lacks the cookie). A CLI attempt is bound to the CLI instead: the callback
//!   sends a completion code to the CLI's loopback listener only, and the finish must be signed
//!   by the key named at the start, so a phished authorize URL completed by a victim registers
//!   no key of the attacker's.
//! * The callback checks, in order: the state, the binding, the provider's `error`, `iss` (RFC
//!   9207, when given), then exchanges the code with the PKCE verifier and checks the ID token
//!   exactly like a workload token (`crate::platform_token`: algorithm allow-list, `kid`,
//!   signature, `iss`, `aud`, `exp`, `iat`), plus `azp`, `nonce` and `sub`. Every refusal is one
//!   redirect with one generic message; the audit record (`sso_login`, denied) names the
//!   reason, never the code, a token or the state.
//! * People are linked by (provider, `sub`) only, never by email or username. The first mapping
//!   whose claim holds decides the role and scope at every sign-in; none: refused. An unlinked
//!   person is created just in time only if the provider allows it, without a password or
//!   second factor.
//! * The break-glass owner is never linked or signed in through a provider.
//! * A session opened through a provider has no step-up, unless the vault trusts the provider's
//!   MFA and the ID token's `amr` names a second factor used within the step-up window.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use serde_json::Value;
use sha2::{Digest, Sha256};
use signet_api::audit::{AuditAction, DenialReason};
use signet_proto::{
    OperatorId, ProjectId, PublicKey, SsoAttemptId, SsoMappingId, SsoProviderId, UserId,
};
use signet_store::{
    ActorKind, AuditResult, Conflict, OperatorRecord, Role, SsoAttemptRecord, SsoIdentityRecord,
    SsoMappingRecord, SsoProviderRecord, SsoPurpose, StoreError, UserRecord, UserStatus,
};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::account::{
    CLI_KEY_TTL_MS, CliLogin, MAX_SCOPED_PROJECTS, canonical_email, canonical_username, truncate,
};
use crate::address::ClientAddr;
use crate::context::Context;
use crate::issuer::{FetchError, Fetching, KeyPolicy};
use crate::journal::Actor;
use crate::permission::STEP_UP_WINDOW_MS;
use crate::platform_token::{self, ACCEPTABLE_ALGORITHMS, Refusal as TokenRefusal, parse_key_set};
use crate::principal::AuthedOperator;
use crate::registration::RequestLimiter;
use crate::role::{Permission, rank};
use crate::session::{OpenedSession, SessionSecret, Sessions};
use crate::{CoreError, CoreResult};

/// An attempt must come back from the provider (and a CLI finish) within this: 10 minutes.
pub const ATTEMPT_TTL_MS: i64 = 10 * 60 * 1000;
/// Starts (browser and CLI) one source address may make per minute.
pub const STARTS_PER_SOURCE_PER_MINUTE: u32 = 30;
/// The ID token's clock leeway, seconds.
pub const ID_TOKEN_LEEWAY_SECS: i64 = 60;
pub use crate::passkey::FIRST_FACTOR_GRACE_MS;
/// The `amr` values (RFC 8176) that name a second factor, or a possession factor that is one.
pub const MFA_METHODS: [&str; 11] = [
    "mfa", "otp", "hwk", "swk", "fpt", "face", "iris", "retina", "sms", "tel", "pop",
];
/// Where the dashboard lands after a refused sign-in: one generic message.
pub const FAILED_REDIRECT: &str = "/#/login?sso=failed";
const MAX_PROVIDERS: usize = 50;
const MAX_MAPPINGS: usize = 100;
const MAX_SCOPES: usize = 20;
const DEFAULT_SCOPES: [&str; 2] = ["profile", "email"];
const DEFAULT_USERNAME_CLAIM: &str = "preferred_username";
const DEFAULT_GROUPS_CLAIM: &str = "groups";
const SECRET_BYTES: usize = 32;

/// A random 256-bit value, base64url without padding.
fn random_token() -> CoreResult<Zeroizing<String>> {
    let mut raw = Zeroizing::new([0u8; SECRET_BYTES]);
    getrandom::fill(raw.as_mut()).map_err(|_| CoreError::Unavailable)?;
    Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(raw.as_ref())))
}

fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// What the provider's discovery document names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// Where the browser is sent.
    pub authorization_endpoint: String,
    /// Where the code is exchanged.
    pub token_endpoint: String,
    /// The key set.
    pub jwks_uri: String,
}

/// Documents held for one provider.
struct Held {
    version: i64,
    fetched_ms: i64,
    attempted_ms: i64,
    doc: Option<Arc<Discovery>>,
    keys: Arc<Vec<Jwk>>,
}

/// What an attempt is started for, with who asks.
#[derive(Debug, Clone)]
pub enum StartFor<'a> {
    /// Dashboard sign-in.
    Login,
    /// Linking the signed-in user's account (needs their session).
    Link(&'a AuthedOperator),
    /// A step-up at the provider (needs the session).
    StepUp(&'a AuthedOperator),
}

/// A started browser attempt: send the browser to `authorize_url` with the binding cookie.
pub struct Started {
    /// The provider's authorization URL with state, nonce and the PKCE challenge.
    pub authorize_url: String,
    /// The binding cookie's value (browser purposes).
    pub binding: Zeroizing<String>,
    /// When the attempt expires, Unix ms.
    pub expires_ms: i64,
}

impl fmt::Debug for Started {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Started")
            .field("expires_ms", &self.expires_ms)
            .finish_non_exhaustive()
    }
}

/// A started CLI attempt.
#[derive(Debug, Clone)]
pub struct CliStarted {
    /// Named in the finish.
    pub attempt_id: SsoAttemptId,
    /// The provider's authorization URL.
    pub authorize_url: String,
    /// Unix ms.
    pub expires_ms: i64,
}

/// What the provider sent back to the callback.
#[derive(Clone, Default)]
pub struct Callback<'a> {
    /// The authorization code.
    pub code: Option<&'a str>,
    /// The state.
    pub state: Option<&'a str>,
    /// The issuer (RFC 9207).
    pub iss: Option<&'a str>,
    /// The provider's error.
    pub error: Option<&'a str>,
}

impl fmt::Debug for Callback<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("iss", &self.iss)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// Where the callback sends the browser, and what it sets on the way.
#[derive(Debug)]
pub enum Landing {
    /// Signed in: set the session cookie, go to the dashboard.
    Session(Box<OpenedSession>),
    /// Go here (the dashboard after a link or step-up, the CLI's loopback listener, or the
    /// generic failure page).
    Redirect(String),
}

/// A provider with its mappings.
#[derive(Debug, Clone)]
pub struct ProviderView {
    /// The provider (its sealed secret only tells whether one is set).
    pub provider: SsoProviderRecord,
    /// Its mappings in order.
    pub mappings: Vec<SsoMappingRecord>,
}

/// A linked identity with its provider's label.
#[derive(Debug, Clone)]
pub struct IdentityView {
    /// The identity.
    pub identity: SsoIdentityRecord,
    /// The provider's label.
    pub provider_name: String,
}

/// What an owner asks for when trusting a provider.
#[derive(Clone, Default)]
pub struct NewProvider {
    /// Label.
    pub name: String,
    /// Exact issuer.
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Client secret, if confidential.
    pub client_secret: Option<Zeroizing<String>>,
    /// Scopes besides `openid`.
    pub scopes: Option<Vec<String>>,
    /// Username claim.
    pub username_claim: Option<String>,
    /// Groups claim.
    pub groups_claim: Option<String>,
    /// Just-in-time users.
    pub jit_users: Option<bool>,
    /// Enabled.
    pub enabled: Option<bool>,
}

impl fmt::Debug for NewProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewProvider")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A change to a provider; `None` keeps the field. An empty secret removes it.
#[derive(Clone, Default)]
pub struct ProviderChange {
    /// Label.
    pub name: Option<String>,
    /// Client id.
    pub client_id: Option<String>,
    /// Client secret.
    pub client_secret: Option<Zeroizing<String>>,
    /// Scopes.
    pub scopes: Option<Vec<String>>,
    /// Username claim.
    pub username_claim: Option<String>,
    /// Groups claim.
    pub groups_claim: Option<String>,
    /// Just-in-time users.
    pub jit_users: Option<bool>,
    /// Enabled.
    pub enabled: Option<bool>,
}

impl fmt::Debug for ProviderChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderChange")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What an owner asks for when adding a mapping.
#[derive(Debug, Clone, Default)]
pub struct NewMapping {
    /// Claim.
    pub claim: String,
    /// Value.
    pub value: String,
    /// Role name.
    pub role: String,
    /// Project ids (text).
    pub project_ids: Vec<String>,
}

/// The ID token's claims, once every check held.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `sub`.
    pub subject: String,
    /// Every claim.
    pub claims: serde_json::Map<String, Value>,
}

impl Identity {
    /// When the provider last authenticated the person with a second factor, Unix ms, if
    /// `amr` names one and `auth_time` is present.
    pub fn mfa_at_ms(&self) -> Option<i64> {
        let amr = self.claims.get("amr")?.as_array()?;
        let has_mfa = amr
            .iter()
            .filter_map(Value::as_str)
            .any(|m| MFA_METHODS.contains(&m));
        if !has_mfa {
            return None;
        }
        let t = self.claims.get("auth_time")?;
        let secs = t
            .as_i64()
            .or_else(|| t.as_f64().map(|f| f.floor() as i64))?;
        secs.checked_mul(1000)
    }

    fn string(&self, claim: &str) -> Option<&str> {
        self.claims
            .get(claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// Whether a mapping holds for these claims: the claim is a string equal to the value, or an
/// array containing it.
pub fn mapping_holds(mapping: &SsoMappingRecord, claims: &serde_json::Map<String, Value>) -> bool {
    match claims.get(&mapping.claim) {
        Some(Value::String(s)) => *s == mapping.value,
        Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(&mapping.value)),
        Some(Value::Bool(b)) => b.to_string() == mapping.value,
        _ => false,
    }
}

/// The first mapping that holds.
pub fn first_mapping<'m>(
    mappings: &'m [SsoMappingRecord],
    claims: &serde_json::Map<String, Value>,
) -> Option<&'m SsoMappingRecord> {
    mappings.iter().find(|m| mapping_holds(m, claims))
}

/// Why the ID token was refused, as the audit reason.
fn token_reason(r: TokenRefusal) -> DenialReason {
    match r {
        TokenRefusal::WrongAudience => DenialReason::SsoWrongClient,
        other => other.reason(),
    }
}

/// Checks an ID token against the provider, its keys and the attempt's nonce: the workload
/// token checks, then `azp`, `nonce` and `sub`. Pure, so the order is tested without a provider.
pub fn check_id_token(
    token: &str,
    issuer: &str,
    client_id: &str,
    nonce: &str,
    keys: &[Jwk],
    now_secs: i64,
) -> Result<Identity, DenialReason> {
    let t = platform_token::parse(token).map_err(token_reason)?;
    let allowed: Vec<String> = ACCEPTABLE_ALGORITHMS
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    let (alg, kid) = t.check_header(&allowed).map_err(token_reason)?;
    let key = platform_token::find(keys, kid).ok_or(DenialReason::UnknownKid)?;
    t.verify(alg, key).map_err(token_reason)?;
    t.check_claims(issuer, client_id, ID_TOKEN_LEEWAY_SECS, now_secs)
        .map_err(token_reason)?;
    let claims = t.claims().clone();
    let several_audiences = matches!(claims.get("aud"), Some(Value::Array(a)) if a.len() > 1);
    match claims.get("azp") {
        Some(Value::String(azp)) if azp == client_id => {}
        None if !several_audiences => {}
        _ => return Err(DenialReason::SsoWrongClient),
    }
    let nonce_ok = claims
        .get("nonce")
        .and_then(Value::as_str)
        .is_some_and(|n| {
            n.len() == nonce.len() && bool::from(n.as_bytes().ct_eq(nonce.as_bytes()))
        });
    if !nonce_ok {
        return Err(DenialReason::SsoNonceMismatch);
    }
    let subject = match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 => s.clone(),
        _ => return Err(DenialReason::MalformedToken),
    };
    Ok(Identity { subject, claims })
}

/// SSO providers, mappings, identities and sign-in.
#[derive(Clone)]
pub struct Sso {
    pub(crate) cx: Arc<Context>,
    pub(crate) sessions: Sessions,
    pub(crate) limiter: Arc<RequestLimiter>,
    /// The workload issuers' fetcher (the server's guarded client), shared.
    pub(crate) fetcher: Arc<RwLock<Option<Fetching>>>,
    held: Arc<Mutex<HashMap<SsoProviderId, Held>>>,
    admin: SsoAdmin,
}

fn check_text(what: &str, v: &str, max: usize) -> CoreResult<()> {
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(CoreError::bad(format!(
            "{what} must be 1-{max} characters without control characters"
        )));
    }
    Ok(())
}

fn check_claim_name(what: &str, v: &str) -> CoreResult<()> {
    let ok = !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'/'));
    if ok {
        Ok(())
    } else {
        Err(CoreError::bad(format!(
            "{what} must be 1-128 letters, digits or _ - . : /"
        )))
    }
}

fn check_issuer(url: &str) -> CoreResult<()> {
    // The same rule as a workload issuer's: the exact `iss`, nothing a parser would normalise.
    crate::issuer::check_issuer_url("issuer", url)
}

fn scopes(list: Option<Vec<String>>) -> CoreResult<Vec<String>> {
    let list = list.unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect());
    if list.len() > MAX_SCOPES {
        return Err(CoreError::bad(format!("at most {MAX_SCOPES} scopes")));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for s in list {
        let ok = !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
        if !ok {
            return Err(CoreError::bad("a scope must be 1-128 printable characters"));
        }
        if s != "openid" && !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

fn is_browser(purpose: SsoPurpose) -> bool {
    !matches!(purpose, SsoPurpose::Cli)
}

impl Sso {
    pub(crate) fn new(
        cx: Arc<Context>,
        sessions: Sessions,
        fetcher: Arc<RwLock<Option<Fetching>>>,
    ) -> Self {
        let held: Arc<Mutex<HashMap<SsoProviderId, Held>>> = Arc::default();
        Self {
            admin: SsoAdmin {
                cx: cx.clone(),
                held: held.clone(),
            },
            cx,
            sessions,
            limiter: Arc::new(RequestLimiter::new(STARTS_PER_SOURCE_PER_MINUTE)),
            fetcher,
            held,
        }
    }

    fn fetching(&self) -> Option<Fetching> {
        self.fetcher
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The redirect URI registered at every provider.
    pub fn redirect_uri(&self) -> String {
        format!(
            "{}{}",
            self.cx.config.api_url.trim_end_matches('/'),
            signet_api::route::sso::CALLBACK
        )
    }

    // ---- Provider documents ----

    async fn fetch(&self, p: &SsoProviderRecord) -> Result<(Discovery, Vec<Jwk>), FetchError> {
        let (fetcher, _) = self.fetching().ok_or(FetchError::Failed)?;
        let base = p.issuer.trim_end_matches('/');
        let doc = fetcher
            .get(&format!("{base}/.well-known/openid-configuration"))
            .await?;
        let doc: Value = serde_json::from_slice(&doc).map_err(|_| FetchError::Failed)?;
        if doc.get("issuer").and_then(Value::as_str) != Some(p.issuer.as_str()) {
            return Err(FetchError::Failed);
        }
        let field = |name: &str| {
            doc.get(name)
                .and_then(Value::as_str)
                // Read as every URL is; the fetcher's guard then decides where it may go.
                .filter(|u| signet_proto::web_url::WebUrl::parse(u).is_ok())
                .map(str::to_owned)
                .ok_or(FetchError::Failed)
        };
        let discovery = Discovery {
            authorization_endpoint: field("authorization_endpoint")?,
            token_endpoint: field("token_endpoint")?,
            jwks_uri: field("jwks_uri")?,
        };
        let set = fetcher.get(&discovery.jwks_uri).await?;
        let keys = parse_key_set(&set).ok_or(FetchError::Failed)?;
        Ok((discovery, keys))
    }

    /// The provider's discovery document, and the key `kid` names when asked for one: from the
    /// cache while fresh, fetched again when stale or (at most once per refetch interval) when
    /// the key is missing, as for workload issuers.
    async fn documents(
        &self,
        p: &SsoProviderRecord,
        kid: Option<&str>,
    ) -> Result<(Arc<Discovery>, Option<Jwk>), FetchError> {
        let now = self.cx.now_ms();
        let policy: KeyPolicy = self.fetching().map(|(_, p)| p).unwrap_or_default();
        {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            let h = held.entry(p.id.clone()).or_insert(Held {
                version: p.updated_ms,
                fetched_ms: 0,
                attempted_ms: i64::MIN / 2,
                doc: None,
                keys: Arc::default(),
            });
            if h.version != p.updated_ms {
                *h = Held {
                    version: p.updated_ms,
                    fetched_ms: 0,
                    attempted_ms: i64::MIN / 2,
                    doc: None,
                    keys: Arc::default(),
                };
            }
            let fresh = h.doc.is_some() && now - h.fetched_ms < policy.ttl_ms;
            let found = kid.and_then(|k| platform_token::find(&h.keys, k).cloned());
            if let Some(doc) = &h.doc
                && fresh
                && (kid.is_none() || found.is_some())
            {
                return Ok((doc.clone(), found));
            }
            if now - h.attempted_ms < policy.refetch_every_ms {
                return match &h.doc {
                    Some(doc) => Ok((doc.clone(), found)),
                    None => Err(FetchError::Failed),
                };
            }
            h.attempted_ms = now;
        }
        match self.fetch(p).await {
            Ok((doc, keys)) => {
                let doc = Arc::new(doc);
                let found = kid.and_then(|k| platform_token::find(&keys, k).cloned());
                let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(h) = held.get_mut(&p.id)
                    && h.version == p.updated_ms
                {
                    h.fetched_ms = now;
                    h.doc = Some(doc.clone());
                    h.keys = Arc::new(keys);
                }
                Ok((doc, found))
            }
            Err(e) => {
                tracing::warn!(provider = %p.id, error = %e, "cannot fetch the SSO provider's documents");
                let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
                match held.get(&p.id) {
                    Some(Held {
                        doc: Some(doc),
                        keys,
                        ..
                    }) => Ok((
                        doc.clone(),
                        kid.and_then(|k| platform_token::find(keys, k).cloned()),
                    )),
                    _ => Err(e),
                }
            }
        }
    }

    // ---- Sign-in ----

    /// What the sign-in page offers: enabled providers, and whether SSO is required.
    pub async fn login_options(&self) -> CoreResult<(Vec<(SsoProviderId, String)>, bool)> {
        let providers = self
            .cx
            .store
            .sso_providers()
            .await?
            .into_iter()
            .filter(|p| p.enabled)
            .map(|p| (p.id, p.name))
            .collect();
        let required = self.cx.store.vault().await?.is_some_and(|v| v.sso_required);
        Ok((providers, required))
    }

    async fn enabled_provider(&self, key: &str, by_name: bool) -> CoreResult<SsoProviderRecord> {
        let found = match SsoProviderId::parse(key) {
            Ok(id) => self.cx.store.sso_provider(&id).await?,
            Err(_) if by_name => self
                .cx
                .store
                .sso_providers()
                .await?
                .into_iter()
                .find(|p| p.name == key),
            Err(_) => None,
        };
        found.filter(|p| p.enabled).ok_or(CoreError::Forbidden)
    }

    /// Creates and stores an attempt, and the authorization URL for it.
    async fn begin(
        &self,
        p: &SsoProviderRecord,
        mut attempt: SsoAttemptRecord,
    ) -> CoreResult<(SsoAttemptRecord, String)> {
        let (doc, _) = self
            .documents(p, None)
            .await
            .map_err(|_| CoreError::Unavailable)?;
        let state = random_token()?;
        let nonce = random_token()?;
        let verifier = random_token()?;
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        attempt.state_hash = sha256(&state);
        attempt.nonce = nonce.to_string();
        attempt.pkce_verifier = verifier.to_string();
        let scope = std::iter::once("openid")
            .chain(p.scopes.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        let redirect_uri = self.redirect_uri();
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", p.client_id.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("scope", scope.as_str()),
            ("state", state.as_str()),
            ("nonce", nonce.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if attempt.purpose == SsoPurpose::StepUp {
            params.push(("prompt", "login"));
            params.push(("max_age", "0"));
        }
        let sep = if doc.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!("{}{sep}{}", doc.authorization_endpoint, query(&params));
        self.cx.store.insert_sso_attempt(&attempt).await?;
        Ok((attempt, url))
    }

    fn blank_attempt(&self, p: &SsoProviderRecord, purpose: SsoPurpose) -> SsoAttemptRecord {
        let now = self.cx.now_ms();
        SsoAttemptRecord {
            id: SsoAttemptId::generate(),
            state_hash: [0; 32],
            provider_id: p.id.clone(),
            purpose,
            binding_hash: None,
            nonce: String::new(),
            pkce_verifier: String::new(),
            user_id: None,
            session_id: None,
            public_key: None,
            key_name: None,
            loopback_port: None,
            completion_hash: None,
            created_ms: now,
            expires_ms: now + ATTEMPT_TTL_MS,
            used_ms: None,
            finished_ms: None,
        }
    }

    /// Starts a browser attempt (`GET /v1/auth/sso/{provider}/start`). An unknown or disabled
    /// provider, a link or step-up without a session, and a step-up when the vault does not
    /// trust the provider's MFA are [`CoreError::Forbidden`].
    pub async fn start(
        &self,
        provider: &str,
        purpose: StartFor<'_>,
        source_ip: ClientAddr,
    ) -> CoreResult<Started> {
        if !self.limiter.allow(source_ip, self.cx.now_ms()) {
            return Err(CoreError::RateLimited);
        }
        let p = self.enabled_provider(provider, false).await?;
        let (kind, op) = match purpose {
            StartFor::Login => (SsoPurpose::Login, None),
            StartFor::Link(op) => (SsoPurpose::Link, Some(op)),
            StartFor::StepUp(op) => (SsoPurpose::StepUp, Some(op)),
        };
        let mut attempt = self.blank_attempt(&p, kind);
        if let Some(op) = op {
            let (Some(user), Some(grant)) = (op.user_id, op.session) else {
                return Err(CoreError::Forbidden);
            };
            if kind == SsoPurpose::StepUp && !self.trusts_provider_mfa().await? {
                return Err(CoreError::Forbidden);
            }
            attempt.user_id = Some(user);
            attempt.session_id = Some(grant.id);
        }
        let binding = random_token()?;
        attempt.binding_hash = Some(sha256(&binding));
        let (attempt, authorize_url) = self.begin(&p, attempt).await?;
        Ok(Started {
            authorize_url,
            binding,
            expires_ms: attempt.expires_ms,
        })
    }

    /// Starts `signet login --sso` (`POST /v1/auth/sso/cli/start`).
    pub async fn cli_start(
        &self,
        provider: &str,
        public_key: &str,
        name: Option<&str>,
        loopback_port: u16,
        source_ip: ClientAddr,
    ) -> CoreResult<CliStarted> {
        let key = PublicKey::from_base64(public_key).map_err(|e| CoreError::bad(e.to_string()))?;
        if loopback_port < 1024 {
            return Err(CoreError::bad("loopbackPort must be 1024 to 65535"));
        }
        let name = truncate(name.unwrap_or("cli").trim(), 255);
        if name.is_empty() {
            return Err(CoreError::bad("name must not be empty"));
        }
        if !self.limiter.allow(source_ip, self.cx.now_ms()) {
            return Err(CoreError::RateLimited);
        }
        let p = self.enabled_provider(provider, true).await?;
        let mut attempt = self.blank_attempt(&p, SsoPurpose::Cli);
        attempt.public_key = Some(key.to_base64());
        attempt.key_name = Some(name);
        attempt.loopback_port = Some(loopback_port);
        let (attempt, authorize_url) = self.begin(&p, attempt).await?;
        Ok(CliStarted {
            attempt_id: attempt.id,
            authorize_url,
            expires_ms: attempt.expires_ms,
        })
    }

    async fn trusts_provider_mfa(&self) -> CoreResult<bool> {
        Ok(self
            .cx
            .store
            .vault()
            .await?
            .is_some_and(|v| v.sso_trust_provider_mfa))
    }

    async fn audit_refusal(
        &self,
        ip: ClientAddr,
        attempt: Option<&SsoAttemptRecord>,
        reason: DenialReason,
    ) -> CoreResult<()> {
        let mut detail = Vec::new();
        if let Some(a) = attempt {
            detail.push(format!("provider={}", a.provider_id));
            detail.push(format!("purpose={}", a.purpose.as_str()));
        }
        detail.push(format!("reason={reason}"));
        let e = self.cx.event(
            &Actor::new(ActorKind::Anonymous, "", &ip.to_canonical().to_string()),
            AuditAction::SsoLogin,
            &attempt.map(|a| a.id.to_string()).unwrap_or_default(),
            AuditResult::Denied,
            &detail.join(" "),
        );
        self.cx.journal(vec![e], Vec::new()).await
    }

    /// The callback (`GET /v1/auth/sso/callback`). `binding` is the `signet_sso` cookie the
    /// browser sent; `previous` its session cookie. Every refusal lands on one page (or, for a
    /// CLI attempt, the loopback listener with `error=refused`), audited with its reason.
    pub async fn callback(
        &self,
        params: Callback<'_>,
        binding: Option<&str>,
        previous: Option<&SessionSecret>,
        source_ip: ClientAddr,
        user_agent: &str,
    ) -> CoreResult<Landing> {
        let Some(state) = params.state.filter(|s| !s.is_empty() && s.len() <= 512) else {
            self.audit_refusal(source_ip, None, DenialReason::SsoUnknownState)
                .await?;
            return Ok(Landing::Redirect(FAILED_REDIRECT.to_owned()));
        };
        let now = self.cx.now_ms();
        let Some(attempt) = self.cx.store.take_sso_attempt(&sha256(state), now).await? else {
            self.audit_refusal(source_ip, None, DenialReason::SsoUnknownState)
                .await?;
            return Ok(Landing::Redirect(FAILED_REDIRECT.to_owned()));
        };
        match self
            .finish_callback(&attempt, &params, binding, previous, source_ip, user_agent)
            .await
        {
            Ok(landing) => Ok(landing),
            Err(Refusing::Refused(reason)) => {
                self.audit_refusal(source_ip, Some(&attempt), reason)
                    .await?;
                Ok(Landing::Redirect(refused_redirect(&attempt)))
            }
            Err(Refusing::Error(e)) => Err(e),
        }
    }

    async fn finish_callback(
        &self,
        attempt: &SsoAttemptRecord,
        params: &Callback<'_>,
        binding: Option<&str>,
        previous: Option<&SessionSecret>,
        source_ip: ClientAddr,
        user_agent: &str,
    ) -> Result<Landing, Refusing> {
        let refuse = |r: DenialReason| Err(Refusing::Refused(r));
        if is_browser(attempt.purpose) {
            let bound = match (binding, attempt.binding_hash) {
                (Some(cookie), Some(expected)) => bool::from(sha256(cookie).ct_eq(&expected)),
                _ => false,
            };
            if !bound {
                return refuse(DenialReason::SsoBrowserMismatch);
            }
        }
        if params.error.is_some() {
            return refuse(DenialReason::SsoProviderError);
        }
        let p = match self.cx.store.sso_provider(&attempt.provider_id).await {
            Ok(Some(p)) if p.enabled => p,
            Ok(_) => return refuse(DenialReason::SsoUnknownState),
            Err(e) => return Err(e.into()),
        };
        if let Some(iss) = params.iss
            && iss != p.issuer
        {
            return refuse(DenialReason::SsoIssuerMismatch);
        }
        let Some(code) = params.code.filter(|c| !c.is_empty() && c.len() <= 4096) else {
            return refuse(DenialReason::SsoCodeRefused);
        };
        let id_token = match self.exchange(&p, attempt, code).await {
            Ok(t) => t,
            Err(r) => return refuse(r),
        };
        let identity = match self.verify(&p, attempt, &id_token).await {
            Ok(i) => i,
            Err(r) => return refuse(r),
        };
        match attempt.purpose {
            SsoPurpose::Login | SsoPurpose::Cli => {
                self.sign_in(&p, attempt, &identity, previous, source_ip, user_agent)
                    .await
            }
            SsoPurpose::Link => self.link(&p, attempt, &identity, source_ip).await,
            SsoPurpose::StepUp => self.step_up(&p, attempt, &identity, source_ip).await,
        }
    }

    /// Exchanges the code at the token endpoint; the `id_token` or why not.
    async fn exchange(
        &self,
        p: &SsoProviderRecord,
        attempt: &SsoAttemptRecord,
        code: &str,
    ) -> Result<Zeroizing<String>, DenialReason> {
        let (doc, _) = self
            .documents(p, None)
            .await
            .map_err(|_| DenialReason::IssuerUnavailable)?;
        let (fetcher, _) = self.fetching().ok_or(DenialReason::IssuerUnavailable)?;
        let secret = self
            .client_secret(p)
            .map_err(|_| DenialReason::IssuerUnavailable)?;
        let redirect_uri = self.redirect_uri();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", attempt.pkce_verifier.as_str()),
        ];
        if secret.is_none() {
            form.push(("client_id", p.client_id.as_str()));
        }
        let basic = secret.as_ref().map(|s| (p.client_id.as_str(), s.as_str()));
        let body = fetcher
            .post_form(&doc.token_endpoint, &form, basic)
            .await
            .map_err(|_| DenialReason::SsoCodeRefused)?;
        let answer: Value =
            serde_json::from_slice(&body).map_err(|_| DenialReason::SsoCodeRefused)?;
        answer
            .get("id_token")
            .and_then(Value::as_str)
            .map(|t| Zeroizing::new(t.to_owned()))
            .ok_or(DenialReason::SsoCodeRefused)
    }

    async fn verify(
        &self,
        p: &SsoProviderRecord,
        attempt: &SsoAttemptRecord,
        token: &str,
    ) -> Result<Identity, DenialReason> {
        // The kid first, unverified, only to pick the key; everything is checked after.
        let kid = platform_token::parse(token)
            .map_err(token_reason)?
            .check_header(
                &ACCEPTABLE_ALGORITHMS
                    .iter()
                    .map(|a| (*a).to_owned())
                    .collect::<Vec<_>>(),
            )
            .map_err(token_reason)?
            .1
            .to_owned();
        let (_, key) = self
            .documents(p, Some(&kid))
            .await
            .map_err(|_| DenialReason::IssuerUnavailable)?;
        let keys: Vec<Jwk> = key.into_iter().collect();
        check_id_token(
            token,
            &p.issuer,
            &p.client_id,
            &attempt.nonce,
            &keys,
            self.cx.now_ms() / 1000,
        )
    }

    fn client_secret(&self, p: &SsoProviderRecord) -> CoreResult<Option<Zeroizing<String>>> {
        let Some(sealed) = &p.sealed_secret else {
            return Ok(None);
        };
        let raw = self
            .cx
            .root
            .unseal()
            .open_webhook_secret(self.cx.vault.as_str(), p.id.as_str(), sealed)
            .map_err(|_| {
                tracing::error!(provider = %p.id, "an SSO client secret does not open");
                CoreError::Unavailable
            })?;
        let s = String::from_utf8(raw.to_vec()).map_err(|_| CoreError::Unavailable)?;
        Ok(Some(Zeroizing::new(s)))
    }

    async fn break_glass(&self) -> CoreResult<Option<UserId>> {
        Ok(self
            .cx
            .store
            .vault()
            .await?
            .and_then(|v| v.break_glass_user))
    }

    /// The user a sign-in is for: the linked one (its role and scope brought in line with the
    /// mapping), or one created just in time.
    async fn resolve_user(
        &self,
        p: &SsoProviderRecord,
        identity: &Identity,
        source_ip: ClientAddr,
    ) -> Result<UserRecord, Refusing> {
        let mappings = self.cx.store.sso_mappings(&p.id).await?;
        let Some(mapping) = first_mapping(&mappings, &identity.claims) else {
            return Err(Refusing::Refused(DenialReason::SsoNoMapping));
        };
        let projects = (!mapping.project_ids.is_empty() && rank(mapping.role) < rank(Role::Admin))
            .then(|| mapping.project_ids.clone());
        let break_glass = self.break_glass().await?;
        let actor = Actor::new(
            ActorKind::Anonymous,
            "",
            &source_ip.to_canonical().to_string(),
        );
        if let Some(link) = self.cx.store.sso_identity(&p.id, &identity.subject).await? {
            let user = self
                .cx
                .store
                .user(&link.user_id)
                .await?
                .ok_or(Refusing::Refused(DenialReason::SsoNotLinked))?;
            if Some(user.id) == break_glass {
                return Err(Refusing::Refused(DenialReason::SsoNotLinked));
            }
            if user.status != UserStatus::Active {
                return Err(Refusing::Refused(DenialReason::UserInactive));
            }
            let current = user
                .projects
                .clone()
                .filter(|_| rank(user.role) < rank(Role::Admin));
            if user.role != mapping.role || current != projects {
                let e = self.cx.event(
                    &actor,
                    AuditAction::SsoUserSync,
                    &user.id.to_string(),
                    AuditResult::Ok,
                    &format!(
                        "provider={} role={} projects={}",
                        p.id,
                        mapping.role.as_str(),
                        crate::account::scope_detail(projects.as_deref())
                    ),
                );
                match self
                    .cx
                    .audited_event(e)
                    .set_user_access(&user.id, mapping.role, projects.as_deref())
                    .await
                {
                    Ok(()) => {}
                    // The last active owner is not demoted by a mapping: refused instead.
                    Err(StoreError::Conflict(Conflict::LastOwner)) => {
                        return Err(Refusing::Refused(DenialReason::SsoNoMapping));
                    }
                    Err(e) => return Err(Refusing::Error(e.into())),
                }
            }
            self.cx
                .store
                .touch_sso_identity(&p.id, &identity.subject, self.cx.now_ms())
                .await?;
            let user = self
                .cx
                .store
                .user(&user.id)
                .await?
                .ok_or(Refusing::Error(CoreError::Unavailable))?;
            return Ok(user);
        }
        if !p.jit_users {
            return Err(Refusing::Refused(DenialReason::SsoNotLinked));
        }
        self.create_user(p, identity, mapping.role, projects, &actor)
            .await
    }

    async fn create_user(
        &self,
        p: &SsoProviderRecord,
        identity: &Identity,
        role: Role,
        projects: Option<Vec<ProjectId>>,
        actor: &Actor,
    ) -> Result<UserRecord, Refusing> {
        // The configured claim, else `email`'s local part (a username never holds `@`).
        let typed = identity
            .string(&p.username_claim)
            .map(str::to_owned)
            .or_else(|| {
                identity
                    .string("email")
                    .and_then(|e| e.split('@').next())
                    .map(str::to_owned)
            })
            .ok_or(Refusing::Refused(DenialReason::SsoUsernameTaken))?;
        let username = canonical_username(&typed)
            .map_err(|_| Refusing::Refused(DenialReason::SsoUsernameTaken))?;
        if self.cx.store.user_by_login(&username).await?.is_some() {
            return Err(Refusing::Refused(DenialReason::SsoUsernameTaken));
        }
        let verified = identity.claims.get("email_verified") == Some(&Value::Bool(true));
        let mut email = None;
        if verified
            && let Some(e) = identity.string("email")
            && let Ok(c) = canonical_email(e)
            && self.cx.store.user_by_login(&c).await?.is_none()
        {
            email = Some(c);
        }
        // A placeholder nobody can receive mail at or collide with: `.invalid` is reserved,
        // and the digest covers the provider and the subject.
        let email = match email {
            Some(e) => e,
            None => {
                let mut h = Sha256::new();
                h.update(p.id.as_str().as_bytes());
                h.update(b"\0");
                h.update(identity.subject.as_bytes());
                format!("{}@sso.invalid", &hex::encode(h.finalize())[..32])
            }
        };
        let now = self.cx.now_ms();
        let display = identity
            .string("name")
            .map_or_else(|| typed.clone(), str::to_owned);
        let user = UserRecord {
            id: UserId::generate(),
            username,
            email,
            display_name: truncate(display.trim(), 255),
            // No password: password sign-in for it is refused like a wrong one
            // (`Accounts::login` verifies against the dummy hash).
            password_hash: String::new(),
            totp_sealed: None,
            totp_last_step: 0,
            totp_confirmed: false,
            role,
            projects,
            status: UserStatus::Active,
            failed_attempts: 0,
            locked_until_ms: None,
            created_ms: now,
        };
        let link = SsoIdentityRecord {
            provider_id: p.id.clone(),
            subject: identity.subject.clone(),
            user_id: user.id,
            linked_ms: now,
            last_login_ms: Some(now),
        };
        let e = self.cx.event(
            actor,
            AuditAction::SsoUserCreate,
            &user.id.to_string(),
            AuditResult::Ok,
            &format!(
                "provider={} username={} role={} projects={}",
                p.id,
                user.username,
                role.as_str(),
                crate::account::scope_detail(user.projects.as_deref())
            ),
        );
        match self.cx.audited_event(e).insert_sso_user(&user, &link).await {
            Ok(()) => Ok(user),
            Err(StoreError::Conflict(Conflict::Username | Conflict::Email)) => {
                Err(Refusing::Refused(DenialReason::SsoUsernameTaken))
            }
            // Another sign-in of the same person created it meanwhile.
            Err(StoreError::Conflict(Conflict::SsoIdentity)) => {
                Err(Refusing::Refused(DenialReason::SsoUnknownState))
            }
            Err(e) => Err(Refusing::Error(e.into())),
        }
    }

    async fn sign_in(
        &self,
        p: &SsoProviderRecord,
        attempt: &SsoAttemptRecord,
        identity: &Identity,
        previous: Option<&SessionSecret>,
        source_ip: ClientAddr,
        user_agent: &str,
    ) -> Result<Landing, Refusing> {
        let user = self.resolve_user(p, identity, source_ip).await?;
        let ip = source_ip.to_canonical().to_string();
        if attempt.purpose == SsoPurpose::Cli {
            let code = random_token()?;
            self.cx
                .store
                .complete_sso_attempt(&attempt.id, &user.id, &sha256(&code))
                .await?;
            let e = self.cx.event(
                &Actor::new(ActorKind::Anonymous, "", &ip),
                AuditAction::SsoLogin,
                &user.id.to_string(),
                AuditResult::Ok,
                &format!("provider={} purpose=cli attempt={}", p.id, attempt.id),
            );
            self.cx.journal(vec![e], Vec::new()).await?;
            let port = attempt.loopback_port.unwrap_or_default();
            return Ok(Landing::Redirect(format!(
                "http://127.0.0.1:{port}/callback?{}",
                query(&[("attempt", attempt.id.as_str()), ("code", code.as_str())])
            )));
        }
        let now = self.cx.now_ms();
        let step_up = if self.trusts_provider_mfa().await? {
            identity
                .mfa_at_ms()
                .filter(|t| now - t < STEP_UP_WINDOW_MS && *t <= now + ID_TOKEN_LEEWAY_SECS * 1000)
        } else {
            None
        };
        let opened = self
            .sessions
            .open_session_with(&user, source_ip, user_agent, previous, step_up)
            .await?;
        let e = self.cx.event(
            &Actor::new(ActorKind::Anonymous, "", &ip),
            AuditAction::SsoLogin,
            &user.id.to_string(),
            AuditResult::Ok,
            &format!(
                "provider={} purpose=login session={} provider_mfa={}",
                p.id,
                opened.view.session_id,
                step_up.is_some()
            ),
        );
        self.cx.journal(vec![e], Vec::new()).await?;
        Ok(Landing::Session(Box::new(opened)))
    }

    async fn link(
        &self,
        p: &SsoProviderRecord,
        attempt: &SsoAttemptRecord,
        identity: &Identity,
        source_ip: ClientAddr,
    ) -> Result<Landing, Refusing> {
        let user_id = attempt
            .user_id
            .ok_or(Refusing::Refused(DenialReason::SsoUnknownState))?;
        if Some(user_id) == self.break_glass().await? {
            return Err(Refusing::Refused(DenialReason::SsoNotLinked));
        }
        match self.cx.store.sso_identity(&p.id, &identity.subject).await? {
            Some(l) if l.user_id == user_id => {
                return Ok(Landing::Redirect("/#/account".to_owned()));
            }
            Some(_) => return Err(Refusing::Refused(DenialReason::SsoNotLinked)),
            None => {}
        }
        let now = self.cx.now_ms();
        let e = self.cx.event(
            &Actor::new(
                ActorKind::Anonymous,
                "",
                &source_ip.to_canonical().to_string(),
            ),
            AuditAction::SsoLink,
            &user_id.to_string(),
            AuditResult::Ok,
            &format!("provider={}", p.id),
        );
        match self
            .cx
            .audited_event(e)
            .insert_sso_identity(&SsoIdentityRecord {
                provider_id: p.id.clone(),
                subject: identity.subject.clone(),
                user_id,
                linked_ms: now,
                last_login_ms: Some(now),
            })
            .await
        {
            Ok(()) => Ok(Landing::Redirect("/#/account".to_owned())),
            Err(StoreError::Conflict(Conflict::SsoIdentity) | StoreError::NotFound) => {
                Err(Refusing::Refused(DenialReason::SsoNotLinked))
            }
            Err(e) => Err(Refusing::Error(e.into())),
        }
    }

    async fn step_up(
        &self,
        p: &SsoProviderRecord,
        attempt: &SsoAttemptRecord,
        identity: &Identity,
        source_ip: ClientAddr,
    ) -> Result<Landing, Refusing> {
        let (Some(user_id), Some(session)) = (attempt.user_id, attempt.session_id) else {
            return Err(Refusing::Refused(DenialReason::SsoUnknownState));
        };
        match self.cx.store.sso_identity(&p.id, &identity.subject).await? {
            Some(l) if l.user_id == user_id => {}
            _ => return Err(Refusing::Refused(DenialReason::SsoNotLinked)),
        }
        let now = self.cx.now_ms();
        let fresh = identity
            .mfa_at_ms()
            .filter(|t| now - t < STEP_UP_WINDOW_MS && *t <= now + ID_TOKEN_LEEWAY_SECS * 1000);
        let Some(at) = fresh else {
            return Err(Refusing::Refused(DenialReason::SsoNoSecondFactor));
        };
        if !self.trusts_provider_mfa().await? {
            return Err(Refusing::Refused(DenialReason::SsoNoSecondFactor));
        }
        let e = self.cx.event(
            &Actor::new(
                ActorKind::Anonymous,
                "",
                &source_ip.to_canonical().to_string(),
            ),
            AuditAction::SsoStepUp,
            &session.to_string(),
            AuditResult::Ok,
            &format!("provider={} user={user_id}", p.id),
        );
        let marked = self
            .cx
            .audited_event(e)
            .set_session_step_up(&session, at.min(now))
            .await?;
        if !marked {
            return Err(Refusing::Refused(DenialReason::SessionEnded));
        }
        Ok(Landing::Redirect("/#/".to_owned()))
    }

    /// Finishes `signet login --sso` (`POST /v1/auth/sso/cli/finish`): the completion code and
    /// the new key's signature over [`signet_api::sso::cli_finish_message`]. Every failure is the
    /// uniform [`CoreError::Unauthenticated`], audited `sso_bad_completion`.
    pub async fn cli_finish(
        &self,
        attempt_id: &str,
        completion_code: &str,
        signature: &str,
        source_ip: ClientAddr,
    ) -> CoreResult<CliLogin> {
        let ip = source_ip.to_canonical().to_string();
        let refuse = || async {
            let e = self.cx.event(
                &Actor::new(ActorKind::Anonymous, "", &ip),
                AuditAction::SsoCliLogin,
                // Only a well-formed id is recorded: the text is the caller's.
                &SsoAttemptId::parse(attempt_id)
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
                AuditResult::Denied,
                &format!("reason={}", DenialReason::SsoBadCompletion),
            );
            match self.cx.journal(vec![e], Vec::new()).await {
                Ok(()) => CoreError::Unauthenticated,
                Err(e) => e,
            }
        };
        if !self.limiter.allow(source_ip, self.cx.now_ms()) {
            return Err(CoreError::RateLimited);
        }
        let Ok(id) = SsoAttemptId::parse(attempt_id) else {
            return Err(refuse().await);
        };
        let now = self.cx.now_ms();
        // Consumed whether or not what follows holds: a wrong guess spends the attempt.
        let Some(attempt) = self.cx.store.finish_sso_attempt(&id, now).await? else {
            return Err(refuse().await);
        };
        let code_ok = attempt
            .completion_hash
            .is_some_and(|h| bool::from(h.ct_eq(&sha256(completion_code))));
        let key = attempt
            .public_key
            .as_deref()
            .and_then(|k| PublicKey::from_base64(k).ok());
        let signed = key.as_ref().is_some_and(|k| {
            let Ok(raw) = STANDARD.decode(signature) else {
                return false;
            };
            let Ok(sig) = <[u8; 64]>::try_from(raw.as_slice()) else {
                return false;
            };
            k.verifying_key().is_ok_and(|vk| {
                vk.verify_strict(
                    signet_api::sso::cli_finish_message(attempt_id, completion_code).as_bytes(),
                    &ed25519_dalek::Signature::from_bytes(&sig),
                )
                .is_ok()
            })
        });
        let (Some(key), Some(user_id), true, true) = (key, attempt.user_id, code_ok, signed) else {
            return Err(refuse().await);
        };
        let user = match self.cx.store.user(&user_id).await? {
            Some(u) if u.status == UserStatus::Active => u,
            _ => return Err(refuse().await),
        };
        let ttl = self
            .cx
            .store
            .vault()
            .await?
            .map_or(CLI_KEY_TTL_MS, |v| v.cli_key_ttl_ms);
        let rec = OperatorRecord {
            id: OperatorId::generate(),
            name: attempt.key_name.clone().unwrap_or_else(|| "cli".to_owned()),
            public_key: key,
            owner: user.role == Role::Owner,
            disabled: false,
            created_ms: now,
            user_id: Some(user.id),
            expires_ms: Some(now + ttl),
        };
        let e = self.cx.event(
            &Actor::new(ActorKind::Anonymous, "", &ip),
            AuditAction::SsoCliLogin,
            &rec.id.to_string(),
            AuditResult::Ok,
            &format!("user={} provider={}", user.id, attempt.provider_id),
        );
        self.cx
            .audited_event(e)
            .insert_operator(&rec)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(Conflict::PublicKey) => {
                    CoreError::Conflict(Conflict::PublicKeyTaken)
                }
                e => e.into(),
            })?;
        Ok(CliLogin {
            operator_id: rec.id,
            vault_id: self.cx.vault.clone(),
            expires_at: now + ttl,
            api_url: self.cx.config.api_url.clone(),
        })
    }

    /// Forgets expired attempts.
    pub(crate) async fn sweep(&self) -> CoreResult<u64> {
        Ok(self.cx.store.sweep_sso_attempts(self.cx.now_ms()).await?)
    }

    /// Providers, mappings and the user's own identities.
    pub fn admin(&self) -> &SsoAdmin {
        &self.admin
    }
}

/// Providers and mappings (owners), and the signed-in user's linked identities.
#[derive(Clone)]
pub struct SsoAdmin {
    pub(crate) cx: Arc<Context>,
    held: Arc<Mutex<HashMap<SsoProviderId, Held>>>,
}

impl SsoAdmin {
    // ---- Owners: providers and mappings ----

    async fn require_owner(&self, op: &AuthedOperator, action: AuditAction) -> CoreResult<()> {
        self.cx.require(op, Permission::ManageOwners, action).await
    }

    async fn require_owner_write(
        &self,
        op: &AuthedOperator,
        action: AuditAction,
    ) -> CoreResult<()> {
        self.require_owner(op, action).await?;
        self.cx.require_step_up(op, action).await
    }

    async fn view(&self, provider: SsoProviderRecord) -> CoreResult<ProviderView> {
        let mappings = self.cx.store.sso_mappings(&provider.id).await?;
        Ok(ProviderView { provider, mappings })
    }

    async fn existing(&self, id: &str) -> CoreResult<SsoProviderRecord> {
        let id = SsoProviderId::parse(id).map_err(|_| CoreError::NotFound)?;
        self.cx
            .store
            .sso_provider(&id)
            .await?
            .ok_or(CoreError::NotFound)
    }

    /// Every provider with its mappings (owners).
    pub async fn providers(&self, op: &AuthedOperator) -> CoreResult<Vec<ProviderView>> {
        self.require_owner(op, AuditAction::SsoProviderUpdate)
            .await?;
        let mut out = Vec::new();
        for p in self.cx.store.sso_providers().await? {
            out.push(self.view(p).await?);
        }
        Ok(out)
    }

    /// One provider (owners).
    pub async fn provider(&self, op: &AuthedOperator, id: &str) -> CoreResult<ProviderView> {
        self.require_owner(op, AuditAction::SsoProviderUpdate)
            .await?;
        let p = self.existing(id).await?;
        self.view(p).await
    }

    fn seal(&self, id: &SsoProviderId, secret: &str) -> CoreResult<Vec<u8>> {
        // The webhook key's sealing, bound to this vault and the provider's id (ids are
        // prefixed by kind, so a provider's sealed secret never opens as a webhook's).
        self.cx
            .root
            .unseal()
            .seal_webhook_secret(self.cx.vault.as_str(), id.as_str(), secret.as_bytes())
            .map_err(|_| CoreError::Unavailable)
    }

    /// Trusts a provider (owners, with a fresh second factor in a browser).
    pub async fn create_provider(
        &self,
        op: &AuthedOperator,
        spec: NewProvider,
    ) -> CoreResult<ProviderView> {
        const ACTION: AuditAction = AuditAction::SsoProviderCreate;
        self.require_owner_write(op, ACTION).await?;
        check_text("name", spec.name.trim(), 64)?;
        check_issuer(&spec.issuer)?;
        check_text("clientId", &spec.client_id, 255)?;
        let username_claim = spec
            .username_claim
            .unwrap_or_else(|| DEFAULT_USERNAME_CLAIM.to_owned());
        check_claim_name("usernameClaim", &username_claim)?;
        let groups_claim = spec
            .groups_claim
            .unwrap_or_else(|| DEFAULT_GROUPS_CLAIM.to_owned());
        check_claim_name("groupsClaim", &groups_claim)?;
        if self.cx.store.sso_providers().await?.len() >= MAX_PROVIDERS {
            return Err(CoreError::bad(format!("at most {MAX_PROVIDERS} providers")));
        }
        let id = SsoProviderId::generate();
        let sealed_secret = match spec.client_secret.as_deref().map(String::as_str) {
            None | Some("") => None,
            Some(s) => {
                check_text("clientSecret", s, 1024)?;
                Some(self.seal(&id, s)?)
            }
        };
        let now = self.cx.now_ms();
        let rec = SsoProviderRecord {
            id,
            name: spec.name.trim().to_owned(),
            issuer: spec.issuer,
            client_id: spec.client_id,
            sealed_secret,
            scopes: scopes(spec.scopes)?,
            username_claim,
            groups_claim,
            jit_users: spec.jit_users.unwrap_or(false),
            enabled: spec.enabled.unwrap_or(true),
            created_ms: now,
            updated_ms: now,
        };
        self.cx
            .audited(
                op,
                ACTION,
                &rec.id.to_string(),
                &format!(
                    "name={} issuer={} client_id={} confidential={} jit_users={}",
                    rec.name,
                    rec.issuer,
                    rec.client_id,
                    rec.sealed_secret.is_some(),
                    rec.jit_users
                ),
            )
            .insert_sso_provider(&rec)
            .await?;
        self.view(rec).await
    }

    /// Changes a provider (owners, with a fresh second factor).
    pub async fn update_provider(
        &self,
        op: &AuthedOperator,
        id: &str,
        change: ProviderChange,
    ) -> CoreResult<ProviderView> {
        const ACTION: AuditAction = AuditAction::SsoProviderUpdate;
        self.require_owner_write(op, ACTION).await?;
        let mut rec = self.existing(id).await?;
        let mut changed = Vec::new();
        if let Some(name) = change.name {
            check_text("name", name.trim(), 64)?;
            rec.name = name.trim().to_owned();
            changed.push("name");
        }
        if let Some(c) = change.client_id {
            check_text("clientId", &c, 255)?;
            rec.client_id = c;
            changed.push("client_id");
        }
        if let Some(s) = change.client_secret {
            rec.sealed_secret = if s.is_empty() {
                None
            } else {
                check_text("clientSecret", &s, 1024)?;
                Some(self.seal(&rec.id, &s)?)
            };
            changed.push("client_secret");
        }
        if let Some(s) = change.scopes {
            rec.scopes = scopes(Some(s))?;
            changed.push("scopes");
        }
        if let Some(c) = change.username_claim {
            check_claim_name("usernameClaim", &c)?;
            rec.username_claim = c;
            changed.push("username_claim");
        }
        if let Some(c) = change.groups_claim {
            check_claim_name("groupsClaim", &c)?;
            rec.groups_claim = c;
            changed.push("groups_claim");
        }
        if let Some(j) = change.jit_users {
            rec.jit_users = j;
            changed.push("jit_users");
        }
        if let Some(e) = change.enabled {
            if !e && self.required_needs(&rec.id).await? {
                return Err(CoreError::bad(
                    "the vault requires SSO and this is its only enabled provider with a \
                     mapping; turn the requirement off first",
                ));
            }
            rec.enabled = e;
            changed.push("enabled");
        }
        rec.updated_ms = self.cx.now_ms().max(rec.updated_ms + 1);
        self.cx
            .audited(
                op,
                ACTION,
                &rec.id.to_string(),
                &format!("changed={}", changed.join(",")),
            )
            .update_sso_provider(&rec)
            .await?;
        self.view(rec).await
    }

    /// Whether the vault requires SSO and `provider` is the only enabled one with a mapping.
    async fn required_needs(&self, provider: &SsoProviderId) -> CoreResult<bool> {
        if !self.cx.store.vault().await?.is_some_and(|v| v.sso_required) {
            return Ok(false);
        }
        for p in self.cx.store.sso_providers().await? {
            if p.id != *provider
                && p.enabled
                && !self.cx.store.sso_mappings(&p.id).await?.is_empty()
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Removes a provider with its mappings and links (owners, with a fresh second factor).
    pub async fn delete_provider(&self, op: &AuthedOperator, id: &str) -> CoreResult<()> {
        const ACTION: AuditAction = AuditAction::SsoProviderDelete;
        self.require_owner_write(op, ACTION).await?;
        let rec = self.existing(id).await?;
        if self.required_needs(&rec.id).await? {
            return Err(CoreError::bad(
                "the vault requires SSO and this is its only enabled provider with a mapping; \
                 turn the requirement off first",
            ));
        }
        let links = self
            .cx
            .audited(
                op,
                ACTION,
                &rec.id.to_string(),
                &format!("name={}", rec.name),
            )
            .delete_sso_provider(&rec.id)
            .await?;
        if links > 0 {
            self.cx
                .audit_operator(
                    op,
                    AuditAction::SsoUnlink,
                    &rec.id.to_string(),
                    &format!("provider_deleted links={links}"),
                )
                .await?;
        }
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&rec.id);
        Ok(())
    }

    /// Adds a mapping after the existing ones (owners, with a fresh second factor).
    pub async fn add_mapping(
        &self,
        op: &AuthedOperator,
        id: &str,
        spec: NewMapping,
    ) -> CoreResult<ProviderView> {
        const ACTION: AuditAction = AuditAction::SsoMappingCreate;
        self.require_owner_write(op, ACTION).await?;
        let p = self.existing(id).await?;
        check_claim_name("claim", &spec.claim)?;
        check_text("value", &spec.value, 1024)?;
        let role = Role::parse(&spec.role)
            .ok_or_else(|| CoreError::bad("role must be owner, admin, developer or viewer"))?;
        if !spec.project_ids.is_empty() && rank(role) >= rank(Role::Admin) {
            return Err(CoreError::bad(
                "projects apply only to developers and viewers",
            ));
        }
        if spec.project_ids.len() > MAX_SCOPED_PROJECTS {
            return Err(CoreError::bad(format!(
                "at most {MAX_SCOPED_PROJECTS} projects"
            )));
        }
        let mut projects = Vec::with_capacity(spec.project_ids.len());
        for raw in &spec.project_ids {
            let pid = ProjectId::parse(raw).map_err(|_| CoreError::bad("unknown project"))?;
            if self.cx.store.project(&pid).await?.is_none() {
                return Err(CoreError::bad("unknown project"));
            }
            projects.push(pid);
        }
        projects.sort();
        projects.dedup();
        // Two mappings added at once may pick one position: the second retries after the first.
        for _ in 0..3 {
            let existing = self.cx.store.sso_mappings(&p.id).await?;
            if existing.len() >= MAX_MAPPINGS {
                return Err(CoreError::bad(format!("at most {MAX_MAPPINGS} mappings")));
            }
            let m = SsoMappingRecord {
                id: SsoMappingId::generate(),
                provider_id: p.id.clone(),
                position: existing.iter().map(|m| m.position).max().unwrap_or(0) + 1,
                claim: spec.claim.clone(),
                value: spec.value.clone(),
                role,
                project_ids: projects.clone(),
                created_ms: self.cx.now_ms(),
            };
            match self
                .cx
                .audited(
                    op,
                    ACTION,
                    &m.id.to_string(),
                    &format!(
                        "provider={} claim={} role={} projects={}",
                        p.id,
                        m.claim,
                        role.as_str(),
                        m.project_ids.len()
                    ),
                )
                .insert_sso_mapping(&m)
                .await
            {
                Ok(()) => return self.view(p).await,
                Err(StoreError::Conflict(Conflict::Id)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Unavailable)
    }

    /// Removes one mapping (owners, with a fresh second factor).
    pub async fn delete_mapping(
        &self,
        op: &AuthedOperator,
        id: &str,
        mapping: &str,
    ) -> CoreResult<ProviderView> {
        const ACTION: AuditAction = AuditAction::SsoMappingDelete;
        self.require_owner_write(op, ACTION).await?;
        let p = self.existing(id).await?;
        let mid = SsoMappingId::parse(mapping).map_err(|_| CoreError::NotFound)?;
        let remaining = self.cx.store.sso_mappings(&p.id).await?;
        if remaining.len() == 1 && remaining[0].id == mid && self.required_needs(&p.id).await? {
            return Err(CoreError::bad(
                "the vault requires SSO and this is the last mapping of its only enabled \
                 provider; turn the requirement off first",
            ));
        }
        self.cx
            .audited(op, ACTION, &mid.to_string(), &format!("provider={}", p.id))
            .delete_sso_mapping(&p.id, &mid)
            .await?;
        self.view(p).await
    }

    // ---- The signed-in user's identities ----

    /// The caller's linked identities.
    pub async fn identities(&self, op: &AuthedOperator) -> CoreResult<Vec<IdentityView>> {
        let user = op
            .user_id
            .ok_or_else(|| CoreError::bad("this key belongs to no user account"))?;
        let names: HashMap<SsoProviderId, String> = self
            .cx
            .store
            .sso_providers()
            .await?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect();
        Ok(self
            .cx
            .store
            .user_sso_identities(&user)
            .await?
            .into_iter()
            .map(|identity| IdentityView {
                provider_name: names
                    .get(&identity.provider_id)
                    .cloned()
                    .unwrap_or_default(),
                identity,
            })
            .collect())
    }

    /// Unlinks one of the caller's identities (with a fresh second factor). Someone else's, or
    /// none, is [`CoreError::Forbidden`].
    pub async fn unlink(
        &self,
        op: &AuthedOperator,
        provider: &str,
    ) -> CoreResult<Vec<IdentityView>> {
        const ACTION: AuditAction = AuditAction::SsoUnlink;
        let user = op.user_id.ok_or(CoreError::Forbidden)?;
        self.cx.require_step_up(op, ACTION).await?;
        let pid = SsoProviderId::parse(provider).map_err(|_| CoreError::Forbidden)?;
        match self
            .cx
            .audited(op, ACTION, &user.to_string(), &format!("provider={pid}"))
            .delete_sso_identity(&user, &pid)
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(CoreError::Forbidden),
            Err(e) => return Err(e.into()),
        }
        self.identities(op).await
    }
}

/// Where a refused attempt sends the browser.
fn refused_redirect(attempt: &SsoAttemptRecord) -> String {
    match (attempt.purpose, attempt.loopback_port) {
        (SsoPurpose::Cli, Some(port)) => format!(
            "http://127.0.0.1:{port}/callback?{}",
            query(&[("attempt", attempt.id.as_str()), ("error", "refused")])
        ),
        _ => FAILED_REDIRECT.to_owned(),
    }
}

/// A step of the callback refused (audited, one page) or failed (an outage).
enum Refusing {
    Refused(DenialReason),
    Error(CoreError),
}

impl From<CoreError> for Refusing {
    fn from(e: CoreError) -> Self {
        Self::Error(e)
    }
}

impl From<StoreError> for Refusing {
    fn from(e: StoreError) -> Self {
        Self::Error(e.into())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;
    use signet_testkit::oidc::{KeyKind, TestIssuer, now_secs};

    use super::*;

    fn claims(v: Value) -> serde_json::Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn mapping(position: u32, claim: &str, value: &str, role: Role) -> SsoMappingRecord {
        SsoMappingRecord {
            id: SsoMappingId::generate(),
            provider_id: SsoProviderId::generate(),
            position,
            claim: claim.to_owned(),
            value: value.to_owned(),
            role,
            project_ids: Vec::new(),
            created_ms: 0,
        }
    }

    #[test]
    fn a_mapping_holds_for_an_equal_string_or_an_array_holding_the_value() {
        let c = claims(
            json!({"groups": ["dev", "ops"], "hd": "acme.example", "n": 3,
            "nested": {"groups": ["admins"]}, "email_verified": true}),
        );
        let holds =
            |claim: &str, value: &str| mapping_holds(&mapping(1, claim, value, Role::Viewer), &c);
        assert!(holds("groups", "ops"));
        assert!(holds("hd", "acme.example"));
        assert!(holds("email_verified", "true"));
        // Not a prefix, not case-folded, not a number, not nested, not absent.
        assert!(!holds("groups", "op"));
        assert!(!holds("hd", "ACME.example"));
        assert!(!holds("n", "3"));
        assert!(!holds("groups", "admins"));
        assert!(!holds("missing", "x"));
    }

    #[test]
    fn the_first_mapping_that_holds_decides() {
        let list = vec![
            mapping(1, "groups", "admins", Role::Admin),
            mapping(2, "groups", "dev", Role::Developer),
            mapping(3, "hd", "acme.example", Role::Viewer),
        ];
        let c = claims(json!({"groups": ["dev"], "hd": "acme.example"}));
        assert_eq!(first_mapping(&list, &c).unwrap().role, Role::Developer);
        let c = claims(json!({"groups": ["dev", "admins"]}));
        assert_eq!(first_mapping(&list, &c).unwrap().role, Role::Admin);
        assert!(first_mapping(&list, &claims(json!({"groups": []}))).is_none());
    }

    fn identity(v: Value) -> Identity {
        Identity {
            subject: "s".to_owned(),
            claims: claims(v),
        }
    }

    #[test]
    fn only_a_second_factor_in_amr_with_auth_time_counts() {
        assert_eq!(
            identity(json!({"amr": ["pwd", "otp"], "auth_time": 1_700_000_000})).mfa_at_ms(),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            identity(json!({"amr": ["hwk"], "auth_time": 1_700_000_000.7})).mfa_at_ms(),
            Some(1_700_000_000_000)
        );
        // A password alone, a factor without a time, a time without a factor, a string amr.
        assert_eq!(
            identity(json!({"amr": ["pwd"], "auth_time": 1})).mfa_at_ms(),
            None
        );
        assert_eq!(identity(json!({"amr": ["mfa"]})).mfa_at_ms(), None);
        assert_eq!(identity(json!({"auth_time": 1})).mfa_at_ms(), None);
        assert_eq!(
            identity(json!({"amr": "mfa", "auth_time": 1})).mfa_at_ms(),
            None
        );
    }

    fn keys(issuer: &TestIssuer) -> Vec<Jwk> {
        parse_key_set(issuer.jwks().to_string().as_bytes()).unwrap()
    }

    #[test]
    fn an_id_token_is_checked_like_a_workload_token_then_azp_nonce_and_sub() {
        let idp = TestIssuer::start();
        let keys = keys(&idp);
        let kid = idp.kid(KeyKind::Rs256);
        let check = |extra: Value| {
            let token = idp.mint(&kid, &idp.claims("signet", extra));
            check_id_token(&token, idp.url(), "signet", "n-1", &keys, now_secs())
        };
        let ok = check(json!({"nonce": "n-1", "sub": "person-1", "groups": ["dev"]})).unwrap();
        assert_eq!(ok.subject, "person-1");
        assert_eq!(ok.claims["groups"], json!(["dev"]));

        assert_eq!(
            check(json!({"nonce": "n-2"})).unwrap_err(),
            DenialReason::SsoNonceMismatch
        );
        assert_eq!(
            check(json!({})).unwrap_err(),
            DenialReason::SsoNonceMismatch
        );
        // Another client's token: `aud`, or `azp` naming another, or several audiences and no
        // `azp`.
        assert_eq!(
            check(json!({"nonce": "n-1", "aud": "other"})).unwrap_err(),
            DenialReason::SsoWrongClient
        );
        assert_eq!(
            check(json!({"nonce": "n-1", "azp": "other"})).unwrap_err(),
            DenialReason::SsoWrongClient
        );
        assert_eq!(
            check(json!({"nonce": "n-1", "aud": ["signet", "other"]})).unwrap_err(),
            DenialReason::SsoWrongClient
        );
        assert!(
            check(json!({"nonce": "n-1", "aud": ["signet", "other"], "azp": "signet"})).is_ok()
        );
        assert_eq!(
            check(json!({"nonce": "n-1", "sub": null})).unwrap_err(),
            DenialReason::MalformedToken
        );
        assert_eq!(
            check(json!({"nonce": "n-1", "sub": ""})).unwrap_err(),
            DenialReason::MalformedToken
        );
        // The workload checks: issuer, expiry, key, algorithm.
        assert_eq!(
            check(json!({"nonce": "n-1", "iss": "https://evil.example"})).unwrap_err(),
            DenialReason::WrongIssuer
        );
        let now = now_secs();
        assert_eq!(
            check(json!({"nonce": "n-1", "exp": now - 120, "iat": now - 600})).unwrap_err(),
            DenialReason::TokenExpired
        );
        let hidden = idp.hidden_key(KeyKind::Rs256);
        let token = idp.mint(&hidden, &idp.claims("signet", json!({"nonce": "n-1"})));
        assert_eq!(
            check_id_token(&token, idp.url(), "signet", "n-1", &keys, now).unwrap_err(),
            DenialReason::UnknownKid
        );
        let token = idp.unsigned(&kid, &idp.claims("signet", json!({"nonce": "n-1"})));
        assert_eq!(
            check_id_token(&token, idp.url(), "signet", "n-1", &keys, now).unwrap_err(),
            DenialReason::BadAlgorithm
        );
        let token = idp.hs256_with_public_key(&kid, &idp.claims("signet", json!({"nonce": "n-1"})));
        assert_eq!(
            check_id_token(&token, idp.url(), "signet", "n-1", &keys, now).unwrap_err(),
            DenialReason::BadAlgorithm
        );
        // A signature made by another key under the published kid.
        let other = TestIssuer::start();
        let forged = other.mint(
            &other.kid(KeyKind::Rs256),
            &idp.claims("signet", json!({"nonce": "n-1"})),
        );
        assert_eq!(
            check_id_token(&forged, idp.url(), "signet", "n-1", &keys, now).unwrap_err(),
            DenialReason::BadTokenSignature
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            query(&[
                ("redirect_uri", "http://a/b?c=d"),
                ("scope", "openid profile")
            ]),
            "redirect_uri=http%3A%2F%2Fa%2Fb%3Fc%3Dd&scope=openid%20profile"
        );
    }
}
