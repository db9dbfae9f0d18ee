//! Webhooks (issue 12 §4): where alerts go, and the dispatcher that delivers them.
//!
//! Operators with [`Permission::ManageVault`] (admins and owners) create, change, test and
//! delete webhooks; every change is audited in the change's own transaction. A webhook may
//! carry an HMAC secret for SikkerKey receivers (`X-SikkerKey-Signature`), made here, sealed
//! under a key derived from the root key, and answered once, at creation.
//!
//! Sending is behind [`WebhookSender`], which the composition root provides (the server's
//! implementation resolves the host, refuses private, link-local and metadata addresses
//! unless an operator allowed a range, pins the connection to the address it checked, and
//! follows no redirect). Core checks a URL through it when a webhook is created or changed,
//! and the sender checks again on every delivery.
//!
//! The dispatcher claims due deliveries with a deadline (each is claimed by one replica; a
//! replica that dies mid-send loses its claim when the deadline passes), signs each attempt
//! with the vault's Ed25519 key (`signet_proto::webhook`, RFC 9421) at the moment it is sent,
//! and records the outcome. A failure is retried after an exponential backoff with full
//! jitter, up to [`WebhookPolicy::max_attempts`], then marked `failed`; a refused address is
//! final at once. The delivery id never changes, so a receiver can drop duplicates.
//! Deliveries are not audited one by one (that would feed alerts on themselves): the delivery
//! log is their record.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use signet_api::audit::AuditAction;
use signet_proto::web_url::WebUrl;
use signet_proto::webhook::{
    CONTENT_TYPE, HEADER_DELIVERY_ID, WebhookKey, generate_hmac_secret, sikkerkey_signature,
};
use signet_proto::{DeliveryId, WebhookId};
use signet_store::{DeliveryOutcome, DeliveryRecord, DeliveryStatus, StoreError, WebhookRecord};
use zeroize::Zeroizing;

use crate::context::Context;
use crate::principal::AuthedOperator;
use crate::role::Permission;
use crate::{CoreError, CoreResult};

/// The longest webhook URL accepted.
pub const MAX_URL_CHARS: usize = 2048;
/// The longest webhook or rule name.
pub const MAX_NAME_CHARS: usize = 100;
/// How many deliveries the log answers.
pub const DELIVERY_LOG_LIMIT: u32 = 200;

/// Why the sender refused or failed an attempt: a short class for the delivery log, never the
/// receiver's answer body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The URL or an address it resolves to is not allowed; final, never retried. The text
    /// says why, for the operator.
    AddressRefused(String),
    /// No answer within the time limit.
    Timeout,
    /// The connection could not be made (or the name did not resolve).
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// The receiver answered with a redirect, which is never followed.
    Redirect,
    /// The receiver answered with a status outside 2xx.
    Status,
    /// Anything else.
    Other,
}

impl SendError {
    /// The delivery log's class.
    pub fn class(&self) -> &'static str {
        match self {
            Self::AddressRefused(_) => "address_refused",
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Redirect => "redirect",
            Self::Status => "status",
            Self::Other => "other",
        }
    }
}

/// One attempt, as the sender gets it: the URL, the body and every header to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingDelivery {
    /// The webhook's URL, exactly as stored (and as `@target-uri` signs it).
    pub url: String,
    /// The JSON body.
    pub body: String,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    /// The answer's status, if one came.
    pub status_code: Option<u16>,
    /// `None`: a 2xx answer.
    pub error: Option<SendError>,
    /// How long it took, ms.
    pub duration_ms: i64,
}

/// Sends webhook deliveries; the server implements it with an HTTP client.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// Whether `url` may be a webhook: its scheme, the form of its host, and every address
    /// it resolves to now. Refusals say why.
    async fn check(&self, url: &str) -> Result<(), SendError>;
    /// One attempt (checking the address again first).
    async fn send(&self, delivery: &OutgoingDelivery) -> SendOutcome;
}

/// Retry and claim settings (config keys `webhook_*`, see `docs/operations.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookPolicy {
    /// The first retry waits up to this long; each next one up to twice as long.
    pub retry_base: Duration,
    /// No retry waits longer.
    pub retry_cap: Duration,
    /// After this many attempts a delivery is `failed`.
    pub max_attempts: u32,
    /// How long a claim holds; longer than the sender's timeout.
    pub claim: Duration,
    /// Deliveries claimed per round.
    pub batch: u32,
}

