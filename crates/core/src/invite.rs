//! Invitations by email link.
//!
//! An admin or owner invites `{email, role, projects?}` with a role at or below their own
//! ([`may_grant`]). The answer carries a link, `<api URL>/#/invite/<code>`, shown once: Signet
//! sends no mail, so the inviter passes it on themselves. The code is 256 random bits; only its
//! SHA-256 is stored, so a copy of the database opens no account. It works once, for
//! [`INVITE_TTL_MS`], until revoked.
//!
//! Accepting is unauthenticated: the code is the credential. The account is created with the
//! invitation's email, role and scope, plus a TOTP enrollment and recovery codes (shown once),
//! and the invitation is spent in the same transaction. Every way a code can be wrong (unknown,
//! used, expired, revoked) is the same [`CoreError::InviteRefused`].

use std::sync::Arc;

use sha2::{Digest, Sha256};
use signet_api::audit::{AuditAction, DenialReason};
use signet_proto::{InviteId, ProjectId};
use signet_store::{ActorKind, AuditResult, Conflict, InviteRecord, Role, StoreError};
use zeroize::Zeroizing;

use crate::account::{
    Accounts, OwnerEnrollment, Password, canonical_email, canonical_username, check_password,
    scope_detail,
};
use crate::address::ClientAddr;
use crate::context::Context;
use crate::journal::Actor;
use crate::principal::AuthedOperator;
use crate::role::{Permission, may_grant};
use crate::{CoreError, CoreResult};

/// How long an invitation works: 72 hours.
pub const INVITE_TTL_MS: i64 = 72 * 3600 * 1000;
/// Longest code accepted, so hashing input stays bounded (real codes are 64 characters).
const MAX_CODE_CHARS: usize = 128;

/// What `invite_user` needs.
#[derive(Debug, Clone)]
pub struct NewInvite<'a> {
    /// The invitee's email, as typed.
    pub email: &'a str,
    /// The role they will get.
    pub role: Role,
    /// Project ids a developer or viewer will be limited to; `None` for every project.
    pub projects: Option<Vec<String>>,
}

/// An invitation as operators see it: never the code.
#[derive(Debug, Clone)]
pub struct InviteView {
    /// Its id.
    pub id: InviteId,
    /// The invitee's canonical email.
    pub email: String,
    /// The role they will get.
    pub role: &'static str,
    /// Their project scope; `None` for every project.
    pub projects: Option<Vec<ProjectId>>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub expires_at: i64,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub status: &'static str,
}

impl InviteView {
    fn new(i: InviteRecord, now_ms: i64) -> Self {
        let status = if i.used_ms.is_some() {
            "accepted"
        } else if i.revoked_ms.is_some() {
            "revoked"
        } else if now_ms >= i.expires_ms {
            "expired"
        } else {
            "pending"
        };
        Self {
            id: i.id,
            email: i.email,
            role: i.role.as_str(),
            projects: i.projects,
            created_at: i.created_ms,
            expires_at: i.expires_ms,
            status,
        }
    }
}

/// A new invitation and its link, which holds the code in clear: shown once.
pub struct IssuedInvite {
    /// The invitation.
    pub invite: InviteView,
    /// `<api URL>/#/invite/<code>`.
    pub url: Zeroizing<String>,
}

impl std::fmt::Debug for IssuedInvite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedInvite")
            .field("invite", &self.invite)
            .finish_non_exhaustive()
    }
}

/// What the invitee sends back.
#[derive(Debug, Clone)]
pub struct InviteAcceptance<'a> {
    /// The code from the link.
    pub code: &'a str,
    /// The username they chose.
    pub username: &'a str,
    /// Their password.
    pub password: Password,
    /// Where the request came from.
    pub source_ip: ClientAddr,
}

fn code_hash(code: &str) -> [u8; 32] {
    Sha256::digest(code.trim().as_bytes()).into()
}

fn parse_invite_id(id: &str) -> CoreResult<InviteId> {
    InviteId::parse(id).map_err(|_| CoreError::NotFound)
}

/// Invitations: issuing, listing, revoking and accepting them.
#[derive(Clone)]
pub struct Invites {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
    /// Prepares the invited user (password hash, scope checks).
    pub(crate) accounts: Accounts,
}

impl Invites {
    /// Creates an invitation and returns its link, shown once.
    pub async fn invite_user(
        &self,
        op: &AuthedOperator,
        new: NewInvite<'_>,
    ) -> CoreResult<IssuedInvite> {
        self.cx
            .require(op, Permission::ManageUsers, AuditAction::UserInvite)
            .await?;
        self.cx.require_step_up(op, AuditAction::UserInvite).await?;
        if !may_grant(op.role, new.role) {
            return Err(self
                .cx
                .deny(
                    op,
                    AuditAction::UserInvite,
                    &format!("role={} grants={}", op.role.as_str(), new.role.as_str()),
                )
                .await);
        }
        let email = canonical_email(new.email)?;
        // Checked again when the account is created; asking now spares the invitee a dead link.
        if self.cx.store.user_by_login(&email).await?.is_some() {
            return Err(CoreError::Conflict(Conflict::Email));
        }
        let projects = self
            .accounts
            .check_scope(new.role, new.projects.as_deref())
            .await?;
        let mut raw = Zeroizing::new([0u8; 32]);
        getrandom::fill(raw.as_mut()).map_err(|_| CoreError::Unavailable)?;
        let code = Zeroizing::new(hex::encode(raw.as_ref()));
        let now = self.cx.now_ms();
        let rec = InviteRecord {
            id: InviteId::generate(),
            code_hash: code_hash(&code),
            email,
            role: new.role,
            projects,
            created_by: op.id,
            created_ms: now,
            expires_ms: now + INVITE_TTL_MS,
            used_ms: None,
            revoked_ms: None,
        };
        self.cx
            .audited(
                op,
                AuditAction::UserInvite,
                &rec.id.to_string(),
                &format!(
                    "email={} role={} projects={}",
                    rec.email,
                    rec.role.as_str(),
                    scope_detail(rec.projects.as_deref())
                ),
            )
            .insert_invite(&rec)
            .await?;
        let url = Zeroizing::new(format!(
            "{}/#/invite/{}",
            self.cx.config.api_url.trim_end_matches('/'),
            code.as_str()
        ));
        Ok(IssuedInvite {
            invite: InviteView::new(rec, now),
            url,
        })
    }

