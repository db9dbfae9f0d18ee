//! AI agents (issue 14 §2): a third identity class that manages, and never reads.
//!
//! An agent is a machine row with an [`AiAgentProfile`]: it enrolls like a machine (a tokenless
//! request or a bootstrap token), an operator approves it *as an agent* by quoting its
//! fingerprint and naming its scopes, and it signs every request like a machine (same headers,
//! `verify_strict`, window and nonces: `Auth::authenticate_signed_machine`). Authentication
//! refuses an agent's key on every machine route and a machine's key on every agent route
//! (uniform 401, reason `principal_class`), so an agent can never reach a route that returns a
//! value, and no agent route returns one.
//!
//! What an agent may do is this table, checked here and nowhere else ([`AiAgents::permit`]
//! runs first in every method below; it is the only way to the stand-in operator the other
//! services take):
//!
//! | scope            | methods                                                        |
//! |------------------|----------------------------------------------------------------|
//! | `projects.read`  | [`AiAgents::projects`]                                         |
//! | `projects.write` | [`AiAgents::create_project`]                                   |
//! | `secrets.read`   | [`AiAgents::secrets`] (metadata only)                          |
//! | `secrets.write`  | [`AiAgents::create_secret`] (value in, never out; or generated), [`AiAgents::rotate_secret`] |
//! | `machines.read`  | [`AiAgents::machines`] (agents are never listed)               |
//! | `machines.write` | [`AiAgents::approve_machine`] (fingerprint required; bootstrap-token machines only), [`AiAgents::set_machine_enabled`], [`AiAgents::set_grant`] |
//! | `audit.read`     | [`AiAgents::audit`]                                            |
//!
//! [`AiAgents::whoami`] needs no scope. An agent's optional project allowlist works like an
//! operator's project scope (`crate::role::Scope`): other projects are the same 403 as missing
//! ones, machines are visible and manageable only when attached to an allowed project (so a
//! limited agent approves nobody: a pending machine has no project), and the audit log, which
//! covers every project, is refused.
//!
//! An agent approves only machines that enrolled with a bootstrap token, which a person issued;
//! a tokenless request (which anyone can file) is the same 403, so a hijacked agent cannot admit
//! an attacker's machine and grant it what the agent itself may never read.
//!
//! An agent never acts on an agent: approving, enabling, disabling or granting to one is the
//! same 403 as a machine that does not exist. Only operators approve agents and change their
//! scopes ([`AiAgents::approve_as_agent`], [`AiAgents::set_profile`]); disabling and revoking
//! one are the ordinary machine actions. Every action and refusal is audited, an agent's with
//! actor kind `ai_agent` and the agent's id.

use std::collections::BTreeSet;
use std::sync::Arc;

use signet_api::audit::{AuditAction, DenialReason};
use signet_crypto::generator::{Charset, Generator};
use signet_proto::{Fingerprint, MachineId, OperatorId, ProjectId};
use signet_store::{
    AiAgentProfile, AuditFilter, AuditResult, EnrollMethod, MachineStatus, Role, StoreError,
};

use crate::audit::{AuditLog, AuditView};
use crate::auth::{Auth, SignedRequest};
use crate::context::Context;
use crate::journal::Actor;
use crate::machine::{MachineView, Machines};
use crate::principal::{AuthedMachine, AuthedOperator};
use crate::role::{Permission, Scope};
use crate::rotation::Rotation;
use crate::secret::{ProjectView, SecretInput, SecretView, Secrets};
use crate::{CoreError, CoreResult};

/// A management scope an operator gives an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AgentScope {
    /// List projects.
    ProjectsRead,
    /// Create projects.
    ProjectsWrite,
    /// List secrets' metadata (never a value: no scope gives one).
    SecretsRead,
    /// Create secrets and rotate them.
    SecretsWrite,
    /// List machines.
    MachinesRead,
    /// Approve, enable and disable machines; grant and revoke secrets to them.
    MachinesWrite,
    /// Query the audit log.
    AuditRead,
}

impl AgentScope {
    /// Every scope, in table order.
    pub const ALL: [Self; 7] = [
        Self::ProjectsRead,
        Self::ProjectsWrite,
        Self::SecretsRead,
        Self::SecretsWrite,
        Self::MachinesRead,
        Self::MachinesWrite,
        Self::AuditRead,
    ];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProjectsRead => "projects.read",
            Self::ProjectsWrite => "projects.write",
            Self::SecretsRead => "secrets.read",
            Self::SecretsWrite => "secrets.write",
            Self::MachinesRead => "machines.read",
            Self::MachinesWrite => "machines.write",
            Self::AuditRead => "audit.read",
        }
    }

    /// The scope a name names, exactly as [`Self::as_str`] spells it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// An agent whose request authenticated.