impl Default for WebhookPolicy {
    fn default() -> Self {
        Self {
            retry_base: Duration::from_secs(10),
            retry_cap: Duration::from_secs(3600),
            max_attempts: 8,
            claim: Duration::from_secs(60),
            batch: 32,
        }
    }
}

impl WebhookPolicy {
    /// The wait before the retry after `attempts` attempts: a uniformly random time up to
    /// `min(cap, base * 2^(attempts - 1))` ("full jitter"), so receivers that came back are
    /// not hit by every replica's retries at once.
    pub fn backoff(&self, attempts: u32, random: u64) -> Duration {
        let base = u64::try_from(self.retry_base.as_millis()).unwrap_or(u64::MAX);
        let cap = u64::try_from(self.retry_cap.as_millis()).unwrap_or(u64::MAX);
        let exp = base
            .saturating_mul(1u64 << attempts.saturating_sub(1).min(32))
            .min(cap)
            .max(1);
        Duration::from_millis(random % (exp + 1))
    }
}

/// What the dispatcher did in one round.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Answered 2xx.
    pub delivered: u32,
    /// Scheduled again.
    pub retried: u32,
    /// Given up.
    pub failed: u32,
}

/// A webhook as operators see it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookView {
    /// Its id.
    pub id: WebhookId,
    /// Its label.
    pub name: String,
    /// Where deliveries go.
    pub url: String,
    /// Whether new alerts go to it.
    pub enabled: bool,
    /// Whether deliveries carry `X-SikkerKey-Signature`.
    pub has_hmac_secret: bool,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

impl From<&WebhookRecord> for WebhookView {
    fn from(w: &WebhookRecord) -> Self {
        Self {
            id: w.id.clone(),
            name: w.name.clone(),
            url: w.url.clone(),
            enabled: w.enabled,
            has_hmac_secret: w.sealed_secret.is_some(),
            created_at: w.created_ms,
            updated_at: w.updated_ms,
        }
    }
}

/// A new webhook, and its HMAC secret this once.
pub struct CreatedWebhook {
    /// The webhook.
    pub webhook: WebhookView,
    /// `whsec_...`, if one was asked for.
    pub hmac_secret: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for CreatedWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedWebhook")
            .field("webhook", &self.webhook)
            .finish_non_exhaustive()
    }
}

/// What may change on a webhook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookChange {
    /// A new label.
    pub name: Option<String>,
    /// A new URL.
    pub url: Option<String>,
    /// On or off.
    pub enabled: Option<bool>,
}

/// A label: 1 to [`MAX_NAME_CHARS`] characters, no control characters.
pub(crate) fn check_label(name: &str, what: &str) -> CoreResult<()> {
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(CoreError::bad(format!(
            "{what} must be 1 to {MAX_NAME_CHARS} characters without control characters"
        )));
    }
    Ok(())
}

/// The host and port of a URL, for audit details (never its path or query, which may hold a
/// token). Only checked URLs get here; anything else is named by nothing.
fn host_of(url: &str) -> String {
    WebUrl::parse(url)
        .map(|u| u.authority())
        .unwrap_or_default()
}

/// A uniformly random u64 from the OS.
fn random_u64() -> CoreResult<u64> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|_| CoreError::Unavailable)?;
    Ok(u64::from_le_bytes(b))
}

/// The sender and its settings, set once by the composition root.
pub(crate) struct Dispatch {
    sender: Arc<dyn WebhookSender>,
    policy: WebhookPolicy,
}

/// Webhooks, test deliveries, the delivery log, and the dispatcher.
#[derive(Clone)]
pub struct Webhooks {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
    /// The sender, once the composition root has set it.
    pub(crate) dispatch: Arc<OnceLock<Dispatch>>,
    /// Wakes the dispatcher (a test delivery, new deliveries from the tailer).
    pub(crate) wake: Arc<tokio::sync::Notify>,
}

impl Webhooks {
    /// Sets the sender and its settings; only the first call counts.
    pub fn set_sender(&self, sender: Arc<dyn WebhookSender>, policy: WebhookPolicy) {
        let _ = self.dispatch.set(Dispatch { sender, policy });
    }

