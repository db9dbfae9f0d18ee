//! Storage traits and records for Signet.
//!
//! This crate is a leaf: backends (`signet-store-sqlite`, later `signet-store-postgres`) implement
//! its traits, and `signet-core` uses them without knowing which backend it has. No driver type
//! or driver error crosses this boundary: a backend reports [`StoreError`] and logs the details.
//!
//! Each trait method is one unit of work: it either happens completely or not at all. Where a
//! rule must hold under concurrency (a single-use token, a nonce, the audit chain) the method
//! enforces it inside its own transaction rather than trusting a read made earlier.
//!
//! The [`conformance`] module (feature `conformance`) holds the test bodies every backend runs.
#![forbid(unsafe_code)]

mod ai_agent;
mod alert;
mod audit;
pub mod backup;
mod budget;
mod change;
mod connection;
mod invite;
mod issuer;
mod keyring;
mod lease;
mod machine;
mod managed;
pub mod metrics;
mod network;
mod nonce;
mod operator;
mod passkey;
mod policy;
mod project;
mod rotation;
mod secret;
mod session;
mod share;
mod sso;
mod token;
mod transfer;
mod trash;
mod user;
mod vault;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use ai_agent::{AiAgentProfile, AiAgentStore};
pub use alert::{
    AlertCursor, AlertRuleRecord, AlertStore, DeliveryOutcome, DeliveryRecord, DeliveryStatus,
    WebhookRecord,
};
pub use audit::{
    ActorKind, AuditChain, AuditCheckpoint, AuditEvent, AuditFilter, AuditHead, AuditRecord,
    AuditResult, AuditStore, Audited, JournalBatch, ReadMark, SignedEvidence,
};
pub use budget::{BudgetStore, RequestBudgets};
pub use change::{Change, ChangeFeed, ChangeWatcher, FeedState};
pub use connection::{ConnectionRecord, ConnectionStore, TlsMode};
pub use invite::{InviteRecord, InviteStore};
pub use issuer::{IssuerRecord, IssuerRuleRecord, IssuerStore, PlatformTokenUse};
pub use keyring::{
    KeyringStore, LateRewrap, ProjectKeyReplacement, ProjectKeyedRow, ProjectKeyedValue,
    RewrappedValue, RootGenerationRecord, RootGenerationUse,
};
pub use lease::{LeaseFilter, LeaseRecord, LeaseState, LeaseStore, LeasedSecretRecord};
pub use machine::{
    EnrollMethod, MachineAtPolicy, MachineKind, MachineRecord, MachineStatus, MachineStore,
    NewMachine,
};
pub use managed::{
    FinishedRotation, Heartbeat, ManagedRecord, ManagedState, ManagedStore, PendingRotation,
    RotationOutcome,
};
pub use metrics::{Instrumented, LiveCounts, PoolUse, StoreMetrics};
pub use network::{AllowlistEntry, NetworkStore};
pub use nonce::NonceStore;
pub use operator::{OperatorRecord, OperatorStore};
pub use passkey::{CeremonyKind, CeremonyRecord, PasskeyRecord, PasskeyStore};
pub use policy::{
    CounterAxis, CounterTake, PolicyRead, PolicyReadOutcome, PolicyRecord, PolicyStore,
};
pub use project::{ProjectRecord, ProjectStore};
pub use rotation::{RotationClaim, RotationRecord, RotationStore};
pub use secret::{
    GrantedSecret, NewVersion, PollRow, SecretKind, SecretReadView, SecretRecord, SecretStore,
    VersionContent, VersionRecord,
};
pub use session::{SessionRecord, SessionStore};
pub use share::{ShareRecord, ShareStatus, ShareStore};
pub use sso::{
    SsoAttemptRecord, SsoIdentityRecord, SsoMappingRecord, SsoProviderRecord, SsoPurpose, SsoStore,
};
pub use token::{BootstrapTokenRecord, EnrollmentGrant, EnrollmentTokenRecord, TokenStore};
pub use transfer::{Cell, Table, TransferStore};
pub use trash::{DEFAULT_TRASH_RETENTION_DAYS, Deletion, TrashItem, TrashKind, TrashStore};
pub use user::{Lockout, LoginRecord, LoginResult, Role, UserRecord, UserStatus, UserStore};
pub use vault::{AccessStamp, PolicyVersion, VaultRecord, VaultStore};

