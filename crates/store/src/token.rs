//! Bootstrap tokens (single use, pending machines) and enrollment tokens (reusable policy
//! templates that create auto-approved ephemeral machines). Only SHA-256 digests are stored.

use async_trait::async_trait;
use signet_proto::{OperatorId, ProjectId, SecretId};

use crate::StoreResult;
use crate::machine::NewMachine;

/// A single-use bootstrap token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapTokenRecord {
    /// Public id, for listing and audit.
    pub id: String,
    /// SHA-256 of the token text.
    pub token_hash: [u8; 32],
    /// Who issued it.
    pub created_by: OperatorId,
    /// Unix ms.
    pub created_ms: i64,
    /// After this (Unix ms) it is worthless.
    pub expires_ms: i64,
    /// When it was spent.
    pub used_ms: Option<i64>,
}

/// A reusable enrollment token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentTokenRecord {
    /// Public id.
    pub id: String,
    /// SHA-256 of the token text.
    pub token_hash: [u8; 32],
    /// A label.
    pub name: String,
    /// Projects each new machine is attached to.
    pub project_ids: Vec<ProjectId>,
    /// Secrets each new machine is granted.
    pub secret_ids: Vec<SecretId>,
    /// How many machines it may create.
    pub max_uses: u32,
    /// How many it has created.
    pub uses: u32,
    /// After this (Unix ms) it creates nothing.
    pub expires_ms: i64,
    /// Lifetime of each machine it creates, in seconds.
    pub machine_ttl_secs: i64,
    /// If set, enrollment must come from this CIDR.
    pub source_cidr: Option<String>,
    /// If set, the reported hostname must match this regex (anchored by the caller).
    pub hostname_pattern: Option<String>,
    /// Who issued it.
    pub created_by: OperatorId,
    /// Unix ms.
    pub created_ms: i64,
    /// When it was revoked.
    pub revoked_ms: Option<i64>,
}

/// What an enrollment token hands a new machine, applied atomically with its creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentGrant {
    /// Projects to attach.
    pub project_ids: Vec<ProjectId>,
    /// Secrets to grant (those outside `project_ids` are skipped).
    pub secret_ids: Vec<SecretId>,
}

/// Token issue and redemption.
#[async_trait]
pub trait TokenStore {
    /// Stores a new bootstrap token.
    async fn insert_bootstrap_token(&self, token: &BootstrapTokenRecord) -> StoreResult<()>;
    /// Looks up a bootstrap token by digest, spent or not.
    async fn bootstrap_token(
        &self,
        token_hash: &[u8; 32],
    ) -> StoreResult<Option<BootstrapTokenRecord>>;
    /// Spends the token and registers the pending machine in one transaction. `NotFound` if the
    /// token is unknown, spent, or expired at `now_ms`; `Conflict::PublicKey` if the key is
    /// known (the token is then not spent).
    async fn redeem_bootstrap_token(
        &self,
        token_hash: &[u8; 32],
        now_ms: i64,
        machine: &NewMachine,
    ) -> StoreResult<()>;

    /// Stores a new enrollment token.
    async fn insert_enrollment_token(&self, token: &EnrollmentTokenRecord) -> StoreResult<()>;
    /// Looks up an enrollment token by digest.
    async fn enrollment_token_by_hash(
        &self,
        token_hash: &[u8; 32],
    ) -> StoreResult<Option<EnrollmentTokenRecord>>;
    /// All enrollment tokens, newest first.
    async fn enrollment_tokens(&self) -> StoreResult<Vec<EnrollmentTokenRecord>>;
    /// Revokes one. `NotFound` if missing or already revoked.
    async fn revoke_enrollment_token(&self, id: &str, now_ms: i64) -> StoreResult<()>;
    /// Counts one use and registers the machine with its memberships and grants, in one
    /// transaction. `NotFound` if, at that moment, the token is revoked, expired at `now_ms`, or
    /// used up; `Conflict::PublicKey` if the key is known.
    async fn redeem_enrollment_token(
        &self,
        token_id: &str,
        now_ms: i64,
        machine: &NewMachine,
        grant: &EnrollmentGrant,
    ) -> StoreResult<()>;
}
