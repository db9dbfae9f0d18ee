//! Human accounts: the owner created headless, password + TOTP sign-in, and the CLI sign-in
//! that trades a successful login for a short-lived operator key.
//!
//! # Sign-in rules (docs/threat-model.md repeats them)
//!
//! * Passwords are 12 to 1024 characters and stored as Argon2id PHC strings with the
//!   parameters below. Hashing runs on the blocking pool, never on a runtime worker.
//! * Usernames and emails are compared in canonical form (NFKC, lowercase), so `Alice`,
//!   `ALICE` and `Ａｌｉｃｅ` are one account with one lockout counter.
//! * An unknown login is hashed against [`DUMMY_PHC`] so that it costs what a known one costs,
//!   and every failure (unknown login, wrong password, wrong or reused code, suspended user) is
//!   the same [`CoreError::Unauthenticated`].
//! * [`LOCKOUT_FAILURES`] consecutive failures lock the account for [`LOCKOUT_MS`]; the counter
//!   lives in the store so replicas share it. Each source address gets
//!   [`LOGIN_ATTEMPTS_PER_SOURCE_PER_MINUTE`] attempts a minute (in memory, per process).
//! * A TOTP code (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step) is accepted once: its step must be
//!   later than the last accepted one, checked and recorded in one store statement.
//! * Recovery codes are stored as SHA-256 digests and spent once.
//! * A new TOTP seed is *pending* until the person proves their authenticator has it: the new
//!   account's answer carries an enrollment ticket (sealed under the TOTP key, bound to the
//!   vault and user, valid [`TOTP_TICKET_MS`]) with which a right code confirms the seed
//!   ([`Accounts::confirm_totp`]). A wrong code there is told apart from a right one used
//!   already, counts towards the lockout, and leaves the seed pending. A sign-in or step-up
//!   with a right code proves the same, so it confirms a pending seed too; a pending seed
//!   otherwise signs in like a confirmed one, so a person who closed the page is not locked
//!   out. A ticket works once: a confirmed seed refuses it with the uniform 401.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use signet_api::audit::{AuditAction, DenialReason};
use signet_proto::{OperatorId, ProjectId, PublicKey, UserId, VaultId};
use signet_store::{
    ActorKind, AuditResult, Conflict, LoginRecord, LoginResult, OperatorRecord, Role, StoreError,
    UserRecord, UserStatus,
};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use totp_rs::{Algorithm as TotpAlgorithm, Builder as TotpBuilder, Totp};
use unicode_normalization::UnicodeNormalization;
use zeroize::{Zeroize, Zeroizing};

use crate::address::ClientAddr;
use crate::context::Context;
use crate::journal::Actor;
use crate::principal::{AuthedOperator, SessionGrant};
use crate::registration::RequestLimiter;
use crate::role::{Permission, may_grant, rank};
use crate::{CoreError, CoreResult};

/// Argon2id memory cost in KiB (19 MiB): OWASP's minimum for Argon2id, about 16 ms per hash
/// per core on the reference machine (deps.md §3.4).
pub const ARGON2_M_COST_KIB: u32 = 19_456;
/// Argon2id passes over memory.
pub const ARGON2_T_COST: u32 = 2;
/// Argon2id lanes: one, so a login costs one core and the blocking pool bounds the total.
pub const ARGON2_P_COST: u32 = 1;
/// Shortest accepted password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 12;
/// Longest accepted password, in characters: a bound on hashing input, not on strength.
pub const PASSWORD_MAX_CHARS: usize = 1024;
/// Lowest zxcvbn score a new password must reach: 3 means about 10^10 guesses, out of reach of
/// an online attacker and costly offline against Argon2id (issue 9, finding 7).
pub const PASSWORD_MIN_SCORE: u8 = 3;
/// Characters of a new password the strength estimate looks at.
const PASSWORD_ESTIMATE_CHARS: usize = 100;
/// Consecutive failed sign-ins that lock an account.
pub const LOCKOUT_FAILURES: u32 = 5;
/// How long a locked account refuses sign-ins: 15 minutes.
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;
/// Sign-in attempts one source address may make per minute, whichever accounts it names.
pub const LOGIN_ATTEMPTS_PER_SOURCE_PER_MINUTE: u32 = 20;
/// TOTP time step.
pub const TOTP_STEP_SECS: u64 = 30;
/// TOTP code length.
pub const TOTP_DIGITS: u8 = 6;
/// Steps either side of now a TOTP code may belong to (clock drift).
pub const TOTP_SKEW: u8 = 1;
/// TOTP seed length: 160 bits, the HMAC-SHA-1 block RFC 4226 recommends.
const TOTP_SEED_BYTES: usize = 20;
/// How long a new account's enrollment ticket can confirm its TOTP seed: 30 minutes, time to
/// install an authenticator app.
pub const TOTP_TICKET_MS: i64 = 30 * 60 * 1000;
/// Recovery codes issued with an account.
pub const RECOVERY_CODES: usize = 10;
/// How long a key registered by `signet login` authenticates unless the vault says otherwise
/// (`signet vault settings --cli-key-ttl`): 12 hours.
pub const CLI_KEY_TTL_MS: i64 = 12 * 3600 * 1000;
/// Issuer shown by authenticator apps.
const TOTP_ISSUER: &str = "Signet";

/// A well-formed Argon2id PHC string with the parameters above whose salt and output are random
/// bytes: no password matches it short of a preimage. An unknown login is verified against it
/// so that it takes as long as a known one.
pub const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$aDXpsEIl8hAtHljd8R3Yqg$KTFHcOGxlhoLYLo5fGMRSI+YRQVWdH0ZgJi21Jxqgq8";

/// A password, zeroized on drop, never printed.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps what the user typed.
    pub fn new(s: impl Into<String>) -> Self {
        Self(Zeroizing::new(s.into()))
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Its length in characters.
    pub(crate) fn chars(&self) -> usize {
        self.0.chars().count()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// The second factor given with a password.
#[derive(Clone)]
pub enum SecondFactor {
    /// A TOTP code from an authenticator.
    Totp(Zeroizing<String>),
    /// One of the recovery codes issued with the account.
    Recovery(Zeroizing<String>),
    /// Nothing given: the sign-in fails like any other wrong code.
    Missing,
}

impl fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Totp(_) => "Totp(***)",
            Self::Recovery(_) => "Recovery(***)",
            Self::Missing => "Missing",
        })
    }
}

