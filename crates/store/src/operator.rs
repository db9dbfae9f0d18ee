//! Operators: humans' signing keys for the admin API.

use async_trait::async_trait;
use signet_proto::{OperatorId, PublicKey, UserId};

use crate::StoreResult;

/// One operator key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRecord {
    /// Travels in `X-Operator-Id`.
    pub id: OperatorId,
    /// A label for people.
    pub name: String,
    /// Its Ed25519 key. Unique across operators and machines.
    pub public_key: PublicKey,
    /// Whether it is the vault's owner (created by `signet operator init`).
    pub owner: bool,
    /// A disabled key authenticates nothing.
    pub disabled: bool,
    /// Creation time, Unix ms.
    pub created_ms: i64,
    /// The user who signed in to create it; `None` for the headless `signet operator init` key.
    pub user_id: Option<UserId>,
    /// The key stops authenticating at this time, Unix ms; `None` never expires.
    pub expires_ms: Option<i64>,
}

/// Operator keys.
#[async_trait]
pub trait OperatorStore {
    /// Adds an operator. `Conflict::PublicKey` if the key is already registered to any
    /// operator or machine.
    async fn insert_operator(&self, op: &OperatorRecord) -> StoreResult<()>;
    /// Looks one up by id.
    async fn operator(&self, id: &OperatorId) -> StoreResult<Option<OperatorRecord>>;
    /// All operators, oldest first.
    async fn operators(&self) -> StoreResult<Vec<OperatorRecord>>;
    /// The keys `user` made by signing in (`signet login`) that are enabled and unexpired at
    /// `now_ms`, newest first.
    async fn user_operators(&self, user: &UserId, now_ms: i64) -> StoreResult<Vec<OperatorRecord>>;
    /// Disables an operator key for good (logout, revocation). `NotFound` if it does not exist
    /// or is disabled already.
    async fn disable_operator(&self, id: &OperatorId) -> StoreResult<()>;
}
