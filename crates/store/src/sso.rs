//! Single sign-on for people: the OpenID providers an owner trusts, the mappings from claims to a
//! role, the identities (provider, `sub`) linked to users, and the sign-in attempts in flight.
//!
//! An attempt is the state of one authorization-code round trip. PostgreSQL replicas keep no
//! state of their own, so it lives here, and what must hold under concurrency is decided by one
//! conditional statement each: the callback consumes an attempt by its state digest at most once
//! (and not after it expired), and `signet login --sso` finishes a completed attempt at most
//! once. Secrets are stored as SHA-256 digests (the state, the binding cookie, the completion
//! code); the PKCE verifier and the nonce are stored as they are, since the server must send
//! them, and they are worthless without the authorization code only the browser sees.

use std::fmt;

use async_trait::async_trait;
use signet_proto::{
    ProjectId, SessionId, SsoAttemptId, SsoMappingId, SsoProviderId, UserId,
};

use crate::{Role, StoreResult, UserRecord};

/// One trusted OpenID provider. `Debug` leaves out the sealed client secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SsoProviderRecord {
    /// Its id.
    pub id: SsoProviderId,
    /// A label shown on the sign-in button; unique.
    pub name: String,
    /// The exact `iss` its ID tokens carry.
    pub issuer: String,
    /// Signet's client id there.
    pub client_id: String,
    /// The client secret sealed under the root key; `None` for a public client.
    pub sealed_secret: Option<Vec<u8>>,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// The claim naming the user.
    pub username_claim: String,
    /// The claim listing groups.
    pub groups_claim: String,
    /// Whether a first sign-in that a mapping holds for creates the user.
    pub jit_users: bool,
    /// Whether sign-ins are accepted.
    pub enabled: bool,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms; also tells caches their copy of the provider's documents is stale.
    pub updated_ms: i64,
}

impl fmt::Debug for SsoProviderRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoProviderRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "sealed_secret",
                &self.sealed_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("scopes", &self.scopes)
            .field("username_claim", &self.username_claim)
            .field("groups_claim", &self.groups_claim)
            .field("jit_users", &self.jit_users)
            .field("enabled", &self.enabled)
            .field("created_ms", &self.created_ms)
            .field("updated_ms", &self.updated_ms)
            .finish()
    }
}

/// One mapping from a claim value to a role and project scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoMappingRecord {
    /// Its id.
    pub id: SsoMappingId,
    /// The provider it belongs to.
    pub provider_id: SsoProviderId,
    /// Where it is tried: lower first; unique per provider.
    pub position: u32,
    /// The claim tested.
    pub claim: String,
    /// The value the claim must equal or contain.
    pub value: String,
    /// The role it gives.
    pub role: Role,
    /// The projects it limits a developer or viewer to; empty: every project.
    pub project_ids: Vec<ProjectId>,
    /// Unix ms.
    pub created_ms: i64,
}

/// A provider identity linked to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoIdentityRecord {
    /// The provider.
    pub provider_id: SsoProviderId,
    /// The provider's `sub`: unique per provider.
    pub subject: String,
    /// The user it signs in as; a user has at most one identity per provider.
    pub user_id: UserId,
    /// Unix ms.
    pub linked_ms: i64,
    /// The last sign-in through it, Unix ms.
    pub last_login_ms: Option<i64>,
}

/// What an attempt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoPurpose {
    /// Dashboard sign-in.
    Login,
    /// Linking the signed-in user's account.
    Link,
    /// A fresh second factor at the provider for the session.
    StepUp,
    /// `signet login --sso`.
    Cli,
}

impl SsoPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Link => "link",
            Self::StepUp => "step_up",
            Self::Cli => "cli",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "login" => Some(Self::Login),
            "link" => Some(Self::Link),
            "step_up" => Some(Self::StepUp),
            "cli" => Some(Self::Cli),
            _ => None,
        }
    }
}

/// One sign-in attempt. `Debug` leaves out the verifier and the nonce.
#[derive(Clone, PartialEq, Eq)]
pub struct SsoAttemptRecord {
    /// Its id (named to the CLI; never in a URL the provider sees).
    pub id: SsoAttemptId,
    /// SHA-256 of the `state` sent to the provider.
    pub state_hash: [u8; 32],
    /// The provider.
    pub provider_id: SsoProviderId,
    /// What it is for.
    pub purpose: SsoPurpose,
    /// SHA-256 of the browser binding cookie; `None` for the CLI.
    pub binding_hash: Option<[u8; 32]>,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier.
    pub pkce_verifier: String,
    /// Link and step-up: the session's user. CLI: the user signed in, set at the callback.
    pub user_id: Option<UserId>,
    /// Step-up: the session to mark.
    pub session_id: Option<SessionId>,
    /// CLI: the key to register (standard base64).
    pub public_key: Option<String>,
    /// CLI: the key's label.
    pub key_name: Option<String>,
    /// CLI: the loopback port the browser is sent back to.
    pub loopback_port: Option<u16>,
    /// CLI: SHA-256 of the completion code, set at the callback.
    pub completion_hash: Option<[u8; 32]>,
    /// Unix ms.
    pub created_ms: i64,
    /// After this, Unix ms, neither the callback nor the finish accepts it.
    pub expires_ms: i64,
    /// When the callback consumed it, Unix ms.
    pub used_ms: Option<i64>,
    /// CLI: when the finish consumed it, Unix ms.
    pub finished_ms: Option<i64>,
}

