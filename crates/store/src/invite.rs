//! Invitations: a single-use code, sent by email by a person, that lets its holder create their
//! own account with the role and project scope the inviter chose.

use async_trait::async_trait;
use signet_proto::{InviteId, OperatorId, ProjectId};

use crate::{Role, StoreResult, UserRecord};

/// One invitation. Only the SHA-256 digest of its code is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRecord {
    /// The invitation's id (not secret: it names the invite in lists and for revoking).
    pub id: InviteId,
    /// SHA-256 of the code in the link.
    pub code_hash: [u8; 32],
    /// Canonical email of the person invited; the account is created with it.
    pub email: String,
    /// The role the account gets.
    pub role: Role,
    /// The project scope the account gets (`None`: every project).
    pub projects: Option<Vec<ProjectId>>,
    /// The operator key that issued it.
    pub created_by: OperatorId,
    /// Unix ms.
    pub created_ms: i64,
    /// After this the code is refused, Unix ms.
    pub expires_ms: i64,
    /// When it was accepted, if it was.
    pub used_ms: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_ms: Option<i64>,
}

/// Invitations.
#[async_trait]
pub trait InviteStore {
    /// Adds an invitation. `Conflict::InviteCode` if the digest exists already.
    async fn insert_invite(&self, invite: &InviteRecord) -> StoreResult<()>;
    /// Every invitation, newest first.
    async fn invites(&self) -> StoreResult<Vec<InviteRecord>>;
    /// The invitation whose code has this digest, whatever its state.
    async fn invite_by_code(&self, code_hash: &[u8; 32]) -> StoreResult<Option<InviteRecord>>;
    /// Revokes an invitation that is neither accepted nor revoked. `NotFound` if there is no
    /// such invitation; `Conflict::InviteSpent` if it was accepted or revoked already.
    async fn revoke_invite(&self, id: &InviteId, now_ms: i64) -> StoreResult<()>;
    /// Spends the invitation and creates `user` with their recovery code digests, all in one
    /// transaction. The invitation must be unaccepted, unrevoked and unexpired at `now_ms`,
    /// checked by the statement that spends it, so of two concurrent acceptances exactly one
    /// wins: `NotFound` otherwise. A username or email conflict (`Conflict::Username`,
    /// `Conflict::Email`) leaves the invitation unspent.
    async fn accept_invite(
        &self,
        id: &InviteId,
        now_ms: i64,
        user: &UserRecord,
        recovery_hashes: &[[u8; 32]],
    ) -> StoreResult<()>;
}
