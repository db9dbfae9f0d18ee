//! Human accounts: users, their single-use recovery codes and their login history.
//!
//! Every counter a login decision depends on (failed attempts, the lock, the last accepted TOTP
//! step, a recovery code's use) lives here and is changed by one conditional statement, so
//! replicas sharing the store share the limits and racing requests cannot both win.

use std::fmt;

use async_trait::async_trait;
use signet_proto::{ProjectId, UserId};

use crate::StoreResult;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, including managing admins. Created once, headless (`signet user create-owner`).
    Owner,
    /// Everything except managing the owner.
    Admin,
    /// Works with the secrets of the projects they are given.
    Developer,
    /// Reads metadata only.
    Viewer,
}

impl Role {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Developer => "developer",
            Self::Viewer => "viewer",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Self::Owner),
            "admin" => Some(Self::Admin),
            "developer" => Some(Self::Developer),
            "viewer" => Some(Self::Viewer),
            _ => None,
        }
    }
}

/// Whether a user may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// May sign in.
    Active,
    /// May not sign in; their keys stop authenticating. Reversible.
    Suspended,
    /// Removed for good: never signs in again, every key disabled. The row stays for the audit
    /// log and login history, and keeps its username and email reserved.
    Removed,
}

impl UserStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Removed => "removed",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "removed" => Some(Self::Removed),
            _ => None,
        }
    }
}

/// One user. `Debug` leaves out the password hash and the sealed TOTP seed: an offline guess at
/// a hash is still a guess worth denying.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The account's id.
    pub id: UserId,
    /// Canonical (NFKC, lowercase) username. Unique across users.
    pub username: String,
    /// Canonical (NFKC, lowercase) email. Unique across users.
    pub email: String,
    /// As the user typed it, for people.
    pub display_name: String,
    /// Argon2id hash in PHC string form (parameters and salt included).
    pub password_hash: String,
    /// The TOTP seed sealed with a key derived from the root key; `None` before enrollment.
    pub totp_sealed: Option<Vec<u8>>,
    /// The last TOTP time step accepted; a code for this step or an earlier one is refused.
    pub totp_last_step: i64,
    /// Whether the person proved their authenticator has the seed (a right code after
    /// enrollment). A seed stored before this was tracked counts as confirmed.
    pub totp_confirmed: bool,
    /// What the user may do.
    pub role: Role,
    /// The projects a developer or viewer is limited to; `None` means every project. Owners and
    /// admins are never limited, whatever is stored.
    pub projects: Option<Vec<ProjectId>>,
    /// Whether the user may sign in.
    pub status: UserStatus,
    /// Consecutive failed sign-ins since the last success or lock.
    pub failed_attempts: u32,
    /// Sign-ins are refused until this time, Unix ms.
    pub locked_until_ms: Option<i64>,
    /// Creation time, Unix ms.
    pub created_ms: i64,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("display_name", &self.display_name)
            .field("password_hash", &"[redacted]")
            .field(
                "totp_sealed",
                &self.totp_sealed.as_ref().map(|_| "[redacted]"),
            )
            .field("totp_last_step", &self.totp_last_step)
            .field("totp_confirmed", &self.totp_confirmed)
            .field("role", &self.role)
            .field("projects", &self.projects)
            .field("status", &self.status)
            .field("failed_attempts", &self.failed_attempts)
            .field("locked_until_ms", &self.locked_until_ms)
            .field("created_ms", &self.created_ms)
            .finish()
    }
}

/// The state of an account's throttle after a failed sign-in was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    /// Consecutive failures now counted (0 right after a lock was set).
    pub failed_attempts: u32,
    /// Set when this failure (or an earlier one) locked the account.
    pub locked_until_ms: Option<i64>,
}

/// How one sign-in attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginResult {
    /// Signed in.
    Ok,
    /// Unknown account, wrong password or wrong code: told apart only here.
    Failed,
    /// Refused without checking: the account is locked or the source throttled.
    Throttled,
}

impl LoginResult {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Throttled => "throttled",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ok" => Some(Self::Ok),
            "failed" => Some(Self::Failed),
            "throttled" => Some(Self::Throttled),
            _ => None,
        }
    }
}

/// One sign-in attempt. Never holds what was typed as a password or code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRecord {
    /// The account the attempt named, when it names one.
    pub user_id: Option<UserId>,
    /// When, Unix ms.
    pub at_ms: i64,
    /// The source address.
    pub ip: String,
    /// The client's `User-Agent`, truncated by the caller.
    pub user_agent: String,
    /// How it ended.
    pub result: LoginResult,
}