impl fmt::Debug for SsoAttemptRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoAttemptRecord")
            .field("id", &self.id)
            .field("provider_id", &self.provider_id)
            .field("purpose", &self.purpose)
            .field("user_id", &self.user_id)
            .field("session_id", &self.session_id)
            .field("loopback_port", &self.loopback_port)
            .field("created_ms", &self.created_ms)
            .field("expires_ms", &self.expires_ms)
            .field("used_ms", &self.used_ms)
            .field("finished_ms", &self.finished_ms)
            .finish_non_exhaustive()
    }
}

/// Providers, mappings, linked identities and attempts.
#[async_trait]
pub trait SsoStore {
    /// Trusts a provider. `Conflict::SsoProviderName` when the name is taken.
    async fn insert_sso_provider(&self, provider: &SsoProviderRecord) -> StoreResult<()>;
    /// Every provider, by name.
    async fn sso_providers(&self) -> StoreResult<Vec<SsoProviderRecord>>;
    /// One provider.
    async fn sso_provider(&self, id: &SsoProviderId) -> StoreResult<Option<SsoProviderRecord>>;
    /// Replaces everything but the id, issuer and creation time. `NotFound` for an unknown id,
    /// `Conflict::SsoProviderName` for a taken name.
    async fn update_sso_provider(&self, provider: &SsoProviderRecord) -> StoreResult<()>;
    /// Removes a provider with its mappings, its attempts and its links (the users stay), in
    /// one transaction; returns how many links went. `NotFound` for an unknown id.
    async fn delete_sso_provider(&self, id: &SsoProviderId) -> StoreResult<u64>;
    /// Adds a mapping. `NotFound` when its provider is gone; `Conflict::Id` when its position
    /// is taken (two added at once: the caller retries).
    async fn insert_sso_mapping(&self, mapping: &SsoMappingRecord) -> StoreResult<()>;
    /// A provider's mappings, in position order.
    async fn sso_mappings(&self, provider: &SsoProviderId) -> StoreResult<Vec<SsoMappingRecord>>;
    /// Removes one mapping of `provider`. `NotFound` when it is not that provider's.
    async fn delete_sso_mapping(
        &self,
        provider: &SsoProviderId,
        mapping: &SsoMappingId,
    ) -> StoreResult<()>;
    /// The identity with this `sub` at this provider.
    async fn sso_identity(
        &self,
        provider: &SsoProviderId,
        subject: &str,
    ) -> StoreResult<Option<SsoIdentityRecord>>;
    /// A user's linked identities, oldest first.
    async fn user_sso_identities(&self, user: &UserId) -> StoreResult<Vec<SsoIdentityRecord>>;
    /// Links an identity. `Conflict::SsoIdentity` when the `sub` is linked already or the user
    /// has an identity at that provider; `NotFound` when the provider or user is gone.
    async fn insert_sso_identity(&self, identity: &SsoIdentityRecord) -> StoreResult<()>;
    /// Creates a user (no recovery codes) and links the identity to it, in one transaction:
    /// an SSO-created user never exists unlinked. Conflicts as `insert_user` and
    /// `insert_sso_identity`.
    async fn insert_sso_user(
        &self,
        user: &UserRecord,
        identity: &SsoIdentityRecord,
    ) -> StoreResult<()>;
    /// Records a sign-in through an identity. `NotFound` when it is not linked.
    async fn touch_sso_identity(
        &self,
        provider: &SsoProviderId,
        subject: &str,
        now_ms: i64,
    ) -> StoreResult<()>;
    /// Unlinks the user's identity at a provider. `NotFound` when there is none.
    async fn delete_sso_identity(&self, user: &UserId, provider: &SsoProviderId)
    -> StoreResult<()>;
    /// Stores a new attempt. `Conflict::Id` if its id or state digest is taken.
    async fn insert_sso_attempt(&self, attempt: &SsoAttemptRecord) -> StoreResult<()>;
    /// Consumes the attempt whose state digest this is, if it is unused and unexpired at
    /// `now_ms`, and returns it (with `used_ms` set). Atomic: of any number of racing calls, on
    /// any replica, at most one gets it. Unknown, used and expired are all `None`.
    async fn take_sso_attempt(
        &self,
        state_hash: &[u8; 32],
        now_ms: i64,
    ) -> StoreResult<Option<SsoAttemptRecord>>;
    /// Records who a consumed CLI attempt signed in and the completion code's digest, once.
    /// `NotFound` unless it is consumed, of purpose `cli`, and not completed yet.
    async fn complete_sso_attempt(
        &self,
        id: &SsoAttemptId,
        user: &UserId,
        completion_hash: &[u8; 32],
    ) -> StoreResult<()>;
    /// Finishes a completed CLI attempt once, if it is unexpired at `now_ms`, and returns it
    /// (with `finished_ms` set). Atomic like `take_sso_attempt`; `None` otherwise.
    async fn finish_sso_attempt(
        &self,
        id: &SsoAttemptId,
        now_ms: i64,
    ) -> StoreResult<Option<SsoAttemptRecord>>;
    /// Forgets attempts that expired before `now_ms`; returns how many.
    async fn sweep_sso_attempts(&self, now_ms: i64) -> StoreResult<u64>;
}
