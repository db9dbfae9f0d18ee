//! Alert rules and the tailer that turns audit records into webhook deliveries (issue 12 §4).
//!
//! A rule is either a set of audit actions (any name of the audit vocabulary,
//! `signet_api::audit::AuditAction`, so actions added later work as soon as they exist),
//! optionally only with one result (`ok`, `denied`, `failed`), or a burst: at least N denied
//! machine reads (`secret_read`, `secret_export`, `secret_list`, `secret_poll`,
//! `machine_request_denied`, `auth_failure`) from one machine or one source address within W
//! seconds of the first of them. A burst window opens at the first such record, fires once
//! when the count reaches N, and closes W seconds after it opened; the next record opens a new
//! one. Each rule names its severity and the webhooks its alerts go to.
//!
//! The tailer reads the audit log from the persisted cursor, matches every record against the
//! rules, and commits the deliveries together with the cursor's next position and the burst
//! windows in progress, conditional on the cursor not having moved
//! (`AlertStore::advance_alerts`). Several replicas run it; one commits each stretch, the
//! others find the cursor moved and read on from its new position. Each delivery also carries
//! a unique key (the record, rule and webhook; or the burst window), so an alert is enqueued
//! once whatever races. The first tailer of a vault starts at the log's head: history from
//! before alerts existed raises nothing.
//!
//! Payloads follow SikkerKey's shape, `{id, event, severity, timestamp, data{...}}`, with the
//! record's actor, target, source address, result and detail: audit records never hold a
//! secret value, so neither does a delivery.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use signet_api::audit::AuditAction;
use signet_proto::{AlertRuleId, DeliveryId, WebhookId};
use signet_store::{
    ActorKind, AlertCursor, AlertRuleRecord, AuditRecord, AuditResult, DeliveryRecord,
    DeliveryStatus, StoreError,
};

use crate::context::Context;
use crate::principal::AuthedOperator;
use crate::role::Permission;
use crate::webhook::check_label;
use crate::{CoreError, CoreResult};

/// Audit records read per stretch.
const TAIL_BATCH: u32 = 500;
/// Stretches per call, so one call is bounded.
const TAIL_ROUNDS: usize = 20;
/// Burst windows kept in the cursor's state at most; the oldest go first.
const MAX_WINDOWS: usize = 10_000;
/// Rules per vault, webhooks per rule, actions per rule.
const MAX_RULES: usize = 100;
const MAX_RULE_WEBHOOKS: usize = 10;
const MAX_RULE_ACTIONS: usize = 64;

/// The actions a burst rule counts when they are denied: a machine's reads, refused.
const BURST_ACTIONS: [AuditAction; 6] = [
    AuditAction::SecretRead,
    AuditAction::SecretExport,
    AuditAction::SecretList,
    AuditAction::SecretPoll,
    AuditAction::MachineRequestDenied,
    AuditAction::AuthFailure,
];

/// How urgent a rule's alerts are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// For the record.
    Info,
    /// Look soon.
    Warning,
    /// Look now.
    Critical,
}

impl Severity {
    /// The stored and wire text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }

    /// The severity a text names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "info" => Some(Self::Info),
            "warning" => Some(Self::Warning),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }
}

/// Whom a burst is counted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BurstSubject {
    /// The machine the records name (machine actors only).
    Machine,
    /// The source address.
    Source,
}

impl BurstSubject {
    /// The wire text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Machine => "machine",
            Self::Source => "source",
        }
    }
}

/// What a rule matches; stored as JSON in the rule's `spec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RuleSpec {
    /// These actions, optionally with one result.
    Actions {
        /// Action names (the audit vocabulary's text).
        actions: Vec<String>,
        /// `ok`, `denied` or `failed`; `None`: any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<String>,
    },
    /// At least `threshold` denied machine reads per subject within `window_ms`.
    Burst {
        /// How many.
        threshold: u32,
        /// The window, ms.
        window_ms: i64,
        /// Per machine or per source address.
        per: BurstSubject,
    },
}

