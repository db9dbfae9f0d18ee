//! Managed database passwords (issue 12 §2): a structured secret with exactly the fields
//! `username` and `password`, bound to a database connection of its project, whose rotations a
//! sync agent applies to the database before they become live.
//!
//! A rotation of a managed secret (by hand, on its schedule, or by a policy) never writes a
//! version: it seals a new password as a *pending* value with a random rotation id. The agent
//! (SikkerKey's CLI `agent start`, or `signet agent run`) reads it with the database's admin
//! credentials from `sync-config`, sets it on the role, logs in with it, and confirms: only
//! then does the pending value become the next version. A rejection drops it and keeps the live
//! version. Both are audited and happen once: the store clears the pending rotation
//! conditionally on its id in the same transaction.
//!
//! Only the one machine an operator named as the secret's agent is answered, and it must still
//! pass every machine check (approved, enabled, networks, budget) and be attached and granted
//! the secret: `sync-config` hands out the database's admin password, which a reader of the
//! secret has no need for (SikkerKey gives it to any granted machine).

use std::collections::BTreeMap;
use std::sync::Arc;

use signet_api::audit::{AuditAction, DenialReason};
use signet_crypto::generator::{Charset, Generator};
use signet_proto::{ConnectionId, MachineId, SecretId};
use signet_store::{
    AuditResult, Conflict, Heartbeat, ManagedRecord, ManagedState, NewVersion, PendingRotation,
    RotationClaim, RotationOutcome, RotationRecord, SecretReadView, SecretRecord, StoreError,
    VersionContent,
};
use zeroize::Zeroizing;

use crate::context::Context;
use crate::journal::Actor;
use crate::principal::{AuthedMachine, AuthedOperator};
use crate::read::Reads;
use crate::role::Permission;
use crate::secret::{SecretInput, Secrets, parse_fields, refuse_canary};
use crate::{CoreError, CoreResult};

/// The default and bounds of the agent's poll interval, seconds.
pub const DEFAULT_POLL_SECS: u32 = 10;
/// The shortest poll interval SikkerKey's CLI accepts.
pub const MIN_POLL_SECS: u32 = 5;
/// The longest poll interval.
pub const MAX_POLL_SECS: u32 = 3600;
/// The longest agent error text kept (characters).
pub const MAX_AGENT_ERROR: usize = 500;
/// The only provider: PostgreSQL.
pub const PROVIDER: &str = "postgresql";

/// A managed secret's database, with its admin credentials in the clear (for the agent only).
#[derive(Clone)]
pub struct AdminConnection {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database.
    pub database: String,
    /// Admin role.
    pub admin_user: String,
    /// Its password.
    pub admin_password: Zeroizing<String>,
    /// `disable`, `prefer`, `require` or `verify-full`.
    pub tls_mode: String,
}

impl std::fmt::Debug for AdminConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConnection")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("admin_user", &self.admin_user)
            .field("tls_mode", &self.tls_mode)
            .finish_non_exhaustive()
    }
}

/// What `sync-config` answers. No `Debug`: it carries the admin password and the pending value.
#[derive(Clone)]
pub struct SyncConfig {
    /// The database and its admin credentials.
    pub connection: AdminConnection,
    /// The role the secret holds the password of.
    pub managed_username: String,
    /// Poll interval, seconds.
    pub poll_interval_secs: u32,
    /// The pending rotation's id and value (a JSON object of strings, as text).
    pub pending: Option<(String, Zeroizing<String>)>,
    /// `pending`, `confirmed`, `rejected` or `idle`.
    pub rotation_status: &'static str,
}

/// How an operator binds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedSpec {
    /// A database connection of the secret's project.
    pub connection_id: String,
    /// The agent machine's id, if any.
    pub agent_machine_id: Option<String>,
    /// Poll interval, seconds (`None`: the default).
    pub poll_interval_secs: Option<u32>,
}

