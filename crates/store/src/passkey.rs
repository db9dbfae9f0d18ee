//! Passkeys (WebAuthn credentials) of human accounts, and the single-use state of the WebAuthn
//! ceremonies that register and use them.
//!
//! The store never interprets a credential: `signet-core` hands it the library's own JSON (public
//! key, signature counter, backup flags) and reads it back. What the store does enforce, each in
//! one statement so replicas and racing requests agree, is what must hold under concurrency: a
//! credential id is registered once, a user has at most so many passkeys, the signature counter
//! only moves forward, and a ceremony is finished at most once.

use std::fmt;

use async_trait::async_trait;
use signet_proto::{CeremonyId, PasskeyId, UserId};

use crate::StoreResult;

/// One registered passkey. `Debug` leaves out the stored credential: it holds nothing secret,
/// but nothing in it helps anyone reading a log either.
#[derive(Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// The passkey's id in the API.
    pub id: PasskeyId,
    /// Whose it is.
    pub user_id: UserId,
    /// The authenticator's raw credential id. Unique across all users.
    pub credential_id: Vec<u8>,
    /// What the user calls it (1 to 64 characters, checked by core).
    pub name: String,
    /// The WebAuthn library's serialised credential: public key, counter and flags.
    pub credential: String,
    /// The authenticator's signature counter as of the last accepted use (0: it keeps none).
    pub sign_count: u32,
    /// Registration time, Unix ms.
    pub created_ms: i64,
    /// Last successful sign-in or step-up with it, Unix ms.
    pub last_used_ms: Option<i64>,
}

impl fmt::Debug for PasskeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasskeyRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("credential", &"[redacted]")
            .field("sign_count", &self.sign_count)
            .field("created_ms", &self.created_ms)
            .field("last_used_ms", &self.last_used_ms)
            .finish_non_exhaustive()
    }
}

/// What a WebAuthn ceremony is for. Each kind is finished only by its own route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// A usernameless sign-in.
    Authentication,
    /// Adding a passkey to a signed-in user.
    Registration,
    /// Re-proving presence inside a session.
    StepUp,
}

impl CeremonyKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authentication => "authentication",
            Self::Registration => "registration",
            Self::StepUp => "step_up",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "authentication" => Some(Self::Authentication),
            "registration" => Some(Self::Registration),
            "step_up" => Some(Self::StepUp),
            _ => None,
        }
    }
}

/// A ceremony the server started and a browser has yet to finish. `Debug` leaves out the state,
/// which holds the challenge.
#[derive(Clone, PartialEq, Eq)]
pub struct CeremonyRecord {
    /// Handed to the browser as `challengeId`.
    pub id: CeremonyId,
    /// What it is for.
    pub kind: CeremonyKind,
    /// The user it belongs to; `None` for a usernameless sign-in, which names nobody yet.
    pub user_id: Option<UserId>,
    /// The WebAuthn library's serialised ceremony state (the challenge and what it allows).
    pub state: String,
    /// After this time, Unix ms, it can no longer be finished.
    pub expires_ms: i64,
}

impl fmt::Debug for CeremonyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CeremonyRecord")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("user_id", &self.user_id)
            .field("state", &"[redacted]")
            .field("expires_ms", &self.expires_ms)
            .finish()
    }
}

/// Passkeys and ceremony state.
#[async_trait]
pub trait PasskeyStore {
    /// Registers a passkey, unless its user already has `max_per_user`:
    /// `Conflict::PasskeyLimit` then, `Conflict::CredentialId` if the credential is
    /// registered already (to anyone), `NotFound` if the user does not exist. The count and the
    /// insert share one transaction, so racing registrations cannot pass the limit together.
    async fn insert_passkey(&self, passkey: &PasskeyRecord, max_per_user: u32) -> StoreResult<()>;
    /// A user's passkeys, oldest first.
    async fn passkeys(&self, user: &UserId) -> StoreResult<Vec<PasskeyRecord>>;
    /// The passkey with this raw credential id, whoever it belongs to.
    async fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> StoreResult<Option<PasskeyRecord>>;
    /// Records an accepted use: stores the updated credential, its counter and the time. Returns
    /// `false`, changing nothing, if the stored counter is already at or past `sign_count` (and
    /// either is not 0): another use with a later counter was accepted meanwhile, so this
    /// assertion is a replay or comes from a cloned authenticator. `NotFound` if the passkey is
    /// gone.
    async fn record_passkey_use(
        &self,
        id: &PasskeyId,
        credential: &str,
        sign_count: u32,
        used_ms: i64,
    ) -> StoreResult<bool>;
    /// Renames one of `user`'s passkeys and returns it. `NotFound` if it is not theirs.
    async fn rename_passkey(
        &self,
        user: &UserId,
        id: &PasskeyId,
        name: &str,
    ) -> StoreResult<PasskeyRecord>;
    /// Deletes one of `user`'s passkeys. `NotFound` if it is not theirs.
    async fn delete_passkey(&self, user: &UserId, id: &PasskeyId) -> StoreResult<()>;
    /// Stores a new ceremony. `Conflict::Id` if the id is taken.
    async fn insert_ceremony(&self, ceremony: &CeremonyRecord) -> StoreResult<()>;
    /// Removes the ceremony with this id and kind and returns it if it had not expired at
    /// `now_ms`. Atomic: of any number of racing calls, on any replica, at most one gets it.
    /// An expired one is removed too and reported as `None`, like an unknown one.
    async fn take_ceremony(
        &self,
        id: &CeremonyId,
        kind: CeremonyKind,
        now_ms: i64,
    ) -> StoreResult<Option<CeremonyRecord>>;
    /// Forgets ceremonies that expired before `now_ms`; returns how many.
    async fn sweep_ceremonies(&self, now_ms: i64) -> StoreResult<u64>;
}
