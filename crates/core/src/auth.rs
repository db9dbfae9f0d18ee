//! Authentication of signed requests, for machines and operators alike.
//!
//! The checks run cheapest first, and every failure that is about identity looks the same from
//! outside (one uniform 401). The order for machines is fixed by the threat model:
//!
//! 1. the source's authentication-failure budget (`crate::failures`), before any key lookup
//!    or signature work;
//! 2. vault IP allowlist (before any signature work), decided on a policy at least as new as
//!    the policy stamp that the machine lookup read in the same statement (`PolicyCache`);
//! 3. header syntax, clock window, key lookup, `verify_strict`, then the nonce (recorded only
//!    after the signature verifies, so nobody can burn another principal's nonces);
//! 4. machine state: approved, enabled, not expired;
//! 5. the machine's own allowed CIDRs;
//! 6. the machine's request budget (`crate::budget`).
//!
//! Project membership and per-secret grants are checked by the read path (`read` module).

use std::sync::Arc;

use dashmap::DashMap;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};
use signet_api::audit::{AuditAction, DenialReason};
use signet_proto::request::{signing_string, verify};
use signet_proto::{
    BodyHash, CLOCK_WINDOW_SECS, CanonicalPath, MachineId, Method, Nonce, OperatorId,
    ProtocolError, PublicKey, SignatureB64, Timestamp,
};
use signet_store::{
    AccessStamp, ActorKind, MachineAtPolicy, MachineRecord, MachineStatus, Role, SignedEvidence,
    UserStatus,
};

use crate::address::{ClientAddr, ip_in_cidrs};
use crate::budget::Budgets;
use crate::context::Context;
use crate::network::Network;
pub use crate::principal::{AuthedMachine, AuthedOperator, SessionGrant};
use crate::role::Scope;
use crate::{CoreError, CoreResult};

/// The signed parts of an HTTP request, exactly as received.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// `X-Machine-Id` or `X-Operator-Id`, if present.
    pub principal_id: Option<&'a str>,
    /// The HTTP method.
    pub method: &'a str,
    /// The raw request target: path and any query.
    pub target: &'a str,
    /// `X-Timestamp`.
    pub timestamp: Option<&'a str>,
    /// `X-Nonce`.
    pub nonce: Option<&'a str>,
    /// `X-Signature`.
    pub signature: Option<&'a str>,
    /// The exact body bytes.
    pub body: &'a [u8],
    /// The client address, as the server decided it (trusted proxies applied).
    pub source_ip: ClientAddr,
}

/// Parsed verifying keys by raw bytes. The mapping never changes, so it never needs invalidating;
/// it is bounded by the number of registered keys.
#[derive(Default)]
pub(crate) struct KeyCache(DashMap<[u8; 32], VerifyingKey>);

impl KeyCache {
    /// The decompressed key; `None` for stored bytes that are not a point (a tampered store).
    fn get(&self, pk: &PublicKey) -> Option<VerifyingKey> {
        if let Some(k) = self.0.get(pk.as_bytes()) {
            return Some(*k);
        }
        let k = pk.verifying_key().ok()?;
        self.0.insert(*pk.as_bytes(), k);
        Some(k)
    }
}

/// The parsed, not yet verified, signed parts.
pub(crate) struct Parsed {
    method: Method,
    path: CanonicalPath,
    ts: Timestamp,
    nonce: Nonce,
    sig: SignatureB64,
}

/// Why authentication failed, for the audit log only.
pub(crate) enum Failure {
    Malformed(ProtocolError),
    Protocol(ProtocolError),
    UnknownPrincipal,
    Replay,
    /// The principal exists and signed correctly but may no longer act (an expired CLI key, a
    /// suspended user): a 401, unlike `State`, which is the server's own trouble.
    Refused(DenialReason),
    State(DenialReason),
}

