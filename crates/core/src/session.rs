//! Browser sessions, step-up, the first-run setup code and the account page's data.
//!
//! # Rules (docs/threat-model.md repeats them)
//!
//! * A session is opened only by a full sign-in (password + second factor, or a passkey). Its
//!   cookie holds 256 random bits; the store keeps their SHA-256 only. Every sign-in makes a new
//!   session and ends the one the browser presented, so a planted cookie never becomes a
//!   signed-in one (session fixation).
//! * A session ends after [`SESSION_IDLE_MS`] without a request, after [`SESSION_ABSOLUTE_MS`]
//!   whatever the activity, at logout, when its user revokes it, and when its user stops being
//!   active. Each of these is checked at every request, in core.
//! * The CSRF token is derived from the cookie's secret (a one-way hash), so it needs no
//!   storage and dies with the session; it is compared in constant time.
//! * Approving machines, issuing tokens, managing users and changing the IP allowlist need a
//!   second factor given in this session within [`STEP_UP_WINDOW_MS`]. Signed CLI requests are
//!   not subject to it: their key never leaves the host that signed in with both factors, and
//!   expires with its sign-in.
//! * The setup code printed at first start carries 256 bits, lives [`SETUP_CODE_TTL_MS`], is
//!   compared in constant time and is spent by the owner's creation.

use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use signet_api::audit::{AuditAction, DenialReason};
use signet_proto::{OperatorId, SessionId};
use signet_store::{ActorKind, AuditResult, Conflict, SessionRecord, UserRecord, UserStatus};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::account::{
    Accounts, LoginAttempt, NewOwner, OwnerEnrollment, Password, SecondFactor, UserView,
};
use crate::address::ClientAddr;
use crate::context::Context;
use crate::journal::Actor;
use crate::passkey::Passkeys;
use crate::principal::{AuthedOperator, SessionGrant};
use crate::{CoreError, CoreResult};

/// A session ends this long after its last request: 30 minutes.
pub const SESSION_IDLE_MS: i64 = 30 * 60 * 1000;
/// A session ends this long after sign-in, whatever the activity: 12 hours.
pub const SESSION_ABSOLUTE_MS: i64 = 12 * 3600 * 1000;
pub use crate::permission::STEP_UP_WINDOW_MS;
/// The first-run setup code is valid this long: 1 hour.
pub const SETUP_CODE_TTL_MS: i64 = 3600 * 1000;
/// `last_seen` is written at most this often per session: idle expiry is coarse by this much,
/// and a busy dashboard does not cost a write per request.
const TOUCH_EVERY_MS: i64 = 60 * 1000;
/// Secret bytes in a cookie or setup code.
const SECRET_BYTES: usize = 32;
/// Domain separation for the CSRF token derived from a cookie's secret.
const CSRF_CONTEXT: &[u8] = b"signet csrf v1\0";

/// The secret a session cookie carries: 32 random bytes, base64url without padding. Zeroized on
/// drop, never printed.
pub struct SessionSecret(Zeroizing<String>);

impl SessionSecret {
    fn generate() -> CoreResult<Self> {
        Ok(Self(random_b64()?))
    }

    /// Parses a cookie value: exactly 43 base64url characters, nothing else.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = s.len() == 43
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(Zeroizing::new(s.to_owned())))
    }

    /// The cookie value.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }

    /// The CSRF token for this session: a one-way hash of the secret, so knowing it gives
    /// nothing towards the cookie.
    pub fn csrf_token(&self) -> String {
        let mut h = Sha256::new();
        h.update(CSRF_CONTEXT);
        h.update(self.0.as_bytes());
        URL_SAFE_NO_PAD.encode(h.finalize())
    }

    /// Whether `presented` is this session's CSRF token, in constant time.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        let expected = self.csrf_token();
        expected.len() == presented.len()
            && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret(***)")
    }
}

fn random_b64() -> CoreResult<Zeroizing<String>> {
    let mut raw = Zeroizing::new([0u8; SECRET_BYTES]);
    getrandom::fill(raw.as_mut()).map_err(|_| CoreError::Unavailable)?;
    Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(raw.as_ref())))
}

