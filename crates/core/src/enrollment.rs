//! Getting a machine's public key registered. The private key is generated on the machine and
//! never leaves it; the server only ever receives the raw public key.
//!
//! Three ways in:
//! - a **bootstrap token**: single use, ten minutes, stored as a hash; the machine is pending
//!   until an operator approves it;
//! - an **enrollment token**: a reusable policy template (projects, secrets, uses, lifetimes,
//!   source CIDR, hostname pattern) that creates auto-approved ephemeral machines;
//! - a **tokenless request**: no secret at all; the operator approves only by quoting the key's
//!   fingerprint, which the machine printed. Rate limited, and a vault setting turns it off.
//!
//! Each may carry a proof of possession (`signet_proto::enrollment`): the new key's signature
//! over the vault, the token's hash, the key and a timestamp. A proof that is sent must hold; a
//! vault setting makes it required. Both are checked before the token is looked up, so a refused
//! attempt never spends a token and its answer says nothing about the token.

use std::sync::Arc;

use regex::RegexBuilder;
use sha2::{Digest, Sha256};
use signet_api::audit::{AuditAction, DenialReason};
use signet_proto::{
    EnrollmentProof, MachineId, ProjectId, ProtocolError, PublicKey, SecretId, VaultId,
};
use signet_store::{
    ActorKind, AuditEvent, AuditResult, BootstrapTokenRecord, Conflict, EnrollMethod,
    EnrollmentGrant, EnrollmentTokenRecord, MachineKind, MachineRecord, MachineStatus, StoreError,
};
use zeroize::Zeroizing;

use crate::address::{ClientAddr, ip_in_cidrs, parse_cidr};
use crate::context::Context;
use crate::issuer::Issuers;
use crate::journal::Actor;
use crate::network::{Network, new_public_id};
use crate::principal::AuthedOperator;
use crate::registration::RequestLimiter;
pub use crate::registration::{Registered, Registration};
use crate::role::Permission;
use crate::{CoreError, CoreResult};

/// How long a bootstrap token lives.
pub const BOOTSTRAP_TTL_MS: i64 = 10 * 60 * 1000;
const MAX_USES: u32 = 10_000;
const MAX_TOKEN_TTL_SECS: i64 = 30 * 24 * 3600;
const MAX_MACHINE_TTL_SECS: i64 = 366 * 24 * 3600;

/// A freshly issued token. The text exists only in this value and in the operator's hands.
pub struct IssuedToken(pub Zeroizing<String>);

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuedToken(***)")
    }
}

fn new_token(prefix: &str) -> CoreResult<IssuedToken> {
    let mut raw = Zeroizing::new([0u8; 32]);
    getrandom::fill(raw.as_mut()).map_err(|_| CoreError::Unavailable)?;
    Ok(IssuedToken(Zeroizing::new(format!(
        "{prefix}{}",
        hex::encode(raw.as_ref())
    ))))
}

/// Tokens carry 256 random bits, so a plain SHA-256 is a safe one-way index.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// An enrollment token as shown to operators (never its text, except once at issue).
#[derive(Debug, Clone)]
pub struct EnrollmentTokenView {
    /// Its id.
    pub id: String,
    /// The token text: present only in the response that issued it.
    pub token: Option<String>,
    /// A label.
    pub name: String,
    /// Projects new machines join.
    pub project_ids: Vec<ProjectId>,
    /// Secrets new machines are granted.
    pub secret_ids: Vec<SecretId>,
    /// How many machines it may create.
    pub max_uses: u32,
    /// How many it has created.
    pub uses: u32,
    /// Unix ms.
    pub expires_at: i64,
    /// Lifetime of each machine.
    pub machine_ttl_secs: i64,
    /// Required source network.
    pub source_cidr: Option<String>,
    /// Required hostname pattern.
    pub hostname_pattern: Option<String>,
    /// Unix ms.
    pub revoked_at: Option<i64>,
    /// Unix ms.
    pub created_at: i64,
}