/// What `create_owner` needs.
#[derive(Debug, Clone)]
pub struct NewOwner<'a> {
    /// The username as typed.
    pub username: &'a str,
    /// The email as typed.
    pub email: &'a str,
    /// The password.
    pub password: Password,
}

/// What `create_user` needs.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// The username as typed.
    pub username: &'a str,
    /// The email as typed.
    pub email: &'a str,
    /// The password.
    pub password: Password,
    /// The role to give.
    pub role: Role,
    /// Project ids a developer or viewer is limited to; `None` for every project.
    pub projects: Option<Vec<String>>,
}

/// Most projects one user or invitation may be scoped to.
pub const MAX_SCOPED_PROJECTS: usize = 1000;

/// What a second factor given was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FactorCheck {
    /// Right, and now used.
    Ok,
    /// Not right (or none given, or none enrolled).
    Wrong,
    /// A TOTP code that was right but used already.
    Reused,
}

/// A user as operators see them: no hash, no seed, no counters.
#[derive(Debug, Clone)]
pub struct UserView {
    /// The account's id.
    pub id: UserId,
    /// Canonical username.
    pub username: String,
    /// Canonical email.
    pub email: String,
    /// As typed at creation.
    pub display_name: String,
    /// `owner`, `admin`, `developer` or `viewer`.
    pub role: &'static str,
    /// `active`, `suspended` or `removed`.
    pub status: &'static str,
    /// Unix ms.
    pub created_at: i64,
    /// The projects a developer or viewer is limited to; `None` for every project.
    pub projects: Option<Vec<ProjectId>>,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        Self {
            id: u.id,
            username: u.username,
            email: u.email,
            display_name: u.display_name,
            role: u.role.as_str(),
            status: u.status.as_str(),
            created_at: u.created_ms,
            projects: u.projects,
        }
    }
}

/// What the new owner is shown once: how to enroll an authenticator, and recovery codes.
pub struct OwnerEnrollment {
    /// The created account.
    pub user: UserRecord,
    /// `otpauth://totp/...` with the seed, for an authenticator app.
    pub otpauth_uri: Zeroizing<String>,
    /// The recovery codes in clear; only their digests are stored.
    pub recovery_codes: Vec<Zeroizing<String>>,
    /// Confirms the pending seed with [`Accounts::confirm_totp`]: `USER_ID.SEALED_EXPIRY`.
    pub ticket: Zeroizing<String>,
    /// When `ticket` stops working, Unix ms.
    pub ticket_expires_ms: i64,
}

impl fmt::Debug for OwnerEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerEnrollment")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// One sign-in attempt.
#[derive(Debug, Clone)]
pub struct LoginAttempt<'a> {
    /// Username or email, as typed.
    pub login: &'a str,
    /// The password.
    pub password: Password,
    /// The TOTP or recovery code.
    pub second_factor: SecondFactor,
    /// Where the request came from.
    pub source_ip: ClientAddr,
    /// The client's `User-Agent`.
    pub user_agent: &'a str,
}

/// What the CLI is told after signing in: enough to write its operator identity.
#[derive(Debug, Clone)]
pub struct CliLogin {
    /// The new operator key's id.
    pub operator_id: OperatorId,
    /// The vault it administers.
    pub vault_id: VaultId,
    /// When the key stops authenticating, Unix ms.
    pub expires_at: i64,
    /// The server's public base URL.
    pub api_url: String,
}

/// The canonical form of a username or email: NFKC, then lowercase, then NFKC again (lowercasing
/// can leave a string that is no longer normalised), without surrounding whitespace. Control
/// characters are refused rather than stripped, so two different inputs never meet by accident.
pub fn canonical(s: &str) -> CoreResult<String> {
    let nfkc: String = s.trim().nfkc().collect();
    let lower: String = nfkc.to_lowercase().nfkc().collect();
    if lower.is_empty() || lower.chars().any(char::is_control) {
        return Err(CoreError::bad(
            "login must be non-empty, without control characters",
        ));
    }
    Ok(lower)
}

pub(crate) fn canonical_username(s: &str) -> CoreResult<String> {
    let c = canonical(s)?;
    // No `@`: a username then never equals an email, so one login names at most one account.
    if c.chars().count() > 64 || c.contains('@') || c.chars().any(char::is_whitespace) {
        return Err(CoreError::bad(
            "username must be 1-64 characters, without '@' or spaces",
        ));
    }
    Ok(c)
}

pub(crate) fn canonical_email(s: &str) -> CoreResult<String> {
    let c = canonical(s)?;
    let valid = c.len() <= 254
        && !c.chars().any(char::is_whitespace)
        && c.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if !valid {
        return Err(CoreError::bad("email must look like name@domain"));
    }
    Ok(c)
}

/// Checks a new password: its length, then its strength as zxcvbn estimates it, counting
/// `user_inputs` (the account's username and email) as known to the attacker. Only new
/// passwords are checked; signing in with an old weak one still works.
pub fn check_password(p: &Password, user_inputs: &[&str]) -> CoreResult<()> {
    let n = p.0.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&n) {
        return Err(CoreError::bad(format!(
            "password must be {PASSWORD_MIN_CHARS}-{PASSWORD_MAX_CHARS} characters"
        )));
    }
    // zxcvbn's matching grows faster than linearly with length; a prefix this long that is
    // strong makes the whole strong, and an attacker's budget is spent long before it.
    let head: Zeroizing<String> =
        Zeroizing::new(p.0.chars().take(PASSWORD_ESTIMATE_CHARS).collect());
    let estimate = zxcvbn::zxcvbn(&head, user_inputs);
    if u8::from(estimate.score()) < PASSWORD_MIN_SCORE {
        let advice = estimate
            .feedback()
            .and_then(zxcvbn::feedback::Feedback::warning)
            .map_or_else(
                || "add another word or two; uncommon words are better".to_owned(),
                |w| w.to_string(),
            );
        return Err(CoreError::WeakPassword(advice));
    }
    Ok(())
}

fn argon2() -> CoreResult<Argon2<'static>> {
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
        .map_err(|_| CoreError::Unavailable)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Most Argon2id computations at once, whatever the core count: each holds a