/// A session just opened: the cookie value goes to the browser once.
#[derive(Debug)]
pub struct OpenedSession {
    /// The cookie's value.
    pub secret: SessionSecret,
    /// What `GET /v1/auth/session` would answer.
    pub view: SessionView,
}

/// The current session, as the dashboard sees it.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// Send it as `X-CSRF-Token` with every state-changing request.
    pub csrf_token: String,
    /// The signed-in user.
    pub user: UserView,
    /// The session's id.
    pub session_id: SessionId,
    /// The absolute end, Unix ms.
    pub expires_at: i64,
    /// Idle timeout, ms.
    pub idle_timeout_ms: i64,
    /// Until when sensitive actions need no new second factor, Unix ms; `null` if never.
    pub step_up_until: Option<i64>,
    /// What the user's role allows (`crate::role::Permission` names), from the same table that
    /// checks every request, so the dashboard hides what would be refused without a copy of it.
    pub permissions: Vec<&'static str>,
    /// Whether the user is limited to some projects (`crate::role::Scope`): such a user is also
    /// refused the token list and the audit log.
    pub scoped: bool,
}

/// One of the user's live sessions, for the account page.
#[derive(Debug, Clone)]
pub struct SessionListing {
    /// The session's id.
    pub id: SessionId,
    /// Sign-in time.
    pub created_at: i64,
    /// Last request (to the minute).
    pub last_seen_at: i64,
    /// The absolute end.
    pub expires_at: i64,
    /// Where it signed in from.
    pub ip: String,
    /// The browser's `User-Agent` at sign-in.
    pub user_agent: String,
    /// Whether it is the session asking.
    pub current: bool,
}

/// A CLI key the user made with `signet login`.
#[derive(Debug, Clone)]
pub struct CliKeyListing {
    /// The key's operator id.
    pub operator_id: OperatorId,
    /// Its label (`signet login --name`).
    pub name: String,
    /// When it was made.
    pub created_at: i64,
    /// When it stops authenticating.
    pub expires_at: Option<i64>,
}

/// One sign-in attempt, for the account page.
#[derive(Debug, Clone)]
pub struct LoginListing {
    /// When.
    pub at: i64,
    /// From where.
    pub ip: String,
    /// The client's `User-Agent`.
    pub user_agent: String,
    /// `ok`, `failed` or `throttled`.
    pub result: &'static str,
}

/// The signed-in user's own security settings and activity.
#[derive(Debug, Clone)]
pub struct AccountView {
    /// The user.
    pub user: UserView,
    /// Whether an authenticator is enrolled.
    pub totp_enabled: bool,
    /// Whether that authenticator still waits for its first right code.
    pub totp_pending: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
    /// Registered passkeys, oldest first.
    pub passkeys: Vec<crate::passkey::PasskeyView>,
    /// Live browser sessions.
    pub sessions: Vec<SessionListing>,
    /// Live CLI keys.
    pub cli_keys: Vec<CliKeyListing>,
    /// The last 50 sign-in attempts naming this account.
    pub logins: Vec<LoginListing>,
}

/// The live setup code's digest and end.
pub(crate) struct SetupCode {
    digest: [u8; 32],
    expires_ms: i64,
}

/// The first-run setup code slot. One per process: with several replicas, each prints its own.
#[derive(Default)]
pub(crate) struct SetupSlot(Mutex<Option<SetupCode>>);

/// Browser sessions: first-run setup, sign-in, step-up, and the account page.
#[derive(Clone)]
pub struct Sessions {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
    /// Passwords, second factors and sign-in records.
    pub(crate) accounts: Accounts,
    /// The account page lists the user's passkeys.
    pub(crate) passkeys: Passkeys,
    /// The first-run setup code, while no user exists.
    pub(crate) setup: Arc<SetupSlot>,
}

impl Sessions {
    /// Issues the one-time setup code if no user exists yet (printed by `signet server`);
    /// `None` otherwise. A new code replaces any earlier one.
    pub async fn issue_setup_code(&self) -> CoreResult<Option<Zeroizing<String>>> {
        if self.cx.store.user_count().await? > 0 {
            return Ok(None);
        }
        let code = random_b64()?;
        let slot = SetupCode {
            digest: Sha256::digest(code.as_bytes()).into(),
            expires_ms: self.cx.now_ms() + SETUP_CODE_TTL_MS,
        };
        *self.setup.0.lock().map_err(|_| CoreError::Unavailable)? = Some(slot);
        Ok(Some(code))
    }

