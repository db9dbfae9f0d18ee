//! The audit log: what is recorded, how records are chained, and how the chain is verified.
//!
//! Every record is linked to its predecessor with `HMAC-SHA256(audit_key, prev_hash || record)`,
//! where the key is derived from the root key. Editing, deleting or reordering a row breaks the
//! chain, and without the root key nobody can recompute it. A separately stored head (newest seq
//! and hash) makes deleting the newest rows detectable too.
//!
//! Writes are fail-closed: a machine read returns a value only after its record is durable.
//! Durability does not cap throughput because the store group-commits: every append queued while
//! one transaction is being synced goes into the next one.

use std::sync::Arc;

use signet_api::audit::AuditAction;
use signet_store::{ActorKind, AuditChain, AuditEvent, AuditFilter, AuditRecord, AuditResult};

pub use crate::chain::ChainKey;
use crate::context::Context;
use crate::journal::Actor;
use crate::principal::AuthedOperator;
use crate::role::Permission;
use crate::{CoreError, CoreResult};

/// Records per page when walking the chain.
const VERIFY_PAGE: u32 = 1000;

/// The outcome of `signet audit verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Whether the whole chain checked out.
    pub ok: bool,
    /// How many records were checked.
    pub records: u64,
    /// The stored head's sequence number.
    pub head_seq: Option<u64>,
    /// The first record that failed, if any.
    pub first_bad_seq: Option<u64>,
    /// What was wrong, in words.
    pub problem: Option<String>,
}

/// A record as listed to operators.
#[derive(Debug, Clone)]
pub struct AuditView {
    /// Position in the chain.
    pub seq: u64,
    /// Unix ms.
    pub ts: i64,
    /// `machine`, `operator`, `anonymous` or `system`.
    pub actor_kind: &'static str,
    /// The actor's id.
    pub actor_id: String,
    /// What happened.
    pub action: String,
    /// To what.
    pub target: String,
    /// From where.
    pub source_ip: String,
    /// `ok`, `denied` or `failed`.
    pub result: &'static str,
    /// Context.
    pub detail: String,
    /// The record's link, hex.
    pub hash: String,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        Self {
            seq: r.seq,
            ts: r.event.ts_ms,
            actor_kind: r.event.actor_kind.as_str(),
            actor_id: r.event.actor_id,
            action: r.event.action,
            target: r.event.target,
            source_ip: r.event.source_ip,
            result: r.event.result.as_str(),
            detail: r.event.detail,
            hash: hex::encode(r.hash),
        }
    }
}

/// The audit log as operators see it: listing, verifying the chain, and the aggregated authentication-failure records.
#[derive(Clone)]
pub struct AuditLog {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
}

impl AuditLog {
    /// Lists records, newest first. Not for scoped operators: the log covers every project.
    pub async fn audit_list(
        &self,
        op: &AuthedOperator,
        filter: &AuditFilter,
    ) -> CoreResult<Vec<AuditView>> {
        self.cx.require_unscoped(op, AuditAction::AuditList).await?;
        let mut f = filter.clone();
        f.limit = f.limit.clamp(1, 1000);
        Ok(self
            .cx
            .store
            .audit(&f)
            .await?
            .into_iter()
            .map(AuditView::from)
            .collect())
    }

    /// Walks the whole chain and checks every link, the sequence, and the head.
    pub async fn audit_verify(&self, op: &AuthedOperator) -> CoreResult<VerifyReport> {
        self.cx
            .require(op, Permission::Read, AuditAction::AuditVerify)
            .await?;
        self.cx
            .require_unscoped(op, AuditAction::AuditVerify)
            .await?;
        let report = verify_chain(self.cx.store.as_ref(), self.cx.chain.as_ref()).await?;
        self.cx
            .audit_operator(
                op,
                AuditAction::AuditVerify,
                "",
                if report.ok { "ok" } else { "broken" },
            )
            .await?;
        Ok(report)
    }
}

impl AuditLog {
    /// Writes one `auth_failures` record per source whose interval has ended (every pending
    /// one, when `all`: on shutdown). Run periodically; returns how many records it wrote.
    pub async fn flush_auth_failures(&self, all: bool) -> CoreResult<usize> {
        let now = self.cx.now_ms();
        let due = self.cx.failures.take_due(now, all);
        if due.is_empty() {
            return Ok(0);
        }
        let events: Vec<AuditEvent> = due
            .iter()
            .map(|d| {
                self.cx.event(
                    &Actor::new(ActorKind::Anonymous, "", &d.source),
                    AuditAction::AuthFailures,
                    "",
                    AuditResult::Denied,
                    &d.tally.detail(now.saturating_sub(d.started_ms)),
                )
            })
            .collect();
        let n = events.len();
        self.cx.journal(events, Vec::new()).await?;
        Ok(n)
    }

    /// How long failures are counted before their record is written, seconds.
    pub fn auth_failure_interval_secs(&self) -> u64 {
        self.cx.failures.limits.audit_interval_secs
    }

    /// Sources whose authentication failures are being tracked (memory is bounded by
    /// `auth_failure_max_sources`).
    pub fn auth_failure_sources(&self) -> usize {
        self.cx.failures.tracked()
    }
}

/// Checks the chain in `store` with `chain`. Separate from [`AuditLog`] so tools can run it too.
pub async fn verify_chain(
    store: &dyn signet_store::Store,
    chain: &dyn AuditChain,
) -> CoreResult<VerifyReport> {
    let head = store.audit_head().await?;
    let mut prev = [0u8; 32];
    let mut expected = 1u64;
    let mut checked = 0u64;
    let fail = |seq: u64, checked: u64, problem: String| VerifyReport {
        ok: false,
        records: checked,
        head_seq: head.map(|h| h.seq),
        first_bad_seq: Some(seq),
        problem: Some(problem),
    };
    loop {
        let page = store.audit_range(expected, VERIFY_PAGE).await?;
        if page.is_empty() {
            break;
        }
        for r in page {
            if r.seq != expected {
                return Ok(fail(
                    expected,
                    checked,
                    format!("record {expected} is missing (next is {})", r.seq),
                ));
            }
            if r.prev_hash != prev {
                return Ok(fail(
                    r.seq,
                    checked,
                    format!("record {} does not link to its predecessor", r.seq),
                ));
            }
            if chain.link(&prev, r.seq, &r.event) != r.hash {
                return Ok(fail(
                    r.seq,
                    checked,
                    format!("record {} was altered", r.seq),
                ));
            }
            prev = r.hash;
            expected += 1;
            checked += 1;
        }
    }
    let last = expected - 1;
    match head {
        None if last == 0 => {}
        None => return Ok(fail(1, checked, "the chain head is missing".to_owned())),
        Some(h) if h.seq != last => {
            return Ok(fail(
                last + 1,
                checked,
                format!("the head says {} records but {} remain", h.seq, last),
            ));
        }
        Some(h) if h.hash != prev => {
            return Ok(fail(
                last,
                checked,
                "the head does not match the newest record".to_owned(),
            ));
        }
        Some(_) => {}
    }
    Ok(VerifyReport {
        ok: true,
        records: checked,
        head_seq: head.map(|h| h.seq),
        first_bad_seq: None,
        problem: None,
    })
}

/// Parses an audit result filter value.
pub fn parse_result(s: &str) -> CoreResult<AuditResult> {
    AuditResult::parse(s).ok_or_else(|| CoreError::bad("result must be ok, denied or failed"))
}