impl Failure {
    fn reason(&self) -> DenialReason {
        match self {
            Self::Malformed(_) => DenialReason::MalformedRequest,
            Self::Protocol(ProtocolError::Window) => DenialReason::ClockWindow,
            Self::Protocol(ProtocolError::BadSignature) => DenialReason::BadSignature,
            Self::Protocol(_) => DenialReason::MalformedHeaders,
            Self::UnknownPrincipal => DenialReason::UnknownPrincipal,
            Self::Replay => DenialReason::ReplayedNonce,
            Self::Refused(r) | Self::State(r) => *r,
        }
    }
}

pub(crate) fn parse(req: &SignedRequest<'_>) -> Result<Parsed, Failure> {
    // The path decides 400 vs 401, so it is checked before the headers.
    let path = CanonicalPath::parse(req.target).map_err(Failure::Malformed)?;
    let p = |e| Failure::Protocol(e);
    Ok(Parsed {
        method: Method::parse(req.method).map_err(p)?,
        path,
        ts: Timestamp::parse(req.timestamp.unwrap_or_default()).map_err(p)?,
        nonce: Nonce::parse(req.nonce.unwrap_or_default()).map_err(p)?,
        sig: SignatureB64::parse(req.signature.unwrap_or_default()).map_err(p)?,
    })
}

/// Authentication of signed requests, machines and operators.
#[derive(Clone)]
pub struct Auth {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
    /// Parsed public keys: decompressing a point costs more than the lookup.
    pub(crate) keys: Arc<KeyCache>,
    /// The allowlist, checked before any signature work.
    pub(crate) network: Network,
    /// Request budgets, spent once a machine has authenticated.
    pub(crate) budgets: Budgets,
}

impl Auth {
    /// Verifies window and signature (no nonce) for the key `pk`: the part of authentication the
    /// benchmark's ceiling (`crate::ceiling`) keeps. Returns the body's SHA-256, which a
    /// machine's audit evidence keeps.
    pub(crate) fn check_signature(
        &self,
        pk: &PublicKey,
        parsed: &Parsed,
        body: &[u8],
    ) -> Result<[u8; 32], Failure> {
        let now_ms = self.cx.now_ms();
        parsed
            .ts
            .check_window(now_ms.div_euclid(1000))
            .map_err(Failure::Protocol)?;
        let body_sha256: [u8; 32] = Sha256::digest(body).into();
        let s = signing_string(
            &parsed.method,
            &parsed.path,
            parsed.ts,
            &parsed.nonce,
            &BodyHash::from_digest(&body_sha256),
        );
        let key = self
            .keys
            .get(pk)
            .ok_or(Failure::Protocol(ProtocolError::BadSignature))?;
        verify(&key, &s, &parsed.sig).map_err(Failure::Protocol)?;
        Ok(body_sha256)
    }

    /// Verifies signature, window and nonce for the principal whose key is `pk`. Returns the
    /// body's SHA-256 and the access stamp the nonce's statement read, after the request arrived.
    async fn verify_signed(
        &self,
        principal: &str,
        pk: &PublicKey,
        parsed: &Parsed,
        body: &[u8],
    ) -> Result<([u8; 32], AccessStamp), Failure> {
        let body_sha256 = self.check_signature(pk, parsed, body)?;
        // Keep the pair until the timestamp can no longer pass the window, plus a second of
        // rounding slack; never less.
        let expires_ms = (parsed.ts.secs() + CLOCK_WINDOW_SECS + 1) * 1000;
        match self
            .cx
            .store
            .remember_nonce_at_stamp(principal, parsed.nonce.as_str(), expires_ms)
            .await
        {
            Ok(Some(stamp)) => Ok((body_sha256, stamp)),
            Ok(None) => Err(Failure::Replay),
            // Fail closed: a nonce that cannot be recorded cannot be trusted to be fresh.
            Err(_) => Err(Failure::State(DenialReason::NonceStoreUnavailable)),
        }
    }