/// Why a storage operation failed, without any driver detail.
///
/// Not `#[non_exhaustive]`: core maps every variant in one exhaustive `match`, so a new one does
/// not compile until core has decided what it means to a caller.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The backend cannot be reached or could not make the change durable. Callers fail closed
    /// (503) and may retry.
    #[error("storage unavailable")]
    Unavailable,
    /// A rule about existing state was violated; the payload names the rule.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// The row the operation needs does not exist (or no longer qualifies).
    #[error("not found")]
    NotFound,
    /// Stored data could not be decoded: a bug or tampering, never a client error.
    #[error("stored data is corrupt")]
    Corrupt,
}

/// Which rule about existing state a write would break. Named once, here, for the store and the
/// business layer above it: each has a stable name ([`Conflict::as_str`]) that the server puts in
/// its `409 conflict` message, so the names never change once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conflict {
    /// A random id or token digest collided, or the same record was inserted twice: a
    /// uniqueness conflict without a documented rule.
    Id,
    /// A vault exists already.
    Vault,
    /// A project of that name exists.
    ProjectName,
    /// A live secret of that name exists in the project.
    SecretName,
    /// The secret's current version is not the one the write expected.
    Version,
    /// The public key is registered to a principal (live or not) already.
    PublicKey,
    /// The CIDR is on the allowlist already.
    Cidr,
    /// The username's canonical form is taken.
    Username,
    /// The email's canonical form is taken.
    Email,
    /// A session with that token digest exists.
    TokenHash,
    /// An invitation with that code digest exists.
    InviteCode,
    /// The invitation was accepted or revoked already.
    InviteSpent,
    /// The passkey credential is registered already.
    CredentialId,
    /// The user has as many passkeys as allowed.
    PasskeyLimit,
    /// The change would leave the vault without an active owner.
    LastOwner,
    /// A user exists, so the first owner can no longer be created.
    UsersExist,
    /// An import target holds data already.
    NotEmpty,
    /// Raised by the business layer, not a backend: an enrollment's public key is registered
    /// already (the server answers `public_key_taken`).
    PublicKeyTaken,
    /// Raised by the business layer: the machine changed state (was removed) meanwhile.
    MachineState,
    /// Raised by the business layer: a field merge's base version is no longer the current one.
    StaleBase,
    /// Raised by the business layer: the passkey is registered to this user already.
    PasskeyExists,
    /// A policy of that name exists in the project.
    PolicyName,
    /// A secret is still bound to the policy.
    PolicyInUse,
    /// The share link was opened, revoked or expired already.
    ShareSpent,
    /// A scheduled rotation's due moment was claimed by another replica, or the schedule
    /// changed, since the scheduler read it.
    RotationClaimed,
    /// A trashed secret cannot come back while its project is in the trash.
    ProjectTrashed,
    /// Raised by the business layer: a canary's value is server-generated and is never written
    /// by hand (update, field patch or merge, rollback, manual rotation); nothing changes.
    Canary,
    /// A managed secret has a rotation waiting for its agent already.
    RotationPending,
    /// No rotation of that id is pending (finished already, or never made).
    RotationStale,
    /// A database connection of that name exists in the project.
    ConnectionName,
    /// A leased secret, or a lease not yet revoked, still uses the database connection.
    ConnectionInUse,
    /// Raised by the business layer: the lease is expired or revoked, so it cannot be renewed.
    LeaseState,
    /// A trusted issuer of that name or issuer URL exists.
    IssuerName,
    /// A trusted SSO provider of that name exists.
    SsoProviderName,
    /// The provider identity is linked to a user already, or the user has an identity at that
    /// provider already.
    SsoIdentity,
    /// Raised by the business layer: the user is the vault's break-glass owner while SSO is
    /// required, so cannot be demoted, suspended or removed.
    BreakGlass,
    /// A root key generation was added by another rotation meanwhile (`KeyringStore`).
    RootGenerationStale,
    /// The root key generation is the current one, so it cannot be retired.
    RootGenerationCurrent,
    /// Stored values are still wrapped under the root key generation, so it cannot be retired.
    RootGenerationInUse,
    /// A value was sealed under a project key generation that is no longer the project's
    /// (`KeyringStore::replace_project_key`): a rotation committed meanwhile, or, to a
    /// rotation, a write landed after it listed the values. Seal (or list) again.
    ProjectKeyStale,
    /// Another rotation of the project key committed since this one read the key.
    ProjectKeyRotated,
}