/// Users, recovery codes and login history.
#[async_trait]
pub trait UserStore {
    /// Adds a user. `Conflict::Username` or `Conflict::Email` if the canonical form is taken.
    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()>;
    /// Adds a user and their recovery code digests only if there is no user yet, all in one
    /// transaction: `Conflict::UsersExist` otherwise. This is how the single owner is
    /// created; an owner can never exist without the codes they were shown.
    async fn insert_first_user(
        &self,
        user: &UserRecord,
        recovery_hashes: &[[u8; 32]],
    ) -> StoreResult<()>;
    /// Adds a user and their recovery code digests in one transaction, so an account made by
    /// an operator never exists without the codes it was shown. Conflicts as `insert_user`.
    async fn insert_user_with_codes(
        &self,
        user: &UserRecord,
        recovery_hashes: &[[u8; 32]],
    ) -> StoreResult<()>;
    /// Every user, oldest first.
    async fn users(&self) -> StoreResult<Vec<UserRecord>>;
    /// Looks one up by id.
    async fn user(&self, id: &UserId) -> StoreResult<Option<UserRecord>>;
    /// Looks one up by canonical username or canonical email.
    async fn user_by_login(&self, canonical: &str) -> StoreResult<Option<UserRecord>>;
    /// How many users exist.
    async fn user_count(&self) -> StoreResult<u64>;
    /// Replaces the password hash. `NotFound` if the user does not exist.
    async fn set_password_hash(&self, id: &UserId, phc: &str) -> StoreResult<()>;
    /// Stores a (new) sealed TOTP seed, pending until [`UserStore::confirm_totp`], and resets
    /// the last accepted step to `step`. `NotFound` if the user does not exist.
    async fn set_totp(&self, id: &UserId, sealed: &[u8], step: i64) -> StoreResult<()>;
    /// Records `step` as the last accepted TOTP step if it is later than the stored one.
    /// `false` if it is not (the code was used already, or an earlier one was): the caller must
    /// refuse the code. Atomic, so of two requests with one code exactly one wins.
    async fn accept_totp_step(&self, id: &UserId, step: i64) -> StoreResult<bool>;
    /// Marks the user's pending TOTP seed confirmed. `false` if there is none (no seed, already
    /// confirmed, or no such user): of two racing confirmations exactly one wins.
    async fn confirm_totp(&self, id: &UserId) -> StoreResult<bool>;
    /// Counts a failed sign-in. When the count reaches `limit` the account is locked until
    /// `now_ms + lock_ms` and the count starts again from zero. `NotFound` if the user does not
    /// exist. Atomic, so concurrent failures are all counted.
    async fn record_login_failure(
        &self,
        id: &UserId,
        now_ms: i64,
        limit: u32,
        lock_ms: i64,
    ) -> StoreResult<Lockout>;
    /// Clears the failure count and any lock after a successful sign-in.
    async fn reset_login_failures(&self, id: &UserId) -> StoreResult<()>;
    /// Replaces the user's recovery codes with these SHA-256 digests, all unused.
    async fn replace_recovery_codes(&self, id: &UserId, hashes: &[[u8; 32]]) -> StoreResult<()>;
    /// Spends the unused recovery code with this digest. `false` if there is none (unknown or
    /// already used). Atomic, so a code is spent once however many requests race.
    async fn use_recovery_code(
        &self,
        id: &UserId,
        hash: &[u8; 32],
        now_ms: i64,
    ) -> StoreResult<bool>;
    /// How many unused recovery codes the user has left.
    async fn unused_recovery_codes(&self, id: &UserId) -> StoreResult<u32>;
    /// Appends a sign-in attempt to the history.
    async fn append_login(&self, login: &LoginRecord) -> StoreResult<()>;
    /// A user's sign-in attempts, newest first, at most `limit`.
    async fn logins(&self, id: &UserId, limit: u32) -> StoreResult<Vec<LoginRecord>>;
    /// Sets a user's role and project scope together. `NotFound` for an unknown or removed
    /// user; `Conflict::LastOwner` if it would leave no active owner, decided in the same
    /// transaction as the change so that two concurrent demotions cannot both pass.
    async fn set_user_access(
        &self,
        id: &UserId,
        role: Role,
        projects: Option<&[ProjectId]>,
    ) -> StoreResult<()>;
    /// Reactivates (`true`) or suspends (`false`) a user. `NotFound` for an unknown or removed
    /// user; `Conflict::LastOwner` if it would leave no active owner.
    async fn set_user_active(&self, id: &UserId, active: bool) -> StoreResult<()>;
    /// Removes a user for good and disables every operator key of theirs, in one transaction.
    /// `NotFound` for an unknown or already removed user; `Conflict::LastOwner` if it would
    /// leave no active owner.
    async fn remove_user(&self, id: &UserId, now_ms: i64) -> StoreResult<()>;
}
