//! Passkeys (WebAuthn) for human accounts: registering them, signing in with one without typing a
//! username, and proving presence again inside a session (step-up).
//!
//! # Rules (docs/threat-model.md repeats them)
//!
//! * The relying party is the server's public URL (`api_url`): its host is the RP ID and its
//!   origin the only origin accepted. It must name a domain, served over HTTPS (or plain HTTP on
//!   `localhost`, which browsers treat as a secure context). Otherwise every passkey call is
//!   [`CoreError::PasskeysUnavailable`]: an IP address cannot be an RP ID.
//! * Every ceremony's state (the challenge) is stored server-side, bound to its kind and, except
//!   for a usernameless sign-in, to its user, and removed when it is finished or after
//!   [`CEREMONY_TTL_MS`]. A challenge is answered at most once, by any replica.
//! * Passkeys require user verification, so one is a complete sign-in on its own and counts as a
//!   step-up.
//! * A sign-in names nobody up front, so starting one reveals nothing about accounts; every
//!   failure at the end is the same [`CoreError::Unauthenticated`] and lands in the login history
//!   and the audit log with its real reason.
//! * A failed passkey sign-in does not count toward the password lockout, and the lock does not
//!   stop a valid passkey: an assertion cannot be guessed, and a credential id is not a secret,
//!   so counting failures would only let anyone who saw an id lock its owner out.
//! * The signature counter only moves forward, checked and stored in one statement, so a cloned
//!   authenticator or a replayed assertion loses even when it races the real one.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use signet_api::audit::{AuditAction, DenialReason};
use signet_proto::{CeremonyId, PasskeyId, UserId};
use signet_store::{
    ActorKind, AuditResult, CeremonyKind, CeremonyRecord, Conflict, LoginResult, PasskeyRecord,
    StoreError, UserRecord, UserStatus,
};
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn,
    WebauthnBuilder, WebauthnError,
};

use crate::account::Accounts;
use crate::address::ClientAddr;
use crate::context::Context;
use crate::journal::Actor;
use crate::principal::AuthedOperator;
use crate::{CoreError, CoreResult};

/// Passkeys one user may register.
pub const MAX_PASSKEYS_PER_USER: u32 = 10;
/// Longest passkey name, in characters.
pub const PASSKEY_NAME_MAX_CHARS: usize = 64;
/// How long a browser has to answer a challenge: the WebAuthn recommended timeout, 5 minutes.
pub const CEREMONY_TTL_MS: i64 = 5 * 60 * 1000;
/// How long after an SSO sign-in a user without any second factor may add their first one
/// without a step-up: 10 minutes. Otherwise a user made by SSO could never step up unless the
/// vault trusts the provider's MFA.
pub const FIRST_FACTOR_GRACE_MS: i64 = 10 * 60 * 1000;
/// Shown by authenticators next to the account.
const RP_NAME: &str = "Signet";

/// The WebAuthn relying party this server is, or why it cannot be one.
pub(crate) struct RelyingParty(Result<Webauthn, String>);

impl RelyingParty {
    /// Builds the relying party from the public base URL, logging why passkeys are off if they
    /// must be.
    pub(crate) fn from_api_url(api_url: &str) -> Self {
        let rp = relying_party(api_url);
        match &rp {
            Ok(_) => tracing::debug!(api_url, "passkeys available"),
            Err(why) => tracing::info!(api_url, reason = %why, "passkeys unavailable"),
        }
        Self(rp)
    }

    fn get(&self) -> CoreResult<&Webauthn> {
        self.0.as_ref().map_err(|_| CoreError::PasskeysUnavailable)
    }
}

