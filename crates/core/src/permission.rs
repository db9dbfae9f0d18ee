//! The audited permission checks every service runs before it acts: the role table
//! (`crate::role`), the operator's project scope, and step-up for browser sessions. Each refusal
//! is written to the audit log before it is answered; an unrecorded denial is an outage.

use signet_api::audit::{AuditAction, DenialReason};
use signet_proto::ProjectId;
use signet_store::AuditResult;

use crate::context::Context;
use crate::journal::Actor;
use crate::principal::AuthedOperator;
use crate::role::{Permission, Scope, allows};
use crate::{CoreError, CoreResult};

/// A second factor counts for step-up this long: 5 minutes.
pub const STEP_UP_WINDOW_MS: i64 = 5 * 60 * 1000;

impl Context {
    /// Audits a refusal of `action` and returns the error to answer with. A failed journal
    /// write is the answer instead: an unrecorded denial is an outage.
    pub(crate) async fn deny(
        &self,
        op: &AuthedOperator,
        action: AuditAction,
        detail: &str,
    ) -> CoreError {
        let e = self.event(
            &Actor::operator(op),
            action,
            "",
            AuditResult::Denied,
            detail,
        );
        match self.journal(vec![e], Vec::new()).await {
            Ok(()) => CoreError::Forbidden,
            Err(err) => err,
        }
    }

    /// Refuses a scoped operator: for views of the whole vault (the audit log, tokens).
    pub(crate) async fn require_unscoped(
        &self,
        op: &AuthedOperator,
        action: AuditAction,
    ) -> CoreResult<()> {
        if op.scope.is_limited() {
            return Err(self.deny(op, action, "scope=projects needs=all").await);
        }
        Ok(())
    }

    /// Refuses unless `project` (already parsed; `None` when the caller named something that
    /// is not a project id) is in the operator's scope. Whether it exists is the caller's
    /// business: to a scoped operator, missing and out of scope are the same 403.
    pub(crate) async fn require_project(
        &self,
        op: &AuthedOperator,
        project: Option<&ProjectId>,
        action: AuditAction,
    ) -> CoreResult<()> {
        match (&op.scope, project) {
            (Scope::All, _) => Ok(()),
            (scope, Some(p)) if scope.covers(p) => Ok(()),
            _ => Err(self.deny(op, action, "scope=out").await),
        }
    }

    /// Refuses, and audits the refusal, unless the operator's role holds `perm`. `action` names
    /// what was attempted, as the success record would. It runs before any input is parsed, so
    /// the record carries no caller-chosen target text.
    pub(crate) async fn require(
        &self,
        op: &AuthedOperator,
        perm: Permission,
        action: AuditAction,
    ) -> CoreResult<()> {
        if allows(op.role, perm) {
            return Ok(());
        }
        let e = self.event(
            &Actor::operator(op),
            action,
            "",
            AuditResult::Denied,
            &format!("role={} needs={}", op.role.as_str(), perm.as_str()),
        );
        // Fail closed like every other audited decision: an unrecorded denial is an outage.
        self.journal(vec![e], Vec::new()).await?;
        Err(CoreError::Forbidden)
    }

    /// Refuses with [`CoreError::StepUpRequired`] (audited) unless this browser session gave a
    /// second factor within [`STEP_UP_WINDOW_MS`]. Signed requests pass (module docs).
    pub(crate) async fn require_step_up(
        &self,
        op: &AuthedOperator,
        action: AuditAction,
    ) -> CoreResult<()> {
        let Some(grant) = op.session else {
            return Ok(());
        };
        let fresh = grant
            .step_up_ms
            .is_some_and(|t| self.now_ms() - t < STEP_UP_WINDOW_MS);
        if fresh {
            return Ok(());
        }
        let e = self.event(
            &Actor::operator(op),
            action,
            "",
            AuditResult::Denied,
            &format!("reason={}", DenialReason::StepUpRequired),
        );
        self.journal(vec![e], Vec::new()).await?;
        Err(CoreError::StepUpRequired)
    }
}
