//! One-time share links (issue 11 §6).
//!
//! A signed-in human who may write secrets (developer and up, [`Permission::WriteSecrets`])
//! shares a value (UTF-8, at most [`MAX_SHARE_VALUE_BYTES`]) behind a passphrase (at least
//! [`MIN_PASSPHRASE_CHARS`] characters) for a lifetime of one minute to a day. The answer holds
//! the link, `<api URL>/#/s/<id>.<secret>`, shown once: the secret part is 32 random bytes in
//! the URL's fragment, which browsers never send, so it stays out of every server's logs.
//!
//! Nothing that opens the link is stored in clear: the secret part only as its SHA-256 (it is
//! 256 random bits, so a fast hash is enough), the passphrase only as an Argon2id hash made
//! through the same [`HashGate`] as passwords (so opening links cannot exhaust memory), and the
//! value sealed like a secret version under a data key wrapped with a key derived for shares,
//! bound to the vault and the share id.
//!
//! Opening needs no sign-in and is one attempt. A request whose id and secret part match a
//! pending link uses it up, right passphrase or wrong: the passphrase is checked, then one
//! conditional update moves the link to `viewed` (right) or `destroyed` (wrong) and erases the
//! sealed value and the passphrase hash, with its audit record in the same transaction. Of
//! concurrent attempts only one can win that update, so racing guesses gain nothing: each
//! guess's chance of being right is offset by its chance of being the one that lands. A link
//! found past its expiry is erased the same way, as `expired`. An unknown id, a wrong secret
//! part or a link already used up consumes nothing (else anyone could destroy links by id) and
//! answers the same 403 as a wrong passphrase; those failures spend the source's failure budget
//! (`crate::failures`), like failed signatures.
//!
//! Machines never reach a share: the admin routes take only operators, and opening is not a
//! signed route. Creators list and revoke their own links; admins and owners see everyone's.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use signet_api::audit::{AuditAction, DenialReason};
use signet_crypto::{SealedValue, ShareAad};
use signet_proto::{OperatorId, ShareId, UserId};
use signet_store::{ActorKind, AuditResult, ShareRecord, ShareStatus, StoreError};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::account::{Accounts, Password, hash_password, verify_password};
use crate::address::ClientAddr;
use crate::context::Context;
use crate::journal::Actor;
use crate::principal::AuthedOperator;
use crate::role::{Permission, allows};
use crate::{CoreError, CoreResult};

/// The largest value a link may carry: 100 KB.
pub const MAX_SHARE_VALUE_BYTES: usize = 100 * 1024;
/// The shortest passphrase accepted. Not scored like a password: it travels apart from the link
/// and guards one attempt only, so what it must resist is a reader with the link and no
/// passphrase, who gets a single guess.
pub const MIN_PASSPHRASE_CHARS: usize = 8;
/// The longest passphrase accepted, so hashing input stays bounded.
pub const MAX_PASSPHRASE_CHARS: usize = 1024;
/// The shortest lifetime: a minute.
pub const MIN_TTL_SECS: u32 = 60;
/// The longest lifetime: a day.
pub const MAX_TTL_SECS: u32 = 24 * 3600;
/// Longest secret part looked at (real ones are 43 characters), so hashing input stays bounded.
const MAX_SECRET_CHARS: usize = 128;

/// What `create_share` needs.
pub struct NewShare {
    /// The value to share.
    pub value: Zeroizing<String>,
    /// What the reader must type.
    pub passphrase: Password,
    /// How long the link works, in seconds.
    pub ttl_secs: u32,
}

impl std::fmt::Debug for NewShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewShare")
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

/// A share link as its creator sees it: never the value, passphrase or secret part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareView {
    /// Its id.
    pub id: ShareId,
    /// `pending`, `viewed`, `destroyed` or `expired`.
    pub status: &'static str,
    /// The operator key or session that created it.
    pub created_by: OperatorId,
    /// The user behind it.
    pub created_by_user: Option<UserId>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub expires_at: i64,
    /// When it stopped being pending, Unix ms.
    pub closed_at: Option<i64>,
}