    /// Whether first-run setup is still possible: no user exists yet.
    pub async fn setup_open(&self) -> CoreResult<bool> {
        Ok(self.cx.store.user_count().await? == 0)
    }

    /// Whether `setup_owner` would accept `code` now (the live code, unexpired, and no user
    /// yet), spending nothing: the setup page asks before showing its form. Budgeted per source
    /// like a sign-in, on top of the code's 256 bits; a wrong guess is not audited (a check
    /// changes nothing, and a flood must not fill the log).
    pub async fn setup_code_live(&self, code: &str, source_ip: ClientAddr) -> CoreResult<bool> {
        if !self
            .accounts
            .login_limiter
            .allow(source_ip, self.cx.now_ms())
        {
            return Err(CoreError::RateLimited);
        }
        let presented: [u8; 32] = Sha256::digest(code.trim().as_bytes()).into();
        let live = {
            let slot = self.setup.0.lock().map_err(|_| CoreError::Unavailable)?;
            slot.as_ref().is_some_and(|s| {
                self.cx.now_ms() < s.expires_ms && bool::from(s.digest.ct_eq(&presented))
            })
        };
        Ok(live && self.setup_open().await?)
    }

    /// Creates the first owner with the setup code. A wrong, expired or spent code, or an
    /// installation that already has a user, is [`CoreError::SetupClosed`].
    pub async fn setup_owner(
        &self,
        code: &str,
        source_ip: ClientAddr,
        new: NewOwner<'_>,
    ) -> CoreResult<OwnerEnrollment> {
        // The per-source sign-in budget also bounds guesses here (on top of 256 bits).
        if !self
            .accounts
            .login_limiter
            .allow(source_ip, self.cx.now_ms())
        {
            return Err(CoreError::RateLimited);
        }
        let presented: [u8; 32] = Sha256::digest(code.trim().as_bytes()).into();
        let live = {
            let slot = self.setup.0.lock().map_err(|_| CoreError::Unavailable)?;
            slot.as_ref().is_some_and(|s| {
                self.cx.now_ms() < s.expires_ms && bool::from(s.digest.ct_eq(&presented))
            })
        };
        if !live {
            self.audit_setup(
                source_ip,
                AuditResult::Denied,
                &format!("reason={}", DenialReason::BadCode),
            )
            .await?;
            return Err(CoreError::SetupClosed);
        }
        let enrollment = match self.accounts.create_owner(new).await {
            Err(CoreError::Conflict(Conflict::UsersExist)) => return Err(CoreError::SetupClosed),
            r => r?,
        };
        *self.setup.0.lock().map_err(|_| CoreError::Unavailable)? = None;
        self.audit_setup(
            source_ip,
            AuditResult::Ok,
            &format!("user={}", enrollment.user.id),
        )
        .await?;
        Ok(enrollment)
    }

    async fn audit_setup(
        &self,
        ip: ClientAddr,
        result: AuditResult,
        detail: &str,
    ) -> CoreResult<()> {
        let e = self.cx.event(
            &Actor::new(ActorKind::Anonymous, "", &ip.to_canonical().to_string()),
            AuditAction::SetupOwner,
            "",
            result,
            detail,
        );
        self.cx.journal(vec![e], Vec::new()).await
    }

    /// Signs in with a password and second factor and opens a browser session. `previous` is
    /// the cookie the browser sent, if any: it is ended, so the session id is always new.
    pub async fn session_login(
        &self,
        attempt: LoginAttempt<'_>,
        previous: Option<&SessionSecret>,
    ) -> CoreResult<OpenedSession> {
        let (ip, ua) = (attempt.source_ip, attempt.user_agent.to_owned());
        let user = self.accounts.login(attempt).await?;
        self.open_session(&user, ip, &ua, previous).await
    }