impl From<EnrollmentTokenRecord> for EnrollmentTokenView {
    fn from(t: EnrollmentTokenRecord) -> Self {
        Self {
            id: t.id,
            token: None,
            name: t.name,
            project_ids: t.project_ids,
            secret_ids: t.secret_ids,
            max_uses: t.max_uses,
            uses: t.uses,
            expires_at: t.expires_ms,
            machine_ttl_secs: t.machine_ttl_secs,
            source_cidr: t.source_cidr,
            hostname_pattern: t.hostname_pattern,
            revoked_at: t.revoked_ms,
            created_at: t.created_ms,
        }
    }
}

/// What an operator asks for when issuing an enrollment token.
#[derive(Debug, Clone, Default)]
pub struct EnrollmentSpec {
    /// A label.
    pub name: Option<String>,
    /// Projects to attach.
    pub project_ids: Vec<String>,
    /// Secrets to grant.
    pub secret_ids: Vec<String>,
    /// Default 1.
    pub max_uses: Option<u32>,
    /// Token lifetime; default one hour.
    pub ttl_secs: Option<i64>,
    /// Machine lifetime; default one day.
    pub machine_ttl_secs: Option<i64>,
    /// Required source network.
    pub source_cidr: Option<String>,
    /// Required hostname pattern (a regex matched against the whole hostname).
    pub hostname_pattern: Option<String>,
}

fn compile_pattern(p: &str) -> CoreResult<regex::Regex> {
    RegexBuilder::new(&format!("^(?:{p})$"))
        .size_limit(1 << 16)
        .build()
        .map_err(|_| CoreError::bad("hostname pattern is not a valid regular expression"))
}

/// Bootstrap and enrollment tokens, tokenless requests, and enrolling machines.
#[derive(Clone)]
pub struct Enrollment {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
    /// The allowlist enrollment passes first.
    pub(crate) network: Network,
    /// Throttles tokenless enrollment requests per source address.
    pub(crate) limiter: Arc<RequestLimiter>,
    /// Trusted OIDC issuers, whose platform tokens are a fourth way in.
    pub(crate) issuers: Issuers,
}

impl Enrollment {
    /// Trusted OIDC issuers and enrollment by platform token (`crate::issuer`).
    pub fn issuers(&self) -> &Issuers {
        &self.issuers
    }

    fn new_machine(
        &self,
        reg: &Registration<'_>,
        via: EnrollMethod,
        status: MachineStatus,
    ) -> CoreResult<MachineRecord> {
        crate::name::check_hostname(reg.hostname)?;
        let public_key =
            PublicKey::from_base64(reg.public_key).map_err(|e| CoreError::bad(e.to_string()))?;
        Ok(MachineRecord {
            id: MachineId::generate(),
            name: crate::name::machine_name(reg.name, reg.hostname)?,
            hostname: reg.hostname.to_owned(),
            public_key,
            status,
            enabled: true,
            kind: MachineKind::Standard,
            expires_ms: None,
            enrolled_via: via,
            enrollment_token_id: None,
            registered_ip: reg.source_ip.to_canonical().to_string(),
            allowed_cidrs: Vec::new(),
            created_ms: self.cx.now_ms(),
            ai_agent: None,
        })
    }

    fn registered(&self, m: &MachineRecord) -> Registered {
        Registered {
            machine_id: m.id,
            machine_name: m.name.clone(),
            vault_id: self.cx.vault.clone(),
            api_url: self.cx.config.api_url.clone(),
            status: m.status.as_str(),
            fingerprint: m.public_key.fingerprint().to_string(),
            expires_at: m.expires_ms,
        }
    }

    fn enrollment_event(
        &self,
        m: Option<&MachineRecord>,
        ip: ClientAddr,
        action: AuditAction,
        result: AuditResult,
        detail: &str,
    ) -> AuditEvent {
        let (kind, id) = match m {
            Some(m) => (ActorKind::Machine, m.id.to_string()),
            None => (ActorKind::Anonymous, String::new()),
        };
        self.cx.event(
            &Actor::new(kind, &id, &ip.to_string()),
            action,
            &id,
            result,
            detail,
        )
    }