impl ShareView {
    fn new(s: &ShareRecord, now_ms: i64) -> Self {
        // A pending link past its expiry is expired whether or not a sweep has erased it yet.
        let status = match s.status {
            ShareStatus::Pending if now_ms >= s.expires_ms => ShareStatus::Expired,
            other => other,
        };
        Self {
            id: s.id.clone(),
            status: status.as_str(),
            created_by: s.created_by,
            created_by_user: s.created_by_user,
            created_at: s.created_ms,
            expires_at: s.expires_ms,
            closed_at: s.closed_ms,
        }
    }
}

/// A new link, shown once: the URL holds the secret part in clear.
pub struct IssuedShare {
    /// The link.
    pub share: ShareView,
    /// `<api URL>/#/s/<id>.<secret>`.
    pub url: Zeroizing<String>,
}

impl std::fmt::Debug for IssuedShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedShare")
            .field("share", &self.share)
            .finish_non_exhaustive()
    }
}

/// What a reader sends to open a link.
pub struct ShareOpening<'a> {
    /// The link's id, as sent.
    pub id: &'a str,
    /// The link's secret part, as sent.
    pub secret: &'a str,
    /// The passphrase typed.
    pub passphrase: Password,
    /// Where the request came from.
    pub source_ip: ClientAddr,
}

impl std::fmt::Debug for ShareOpening<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareOpening")
            .field("id", &self.id)
            .field("source_ip", &self.source_ip)
            .finish_non_exhaustive()
    }
}

fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `op` may see and revoke `s`: its creator (the same user, or for a headless key the
/// same key), or anyone who manages users (admins and owners).
fn visible_to(op: &AuthedOperator, s: &ShareRecord) -> bool {
    if allows(op.role, Permission::ManageUsers) {
        return true;
    }
    match op.user_id {
        Some(user) => s.created_by_user == Some(user),
        None => s.created_by_user.is_none() && s.created_by == op.id,
    }
}

fn check_passphrase_length(p: &Password) -> CoreResult<()> {
    let n = p.chars();
    if (MIN_PASSPHRASE_CHARS..=MAX_PASSPHRASE_CHARS).contains(&n) {
        Ok(())
    } else {
        Err(CoreError::bad(format!(
            "passphrase must be {MIN_PASSPHRASE_CHARS} to {MAX_PASSPHRASE_CHARS} characters"
        )))
    }
}

/// One-time share links: creating, listing, revoking and opening them.
#[derive(Clone)]
pub struct Shares {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
    /// Owns the Argon2 gate the passphrases are hashed and checked through.
    pub(crate) accounts: Accounts,
}

impl Shares {
    /// Creates a link for `new.value` and returns it, shown once.
    pub async fn create_share(
        &self,
        op: &AuthedOperator,
        new: NewShare,
    ) -> CoreResult<IssuedShare> {
        self.cx
            .require(op, Permission::WriteSecrets, AuditAction::ShareCreate)
            .await?;
        if new.value.len() > MAX_SHARE_VALUE_BYTES {
            return Err(CoreError::PayloadTooLarge);
        }
        if new.value.is_empty() {
            return Err(CoreError::bad("value must not be empty"));
        }
        if !(MIN_TTL_SECS..=MAX_TTL_SECS).contains(&new.ttl_secs) {
            return Err(CoreError::bad(format!(
                "ttlSeconds must be {MIN_TTL_SECS} to {MAX_TTL_SECS} (a minute to a day)"
            )));
        }
        check_passphrase_length(&new.passphrase)?;
        let mut raw = Zeroizing::new([0u8; 32]);
        getrandom::fill(raw.as_mut()).map_err(|_| CoreError::Unavailable)?;
        let secret = Zeroizing::new(URL_SAFE_NO_PAD.encode(raw.as_ref()));
        let id = ShareId::generate();
        let sealed = self
            .cx
            .root
            .unseal()
            .seal_share(
                &ShareAad {
                    vault: self.cx.vault.as_str(),
                    share: id.as_str(),
                },
                new.value.as_bytes(),
            )
            .map_err(|_| CoreError::Unavailable)?;
        let phc = hash_password(&self.accounts.hashes, new.passphrase).await?;
        // Taken after hashing, so the lifetime counts from when the link exists.
        let now = self.cx.now_ms();
        let rec = ShareRecord {
            id: id.clone(),
            secret_hash: secret_hash(&secret),
            passphrase_hash: Some(phc),
            wrapped_dek: Some(sealed.wrapped_dek),
            ciphertext: Some(sealed.ciphertext),
            created_by: op.id,
            created_by_user: op.user_id,
            created_ms: now,
            expires_ms: now + i64::from(new.ttl_secs) * 1000,
            status: ShareStatus::Pending,
            closed_ms: None,
        };
        self.cx
            .audited(
                op,
                AuditAction::ShareCreate,
                id.as_str(),
                &format!("expires_ms={} bytes={}", rec.expires_ms, new.value.len()),
            )
            .insert_share(&rec)
            .await?;
        let url = Zeroizing::new(format!(
            "{}/#/s/{}.{}",
            self.cx.config.api_url.trim_end_matches('/'),
            id,
            secret.as_str()
        ));
        Ok(IssuedShare {
            share: ShareView::new(&rec, now),
            url,
        })
    }

    /// The caller's links (an admin's or owner's: everyone's), newest first. Links past their
    /// expiry are erased first.
    pub async fn shares(&self, op: &AuthedOperator) -> CoreResult<Vec<ShareView>> {
        self.cx
            .require(op, Permission::Read, AuditAction::ShareList)
            .await?;
        let now = self.cx.now_ms();
        // Housekeeping, not an operator's change: erasing what can no longer be opened.
        self.cx.store.expire_shares(now).await?;
        Ok(self
            .cx
            .store
            .shares()
            .await?
            .iter()
            .filter(|s| visible_to(op, s))
            .map(|s| ShareView::new(s, now))
            .collect())
    }

    /// Revokes a pending link of the caller's (an admin's: anyone's): it is destroyed. Someone
    /// else's link and a link that does not exist are the same 403; a link that is no longer
    /// pending is `409 conflict: share_spent`.
    pub async fn revoke_share(&self, op: &AuthedOperator, id: &str) -> CoreResult<()> {
        self.cx
            .require(op, Permission::WriteSecrets, AuditAction::ShareRevoke)
            .await?;
        let found = match ShareId::parse(id) {
            Ok(id) => self.cx.store.share(&id).await?,
            Err(_) => None,
        };
        let Some(share) = found.filter(|s| visible_to(op, s)) else {
            return Err(self.cx.deny(op, AuditAction::ShareRevoke, "").await);
        };
        let now = self.cx.now_ms();
        if share.status != ShareStatus::Pending || now >= share.expires_ms {
            self.cx.store.expire_shares(now).await?;
            return Err(CoreError::Conflict(signet_store::Conflict::ShareSpent));
        }
        match self
            .cx
            .audited(op, AuditAction::ShareRevoke, share.id.as_str(), "")
            .close_share(&share.id, ShareStatus::Destroyed, now)
            .await
        {
            Ok(()) => Ok(()),
            // Opened or revoked by someone else meanwhile.
            Err(StoreError::NotFound) => {
                Err(CoreError::Conflict(signet_store::Conflict::ShareSpent))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Opens a link once: the value if the passphrase is right. Every refusal is the same
    /// [`CoreError::Forbidden`].
    pub async fn open_share(&self, o: ShareOpening<'_>) -> CoreResult<Zeroizing<String>> {
        let ip = o.source_ip;
        self.cx
            .failures
            .admit(ip, self.cx.now_ms())
            .map_err(|retry_after_secs| CoreError::OverBudget { retry_after_secs })?;
        // A passphrase no link can have is malformed input: refused before the link is looked
        // at, so a slip of the keyboard costs nothing.
        check_passphrase_length(&o.passphrase)?;
        let found = match ShareId::parse(o.id) {
            Ok(id) if o.secret.chars().count() <= MAX_SECRET_CHARS => {
                self.cx.store.share(&id).await?
            }
            _ => None,
        };
        // The secret part is compared in constant time; only a pending link can be used up.
        let matching = found.filter(|s| {
            bool::from(
                s.secret_hash
                    .as_slice()
                    .ct_eq(secret_hash(o.secret).as_slice()),
            ) && s.status == ShareStatus::Pending
        });
        let Some(share) = matching else {
            return Err(self.refuse_unknown(ip).await);
        };
        let (Some(phc), Some(wrapped_dek), Some(ciphertext)) = (
            share.passphrase_hash.clone(),
            share.wrapped_dek.clone(),
            share.ciphertext.clone(),
        ) else {
            // The schema's CHECK makes a pending row hold all three.
            tracing::error!(share = %share.id, "a pending share lacks its sealed value");
            return Err(CoreError::Unavailable);
        };
        if self.cx.now_ms() >= share.expires_ms {
            return Err(self
                .consume(&share.id, ip, ShareStatus::Expired, DenialReason::Expired)
                .await);
        }
        let right = verify_password(&self.accounts.hashes, o.passphrase, phc).await?;
        if !right {
            self.cx.failures.record(
                ip,
                DenialReason::WrongPassphrase.as_str(),
                true,
                self.cx.now_ms(),
            );
            return Err(self
                .consume(
                    &share.id,
                    ip,
                    ShareStatus::Destroyed,
                    DenialReason::WrongPassphrase,
                )
                .await);
        }
        let value = self
            .cx
            .root
            .unseal()
            .open_share(
                &ShareAad {
                    vault: self.cx.vault.as_str(),
                    share: share.id.as_str(),
                },
                &SealedValue {
                    wrapped_dek,
                    ciphertext,
                },
            )
            .map_err(|_| {
                tracing::error!(share = %share.id, "a share's sealed value does not open");
                CoreError::Unavailable
            })?;
        let value = String::from_utf8(value.to_vec()).map_err(|_| CoreError::Unavailable)?;
        let value = Zeroizing::new(value);
        let e = self.cx.event(
            &Actor::new(ActorKind::Anonymous, "", &ip.to_string()),
            AuditAction::ShareOpen,
            share.id.as_str(),
            AuditResult::Ok,
            "",
        );
        // Hashing took a while: the update re-checks that the link is still pending and
        // unexpired, and of racing openers only one gets here with a row to change.
        match self
            .cx
            .audited_event(e)
            .close_share(&share.id, ShareStatus::Viewed, self.cx.now_ms())
            .await
        {
            Ok(()) => Ok(value),
            Err(StoreError::NotFound) => Err(CoreError::Forbidden),
            Err(e) => Err(e.into()),
        }
    }

    /// Uses the link up without showing it, with its audit record; answers the uniform 403.
    async fn consume(
        &self,
        id: &ShareId,
        ip: ClientAddr,
        to: ShareStatus,
        reason: DenialReason,
    ) -> CoreError {
        let e = self.cx.event(
            &Actor::new(ActorKind::Anonymous, "", &ip.to_string()),
            AuditAction::ShareOpen,
            id.as_str(),
            AuditResult::Denied,
            reason.as_str(),
        );
        match self
            .cx
            .audited_event(e)
            .close_share(id, to, self.cx.now_ms())
            .await
        {
            // Lost to a racing attempt: that one used the link up.
            Ok(()) | Err(StoreError::NotFound) => CoreError::Forbidden,
            Err(e) => e.into(),
        }
    }

    /// An attempt that matched no pending link: nothing consumed, the source's failure budget
    /// spent, and the first such failure of an interval recorded.
    async fn refuse_unknown(&self, ip: ClientAddr) -> CoreError {
        match self
            .cx
            .audit_signed_failure(
                ActorKind::Anonymous,
                "",
                ip,
                AuditAction::ShareOpen,
                DenialReason::UnknownShare,
                true,
            )
            .await
        {
            Some(retry_after_secs) => CoreError::OverBudget { retry_after_secs },
            None => CoreError::Forbidden,
        }
    }
}
