//! Workload identity by OIDC: trusted issuers, the rules under them, and enrollment with a
//! platform token (GitHub Actions, GitLab CI, Kubernetes service accounts, cloud workload
//! identity).
//!
//! An operator trusts an issuer (its exact `iss`, the audience its tokens must carry, the
//! algorithms accepted, a clock leeway) with either a pinned key set or discovery: the keys are
//! fetched from `jwks_uri` in `{iss}/.well-known/openid-configuration` through the server's
//! outbound guard, cached for [`KeyPolicy::ttl_ms`], and fetched again on a `kid` the cache does
//! not hold, at most once per [`KeyPolicy::refetch_every_ms`] per issuer, so a rotation is picked up at once
//! and a stream of made-up `kid`s cannot make Signet hammer the issuer.
//!
//! Rules are tried in the order they were added; the first whose every claim condition holds
//! decides. A rule that an earlier one shadows (the earlier one's conditions are a subset of
//! its own, so it could never apply) is refused when added.
//!
//! Enrollment checks, in order: the vault and the allowlist, the per-source rate, the proof of
//! possession (always required here: a platform token is a bearer credential its platform
//! hands to logs and steps, and without the proof whoever saw it could enroll a key of their
//! choosing), the token ([`crate::platform_token`]), the rules, and single use, which commits
//! with the machine. Every refusal of the token is the same 403, audited with its reason.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use jsonwebtoken::jwk::Jwk;
use signet_api::audit::{AuditAction, DenialReason};
use signet_proto::web_url::WebUrl;
use signet_proto::{
    EnrollmentProof, IssuerId, IssuerRuleId, MachineId, ProjectId, PublicKey, SecretId,
};
use signet_store::{
    ActorKind, AuditResult, Conflict, EnrollMethod, EnrollmentGrant, IssuerRecord,
    IssuerRuleRecord, MachineKind, MachineRecord, MachineStatus, PlatformTokenUse, StoreError,
};

use crate::address::ClientAddr;
use crate::context::Context;
use crate::journal::Actor;
use crate::network::Network;
use crate::platform_token::{self, ACCEPTABLE_ALGORITHMS, DEFAULT_ALGORITHMS, parse_key_set};
use crate::principal::AuthedOperator;
use crate::registration::{Registered, Registration, RequestLimiter};
use crate::role::Permission;
use crate::{CoreError, CoreResult};

/// How long fetched keys are used before they are fetched again, unless configured.
pub const KEYS_TTL_MS: i64 = 10 * 60 * 1000;
/// The least time between two fetches for one issuer (on an unknown `kid`), unless
/// configured.
pub const REFETCH_EVERY_MS: i64 = 30 * 1000;

/// How long discovered keys are trusted, and how often an issuer may be asked again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Keys older than this are fetched again before use, ms.
    pub ttl_ms: i64,
    /// At most one fetch per issuer per this long, ms (an unknown `kid` asks again only then).
    pub refetch_every_ms: i64,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            ttl_ms: KEYS_TTL_MS,
            refetch_every_ms: REFETCH_EVERY_MS,
        }
    }
}
/// Enrollments by platform token per source address per minute.
pub const ENROLLMENTS_PER_SOURCE_PER_MINUTE: u32 = 60;
const DEFAULT_LEEWAY_SECS: u32 = 60;
const MAX_LEEWAY_SECS: u32 = 300;
const DEFAULT_MACHINE_TTL_SECS: i64 = 3600;
const MAX_MACHINE_TTL_SECS: i64 = 366 * 24 * 3600;
const MAX_RULES: usize = 100;
const MAX_CONDITIONS: usize = 16;
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Why a document could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The outbound guard refused the address (the message says why).
    #[error("address refused: {0}")]
    Refused(String),
    /// No answer, a timeout, a redirect, a status outside 2xx, or a body over the cap.
    #[error("the issuer did not answer usably")]
    Failed,
}

/// Fetches an issuer's discovery document and key set; the server implements it with its
/// outbound HTTP guard (https only, public addresses, no redirects, a time limit, a size cap).
#[async_trait]
pub trait KeyFetcher: Send + Sync {
    /// The body of a `GET url`.
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError>;
    /// The body of a form `POST` (an SSO provider's token endpoint), with HTTP basic
    /// authentication when `basic` names a client id and secret. A status outside 2xx is
    /// [`FetchError::Failed`] like no answer: a refused code is a refused code.
    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<Vec<u8>, FetchError> {
        let _ = (url, form, basic);
        Err(FetchError::Failed)
    }
}

