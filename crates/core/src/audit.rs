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

use crate::network::ClientAddr;

use signet_crypto::AuditKey;
use signet_store::{
    ActorKind, AuditChain, AuditEvent, AuditFilter, AuditRecord, AuditResult, Audited,
    JournalBatch, ReadMark, Store,
};

use crate::auth::{AuthedMachine, AuthedOperator};
use crate::role::Permission;
use crate::{CoreError, CoreResult, Signet};

/// Who an audit record is about: the kind and id of the actor, and where they acted from.
pub(crate) struct Actor {
    kind: ActorKind,
    id: String,
    ip: String,
}

impl Actor {
    pub(crate) fn machine(m: &AuthedMachine) -> Self {
        Self {
            kind: ActorKind::Machine,
            id: m.record.id.to_string(),
            ip: m.source_ip.to_string(),
        }
    }

    pub(crate) fn operator(op: &AuthedOperator) -> Self {
        Self {
            kind: ActorKind::Operator,
            id: op.id.to_string(),
            ip: op.source_ip.to_string(),
        }
    }

    pub(crate) fn new(kind: ActorKind, id: &str, ip: &str) -> Self {
        Self {
            kind,
            id: id.to_owned(),
            ip: ip.to_owned(),
        }
    }
}

/// Records per page when walking the chain.
const VERIFY_PAGE: u32 = 1000;

/// Links records with the root-derived audit key.
pub struct ChainKey(AuditKey);

impl ChainKey {
    /// Wraps the key.
    pub fn new(key: AuditKey) -> Self {
        Self(key)
    }
}

/// The bytes a link covers: every field, length-prefixed so no two records encode alike.
fn encode(seq: u64, e: &AuditEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"signet/v1/audit");
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&e.ts_ms.to_be_bytes());
    for field in [
        e.actor_kind.as_str(),
        &e.actor_id,
        &e.action,
        &e.target,
        &e.source_ip,
        e.result.as_str(),
        &e.detail,
    ] {
        out.extend_from_slice(&(field.len() as u32).to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

impl AuditChain for ChainKey {
    fn link(&self, prev: &[u8; 32], seq: u64, event: &AuditEvent) -> [u8; 32] {
        self.0.link(prev, &encode(seq, event))
    }
}

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

impl Signet {
    /// Builds an event stamped now.
    pub(crate) fn event(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        result: AuditResult,
        detail: &str,
    ) -> AuditEvent {
        AuditEvent {
            ts_ms: self.now_ms(),
            actor_kind: actor.kind,
            actor_id: actor.id.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            source_ip: actor.ip.clone(),
            result,
            detail: detail.to_owned(),
        }
    }

    /// A store handle whose next write commits together with `event`: the change and its
    /// record are durable together or not at all (see `AuditStore::audited`). Call the write on
    /// it directly; reads go to `self.store`.
    pub(crate) fn audited_event(&self, event: AuditEvent) -> Box<dyn Store> {
        self.store.audited(Audited {
            event,
            chain: self.chain.clone(),
        })
    }

    /// [`Signet::audited_event`] for an operator action that succeeds if the write does.
    pub(crate) fn audited(
        &self,
        op: &AuthedOperator,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Box<dyn Store> {
        let e = self.event(
            &Actor::operator(op),
            action,
            target,
            AuditResult::Ok,
            detail,
        );
        self.audited_event(e)
    }

    /// Appends events (and read marks) durably. Fails closed: on error the caller must not
    /// release anything the events describe.
    pub(crate) async fn journal(
        &self,
        events: Vec<AuditEvent>,
        read_marks: Vec<ReadMark>,
    ) -> CoreResult<()> {
        match self
            .store
            .append_journal(JournalBatch { events, read_marks }, self.chain.clone())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::error!(error = %e, "audit append failed; failing closed");
                Err(CoreError::Unavailable)
            }
        }
    }

    /// Records an operator action that succeeded.
    pub(crate) async fn audit_operator(
        &self,
        op: &AuthedOperator,
        action: &str,
        target: &str,
        detail: &str,
    ) -> CoreResult<()> {
        let e = self.event(
            &Actor::operator(op),
            action,
            target,
            AuditResult::Ok,
            detail,
        );
        self.journal(vec![e], Vec::new()).await
    }

    /// Records a machine request that was refused after authentication.
    pub(crate) async fn audit_machine_denied(
        &self,
        m: &AuthedMachine,
        action: &str,
        target: &str,
        reason: &str,
    ) -> CoreResult<()> {
        let e = self.event(
            &Actor::machine(m),
            action,
            target,
            AuditResult::Denied,
            reason,
        );
        self.journal(vec![e], Vec::new()).await
    }

    /// Records a request that did not authenticate. Best effort: the caller answers 401 either
    /// way. Spends no budget (see [`Self::audit_signed_failure`]).
    pub(crate) async fn audit_auth_failure(
        &self,
        kind: ActorKind,
        claimed: &str,
        ip: ClientAddr,
        action: &str,
        reason: &str,
    ) {
        self.audit_signed_failure(kind, claimed, ip, action, reason, false)
            .await;
    }

    /// Records a refused signed request. Only the first failure of a source in an interval is
    /// written here; the rest are counted and written together (`crate::failures`). A failure
    /// that `spends` uses up the source's budget: `Some(retry_after_secs)` once it is spent.
    pub(crate) async fn audit_signed_failure(
        &self,
        kind: ActorKind,
        claimed: &str,
        ip: ClientAddr,
        action: &str,
        reason: &str,
        spends: bool,
    ) -> Option<u64> {
        let outcome = self.failures.record(ip, reason, spends, self.now_ms());
        if outcome.write_now {
            // The claimed id is attacker-chosen text; only something shaped like an id is kept.
            let id_like =
                claimed.len() <= 36 && claimed.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
            let claimed = if id_like { claimed } else { "(malformed)" };
            let e = self.event(
                &Actor::new(kind, claimed, &ip.to_string()),
                action,
                "",
                AuditResult::Denied,
                reason,
            );
            let _ = self.journal(vec![e], Vec::new()).await;
        }
        outcome.over_budget
    }

    /// Lists records, newest first. Not for scoped operators: the log covers every project.
    pub async fn audit_list(
        &self,
        op: &AuthedOperator,
        filter: &AuditFilter,
    ) -> CoreResult<Vec<AuditView>> {
        self.require_unscoped(op, "audit_list").await?;
        let mut f = filter.clone();
        f.limit = f.limit.clamp(1, 1000);
        Ok(self
            .store
            .audit(&f)
            .await?
            .into_iter()
            .map(AuditView::from)
            .collect())
    }

    /// Walks the whole chain and checks every link, the sequence, and the head.
    pub async fn audit_verify(&self, op: &AuthedOperator) -> CoreResult<VerifyReport> {
        self.require(op, Permission::Read, "audit_verify").await?;
        self.require_unscoped(op, "audit_verify").await?;
        let report = verify_chain(self.store.as_ref(), self.chain.as_ref()).await?;
        self.audit_operator(
            op,
            "audit_verify",
            "",
            if report.ok { "ok" } else { "broken" },
        )
        .await?;
        Ok(report)
    }
}

/// Checks the chain in `store` with `chain`. Separate from [`Signet`] so tools can run it too.
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