/// [`ARGON2_M_COST_KIB`] block, so this bounds the memory sign-ins can take.
pub const HASH_SLOTS_MAX: usize = 4;
/// Sign-ins that may wait for a hashing slot; the next one is refused with 429 at once rather
/// than queued without bound (issue 9, finding 6).
pub const HASH_QUEUE: usize = 32;
/// What a sign-in refused for a full hashing queue is told to wait: a slot clears a queue of
/// [`HASH_QUEUE`] in well under a second on the reference machine.
pub const HASH_RETRY_AFTER_SECS: u64 = 1;

/// One slot's Argon2 working memory: allocated once, reused by every hash in that slot, and
/// wiped after each so no password-derived state outlives its hash.
struct HashMemory(Box<[Block]>);

impl HashMemory {
    fn new(blocks: usize) -> Self {
        Self(vec![Block::default(); blocks].into_boxed_slice())
    }

    fn wipe(&mut self) {
        self.0.iter_mut().for_each(Zeroize::zeroize);
    }
}

impl Drop for HashMemory {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// Bounds Argon2id computations and the memory they take. A sign-in is admitted if fewer than
/// `slots + queue` are in flight (else [`CoreError::OverBudget`]), then waits for one of
/// `slots` slots, then hashes on the blocking pool in that slot's reused memory. Freed hash
/// memory is not reliably given back to the OS by the allocator, so a fixed set of blocks is
/// what keeps a login flood's footprint flat.
pub(crate) struct HashGate {
    admitted: Arc<Semaphore>,
    slots: Arc<Semaphore>,
    memory: Arc<Mutex<Vec<HashMemory>>>,
}

impl HashGate {
    /// One slot per core up to [`HASH_SLOTS_MAX`]: more concurrent hashes would not finish
    /// sooner, only hold more memory.
    pub(crate) fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self::with_limits(cores.min(HASH_SLOTS_MAX), HASH_QUEUE)
    }

    pub(crate) fn with_limits(slots: usize, queue: usize) -> Self {
        let slots = slots.max(1);
        Self {
            admitted: Arc::new(Semaphore::new(slots + queue)),
            slots: Arc::new(Semaphore::new(slots)),
            memory: Arc::new(Mutex::new(Vec::with_capacity(slots))),
        }
    }

    async fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut [Block]) -> CoreResult<R> + Send + 'static,
    ) -> CoreResult<R> {
        let admitted = Arc::clone(&self.admitted)
            .try_acquire_owned()
            .map_err(|_| CoreError::OverBudget {
                retry_after_secs: HASH_RETRY_AFTER_SECS,
            })?;
        // The semaphores are never closed, so acquiring fails only if one were.
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| CoreError::Unavailable)?;
        let pool = Arc::clone(&self.memory);
        tokio::task::spawn_blocking(move || {
            // The permits live as long as the hash, not the request: a client that hangs up
            // must not free a slot whose hash is still running.
            let _held = (admitted, slot);
            // A slot holds at most one block, so the pool never has more than `slots`.
            let taken = pool.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let mut memory = taken.unwrap_or_else(|| HashMemory::new(ARGON2_M_COST_KIB as usize));
            let r = job(&mut memory.0);
            memory.wipe();
            pool.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(memory);
            r
        })
        .await
        .map_err(|_| CoreError::Unavailable)?
    }
}

/// Hashes on the blocking pool: 16 ms of CPU would stall every request on a runtime worker.
pub(crate) async fn hash_password(gate: &HashGate, p: Password) -> CoreResult<String> {
    let mut salt = [0u8; argon2::RECOMMENDED_SALT_LEN];
    getrandom::fill(&mut salt).map_err(|_| CoreError::Unavailable)?;
    gate.run(move |memory| {
        let a = argon2()?;
        let mut out = Zeroizing::new([0u8; Params::DEFAULT_OUTPUT_LEN]);
        let hashing_failed = |e: &dyn fmt::Display| {
            tracing::error!(error = %e, "password hashing failed");
            CoreError::Unavailable
        };
        a.hash_password_into_with_memory(p.as_bytes(), &salt, out.as_mut(), memory)
            .map_err(|e| hashing_failed(&e))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(a.params()).map_err(|e| hashing_failed(&e))?,
            salt: Some(Salt::new(&salt).map_err(|e| hashing_failed(&e))?),
            hash: Some(Output::new(out.as_ref()).map_err(|e| hashing_failed(&e))?),
        };
        Ok(phc.to_string())
    })
    .await
}