fn relying_party(api_url: &str) -> Result<Webauthn, String> {
    let url = Url::parse(api_url).map_err(|e| format!("api_url is not a URL: {e}"))?;
    let Some(host) = url.domain() else {
        return Err("api_url must name a domain, not an IP address".to_owned());
    };
    let localhost = host == "localhost" || host.ends_with(".localhost");
    match url.scheme() {
        "https" => {}
        "http" if localhost => {}
        _ => return Err("api_url must be https (or http on localhost)".to_owned()),
    }
    // The origin is scheme, host and port only: what a browser puts in `clientDataJSON`.
    let origin = Url::parse(&url.origin().ascii_serialization())
        .map_err(|e| format!("api_url has no origin: {e}"))?;
    let timeout = Duration::from_millis(CEREMONY_TTL_MS.unsigned_abs());
    WebauthnBuilder::new(host, &origin)
        .and_then(|b| b.rp_name(RP_NAME).timeout(timeout).build())
        .map_err(|e| format!("webauthn rejects the relying party: {e}"))
}

/// A passkey as its owner sees it: no key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyView {
    /// The passkey's id.
    pub id: PasskeyId,
    /// What the user calls it.
    pub name: String,
    /// Registration time, Unix ms.
    pub created_at: i64,
    /// Last sign-in or step-up with it, Unix ms.
    pub last_used_at: Option<i64>,
}

impl From<PasskeyRecord> for PasskeyView {
    fn from(p: PasskeyRecord) -> Self {
        Self {
            id: p.id,
            name: p.name,
            created_at: p.created_ms,
            last_used_at: p.last_used_ms,
        }
    }
}

/// What a browser needs to run a ceremony: the id to send back, and the options for
/// `navigator.credentials.create/get` (`PublicKeyCredential{Creation,Request}OptionsJSON`).
#[derive(Clone)]
pub struct PasskeyChallenge {
    /// Sent back with the answer.
    pub challenge_id: CeremonyId,
    /// The options, JSON as the browser's `parse…OptionsFromJSON` reads it.
    pub public_key: Value,
}

impl fmt::Debug for PasskeyChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasskeyChallenge")
            .field("challenge_id", &self.challenge_id)
            .finish_non_exhaustive()
    }
}

/// A browser's answer to a ceremony.
#[derive(Clone, Copy)]
pub struct PasskeyAnswer<'a> {
    /// The `challengeId` it was given.
    pub challenge_id: &'a str,
    /// `PublicKeyCredential.toJSON()`.
    pub credential: &'a Value,
    /// Where the request came from.
    pub source_ip: ClientAddr,
    /// The client's `User-Agent`.
    pub user_agent: &'a str,
}

impl fmt::Debug for PasskeyAnswer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasskeyAnswer")
            .field("challenge_id", &self.challenge_id)
            .field("source_ip", &self.source_ip)
            .finish_non_exhaustive()
    }
}

/// A registration's stored state: the name chosen at the start travels with the challenge.
#[derive(Serialize, Deserialize)]
struct Registration {
    name: String,
    state: PasskeyRegistration,
}

fn check_name(name: &str) -> CoreResult<String> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > PASSKEY_NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(CoreError::bad(format!(
            "name must be 1-{PASSKEY_NAME_MAX_CHARS} characters, without control characters"
        )));
    }
    Ok(name.to_owned())
}

fn parse_challenge(s: &str) -> CoreResult<CeremonyId> {
    CeremonyId::parse(s).map_err(|_| CoreError::bad("challengeId is malformed"))
}

fn parse_credential<T: serde::de::DeserializeOwned>(v: &Value) -> CoreResult<T> {
    // serde's message could quote attacker-chosen bytes; the caller only needs to know it failed.
    serde_json::from_value(v.clone())
        .map_err(|_| CoreError::bad("credential is not a WebAuthn PublicKeyCredential"))
}

fn handle(user: &UserId) -> Uuid {
    Uuid::from_bytes(*user.as_bytes())
}

/// State we wrote ourselves that no longer reads back: a bug or tampering, never the client's.
fn corrupt(what: &str) -> CoreError {
    tracing::error!(what, "stored webauthn data does not decode");
    CoreError::Unavailable
}