impl Conflict {
    /// The rule's stable name, as the server's `conflict` message shows it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Vault => "vault",
            Self::ProjectName => "project_name",
            Self::SecretName => "secret_name",
            Self::Version => "version",
            Self::PublicKey => "public_key",
            Self::Cidr => "cidr",
            Self::Username => "username",
            Self::Email => "email",
            Self::TokenHash => "token_hash",
            Self::InviteCode => "invite_code",
            Self::InviteSpent => "invite_spent",
            Self::CredentialId => "credential_id",
            Self::PasskeyLimit => "passkey_limit",
            Self::LastOwner => "last_owner",
            Self::UsersExist => "users_exist",
            Self::NotEmpty => "not_empty",
            Self::PublicKeyTaken => "public_key_taken",
            Self::MachineState => "machine_state",
            Self::StaleBase => {
                "version: the secret has a newer version than baseVersion; start again from it"
            }
            Self::PasskeyExists => "passkey_exists",
            Self::PolicyName => "policy_name",
            Self::PolicyInUse => "policy_in_use",
            Self::ShareSpent => "share_spent",
            Self::RotationClaimed => "rotation_claimed",
            Self::ProjectTrashed => {
                "project_trashed: the secret's project is in the trash; restore the project first"
            }
            Self::Canary => "canary: a canary secret's value cannot be written by hand",
            Self::RotationPending => {
                "rotation_pending: a rotation is waiting for the secret's agent to confirm or reject it"
            }
            Self::RotationStale => "rotation_stale: no rotation of that id is pending",
            Self::ConnectionName => "connection_name",
            Self::ConnectionInUse => "connection_in_use",
            Self::LeaseState => "lease_state: the lease is expired or revoked",
            Self::IssuerName => "issuer_name: an issuer of that name or URL is trusted already",
            Self::SsoProviderName => {
                "sso_provider_name: a provider of that name is trusted already"
            }
            Self::SsoIdentity => {
                "sso_identity: that identity is linked to a user already, or the user has one at that provider"
            }
            Self::BreakGlass => {
                "break_glass: this owner is the vault's break-glass user while SSO is required; name another first"
            }
            Self::RootGenerationStale => {
                "root_generation_stale: another rotation made a new root key generation meanwhile"
            }
            Self::RootGenerationCurrent => {
                "root_generation_current: the current root key generation cannot be retired; rotate first"
            }
            Self::RootGenerationInUse => {
                "root_generation_in_use: values are still wrapped under that generation; finish the rotation first"
            }
            Self::ProjectKeyStale => {
                "project_key_stale: the project key was rotated meanwhile; try again"
            }
            Self::ProjectKeyRotated => {
                "project_key_rotated: another rotation of this project's key finished first"
            }
        }
    }
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Result alias for store methods.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything a backend implements. The composition root holds one as `Arc<dyn Store>`.
pub trait Store:
    AiAgentStore
    + AlertStore
    + AuditStore
    + BudgetStore
    + ChangeFeed
    + ConnectionStore
    + InviteStore
    + Instrumented
    + IssuerStore
    + KeyringStore
    + LeaseStore
    + MachineStore
    + ManagedStore
    + NetworkStore
    + NonceStore
    + OperatorStore
    + PasskeyStore
    + PolicyStore
    + ProjectStore
    + RotationStore
    + SecretStore
    + SessionStore
    + ShareStore
    + SsoStore
    + TokenStore
    + TransferStore
    + TrashStore
    + UserStore
    + VaultStore
    + Send
    + Sync
{
}

impl<T> Store for T where
    T: AiAgentStore
        + AlertStore
        + AuditStore
        + BudgetStore
        + ChangeFeed
        + ConnectionStore
        + InviteStore
        + Instrumented
        + IssuerStore
        + KeyringStore
        + LeaseStore
        + MachineStore
        + ManagedStore
        + NetworkStore
        + NonceStore
        + OperatorStore
        + PasskeyStore
        + PolicyStore
        + ProjectStore
        + RotationStore
        + SecretStore
        + SessionStore
        + ShareStore
        + SsoStore
        + TokenStore
        + TransferStore
        + TrashStore
        + UserStore
        + VaultStore
        + Send
        + Sync
{
}