    /// Confirms a new account's pending TOTP seed by its enrollment ticket and a code
    /// ([`Accounts::confirm_totp`]), then opens a browser session: the ticket's holder made the
    /// account moments ago with its password, and has now shown the code, so the session counts
    /// as a step-up like any sign-in with both factors. `None` (confirmed, no session) when the
    /// vault requires SSO for this person: they sign in through the provider.
    pub async fn confirm_enrollment(
        &self,
        ticket: &str,
        code: Zeroizing<String>,
        source_ip: ClientAddr,
        user_agent: &str,
        previous: Option<&SessionSecret>,
    ) -> CoreResult<Option<OpenedSession>> {
        let user = self.accounts.confirm_totp(ticket, code, source_ip).await?;
        if self.accounts.sso_required_for(&user).await? {
            return Ok(None);
        }
        self.open_session(&user, source_ip, user_agent, previous)
            .await
            .map(Some)
    }

    /// Opens a browser session for a user who has just proved both factors (a password and a
    /// code, or a passkey). The sign-in counts as a step-up.
    pub async fn open_session(
        &self,
        user: &UserRecord,
        source_ip: ClientAddr,
        user_agent: &str,
        previous: Option<&SessionSecret>,
    ) -> CoreResult<OpenedSession> {
        let now = self.cx.now_ms();
        self.open_session_with(user, source_ip, user_agent, previous, Some(now))
            .await
    }

    /// [`Sessions::open_session`] with the step-up given: an SSO sign-in counts as one only
    /// when the provider asserted a second factor the vault trusts (`crate::sso`).
    pub(crate) async fn open_session_with(
        &self,
        user: &UserRecord,
        source_ip: ClientAddr,
        user_agent: &str,
        previous: Option<&SessionSecret>,
        step_up_ms: Option<i64>,
    ) -> CoreResult<OpenedSession> {
        if user.status != UserStatus::Active {
            return Err(CoreError::Unauthenticated);
        }
        let now = self.cx.now_ms();
        if let Some(prev) = previous
            && let Some(old) = self.cx.store.session_by_token(&prev.digest()).await?
            && old.revoked_ms.is_none()
        {
            self.cx
                .store
                .revoke_session(&old.user_id, &old.id, now)
                .await?;
        }
        let secret = SessionSecret::generate()?;
        let ip = source_ip.to_canonical().to_string();
        let rec = SessionRecord {
            id: SessionId::generate(),
            token_hash: secret.digest(),
            user_id: user.id,
            operator_id: OperatorId::generate(),
            created_ms: now,
            last_seen_ms: now,
            expires_ms: now + SESSION_ABSOLUTE_MS,
            step_up_ms,
            ip: ip.clone(),
            user_agent: user_agent
                .chars()
                .filter(|c| !c.is_control())
                .take(256)
                .collect(),
            revoked_ms: None,
        };
        let e = self.cx.event(
            &Actor::new(ActorKind::Operator, &rec.operator_id.to_string(), &ip),
            AuditAction::SessionOpen,
            &rec.id.to_string(),
            AuditResult::Ok,
            &format!("user={}", user.id),
        );
        self.cx.audited_event(e).insert_session(&rec).await?;
        self.cx.metrics.signed_in(crate::metrics::SignIn::Browser);
        let view = self.view_of(&secret, &rec, user.clone());
        Ok(OpenedSession { secret, view })
    }

    fn view_of(
        &self,
        secret: &SessionSecret,
        rec: &SessionRecord,
        user: UserRecord,
    ) -> SessionView {
        let permissions = crate::role::Permission::ALL
            .into_iter()
            .filter(|p| crate::role::allows(user.role, *p))
            .map(crate::role::Permission::as_str)
            .collect();
        let scoped = crate::role::Scope::of(user.role, user.projects.as_deref()).is_limited();
        SessionView {
            csrf_token: secret.csrf_token(),
            permissions,
            scoped,
            user: user.into(),
            session_id: rec.id,
            expires_at: rec.expires_ms,
            idle_timeout_ms: SESSION_IDLE_MS,
            step_up_until: rec.step_up_ms.map(|t| t + STEP_UP_WINDOW_MS),
        }
    }