#[derive(Debug, Clone)]
pub struct AuthedAgent {
    /// The machine row and request behind it.
    pub machine: AuthedMachine,
    /// What it may do. Stored names this server does not know grant nothing.
    pub scopes: BTreeSet<AgentScope>,
    /// The projects it may touch.
    pub projects: Scope,
}

impl AuthedAgent {
    /// The agent a machine row describes; `None` for an ordinary machine.
    fn of(machine: AuthedMachine) -> Option<Self> {
        let profile = machine.record.ai_agent.clone()?;
        Some(Self {
            scopes: profile
                .scopes
                .iter()
                .filter_map(|s| AgentScope::parse(s))
                .collect(),
            projects: match profile.projects {
                None => Scope::All,
                Some(list) => Scope::Projects(list.into_iter().collect()),
            },
            machine,
        })
    }

    /// The stand-in the operator services take. It holds the admin role so that their role
    /// checks pass: this module's scope table has decided already, and the stand-in never
    /// leaves core. Its project scope is the agent's allowlist, which those services enforce.
    fn delegate(&self) -> AuthedOperator {
        let m = &self.machine.record;
        AuthedOperator {
            id: OperatorId::from_bytes(*m.id.as_bytes()),
            name: m.name.clone(),
            owner: false,
            user_id: None,
            session: None,
            role: Role::Admin,
            scope: self.projects.clone(),
            source_ip: self.machine.source_ip,
            ai_agent: Some(m.id),
        }
    }
}

/// What an agent may do, for the scope table. Each names the audit action its record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AgentAction {
    ListProjects,
    CreateProject,
    ListSecrets,
    CreateSecret,
    RotateSecret,
    ListMachines,
    ApproveMachine,
    EnableMachine,
    DisableMachine,
    Grant,
    Revoke,
    QueryAudit,
}

impl AgentAction {
    /// The scope table of the module docs.
    fn needs(self) -> AgentScope {
        match self {
            Self::ListProjects => AgentScope::ProjectsRead,
            Self::CreateProject => AgentScope::ProjectsWrite,
            Self::ListSecrets => AgentScope::SecretsRead,
            Self::CreateSecret | Self::RotateSecret => AgentScope::SecretsWrite,
            Self::ListMachines => AgentScope::MachinesRead,
            Self::ApproveMachine
            | Self::EnableMachine
            | Self::DisableMachine
            | Self::Grant
            | Self::Revoke => AgentScope::MachinesWrite,
            Self::QueryAudit => AgentScope::AuditRead,
        }
    }

    fn audit_action(self) -> AuditAction {
        match self {
            Self::ListProjects => AuditAction::ProjectList,
            Self::CreateProject => AuditAction::ProjectCreate,
            Self::ListSecrets => AuditAction::SecretQuery,
            Self::CreateSecret => AuditAction::SecretCreate,
            Self::RotateSecret => AuditAction::SecretRotate,
            Self::ListMachines => AuditAction::MachineShow,
            Self::ApproveMachine => AuditAction::MachineApprove,
            Self::EnableMachine => AuditAction::MachineEnable,
            Self::DisableMachine => AuditAction::MachineDisable,
            Self::Grant => AuditAction::GrantAdd,
            Self::Revoke => AuditAction::GrantRemove,
            Self::QueryAudit => AuditAction::AuditList,
        }
    }
}

/// What a new secret holds, as an agent gives it.
#[derive(Debug)]
pub enum AgentSecretValue {
    /// The agent supplies it; it is written and never answered.
    Given(SecretInput),
    /// The server generates it (32 symbols); nobody sees it.
    Generated,
}

/// An agent as operators see it.
#[derive(Debug, Clone)]
pub struct AiAgentView {
    /// Its machine row.
    pub machine: MachineView,
    /// Its scopes, as stored.
    pub scopes: Vec<String>,
    /// Its project allowlist; `None`: every project.
    pub projects: Option<Vec<ProjectId>>,
}

/// The agent side of the API, and the operators' management of agents.
#[derive(Clone)]
pub struct AiAgents {
    pub(crate) cx: Arc<Context>,
    pub(crate) auth: Auth,
    pub(crate) secrets: Secrets,
    pub(crate) machines: Machines,
    pub(crate) rotation: Rotation,
    pub(crate) audit: AuditLog,
}

