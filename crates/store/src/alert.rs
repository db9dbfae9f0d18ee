//! Alerts: the webhooks they go to, the rules that pick audit records, the tailer's cursor over
//! the audit log, and the delivery outbox.
//!
//! The tailer reads the audit log from a persisted cursor and commits the deliveries it made
//! and the cursor's next position in one transaction, conditional on the cursor still being
//! where it read it ([`AlertStore::advance_alerts`]): of several replicas tailing the same log,
//! one commits each stretch and the others find the cursor moved and read on from there, so
//! nothing is enqueued twice, and a restart resumes where the last commit left off. Deliveries
//! are claimed with a deadline ([`AlertStore::claim_deliveries`]) and finished only by the
//! holder of that claim ([`AlertStore::finish_delivery`]).

use async_trait::async_trait;
use signet_proto::{AlertRuleId, DeliveryId, OperatorId, WebhookId};

use crate::StoreResult;

/// A webhook. Its HMAC secret is stored only sealed (`signet_crypto::RootKey::seal_webhook_secret`).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    /// Its id.
    pub id: WebhookId,
    /// A label for people.
    pub name: String,
    /// Where deliveries go, exactly as the operator gave it (checked on every delivery).
    pub url: String,
    /// The sealed `X-SikkerKey-Signature` secret; `None`: that header is not sent.
    pub sealed_secret: Option<Vec<u8>>,
    /// A disabled webhook gets no new deliveries.
    pub enabled: bool,
    /// Who created it.
    pub created_by: OperatorId,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms.
    pub updated_ms: i64,
}

impl std::fmt::Debug for WebhookRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("has_secret", &self.sealed_secret.is_some())
            .finish_non_exhaustive()
    }
}

/// An alert rule. What it matches (`spec`) is core's JSON; the store keeps it as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRuleRecord {
    /// Its id.
    pub id: AlertRuleId,
    /// A label for people.
    pub name: String,
    /// `info`, `warning` or `critical` (core's names).
    pub severity: String,
    /// What it matches, as core serialises it.
    pub spec: String,
    /// The webhooks its alerts go to.
    pub webhooks: Vec<WebhookId>,
    /// Who created it.
    pub created_by: OperatorId,
    /// Unix ms.
    pub created_ms: i64,
}

/// The tailer's position: the next audit `seq` to read, and the state burst rules carry from
/// one stretch of the log to the next (core's JSON; the store does not look inside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertCursor {
    /// The next record to read.
    pub next_seq: u64,
    /// Burst windows in progress.
    pub state: String,
}

/// Where a delivery is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or being attempted).
    Pending,
    /// A 2xx answer came.
    Delivered,
    /// It gave up: out of attempts, or refused for good (the address, the webhook gone).
    Failed,
}

impl DeliveryStatus {
    /// The stored and wire text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// The status a stored text names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One delivery of one alert to one webhook: the outbox row and its delivery log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Stable across retries (`Signet-Delivery-Id`, `X-SikkerKey-Delivery-Id`).
    pub id: DeliveryId,
    /// Where it goes.
    pub webhook_id: WebhookId,
    /// The rule that made it; `None` for a test delivery.
    pub rule_id: Option<AlertRuleId>,
    /// The event name (`X-SikkerKey-Event`): the audit action, `burst` or `test`.
    pub event: String,
    /// The rule's severity.
    pub severity: String,
    /// The JSON body, exactly as it is sent on every attempt.
    pub payload: String,
    /// What makes it unique (the audit record and rule, or the burst window): a second insert
    /// with the same key is ignored. `None` for a test delivery.
    pub dedup: Option<String>,
    /// Its state.
    pub status: DeliveryStatus,
    /// Attempts started so far (a claim counts as one).
    pub attempts: u32,
    /// When the next attempt is due, Unix ms.
    pub next_attempt_ms: i64,
    /// While claimed: until when. A claim past this is free to take again.
    pub claim_until_ms: Option<i64>,
    /// The last answer's HTTP status.
    pub last_status_code: Option<u16>,
    /// The last failure's short class (`timeout`, `connect`, `status`, `address_refused`, ...).
    pub last_error: Option<String>,
    /// How long the last attempt took, ms.
    pub last_duration_ms: Option<i64>,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms.
    pub updated_ms: i64,
}