/// What an operator asks for when trusting an issuer.
#[derive(Debug, Clone, Default)]
pub struct NewIssuer {
    /// A label.
    pub name: String,
    /// The exact `iss`.
    pub issuer: String,
    /// A pinned JWKS; `None`: discovery.
    pub jwks: Option<serde_json::Value>,
    /// The audience.
    pub audience: String,
    /// Accepted algorithms; default [`DEFAULT_ALGORITHMS`].
    pub algorithms: Option<Vec<String>>,
    /// Leeway, seconds; default 60.
    pub leeway_secs: Option<u32>,
}

/// A change to an issuer; `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct IssuerChange {
    /// A new label.
    pub name: Option<String>,
    /// A new pinned JWKS.
    pub jwks: Option<serde_json::Value>,
    /// A new audience.
    pub audience: Option<String>,
    /// New algorithms.
    pub algorithms: Option<Vec<String>>,
    /// A new leeway.
    pub leeway_secs: Option<u32>,
}

/// What an operator asks for when adding a rule.
#[derive(Debug, Clone, Default)]
pub struct NewRule {
    /// A label.
    pub name: String,
    /// Claim conditions.
    pub claims: BTreeMap<String, String>,
    /// Projects (text: a malformed id is an unknown one).
    pub project_ids: Vec<String>,
    /// Secrets.
    pub secret_ids: Vec<String>,
    /// Machine lifetime; default one hour.
    pub machine_ttl_secs: Option<i64>,
}

/// An issuer with its rules, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerView {
    /// The issuer.
    pub issuer: IssuerRecord,
    /// Its rules.
    pub rules: Vec<IssuerRuleRecord>,
}

/// Keys held for one issuer.
struct HeldKeys {
    /// The issuer's `updated_ms` they were fetched under: a change to the issuer drops them.
    version: i64,
    /// When they were fetched (0: never successfully).
    fetched_ms: i64,
    /// When a fetch was last started.
    attempted_ms: i64,
    keys: Arc<Vec<Jwk>>,
}

/// The fetcher the server set, with its cache policy.
pub(crate) type Fetching = (Arc<dyn KeyFetcher>, KeyPolicy);

/// Trusted issuers and enrollment by platform token.
#[derive(Clone)]
pub struct Issuers {
    pub(crate) cx: Arc<Context>,
    pub(crate) network: Network,
    pub(crate) limiter: Arc<RequestLimiter>,
    pub(crate) fetcher: Arc<RwLock<Option<Fetching>>>,
    keys: Arc<Mutex<HashMap<IssuerId, HeldKeys>>>,
}

fn check_text(what: &str, v: &str, max: usize) -> CoreResult<()> {
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(CoreError::bad(format!(
            "{what} must be 1-{max} characters without control characters"
        )));
    }
    Ok(())
}

/// An issuer URL as it must appear in `iss`: `https://` (or `http://`, which the outbound guard
/// allows only to loopback), without query or fragment, read by the workspace's one URL parser
/// ([`signet_proto::web_url`]) and taken only as that parser writes it: `iss` is compared byte
/// for byte, and the discovery document is fetched from the same text. Shared with SSO
/// providers (`what` names the field).
pub(crate) fn check_issuer_url(what: &str, url: &str) -> CoreResult<()> {
    let parsed = WebUrl::parse(url).map_err(|e| {
        CoreError::bad(format!(
            "{what} must be the tokens' exact `iss`, an https:// URL: it {e}"
        ))
    })?;
    if parsed.has_query() {
        return Err(CoreError::bad(format!(
            "{what} must be the tokens' exact `iss`, an https:// URL without a query"
        )));
    }
    Ok(())
}