    async fn enrollment_audit(
        &self,
        m: Option<&MachineRecord>,
        ip: ClientAddr,
        action: AuditAction,
        result: AuditResult,
        detail: &str,
    ) -> CoreResult<()> {
        let e = self.enrollment_event(m, ip, action, result, detail);
        self.cx.journal(vec![e], Vec::new()).await
    }

    /// A store handle whose next write registers `m` together with its enrollment record.
    fn enrolling(
        &self,
        m: &MachineRecord,
        ip: ClientAddr,
        action: AuditAction,
        detail: &str,
    ) -> Box<dyn signet_store::Store> {
        self.cx
            .audited_event(self.enrollment_event(Some(m), ip, action, AuditResult::Ok, detail))
    }

    async fn refuse(&self, ip: ClientAddr, action: AuditAction, reason: DenialReason) -> CoreError {
        // The refusal is audited; if even that fails, the answer is the same refusal.
        let _ = self
            .enrollment_audit(None, ip, action, AuditResult::Denied, reason.as_str())
            .await;
        CoreError::Forbidden
    }

    /// Checks the proof of possession, before any token is looked up or spent. `vault` is the
    /// vault the route names (`None` on the bootstrap route); `token` the token sent, if any.
    async fn check_proof(
        &self,
        reg: &Registration<'_>,
        vault: Option<&VaultId>,
        token: Option<&str>,
        action: AuditAction,
    ) -> CoreResult<()> {
        let refused = match (reg.proof, reg.proof_timestamp) {
            (None, None) => {
                let required = self
                    .cx
                    .store
                    .vault()
                    .await?
                    .is_some_and(|v| v.enrollment_proof_required);
                if !required {
                    return Ok(());
                }
                CoreError::EnrollmentProofRequired
            }
            (Some(sig), Some(ts)) => {
                let key = PublicKey::from_base64(reg.public_key)
                    .map_err(|e| CoreError::bad(e.to_string()))?;
                let checked = EnrollmentProof::parse(sig, ts)
                    .and_then(|p| p.verify(&key, vault, token, self.cx.now_ms().div_euclid(1000)));
                match checked {
                    Ok(()) => return Ok(()),
                    Err(e) => CoreError::EnrollmentProofInvalid(proof_problem(e)),
                }
            }
            _ => CoreError::EnrollmentProofInvalid("proof and timestamp are sent together"),
        };
        let reason = match refused {
            CoreError::EnrollmentProofRequired => DenialReason::ProofRequired,
            _ => DenialReason::BadProof,
        };
        // The refusal is audited; if even that fails, the answer is the same refusal.
        let _ = self
            .enrollment_audit(
                None,
                reg.source_ip,
                action,
                AuditResult::Denied,
                reason.as_str(),
            )
            .await;
        Err(refused)
    }

    fn key_conflict(e: StoreError) -> CoreError {
        match e {
            StoreError::Conflict(_) => CoreError::Conflict(Conflict::PublicKeyTaken),
            e => e.into(),
        }
    }

    /// Issues a single-use bootstrap token.
    pub async fn issue_bootstrap_token(
        &self,
        op: &AuthedOperator,
    ) -> CoreResult<(BootstrapTokenRecord, IssuedToken)> {
        self.cx
            .require(
                op,
                Permission::ManageTokens,
                AuditAction::BootstrapTokenCreate,
            )
            .await?;
        self.cx
            .require_step_up(op, AuditAction::BootstrapTokenCreate)
            .await?;
        let token = new_token("sgb_")?;
        let now = self.cx.now_ms();
        let rec = BootstrapTokenRecord {
            id: new_public_id("bt_"),
            token_hash: token_hash(&token.0),
            created_by: op.id,
            created_ms: now,
            expires_ms: now + BOOTSTRAP_TTL_MS,
            used_ms: None,
        };
        self.cx
            .audited(op, AuditAction::BootstrapTokenCreate, &rec.id, "")
            .insert_bootstrap_token(&rec)
            .await?;
        Ok((rec, token))
    }

