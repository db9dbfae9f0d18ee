//! Single-use nonces.

use async_trait::async_trait;

use crate::StoreResult;

/// Remembers each (principal, nonce) pair until its timestamp leaves the clock window.
#[async_trait]
pub trait NonceStore {
    /// Records the pair if it is new and returns `true`; returns `false` if it was seen and has
    /// not expired. The pair must be durable no later than any audit record appended after this
    /// call returns, so a restart never forgets a nonce whose request was answered.
    /// `expires_ms` is when the pair may be forgotten; entries are never dropped before it.
    /// Callers derive it from the request's signed timestamp, so a replay carries the expiry of
    /// its original: a pair remembered again with the same expiry is always refused, from the
    /// first call on a store opened over existing data. (A store still loading its stored pairs
    /// may judge a pair remembered with another expiry by the pair and expiry only.)
    async fn remember_nonce(
        &self,
        principal: &str,
        nonce: &str,
        expires_ms: i64,
    ) -> StoreResult<bool>;
    /// [`remember_nonce`](Self::remember_nonce), and the access stamp read after this call
    /// began: `Some(stamp)` if the pair is new, `None` if it was seen. A backend folds the stamp
    /// into a statement it makes anyway where it can (PostgreSQL: the nonce insert itself).
    async fn remember_nonce_at_stamp(
        &self,
        principal: &str,
        nonce: &str,
        expires_ms: i64,
    ) -> StoreResult<Option<crate::AccessStamp>>;
    /// Forgets pairs that expired before `now_ms`; returns how many.
    async fn sweep_nonces(&self, now_ms: i64) -> StoreResult<u64>;
}