    /// Authenticates a request by its session cookie. Unknown, ended, idle and expired sessions
    /// and inactive users are all the same [`CoreError::Unauthenticated`].
    pub async fn authenticate_session(
        &self,
        secret: &SessionSecret,
        source_ip: ClientAddr,
    ) -> CoreResult<AuthedOperator> {
        let now = self.cx.now_ms();
        let found = self.live_session(secret, now).await;
        let (rec, user) = match found {
            Ok(pair) => pair,
            Err(Refusal::Store) => return Err(CoreError::Unavailable),
            Err(Refusal::Denied(reason)) => {
                self.cx
                    .audit_auth_failure(
                        ActorKind::Operator,
                        "",
                        source_ip,
                        AuditAction::SessionFailure,
                        reason,
                    )
                    .await;
                return Err(CoreError::Unauthenticated);
            }
        };
        if now - rec.last_seen_ms >= TOUCH_EVERY_MS
            && !self.cx.store.touch_session(&rec.id, now).await?
        {
            // Revoked between the read and now: the revocation wins.
            return Err(CoreError::Unauthenticated);
        }
        Ok(AuthedOperator {
            id: rec.operator_id,
            name: "browser".to_owned(),
            owner: false,
            user_id: Some(user.id),
            session: Some(SessionGrant {
                id: rec.id,
                step_up_ms: rec.step_up_ms,
            }),
            role: user.role,
            scope: crate::role::Scope::of(user.role, user.projects.as_deref()),
            source_ip,
            ai_agent: None,
        })
    }

    async fn live_session(
        &self,
        secret: &SessionSecret,
        now: i64,
    ) -> Result<(SessionRecord, UserRecord), Refusal> {
        let rec = match self.cx.store.session_by_token(&secret.digest()).await {
            Ok(Some(r)) => r,
            Ok(None) => return Err(Refusal::Denied(DenialReason::UnknownSession)),
            Err(_) => return Err(Refusal::Store),
        };
        if rec.revoked_ms.is_some() {
            return Err(Refusal::Denied(DenialReason::SessionEnded));
        }
        if now >= rec.expires_ms {
            return Err(Refusal::Denied(DenialReason::SessionExpired));
        }
        if now - rec.last_seen_ms >= SESSION_IDLE_MS {
            // End it for good, so a clock step backwards cannot revive it.
            let _ = self
                .cx
                .store
                .revoke_session(&rec.user_id, &rec.id, now)
                .await;
            return Err(Refusal::Denied(DenialReason::SessionIdle));
        }
        let user = match self.cx.store.user(&rec.user_id).await {
            Ok(Some(u)) if u.status == UserStatus::Active => u,
            Ok(_) => return Err(Refusal::Denied(DenialReason::UserInactive)),
            Err(_) => return Err(Refusal::Store),
        };
        Ok((rec, user))
    }

    /// The session asking, as `GET /v1/auth/session` answers it.
    pub async fn session_view(
        &self,
        secret: &SessionSecret,
        op: &AuthedOperator,
    ) -> CoreResult<SessionView> {
        let (rec, user) =
            self.live_session(secret, self.cx.now_ms())
                .await
                .map_err(|r| match r {
                    Refusal::Store => CoreError::Unavailable,
                    Refusal::Denied(_) => CoreError::Unauthenticated,
                })?;
        if Some(rec.id) != op.session.map(|s| s.id) {
            return Err(CoreError::Unauthenticated);
        }
        Ok(self.view_of(secret, &rec, user))
    }

    /// Step-up with a TOTP code in the current browser session. A wrong or reused code is
    /// [`CoreError::Unauthenticated`] and counts towards the account's lockout, like a sign-in.
    pub async fn step_up_totp(
        &self,
        op: &AuthedOperator,
        code: Zeroizing<String>,
        user_agent: &str,
    ) -> CoreResult<i64> {
        let grant = op
            .session
            .ok_or_else(|| CoreError::bad("step-up is for browser sessions"))?;
        let user = self.own_unlocked_account(op).await?;
        let attempt = LoginAttempt {
            login: &user.username,
            password: Password::new(""),
            second_factor: SecondFactor::Totp(code),
            source_ip: op.source_ip,
            user_agent,
        };
        let check = self
            .accounts
            .second_factor_check(&user, &attempt.second_factor)
            .await?;
        if check != crate::account::FactorCheck::Ok {
            self.count_failure(&user).await?;
            // A failed step-up is a step-up that failed, by the session's operator: not an
            // anonymous failed sign-in (issue 16, bug 13).
            let reused = check == crate::account::FactorCheck::Reused;
            let e = self.cx.event(
                &crate::journal::Actor::operator(op),
                AuditAction::SessionStepUp,
                &grant.id.to_string(),
                signet_store::AuditResult::Denied,
                &format!(
                    "factor=totp reason={}",
                    if reused {
                        "code_reused"
                    } else {
                        DenialReason::BadStepUp.as_str()
                    }
                ),
            );
            self.cx.journal(vec![e], Vec::new()).await?;
            return Err(if reused {
                CoreError::CodeReused
            } else {
                CoreError::WrongFactor
            });
        }
        self.mark_step_up(op, grant, "totp").await
    }