    /// Whether a bootstrap token is currently redeemable (for serving the install script).
    pub async fn bootstrap_token_usable(&self, token: &str) -> CoreResult<bool> {
        let now = self.cx.now_ms();
        Ok(self
            .cx
            .store
            .bootstrap_token(&token_hash(token))
            .await?
            .is_some_and(|t| t.used_ms.is_none() && t.expires_ms > now))
    }

    /// Registers a pending machine with a bootstrap token.
    pub async fn enroll_with_bootstrap_token(
        &self,
        token: &str,
        reg: &Registration<'_>,
    ) -> CoreResult<Registered> {
        const ACTION: AuditAction = AuditAction::MachineEnrollBootstrap;
        if !self.network.enrollment_ip_allowed(reg.source_ip).await? {
            return Err(self
                .refuse(reg.source_ip, ACTION, DenialReason::IpAllowlist)
                .await);
        }
        // The token names the vault, which the machine does not know yet: no vault is signed.
        self.check_proof(reg, None, Some(token), ACTION).await?;
        let m = self.new_machine(reg, EnrollMethod::Bootstrap, MachineStatus::Pending)?;
        let detail = format!("fingerprint={}", m.public_key.fingerprint());
        match self
            .enrolling(&m, reg.source_ip, ACTION, &detail)
            .redeem_bootstrap_token(&token_hash(token), self.cx.now_ms(), &m)
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => {
                return Err(self
                    .refuse(reg.source_ip, ACTION, DenialReason::BadToken)
                    .await);
            }
            Err(e) => return Err(Self::key_conflict(e)),
        }
        Ok(self.registered(&m))
    }

    /// Registers a pending machine with no token. The operator must quote its fingerprint.
    pub async fn enroll_by_request(
        &self,
        vault: &str,
        reg: &Registration<'_>,
    ) -> CoreResult<Registered> {
        const ACTION: AuditAction = AuditAction::MachineEnrollRequest;
        if vault != self.cx.vault.as_str()
            || !self.network.enrollment_ip_allowed(reg.source_ip).await?
        {
            return Err(self
                .refuse(reg.source_ip, ACTION, DenialReason::VaultOrIp)
                .await);
        }
        if !self.limiter.allow(reg.source_ip, self.cx.now_ms()) {
            return Err(CoreError::RateLimited);
        }
        if !self
            .cx
            .store
            .vault()
            .await?
            .is_some_and(|v| v.tokenless_enrollment)
        {
            return Err(self
                .refuse(reg.source_ip, ACTION, DenialReason::TokenlessDisabled)
                .await);
        }
        self.check_proof(reg, Some(&self.cx.vault), None, ACTION)
            .await?;
        let m = self.new_machine(reg, EnrollMethod::Request, MachineStatus::Pending)?;
        let detail = format!("fingerprint={}", m.public_key.fingerprint());
        self.enrolling(&m, reg.source_ip, ACTION, &detail)
            .insert_machine(&m)
            .await
            .map_err(Self::key_conflict)?;
        Ok(self.registered(&m))
    }

    /// Issues an enrollment token.
    pub async fn issue_enrollment_token(
        &self,
        op: &AuthedOperator,
        spec: &EnrollmentSpec,
    ) -> CoreResult<EnrollmentTokenView> {
        self.cx
            .require(
                op,
                Permission::ManageTokens,
                AuditAction::EnrollmentTokenCreate,
            )
            .await?;
        self.cx
            .require_step_up(op, AuditAction::EnrollmentTokenCreate)
            .await?;
        let name = spec.name.clone().unwrap_or_else(|| "enrollment".to_owned());
        crate::secret::check_name("token", &name)?;
        let max_uses = spec.max_uses.unwrap_or(1);
        if !(1..=MAX_USES).contains(&max_uses) {
            return Err(CoreError::bad(format!("maxUses must be 1-{MAX_USES}")));
        }
        let ttl = spec.ttl_secs.unwrap_or(3600);
        let machine_ttl = spec.machine_ttl_secs.unwrap_or(24 * 3600);
        if !(60..=MAX_TOKEN_TTL_SECS).contains(&ttl)
            || !(60..=MAX_MACHINE_TTL_SECS).contains(&machine_ttl)
        {
            return Err(CoreError::bad(
                "ttl must be 1 minute to 30 days; machine ttl 1 minute to 366 days",
            ));
        }
        if spec.project_ids.is_empty() {
            return Err(CoreError::bad(
                "an enrollment token needs at least one project",
            ));
        }
        let mut projects = Vec::new();
        for p in &spec.project_ids {
            let pid = ProjectId::parse(p)
                .map_err(|_| CoreError::bad(format!("unknown project {p:?}")))?;
            self.cx
                .store
                .project(&pid)
                .await?
                .ok_or_else(|| CoreError::bad(format!("unknown project {p:?}")))?;
            projects.push(pid);
        }
        let mut secrets = Vec::new();
        for s in &spec.secret_ids {
            let sid =
                SecretId::parse(s).map_err(|_| CoreError::bad(format!("unknown secret {s:?}")))?;
            let rec = self
                .cx
                .store
                .secret(&sid)
                .await?
                .filter(|r| r.deleted_ms.is_none());
            let rec = rec.ok_or_else(|| CoreError::bad(format!("unknown secret {s:?}")))?;
            if !projects.contains(&rec.project_id) {
                return Err(CoreError::bad(format!(
                    "secret {s} is not in the token's projects"
                )));
            }
            secrets.push(sid);
        }
        let source_cidr = spec
            .source_cidr
            .as_deref()
            .map(parse_cidr)
            .transpose()?
            .map(|n| n.to_string());
        if let Some(p) = &spec.hostname_pattern {
            compile_pattern(p)?;
        }
        let token = new_token("sge_")?;
        let now = self.cx.now_ms();
        let rec = EnrollmentTokenRecord {
            id: new_public_id("et_"),
            token_hash: token_hash(&token.0),
            name,
            project_ids: projects,
            secret_ids: secrets,
            max_uses,
            uses: 0,
            expires_ms: now + ttl * 1000,
            machine_ttl_secs: machine_ttl,
            source_cidr,
            hostname_pattern: spec.hostname_pattern.clone(),
            created_by: op.id,
            created_ms: now,
            revoked_ms: None,
        };
        self.cx
            .audited(
                op,
                AuditAction::EnrollmentTokenCreate,
                &rec.id,
                &format!("max_uses={max_uses}"),
            )
            .insert_enrollment_token(&rec)
            .await?;
        let mut view = EnrollmentTokenView::from(rec);
        view.token = Some(token.0.to_string());
        Ok(view)
    }

    /// All enrollment tokens. Not for scoped operators: tokens name projects and secrets
    /// across the vault.
    pub async fn enrollment_tokens(
        &self,
        op: &AuthedOperator,
    ) -> CoreResult<Vec<EnrollmentTokenView>> {
        self.cx
            .require_unscoped(op, AuditAction::EnrollmentTokenList)
            .await?;
        self.all_enrollment_tokens().await
    }

    async fn all_enrollment_tokens(&self) -> CoreResult<Vec<EnrollmentTokenView>> {
        Ok(self
            .cx
            .store
            .enrollment_tokens()
            .await?
            .into_iter()
            .map(EnrollmentTokenView::from)
            .collect())
    }

    /// Revokes one; machines it already created keep running.
    pub async fn revoke_enrollment_token(
        &self,
        op: &AuthedOperator,
        id: &str,
    ) -> CoreResult<EnrollmentTokenView> {
        self.cx
            .require(
                op,
                Permission::ManageTokens,
                AuditAction::EnrollmentTokenRevoke,
            )
            .await?;
        self.cx
            .audited(op, AuditAction::EnrollmentTokenRevoke, id, "")
            .revoke_enrollment_token(id, self.cx.now_ms())
            .await?;
        self.all_enrollment_tokens()
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or(CoreError::NotFound)
    }

    /// Creates an auto-approved ephemeral machine from an enrollment token
    /// (`POST /v1/{vaultId}/enroll/register`, the SDKs' in-memory bootstrap).
    pub async fn enroll_with_enrollment_token(
        &self,
        vault: &str,
        token: &str,
        reg: &Registration<'_>,
    ) -> CoreResult<Registered> {
        const ACTION: AuditAction = AuditAction::MachineEnrollToken;
        if vault != self.cx.vault.as_str()
            || !self.network.enrollment_ip_allowed(reg.source_ip).await?
        {
            return Err(self
                .refuse(reg.source_ip, ACTION, DenialReason::VaultOrIp)
                .await);
        }
        self.check_proof(reg, Some(&self.cx.vault), Some(token), ACTION)
            .await?;
        let now = self.cx.now_ms();
        let Some(t) = self
            .cx
            .store
            .enrollment_token_by_hash(&token_hash(token))
            .await?
        else {
            return Err(self
                .refuse(reg.source_ip, ACTION, DenialReason::BadToken)
                .await);
        };
        if t.revoked_ms.is_some() || t.expires_ms <= now || t.uses >= t.max_uses {
            return Err(self
                .refuse(reg.source_ip, ACTION, DenialReason::TokenSpent)
                .await);
        }
        if let Some(c) = &t.source_cidr
            && !ip_in_cidrs(reg.source_ip, std::slice::from_ref(c))
        {
            return Err(self
                .refuse(reg.source_ip, ACTION, DenialReason::SourceCidr)
                .await);
        }
        if let Some(p) = &t.hostname_pattern
            && !compile_pattern(p)?.is_match(reg.hostname)
        {
            return Err(self
                .refuse(reg.source_ip, ACTION, DenialReason::HostnamePattern)
                .await);
        }
        let mut m = self.new_machine(reg, EnrollMethod::Enrollment, MachineStatus::Approved)?;
        m.kind = MachineKind::Ephemeral;
        m.expires_ms = Some(now + t.machine_ttl_secs * 1000);
        m.enrollment_token_id = Some(t.id.clone());
        let grant = EnrollmentGrant {
            project_ids: t.project_ids.clone(),
            secret_ids: t.secret_ids.clone(),
        };
        match self
            .enrolling(&m, reg.source_ip, ACTION, &format!("token={}", t.id))
            .redeem_enrollment_token(&t.id, now, &m, &grant)
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => {
                return Err(self
                    .refuse(reg.source_ip, ACTION, DenialReason::TokenSpent)
                    .await);
            }
            Err(e) => return Err(Self::key_conflict(e)),
        }
        Ok(self.registered(&m))
    }
}