    /// Authenticates a machine request (steps 1–4 of the module docs).
    ///
    /// The machine is looked up first, because the same statement returns the vault's policy
    /// stamp: step 1 then decides on a policy at least as new as that stamp, never on a snapshot
    /// that another replica's change has outdated. The lookup is one indexed read; the signature
    /// work still comes after the allowlist.
    ///
    /// A machine this process looked up before is taken from the stamped cache
    /// (`crate::stamped`) instead, tentatively: its public key never changes, so the signature
    /// check stands, and the nonce's statement returns the access stamp as of after the request
    /// arrived. Only if that stamp is the entry's is the entry used for the state checks;
    /// otherwise the machine is looked up again and the allowlist asked again on the policy
    /// that lookup names. A refusal is never decided on a cached entry alone.
    pub async fn authenticate_machine(&self, req: &SignedRequest<'_>) -> CoreResult<AuthedMachine> {
        self.authenticate_signed_machine(req, false).await
    }

    /// Authenticates a machine row as the class the route serves: an AI agent (`ai_agent`,
    /// for the agent routes) or an ordinary machine. The other class is refused after its
    /// signature verifies, with the uniform 401: an agent's key never reads a secret, and a
    /// machine's key never manages anything (`crate::ai_agent`).
    pub(crate) async fn authenticate_signed_machine(
        &self,
        req: &SignedRequest<'_>,
        ai_agent: bool,
    ) -> CoreResult<AuthedMachine> {
        let claimed = req.principal_id.unwrap_or_default();
        // A source that has spent its failure budget costs a map lookup, not a database read or
        // a signature check.
        self.cx
            .failures
            .admit(req.source_ip, self.cx.now_ms())
            .map_err(|retry_after_secs| CoreError::OverBudget { retry_after_secs })?;
        let id = MachineId::parse(claimed).ok();
        let mut cached = id.as_ref().and_then(|id| self.cx.stamped.machine(id));
        let mut allowed = None;
        if let Some(c) = &cached {
            match self
                .network
                .policy
                .ip_allowed(self.cx.store.as_ref(), c.policy_version, req.source_ip)
                .await
            {
                Ok(true) => allowed = Some(true),
                // Denied on a possibly outdated policy: decide on a fresh lookup instead.
                Ok(false) => cached = None,
                // Fail closed: a policy that cannot be read admits nobody.
                Err(_) => return Err(CoreError::Unavailable),
            }
        }
        let from_cache = cached.is_some();
        let found = match cached {
            Some(c) => c,
            None => match self.look_up(id.as_ref()).await {
                Ok(found) => found,
                Err(()) => {
                    self.cx
                        .audit_auth_failure(
                            ActorKind::Machine,
                            claimed,
                            req.source_ip,
                            AuditAction::AuthFailure,
                            DenialReason::StoreUnavailable,
                        )
                        .await;
                    return Err(CoreError::Unavailable);
                }
            },
        };
        let allowed = match allowed {
            Some(a) => a,
            None => match self
                .network
                .policy
                .ip_allowed(self.cx.store.as_ref(), found.policy_version, req.source_ip)
                .await
            {
                Ok(allowed) => allowed,
                // Fail closed: a policy that cannot be read admits nobody.
                Err(_) => return Err(CoreError::Unavailable),
            },
        };
        if !allowed {
            let reason = DenialReason::IpAllowlist;
            self.cx
                .audit_auth_failure(
                    ActorKind::Machine,
                    claimed,
                    req.source_ip,
                    AuditAction::MachineRequestDenied,
                    reason,
                )
                .await;
            return Err(CoreError::Forbidden);
        }
        match self
            .authenticate_machine_inner(req, found, from_cache, ai_agent)
            .await
        {
            Ok(m) => {
                self.budgets.spend_request_budget(&m).await?;
                Ok(m)
            }
            Err((failure, err)) => {
                if !matches!(failure, Failure::Malformed(_)) {
                    let action = if err == CoreError::Forbidden {
                        AuditAction::MachineRequestDenied
                    } else {
                        AuditAction::AuthFailure
                    };
                    // Only failed authentication spends the budget: not a refusal after a valid
                    // signature, and not our own outage.
                    let over = self
                        .cx
                        .audit_signed_failure(
                            ActorKind::Machine,
                            claimed,
                            req.source_ip,
                            action,
                            failure.reason(),
                            err == CoreError::Unauthenticated,
                        )
                        .await;
                    if let Some(retry_after_secs) = over {
                        return Err(CoreError::OverBudget { retry_after_secs });
                    }
                }
                Err(err)
            }
        }
    }

