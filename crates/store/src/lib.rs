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

mod audit;
mod budget;
mod change;
mod invite;
mod machine;
mod network;
mod nonce;
mod operator;
mod passkey;
mod project;
mod secret;
mod session;
mod token;
mod transfer;
mod user;
mod vault;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use audit::{
    ActorKind, AuditChain, AuditEvent, AuditFilter, AuditHead, AuditRecord, AuditResult,
    AuditStore, Audited, JournalBatch, ReadMark,
};
pub use budget::{BudgetStore, RequestBudgets};
pub use change::{Change, ChangeFeed, ChangeWatcher, FeedState};
pub use invite::{InviteRecord, InviteStore};
pub use machine::{
    EnrollMethod, MachineAtPolicy, MachineKind, MachineRecord, MachineStatus, MachineStore,
    NewMachine,
};
pub use network::{AllowlistEntry, NetworkStore};
pub use nonce::NonceStore;
pub use operator::{OperatorRecord, OperatorStore};
pub use passkey::{CeremonyKind, CeremonyRecord, PasskeyRecord, PasskeyStore};
pub use project::{ProjectRecord, ProjectStore};
pub use secret::{
    GrantedSecret, NewVersion, PollRow, SecretKind, SecretReadView, SecretRecord, SecretStore,
    VersionContent, VersionRecord,
};
pub use session::{SessionRecord, SessionStore};
pub use token::{BootstrapTokenRecord, EnrollmentGrant, EnrollmentTokenRecord, TokenStore};
pub use transfer::{Cell, Table, TransferStore};
pub use user::{Lockout, LoginRecord, LoginResult, Role, UserRecord, UserStatus, UserStore};
pub use vault::{PolicyVersion, VaultRecord, VaultStore};

/// Why a storage operation failed, without any driver detail.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend cannot be reached or could not make the change durable. Callers fail closed
    /// (503) and may retry.
    #[error("storage unavailable")]
    Unavailable,
    /// A uniqueness rule was violated; the payload names the rule (for example `"public_key"`).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The row the operation needs does not exist (or no longer qualifies).
    #[error("not found")]
    NotFound,
    /// Stored data could not be decoded: a bug or tampering, never a client error.
    #[error("stored data is corrupt")]
    Corrupt,
}

/// Result alias for store methods.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything a backend implements. The composition root holds one as `Arc<dyn Store>`.
pub trait Store:
    AuditStore
    + BudgetStore
    + ChangeFeed
    + InviteStore
    + MachineStore
    + NetworkStore
    + NonceStore
    + OperatorStore
    + PasskeyStore
    + ProjectStore
    + SecretStore
    + SessionStore
    + TokenStore
    + TransferStore
    + UserStore
    + VaultStore
    + Send
    + Sync
{
}

impl<T> Store for T where
    T: AuditStore
        + BudgetStore
        + ChangeFeed
        + InviteStore
        + MachineStore
        + NetworkStore
        + NonceStore
        + OperatorStore
        + PasskeyStore
        + ProjectStore
        + SecretStore
        + SessionStore
        + TokenStore
        + TransferStore
        + UserStore
        + VaultStore
        + Send
        + Sync
{
}
