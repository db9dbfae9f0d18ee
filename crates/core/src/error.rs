//! Errors of the business layer. Each variant maps to one HTTP status in the server; messages
//! are safe to show to the caller (no ids that were not supplied, no internals).

use signet_store::{Conflict, StoreError};

/// Why an operation was refused or failed.
///
/// Not `#[non_exhaustive]`: the server maps every variant to an answer in one exhaustive
/// `match`, so a new variant does not compile until it has been given one.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// Input is malformed; the message says which field and why.
    #[error("{0}")]
    BadRequest(String),
    /// Conflicts with existing state; the payload names the rule.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// A check-and-set write expected another version than the secret's current one; nothing
    /// was written. Carries the current version so the caller can read it again and retry.
    #[error("the secret is at version {current_version}, not the expected one")]
    VersionConflict {
        /// The secret's current version when the write was refused.
        current_version: u32,
    },
    /// Authenticated, but not allowed (also: a secret that does not exist, to a machine).
    #[error("access denied")]
    Forbidden,
    /// An invitation code that is unknown, used, expired or revoked: one answer for all four.
    #[error("invitation refused")]
    InviteRefused,
    /// The object does not exist (operator routes only; machines always get `Forbidden`).
    #[error("not found")]
    NotFound,
    /// Passkeys cannot work with this server's public URL (no domain, or not a secure origin).
    #[error("passkeys are unavailable on this server")]
    PasskeysUnavailable,
    /// A value over its size limit (a share link's 100 KB).
    #[error("value too large")]
    PayloadTooLarge,
    /// Too many attempts from this source.
    #[error("rate limited")]
    RateLimited,
    /// Over a budget that refills at a known rate (a machine's request budget, the password-hash
    /// queue, a source's authentication failures): 429 with this `Retry-After`, at least 1 s.
    #[error("over budget")]
    OverBudget {
        /// Whole seconds until a retry can succeed.
        retry_after_secs: u64,
    },
    /// Authentication failed. Deliberately says nothing about why.
    #[error("authentication failed")]
    Unauthenticated,
    /// A sensitive action in a browser session needs a second factor given within the last
    /// five minutes (`crate::session`).
    #[error("a recent second factor is required")]
    StepUpRequired,
    /// First-run setup is closed: wrong, expired or spent code, or a user exists already.
    #[error("setup is closed")]
    SetupClosed,
    /// A new password is too easy to guess; the message is the estimator's advice, never the
    /// password.
    #[error("password is too easy to guess: {0}")]
    WeakPassword(String),
    /// A machine request into a project that a canary read froze: the same answer for every
    /// request into it until an administrator unfreezes it.
    #[error("project frozen")]
    ProjectFrozen,
    /// A fail-closed dependency (the store or the audit log) is down.
    #[error("service unavailable")]
    Unavailable,
    /// The vault requires enrollment to prove possession of the new key, and no proof came.
    #[error("enrollment proof required")]
    EnrollmentProofRequired,
    /// An enrollment proof that does not hold; the payload says which part, safely: the proof
    /// is checked against nothing but the request and the clock, so the reason reveals nothing.
    /// The vault requires SSO, and this sign-in (password, passkey or invitation) is not the
    /// break-glass owner's.
    #[error("this vault requires single sign-on")]
    SsoRequired,
    /// Inside a live session, a re-check of the person's own factor failed: the current
    /// password when changing it, or a step-up code. Not [`CoreError::Unauthenticated`]: the
    /// session is fine, and a 401 would sign the person out. Counted towards the lockout.
    #[error("the password or code given is not right")]
    WrongFactor,
    /// Inside a live session, a step-up code that was right but used already (each code works
    /// once): the person waits for the next one.
    #[error("that code was used already")]
    CodeReused,
    /// A secret name that breaks the name rule (`crate::name::check_secret_name`); the message
    /// says the rule. Never normalised: the name is refused as sent.
    #[error("{0}")]
    InvalidName(String),
    /// A value written by a person is empty; the message names the field (`value`, or a
    /// structured field's name).
    #[error("{0}")]
    EmptyValue(String),
    #[error("enrollment proof invalid: {0}")]
    EnrollmentProofInvalid(&'static str),
}

/// Result alias.
pub type CoreResult<T> = Result<T, CoreError>;

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(rule) => Self::Conflict(rule),
            StoreError::NotFound => Self::NotFound,
            StoreError::Unavailable => Self::Unavailable,
            // Corrupt data is logged by the store; to the caller it is an outage, not a detail.
            StoreError::Corrupt => Self::Unavailable,
        }
    }
}

impl CoreError {
    /// Shorthand for a bad-request error.
    pub fn bad(msg: impl Into<String>) -> Self {
        Self::BadRequest(msg.into())
    }
}