    /// Looks the machine up in the store (with the policy and access stamps of the same
    /// statement) and keeps a found one in the stamped cache. `Err` is a store outage.
    async fn look_up(&self, id: Option<&MachineId>) -> Result<Arc<MachineAtPolicy>, ()> {
        let found = match id {
            Some(id) => self.cx.store.machine_at_policy(id).await,
            // No machine to load, but the allowlist still decides on the current policy.
            None => self
                .cx
                .store
                .policy_version()
                .await
                .map(|policy_version| MachineAtPolicy {
                    machine: None,
                    policy_version,
                    access_stamp: AccessStamp::default(),
                }),
        };
        let found = Arc::new(found.map_err(drop)?);
        self.cx.stamped.keep_machine(found.clone());
        Ok(found)
    }

    /// Steps 2–4, on the machine the lookup found (`None`: unknown or malformed id).
    /// `from_cache`: `found` came from the stamped cache and is checked against the request's
    /// access stamp before its state decides anything.
    async fn authenticate_machine_inner(
        &self,
        req: &SignedRequest<'_>,
        found: Arc<MachineAtPolicy>,
        from_cache: bool,
        ai_agent: bool,
    ) -> Result<AuthedMachine, (Failure, CoreError)> {
        let unauth = |f| (f, CoreError::Unauthenticated);
        let parsed = parse(req).map_err(|f| match f {
            Failure::Malformed(e) => (Failure::Malformed(e), CoreError::bad(e.to_string())),
            f => unauth(f),
        })?;
        let Some(signer) = &found.machine else {
            return Err(unauth(Failure::UnknownPrincipal));
        };
        let (body_sha256, stamp) = self
            .verify_signed(
                &format!("m:{}", signer.id),
                &signer.public_key,
                &parsed,
                req.body,
            )
            .await
            .map_err(|f| match f {
                Failure::State(s) => (Failure::State(s), CoreError::Unavailable),
                f => unauth(f),
            })?;
        let found = if from_cache && found.access_stamp != stamp {
            self.refresh(&found, signer, req.source_ip).await?
        } else {
            found
        };
        let Some(machine) = found.machine.clone() else {
            return Err(unauth(Failure::UnknownPrincipal));
        };
        if machine.ai_agent.is_some() != ai_agent {
            return Err(unauth(Failure::Refused(DenialReason::PrincipalClass)));
        }
        // A machine that no longer exists as an identity fails authentication; one that exists
        // but may not act right now is forbidden.
        match machine.status {
            MachineStatus::Approved => {}
            MachineStatus::Pending => {
                return Err((
                    Failure::State(DenialReason::MachinePending),
                    CoreError::Forbidden,
                ));
            }
            MachineStatus::Denied => {
                return Err(unauth(Failure::State(DenialReason::MachineDenied)));
            }
            MachineStatus::Revoked => {
                return Err(unauth(Failure::State(DenialReason::MachineRevoked)));
            }
        }
        if machine
            .expires_ms
            .is_some_and(|exp| self.cx.now_ms() >= exp)
        {
            return Err(unauth(Failure::State(DenialReason::MachineExpired)));
        }
        if !machine.enabled {
            return Err((
                Failure::State(DenialReason::MachineDisabled),
                CoreError::Forbidden,
            ));
        }
        if !machine.allowed_cidrs.is_empty() && !ip_in_cidrs(req.source_ip, &machine.allowed_cidrs)
        {
            return Err((
                Failure::State(DenialReason::MachineCidr),
                CoreError::Forbidden,
            ));
        }
        Ok(AuthedMachine {
            record: machine,
            source_ip: req.source_ip,
            evidence: Some(Arc::new(SignedEvidence {
                method: parsed.method.as_str().to_owned(),
                path: parsed.path.as_str().to_owned(),
                timestamp: parsed.ts.secs(),
                nonce: parsed.nonce.as_str().to_owned(),
                body_sha256,
                signature: parsed.sig.to_bytes(),
            })),
            access_stamp: Some(stamp),
        })
    }

