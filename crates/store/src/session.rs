//! Browser sessions: server-side records of signed-in dashboards.
//!
//! The cookie carries a random secret; only its SHA-256 digest is stored, so a copy of the
//! database signs nobody in. Each session acts as its own operator principal (`operator_id`),
//! linked to its user, so the audit log tells one browser from another and from a CLI key.

use async_trait::async_trait;
use signet_proto::{OperatorId, SessionId, UserId};

use crate::StoreResult;

/// One browser session. `Debug` is safe: the digest identifies, it does not authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Public id, for listing and revoking.
    pub id: SessionId,
    /// SHA-256 of the cookie's secret. Unique.
    pub token_hash: [u8; 32],
    /// The signed-in user.
    pub user_id: UserId,
    /// The principal this session's requests act as in the audit log and in `created_by`.
    pub operator_id: OperatorId,
    /// Sign-in time, Unix ms.
    pub created_ms: i64,
    /// The last request, Unix ms (updated at most once a minute).
    pub last_seen_ms: i64,
    /// The absolute end, Unix ms, whatever the activity.
    pub expires_ms: i64,
    /// When a second factor was last given in this session, Unix ms (step-up).
    pub step_up_ms: Option<i64>,
    /// The address the session signed in from.
    pub ip: String,
    /// The browser's `User-Agent` at sign-in, truncated.
    pub user_agent: String,
    /// Set once when the session is ended (logout, revocation, suspension).
    pub revoked_ms: Option<i64>,
}

/// Browser sessions.
#[async_trait]
pub trait SessionStore {
    /// Adds a session. `Conflict::TokenHash` if the digest exists (a broken RNG, never
    /// expected).
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// The session whose cookie hashes to `token_hash`, revoked or not (the caller decides).
    async fn session_by_token(&self, token_hash: &[u8; 32]) -> StoreResult<Option<SessionRecord>>;
    /// Records activity: sets `last_seen_ms` to `now_ms` if the session is live and was seen
    /// before `now_ms`. `false` if the session is revoked or unknown.
    async fn touch_session(&self, id: &SessionId, now_ms: i64) -> StoreResult<bool>;
    /// Records a second factor given now. `false` if the session is revoked or unknown.
    async fn set_session_step_up(&self, id: &SessionId, now_ms: i64) -> StoreResult<bool>;
    /// Ends one of `user`'s sessions. `false` if there is no such live session of that user,
    /// so nobody can end another user's session by guessing its id.
    async fn revoke_session(&self, user: &UserId, id: &SessionId, now_ms: i64)
    -> StoreResult<bool>;
    /// Ends every live session of `user`; returns how many.
    async fn revoke_user_sessions(&self, user: &UserId, now_ms: i64) -> StoreResult<u64>;
    /// `user`'s sessions that are neither revoked nor past `expires_ms` at `now_ms`, newest
    /// first. Idle expiry is the caller's rule and is not applied here.
    async fn live_sessions(&self, user: &UserId, now_ms: i64) -> StoreResult<Vec<SessionRecord>>;
}
