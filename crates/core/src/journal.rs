//! The audit writer every service shares: events stamped now, a store handle whose next write
//! commits with its record, the fail-closed journal, and the refused-request records (counted
//! per source by `crate::failures`). What is recorded and how it is verified is `crate::audit`.

use std::sync::Arc;

use signet_api::audit::{AuditAction, DenialReason};
use signet_store::{
    ActorKind, AuditEvent, AuditResult, Audited, JournalBatch, ReadMark, SignedEvidence, Store,
};

use crate::address::ClientAddr;
use crate::context::Context;
use crate::metrics::ReadOutcome;
use crate::principal::{AuthedMachine, AuthedOperator};
use crate::{CoreError, CoreResult};

/// Who an audit record is about: the kind and id of the actor, and where they acted from.
#[derive(Clone)]
pub(crate) struct Actor {
    kind: ActorKind,
    id: String,
    ip: String,
    /// What an authenticated machine signed; every record about its request carries it.
    evidence: Option<Arc<SignedEvidence>>,
}

impl Actor {
    pub(crate) fn machine(m: &AuthedMachine) -> Self {
        Self {
            kind: ActorKind::Machine,
            id: m.record.id.to_string(),
            ip: m.source_ip.to_string(),
            evidence: m.evidence.clone(),
        }
    }

    pub(crate) fn operator(op: &AuthedOperator) -> Self {
        let (kind, id) = match op.ai_agent {
            Some(agent) => (ActorKind::AiAgent, agent.to_string()),
            None => (ActorKind::Operator, op.id.to_string()),
        };
        Self {
            kind,
            id,
            ip: op.source_ip.to_string(),
            evidence: None,
        }
    }

    pub(crate) fn new(kind: ActorKind, id: &str, ip: &str) -> Self {
        Self {
            kind,
            id: id.to_owned(),
            ip: ip.to_owned(),
            evidence: None,
        }
    }
}

impl Context {
    /// Builds an event stamped now.
    pub(crate) fn event(
        &self,
        actor: &Actor,
        action: AuditAction,
        target: &str,
        result: AuditResult,
        detail: &str,
    ) -> AuditEvent {
        self.owned_event(
            actor.clone(),
            action,
            target.to_owned(),
            result,
            detail.to_owned(),
        )
    }

    /// [`Context::event`] taking what the event keeps, for a caller that has no further use
    /// for it: on the signed-read path this saves copying the actor's id, address and the
    /// detail once per read.
    pub(crate) fn owned_event(
        &self,
        actor: Actor,
        action: AuditAction,
        target: String,
        result: AuditResult,
        detail: String,
    ) -> AuditEvent {
        AuditEvent {
            ts_ms: self.now_ms(),
            actor_kind: actor.kind,
            actor_id: actor.id,
            action: action.as_str().to_owned(),
            target,
            source_ip: actor.ip,
            result,
            detail,
            evidence: actor.evidence,
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

    /// [`Context::audited_event`] for an operator action that succeeds if the write does.
    pub(crate) fn audited(
        &self,
        op: &AuthedOperator,
        action: AuditAction,
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
        let started = std::time::Instant::now();
        let appended = self
            .store
            .append_journal(JournalBatch { events, read_marks }, self.chain.clone())
            .await;
        self.metrics
            .audit_append
            .observe_duration(started.elapsed());
        match appended {
            // The devices get the records before the caller may release anything they
            // describe: a required device that cannot write them fails the request as the
            // store would (`crate::audit_device`).
            Ok(seqs) => self.flush_devices(seqs.iter().copied().max()).await,
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
        action: AuditAction,
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
        action: AuditAction,
        target: &str,
        reason: DenialReason,
    ) -> CoreResult<()> {
        // The access log's line for a refused machine request: ids and the reason, never a
        // value. `target` is an id (or empty for one that could not be parsed).
        tracing::warn!(
            machine = %m.record.id,
            action = action.as_str(),
            target,
            reason = reason.as_str(),
            "machine request denied"
        );
        let e = self.event(
            &Actor::machine(m),
            action,
            target,
            AuditResult::Denied,
            reason.as_str(),
        );
        self.journal(vec![e], Vec::new()).await?;
        // Counted once recorded: a refusal whose record failed is answered (and counted) as
        // an error instead (`Reads::read_secret`).
        if action == AuditAction::SecretRead {
            self.metrics.read(ReadOutcome::of_denial(reason));
        }
        Ok(())
    }

    /// Records a request that did not authenticate. Best effort: the caller answers 401 either
    /// way. Spends no budget (see [`Self::audit_signed_failure`]).
    pub(crate) async fn audit_auth_failure(
        &self,
        kind: ActorKind,
        claimed: &str,
        ip: ClientAddr,
        action: AuditAction,
        reason: DenialReason,
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
        action: AuditAction,
        reason: DenialReason,
        spends: bool,
    ) -> Option<u64> {
        let outcome = self
            .failures
            .record(ip, reason.as_str(), spends, self.now_ms());
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
                reason.as_str(),
            );
            let _ = self.journal(vec![e], Vec::new()).await;
        }
        outcome.over_budget
    }
}