fn to_json<T: Serialize>(v: &T, what: &str) -> CoreResult<String> {
    serde_json::to_string(v).map_err(|_| {
        tracing::error!(what, "cannot serialise webauthn data");
        CoreError::Unavailable
    })
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// Passkeys (WebAuthn): registration, usernameless sign-in, step-up and the ceremonies' state.
#[derive(Clone)]
pub struct Passkeys {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
    /// Records sign-ins and throttles them per source like a password sign-in.
    pub(crate) accounts: Accounts,
    /// The WebAuthn relying party, from `config.api_url`.
    pub(crate) rp: Arc<RelyingParty>,
}

impl Passkeys {
    /// The user an operator key acts for. A key that belongs to no user (`signet operator init`)
    /// has no account to hold passkeys.
    async fn account_of(&self, op: &AuthedOperator, action: AuditAction) -> CoreResult<UserId> {
        if let Some(user) = op.user_id {
            return Ok(user);
        }
        let e = self.cx.event(
            &Actor::operator(op),
            action,
            "",
            AuditResult::Denied,
            &format!("reason={}", DenialReason::NoUserAccount),
        );
        self.cx.journal(vec![e], Vec::new()).await?;
        Err(CoreError::Forbidden)
    }

    async fn store_ceremony(
        &self,
        kind: CeremonyKind,
        user: Option<UserId>,
        state: String,
        options: Value,
    ) -> CoreResult<PasskeyChallenge> {
        let ceremony = CeremonyRecord {
            id: CeremonyId::generate(),
            kind,
            user_id: user,
            state,
            expires_ms: self.cx.now_ms() + CEREMONY_TTL_MS,
        };
        self.cx.store.insert_ceremony(&ceremony).await?;
        Ok(PasskeyChallenge {
            challenge_id: ceremony.id,
            public_key: options,
        })
    }

    /// Whether `user` may add a first second factor without a step-up: they have none, and the
    /// session asking was opened within [`FIRST_FACTOR_GRACE_MS`] (only an SSO sign-in opens a
    /// session for a user without any second factor).
    async fn first_factor_grace(&self, op: &AuthedOperator, user: &UserRecord) -> CoreResult<bool> {
        let Some(grant) = op.session else {
            return Ok(false);
        };
        if user.totp_sealed.is_some() || !self.cx.store.passkeys(&user.id).await?.is_empty() {
            return Ok(false);
        }
        let now = self.cx.now_ms();
        Ok(self
            .cx
            .store
            .live_sessions(&user.id, now)
            .await?
            .iter()
            .any(|s| s.id == grant.id && now - s.created_ms < FIRST_FACTOR_GRACE_MS))
    }

    /// Starts adding a passkey named `name` to the operator's own account. Returns the creation
    /// options for `navigator.credentials.create`.
    pub async fn passkey_register_start(
        &self,
        op: &AuthedOperator,
        name: &str,
    ) -> CoreResult<PasskeyChallenge> {
        let rp = self.rp.get()?;
        let user_id = self.account_of(op, AuditAction::PasskeyRegister).await?;
        let name = check_name(name)?;
        let user = self
            .cx
            .store
            .user(&user_id)
            .await?
            .ok_or(CoreError::NotFound)?;
        // A passkey outlives the session that adds it: a hijacked session must not be able to
        // plant one without a fresh second factor. A user made by SSO has none to give, so
        // their first one is added within minutes of the sign-in without (crate::sso).
        if !self.first_factor_grace(op, &user).await? {
            self.cx
                .require_step_up(op, AuditAction::PasskeyRegister)
                .await?;
        }
        let existing = self.cx.store.passkeys(&user_id).await?;
        if existing.len() >= MAX_PASSKEYS_PER_USER as usize {
            return Err(CoreError::Conflict(Conflict::PasskeyLimit));
        }
        // Listing what is registered stops an authenticator from registering a second time.
        let exclude = existing.iter().map(|p| p.credential_id.clone()).collect();
        let (ccr, state) = rp
            .start_passkey_registration(
                handle(&user_id),
                &user.username,
                &user.display_name,
                Some(exclude),
            )
            .map_err(|e| {
                tracing::error!(error = %e, "cannot start a passkey registration");
                CoreError::Unavailable
            })?;
        let mut options =
            serde_json::to_value(&ccr.public_key).map_err(|_| corrupt("creation options"))?;
        // Sign-in names no user, so the authenticator must keep the credential (a discoverable
        // credential); the library leaves that to the authenticator.
        if let Some(sel) = options
            .get_mut("authenticatorSelection")
            .and_then(Value::as_object_mut)
        {
            sel.insert("residentKey".to_owned(), Value::from("required"));
            sel.insert("requireResidentKey".to_owned(), Value::from(true));
        }
        let state = to_json(&Registration { name, state }, "registration state")?;
        self.store_ceremony(CeremonyKind::Registration, Some(user_id), state, options)
            .await
    }

    /// Finishes a registration started by the same user: verifies the authenticator's answer and
    /// stores the passkey.
    pub async fn passkey_register_finish(
        &self,
        op: &AuthedOperator,
        challenge_id: &str,
        credential: &Value,
    ) -> CoreResult<PasskeyView> {
        let rp = self.rp.get()?;
        let user_id = self.account_of(op, AuditAction::PasskeyRegister).await?;
        let id = parse_challenge(challenge_id)?;
        let answer: RegisterPublicKeyCredential = parse_credential(credential)?;
        let gone = || CoreError::bad("the challenge is unknown, used or expired");
        let ceremony = self
            .cx
            .store
            .take_ceremony(&id, CeremonyKind::Registration, self.cx.now_ms())
            .await?
            .ok_or_else(gone)?;
        // Another user's challenge is as good as none: it was theirs to finish.
        if ceremony.user_id != Some(user_id) {
            return Err(gone());
        }
        let reg: Registration =
            serde_json::from_str(&ceremony.state).map_err(|_| corrupt("registration state"))?;
        let passkey = match rp.finish_passkey_registration(&answer, &reg.state) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(error = %e, "passkey registration refused");
                let ev = self.cx.event(
                    &Actor::operator(op),
                    AuditAction::PasskeyRegister,
                    "",
                    AuditResult::Denied,
                    &format!("reason={}", DenialReason::BadAttestation),
                );
                self.cx.journal(vec![ev], Vec::new()).await?;
                return Err(CoreError::bad("the passkey could not be verified"));
            }
        };
        let record = PasskeyRecord {
            id: PasskeyId::generate(),
            user_id,
            credential_id: passkey.cred_id().clone(),
            name: reg.name,
            credential: to_json(&passkey, "passkey")?,
            sign_count: 0,
            created_ms: self.cx.now_ms(),
            last_used_ms: None,
        };
        self.cx
            .audited(
                op,
                AuditAction::PasskeyRegister,
                record.id.as_str(),
                &format!("user={user_id} name={}", truncate(&record.name, 64)),
            )
            .insert_passkey(&record, MAX_PASSKEYS_PER_USER)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(Conflict::CredentialId) => {
                    CoreError::Conflict(Conflict::PasskeyExists)
                }
                e => e.into(),
            })?;
        Ok(record.into())
    }

    /// The operator's own passkeys, oldest first. Empty for a key without a user.
    pub async fn passkeys(&self, op: &AuthedOperator) -> CoreResult<Vec<PasskeyView>> {
        let Some(user) = op.user_id else {
            return Ok(Vec::new());
        };
        self.passkeys_of(&user).await
    }

    /// A user's passkeys, oldest first (for the account page).
    pub async fn passkeys_of(&self, user: &UserId) -> CoreResult<Vec<PasskeyView>> {
        Ok(self
            .cx
            .store
            .passkeys(user)
            .await?
            .into_iter()
            .map(PasskeyView::from)
            .collect())
    }

    /// Renames one of the operator's own passkeys. Someone else's is [`CoreError::NotFound`].
    pub async fn passkey_rename(
        &self,
        op: &AuthedOperator,
        id: &str,
        name: &str,
    ) -> CoreResult<PasskeyView> {
        let user = self.account_of(op, AuditAction::PasskeyRename).await?;
        let id = PasskeyId::parse(id).map_err(|_| CoreError::NotFound)?;
        let name = check_name(name)?;
        let p = self
            .cx
            .audited(
                op,
                AuditAction::PasskeyRename,
                id.as_str(),
                &format!("user={user} name={}", truncate(&name, 64)),
            )
            .rename_passkey(&user, &id, &name)
            .await?;
        Ok(p.into())
    }

    /// Removes one of the operator's own passkeys. Someone else's is [`CoreError::NotFound`].
    pub async fn passkey_delete(&self, op: &AuthedOperator, id: &str) -> CoreResult<()> {
        let user = self.account_of(op, AuditAction::PasskeyDelete).await?;
        let id = PasskeyId::parse(id).map_err(|_| CoreError::NotFound)?;
        self.cx
            .audited(
                op,
                AuditAction::PasskeyDelete,
                id.as_str(),
                &format!("user={user}"),
            )
            .delete_passkey(&user, &id)
            .await?;
        Ok(())
    }

    /// Starts a usernameless sign-in: the options name no user and list no credential, so they
    /// say nothing about which accounts exist. Throttled per source like password sign-ins,
    /// since each start stores a ceremony.
    pub async fn passkey_login_start(&self, source_ip: ClientAddr) -> CoreResult<PasskeyChallenge> {
        let rp = self.rp.get()?;
        if !self
            .accounts
            .login_limiter
            .allow(source_ip, self.cx.now_ms())
        {
            return Err(CoreError::RateLimited);
        }
        let (rcr, state) = rp.start_discoverable_authentication().map_err(|e| {
            tracing::error!(error = %e, "cannot start a passkey sign-in");
            CoreError::Unavailable
        })?;
        // Only `publicKey` goes out: the library marks this request for conditional mediation
        // (autofill), and whether to use that is the page's choice, not the server's.
        let options =
            serde_json::to_value(&rcr.public_key).map_err(|_| corrupt("request options"))?;
        let state = to_json(&state, "authentication state")?;
        self.store_ceremony(CeremonyKind::Authentication, None, state, options)
            .await
    }

    /// Finishes a usernameless sign-in and returns the user. Every failure is
    /// [`CoreError::Unauthenticated`]; each attempt lands in the login history and the audit log.
    pub async fn passkey_login_finish(&self, answer: PasskeyAnswer<'_>) -> CoreResult<UserRecord> {
        let rp = self.rp.get()?;
        let id = parse_challenge(answer.challenge_id)?;
        let credential: PublicKeyCredential = parse_credential(answer.credential)?;
        match self.passkey_login_check(rp, &id, &credential).await? {
            Ok(user) if self.accounts.sso_required_for(&user).await? => {
                self.accounts
                    .record_sign_in(
                        Some(user.id),
                        answer.source_ip,
                        answer.user_agent,
                        Some("passkey"),
                        LoginResult::Failed,
                        Some(DenialReason::SsoRequired),
                    )
                    .await?;
                Err(CoreError::SsoRequired)
            }
            Ok(user) => {
                self.cx.store.reset_login_failures(&user.id).await?;
                self.accounts
                    .record_sign_in(
                        Some(user.id),
                        answer.source_ip,
                        answer.user_agent,
                        Some("passkey"),
                        LoginResult::Ok,
                        None,
                    )
                    .await?;
                Ok(user)
            }
            Err((user, reason)) => {
                self.accounts
                    .record_sign_in(
                        user,
                        answer.source_ip,
                        answer.user_agent,
                        Some("passkey"),
                        LoginResult::Failed,
                        Some(reason),
                    )
                    .await?;
                Err(CoreError::Unauthenticated)
            }
        }
    }

    /// The checks of a sign-in, in order. The inner error names the account (when one is known)
    /// and the reason, for the history only.
    async fn passkey_login_check(
        &self,
        rp: &Webauthn,
        id: &CeremonyId,
        credential: &PublicKeyCredential,
    ) -> CoreResult<Result<UserRecord, (Option<UserId>, DenialReason)>> {
        let Some(ceremony) = self
            .cx
            .store
            .take_ceremony(id, CeremonyKind::Authentication, self.cx.now_ms())
            .await?
        else {
            return Ok(Err((None, DenialReason::UnknownChallenge)));
        };
        let state: DiscoverableAuthentication =
            serde_json::from_str(&ceremony.state).map_err(|_| corrupt("authentication state"))?;
        let Ok((claimed, credential_id)) = rp.identify_discoverable_authentication(credential)
        else {
            return Ok(Err((None, DenialReason::NoUserHandle)));
        };
        let Some(stored) = self.cx.store.passkey_by_credential(credential_id).await? else {
            return Ok(Err((None, DenialReason::UnknownCredential)));
        };
        let owner = stored.user_id;
        // The authenticator names the user; the credential must be theirs (WebAuthn §7.2 step 6).
        if claimed != handle(&owner) {
            return Ok(Err((Some(owner), DenialReason::UserHandleMismatch)));
        }
        let passkey: Passkey =
            serde_json::from_str(&stored.credential).map_err(|_| corrupt("passkey"))?;
        let result = match rp.finish_discoverable_authentication_v2(credential, state, &passkey) {
            Ok(r) => r,
            Err(e) => return Ok(Err((Some(owner), refusal(&e, &owner, &stored.id)))),
        };
        let Some(user) = self.cx.store.user(&owner).await? else {
            return Ok(Err((None, DenialReason::UnknownUser)));
        };
        if user.status != UserStatus::Active {
            return Ok(Err((Some(owner), DenialReason::UserSuspended)));
        }
        if !self.accept_use(&stored, passkey, &result).await? {
            counter_regressed(&owner, &stored.id);
            return Ok(Err((Some(owner), DenialReason::CounterRegressed)));
        }
        Ok(Ok(user))
    }

    /// Stores the counter and flags an accepted assertion reported. `false` if a later use was
    /// accepted meanwhile (see `PasskeyStore::record_passkey_use`).
    async fn accept_use(
        &self,
        stored: &PasskeyRecord,
        mut passkey: Passkey,
        result: &AuthenticationResult,
    ) -> CoreResult<bool> {
        passkey.update_credential(result);
        let json = to_json(&passkey, "passkey")?;
        Ok(self
            .cx
            .store
            .record_passkey_use(&stored.id, &json, result.counter(), self.cx.now_ms())
            .await?)
    }

    /// Starts a step-up for `user` (the session's user): the options list their passkeys.
    /// A user without passkeys gets a 400.
    pub async fn passkey_step_up_start(&self, user: &UserId) -> CoreResult<PasskeyChallenge> {
        let rp = self.rp.get()?;
        let passkeys = self
            .cx
            .store
            .passkeys(user)
            .await?
            .iter()
            .map(|p| serde_json::from_str::<Passkey>(&p.credential))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| corrupt("passkey"))?;
        if passkeys.is_empty() {
            return Err(CoreError::bad("this account has no passkey"));
        }
        let (rcr, state) = rp.start_passkey_authentication(&passkeys).map_err(|e| {
            tracing::error!(error = %e, "cannot start a passkey step-up");
            CoreError::Unavailable
        })?;
        let options =
            serde_json::to_value(&rcr.public_key).map_err(|_| corrupt("request options"))?;
        let state = to_json(&state, "step-up state")?;
        self.store_ceremony(CeremonyKind::StepUp, Some(*user), state, options)
            .await
    }

    /// Finishes a step-up for `user`. Any failure (unknown, used, expired or someone else's
    /// challenge; a credential not theirs; a bad assertion; a suspended user) is
    /// [`CoreError::Unauthenticated`]. The caller records the step-up on the session.
    pub async fn passkey_step_up_finish(
        &self,
        user: &UserId,
        answer: PasskeyAnswer<'_>,
    ) -> CoreResult<()> {
        let rp = self.rp.get()?;
        let id = parse_challenge(answer.challenge_id)?;
        let credential: PublicKeyCredential = parse_credential(answer.credential)?;
        let outcome = self
            .passkey_step_up_check(rp, user, &id, &credential)
            .await?;
        let (result, detail) = match outcome {
            Ok(()) => (AuditResult::Ok, "method=passkey".to_owned()),
            Err(reason) => (
                AuditResult::Denied,
                format!("method=passkey reason={reason}"),
            ),
        };
        let ip = answer.source_ip.to_canonical().to_string();
        let e = self.cx.event(
            &Actor::new(ActorKind::Anonymous, "", &ip),
            AuditAction::UserStepUp,
            &user.to_string(),
            result,
            &detail,
        );
        self.cx.journal(vec![e], Vec::new()).await?;
        outcome.map_err(|_| CoreError::Unauthenticated)
    }

    async fn passkey_step_up_check(
        &self,
        rp: &Webauthn,
        user: &UserId,
        id: &CeremonyId,
        credential: &PublicKeyCredential,
    ) -> CoreResult<Result<(), DenialReason>> {
        let Some(ceremony) = self
            .cx
            .store
            .take_ceremony(id, CeremonyKind::StepUp, self.cx.now_ms())
            .await?
        else {
            return Ok(Err(DenialReason::UnknownChallenge));
        };
        if ceremony.user_id != Some(*user) {
            return Ok(Err(DenialReason::OtherUsersChallenge));
        }
        let state: PasskeyAuthentication =
            serde_json::from_str(&ceremony.state).map_err(|_| corrupt("step-up state"))?;
        let Some(stored) = self
            .cx
            .store
            .passkey_by_credential(&credential.raw_id)
            .await?
            .filter(|p| p.user_id == *user)
        else {
            return Ok(Err(DenialReason::UnknownCredential));
        };
        let passkey: Passkey =
            serde_json::from_str(&stored.credential).map_err(|_| corrupt("passkey"))?;
        let result = match rp.finish_passkey_authentication(credential, &state) {
            Ok(r) => r,
            Err(e) => return Ok(Err(refusal(&e, user, &stored.id))),
        };
        match self.cx.store.user(user).await? {
            Some(u) if u.status == UserStatus::Active => {}
            _ => return Ok(Err(DenialReason::UserInactive)),
        }
        if !self.accept_use(&stored, passkey, &result).await? {
            counter_regressed(user, &stored.id);
            return Ok(Err(DenialReason::CounterRegressed));
        }
        Ok(Ok(()))
    }

    /// Forgets expired ceremonies; run with the nonce sweep.
    pub(crate) async fn sweep_ceremonies(&self) -> CoreResult<u64> {
        Ok(self.cx.store.sweep_ceremonies(self.cx.now_ms()).await?)
    }
}

