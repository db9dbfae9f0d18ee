//! Machine lifecycle as operators drive it. Every change is visible to the machine's very next
//! request, because authentication reads the machine's row on every request.

use std::sync::Arc;

use signet_api::audit::{AuditAction, DenialReason};
use signet_proto::{Fingerprint, MachineId, ProjectId, SecretId};
use signet_store::{Conflict, EnrollMethod, MachineRecord, MachineStatus, StoreError};

use crate::address::parse_cidr;
use crate::context::Context;
use crate::journal::Actor;
use crate::principal::AuthedOperator;
use crate::role::Permission;
use crate::{CoreError, CoreResult};

/// Most CIDRs one machine may be restricted to.
const MAX_MACHINE_CIDRS: usize = 64;

/// A machine as shown to operators.
#[derive(Debug, Clone)]
pub struct MachineView {
    /// Its id.
    pub id: MachineId,
    /// Its name.
    pub name: String,
    /// The hostname it reported.
    pub hostname: String,
    /// `pending`, `approved`, `denied` or `revoked`.
    pub status: &'static str,
    /// Whether it may act when approved.
    pub enabled: bool,
    /// `standard` or `ephemeral`.
    pub kind: &'static str,
    /// When it stops authenticating, Unix ms.
    pub expires_at: Option<i64>,
    /// `bootstrap`, `enrollment` or `request`.
    pub enrolled_via: &'static str,
    /// The key's fingerprint, to compare with what the machine printed.
    pub fingerprint: String,
    /// The raw public key, base64.
    pub public_key: String,
    /// Where it registered from.
    pub registered_ip: String,
    /// Source restriction; empty means any.
    pub allowed_cidrs: Vec<String>,
    /// Projects it is attached to.
    pub projects: Vec<ProjectId>,
    /// Secrets it is granted.
    pub grants: Vec<SecretId>,
    /// Unix ms.
    pub created_at: i64,
}

fn parse_machine_id(id: &str) -> CoreResult<MachineId> {
    MachineId::parse(id).map_err(|_| CoreError::NotFound)
}

/// Machine lifecycle for operators: views, approval, state, membership, grants and CIDRs.
#[derive(Clone)]
pub struct Machines {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
}

impl Machines {
    async fn view(&self, m: MachineRecord) -> CoreResult<MachineView> {
        let projects = self.cx.store.memberships(&m.id).await?;
        let grants = self.cx.store.grants(&m.id).await?;
        Ok(MachineView {
            fingerprint: m.public_key.fingerprint().to_string(),
            public_key: m.public_key.to_base64(),
            id: m.id,
            name: m.name,
            hostname: m.hostname,
            status: m.status.as_str(),
            enabled: m.enabled,
            kind: m.kind.as_str(),
            expires_at: m.expires_ms,
            enrolled_via: m.enrolled_via.as_str(),
            registered_ip: m.registered_ip,
            allowed_cidrs: m.allowed_cidrs,
            projects,
            grants,
            created_at: m.created_ms,
        })
    }

    /// One machine, whoever asks.
    async fn machine_by_id(&self, id: &str) -> CoreResult<MachineView> {
        let id = parse_machine_id(id)?;
        let m = self
            .cx
            .store
            .machine(&id)
            .await?
            .ok_or(CoreError::NotFound)?;
        self.view(m).await
    }

    /// What of `view` a scoped operator may see: `None` unless the machine is attached to a
    /// project in scope; otherwise only the in-scope projects and the grants on their secrets.
    async fn within_scope(
        &self,
        op: &AuthedOperator,
        mut view: MachineView,
    ) -> CoreResult<Option<MachineView>> {
        if !op.scope.is_limited() {
            return Ok(Some(view));
        }
        view.projects.retain(|p| op.scope.covers(p));
        if view.projects.is_empty() {
            return Ok(None);
        }
        let mut grants = Vec::with_capacity(view.grants.len());
        for g in view.grants {
            if let Some(s) = self.cx.store.secret(&g).await?
                && op.scope.covers(&s.project_id)
            {
                grants.push(g);
            }
        }
        view.grants = grants;
        Ok(Some(view))
    }

    /// One machine. To a scoped operator, a machine attached to none of their projects is the
    /// same 403 as one that does not exist.
    pub async fn machine_view(&self, op: &AuthedOperator, id: &str) -> CoreResult<MachineView> {
        let found = match self.machine_by_id(id).await {
            Ok(v) => Some(v),
            Err(CoreError::NotFound) if op.scope.is_limited() => None,
            Err(e) => return Err(e),
        };
        match found {
            Some(v) => match self.within_scope(op, v).await? {
                Some(v) => Ok(v),
                None => Err(self
                    .cx
                    .deny(op, AuditAction::MachineShow, "scope=out")
                    .await),
            },
            None => Err(self
                .cx
                .deny(op, AuditAction::MachineShow, "scope=out")
                .await),
        }
    }