impl AiAgents {
    /// Authenticates an agent's signed request (`X-Machine-Id` carries the agent's id).
    pub async fn authenticate(&self, req: &SignedRequest<'_>) -> CoreResult<AuthedAgent> {
        let m = self.auth.authenticate_signed_machine(req, true).await?;
        // Authentication admitted only a row with a profile.
        AuthedAgent::of(m).ok_or(CoreError::Unauthenticated)
    }

    /// Refuses (audited, 403) unless the agent's scopes cover `action`; otherwise the stand-in
    /// operator to act through.
    async fn permit(&self, agent: &AuthedAgent, action: AgentAction) -> CoreResult<AuthedOperator> {
        let op = agent.delegate();
        let needs = action.needs();
        if agent.scopes.contains(&needs) {
            return Ok(op);
        }
        let detail = format!(
            "reason={} needs={}",
            DenialReason::AgentScope,
            needs.as_str()
        );
        Err(self.cx.deny(&op, action.audit_action(), &detail).await)
    }

    /// The same audited 403 as for a machine that does not exist.
    async fn refuse(&self, op: &AuthedOperator, action: AgentAction) -> CoreError {
        self.cx
            .deny(op, action.audit_action(), "target=ai_agent")
            .await
    }

    /// The agent itself: its id, name, scopes and allowlist. Needs no scope; audited.
    pub async fn whoami(&self, agent: &AuthedAgent) -> CoreResult<()> {
        let op = agent.delegate();
        let e = self.cx.event(
            &Actor::operator(&op),
            AuditAction::AiAgentWhoami,
            &agent.machine.record.id.to_string(),
            AuditResult::Ok,
            "",
        );
        self.cx.journal(vec![e], Vec::new()).await
    }

    /// Projects within the allowlist.
    pub async fn projects(&self, agent: &AuthedAgent) -> CoreResult<Vec<ProjectView>> {
        let op = self.permit(agent, AgentAction::ListProjects).await?;
        self.secrets.projects(&op).await
    }

    /// Creates a project. A limited agent cannot: it could never see what it made.
    pub async fn create_project(&self, agent: &AuthedAgent, name: &str) -> CoreResult<ProjectView> {
        let op = self.permit(agent, AgentAction::CreateProject).await?;
        if agent.projects.is_limited() {
            return Err(self
                .cx
                .deny(&op, AuditAction::ProjectCreate, "scope=projects needs=all")
                .await);
        }
        self.secrets.create_project(&op, name).await
    }

    /// A project's secrets' metadata.
    pub async fn secrets(&self, agent: &AuthedAgent, project: &str) -> CoreResult<Vec<SecretView>> {
        let op = self.permit(agent, AgentAction::ListSecrets).await?;
        self.secrets.secrets_in_project(&op, project).await
    }

    /// Creates a secret; the answer is its metadata only.
    pub async fn create_secret(
        &self,
        agent: &AuthedAgent,
        project: &str,
        name: &str,
        value: AgentSecretValue,
    ) -> CoreResult<SecretView> {
        let op = self.permit(agent, AgentAction::CreateSecret).await?;
        let input = match value {
            AgentSecretValue::Given(input) => input,
            AgentSecretValue::Generated => SecretInput::Value(
                Generator::new(None, Charset::Symbols)
                    .and_then(|g| g.generate())
                    .map_err(|_| CoreError::Unavailable)?,
            ),
        };
        self.secrets.create_secret(&op, project, name, input).await
    }

    /// Rotates a secret to a server-generated value (its rotation settings, or 32 symbols).
    pub async fn rotate_secret(&self, agent: &AuthedAgent, id: &str) -> CoreResult<SecretView> {
        let op = self.permit(agent, AgentAction::RotateSecret).await?;
        self.rotation.rotate_now(&op, id).await
    }

    /// Machines within the allowlist; agents are never listed.
    pub async fn machines(&self, agent: &AuthedAgent) -> CoreResult<Vec<MachineView>> {
        let op = self.permit(agent, AgentAction::ListMachines).await?;
        let mut views = self.machines.machine_views(&op).await?;
        let agents = self.agent_ids().await?;
        views.retain(|v| !agents.contains(&v.id));
        Ok(views)
    }

    async fn agent_ids(&self) -> CoreResult<BTreeSet<MachineId>> {
        Ok(self
            .cx
            .store
            .machines()
            .await?
            .into_iter()
            .filter(|m| m.ai_agent.is_some())
            .map(|m| m.id)
            .collect())
    }