    /// Records a second factor just verified (a TOTP code, or a passkey by the passkey module)
    /// in the current session; returns until when it counts.
    pub async fn mark_step_up(
        &self,
        op: &AuthedOperator,
        grant: SessionGrant,
        factor: &str,
    ) -> CoreResult<i64> {
        let now = self.cx.now_ms();
        let marked = self
            .cx
            .audited(
                op,
                AuditAction::SessionStepUp,
                &grant.id.to_string(),
                &format!("factor={factor}"),
            )
            .set_session_step_up(&grant.id, now)
            .await?;
        if !marked {
            return Err(CoreError::Unauthenticated);
        }
        Ok(now + STEP_UP_WINDOW_MS)
    }

    /// The caller's own account, refused while it is locked: a re-check of a factor inside a
    /// session (step-up, password change) is throttled like a sign-in.
    async fn own_unlocked_account(&self, op: &AuthedOperator) -> CoreResult<UserRecord> {
        let user_id = op
            .user_id
            .ok_or_else(|| CoreError::bad("this key belongs to no user account"))?;
        let user = self
            .cx
            .store
            .user(&user_id)
            .await?
            .ok_or(CoreError::Unauthenticated)?;
        if user
            .locked_until_ms
            .is_some_and(|until| self.cx.now_ms() < until)
        {
            return Err(CoreError::RateLimited);
        }
        Ok(user)
    }

    /// Counts a wrong factor given inside a session towards the account's lockout.
    async fn count_failure(&self, user: &UserRecord) -> CoreResult<()> {
        self.cx
            .store
            .record_login_failure(
                &user.id,
                self.cx.now_ms(),
                crate::account::LOCKOUT_FAILURES,
                crate::account::LOCKOUT_MS,
            )
            .await?;
        Ok(())
    }

    /// The signed-in user's security page: sessions, CLI keys, sign-in history.
    pub async fn account_view(&self, op: &AuthedOperator) -> CoreResult<AccountView> {
        let user_id = op
            .user_id
            .ok_or_else(|| CoreError::bad("this key belongs to no user account"))?;
        let user = self
            .cx
            .store
            .user(&user_id)
            .await?
            .ok_or(CoreError::Unauthenticated)?;
        let now = self.cx.now_ms();
        let current = op.session.map(|s| s.id);
        let sessions = self
            .cx
            .store
            .live_sessions(&user_id, now)
            .await?
            .into_iter()
            .filter(|s| now - s.last_seen_ms < SESSION_IDLE_MS)
            .map(|s| SessionListing {
                current: Some(s.id) == current,
                id: s.id,
                created_at: s.created_ms,
                last_seen_at: s.last_seen_ms,
                expires_at: s.expires_ms,
                ip: s.ip,
                user_agent: s.user_agent,
            })
            .collect();
        let cli_keys = self
            .cx
            .store
            .user_operators(&user_id, now)
            .await?
            .into_iter()
            .map(|k| CliKeyListing {
                operator_id: k.id,
                name: k.name,
                created_at: k.created_ms,
                expires_at: k.expires_ms,
            })
            .collect();
        let logins = self
            .cx
            .store
            .logins(&user_id, 50)
            .await?
            .into_iter()
            .map(|l| LoginListing {
                at: l.at_ms,
                ip: l.ip,
                user_agent: l.user_agent,
                result: l.result.as_str(),
            })
            .collect();
        Ok(AccountView {
            totp_enabled: user.totp_sealed.is_some(),
            totp_pending: user.totp_sealed.is_some() && !user.totp_confirmed,
            recovery_codes_left: self.cx.store.unused_recovery_codes(&user_id).await?,
            passkeys: self.passkeys.passkeys_of(&user_id).await?,
            user: user.into(),
            sessions,
            cli_keys,
            logins,
        })
    }