/// A new rule as the operator asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRule {
    /// Its label.
    pub name: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// Audit actions (for an action rule).
    pub actions: Option<Vec<String>>,
    /// Only this result.
    pub result: Option<String>,
    /// Or a burst: threshold, window seconds, `machine` or `source`.
    pub burst: Option<(u32, u32, String)>,
    /// Webhook ids.
    pub webhooks: Vec<String>,
}

/// A rule as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleView {
    /// Its id.
    pub id: AlertRuleId,
    /// Its label.
    pub name: String,
    /// Its severity's text.
    pub severity: String,
    /// What it matches (`None` if the stored spec no longer parses).
    pub spec: Option<RuleSpec>,
    /// Where its alerts go.
    pub webhooks: Vec<WebhookId>,
    /// Unix ms.
    pub created_at: i64,
}

impl From<&AlertRuleRecord> for RuleView {
    fn from(r: &AlertRuleRecord) -> Self {
        Self {
            id: r.id.clone(),
            name: r.name.clone(),
            severity: r.severity.clone(),
            spec: serde_json::from_str(&r.spec).ok(),
            webhooks: r.webhooks.clone(),
            created_at: r.created_ms,
        }
    }
}

/// One burst window in progress: when it opened, how long it lasts, how many so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Window {
    start: i64,
    len: i64,
    count: u32,
    first_seq: u64,
}

/// The cursor's state: burst windows by `rule|subject`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct TailState {
    #[serde(default)]
    windows: BTreeMap<String, Window>,
}

/// What one call of the tailer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TailReport {
    /// Audit records read and committed past.
    pub records: u64,
    /// Deliveries enqueued.
    pub enqueued: u64,
    /// Stretches another replica committed first.
    pub lost: u32,
}

/// Alert rules and the tailer.
#[derive(Clone)]
pub struct Alerts {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
    /// Wakes the tailer (the lead connects it to the event hub at merge).
    pub(crate) wake: Arc<tokio::sync::Notify>,
    /// Wakes the dispatcher when the tailer enqueued something.
    pub(crate) dispatch_wake: Arc<tokio::sync::Notify>,
}