    /// A cached machine whose stamp the request's has passed: looked up again, and the
    /// allowlist asked again on the policy that lookup names (the earlier answer came from the
    /// entry's). The signature verified under the entry's key, which is the machine's for good;
    /// a machine that is gone, or another key under its id (a tampered store), fails.
    async fn refresh(
        &self,
        stale: &MachineAtPolicy,
        signer: &MachineRecord,
        source_ip: ClientAddr,
    ) -> Result<Arc<MachineAtPolicy>, (Failure, CoreError)> {
        let unavailable = || {
            (
                Failure::State(DenialReason::StoreUnavailable),
                CoreError::Unavailable,
            )
        };
        let fresh = self
            .look_up(Some(&signer.id))
            .await
            .map_err(|()| unavailable())?;
        if !fresh
            .machine
            .as_ref()
            .is_some_and(|m| m.public_key == signer.public_key)
        {
            return Err((Failure::UnknownPrincipal, CoreError::Unauthenticated));
        }
        if fresh.policy_version != stale.policy_version {
            let allowed = self
                .network
                .policy
                .ip_allowed(self.cx.store.as_ref(), fresh.policy_version, source_ip)
                .await
                .map_err(|_| unavailable())?;
            if !allowed {
                return Err((
                    Failure::State(DenialReason::IpAllowlist),
                    CoreError::Forbidden,
                ));
            }
        }
        Ok(fresh)
    }

    /// Authenticates an operator request.
    pub async fn authenticate_operator(
        &self,
        req: &SignedRequest<'_>,
    ) -> CoreResult<AuthedOperator> {
        let claimed = req.principal_id.unwrap_or_default();
        self.cx
            .failures
            .admit(req.source_ip, self.cx.now_ms())
            .map_err(|retry_after_secs| CoreError::OverBudget { retry_after_secs })?;
        let result = async {
            let parsed = parse(req)?;
            let id = OperatorId::parse(claimed).map_err(|_| Failure::UnknownPrincipal)?;
            let op = match self.cx.store.operator(&id).await {
                Ok(Some(op)) if !op.disabled => op,
                Ok(_) => return Err(Failure::UnknownPrincipal),
                Err(_) => return Err(Failure::State(DenialReason::StoreUnavailable)),
            };
            self.verify_signed(&format!("o:{id}"), &op.public_key, &parsed, req.body)
                .await
                .map(drop)?;
            // A CLI sign-in key lives only as long as its session (`signet login`), and only
            // while its user may sign in; the headless `operator init` key has neither limit.
            if op.expires_ms.is_some_and(|exp| self.cx.now_ms() >= exp) {
                return Err(Failure::Refused(DenialReason::OperatorExpired));
            }
            // The role is read here, once, so a demotion takes effect on the next request. A key
            // without a user was made on the server host with file access: it is the owner.
            let (role, scope) = match &op.user_id {
                None => (Role::Owner, Scope::All),
                Some(user) => match self.cx.store.user(user).await {
                    Ok(Some(u)) if u.status == UserStatus::Active => {
                        (u.role, Scope::of(u.role, u.projects.as_deref()))
                    }
                    Ok(_) => return Err(Failure::Refused(DenialReason::UserInactive)),
                    Err(_) => return Err(Failure::State(DenialReason::StoreUnavailable)),
                },
            };
            Ok((op, role, scope))
        }
        .await;
        match result {
            Ok((op, role, scope)) => Ok(AuthedOperator {
                scope,
                ..AuthedOperator::key(op, role, req.source_ip)
            }),
            Err(Failure::Malformed(e)) => Err(CoreError::bad(e.to_string())),
            Err(f) => {
                let outage = matches!(f, Failure::State(_));
                let over = self
                    .cx
                    .audit_signed_failure(
                        ActorKind::Operator,
                        claimed,
                        req.source_ip,
                        AuditAction::AuthFailure,
                        f.reason(),
                        !outage,
                    )
                    .await;
                Err(match over {
                    _ if outage => CoreError::Unavailable,
                    Some(retry_after_secs) => CoreError::OverBudget { retry_after_secs },
                    None => CoreError::Unauthenticated,
                })
            }
        }
    }
}