fn algorithms(list: Option<Vec<String>>) -> CoreResult<Vec<String>> {
    let list = list.unwrap_or_else(|| DEFAULT_ALGORITHMS.map(str::to_owned).to_vec());
    if list.is_empty() {
        return Err(CoreError::bad("algorithms must name at least one"));
    }
    let mut out: Vec<String> = Vec::new();
    for a in list {
        if !ACCEPTABLE_ALGORITHMS.contains(&a.as_str()) {
            return Err(CoreError::bad(format!(
                "algorithm {a:?} is not accepted (one of {}; never none or HMAC)",
                ACCEPTABLE_ALGORITHMS.join(", ")
            )));
        }
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

fn leeway(v: Option<u32>) -> CoreResult<u32> {
    let v = v.unwrap_or(DEFAULT_LEEWAY_SECS);
    if v > MAX_LEEWAY_SECS {
        return Err(CoreError::bad(format!(
            "leeway must be 0-{MAX_LEEWAY_SECS} seconds"
        )));
    }
    Ok(v)
}

fn pinned(jwks: &serde_json::Value) -> CoreResult<String> {
    let text = jwks.to_string();
    if text.len() > MAX_JWKS_BYTES {
        return Err(CoreError::bad("jwks is larger than 64 KiB"));
    }
    match parse_key_set(text.as_bytes()) {
        Some(keys) if !keys.is_empty() => Ok(text),
        _ => Err(CoreError::bad(
            "jwks must be {\"keys\": [...]} with at least one public signing key that has a kid",
        )),
    }
}

fn check_condition(name: &str, value: &str) -> CoreResult<()> {
    let name_ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
    if !name_ok {
        return Err(CoreError::bad(
            "claim names must be 1-64 characters of letters, digits and _-.:",
        ));
    }
    check_text("a claim value", value, 1024)
}

/// The audit text for a token's `sub`: printable ASCII, bounded.
fn shown_sub(sub: Option<&str>) -> String {
    sub.unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(200)
        .collect()
}

impl Issuers {
    pub(crate) fn new(cx: Arc<Context>, network: Network) -> Self {
        Self {
            cx,
            network,
            limiter: Arc::new(RequestLimiter::new(ENROLLMENTS_PER_SOURCE_PER_MINUTE)),
            fetcher: Arc::default(),
            keys: Arc::default(),
        }
    }

    /// Sets how discovery documents and key sets are fetched (the server's guarded client).
    /// Until then, only issuers with pinned keys can enroll anything.
    pub fn set_fetcher(&self, fetcher: Arc<dyn KeyFetcher>, policy: KeyPolicy) {
        // A poisoned lock only means a panic while swapping an Arc.
        *self.fetcher.write().unwrap_or_else(|e| e.into_inner()) = Some((fetcher, policy));
    }

    async fn view(&self, issuer: IssuerRecord) -> CoreResult<IssuerView> {
        let rules = self.cx.store.issuer_rules(&issuer.id).await?;
        Ok(IssuerView { issuer, rules })
    }

    async fn existing(&self, id: &str) -> CoreResult<IssuerRecord> {
        let id = IssuerId::parse(id).map_err(|_| CoreError::NotFound)?;
        self.cx.store.issuer(&id).await?.ok_or(CoreError::NotFound)
    }

    /// Every trusted issuer with its rules. Not for scoped operators: rules name projects and
    /// secrets across the vault.
    pub async fn list(&self, op: &AuthedOperator) -> CoreResult<Vec<IssuerView>> {
        self.cx
            .require_unscoped(op, AuditAction::IssuerList)
            .await?;
        let mut out = Vec::new();
        for i in self.cx.store.issuers().await? {
            out.push(self.view(i).await?);
        }
        Ok(out)
    }

    /// One issuer with its rules.
    pub async fn show(&self, op: &AuthedOperator, id: &str) -> CoreResult<IssuerView> {
        self.cx
            .require_unscoped(op, AuditAction::IssuerList)
            .await?;
        let i = self.existing(id).await?;
        self.view(i).await
    }

    async fn require_manage(&self, op: &AuthedOperator, action: AuditAction) -> CoreResult<()> {
        self.cx
            .require(op, Permission::ManageTokens, action)
            .await?;
        self.cx.require_step_up(op, action).await
    }

    /// Trusts an issuer.
    pub async fn create(&self, op: &AuthedOperator, spec: NewIssuer) -> CoreResult<IssuerView> {
        const ACTION: AuditAction = AuditAction::IssuerCreate;
        self.require_manage(op, ACTION).await?;
        crate::name::check_name("issuer", &spec.name)?;
        check_issuer_url("issuer", &spec.issuer)?;
        check_text("audience", &spec.audience, 512)?;
        let now = self.cx.now_ms();
        let rec = IssuerRecord {
            id: IssuerId::generate(),
            name: spec.name,
            pinned_jwks: spec.jwks.as_ref().map(pinned).transpose()?,
            issuer: spec.issuer,
            audience: spec.audience,
            algorithms: algorithms(spec.algorithms)?,
            leeway_secs: leeway(spec.leeway_secs)?,
            created_by: op.id,
            created_ms: now,
            updated_ms: now,
        };
        let detail = format!(
            "issuer={} keys={}",
            rec.issuer,
            if rec.pinned_jwks.is_some() {
                "pinned"
            } else {
                "discovered"
            }
        );
        self.cx
            .audited(op, ACTION, rec.id.as_str(), &detail)
            .insert_issuer(&rec)
            .await?;
        self.view(rec).await
    }

    /// Changes an issuer's settings. Its keys are fetched afresh at the next enrollment.
    pub async fn update(
        &self,
        op: &AuthedOperator,
        id: &str,
        change: IssuerChange,
    ) -> CoreResult<IssuerView> {
        const ACTION: AuditAction = AuditAction::IssuerUpdate;
        self.require_manage(op, ACTION).await?;
        let mut rec = self.existing(id).await?;
        if let Some(n) = change.name {
            crate::name::check_name("issuer", &n)?;
            rec.name = n;
        }
        if let Some(j) = &change.jwks {
            if rec.pinned_jwks.is_none() {
                return Err(CoreError::bad(
                    "this issuer's keys are discovered; trust it again to pin keys",
                ));
            }
            rec.pinned_jwks = Some(pinned(j)?);
        }
        if let Some(a) = change.audience {
            check_text("audience", &a, 512)?;
            rec.audience = a;
        }
        if change.algorithms.is_some() {
            rec.algorithms = algorithms(change.algorithms)?;
        }
        if change.leeway_secs.is_some() {
            rec.leeway_secs = leeway(change.leeway_secs)?;
        }
        rec.updated_ms = self.cx.now_ms().max(rec.updated_ms + 1);
        self.cx
            .audited(op, ACTION, rec.id.as_str(), "")
            .update_issuer(&rec)
            .await?;
        self.view(rec).await
    }

    /// Removes an issuer and its rules. Machines it enrolled keep their (bounded) lifetimes.
    pub async fn delete(&self, op: &AuthedOperator, id: &str) -> CoreResult<IssuerId> {
        const ACTION: AuditAction = AuditAction::IssuerDelete;
        self.require_manage(op, ACTION).await?;
        let rec = self.existing(id).await?;
        self.cx
            .audited(
                op,
                ACTION,
                rec.id.as_str(),
                &format!("issuer={}", rec.issuer),
            )
            .delete_issuer(&rec.id)
            .await?;
        Ok(rec.id)
    }

    /// Adds a rule after the existing ones.
    pub async fn add_rule(
        &self,
        op: &AuthedOperator,
        id: &str,
        spec: NewRule,
    ) -> CoreResult<IssuerView> {
        const ACTION: AuditAction = AuditAction::IssuerRuleCreate;
        self.require_manage(op, ACTION).await?;
        let issuer = self.existing(id).await?;
        crate::name::check_name("rule", &spec.name)?;
        if spec.claims.is_empty() || spec.claims.len() > MAX_CONDITIONS {
            return Err(CoreError::bad(format!(
                "a rule needs 1-{MAX_CONDITIONS} claim conditions"
            )));
        }
        for (k, v) in &spec.claims {
            check_condition(k, v)?;
        }
        let ttl = spec.machine_ttl_secs.unwrap_or(DEFAULT_MACHINE_TTL_SECS);
        if !(60..=MAX_MACHINE_TTL_SECS).contains(&ttl) {
            return Err(CoreError::bad("machine ttl must be 1 minute to 366 days"));
        }
        let (project_ids, secret_ids) = self.grants(&spec.project_ids, &spec.secret_ids).await?;
        let existing = self.cx.store.issuer_rules(&issuer.id).await?;
        if existing.len() >= MAX_RULES {
            return Err(CoreError::bad(format!(
                "an issuer has at most {MAX_RULES} rules"
            )));
        }
        if let Some(earlier) = existing
            .iter()
            .find(|e| e.claims.iter().all(|(k, v)| spec.claims.get(k) == Some(v)))
        {
            return Err(CoreError::bad(format!(
                "rule {} ({}) is tried first and matches every token this one would: it would \
                 never apply",
                earlier.id, earlier.name
            )));
        }
        let position = existing.iter().map(|r| r.position).max().unwrap_or(0) + 1;
        let rule = IssuerRuleRecord {
            id: IssuerRuleId::generate(),
            issuer_id: issuer.id.clone(),
            position,
            name: spec.name,
            claims: spec.claims,
            project_ids,
            secret_ids,
            machine_ttl_secs: ttl,
            created_ms: self.cx.now_ms(),
        };
        let detail = format!("issuer={} position={position}", issuer.id);
        match self
            .cx
            .audited(op, ACTION, rule.id.as_str(), &detail)
            .insert_issuer_rule(&rule)
            .await
        {
            Ok(()) => {}
            // Another rule took the position meanwhile: the operator adds it again.
            Err(StoreError::Conflict(Conflict::Id)) => {
                return Err(CoreError::Conflict(Conflict::Id));
            }
            Err(e) => return Err(e.into()),
        }
        self.view(issuer).await
    }

    /// Removes one rule.
    pub async fn delete_rule(
        &self,
        op: &AuthedOperator,
        id: &str,
        rule: &str,
    ) -> CoreResult<IssuerView> {
        const ACTION: AuditAction = AuditAction::IssuerRuleDelete;
        self.require_manage(op, ACTION).await?;
        let issuer = self.existing(id).await?;
        let rule = IssuerRuleId::parse(rule).map_err(|_| CoreError::NotFound)?;
        self.cx
            .audited(op, ACTION, rule.as_str(), &format!("issuer={}", issuer.id))
            .delete_issuer_rule(&issuer.id, &rule)
            .await?;
        self.view(issuer).await
    }

    async fn grants(
        &self,
        projects: &[String],
        secrets: &[String],
    ) -> CoreResult<(Vec<ProjectId>, Vec<SecretId>)> {
        if projects.is_empty() {
            return Err(CoreError::bad("a rule needs at least one project"));
        }
        let mut pids = Vec::new();
        for p in projects {
            let pid = ProjectId::parse(p)
                .map_err(|_| CoreError::bad(format!("unknown project {p:?}")))?;
            self.cx
                .store
                .project(&pid)
                .await?
                .ok_or_else(|| CoreError::bad(format!("unknown project {p:?}")))?;
            if !pids.contains(&pid) {
                pids.push(pid);
            }
        }
        let mut sids = Vec::new();
        for s in secrets {
            let sid =
                SecretId::parse(s).map_err(|_| CoreError::bad(format!("unknown secret {s:?}")))?;
            let rec = self
                .cx
                .store
                .secret(&sid)
                .await?
                .filter(|r| r.deleted_ms.is_none())
                .ok_or_else(|| CoreError::bad(format!("unknown secret {s:?}")))?;
            if !pids.contains(&rec.project_id) {
                return Err(CoreError::bad(format!(
                    "secret {s} is not in the rule's projects"
                )));
            }
            if !sids.contains(&sid) {
                sids.push(sid);
            }
        }
        Ok((pids, sids))
    }

    /// Audits a refused enrollment (anonymous: nothing is believed yet) and answers the
    /// uniform refusal. If even the record fails, the answer is the same.
    async fn refuse(
        &self,
        ip: ClientAddr,
        reason: DenialReason,
        issuer: Option<&IssuerId>,
    ) -> CoreError {
        let detail = match issuer {
            Some(i) => format!("reason={reason} issuer={i}"),
            None => format!("reason={reason}"),
        };
        let e = self.cx.event(
            &Actor::new(ActorKind::Anonymous, "", &ip.to_string()),
            AuditAction::MachineEnrollOidc,
            "",
            AuditResult::Denied,
            &detail,
        );
        let _ = self.cx.journal(vec![e], Vec::new()).await;
        CoreError::Forbidden
    }

    fn fetcher(&self) -> Option<Fetching> {
        self.fetcher
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The issuer's discovered keys, from `{iss}/.well-known/openid-configuration`'s
    /// `jwks_uri`. The document must name the same issuer.
    async fn discover(&self, issuer: &IssuerRecord) -> Result<Vec<Jwk>, FetchError> {
        let (fetcher, _) = self.fetcher().ok_or(FetchError::Failed)?;
        let base = issuer.issuer.trim_end_matches('/');
        let doc = fetcher
            .get(&format!("{base}/.well-known/openid-configuration"))
            .await?;
        let doc: serde_json::Value =
            serde_json::from_slice(&doc).map_err(|_| FetchError::Failed)?;
        if doc.get("issuer").and_then(|v| v.as_str()) != Some(issuer.issuer.as_str()) {
            return Err(FetchError::Failed);
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(|v| v.as_str())
            .ok_or(FetchError::Failed)?;
        let set = fetcher.get(jwks_uri).await?;
        parse_key_set(&set).ok_or(FetchError::Failed)
    }

    /// The key `kid` names: pinned, or from the cache, fetching when the cache is stale or
    /// (rate limited) does not hold `kid`. `Err` when the keys cannot be had at all.
    async fn key(&self, issuer: &IssuerRecord, kid: &str) -> Result<Option<Jwk>, FetchError> {
        if let Some(text) = &issuer.pinned_jwks {
            let keys = parse_key_set(text.as_bytes()).unwrap_or_default();
            return Ok(platform_token::find(&keys, kid).cloned());
        }
        let now = self.cx.now_ms();
        let policy = self.fetcher().map(|(_, p)| p).unwrap_or_default();
        {
            let mut held = self.keys.lock().unwrap_or_else(|e| e.into_inner());
            let h = held.entry(issuer.id.clone()).or_insert(HeldKeys {
                version: issuer.updated_ms,
                fetched_ms: 0,
                attempted_ms: i64::MIN / 2,
                keys: Arc::default(),
            });
            if h.version != issuer.updated_ms {
                *h = HeldKeys {
                    version: issuer.updated_ms,
                    fetched_ms: 0,
                    attempted_ms: i64::MIN / 2,
                    keys: Arc::default(),
                };
            }
            let fresh = h.fetched_ms > 0 && now - h.fetched_ms < policy.ttl_ms;
            let found = platform_token::find(&h.keys, kid).cloned();
            match found {
                Some(k) if fresh => return Ok(Some(k)),
                _ if now - h.attempted_ms < policy.refetch_every_ms => {
                    // Too soon to ask again: answer from what is held (a stale set still
                    // serves until a fetch succeeds).
                    return if h.fetched_ms > 0 {
                        Ok(found)
                    } else {
                        Err(FetchError::Failed)
                    };
                }
                _ => h.attempted_ms = now,
            }
        }
        match self.discover(issuer).await {
            Ok(keys) => {
                let found = platform_token::find(&keys, kid).cloned();
                let mut held = self.keys.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(h) = held.get_mut(&issuer.id)
                    && h.version == issuer.updated_ms
                {
                    h.fetched_ms = now;
                    h.keys = Arc::new(keys);
                }
                Ok(found)
            }
            Err(e) => {
                tracing::warn!(issuer = %issuer.id, error = %e, "cannot fetch the issuer's keys");
                let held = self.keys.lock().unwrap_or_else(|e| e.into_inner());
                match held.get(&issuer.id) {
                    Some(h) if h.fetched_ms > 0 => Ok(platform_token::find(&h.keys, kid).cloned()),
                    _ => Err(e),
                }
            }
        }
    }

    /// Creates an auto-approved ephemeral machine from a platform token
    /// (`POST /v1/{vault}/enroll/oidc`).
    pub async fn enroll(
        &self,
        vault: &str,
        token: &str,
        reg: &Registration<'_>,
    ) -> CoreResult<Registered> {
        const ACTION: AuditAction = AuditAction::MachineEnrollOidc;
        let ip = reg.source_ip;
        if vault != self.cx.vault.as_str() || !self.network.enrollment_ip_allowed(ip).await? {
            return Err(self.refuse(ip, DenialReason::VaultOrIp, None).await);
        }
        if !self.limiter.allow(ip, self.cx.now_ms()) {
            return Err(CoreError::RateLimited);
        }
        // The proof first: a refused attempt spends nothing and learns nothing about the token.
        let public_key =
            PublicKey::from_base64(reg.public_key).map_err(|e| CoreError::bad(e.to_string()))?;
        match (reg.proof, reg.proof_timestamp) {
            (Some(sig), Some(ts)) => {
                let now_secs = self.cx.now_ms().div_euclid(1000);
                let checked = EnrollmentProof::parse(sig, ts).and_then(|p| {
                    p.verify(&public_key, Some(&self.cx.vault), Some(token), now_secs)
                });
                if checked.is_err() {
                    let _ = self.refuse(ip, DenialReason::BadProof, None).await;
                    return Err(CoreError::EnrollmentProofInvalid(
                        "proof does not verify under publicKey for this vault and token \
                         (see docs/protocol.md, enrollment proof)",
                    ));
                }
            }
            _ => {
                let _ = self.refuse(ip, DenialReason::ProofRequired, None).await;
                return Err(CoreError::EnrollmentProofRequired);
            }
        }
        let unverified = match platform_token::parse(token) {
            Ok(u) => u,
            Err(r) => return Err(self.refuse(ip, r.reason(), None).await),
        };
        let Some(issuer) = (match unverified.issuer() {
            Some(iss) => self.cx.store.issuer_by_url(iss).await?,
            None => None,
        }) else {
            return Err(self.refuse(ip, DenialReason::WrongIssuer, None).await);
        };
        let iid = Some(&issuer.id);
        let (alg, kid) = match unverified.check_header(&issuer.algorithms) {
            Ok(h) => h,
            Err(r) => return Err(self.refuse(ip, r.reason(), iid).await),
        };
        let jwk = match self.key(&issuer, kid).await {
            Ok(Some(k)) => k,
            Ok(None) => return Err(self.refuse(ip, DenialReason::UnknownKid, iid).await),
            Err(_) => {
                let _ = self.refuse(ip, DenialReason::IssuerUnavailable, iid).await;
                return Err(CoreError::Unavailable);
            }
        };
        let now = self.cx.now_ms();
        let checked = match unverified.verify(alg, &jwk).and_then(|()| {
            unverified.check_claims(
                &issuer.issuer,
                &issuer.audience,
                i64::from(issuer.leeway_secs),
                now.div_euclid(1000),
            )
        }) {
            Ok(c) => c,
            Err(r) => return Err(self.refuse(ip, r.reason(), iid).await),
        };
        let rules = self.cx.store.issuer_rules(&issuer.id).await?;
        let Some(rule) = unverified.first_match(&rules) else {
            return Err(self.refuse(ip, DenialReason::NoMatchingRule, iid).await);
        };
        let m = self.new_machine(reg, public_key, now + rule.machine_ttl_secs * 1000)?;
        let used = PlatformTokenUse {
            digest: platform_token::use_digest(&issuer.issuer, checked.jti.as_deref(), token),
            forget_after_ms: (checked.exp + i64::from(issuer.leeway_secs) + 1) * 1000,
        };
        let grant = EnrollmentGrant {
            project_ids: rule.project_ids.clone(),
            secret_ids: rule.secret_ids.clone(),
        };
        let detail = format!(
            "issuer={} rule={} sub={} fingerprint={}",
            issuer.id,
            rule.id,
            shown_sub(checked.sub.as_deref()),
            m.public_key.fingerprint()
        );
        let e = self.cx.event(
            &Actor::new(ActorKind::Machine, &m.id.to_string(), &ip.to_string()),
            ACTION,
            &m.id.to_string(),
            AuditResult::Ok,
            &detail,
        );
        match self
            .cx
            .audited_event(e)
            .enroll_with_platform_token(&used, now, &m, &grant)
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => {
                return Err(self.refuse(ip, DenialReason::TokenReplayed, iid).await);
            }
            Err(StoreError::Conflict(_)) => {
                return Err(CoreError::Conflict(Conflict::PublicKeyTaken));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(Registered {
            machine_id: m.id,
            machine_name: m.name,
            vault_id: self.cx.vault.clone(),
            api_url: self.cx.config.api_url.clone(),
            status: m.status.as_str(),
            fingerprint: m.public_key.fingerprint().to_string(),
            expires_at: m.expires_ms,
        })
    }

    fn new_machine(
        &self,
        reg: &Registration<'_>,
        public_key: PublicKey,
        expires_ms: i64,
    ) -> CoreResult<MachineRecord> {
        crate::name::check_hostname(reg.hostname)?;
        Ok(MachineRecord {
            id: MachineId::generate(),
            name: crate::name::machine_name(reg.name, reg.hostname)?,
            hostname: reg.hostname.to_owned(),
            public_key,
            status: MachineStatus::Approved,
            enabled: true,
            kind: MachineKind::Ephemeral,
            expires_ms: Some(expires_ms),
            // The machines table knows three ways in; a platform token is an enrollment policy
            // like an enrollment token, and its record names the issuer and rule.
            enrolled_via: EnrollMethod::Enrollment,
            enrollment_token_id: None,
            registered_ip: reg.source_ip.to_canonical().to_string(),
            allowed_cidrs: Vec::new(),
            created_ms: self.cx.now_ms(),
            // A workload, never an agent: an agent is approved as one by an operator.
            ai_agent: None,
        })
    }
}