    /// The machine `id` if an agent may act on it: an ordinary machine, and within the
    /// allowlist (attached to an allowed project). Anything else is the same audited 403.
    async fn target(
        &self,
        op: &AuthedOperator,
        id: &str,
        action: AgentAction,
    ) -> CoreResult<MachineId> {
        let Ok(mid) = MachineId::parse(id) else {
            return Err(self.refuse(op, action).await);
        };
        let m = match self.cx.store.machine(&mid).await? {
            Some(m) if m.ai_agent.is_none() => m,
            _ => return Err(self.refuse(op, action).await),
        };
        if op.scope.is_limited() {
            let attached = self.cx.store.memberships(&m.id).await?;
            if !attached.iter().any(|p| op.scope.covers(p)) {
                return Err(self.refuse(op, action).await);
            }
        }
        Ok(mid)
    }

    /// Approves a pending machine; the fingerprint it printed is always required.
    pub async fn approve_machine(
        &self,
        agent: &AuthedAgent,
        id: &str,
        fingerprint: &str,
    ) -> CoreResult<MachineView> {
        let op = self.permit(agent, AgentAction::ApproveMachine).await?;
        let mid = self.target(&op, id, AgentAction::ApproveMachine).await?;
        // Anyone can file a tokenless request, and an agent may grant secrets: approving one
        // would let a hijacked agent (prompt injection) admit the attacker's own machine and
        // grant it values it may never read itself. A bootstrap token was issued by a person,
        // who vouched for that enrollment; a tokenless request needs a person to approve it.
        let tokenless = self
            .cx
            .store
            .machine(&mid)
            .await?
            .is_some_and(|m| m.enrolled_via == EnrollMethod::Request);
        if tokenless {
            return Err(self
                .cx
                .deny(
                    &op,
                    AgentAction::ApproveMachine.audit_action(),
                    "target=tokenless_request",
                )
                .await);
        }
        self.machines
            .approve_machine(&op, &mid.to_string(), Some(fingerprint))
            .await
    }

    /// Enables or disables a machine.
    pub async fn set_machine_enabled(
        &self,
        agent: &AuthedAgent,
        id: &str,
        enabled: bool,
    ) -> CoreResult<MachineView> {
        let action = if enabled {
            AgentAction::EnableMachine
        } else {
            AgentAction::DisableMachine
        };
        let op = self.permit(agent, action).await?;
        let mid = self.target(&op, id, action).await?;
        self.machines
            .set_machine_enabled(&op, &mid.to_string(), enabled)
            .await
    }

    /// Grants a secret to a machine (attaching it to the secret's project first, which grants
    /// nothing else), or removes the grant.
    pub async fn set_grant(
        &self,
        agent: &AuthedAgent,
        machine: &str,
        secret: &str,
        grant: bool,
    ) -> CoreResult<MachineView> {
        let action = if grant {
            AgentAction::Grant
        } else {
            AgentAction::Revoke
        };
        let op = self.permit(agent, action).await?;
        let mid = self.target(&op, machine, action).await?;
        let id = mid.to_string();
        if grant {
            // The secret's own scope check (and its 403 for one outside the allowlist) runs
            // before anything is attached.
            let s = self.secrets.secret_view(&op, secret).await?;
            self.machines
                .set_membership(&op, &id, s.project_id.as_str(), true)
                .await?;
        }
        self.machines
            .set_grants(&op, &id, &[secret.to_owned()], grant)
            .await
    }

    /// Audit records, newest first.
    pub async fn audit(
        &self,
        agent: &AuthedAgent,
        filter: &AuditFilter,
    ) -> CoreResult<Vec<AuditView>> {
        let op = self.permit(agent, AgentAction::QueryAudit).await?;
        self.audit.audit_list(&op, filter).await
    }

    /// Every agent, for operators.
    pub async fn agents(&self, op: &AuthedOperator) -> CoreResult<Vec<AiAgentView>> {
        self.cx
            .require(op, Permission::Read, AuditAction::AiAgentList)
            .await?;
        self.cx
            .require_unscoped(op, AuditAction::AiAgentList)
            .await?;
        let profiles: Vec<_> = self
            .cx
            .store
            .machines()
            .await?
            .into_iter()
            .filter_map(|m| m.ai_agent.map(|p| (m.id, p)))
            .collect();
        let mut out = Vec::with_capacity(profiles.len());
        for (id, p) in profiles {
            out.push(AiAgentView {
                machine: self.machines.machine_view(op, &id.to_string()).await?,
                scopes: p.scopes,
                projects: p.projects,
            });
        }
        Ok(out)
    }

