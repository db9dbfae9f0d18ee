//! One-time share links: a value sealed for one reader, opened at most once.

use async_trait::async_trait;
use signet_proto::{OperatorId, ShareId, UserId};

use crate::StoreResult;

/// Where a share link is in its life. Only `Pending` holds a value; every other state is final
/// and its row keeps no ciphertext, data key or passphrase hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShareStatus {
    /// Created, not yet opened, not past its expiry as far as the store knows.
    Pending,
    /// Opened once with the right passphrase.
    Viewed,
    /// Opened with a wrong passphrase, or revoked.
    Destroyed,
    /// Found past its expiry and erased.
    Expired,
}

impl ShareStatus {
    /// The stored and wire text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Viewed => "viewed",
            Self::Destroyed => "destroyed",
            Self::Expired => "expired",
        }
    }

    /// The status a stored text names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "viewed" => Some(Self::Viewed),
            "destroyed" => Some(Self::Destroyed),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }
}

/// One share link. The link's secret part is stored only as its SHA-256, the passphrase only as
/// an Argon2id hash, the value only sealed (`signet_crypto::RootKey::seal_share`).
#[derive(Clone, PartialEq, Eq)]
pub struct ShareRecord {
    /// The link's public id.
    pub id: ShareId,
    /// SHA-256 of the secret part of the link.
    pub secret_hash: [u8; 32],
    /// Argon2id PHC string of the passphrase; `None` once the share is no longer pending.
    pub passphrase_hash: Option<String>,
    /// The value's data key, sealed under the share key; `None` once no longer pending.
    pub wrapped_dek: Option<Vec<u8>>,
    /// The value, sealed under its data key; `None` once no longer pending.
    pub ciphertext: Option<Vec<u8>>,
    /// The operator key or session that created it.
    pub created_by: OperatorId,
    /// The user behind that key or session; `None` for a headless `operator init` key.
    pub created_by_user: Option<UserId>,
    /// Unix ms.
    pub created_ms: i64,
    /// After this the link only expires, Unix ms.
    pub expires_ms: i64,
    /// Its state.
    pub status: ShareStatus,
    /// When it left `Pending`, Unix ms.
    pub closed_ms: Option<i64>,
}

impl std::fmt::Debug for ShareRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareRecord")
            .field("id", &self.id)
            .field("created_by", &self.created_by)
            .field("created_by_user", &self.created_by_user)
            .field("created_ms", &self.created_ms)
            .field("expires_ms", &self.expires_ms)
            .field("status", &self.status)
            .field("closed_ms", &self.closed_ms)
            .finish_non_exhaustive()
    }
}

/// Share links.
#[async_trait]
pub trait ShareStore {
    /// Adds a pending share. `Conflict::Id` if the id or the secret digest exists already.
    async fn insert_share(&self, share: &ShareRecord) -> StoreResult<()>;
    /// Every share, newest first.
    async fn shares(&self) -> StoreResult<Vec<ShareRecord>>;
    /// One share, whatever its state.
    async fn share(&self, id: &ShareId) -> StoreResult<Option<ShareRecord>>;
    /// Moves a pending share to `to` (`Viewed`, `Destroyed` or `Expired`) and erases its
    /// ciphertext, data key and passphrase hash, in one conditional statement: of any number of
    /// concurrent calls for one share exactly one succeeds; the others, and a call on a share
    /// that is not pending, get `NotFound`. `Viewed` also needs `now_ms` to be before the
    /// expiry, so a share that expired while its passphrase was being checked is not shown.
    async fn close_share(&self, id: &ShareId, to: ShareStatus, now_ms: i64) -> StoreResult<()>;
    /// Moves every pending share whose expiry is at or before `now_ms` to `Expired`, erasing
    /// its sealed value; answers how many.
    async fn expire_shares(&self, now_ms: i64) -> StoreResult<u64>;
}