    /// Every invitation, newest first, with its state.
    pub async fn invites(&self, op: &AuthedOperator) -> CoreResult<Vec<InviteView>> {
        self.cx
            .require(op, Permission::ManageUsers, AuditAction::UserInviteList)
            .await?;
        let now = self.cx.now_ms();
        Ok(self
            .cx
            .store
            .invites()
            .await?
            .into_iter()
            .map(|i| InviteView::new(i, now))
            .collect())
    }

    /// Revokes a pending invitation. `409 conflict: invite_spent` if it was accepted or revoked.
    pub async fn revoke_invite(&self, op: &AuthedOperator, id: &str) -> CoreResult<()> {
        self.cx
            .require(op, Permission::ManageUsers, AuditAction::UserInviteRevoke)
            .await?;
        let id = parse_invite_id(id)?;
        self.cx
            .audited(op, AuditAction::UserInviteRevoke, &id.to_string(), "")
            .revoke_invite(&id, self.cx.now_ms())
            .await?;
        Ok(())
    }

    /// Creates the account an invitation describes, with the username and password its holder
    /// chose, and spends the invitation. The TOTP enrollment and recovery codes are returned
    /// once, in clear.
    pub async fn accept_invite(&self, a: InviteAcceptance<'_>) -> CoreResult<OwnerEnrollment> {
        // Input that is malformed whatever the code is answers 400 without touching the code.
        let username = canonical_username(a.username)?;
        check_password(&a.password, &[a.username, &username])?;
        let ip = a.source_ip.to_canonical().to_string();
        // Nobody accepting an invitation is the break-glass owner: people join through SSO.
        if self.cx.store.vault().await?.is_some_and(|v| v.sso_required) {
            let e = self.cx.event(
                &Actor::new(ActorKind::Anonymous, "", &ip),
                AuditAction::UserInviteAccept,
                "",
                AuditResult::Denied,
                &format!("reason={}", DenialReason::SsoRequired),
            );
            self.cx.journal(vec![e], Vec::new()).await?;
            return Err(CoreError::SsoRequired);
        }
        let now = self.cx.now_ms();
        let invite = if a.code.chars().count() <= MAX_CODE_CHARS {
            self.cx.store.invite_by_code(&code_hash(a.code)).await?
        } else {
            None
        };
        let usable =
            invite.filter(|i| i.used_ms.is_none() && i.revoked_ms.is_none() && now < i.expires_ms);
        let Some(invite) = usable else {
            return Err(self.refuse_invite(&ip, "").await);
        };
        // The address is known only now; a password made of it is as weak as the username.
        check_password(&a.password, &[a.username, &username, &invite.email])?;
        let (enrollment, digests) = self
            .accounts
            .prepare_user(
                a.username,
                username,
                invite.email.clone(),
                a.password,
                invite.role,
                invite.projects.clone(),
            )
            .await?;
        // Password hashing took a while: the store re-checks the invitation as it spends it.
        let e = self.cx.event(
            &Actor::new(ActorKind::Anonymous, "", &ip),
            AuditAction::UserInviteAccept,
            &enrollment.user.id.to_string(),
            AuditResult::Ok,
            &format!(
                "invite={} username={} role={}",
                invite.id,
                enrollment.user.username,
                invite.role.as_str()
            ),
        );
        match self
            .cx
            .audited_event(e)
            .accept_invite(&invite.id, self.cx.now_ms(), &enrollment.user, &digests)
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => {
                return Err(self.refuse_invite(&ip, &invite.id.to_string()).await);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(enrollment)
    }

    /// Whether `code` would still be accepted (known, not used, revoked or expired), spending
    /// nothing: the invitation page asks before showing its form. Budgeted per source like a
    /// sign-in, on top of the code's entropy; a check is not audited (it changes nothing, and
    /// a flood must not fill the log).
    pub async fn invite_code_live(&self, code: &str, source_ip: ClientAddr) -> CoreResult<bool> {
        let now = self.cx.now_ms();
        if !self.accounts.login_limiter.allow(source_ip, now) {
            return Err(CoreError::RateLimited);
        }
        if code.chars().count() > MAX_CODE_CHARS {
            return Ok(false);
        }
        Ok(self
            .cx
            .store
            .invite_by_code(&code_hash(code))
            .await?
            .is_some_and(|i| i.used_ms.is_none() && i.revoked_ms.is_none() && now < i.expires_ms))
    }

    async fn refuse_invite(&self, ip: &str, target: &str) -> CoreError {
        let e = self.cx.event(
            &Actor::new(ActorKind::Anonymous, "", ip),
            AuditAction::UserInviteAccept,
            target,
            AuditResult::Denied,
            "",
        );
        match self.cx.journal(vec![e], Vec::new()).await {
            Ok(()) => CoreError::InviteRefused,
            Err(err) => err,
        }
    }
}