    /// Checks an operator-given profile: known scope names only, each once; projects that
    /// exist. Parse, don't normalise: a misspelt scope is a 400, not a silent drop.
    async fn profile(
        &self,
        scopes: &[String],
        projects: Option<&[String]>,
    ) -> CoreResult<AiAgentProfile> {
        let mut seen = BTreeSet::new();
        for s in scopes {
            let scope = AgentScope::parse(s).ok_or_else(|| {
                CoreError::bad(format!(
                    "unknown scope {s:?}; scopes are {}",
                    AgentScope::ALL.map(AgentScope::as_str).join(", ")
                ))
            })?;
            if !seen.insert(scope) {
                return Err(CoreError::bad(format!("scope {s:?} is given twice")));
            }
        }
        let projects = match projects {
            None => None,
            Some(list) => {
                let mut ids = Vec::with_capacity(list.len());
                for p in list {
                    let id = ProjectId::parse(p)
                        .map_err(|_| CoreError::bad(format!("unknown project {p:?}")))?;
                    if self.cx.store.project(&id).await?.is_none() {
                        return Err(CoreError::bad(format!("unknown project {p:?}")));
                    }
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                Some(ids)
            }
        };
        Ok(AiAgentProfile {
            scopes: scopes.to_vec(),
            projects,
        })
    }

    /// Approves a pending machine as an agent with these scopes. Like a tokenless machine, it
    /// is approved only with the fingerprint it printed. Operators only (`ManageMachines`, and
    /// a fresh second factor in a browser).
    pub async fn approve_as_agent(
        &self,
        op: &AuthedOperator,
        id: &str,
        fingerprint: &str,
        scopes: &[String],
        projects: Option<&[String]>,
    ) -> CoreResult<AiAgentView> {
        let action = AuditAction::AiAgentApprove;
        self.operator_only(op, action).await?;
        let profile = self.profile(scopes, projects).await?;
        let mid = MachineId::parse(id).map_err(|_| CoreError::NotFound)?;
        let m = self
            .cx
            .store
            .machine(&mid)
            .await?
            .ok_or(CoreError::NotFound)?;
        let quoted = Fingerprint::parse(fingerprint)
            .ok_or_else(|| CoreError::bad("fingerprint is malformed"))?;
        if !quoted.matches(&m.public_key.fingerprint()) {
            let e = self.cx.event(
                &Actor::operator(op),
                action,
                &mid.to_string(),
                AuditResult::Denied,
                DenialReason::FingerprintMismatch.as_str(),
            );
            self.cx.journal(vec![e], Vec::new()).await?;
            return Err(CoreError::bad(
                "the fingerprint does not match this machine's key",
            ));
        }
        if m.status != MachineStatus::Pending {
            return Err(CoreError::Conflict(signet_store::Conflict::MachineState));
        }
        self.cx
            .audited(op, action, &mid.to_string(), &scopes.join(","))
            .approve_agent(&mid, &profile)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => CoreError::Conflict(signet_store::Conflict::MachineState),
                e => e.into(),
            })?;
        self.view(op, &mid).await
    }

    /// Replaces an agent's scopes and allowlist. Operators only: an agent never changes its own.
    pub async fn set_profile(
        &self,
        op: &AuthedOperator,
        id: &str,
        scopes: &[String],
        projects: Option<&[String]>,
    ) -> CoreResult<AiAgentView> {
        let action = AuditAction::AiAgentScopes;
        self.operator_only(op, action).await?;
        let profile = self.profile(scopes, projects).await?;
        let mid = MachineId::parse(id).map_err(|_| CoreError::NotFound)?;
        self.cx
            .audited(op, action, &mid.to_string(), &scopes.join(","))
            .set_agent_profile(&mid, &profile)
            .await?;
        self.view(op, &mid).await
    }

    /// The operator checks for changing agents. A stand-in never gets here (no agent route
    /// calls these), but the check costs nothing and keeps the rule local.
    async fn operator_only(&self, op: &AuthedOperator, action: AuditAction) -> CoreResult<()> {
        if op.ai_agent.is_some() {
            return Err(self.cx.deny(op, action, "actor=ai_agent").await);
        }
        self.cx
            .require(op, Permission::ManageMachines, action)
            .await?;
        self.cx.require_unscoped(op, action).await?;
        self.cx.require_step_up(op, action).await
    }

    async fn view(&self, op: &AuthedOperator, id: &MachineId) -> CoreResult<AiAgentView> {
        let m = self
            .cx
            .store
            .machine(id)
            .await?
            .ok_or(CoreError::NotFound)?;
        let profile = m.ai_agent.ok_or(CoreError::NotFound)?;
        Ok(AiAgentView {
            machine: self.machines.machine_view(op, &id.to_string()).await?,
            scopes: profile.scopes,
            projects: profile.projects,
        })
    }
}