impl Alerts {
    /// What the tailer loop waits on besides its interval.
    pub fn wakeup(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    /// Every rule, oldest first.
    pub async fn rules(&self, op: &AuthedOperator) -> CoreResult<Vec<RuleView>> {
        self.cx
            .require(op, Permission::ManageVault, AuditAction::AlertRuleList)
            .await?;
        Ok(self
            .cx
            .store
            .alert_rules()
            .await?
            .iter()
            .map(RuleView::from)
            .collect())
    }

    /// Creates a rule.
    pub async fn create(&self, op: &AuthedOperator, new: NewRule) -> CoreResult<RuleView> {
        self.cx
            .require(op, Permission::ManageVault, AuditAction::AlertRuleCreate)
            .await?;
        check_label(&new.name, "name")?;
        let severity = Severity::parse(&new.severity)
            .ok_or_else(|| CoreError::bad("severity must be info, warning or critical"))?;
        let spec = match (new.actions, new.burst) {
            (Some(actions), None) => {
                if actions.is_empty() || actions.len() > MAX_RULE_ACTIONS {
                    return Err(CoreError::bad(format!(
                        "actions must name 1 to {MAX_RULE_ACTIONS} audit actions"
                    )));
                }
                let mut seen = HashSet::new();
                for a in &actions {
                    if AuditAction::parse(a).is_none() {
                        return Err(CoreError::bad(format!(
                            "unknown audit action `{a}` (docs/api.md lists them)"
                        )));
                    }
                    if !seen.insert(a.as_str()) {
                        return Err(CoreError::bad(format!("action `{a}` is named twice")));
                    }
                }
                if let Some(r) = &new.result
                    && AuditResult::parse(r).is_none()
                {
                    return Err(CoreError::bad("result must be ok, denied or failed"));
                }
                RuleSpec::Actions {
                    actions,
                    result: new.result,
                }
            }
            (None, Some((threshold, window_secs, per))) => {
                if new.result.is_some() {
                    return Err(CoreError::bad(
                        "a burst rule counts denied reads; it takes no result",
                    ));
                }
                if !(2..=100_000).contains(&threshold) {
                    return Err(CoreError::bad("burst threshold must be 2 to 100000"));
                }
                if !(1..=86_400).contains(&window_secs) {
                    return Err(CoreError::bad("burst window must be 1 to 86400 seconds"));
                }
                let per = match per.as_str() {
                    "machine" => BurstSubject::Machine,
                    "source" => BurstSubject::Source,
                    _ => return Err(CoreError::bad("burst per must be machine or source")),
                };
                RuleSpec::Burst {
                    threshold,
                    window_ms: i64::from(window_secs) * 1000,
                    per,
                }
            }
            _ => {
                return Err(CoreError::bad(
                    "a rule has either actions or a burst, not both or neither",
                ));
            }
        };
        if new.webhooks.is_empty() || new.webhooks.len() > MAX_RULE_WEBHOOKS {
            return Err(CoreError::bad(format!(
                "webhooks must name 1 to {MAX_RULE_WEBHOOKS} webhooks"
            )));
        }
        let known: HashSet<WebhookId> = self
            .cx
            .store
            .webhooks()
            .await?
            .into_iter()
            .map(|w| w.id)
            .collect();
        let mut webhooks = Vec::with_capacity(new.webhooks.len());
        for w in &new.webhooks {
            match WebhookId::parse(w) {
                Ok(id) if known.contains(&id) && !webhooks.contains(&id) => webhooks.push(id),
                _ => return Err(CoreError::bad(format!("no such webhook `{w}`"))),
            }
        }
        if self.cx.store.alert_rules().await?.len() >= MAX_RULES {
            return Err(CoreError::bad(format!(
                "a vault has at most {MAX_RULES} rules"
            )));
        }
        let spec_json = serde_json::to_string(&spec).map_err(|_| CoreError::Unavailable)?;
        let rec = AlertRuleRecord {
            id: AlertRuleId::generate(),
            name: new.name,
            severity: severity.as_str().to_owned(),
            spec: spec_json.clone(),
            webhooks,
            created_by: op.id,
            created_ms: self.cx.now_ms(),
        };
        self.cx
            .audited(
                op,
                AuditAction::AlertRuleCreate,
                rec.id.as_str(),
                &spec_json,
            )
            .insert_alert_rule(&rec)
            .await?;
        Ok(RuleView::from(&rec))
    }

    /// Deletes a rule; its deliveries stay in the log.
    pub async fn delete(&self, op: &AuthedOperator, id: &str) -> CoreResult<AlertRuleId> {
        self.cx
            .require(op, Permission::ManageVault, AuditAction::AlertRuleDelete)
            .await?;
        let Ok(id) = AlertRuleId::parse(id) else {
            return Err(CoreError::NotFound);
        };
        match self
            .cx
            .audited(op, AuditAction::AlertRuleDelete, id.as_str(), "")
            .delete_alert_rule(&id)
            .await
        {
            Ok(()) => Ok(id),
            Err(StoreError::NotFound) => Err(CoreError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads the audit log from the cursor and enqueues what the rules match, until the log's
    /// end (or a bounded number of stretches).
    pub async fn tail(&self) -> CoreResult<TailReport> {
        let store = &self.cx.store;
        let mut report = TailReport::default();
        for _ in 0..TAIL_ROUNDS {
            let Some(cursor) = store.alert_cursor().await? else {
                // The first tailer starts at the head: nothing from before is alerted on.
                let next = store.audit_head().await?.map_or(1, |h| h.seq + 1);
                let start = AlertCursor {
                    next_seq: next,
                    state: "{}".to_owned(),
                };
                match store.advance_alerts(None, &start, &[]).await {
                    Ok(_) | Err(StoreError::NotFound) => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            let records = store.audit_range(cursor.next_seq, TAIL_BATCH).await?;
            let Some(last) = records.last() else {
                break;
            };
            let next_seq = last.seq + 1;
            let mut state: TailState = serde_json::from_str(&cursor.state).unwrap_or_default();
            let deliveries = self.matches(&records, &mut state).await?;
            let next = AlertCursor {
                next_seq,
                state: serde_json::to_string(&state).map_err(|_| CoreError::Unavailable)?,
            };
            match store
                .advance_alerts(Some(cursor.next_seq), &next, &deliveries)
                .await
            {
                Ok(n) => {
                    report.records += records.len() as u64;
                    report.enqueued += n;
                    if n > 0 {
                        self.dispatch_wake.notify_one();
                    }
                }
                // Another replica committed this stretch: read on from where it left off.
                Err(StoreError::NotFound) => report.lost += 1,
                Err(e) => return Err(e.into()),
            }
            if records.len() < TAIL_BATCH as usize {
                break;
            }
        }
        Ok(report)
    }

    /// The deliveries a stretch of records makes, moving the burst windows along.
    async fn matches(
        &self,
        records: &[AuditRecord],
        state: &mut TailState,
    ) -> CoreResult<Vec<DeliveryRecord>> {
        let rules: Vec<(AlertRuleRecord, RuleSpec)> = self
            .cx
            .store
            .alert_rules()
            .await?
            .into_iter()
            .filter_map(|r| {
                let spec = serde_json::from_str(&r.spec).ok()?;
                Some((r, spec))
            })
            .collect();
        let enabled: HashMap<WebhookId, bool> = self
            .cx
            .store
            .webhooks()
            .await?
            .into_iter()
            .map(|w| (w.id, w.enabled))
            .collect();
        let now = self.cx.now_ms();
        let mut out = Vec::new();
        for rec in records {
            let e = &rec.event;
            for (rule, spec) in &rules {
                let alert = match spec {
                    RuleSpec::Actions { actions, result } => {
                        let hit = actions.contains(&e.action)
                            && result.as_deref().is_none_or(|r| r == e.result.as_str());
                        hit.then(|| Alert::record(rec, format!("{}:{}", rec.seq, rule.id)))
                    }
                    RuleSpec::Burst {
                        threshold,
                        window_ms,
                        per,
                    } => burst(state, rule, rec, *threshold, *window_ms, *per),
                };
                let Some(alert) = alert else { continue };
                for w in &rule.webhooks {
                    if enabled.get(w) != Some(&true) {
                        continue;
                    }
                    out.push(self.delivery(rule, w, &alert, now));
                }
            }
        }
        // Windows that closed before the newest record can never fire again.
        if let Some(last) = records.last() {
            let t = last.event.ts_ms;
            state.windows.retain(|_, w| w.start + w.len > t);
        }
        while state.windows.len() > MAX_WINDOWS {
            let oldest = state
                .windows
                .iter()
                .min_by_key(|(_, w)| w.start)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => state.windows.remove(&k),
                None => break,
            };
        }
        Ok(out)
    }

    fn delivery(
        &self,
        rule: &AlertRuleRecord,
        webhook: &WebhookId,
        alert: &Alert,
        now: i64,
    ) -> DeliveryRecord {
        let id = DeliveryId::generate();
        let mut data = alert.data.clone();
        if let Some(obj) = data.as_object_mut() {
            obj.insert("vaultId".to_owned(), self.cx.vault.as_str().into());
            obj.insert(
                "rule".to_owned(),
                serde_json::json!({ "id": rule.id.as_str(), "name": rule.name }),
            );
        }
        let payload = serde_json::json!({
            "id": id.to_string(),
            "event": alert.event,
            "severity": rule.severity,
            "timestamp": alert.ts_ms,
            "data": data,
        });
        DeliveryRecord {
            id,
            webhook_id: webhook.clone(),
            rule_id: Some(rule.id.clone()),
            event: alert.event.clone(),
            severity: rule.severity.clone(),
            payload: payload.to_string(),
            dedup: Some(format!("{}:{webhook}", alert.dedup)),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_ms: now,
            claim_until_ms: None,
            last_status_code: None,
            last_error: None,
            last_duration_ms: None,
            created_ms: now,
            updated_ms: now,
        }
    }
}

/// One alert before it is addressed to webhooks.
struct Alert {
    event: String,
    ts_ms: i64,
    data: serde_json::Value,
    /// Unique per alert and rule; the webhook is appended.
    dedup: String,
}

impl Alert {
    /// An alert about one audit record, in SikkerKey's `data` shape plus Signet's fields.
    fn record(rec: &AuditRecord, dedup: String) -> Self {
        let e = &rec.event;
        let machine = (e.actor_kind == ActorKind::Machine).then_some(e.actor_id.as_str());
        let operator = (e.actor_kind == ActorKind::Operator).then_some(e.actor_id.as_str());
        let secret = e.target.starts_with("sk_").then_some(e.target.as_str());
        Self {
            event: e.action.clone(),
            ts_ms: e.ts_ms,
            data: serde_json::json!({
                "userId": serde_json::Value::Null,
                "operatorId": operator,
                "machineId": machine,
                "secretId": secret,
                "sourceIp": e.source_ip,
                "detail": e.detail,
                "actorKind": e.actor_kind.as_str(),
                "actorId": e.actor_id,
                "target": e.target,
                "result": e.result.as_str(),
                "auditSeq": rec.seq,
            }),
            dedup,
        }
    }
}

/// Counts `rec` into its burst window; the alert when the count reaches the threshold.
fn burst(
    state: &mut TailState,
    rule: &AlertRuleRecord,
    rec: &AuditRecord,
    threshold: u32,
    window_ms: i64,
    per: BurstSubject,
) -> Option<Alert> {
    let e = &rec.event;
    if e.result != AuditResult::Denied || !BURST_ACTIONS.iter().any(|a| a.as_str() == e.action) {
        return None;
    }
    let subject = match per {
        BurstSubject::Machine if e.actor_kind == ActorKind::Machine => e.actor_id.as_str(),
        BurstSubject::Machine => return None,
        BurstSubject::Source if !e.source_ip.is_empty() => e.source_ip.as_str(),
        BurstSubject::Source => return None,
    };
    let key = format!("{}|{subject}", rule.id);
    let w = state.windows.entry(key).or_insert(Window {
        start: e.ts_ms,
        len: window_ms,
        count: 0,
        first_seq: rec.seq,
    });
    if e.ts_ms >= w.start + w.len {
        *w = Window {
            start: e.ts_ms,
            len: window_ms,
            count: 0,
            first_seq: rec.seq,
        };
    }
    w.count = w.count.saturating_add(1);
    if w.count != threshold {
        return None;
    }
    let machine = (per == BurstSubject::Machine).then_some(subject);
    let source = (per == BurstSubject::Source).then_some(subject);
    Some(Alert {
        event: "burst".to_owned(),
        ts_ms: e.ts_ms,
        data: serde_json::json!({
            "userId": serde_json::Value::Null,
            "machineId": machine,
            "secretId": serde_json::Value::Null,
            "sourceIp": source,
            "detail": format!(
                "{threshold} denied machine reads per {} within {} s",
                per.as_str(),
                window_ms / 1000
            ),
            "per": per.as_str(),
            "subject": subject,
            "count": threshold,
            "windowSeconds": window_ms / 1000,
            "windowStart": w.start,
            "firstAuditSeq": w.first_seq,
            "lastAuditSeq": rec.seq,
        }),
        dedup: format!("burst:{}:{subject}:{}", rule.id, w.start),
    })
}