    /// Ends one of the caller's own sessions. Another user's session is [`CoreError::NotFound`].
    pub async fn revoke_own_session(&self, op: &AuthedOperator, id: &str) -> CoreResult<()> {
        let user = op.user_id.ok_or(CoreError::NotFound)?;
        let id = SessionId::parse(id).map_err(|_| CoreError::NotFound)?;
        let revoked = self
            .cx
            .audited(op, AuditAction::SessionRevoke, &id.to_string(), "")
            .revoke_session(&user, &id, self.cx.now_ms())
            .await?;
        if !revoked {
            return Err(CoreError::NotFound);
        }
        Ok(())
    }

    /// Disables one of the caller's own CLI keys. Another user's key is [`CoreError::NotFound`].
    pub async fn revoke_own_cli_key(&self, op: &AuthedOperator, id: &str) -> CoreResult<()> {
        let user = op.user_id.ok_or(CoreError::NotFound)?;
        let id = OperatorId::parse(id).map_err(|_| CoreError::NotFound)?;
        let mine = self
            .cx
            .store
            .user_operators(&user, self.cx.now_ms())
            .await?
            .iter()
            .any(|k| k.id == id);
        if !mine {
            return Err(CoreError::NotFound);
        }
        self.cx
            .audited(op, AuditAction::OperatorRevoke, &id.to_string(), "")
            .disable_operator(&id)
            .await?;
        Ok(())
    }

    /// Changes the caller's password after checking the current one, and ends their other
    /// sessions. A wrong current password is [`CoreError::Unauthenticated`] and counts towards
    /// the lockout.
    pub async fn change_password(
        &self,
        op: &AuthedOperator,
        current: Password,
        new: Password,
    ) -> CoreResult<()> {
        let user_id = op
            .user_id
            .ok_or_else(|| CoreError::bad("this key belongs to no user account"))?;
        let user = self.own_unlocked_account(op).await?;
        crate::account::check_password(&new, &[&user.username, &user.email])?;
        if !crate::account::verify_password(
            &self.accounts.hashes,
            current,
            crate::account::stored_or_dummy(&user),
        )
        .await?
        {
            self.count_failure(&user).await?;
            // The session is valid: a 401 would sign the person out (issue 16, bug 1).
            let e = self.cx.event(
                &crate::journal::Actor::operator(op),
                AuditAction::UserPasswordChange,
                &user_id.to_string(),
                signet_store::AuditResult::Denied,
                "reason=bad_password",
            );
            self.cx.journal(vec![e], Vec::new()).await?;
            return Err(CoreError::WrongFactor);
        }
        let now = self.cx.now_ms();
        let phc = crate::account::hash_password(&self.accounts.hashes, new).await?;
        // The record commits with the new hash, which is the change; ending the other sessions
        // afterwards is a consequence that a retry completes.
        self.cx
            .audited(
                op,
                AuditAction::UserPasswordChange,
                &user_id.to_string(),
                "",
            )
            .set_password_hash(&user_id, &phc)
            .await?;
        let keep = op.session.map(|s| s.id);
        for s in self.cx.store.live_sessions(&user_id, now).await? {
            if Some(s.id) != keep {
                self.cx.store.revoke_session(&user_id, &s.id, now).await?;
            }
        }
        Ok(())
    }

    /// The user behind an operator, for routes that show it.
    pub async fn user_of(&self, op: &AuthedOperator) -> CoreResult<Option<UserView>> {
        match op.user_id {
            None => Ok(None),
            Some(id) => Ok(self.cx.store.user(&id).await?.map(UserView::from)),
        }
    }
}

/// Why a session did not authenticate.
enum Refusal {
    /// The store is down: fail closed with 503.
    Store,
    /// Not a live session; the reason goes to the audit log only.
    Denied(DenialReason),
}