/// A managed secret's binding and state, as operators see it (no value, no admin password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedView {
    /// The secret.
    pub secret_id: SecretId,
    /// Its connection.
    pub connection_id: String,
    /// Its role.
    pub username: String,
    /// Its agent.
    pub agent_machine_id: Option<MachineId>,
    /// Poll interval, seconds.
    pub poll_interval_secs: u32,
    /// The pending rotation's id and creation time.
    pub pending: Option<(String, i64)>,
    /// The newest finished rotation: id, outcome, error, time.
    pub last: Option<(String, RotationOutcome, Option<String>, i64)>,
    /// The newest heartbeat.
    pub heartbeat: Option<Heartbeat>,
}

impl From<ManagedState> for ManagedView {
    fn from(s: ManagedState) -> Self {
        Self {
            secret_id: s.record.secret_id,
            connection_id: s.record.connection_id,
            username: s.record.username,
            agent_machine_id: s.record.agent_machine_id,
            poll_interval_secs: s.record.poll_interval_secs,
            pending: s.pending.map(|p| (p.rotation_id, p.version.created_ms)),
            last: s.last.map(|l| (l.rotation_id, l.outcome, l.error, l.at_ms)),
            heartbeat: s.heartbeat,
        }
    }
}

/// A PostgreSQL role name Signet manages: lower-case letters, digits and `_`, starting with a
/// letter, at most 63 bytes (PostgreSQL's identifier limit), so it never needs quoting.
pub fn is_role_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && s.len() <= 63
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// An agent's text made safe to store, show and audit: control characters become spaces and it
/// is cut to [`MAX_AGENT_ERROR`] characters.
pub fn sanitize_agent_text(s: &str) -> String {
    s.chars()
        .take(MAX_AGENT_ERROR)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The default generator of a managed password: 32 letters and digits, which every client
/// passes through a libpq `key=value` string unquoted (SikkerKey's CLI does).
fn default_generator() -> CoreResult<Generator> {
    Generator::new(None, Charset::Alphanumeric).map_err(|_| CoreError::Unavailable)
}

fn fresh(g: &Generator) -> CoreResult<Zeroizing<String>> {
    g.generate().map_err(|_| {
        tracing::error!("the OS random number generator failed");
        CoreError::Unavailable
    })
}

/// A rotation id: `rot_` and 24 letters or digits from the OS RNG.
fn rotation_id() -> CoreResult<String> {
    let g = Generator::new(Some(24), Charset::Alphanumeric).map_err(|_| CoreError::Unavailable)?;
    Ok(format!("rot_{}", fresh(&g)?.as_str()))
}

/// Managed secrets: the operator's binding, the pending rotation, and the agent's routes.
#[derive(Clone)]
pub struct Managed {
    pub(crate) cx: Arc<Context>,
    pub(crate) reads: Reads,
    pub(crate) secrets: Secrets,
}

impl Managed {
    /// A secret's binding and state, `None` if it is not managed.
    pub async fn show(&self, op: &AuthedOperator, id: &str) -> CoreResult<Option<ManagedView>> {
        let s = self
            .secrets
            .secret_in_scope(op, id, AuditAction::SecretShow)
            .await?;
        Ok(self.cx.store.managed(&s.id).await?.map(Into::into))
    }

    /// Makes a secret managed, or changes its binding.
    pub async fn set(
        &self,
        op: &AuthedOperator,
        id: &str,
        spec: ManagedSpec,
    ) -> CoreResult<ManagedView> {
        self.cx
            .require(op, Permission::WriteSecrets, AuditAction::SecretManagedSet)
            .await?;
        let s = self
            .secrets
            .secret_in_scope(op, id, AuditAction::SecretManagedSet)
            .await?;
        refuse_canary(&s)?;
        let names = s.field_names.clone().unwrap_or_default();
        let mut sorted = names.clone();
        sorted.sort();
        if sorted != ["password", "username"] {
            return Err(CoreError::bad(
                "a managed secret is a structured secret with exactly the fields username and password",
            ));
        }
        let fields = self.current_fields(&s.id).await?;
        let username = fields
            .get("username")
            .map(|u| u.as_str().to_owned())
            .unwrap_or_default();
        if !is_role_name(&username) {
            return Err(CoreError::bad(
                "the username must be a PostgreSQL role name of a-z, 0-9 and _, starting with a letter, at most 63 characters",
            ));
        }
        let admin = self.check_connection(&s, &spec.connection_id).await?;
        // The agent logs in as the admin role to set the managed role's password: managing the
        // admin role itself would put the admin password into a secret every granted machine
        // reads, and lock the agent out of the database with the first rotation.
        if admin.admin_user == username {
            return Err(CoreError::bad(
                "the username must not be the connection's admin user",
            ));
        }
        let agent = match &spec.agent_machine_id {
            None => None,
            Some(m) => {
                let id = MachineId::parse(m).map_err(|_| CoreError::bad("no such machine"))?;
                if self.cx.store.machine(&id).await?.is_none() {
                    return Err(CoreError::bad("no such machine"));
                }
                Some(id)
            }
        };
        let poll = spec.poll_interval_secs.unwrap_or(DEFAULT_POLL_SECS);
        if !(MIN_POLL_SECS..=MAX_POLL_SECS).contains(&poll) {
            return Err(CoreError::bad(
                "the poll interval must be between 5 and 3600 seconds",
            ));
        }
        let now = self.cx.now_ms();
        let created = self
            .cx
            .store
            .managed(&s.id)
            .await?
            .map_or(now, |m| m.record.created_ms);
        let record = ManagedRecord {
            secret_id: s.id.clone(),
            connection_id: spec.connection_id.clone(),
            username: username.clone(),
            agent_machine_id: agent,
            poll_interval_secs: poll,
            created_ms: created,
            updated_ms: now,
        };
        let detail = format!(
            "connection={} username={username} agent={} poll_secs={poll}",
            spec.connection_id,
            agent.map_or("none".to_owned(), |a| a.to_string()),
        );
        self.cx
            .audited(op, AuditAction::SecretManagedSet, s.id.as_str(), &detail)
            .set_managed(&record)
            .await?;
        self.cx
            .store
            .managed(&s.id)
            .await?
            .map(Into::into)
            .ok_or(CoreError::NotFound)
    }

    /// The current version's fields of a structured secret.
    async fn current_fields(
        &self,
        id: &SecretId,
    ) -> CoreResult<BTreeMap<String, Zeroizing<String>>> {
        // An operator is no machine: an id that matches no row stands in, and only the value
        // columns of the view are used.
        let view = self
            .cx
            .store
            .read_view(&MachineId::generate(), id)
            .await?
            .ok_or(CoreError::NotFound)?;
        parse_fields(&self.reads.decrypt(&view).await?.0)
    }

    /// A connection id names a connection of the secret's project: its details.
    async fn check_connection(
        &self,
        s: &SecretRecord,
        connection: &str,
    ) -> CoreResult<AdminConnection> {
        self.admin_connection(s, connection)
            .await
            .map_err(|e| match e {
                CoreError::NotFound => {
                    CoreError::bad("no such database connection in the secret's project")
                }
                e => e,
            })
    }

    /// The connection's details with its admin password opened. `NotFound` if the project has
    /// no such connection.
    async fn admin_connection(
        &self,
        s: &SecretRecord,
        connection: &str,
    ) -> CoreResult<AdminConnection> {
        let Ok(id) = ConnectionId::parse(connection) else {
            return Err(CoreError::NotFound);
        };
        let c = match self.cx.store.connection(&id).await? {
            // A connection of another project is as absent as one that does not exist.
            Some(c) if c.project_id == s.project_id => c,
            _ => return Err(CoreError::NotFound),
        };
        let t = self.cx.admin_target(&c).await?;
        Ok(AdminConnection {
            host: t.host,
            port: t.port,
            database: t.database,
            admin_user: t.user,
            admin_password: t.password,
            tls_mode: t.tls.as_str().to_owned(),
        })
    }

    /// Makes a rotation of a managed secret pending (the rotation service's path for a managed
    /// secret): a fresh password sealed for the next version, the username kept.
    pub(crate) async fn begin_rotation(
        &self,
        actor: &Actor,
        by: &str,
        s: SecretRecord,
        trigger: &str,
        settings: Option<RotationRecord>,
        claim: Option<RotationClaim>,
    ) -> CoreResult<SecretRecord> {
        let state = self
            .cx
            .store
            .managed(&s.id)
            .await?
            .ok_or(CoreError::NotFound)?;
        if state.pending.is_some() {
            return Err(CoreError::Conflict(Conflict::RotationPending));
        }
        let generator = match settings {
            Some(r) => Charset::parse(&r.charset)
                .and_then(|c| Generator::new(Some(r.length), c).ok())
                .ok_or_else(|| {
                    tracing::error!("stored rotation settings are invalid");
                    CoreError::Unavailable
                })?,
            None => default_generator()?,
        };
        let project = self
            .cx
            .store
            .project(&s.project_id)
            .await?
            .ok_or(CoreError::NotFound)?;
        let mut fields = BTreeMap::new();
        fields.insert(
            "username".to_owned(),
            Zeroizing::new(state.record.username.clone()),
        );
        fields.insert("password".to_owned(), fresh(&generator)?);
        let sealed_for = s.current_version + 1;
        let version = self
            .secrets
            .seal_version(&project, &s.id, sealed_for, SecretInput::Fields(fields), by)
            .await?;
        let rotation = rotation_id()?;
        let pending = PendingRotation {
            rotation_id: rotation.clone(),
            version,
            sealed_for,
            trigger: trigger.to_owned(),
        };
        let event = self.cx.event(
            actor,
            AuditAction::SecretRotationPending,
            s.id.as_str(),
            AuditResult::Ok,
            &format!("trigger={trigger} rotation={rotation}"),
        );
        self.cx
            .audited_event(event)
            .begin_managed_rotation(&s.id, &pending, claim)
            .await?;
        Ok(s)
    }

    /// The checks every agent route makes, after authentication: the secret exists, the
    /// machine is attached and granted, the project is not frozen, the secret is managed and
    /// this machine is its agent. Each refusal is audited and answered like a missing secret.
    async fn agent_view(
        &self,
        m: &AuthedMachine,
        id: &str,
        action: AuditAction,
    ) -> CoreResult<(SecretReadView, ManagedState)> {
        let Ok(secret_id) = SecretId::parse(id) else {
            self.cx
                .audit_machine_denied(m, action, "", DenialReason::NotFound)
                .await?;
            return Err(CoreError::Forbidden);
        };
        let target = secret_id.as_str();
        let Some(view) = self.cx.store.read_view(&m.record.id, &secret_id).await? else {
            self.cx
                .audit_machine_denied(m, action, target, DenialReason::NotFound)
                .await?;
            return Err(CoreError::Forbidden);
        };
        if !view.attached || !view.granted {
            let reason = if view.attached {
                DenialReason::NoGrant
            } else {
                DenialReason::NotAttached
            };
            self.cx
                .audit_machine_denied(m, action, target, reason)
                .await?;
            return Err(CoreError::Forbidden);
        }
        if view.project_frozen {
            self.cx
                .audit_machine_denied(m, action, target, DenialReason::ProjectFrozen)
                .await?;
            return Err(CoreError::ProjectFrozen);
        }
        let Some(state) = self.cx.store.managed(&secret_id).await? else {
            self.cx
                .audit_machine_denied(m, action, target, DenialReason::NotFound)
                .await?;
            return Err(CoreError::Forbidden);
        };
        if state.record.agent_machine_id != Some(m.record.id) {
            self.cx
                .audit_machine_denied(m, action, target, DenialReason::NotSyncAgent)
                .await?;
            return Err(CoreError::Forbidden);
        }
        Ok((view, state))
    }

    /// Opens a pending value with the view's project key.
    async fn open_pending(
        &self,
        view: &SecretReadView,
        p: &PendingRotation,
    ) -> CoreResult<Zeroizing<String>> {
        let VersionContent::Sealed {
            wrapped_dek,
            ciphertext,
        } = &p.version.content
        else {
            return Err(CoreError::Unavailable);
        };
        let sealed = SecretReadView {
            value_version: p.sealed_for,
            wrapped_dek: wrapped_dek.clone(),
            ciphertext: ciphertext.clone(),
            ..view.clone()
        };
        Ok(self.reads.decrypt(&sealed).await?.0)
    }

    /// `GET /v1/secret/{id}/sync-config`: the database's admin credentials and any pending
    /// rotation, audited before they leave.
    pub async fn sync_config(&self, m: &AuthedMachine, id: &str) -> CoreResult<SyncConfig> {
        let action = AuditAction::SecretSyncConfig;
        let (view, state) = self.agent_view(m, id, action).await?;
        // The pending value is the secret's next value: the policy's source, time and expiry
        // rules hold for it as for a read.
        if let Some(reason) = crate::policy::refuses_uncounted(&self.cx, m, &view)? {
            self.cx
                .audit_machine_denied(m, action, view.secret.id.as_str(), reason)
                .await?;
            return Err(CoreError::Forbidden);
        }
        let connection = self
            .admin_connection(&view.secret, &state.record.connection_id)
            .await
            .map_err(|e| match e {
                // The binding outlived its connection: nothing to hand out, and nothing the
                // agent can fix.
                CoreError::NotFound => CoreError::Unavailable,
                e => e,
            })?;
        let pending = match &state.pending {
            Some(p) => Some((p.rotation_id.clone(), self.open_pending(&view, p).await?)),
            None => None,
        };
        let rotation_status = match (&state.pending, &state.last) {
            (Some(_), _) => "pending",
            (None, Some(l)) => l.outcome.as_str(),
            (None, None) => "idle",
        };
        let e = self.cx.event(
            &Actor::machine(m),
            action,
            view.secret.id.as_str(),
            AuditResult::Ok,
            &format!(
                "pending={}",
                pending.as_ref().map_or("none", |(r, _)| r.as_str())
            ),
        );
        // Fail closed: the admin password leaves only after its record is durable.
        self.cx.journal(vec![e], Vec::new()).await?;
        Ok(SyncConfig {
            connection,
            managed_username: state.record.username,
            poll_interval_secs: state.record.poll_interval_secs,
            pending,
            rotation_status,
        })
    }

    /// `POST /v1/secret/{id}/agent/heartbeat`. Recorded every time (operators see when the
    /// agent was last heard from); audited only when the status or error changes, so a healthy
    /// agent does not fill the log every 30 seconds.
    pub async fn heartbeat(
        &self,
        m: &AuthedMachine,
        id: &str,
        status: &str,
        error: Option<&str>,
    ) -> CoreResult<()> {
        if !matches!(status, "healthy" | "error") {
            return Err(CoreError::bad("status must be healthy or error"));
        }
        let action = AuditAction::SecretAgentHeartbeat;
        let (view, state) = self.agent_view(m, id, action).await?;
        let error = error.filter(|e| !e.is_empty()).map(sanitize_agent_text);
        let hb = Heartbeat {
            status: status.to_owned(),
            error,
            at_ms: self.cx.now_ms(),
        };
        let changed = state
            .heartbeat
            .as_ref()
            .is_none_or(|h| h.status != hb.status || h.error != hb.error);
        if !changed {
            self.cx.store.record_heartbeat(&view.secret.id, &hb).await?;
            return Ok(());
        }
        let e = self.cx.event(
            &Actor::machine(m),
            action,
            view.secret.id.as_str(),
            AuditResult::Ok,
            &format!(
                "status={} error={}",
                hb.status,
                hb.error.as_deref().unwrap_or("")
            ),
        );
        self.cx
            .audited_event(e)
            .record_heartbeat(&view.secret.id, &hb)
            .await?;
        Ok(())
    }

    /// `POST /v1/secret/{id}/agent/confirm-rotation`: the pending value becomes the next
    /// version. Confirming the rotation confirmed last answers the same again (a retry after a
    /// lost answer); anything else not pending is a 409.
    pub async fn confirm(&self, m: &AuthedMachine, id: &str, rotation: &str) -> CoreResult<()> {
        let action = AuditAction::SecretRotationConfirmed;
        let (view, state) = self.agent_view(m, id, action).await?;
        let Some(pending) = state.pending.as_ref().filter(|p| p.rotation_id == rotation) else {
            return finished(&state, rotation, RotationOutcome::Confirmed);
        };
        let value = self.open_pending(&view, pending).await?;
        let project = self
            .cx
            .store
            .project(&view.secret.project_id)
            .await?
            .ok_or(CoreError::NotFound)?;
        // Sealed again for the version it becomes: an operator's write since the rotation
        // began moved the version on, and the value's AAD binds its number.
        let mut current = view.secret.current_version;
        for _ in 0..3 {
            let mut v: NewVersion = self
                .secrets
                .seal_version(
                    &project,
                    &view.secret.id,
                    current + 1,
                    SecretInput::Fields(parse_fields(&value)?),
                    &m.record.id.to_string(),
                )
                .await?;
            // The username is fixed (`keep_managed_username`); the password is the generated one.
            v.changed_fields = Some(vec!["password".to_owned()]);
            let e = self.cx.event(
                &Actor::machine(m),
                action,
                view.secret.id.as_str(),
                AuditResult::Ok,
                &format!("rotation={rotation} version={}", current + 1),
            );
            match self
                .cx
                .audited_event(e)
                .confirm_managed_rotation(&view.secret.id, rotation, current, &v)
                .await
            {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict(Conflict::Version)) => {
                    current = self
                        .cx
                        .store
                        .secret(&view.secret.id)
                        .await?
                        .ok_or(CoreError::NotFound)?
                        .current_version;
                }
                Err(StoreError::Conflict(Conflict::RotationStale)) => {
                    // A concurrent confirmation (a retry) won.
                    let now = self
                        .cx
                        .store
                        .managed(&view.secret.id)
                        .await?
                        .ok_or(CoreError::NotFound)?;
                    return finished(&now, rotation, RotationOutcome::Confirmed);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Conflict(Conflict::Version))
    }

    /// `POST /v1/secret/{id}/agent/reject-rotation`: drops the pending value; the live version
    /// stays. Idempotent like a confirmation.
    pub async fn reject(
        &self,
        m: &AuthedMachine,
        id: &str,
        rotation: &str,
        error: Option<&str>,
    ) -> CoreResult<()> {
        let action = AuditAction::SecretRotationRejected;
        let (view, state) = self.agent_view(m, id, action).await?;
        if state
            .pending
            .as_ref()
            .is_none_or(|p| p.rotation_id != rotation)
        {
            return finished(&state, rotation, RotationOutcome::Rejected);
        }
        let error = sanitize_agent_text(error.unwrap_or(""));
        // The record names the error's first 200 characters; the binding keeps all 500.
        let short: String = error.chars().take(200).collect();
        let e = self.cx.event(
            &Actor::machine(m),
            action,
            view.secret.id.as_str(),
            AuditResult::Ok,
            &format!("rotation={rotation} error={short}"),
        );
        match self
            .cx
            .audited_event(e)
            .reject_managed_rotation(&view.secret.id, rotation, &error, self.cx.now_ms())
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(Conflict::RotationStale)) => {
                let now = self
                    .cx
                    .store
                    .managed(&view.secret.id)
                    .await?
                    .ok_or(CoreError::NotFound)?;
                finished(&now, rotation, RotationOutcome::Rejected)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The answer to a confirmation or rejection of a rotation that is not pending: `Ok` if it is
/// the newest finished rotation and ended the way asked (a retry), else 409.
fn finished(state: &ManagedState, rotation: &str, want: RotationOutcome) -> CoreResult<()> {
    match &state.last {
        Some(l) if l.rotation_id == rotation && l.outcome == want => Ok(()),
        _ => Err(CoreError::Conflict(Conflict::RotationStale)),
    }
}