    /// What the dispatcher loop waits on besides its interval.
    pub fn wakeup(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    /// The vault's webhook signing key.
    pub fn signing_key(&self) -> WebhookKey {
        WebhookKey::from_seed(&self.cx.root.unseal().webhook_signing_seed())
    }

    fn sender(&self) -> CoreResult<&Dispatch> {
        // Without a sender no URL can be checked, so none is accepted.
        self.dispatch.get().ok_or(CoreError::Unavailable)
    }

    async fn check_url(&self, url: &str) -> CoreResult<()> {
        if url.is_empty() || url.chars().count() > MAX_URL_CHARS {
            return Err(CoreError::bad(format!(
                "url must be 1 to {MAX_URL_CHARS} characters"
            )));
        }
        // The form first, the same for every sender; the sender then checks where it leads.
        WebUrl::parse(url)
            .map_err(|e| CoreError::bad(format!("webhook url refused: the URL {e}")))?;
        match self.sender()?.sender.check(url).await {
            Ok(()) => Ok(()),
            Err(SendError::AddressRefused(why)) => {
                Err(CoreError::bad(format!("webhook url refused: {why}")))
            }
            Err(e) => Err(CoreError::bad(format!(
                "webhook url refused: its host cannot be reached ({})",
                e.class()
            ))),
        }
    }

    /// Every webhook, oldest first.
    pub async fn webhooks(&self, op: &AuthedOperator) -> CoreResult<Vec<WebhookView>> {
        self.cx
            .require(op, Permission::ManageVault, AuditAction::WebhookList)
            .await?;
        Ok(self
            .cx
            .store
            .webhooks()
            .await?
            .iter()
            .map(WebhookView::from)
            .collect())
    }

    /// Creates a webhook after checking its URL.
    pub async fn create(
        &self,
        op: &AuthedOperator,
        name: &str,
        url: &str,
        hmac_secret: bool,
    ) -> CoreResult<CreatedWebhook> {
        self.cx
            .require(op, Permission::ManageVault, AuditAction::WebhookCreate)
            .await?;
        check_label(name, "name")?;
        self.check_url(url).await?;
        let id = WebhookId::generate();
        let secret = hmac_secret.then(generate_hmac_secret);
        let sealed = match &secret {
            Some(s) => Some(
                self.cx
                    .root
                    .unseal()
                    .seal_webhook_secret(self.cx.vault.as_str(), id.as_str(), s.as_bytes())
                    .map_err(|_| CoreError::Unavailable)?,
            ),
            None => None,
        };
        let now = self.cx.now_ms();
        let rec = WebhookRecord {
            id: id.clone(),
            name: name.to_owned(),
            url: url.to_owned(),
            sealed_secret: sealed,
            enabled: true,
            created_by: op.id,
            created_ms: now,
            updated_ms: now,
        };
        self.cx
            .audited(
                op,
                AuditAction::WebhookCreate,
                id.as_str(),
                &format!("host={} hmac={hmac_secret}", host_of(url)),
            )
            .insert_webhook(&rec)
            .await?;
        Ok(CreatedWebhook {
            webhook: WebhookView::from(&rec),
            hmac_secret: secret,
        })
    }

    async fn find(&self, id: &str) -> CoreResult<WebhookRecord> {
        let Ok(id) = WebhookId::parse(id) else {
            return Err(CoreError::NotFound);
        };
        self.cx
            .store
            .webhooks()
            .await?
            .into_iter()
            .find(|w| w.id == id)
            .ok_or(CoreError::NotFound)
    }

    /// Changes a webhook's name, URL (checked again) or enabled flag.
    pub async fn update(
        &self,
        op: &AuthedOperator,
        id: &str,
        change: WebhookChange,
    ) -> CoreResult<WebhookView> {
        self.cx
            .require(op, Permission::ManageVault, AuditAction::WebhookUpdate)
            .await?;
        let mut w = self.find(id).await?;
        let mut changed = Vec::new();
        if let Some(name) = change.name {
            check_label(&name, "name")?;
            w.name = name;
            changed.push("name".to_owned());
        }
        if let Some(url) = change.url {
            self.check_url(&url).await?;
            changed.push(format!("url host={}", host_of(&url)));
            w.url = url;
        }
        if let Some(enabled) = change.enabled {
            w.enabled = enabled;
            changed.push(format!("enabled={enabled}"));
        }
        w.updated_ms = self.cx.now_ms();
        self.cx
            .audited(
                op,
                AuditAction::WebhookUpdate,
                w.id.as_str(),
                &changed.join(" "),
            )
            .update_webhook(&w)
            .await?;
        Ok(WebhookView::from(&w))
    }

    /// Deletes a webhook with its deliveries. Rules naming it keep the other webhooks.
    pub async fn delete(&self, op: &AuthedOperator, id: &str) -> CoreResult<WebhookId> {
        self.cx
            .require(op, Permission::ManageVault, AuditAction::WebhookDelete)
            .await?;
        let w = self.find(id).await?;
        self.cx
            .audited(op, AuditAction::WebhookDelete, w.id.as_str(), "")
            .delete_webhook(&w.id)
            .await?;
        Ok(w.id)
    }

    /// Queues a test delivery and wakes the dispatcher.
    pub async fn test(&self, op: &AuthedOperator, id: &str) -> CoreResult<DeliveryId> {
        self.cx
            .require(op, Permission::ManageVault, AuditAction::WebhookTest)
            .await?;
        let w = self.find(id).await?;
        let now = self.cx.now_ms();
        let delivery_id = DeliveryId::generate();
        let payload = serde_json::json!({
            "id": delivery_id.to_string(),
            "event": "test",
            "severity": "info",
            "timestamp": now,
            "data": {
                "vaultId": self.cx.vault.as_str(),
                "webhookId": w.id.as_str(),
                "operatorId": op.id.to_string(),
                "detail": "a test delivery sent from Signet",
            },
        });
        let d = DeliveryRecord {
            id: delivery_id,
            webhook_id: w.id.clone(),
            rule_id: None,
            event: "test".to_owned(),
            severity: "info".to_owned(),
            payload: payload.to_string(),
            dedup: None,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_ms: now,
            claim_until_ms: None,
            last_status_code: None,
            last_error: None,
            last_duration_ms: None,
            created_ms: now,
            updated_ms: now,
        };
        self.cx
            .audited(
                op,
                AuditAction::WebhookTest,
                w.id.as_str(),
                &format!("delivery={delivery_id}"),
            )
            .insert_delivery(&d)
            .await?;
        self.wake.notify_one();
        Ok(delivery_id)
    }

    /// The newest deliveries first.
    pub async fn deliveries(&self, op: &AuthedOperator) -> CoreResult<Vec<DeliveryRecord>> {
        self.cx
            .require(op, Permission::ManageVault, AuditAction::WebhookList)
            .await?;
        Ok(self.cx.store.deliveries(DELIVERY_LOG_LIMIT).await?)
    }

    /// One round of the dispatcher: claims due deliveries, sends them concurrently, records
    /// each outcome. Does nothing until a sender is set.
    pub async fn dispatch(&self) -> CoreResult<DispatchReport> {
        let Some(dispatch) = self.dispatch.get() else {
            return Ok(DispatchReport::default());
        };
        let policy = dispatch.policy;
        let now = self.cx.now_ms();
        let claim_ms = i64::try_from(policy.claim.as_millis()).unwrap_or(i64::MAX / 2);
        let claim_until = now.saturating_add(claim_ms);
        let claimed = self
            .cx
            .store
            .claim_deliveries(now, claim_until, policy.batch)
            .await?;
        if claimed.is_empty() {
            return Ok(DispatchReport::default());
        }
        let hooks: HashMap<WebhookId, WebhookRecord> = self
            .cx
            .store
            .webhooks()
            .await?
            .into_iter()
            .map(|w| (w.id.clone(), w))
            .collect();
        let key = Arc::new(self.signing_key());
        let mut tasks = tokio::task::JoinSet::new();
        for d in claimed {
            let hook = hooks.get(&d.webhook_id).cloned();
            let this = self.clone();
            let sender = dispatch.sender.clone();
            let key = key.clone();
            tasks.spawn(async move {
                let outcome = this.attempt(&d, hook.as_ref(), &key, sender.as_ref()).await;
                this.finish(&d, claim_until, outcome, policy).await
            });
        }
        let mut report = DispatchReport::default();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(DeliveryStatus::Delivered)) => report.delivered += 1,
                Ok(Ok(DeliveryStatus::Pending)) => report.retried += 1,
                Ok(Ok(DeliveryStatus::Failed)) => report.failed += 1,
                Ok(Err(e)) => tracing::warn!(error = %e, "recording a webhook delivery failed"),
                Err(e) => tracing::error!(error = %e, "a webhook delivery task ended abnormally"),
            }
        }
        Ok(report)
    }

    /// One attempt: signed now, sent through the sender.
    async fn attempt(
        &self,
        d: &DeliveryRecord,
        hook: Option<&WebhookRecord>,
        key: &WebhookKey,
        sender: &dyn WebhookSender,
    ) -> SendOutcome {
        let refused = |why: &str| SendOutcome {
            status_code: None,
            error: Some(SendError::AddressRefused(why.to_owned())),
            duration_ms: 0,
        };
        let Some(hook) = hook else {
            return refused("the webhook was deleted");
        };
        if !hook.enabled {
            return refused("the webhook is disabled");
        }
        let created = self.cx.now_ms().div_euclid(1000);
        let signed = key.sign(&hook.url, d.payload.as_bytes(), &d.id.to_string(), created);
        let mut headers = vec![
            ("Content-Type".to_owned(), CONTENT_TYPE.to_owned()),
            ("Content-Digest".to_owned(), signed.content_digest),
            (HEADER_DELIVERY_ID.to_owned(), d.id.to_string()),
            ("Signature-Input".to_owned(), signed.signature_input),
            ("Signature".to_owned(), signed.signature),
            ("X-SikkerKey-Delivery-Id".to_owned(), d.id.to_string()),
            ("X-SikkerKey-Event".to_owned(), d.event.clone()),
            ("User-Agent".to_owned(), "Signet-Webhook/1.0".to_owned()),
        ];
        if let Some(sealed) = &hook.sealed_secret {
            match self.cx.root.unseal().open_webhook_secret(
                self.cx.vault.as_str(),
                hook.id.as_str(),
                sealed,
            ) {
                Ok(secret) => headers.push((
                    "X-SikkerKey-Signature".to_owned(),
                    sikkerkey_signature(&secret, d.payload.as_bytes()),
                )),
                Err(_) => {
                    tracing::error!(webhook = %hook.id, "a webhook's sealed secret does not open");
                    return refused("the webhook's secret cannot be opened");
                }
            }
        }
        sender
            .send(&OutgoingDelivery {
                url: hook.url.clone(),
                body: d.payload.clone(),
                headers,
            })
            .await
    }

    /// Records an attempt's outcome: delivered, retried after a backoff, or failed for good.
    async fn finish(
        &self,
        d: &DeliveryRecord,
        claim_until: i64,
        outcome: SendOutcome,
        policy: WebhookPolicy,
    ) -> CoreResult<DeliveryStatus> {
        let now = self.cx.now_ms();
        let status = match &outcome.error {
            None => DeliveryStatus::Delivered,
            Some(SendError::AddressRefused(why)) => {
                tracing::warn!(delivery = %d.id, webhook = %d.webhook_id, why = %why, "webhook delivery refused");
                DeliveryStatus::Failed
            }
            Some(_) if d.attempts >= policy.max_attempts => DeliveryStatus::Failed,
            Some(_) => DeliveryStatus::Pending,
        };
        let next = if status == DeliveryStatus::Pending {
            let wait = policy.backoff(d.attempts, random_u64()?);
            now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2))
        } else {
            now
        };
        match self
            .cx
            .store
            .finish_delivery(
                &d.id,
                claim_until,
                &DeliveryOutcome {
                    status,
                    next_attempt_ms: next,
                    status_code: outcome.status_code,
                    error: outcome.error.as_ref().map(|e| e.class().to_owned()),
                    duration_ms: outcome.duration_ms,
                    now_ms: now,
                },
            )
            .await
        {
            Ok(()) => Ok(status),
            // The claim ran out and another replica took the delivery: its outcome counts.
            Err(StoreError::NotFound) => Ok(DeliveryStatus::Pending),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_under_an_exponential_cap() {
        let p = WebhookPolicy {
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(10),
            ..WebhookPolicy::default()
        };
        assert_eq!(
            p.backoff(1, u64::MAX),
            Duration::from_millis(u64::MAX % 1001)
        );
        for attempts in 1..40 {
            let ceiling = (1000u64 << (attempts - 1).min(32)).min(10_000);
            for r in [0, 1, 999, 12_345, u64::MAX] {
                assert!(p.backoff(attempts, r) <= Duration::from_millis(ceiling));
            }
        }
        assert_eq!(p.backoff(3, 4000), Duration::from_millis(4000));
        assert_eq!(p.backoff(3, 4001), Duration::from_millis(0));
    }

    #[test]
    fn audit_details_name_the_host_only() {
        assert_eq!(
            host_of("https://h.example.com:8443/t/SECRET?x=1"),
            "h.example.com:8443"
        );
        assert_eq!(host_of("http://127.0.0.1:9/"), "127.0.0.1:9");
        assert_eq!(host_of("https://[::1]/x"), "[::1]");
        assert_eq!(host_of("https://user:pw@h.example/"), "");
    }
}