    /// The machines the operator may see (all, unless scoped), newest first.
    pub async fn machine_views(&self, op: &AuthedOperator) -> CoreResult<Vec<MachineView>> {
        let mut out = Vec::new();
        for m in self.cx.store.machines().await? {
            if let Some(v) = self.within_scope(op, self.view(m).await?).await? {
                out.push(v);
            }
        }
        Ok(out)
    }

    async fn transition(
        &self,
        op: &AuthedOperator,
        id: &str,
        from: MachineStatus,
        to: MachineStatus,
        action: AuditAction,
    ) -> CoreResult<MachineView> {
        let mid = parse_machine_id(id)?;
        self.cx
            .audited(op, action, &mid.to_string(), "")
            .transition_machine(&mid, from, to)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => CoreError::Conflict(Conflict::MachineState),
                e => e.into(),
            })?;
        self.machine_by_id(id).await
    }

    /// Approves a pending machine. A tokenless request is approved only when the operator quotes
    /// the fingerprint the machine printed; for any machine, a quoted fingerprint must match.
    pub async fn approve_machine(
        &self,
        op: &AuthedOperator,
        id: &str,
        fingerprint: Option<&str>,
    ) -> CoreResult<MachineView> {
        self.cx
            .require(op, Permission::ManageMachines, AuditAction::MachineApprove)
            .await?;
        self.cx
            .require_step_up(op, AuditAction::MachineApprove)
            .await?;
        let mid = parse_machine_id(id)?;
        let m = self
            .cx
            .store
            .machine(&mid)
            .await?
            .ok_or(CoreError::NotFound)?;
        let quoted = match fingerprint {
            Some(f) => Some(
                Fingerprint::parse(f).ok_or_else(|| CoreError::bad("fingerprint is malformed"))?,
            ),
            None => None,
        };
        match quoted {
            Some(q) if !q.matches(&m.public_key.fingerprint()) => {
                let detail = DenialReason::FingerprintMismatch.as_str();
                let e = self.cx.event(
                    &crate::journal::Actor::operator(op),
                    AuditAction::MachineApprove,
                    &mid.to_string(),
                    signet_store::AuditResult::Denied,
                    detail,
                );
                self.cx.journal(vec![e], Vec::new()).await?;
                return Err(CoreError::bad(
                    "the fingerprint does not match this machine's key",
                ));
            }
            None if m.enrolled_via == EnrollMethod::Request => {
                return Err(CoreError::bad(
                    "a tokenless request is approved only with --fingerprint, as printed on the machine",
                ));
            }
            _ => {}
        }
        self.transition(
            op,
            id,
            MachineStatus::Pending,
            MachineStatus::Approved,
            AuditAction::MachineApprove,
        )
        .await
    }

    /// Denies a pending machine.
    pub async fn deny_machine(&self, op: &AuthedOperator, id: &str) -> CoreResult<MachineView> {
        self.cx
            .require(op, Permission::ManageMachines, AuditAction::MachineDeny)
            .await?;
        self.transition(
            op,
            id,
            MachineStatus::Pending,
            MachineStatus::Denied,
            AuditAction::MachineDeny,
        )
        .await
    }

    /// Enables or disables a machine.
    pub async fn set_machine_enabled(
        &self,
        op: &AuthedOperator,
        id: &str,
        enabled: bool,
    ) -> CoreResult<MachineView> {
        self.cx
            .require(
                op,
                Permission::ManageMachines,
                if enabled {
                    AuditAction::MachineEnable
                } else {
                    AuditAction::MachineDisable
                },
            )
            .await?;
        let mid = parse_machine_id(id)?;
        self.cx
            .audited(
                op,
                if enabled {
                    AuditAction::MachineEnable
                } else {
                    AuditAction::MachineDisable
                },
                &mid.to_string(),
                "",
            )
            .set_machine_enabled(&mid, enabled)
            .await?;
        if !enabled {
            // Leases of secrets with revoke-on-disable go with it (`crate::lease`).
            self.cx
                .revoke_machine_leases(&mid, &Actor::operator(op))
                .await;
        }
        self.machine_by_id(id).await
    }

    /// Revokes a machine: its grants and memberships go with it.
    pub async fn revoke_machine(&self, op: &AuthedOperator, id: &str) -> CoreResult<MachineView> {
        self.cx
            .require(op, Permission::ManageMachines, AuditAction::MachineRevoke)
            .await?;
        let mid = parse_machine_id(id)?;
        self.cx
            .audited(op, AuditAction::MachineRevoke, &mid.to_string(), "")
            .revoke_machine(&mid)
            .await?;
        self.cx
            .revoke_machine_leases(&mid, &Actor::operator(op))
            .await;
        self.machine_by_id(id).await
    }

    /// Attaches a machine to a project (which grants nothing by itself), or detaches it, which
    /// drops its grants on that project's secrets.
    pub async fn set_membership(
        &self,
        op: &AuthedOperator,
        id: &str,
        project: &str,
        attach: bool,
    ) -> CoreResult<MachineView> {
        self.cx
            .require(
                op,
                Permission::ManageMachines,
                if attach {
                    AuditAction::MachineAttach
                } else {
                    AuditAction::MachineDetach
                },
            )
            .await?;
        let mid = parse_machine_id(id)?;
        let pid = ProjectId::parse(project).map_err(|_| CoreError::bad("unknown project"))?;
        let action = if attach {
            AuditAction::MachineAttach
        } else {
            AuditAction::MachineDetach
        };
        let store = self.cx.audited(op, action, &mid.to_string(), pid.as_str());
        if attach {
            store.attach(&mid, &pid).await?;
        } else {
            store.detach(&mid, &pid).await?;
        }
        self.machine_by_id(id).await
    }

    /// Grants or ungrants secrets. A grant needs the machine attached to the secret's project, so
    /// that detaching always means "nothing in that project".
    pub async fn set_grants(
        &self,
        op: &AuthedOperator,
        id: &str,
        secrets: &[String],
        grant: bool,
    ) -> CoreResult<MachineView> {
        self.cx
            .require(
                op,
                Permission::ManageMachines,
                if grant {
                    AuditAction::GrantAdd
                } else {
                    AuditAction::GrantRemove
                },
            )
            .await?;
        let mid = parse_machine_id(id)?;
        if secrets.is_empty() || secrets.len() > 100 {
            return Err(CoreError::bad("give 1-100 secret ids"));
        }
        self.cx
            .store
            .machine(&mid)
            .await?
            .ok_or(CoreError::NotFound)?;
        let memberships = self.cx.store.memberships(&mid).await?;
        for s in secrets {
            let sid =
                SecretId::parse(s).map_err(|_| CoreError::bad(format!("unknown secret {s:?}")))?;
            if grant {
                let rec = self
                    .cx
                    .store
                    .secret(&sid)
                    .await?
                    .filter(|r| r.deleted_ms.is_none());
                let rec = rec.ok_or_else(|| CoreError::bad(format!("unknown secret {s:?}")))?;
                if !memberships.contains(&rec.project_id) {
                    return Err(CoreError::bad(format!(
                        "attach the machine to {} before granting {s}",
                        rec.project_id
                    )));
                }
            }
            let store = self.cx.audited(
                op,
                if grant {
                    AuditAction::GrantAdd
                } else {
                    AuditAction::GrantRemove
                },
                &mid.to_string(),
                sid.as_str(),
            );
            if grant {
                store.grant(&mid, &sid).await?;
            } else {
                store.ungrant(&mid, &sid).await?;
            }
        }
        self.machine_by_id(id).await
    }

    /// Replaces the machine's allowed source CIDRs (empty: any source).
    pub async fn set_machine_cidrs(
        &self,
        op: &AuthedOperator,
        id: &str,
        cidrs: &[String],
    ) -> CoreResult<MachineView> {
        self.cx
            .require(op, Permission::ManageMachines, AuditAction::MachineCidrsSet)
            .await?;
        self.cx
            .require_step_up(op, AuditAction::MachineCidrsSet)
            .await?;
        let mid = parse_machine_id(id)?;
        if cidrs.len() > MAX_MACHINE_CIDRS {
            return Err(CoreError::bad(format!("at most {MAX_MACHINE_CIDRS} CIDRs")));
        }
        let parsed = cidrs
            .iter()
            .map(|c| parse_cidr(c).map(|n| n.to_string()))
            .collect::<CoreResult<Vec<_>>>()?;
        self.cx
            .audited(
                op,
                AuditAction::MachineCidrsSet,
                &mid.to_string(),
                &parsed.join(","),
            )
            .set_machine_cidrs(&mid, &parsed)
            .await?;
        self.machine_by_id(id).await
    }
}