/// Why the library refused an assertion, as the audit reason. A counter at or below the stored
/// one is told apart from other refusals (issue 9, finding 8): the library checks it before
/// the store does, and it is the one refusal that says a key was copied.
fn refusal(e: &WebauthnError, user: &UserId, passkey: &PasskeyId) -> DenialReason {
    if matches!(e, WebauthnError::CredentialPossibleCompromise) {
        counter_regressed(user, passkey);
        DenialReason::CounterRegressed
    } else {
        tracing::debug!(error = %e, "passkey assertion refused");
        DenialReason::BadAssertion
    }
}

/// A correctly signed assertion whose counter went backwards: two authenticators hold the same
/// private key. Worth an operator's attention, unlike a mistyped or stale assertion.
fn counter_regressed(user: &UserId, passkey: &PasskeyId) {
    tracing::warn!(
        %user,
        passkey = passkey.as_str(),
        "passkey signature counter went backwards; the authenticator may have been cloned"
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_relying_party_needs_a_domain_over_a_secure_origin() {
        assert!(relying_party("http://localhost:8420").is_ok());
        assert!(relying_party("https://vault.example.com").is_ok());
        assert!(relying_party("https://vault.example.com:8443").is_ok());
        for bad in [
            "http://127.0.0.1:8420",
            "https://[::1]:8420",
            "https://10.0.0.1",
            "http://vault.example.com",
            "not a url",
        ] {
            assert!(relying_party(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(check_name("  laptop ").unwrap(), "laptop");
        assert_eq!(check_name(&"é".repeat(64)).unwrap(), "é".repeat(64));
        assert!(check_name(&"é".repeat(65)).is_err());
        assert!(check_name("   ").is_err());
        assert!(check_name("a\u{7}b").is_err());
    }
}