/// How an attempt ended, written by the holder of its claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryOutcome {
    /// `Pending` to retry at `next_attempt_ms`, or final.
    pub status: DeliveryStatus,
    /// When to retry (ignored unless pending).
    pub next_attempt_ms: i64,
    /// The answer's HTTP status, if one came.
    pub status_code: Option<u16>,
    /// The failure's short class.
    pub error: Option<String>,
    /// How long the attempt took, ms.
    pub duration_ms: i64,
    /// Unix ms.
    pub now_ms: i64,
}

/// Webhooks, alert rules, the tailer's cursor and the delivery outbox.
#[async_trait]
pub trait AlertStore {
    /// Adds a webhook. `Conflict::Id` if the id exists.
    async fn insert_webhook(&self, webhook: &WebhookRecord) -> StoreResult<()>;
    /// Every webhook, oldest first.
    async fn webhooks(&self) -> StoreResult<Vec<WebhookRecord>>;
    /// Replaces a webhook's name, URL, enabled flag and `updated_ms` (never its secret).
    /// `NotFound` if it does not exist.
    async fn update_webhook(&self, webhook: &WebhookRecord) -> StoreResult<()>;
    /// Deletes a webhook with its deliveries. `NotFound` if it does not exist.
    async fn delete_webhook(&self, id: &WebhookId) -> StoreResult<()>;
    /// Adds a rule. `Conflict::Id` if the id exists.
    async fn insert_alert_rule(&self, rule: &AlertRuleRecord) -> StoreResult<()>;
    /// Every rule, oldest first.
    async fn alert_rules(&self) -> StoreResult<Vec<AlertRuleRecord>>;
    /// Deletes a rule (its deliveries stay in the log). `NotFound` if it does not exist.
    async fn delete_alert_rule(&self, id: &AlertRuleId) -> StoreResult<()>;
    /// The tailer's cursor; `None` before the first tailer ran.
    async fn alert_cursor(&self) -> StoreResult<Option<AlertCursor>>;
    /// Inserts `deliveries` (skipping any whose `dedup` is taken) and moves the cursor to
    /// `next`, in one transaction, only if the cursor is still at `expected` (`None`: there is
    /// no cursor yet). Otherwise `NotFound` and nothing is written. Answers how many deliveries
    /// were inserted.
    async fn advance_alerts(
        &self,
        expected: Option<u64>,
        next: &AlertCursor,
        deliveries: &[DeliveryRecord],
    ) -> StoreResult<u64>;
    /// Adds one delivery outside the tailer (a test delivery). `Conflict::Id` if the id exists.
    async fn insert_delivery(&self, delivery: &DeliveryRecord) -> StoreResult<()>;
    /// Claims up to `limit` pending deliveries due at `now_ms` and not claimed (or whose claim
    /// ran out), oldest due first: each gets `claim_until_ms` and one more attempt. Concurrent
    /// callers never claim the same delivery.
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        claim_until_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryRecord>>;
    /// Records an attempt's outcome and releases the claim, only if the delivery is still
    /// pending and claimed until `claim_until_ms` (the caller's claim). `NotFound` otherwise.
    async fn finish_delivery(
        &self,
        id: &DeliveryId,
        claim_until_ms: i64,
        outcome: &DeliveryOutcome,
    ) -> StoreResult<()>;
    /// The newest deliveries first, at most `limit`.
    async fn deliveries(&self, limit: u32) -> StoreResult<Vec<DeliveryRecord>>;
}