/// What to tell a client whose proof does not hold. Everything a proof is checked against is in
/// the request (and the clock), so naming the failed check gives nothing away and saves a
/// client's author from guessing (a skewed clock looks nothing like a wrong string).
fn proof_problem(e: ProtocolError) -> &'static str {
    match e {
        ProtocolError::Signature => "proof is not standard padded base64 of 64 bytes",
        ProtocolError::Timestamp => "timestamp is not decimal Unix seconds",
        ProtocolError::Window => "timestamp is more than 300 seconds from the server's clock",
        _ => "proof does not verify under publicKey (see docs/protocol.md, enrollment proof)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_counts_per_source_and_window() {
        let l = RequestLimiter::new(2);
        let a: ClientAddr = "10.0.0.1".parse().unwrap();
        let b: ClientAddr = "10.0.0.2".parse().unwrap();
        assert!(l.allow(a, 0));
        assert!(l.allow(a, 1));
        assert!(!l.allow(a, 2));
        assert!(l.allow(b, 2));
        assert!(l.allow(a, 60_000));
    }

    #[test]
    fn patterns_are_anchored() {
        let r = compile_pattern("web-[0-9]+").unwrap();
        assert!(r.is_match("web-12"));
        assert!(!r.is_match("evil-web-12"));
        assert!(!r.is_match("web-12.evil"));
        assert!(compile_pattern("(").is_err());
    }
}
