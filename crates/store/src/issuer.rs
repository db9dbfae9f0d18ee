//! Trusted OIDC issuers, their rules, and the platform tokens already spent.
//!
//! A spent token is remembered by a digest (never the token) until it could no longer be
//! accepted anyway; the insert that remembers it is in the same transaction as the machine it
//! creates, so a token enrolls at most one machine however many replicas race.

use std::collections::BTreeMap;

use async_trait::async_trait;
use signet_proto::{IssuerId, IssuerRuleId, OperatorId, ProjectId, SecretId};

use crate::{EnrollmentGrant, NewMachine, StoreResult};

/// One trusted issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerRecord {
    /// Its id.
    pub id: IssuerId,
    /// A label, unique.
    pub name: String,
    /// The exact `iss` its tokens carry; unique.
    pub issuer: String,
    /// A pinned JWKS (JSON text); `None`: discovered from the issuer.
    pub pinned_jwks: Option<String>,
    /// The audience tokens must carry.
    pub audience: String,
    /// Accepted `alg` values.
    pub algorithms: Vec<String>,
    /// Clock leeway, seconds.
    pub leeway_secs: u32,
    /// Who trusted it.
    pub created_by: OperatorId,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms; also tells caches their copy of the keys is stale.
    pub updated_ms: i64,
}

/// One rule under an issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerRuleRecord {
    /// Its id.
    pub id: IssuerRuleId,
    /// The issuer it belongs to.
    pub issuer_id: IssuerId,
    /// Where it is tried: lower first; unique per issuer.
    pub position: u32,
    /// A label.
    pub name: String,
    /// Claim name to the exact string it must equal.
    pub claims: BTreeMap<String, String>,
    /// Projects a matching workload joins.
    pub project_ids: Vec<ProjectId>,
    /// Secrets it is granted.
    pub secret_ids: Vec<SecretId>,
    /// The machine's lifetime, seconds.
    pub machine_ttl_secs: i64,
    /// Unix ms.
    pub created_ms: i64,
}

/// A platform token being spent: its digest, and when the row may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformTokenUse {
    /// SHA-256 over the issuer and the token's `jti` (or over the token when it has none).
    pub digest: [u8; 32],
    /// After this (Unix ms) the token is refused as expired, so the row can be forgotten.
    pub forget_after_ms: i64,
}

/// Trusted issuers and enrollment by platform token.
#[async_trait]
pub trait IssuerStore {
    /// Trusts an issuer. `Conflict::IssuerName` when the name or issuer URL is taken.
    async fn insert_issuer(&self, issuer: &IssuerRecord) -> StoreResult<()>;
    /// Every trusted issuer, by name.
    async fn issuers(&self) -> StoreResult<Vec<IssuerRecord>>;
    /// One issuer.
    async fn issuer(&self, id: &IssuerId) -> StoreResult<Option<IssuerRecord>>;
    /// The issuer whose `iss` is exactly `issuer`.
    async fn issuer_by_url(&self, issuer: &str) -> StoreResult<Option<IssuerRecord>>;
    /// Replaces an issuer's name, keys, audience, algorithms, leeway and `updated_ms`.
    /// `NotFound` for an unknown id, `Conflict::IssuerName` for a taken name.
    async fn update_issuer(&self, issuer: &IssuerRecord) -> StoreResult<()>;
    /// Removes an issuer and its rules. `NotFound` for an unknown id.
    async fn delete_issuer(&self, id: &IssuerId) -> StoreResult<()>;
    /// Adds a rule. `NotFound` when its issuer is gone; `Conflict::Id` when its position is
    /// taken (two rules added at once: the caller retries).
    async fn insert_issuer_rule(&self, rule: &IssuerRuleRecord) -> StoreResult<()>;
    /// An issuer's rules, in position order.
    async fn issuer_rules(&self, issuer: &IssuerId) -> StoreResult<Vec<IssuerRuleRecord>>;
    /// Removes one rule of `issuer`. `NotFound` when it is not that issuer's.
    async fn delete_issuer_rule(&self, issuer: &IssuerId, rule: &IssuerRuleId) -> StoreResult<()>;
    /// In one transaction: forgets spent tokens past their time, remembers `token` (`NotFound`,
    /// with nothing written, when it is remembered already: a replay), and registers `machine`
    /// with `grant` (secrets outside its projects are skipped).
    async fn enroll_with_platform_token(
        &self,
        token: &PlatformTokenUse,
        now_ms: i64,
        machine: &NewMachine,
        grant: &EnrollmentGrant,
    ) -> StoreResult<()>;
}