/// Whether `p` matches `phc`. A malformed stored hash is a mismatch (and logged), never a panic.
/// The hash is recomputed with the PHC string's own algorithm, parameters and salt, in the
/// slot's memory, and compared in constant time.
pub(crate) async fn verify_password(gate: &HashGate, p: Password, phc: String) -> CoreResult<bool> {
    gate.run(move |memory| {
        let Some((a, salt, expected)) = stored_hash(&phc) else {
            tracing::error!("a stored password hash is unreadable");
            return Ok(false);
        };
        let mut out = Zeroizing::new(vec![0u8; expected.len()]);
        if let Err(e) = a.hash_password_into_with_memory(p.as_bytes(), &salt, &mut out, memory) {
            tracing::error!(error = %e, "password hashing failed");
            return Ok(false);
        }
        Ok(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
    })
    .await
}

/// The hasher, salt and expected output a PHC string names, if it is an Argon2 hash. Parameters
/// come from the string itself, so old hashes keep verifying if the constants are lowered; one
/// whose memory cost exceeds a slot's (not made by this code) fails to hash and is a mismatch.
fn stored_hash(phc: &str) -> Option<(Argon2<'static>, Salt, Output)> {
    let parsed = PasswordHash::new(phc).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let version = Version::try_from(parsed.version.unwrap_or(Version::V0x13.into())).ok()?;
    let params = Params::try_from(&parsed).ok()?;
    Some((
        Argon2::new(algorithm, version, params),
        parsed.salt?,
        parsed.hash?,
    ))
}

/// The hash a password is verified against: the user's, or, for a user made by SSO without a
/// password (an empty hash), [`DUMMY_PHC`], so the refusal costs what a wrong password does.
pub(crate) fn stored_or_dummy(user: &UserRecord) -> String {
    if user.password_hash.is_empty() {
        DUMMY_PHC.to_owned()
    } else {
        user.password_hash.clone()
    }
}

fn totp(seed: &[u8], account: &str) -> CoreResult<Totp> {
    TotpBuilder::new()
        .with_algorithm(TotpAlgorithm::SHA1)
        .with_digits(TOTP_DIGITS)
        .with_skew(u16::from(TOTP_SKEW))
        .with_step_duration(TOTP_STEP_SECS)
        .with_secret(seed.to_vec())
        .with_account_name(account)
        .with_issuer(Some(TOTP_ISSUER))
        .build()
        .map_err(|e| {
            tracing::error!(error = %e, "cannot build a TOTP");
            CoreError::Unavailable
        })
}

/// A recovery code as typed, reduced to what was issued: lowercase, no separators or spaces.
fn recovery_digest(code: &str) -> [u8; 32] {
    let clean = Zeroizing::new(
        code.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect::<String>(),
    );
    Sha256::digest(clean.as_bytes()).into()
}

/// Ten random lowercase base32 characters, shown as `xxxxx-xxxxx` (50 bits each: enough, since
/// each is single use and guesses are throttled).
fn new_recovery_code() -> CoreResult<Zeroizing<String>> {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut raw = Zeroizing::new([0u8; 10]);
    getrandom::fill(raw.as_mut()).map_err(|_| CoreError::Unavailable)?;
    let mut out = Zeroizing::new(String::with_capacity(11));
    for (i, b) in raw.iter().enumerate() {
        if i == 5 {
            out.push('-');
        }
        // 256 is a multiple of 32, so masking keeps the draw uniform.
        out.push(char::from(ALPHABET[usize::from(b & 31)]));
    }
    Ok(out)
}

/// A scope for audit details: `all`, or the ids joined with commas.
pub(crate) fn scope_detail(projects: Option<&[ProjectId]>) -> String {
    match projects {
        None => "all".to_owned(),
        Some(list) => list
            .iter()
            .map(ProjectId::as_str)
            .collect::<Vec<_>>()
            .join(","),
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// Users' own accounts: the owner, sign-in (password, TOTP, recovery codes, lockout), CLI login keys and logout. Owns the password-hash gate and the per-source sign-in limiter.
#[derive(Clone)]
pub struct Accounts {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
    /// Bounds concurrent password hashes (memory-hard, 19 MiB each); shared with sessions and invites, which hash through this service.
    pub(crate) hashes: Arc<HashGate>,
    /// Throttles sign-in attempts per source address (the per-account lock is in the store).
    pub(crate) login_limiter: Arc<RequestLimiter>,
}

impl Accounts {
    /// Ends the session that made this request.
    pub(crate) async fn end_session(
        &self,
        op: &AuthedOperator,
        grant: SessionGrant,
    ) -> CoreResult<()> {
        let user = op.user_id.ok_or(CoreError::Unauthenticated)?;
        // Already ended (a second logout racing the first) is still a logout; only a session
        // this call ended gets a record.
        self.cx
            .audited(op, AuditAction::SessionLogout, &grant.id.to_string(), "")
            .revoke_session(&user, &grant.id, self.cx.now_ms())
            .await?;
        Ok(())
    }

    /// Creates the owner account: only on an installation without users. Enrolls TOTP and
    /// issues the recovery codes, returned once in clear.
    pub async fn create_owner(&self, new: NewOwner<'_>) -> CoreResult<OwnerEnrollment> {
        let username = canonical_username(new.username)?;
        let email = canonical_email(new.email)?;
        check_password(&new.password, &[new.username, &username, &email])?;
        if self.cx.store.user_count().await? > 0 {
            return Err(CoreError::Conflict(Conflict::UsersExist));
        }
        let (enrollment, digests) = self
            .prepare_user(
                new.username,
                username,
                email,
                new.password,
                Role::Owner,
                None,
            )
            .await?;
        // The store re-checks "no user yet" in the insert's own transaction, so two racing
        // create-owner calls cannot both win, and stores the codes in the same one, so an owner
        // never exists without the codes they are about to be shown.
        let e = self.cx.event(
            &Actor::new(ActorKind::System, "", "local"),
            AuditAction::UserCreateOwner,
            &enrollment.user.id.to_string(),
            AuditResult::Ok,
            &format!("username={}", enrollment.user.username),
        );
        self.cx
            .audited_event(e)
            .insert_first_user(&enrollment.user, &digests)
            .await?;
        Ok(enrollment)
    }

    /// Creates a user on behalf of an operator who may manage users, with a role at or below
    /// their own (`crate::role::may_grant`). Like the owner, the user gets a TOTP enrollment and
    /// recovery codes, returned once in clear.
    pub async fn create_user(
        &self,
        op: &AuthedOperator,
        new: NewUser<'_>,
    ) -> CoreResult<OwnerEnrollment> {
        self.cx
            .require(op, Permission::ManageUsers, AuditAction::UserCreate)
            .await?;
        self.cx.require_step_up(op, AuditAction::UserCreate).await?;
        if !may_grant(op.role, new.role) {
            let e = self.cx.event(
                &Actor::operator(op),
                AuditAction::UserCreate,
                "",
                AuditResult::Denied,
                &format!("role={} grants={}", op.role.as_str(), new.role.as_str()),
            );
            self.cx.journal(vec![e], Vec::new()).await?;
            return Err(CoreError::Forbidden);
        }
        let username = canonical_username(new.username)?;
        let email = canonical_email(new.email)?;
        check_password(&new.password, &[new.username, &username, &email])?;
        let projects = self.check_scope(new.role, new.projects.as_deref()).await?;
        let (enrollment, digests) = self
            .prepare_user(
                new.username,
                username,
                email,
                new.password,
                new.role,
                projects,
            )
            .await?;
        // One transaction: the account never exists without the codes its user is shown.
        self.cx
            .audited(
                op,
                AuditAction::UserCreate,
                &enrollment.user.id.to_string(),
                &format!(
                    "username={} role={} projects={}",
                    enrollment.user.username,
                    new.role.as_str(),
                    scope_detail(enrollment.user.projects.as_deref())
                ),
            )
            .insert_user_with_codes(&enrollment.user, &digests)
            .await?;
        Ok(enrollment)
    }

    /// Every user, without anything secret. Admins and owners only: it lists people's emails.
    pub async fn users(&self, op: &AuthedOperator) -> CoreResult<Vec<UserView>> {
        self.cx
            .require(op, Permission::ManageUsers, AuditAction::UserList)
            .await?;
        Ok(self
            .cx
            .store
            .users()
            .await?
            .into_iter()
            .map(UserView::from)
            .collect())
    }

    /// Parses a requested project scope: only developers and viewers take one, and every id
    /// must name an existing project. Sorted and without repeats.
    pub(crate) async fn check_scope(
        &self,
        role: Role,
        projects: Option<&[String]>,
    ) -> CoreResult<Option<Vec<ProjectId>>> {
        let Some(list) = projects else {
            return Ok(None);
        };
        if rank(role) >= rank(Role::Admin) {
            return Err(CoreError::bad(
                "projects apply only to developers and viewers",
            ));
        }
        if list.len() > MAX_SCOPED_PROJECTS {
            return Err(CoreError::bad(format!(
                "at most {MAX_SCOPED_PROJECTS} projects"
            )));
        }
        let mut ids = Vec::with_capacity(list.len());
        for p in list {
            let id = ProjectId::parse(p).map_err(|_| CoreError::bad("unknown project"))?;
            if self.cx.store.project(&id).await?.is_none() {
                return Err(CoreError::bad("unknown project"));
            }
            ids.push(id);
        }
        ids.sort();
        ids.dedup();
        Ok(Some(ids))
    }

    /// Hashes the password, makes and seals a TOTP seed and the recovery codes: everything a
    /// new account is, before it is stored. Returns the codes' digests for the store.
    pub(crate) async fn prepare_user(
        &self,
        typed_username: &str,
        username: String,
        email: String,
        password: Password,
        role: Role,
        projects: Option<Vec<ProjectId>>,
    ) -> CoreResult<(OwnerEnrollment, Vec<[u8; 32]>)> {
        let password_hash = hash_password(&self.hashes, password).await?;

        let id = UserId::generate();
        let mut seed = Zeroizing::new([0u8; TOTP_SEED_BYTES]);
        getrandom::fill(seed.as_mut()).map_err(|_| CoreError::Unavailable)?;
        let sealed = self
            .cx
            .root
            .unseal()
            .seal_totp_seed(self.cx.vault.as_str(), &id.to_string(), seed.as_ref())
            .map_err(|_| CoreError::Unavailable)?;
        let otpauth_uri = Zeroizing::new(totp(seed.as_ref(), &email)?.to_url().map_err(|e| {
            tracing::error!(error = %e, "cannot render the otpauth URI");
            CoreError::Unavailable
        })?);
        let ticket_expires_ms = self.cx.now_ms() + TOTP_TICKET_MS;
        let ticket = self.totp_ticket(&id, ticket_expires_ms)?;

        let user = UserRecord {
            id,
            username,
            email,
            display_name: truncate(typed_username.trim(), 255),
            password_hash,
            totp_sealed: Some(sealed),
            // Step 0 is 1970: every real code is later.
            totp_last_step: 0,
            totp_confirmed: false,
            role,
            projects,
            status: UserStatus::Active,
            failed_attempts: 0,
            locked_until_ms: None,
            created_ms: self.cx.now_ms(),
        };
        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        let mut digests = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            let code = new_recovery_code()?;
            digests.push(recovery_digest(&code));
            codes.push(code);
        }
        Ok((
            OwnerEnrollment {
                user,
                otpauth_uri,
                recovery_codes: codes,
                ticket,
                ticket_expires_ms,
            },
            digests,
        ))
    }

    /// An enrollment ticket for `user`'s new seed: the user id, then the sealed expiry.
    fn totp_ticket(&self, user: &UserId, expires_ms: i64) -> CoreResult<Zeroizing<String>> {
        let sealed = self
            .cx
            .root
            .unseal()
            .seal_totp_ticket(self.cx.vault.as_str(), &user.to_string(), expires_ms)
            .map_err(|_| CoreError::Unavailable)?;
        Ok(Zeroizing::new(format!(
            "{user}.{}",
            URL_SAFE_NO_PAD.encode(sealed)
        )))
    }

    /// The user a live enrollment ticket names, if it opens, has not expired, and that user
    /// is active with a pending seed. Anything else is nobody.
    async fn ticket_user(&self, ticket: &str) -> CoreResult<Option<UserRecord>> {
        let Some((user, sealed)) = ticket.trim().split_once('.') else {
            return Ok(None);
        };
        let (Ok(id), Ok(sealed)) = (UserId::parse(user), URL_SAFE_NO_PAD.decode(sealed)) else {
            return Ok(None);
        };
        let Ok(expires_ms) = self.cx.root.unseal().open_totp_ticket(
            self.cx.vault.as_str(),
            &id.to_string(),
            &sealed,
        ) else {
            return Ok(None);
        };
        if self.cx.now_ms() >= expires_ms {
            return Ok(None);
        }
        Ok(self.cx.store.user(&id).await?.filter(|u| {
            u.status == UserStatus::Active && u.totp_sealed.is_some() && !u.totp_confirmed
        }))
    }

    /// Confirms a new account's pending TOTP seed with a code from the authenticator, by the
    /// enrollment ticket the account was answered with. A ticket that does not open, has
    /// expired, or names no pending seed (confirmed already) is [`CoreError::Unauthenticated`];
    /// a wrong code [`CoreError::WrongFactor`] and a right one used already
    /// [`CoreError::CodeReused`] (the ticket's holder just made the account, so is told the
    /// difference), both counted towards the lockout and changing nothing else. Returns the
    /// confirmed user.
    pub async fn confirm_totp(
        &self,
        ticket: &str,
        code: Zeroizing<String>,
        source_ip: ClientAddr,
    ) -> CoreResult<UserRecord> {
        let now = self.cx.now_ms();
        if !self.login_limiter.allow(source_ip, now) {
            return Err(CoreError::RateLimited);
        }
        let Some(user) = self.ticket_user(ticket).await? else {
            self.cx
                .audit_auth_failure(
                    ActorKind::Anonymous,
                    "",
                    source_ip,
                    AuditAction::TotpConfirm,
                    DenialReason::BadCode,
                )
                .await;
            return Err(CoreError::Unauthenticated);
        };
        if user.locked_until_ms.is_some_and(|until| now < until) {
            return Err(CoreError::RateLimited);
        }
        let ip = source_ip.to_canonical().to_string();
        let check = self
            .second_factor_check(&user, &SecondFactor::Totp(code))
            .await?;
        if check != FactorCheck::Ok {
            self.cx
                .store
                .record_login_failure(&user.id, now, LOCKOUT_FAILURES, LOCKOUT_MS)
                .await?;
            let reused = check == FactorCheck::Reused;
            let reason = if reused {
                "code_reused"
            } else {
                DenialReason::BadSecondFactor.as_str()
            };
            let e = self.cx.event(
                &Actor::new(ActorKind::Anonymous, "", &ip),
                AuditAction::TotpConfirm,
                &user.id.to_string(),
                AuditResult::Denied,
                &format!("reason={reason}"),
            );
            self.cx.journal(vec![e], Vec::new()).await?;
            return Err(if reused {
                CoreError::CodeReused
            } else {
                CoreError::WrongFactor
            });
        }
        // The right code confirmed the seed already (`second_factor_check`); the ticket now
        // names no pending seed, so it cannot be used again.
        self.cx.store.reset_login_failures(&user.id).await?;
        self.cx
            .store
            .user(&user.id)
            .await?
            .ok_or(CoreError::Unauthenticated)
    }

    /// Marks `user`'s pending seed confirmed after a right code, with its audit record.
    async fn confirmed_by_code(&self, user: &UserRecord) -> CoreResult<()> {
        let e = self.cx.event(
            &Actor::new(ActorKind::Anonymous, "", ""),
            AuditAction::TotpConfirm,
            &user.id.to_string(),
            AuditResult::Ok,
            "",
        );
        self.cx.audited_event(e).confirm_totp(&user.id).await?;
        Ok(())
    }

    /// Checks a sign-in. Every failure is [`CoreError::Unauthenticated`]; a locked account or a
    /// source over its budget is [`CoreError::RateLimited`]. Each attempt lands in the login
    /// history and the audit log, without what was typed.
    pub async fn login(&self, attempt: LoginAttempt<'_>) -> CoreResult<UserRecord> {
        let now = self.cx.now_ms();
        let ip = attempt.source_ip;
        if !self.login_limiter.allow(ip, now) {
            self.record_refused_login(None, &attempt, DenialReason::SourceThrottled)
                .await?;
            return Err(CoreError::RateLimited);
        }
        // An uncanonicalisable login names nobody, and is treated exactly like an unknown one.
        let user = match canonical(attempt.login) {
            Ok(c) => self.cx.store.user_by_login(&c).await?,
            Err(_) => None,
        };
        if let Some(u) = &user
            && u.locked_until_ms.is_some_and(|until| now < until)
        {
            self.record_login(
                Some(u.id),
                &attempt,
                LoginResult::Throttled,
                Some(DenialReason::AccountLocked),
            )
            .await?;
            return Err(CoreError::RateLimited);
        }

        let phc = user
            .as_ref()
            .map_or_else(|| DUMMY_PHC.to_owned(), stored_or_dummy);
        // Known and unknown logins queue at the same gate, so a full queue says nothing about
        // which logins exist.
        let password_ok = match verify_password(&self.hashes, attempt.password.clone(), phc).await {
            Err(e @ CoreError::OverBudget { .. }) => {
                self.record_refused_login(
                    user.as_ref().map(|u| u.id),
                    &attempt,
                    DenialReason::HashQueueFull,
                )
                .await?;
                return Err(e);
            }
            r => r?,
        };

        let Some(user) = user else {
            self.record_login(
                None,
                &attempt,
                LoginResult::Failed,
                Some(DenialReason::UnknownLogin),
            )
            .await?;
            return Err(CoreError::Unauthenticated);
        };
        // The second factor is checked only behind a correct password, so a password guess
        // cannot burn the user's TOTP step or recovery codes.
        let reason = if !password_ok {
            Some(DenialReason::BadPassword)
        } else if user.status != UserStatus::Active {
            Some(DenialReason::UserSuspended)
        } else if !self.second_factor_ok(&user, &attempt.second_factor).await? {
            Some(DenialReason::BadSecondFactor)
        } else {
            None
        };
        if let Some(reason) = reason {
            self.cx
                .store
                .record_login_failure(&user.id, now, LOCKOUT_FAILURES, LOCKOUT_MS)
                .await?;
            self.record_login(Some(user.id), &attempt, LoginResult::Failed, Some(reason))
                .await?;
            return Err(CoreError::Unauthenticated);
        }
        // Only behind both factors, so the answer says nothing to whoever lacks them.
        if self.sso_required_for(&user).await? {
            self.record_login(
                Some(user.id),
                &attempt,
                LoginResult::Failed,
                Some(DenialReason::SsoRequired),
            )
            .await?;
            return Err(CoreError::SsoRequired);
        }
        self.cx.store.reset_login_failures(&user.id).await?;
        self.record_login(Some(user.id), &attempt, LoginResult::Ok, None)
            .await?;
        Ok(user)
    }

    /// Whether the vault requires SSO and `user` is not its break-glass owner: then password
    /// and passkey sign-in are refused with [`CoreError::SsoRequired`].
    pub(crate) async fn sso_required_for(&self, user: &UserRecord) -> CoreResult<bool> {
        Ok(self
            .cx
            .store
            .vault()
            .await?
            .is_some_and(|v| v.sso_required && v.break_glass_user != Some(user.id)))
    }

    pub(crate) async fn second_factor_ok(
        &self,
        user: &UserRecord,
        factor: &SecondFactor,
    ) -> CoreResult<bool> {
        Ok(self.second_factor_check(user, factor).await? == FactorCheck::Ok)
    }

    /// [`Self::second_factor_ok`], telling a wrong code from a right one used already: only a
    /// step-up inside a live session, whose person holds the account, is told the difference.
    pub(crate) async fn second_factor_check(
        &self,
        user: &UserRecord,
        factor: &SecondFactor,
    ) -> CoreResult<FactorCheck> {
        let ok = |b: bool| {
            if b {
                FactorCheck::Ok
            } else {
                FactorCheck::Wrong
            }
        };
        match factor {
            SecondFactor::Missing => Ok(FactorCheck::Wrong),
            SecondFactor::Recovery(code) => Ok(ok(self
                .cx
                .store
                .use_recovery_code(&user.id, &recovery_digest(code), self.cx.now_ms())
                .await?)),
            SecondFactor::Totp(code) => {
                let Some(sealed) = &user.totp_sealed else {
                    return Ok(FactorCheck::Wrong);
                };
                let seed = self
                    .cx
                    .root
                    .unseal()
                    .open_totp_seed(self.cx.vault.as_str(), &user.id.to_string(), sealed)
                    .map_err(|_| {
                        tracing::error!(user = %user.id, "a stored TOTP seed does not open");
                        CoreError::Unavailable
                    })?;
                let now_secs = u64::try_from(self.cx.now_ms() / 1000).unwrap_or(0);
                let Some(step) = totp(&seed, &user.email)?.check(code.trim(), now_secs) else {
                    return Ok(FactorCheck::Wrong);
                };
                // The library finds the step; only the store can say whether it was used.
                let step = i64::try_from(step).unwrap_or(i64::MAX);
                if !self.cx.store.accept_totp_step(&user.id, step).await? {
                    return Ok(FactorCheck::Reused);
                }
                if !user.totp_confirmed {
                    self.confirmed_by_code(user).await?;
                }
                Ok(FactorCheck::Ok)
            }
        }
    }

    pub(crate) async fn record_login(
        &self,
        user: Option<UserId>,
        attempt: &LoginAttempt<'_>,
        result: LoginResult,
        reason: Option<DenialReason>,
    ) -> CoreResult<()> {
        self.record_sign_in(
            user,
            attempt.source_ip,
            attempt.user_agent,
            None,
            result,
            reason,
        )
        .await
    }

    /// A sign-in refused before any password was checked (its source over budget, or the hash
    /// queue full): what a flood is made of. Its audit record goes through the per-source
    /// aggregation of authentication failures (`crate::failures`), so a flood from one source
    /// adds one record per interval rather than one per request; an attempt that names a real
    /// account still gets its row in that user's sign-in history.
    async fn record_refused_login(
        &self,
        user: Option<UserId>,
        attempt: &LoginAttempt<'_>,
        reason: DenialReason,
    ) -> CoreResult<()> {
        if let Some(id) = user {
            self.cx
                .store
                .append_login(&LoginRecord {
                    user_id: Some(id),
                    at_ms: self.cx.now_ms(),
                    ip: attempt.source_ip.to_canonical().to_string(),
                    user_agent: truncate(attempt.user_agent, 256),
                    result: LoginResult::Throttled,
                })
                .await?;
        }
        self.cx
            .audit_auth_failure(
                ActorKind::Anonymous,
                "",
                attempt.source_ip,
                AuditAction::UserLogin,
                reason,
            )
            .await;
        Ok(())
    }

    /// Appends a sign-in attempt to the user's history and the audit log, never with what was
    /// typed. `method` names a sign-in other than password + second factor (`passkey`).
    pub(crate) async fn record_sign_in(
        &self,
        user: Option<UserId>,
        source_ip: ClientAddr,
        user_agent: &str,
        method: Option<&str>,
        result: LoginResult,
        reason: Option<DenialReason>,
    ) -> CoreResult<()> {
        let ip = source_ip.to_canonical().to_string();
        self.cx
            .store
            .append_login(&LoginRecord {
                user_id: user,
                at_ms: self.cx.now_ms(),
                ip: ip.clone(),
                user_agent: truncate(user_agent, 256),
                result,
            })
            .await?;
        let mut detail: Vec<String> = method.map(|m| format!("method={m}")).into_iter().collect();
        let audit_result = match result {
            LoginResult::Ok => AuditResult::Ok,
            _ => {
                detail.push(format!(
                    "reason={}",
                    reason.map(DenialReason::as_str).unwrap_or_default()
                ));
                AuditResult::Denied
            }
        };
        let e = self.cx.event(
            &Actor::new(ActorKind::Anonymous, "", &ip),
            AuditAction::UserLogin,
            &user.map(|u| u.to_string()).unwrap_or_default(),
            audit_result,
            &detail.join(" "),
        );
        self.cx.journal(vec![e], Vec::new()).await
    }

    /// Signs a user in and registers `public_key` (standard base64) as an operator key of
    /// theirs that expires after [`CLI_KEY_TTL_MS`].
    pub async fn cli_login(
        &self,
        attempt: LoginAttempt<'_>,
        public_key: &str,
        name: Option<&str>,
    ) -> CoreResult<CliLogin> {
        // The key is checked first so that a malformed one is a 400 that spends no attempt.
        let public_key =
            PublicKey::from_base64(public_key).map_err(|e| CoreError::bad(e.to_string()))?;
        let name = truncate(name.unwrap_or("cli").trim(), 255);
        if name.is_empty() {
            return Err(CoreError::bad("name must not be empty"));
        }
        let ip = attempt.source_ip.to_canonical().to_string();
        let user = self.login(attempt).await?;
        let now = self.cx.now_ms();
        let ttl = self
            .cx
            .store
            .vault()
            .await?
            .map_or(CLI_KEY_TTL_MS, |v| v.cli_key_ttl_ms);
        let rec = OperatorRecord {
            id: OperatorId::generate(),
            name,
            public_key,
            owner: user.role == Role::Owner,
            disabled: false,
            created_ms: now,
            user_id: Some(user.id),
            expires_ms: Some(now + ttl),
        };
        let e = self.cx.event(
            &Actor::new(ActorKind::Anonymous, "", &ip),
            AuditAction::OperatorCliLogin,
            &rec.id.to_string(),
            AuditResult::Ok,
            &format!("user={}", user.id),
        );
        self.cx
            .audited_event(e)
            .insert_operator(&rec)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(Conflict::PublicKey) => {
                    CoreError::Conflict(Conflict::PublicKeyTaken)
                }
                e => e.into(),
            })?;
        self.cx.metrics.signed_in(crate::metrics::SignIn::Cli);
        Ok(CliLogin {
            operator_id: rec.id,
            vault_id: self.cx.vault.clone(),
            expires_at: now + ttl,
            api_url: self.cx.config.api_url.clone(),
        })
    }

    /// A user's sign-in attempts, newest first.
    pub async fn login_history(&self, user: &UserId, limit: u32) -> CoreResult<Vec<LoginRecord>> {
        Ok(self.cx.store.logins(user, limit.min(1000)).await?)
    }

    /// Ends what authenticated this request, the browser session or the signing key: its next
    /// request gets 401.
    pub async fn logout(&self, op: &AuthedOperator) -> CoreResult<()> {
        if let Some(grant) = op.session {
            return self.end_session(op, grant).await;
        }
        let e = self.cx.event(
            &Actor::new(
                ActorKind::Operator,
                &op.id.to_string(),
                &op.source_ip.to_canonical().to_string(),
            ),
            AuditAction::OperatorLogout,
            &op.id.to_string(),
            AuditResult::Ok,
            "",
        );
        self.cx.audited_event(e).disable_operator(&op.id).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn variants_share_one_canonical_form() {
        let a = canonical("Alice").unwrap();
        assert_eq!(canonical("ALICE").unwrap(), a);
        assert_eq!(canonical(" alice ").unwrap(), a);
        // Fullwidth letters fold under NFKC.
        assert_eq!(canonical("Ａｌｉｃｅ").unwrap(), a);
        assert!(canonical("al\u{7}ice").is_err());
        assert!(canonical("  ").is_err());
        assert!(canonical_username("a@b").is_err());
        assert!(canonical_email("nobody").is_err());
        assert_eq!(
            canonical_email("Bob@Example.COM").unwrap(),
            "bob@example.com"
        );
    }

    fn length_refused(p: &str) -> bool {
        matches!(
            check_password(&Password::new(p), &[]),
            Err(CoreError::BadRequest(_))
        )
    }

    #[test]
    fn password_length_is_checked_in_characters() {
        assert!(length_refused("short"));
        assert!(length_refused("ééééééééééé"));
        assert!(!length_refused("éééééééééééé"));
        assert!(length_refused(&"x".repeat(1025)));
    }

    #[test]
    fn common_passwords_are_refused_with_advice_and_strong_ones_accepted() {
        // The two the review signed up with (issue 9, finding 7).
        for weak in ["password1234", "123456789012"] {
            match check_password(&Password::new(weak), &[]) {
                Err(CoreError::WeakPassword(advice)) => {
                    assert!(!advice.is_empty());
                    assert!(!advice.contains(weak), "{advice}");
                }
                other => panic!("{weak}: {other:?}"),
            }
        }
        // A username or address is known to the attacker.
        let own = Password::new("alice.wonderland@example.com");
        assert!(check_password(&own, &[]).is_ok());
        assert!(matches!(
            check_password(&own, &["alice", "alice.wonderland@example.com"]),
            Err(CoreError::WeakPassword(_))
        ));
        assert!(check_password(&Password::new("maple tundra ferry quiet"), &[]).is_ok());
        // A long password is estimated from its head, quickly.
        let long = format!("maple tundra ferry quiet {}", "z".repeat(990));
        let start = std::time::Instant::now();
        assert!(check_password(&Password::new(long), &[]).is_ok());
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[tokio::test]
    async fn hashes_interoperate_with_the_library_s_own_verifier() {
        use argon2::PasswordVerifier;
        let gate = HashGate::new();
        let ours = hash_password(&gate, Password::new("maple tundra ferry quiet"))
            .await
            .unwrap();
        let library = argon2();
        assert!(
            library
                .unwrap()
                .verify_password(b"maple tundra ferry quiet", ours.as_str())
                .is_ok()
        );
        // And a library-made hash (another salt length, older parameters) verifies here.
        let params = Params::new(8 * 1024, 1, 1, None).unwrap();
        let old = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = b"sixteen byte slt";
        let mut out = [0u8; 32];
        old.hash_password_into(b"older password", salt, &mut out)
            .unwrap();
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(19),
            params: ParamsString::try_from(old.params()).unwrap(),
            salt: Some(Salt::new(salt).unwrap()),
            hash: Some(Output::new(&out).unwrap()),
        }
        .to_string();
        assert!(
            verify_password(&gate, Password::new("older password"), phc.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify_password(&gate, Password::new("older passwore"), phc)
                .await
                .unwrap()
        );
        assert!(
            !verify_password(&gate, Password::new("x"), "not a phc".into())
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_full_hash_queue_is_refused_with_retry_after() {
        let gate = Arc::new(HashGate::with_limits(1, 1));
        let (release, held) = std::sync::mpsc::channel::<()>();
        let held = Arc::new(Mutex::new(held));
        let started = Arc::new(tokio::sync::Notify::new());
        // The first job holds the one slot until released; the second waits in the queue.
        let mut waiting = Vec::new();
        for _ in 0..2 {
            let (gate, held, started) =
                (Arc::clone(&gate), Arc::clone(&held), Arc::clone(&started));
            waiting.push(tokio::spawn(async move {
                gate.run(move |memory| {
                    assert_eq!(memory.len(), ARGON2_M_COST_KIB as usize);
                    started.notify_one();
                    held.lock().unwrap().recv().unwrap();
                    Ok(())
                })
                .await
            }));
        }
        // On this single-threaded runtime both spawned calls ran (one hashing, one queued)
        // before the notification wakes this task.
        started.notified().await;
        assert_eq!(
            gate.run(|_| Ok(())).await.unwrap_err(),
            CoreError::OverBudget {
                retry_after_secs: HASH_RETRY_AFTER_SECS
            }
        );
        release.send(()).unwrap();
        release.send(()).unwrap();
        for w in waiting {
            w.await.unwrap().unwrap();
        }
        // Slots and memory are handed back: the gate admits again, with one block kept.
        gate.run(|_| Ok(())).await.unwrap();
        assert_eq!(gate.memory.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_dummy_hash_has_the_live_parameters() {
        let gate = HashGate::new();
        let parsed = argon2::PasswordHash::new(DUMMY_PHC).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        let params = Params::try_from(&parsed).unwrap();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST)
        );
        assert!(
            !verify_password(&gate, Password::new("anything at all"), DUMMY_PHC.into())
                .await
                .unwrap()
        );
        let fresh = hash_password(&gate, Password::new("maple tundra ferry quiet"))
            .await
            .unwrap();
        assert!(fresh.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify_password(&gate, Password::new("maple tundra ferry quiet"), fresh)
                .await
                .unwrap()
        );
    }

    #[test]
    fn recovery_codes_read_back_however_typed() {
        let code = new_recovery_code().unwrap();
        assert_eq!(code.len(), 11);
        assert_eq!(
            recovery_digest(&code),
            recovery_digest(&code.to_uppercase().replace('-', " "))
        );
    }
}
