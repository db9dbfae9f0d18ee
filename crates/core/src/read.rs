//! What machines read. Steps 5 and 6 of authorisation (project membership, then an explicit
//! grant) happen here, then decryption, then the durable audit record, then the answer.
//!
//! # Canaries and frozen projects (issue 11 §5)
//!
//! Every read query below also reports whether the secret's project is frozen (the flag lives
//! on the project row those queries join already, so it costs no extra query and every replica
//! sees a freeze from its next request on). A machine that may use the project gets 423
//! [`CoreError::ProjectFrozen`] for any request that touches a frozen one: a read, an export,
//! a listing or a poll that names one of its secrets (an unscoped listing or export too, if
//! one of its rows lies there). A machine without access still gets the uniform 403, so the
//! freeze reveals nothing to it.
//!
//! A canary is read like any other secret (same answer, same record), and its read also
//! freezes the project: the freeze and a `canary_triggered` record (the critical one: machine,
//! source address, secret, project) commit in one transaction before the value leaves, then
//! the read's own record follows as usual. If the freeze cannot be made durable the read fails
//! closed (503) and nothing leaves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use signet_api::audit::{AuditAction, DenialReason};
use signet_crypto::{DataKey, SecretAad};
use signet_proto::{ProjectId, SecretId};
use signet_store::{
    AuditResult, GrantedSecret, ReadMark, SecretKind, SecretReadView, SecretRecord,
};
use zeroize::Zeroizing;

use crate::context::Context;
use crate::journal::Actor;
use crate::metrics::ReadOutcome;
use crate::policy;
use crate::principal::AuthedMachine;
use crate::{CoreError, CoreResult};

/// Most ids one poll may watch.
pub const MAX_WATCH: usize = 100;

/// A decrypted value on its way to one machine. Zeroized on drop; `Debug` is redacted.
pub struct SecretValue(pub Zeroizing<String>);

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

/// One exported secret.
#[derive(Debug)]
pub struct Exported {
    /// Its id.
    pub id: SecretId,
    /// Its name.
    pub name: String,
    /// The decrypted value.
    pub value: SecretValue,
    /// Comma-joined field names, for structured secrets.
    pub field_names: Option<String>,
}

/// A listed secret.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Its id.
    pub id: SecretId,
    /// Its name.
    pub name: String,
    /// Comma-joined field names, for structured secrets.
    pub field_names: Option<String>,
    /// Its project.
    pub project_id: ProjectId,
    /// Its project's name.
    pub project_name: String,
    /// `secret`, `structured`, `leased-secret` or `managed`, the SikkerKey CLI's type names.
    pub kind: &'static str,
}

/// Poll answer for one watched id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollStatus {
    /// Not a secret this machine may read: never existed, malformed, in another project, or no
    /// longer attached and granted. One answer for all, so poll cannot probe for existence.
    AccessDenied,
    /// A version newer than the one this machine last read.
    Changed,
    /// Deleted while this machine was still attached and granted.
    Deleted,
}

fn joined(names: &Option<Vec<String>>) -> Option<String> {
    names.as_ref().map(|n| n.join(","))
}

impl From<GrantedSecret> for Listed {
    fn from(g: GrantedSecret) -> Self {
        Self {
            field_names: joined(&g.secret.field_names),
            kind: if g.secret.kind == SecretKind::Structured {
                "structured"
            } else {
                "secret"
            },
            id: g.secret.id,
            name: g.secret.name,
            project_id: g.secret.project_id,
            project_name: g.project_name,
        }
    }
}

/// Machine reads: one secret, the granted list, export, poll, and the machine's own view.
#[derive(Clone)]
pub struct Reads {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
    /// Unwrapped data keys of the versions last read.
    pub(crate) data_keys: Arc<DataKeys>,
}

/// Most data keys [`DataKeys`] holds; past it the map starts over.
const DATA_KEYS_MAX: usize = 4096;

/// The data key of each secret's last-read version, with every stored input it was unwrapped
/// from. A hit needs all of them equal to the row just read, so a rotated project key, a new
/// version or an altered row is unwrapped afresh (and fails as it would have); the value's
/// own tag is still checked on every read. Saves the project-key unwrap (an HKDF and an
/// AES-GCM open) and the data-key unwrap per read. The keys are zeroized when evicted.
#[derive(Default)]
pub(crate) struct DataKeys(Mutex<HashMap<String, CachedKey>>);

struct CachedKey {
    project: String,
    wrapped_project_key: Vec<u8>,
    root_generation: u32,
    version: u32,
    wrapped_dek: Vec<u8>,
    key: Arc<DataKey>,
}

impl CachedKey {
    fn unwrapped_from(&self, view: &SecretReadView) -> bool {
        self.version == view.value_version
            && self.project == view.secret.project_id.as_str()
            && self.wrapped_dek == view.wrapped_dek
            && self.wrapped_project_key == view.wrapped_project_key
            && self.root_generation == view.project_root_generation
    }
}

impl DataKeys {
    fn get(&self, view: &SecretReadView) -> Option<Arc<DataKey>> {
        // A poisoned lock only means another reader panicked between two map operations; the
        // map itself is consistent.
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(view.secret.id.as_str())
            .filter(|c| c.unwrapped_from(view))
            .map(|c| Arc::clone(&c.key))
    }

    fn put(&self, view: &SecretReadView, key: Arc<DataKey>) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= DATA_KEYS_MAX && !map.contains_key(view.secret.id.as_str()) {
            map.clear();
        }
        map.insert(
            view.secret.id.as_str().to_owned(),
            CachedKey {
                project: view.secret.project_id.as_str().to_owned(),
                wrapped_project_key: view.wrapped_project_key.clone(),
                root_generation: view.project_root_generation,
                version: view.value_version,
                wrapped_dek: view.wrapped_dek.clone(),
                key,
            },
        );
    }
}

impl Reads {
    /// Reads over `cx`, with an empty data-key cache.
    pub(crate) fn new(cx: Arc<Context>) -> Self {
        Self {
            cx,
            data_keys: Arc::default(),
        }
    }

    /// The data key of the version `view` holds: cached, or unwrapped (project key, then data
    /// key) and cached.
    async fn data_key(
        &self,
        view: &SecretReadView,
        aad: &SecretAad<'_>,
    ) -> CoreResult<Arc<DataKey>> {
        if let Some(key) = self.data_keys.get(view) {
            return Ok(key);
        }
        let s = &view.secret;
        let project_key = self
            .cx
            .unwrap_project_key(
                &s.project_id,
                &view.wrapped_project_key,
                view.project_root_generation,
            )
            .await?;
        let key = Arc::new(
            project_key
                .unwrap_data_key(aad, &view.wrapped_dek)
                .map_err(|_| {
                    tracing::error!(secret = %s.id, version = view.value_version, "stored data key failed to unwrap");
                    CoreError::Unavailable
                })?,
        );
        self.data_keys.put(view, Arc::clone(&key));
        Ok(key)
    }

    pub(crate) async fn decrypt(&self, view: &SecretReadView) -> CoreResult<SecretValue> {
        let s = &view.secret;
        let aad = SecretAad {
            vault: self.cx.vault.as_str(),
            project: s.project_id.as_str(),
            secret: s.id.as_str(),
            version: view.value_version,
        };
        let plain = self
            .data_key(view, &aad)
            .await?
            .open_value(&aad, &view.ciphertext)
            .map_err(|_| {
                tracing::error!(secret = %s.id, version = view.value_version, "stored secret failed to decrypt");
                CoreError::Unavailable
            })?;
        let text = String::from_utf8(plain.to_vec()).map_err(|_| CoreError::Unavailable)?;
        Ok(SecretValue(Zeroizing::new(text)))
    }

    /// The read view of `secret` for `m`: from the stamped cache (`crate::stamped`) if it was
    /// read at exactly the stamp `m`'s request read, otherwise from the store (and kept, tagged
    /// with that stamp: the view was read after it, so it is at least that new).
    async fn view(
        &self,
        m: &AuthedMachine,
        secret: &SecretId,
    ) -> CoreResult<Option<Arc<SecretReadView>>> {
        let machine = &m.record.id;
        if let Some(v) = m
            .access_stamp
            .and_then(|stamp| self.cx.stamped.view(machine, secret, stamp))
        {
            return Ok(Some(v));
        }
        let Some(view) = self.cx.store.read_view(machine, secret).await? else {
            return Ok(None);
        };
        let view = Arc::new(view);
        if let Some(stamp) = m.access_stamp {
            self.cx
                .stamped
                .keep_view(machine, secret, stamp, view.clone());
        }
        Ok(Some(view))
    }

    /// `GET /v1/secret/{id}`, counted by outcome (`crate::metrics`): refusals are counted by
    /// class where they are recorded, everything else here.
    pub async fn read_secret(&self, m: &AuthedMachine, id: &str) -> CoreResult<SecretValue> {
        let read = self.read_secret_uncounted(m, id).await;
        match &read {
            Ok(_) => self.cx.metrics.read(ReadOutcome::Ok),
            Err(CoreError::Forbidden | CoreError::ProjectFrozen) => {}
            Err(_) => self.cx.metrics.read(ReadOutcome::Error),
        }
        read
    }

    async fn read_secret_uncounted(&self, m: &AuthedMachine, id: &str) -> CoreResult<SecretValue> {
        // An id that cannot exist is answered exactly like one that does not.
        let Ok(secret_id) = SecretId::parse(id) else {
            self.cx
                .audit_machine_denied(m, AuditAction::SecretRead, "", DenialReason::NotFound)
                .await?;
            return Err(CoreError::Forbidden);
        };
        let view = match self.view(m, &secret_id).await? {
            Some(v) => v,
            None => {
                self.cx
                    .audit_machine_denied(
                        m,
                        AuditAction::SecretRead,
                        secret_id.as_str(),
                        DenialReason::NotFound,
                    )
                    .await?;
                return Err(CoreError::Forbidden);
            }
        };
        if !view.attached || !view.granted {
            let reason = if view.attached {
                DenialReason::NoGrant
            } else {
                DenialReason::NotAttached
            };
            self.cx
                .audit_machine_denied(m, AuditAction::SecretRead, secret_id.as_str(), reason)
                .await?;
            return Err(CoreError::Forbidden);
        }
        if view.project_frozen {
            return Err(self
                .refuse_frozen(m, AuditAction::SecretRead, secret_id.as_str())
                .await);
        }
        // The access policy, after the grant and before decryption. Its record came with the
        // view (one query); a secret without one goes straight on.
        let admitted = match policy::admit(&self.cx, m, &view).await? {
            Ok(a) => a,
            Err(reason) => {
                self.cx
                    .audit_machine_denied(m, AuditAction::SecretRead, secret_id.as_str(), reason)
                    .await?;
                return Err(CoreError::Forbidden);
            }
        };
        // A leased secret's value is minted for this machine (`crate::lease`). Its settings
        // row came with the view (one query, no extra trip for any other secret); the row
        // decides, not the fields, which an operator's update could change.
        if let Some(settings) = &view.leased {
            let value = self.cx.read_leased(m, &view, settings).await?;
            if admitted.rotate {
                policy::rotation_due(&self.cx, &view.secret.id, view.secret.current_version);
            }
            return Ok(SecretValue(value));
        }
        let value = self.decrypt(&view).await?;
        if view.secret.canary {
            self.trigger(m, &view.secret).await?;
        }
        let e = self.cx.owned_event(
            Actor::machine(m),
            AuditAction::SecretRead,
            secret_id.as_str().to_owned(),
            AuditResult::Ok,
            format!("version={}", view.secret.current_version),
        );
        let mark = ReadMark {
            machine: m.record.id,
            secret: secret_id,
            version: view.secret.current_version,
        };
        // Fail closed: the value leaves only after its record is durable.
        self.cx.journal(vec![e], vec![mark]).await?;
        if admitted.rotate {
            policy::rotation_due(&self.cx, &view.secret.id, view.secret.current_version);
        }
        Ok(value)
    }

    /// Audits a machine request refused because it touches a frozen project, and answers 423.
    /// A failed record is the answer instead: an unrecorded denial is an outage.
    async fn refuse_frozen(
        &self,
        m: &AuthedMachine,
        action: AuditAction,
        target: &str,
    ) -> CoreError {
        match self
            .cx
            .audit_machine_denied(m, action, target, DenialReason::ProjectFrozen)
            .await
        {
            Ok(()) => CoreError::ProjectFrozen,
            Err(e) => e,
        }
    }

    /// A granted machine read `canary`: freezes its project and writes the critical record, in
    /// one transaction, before the value may leave.
    async fn trigger(&self, m: &AuthedMachine, canary: &SecretRecord) -> CoreResult<()> {
        tracing::warn!(
            machine = %m.record.id,
            source = %m.source_ip,
            secret = %canary.id,
            project = %canary.project_id,
            "canary secret read: freezing its project"
        );
        let e = self.cx.event(
            &Actor::machine(m),
            AuditAction::CanaryTriggered,
            canary.id.as_str(),
            AuditResult::Ok,
            &format!("project={} severity=critical", canary.project_id),
        );
        self.cx
            .audited_event(e)
            .freeze_project(&canary.project_id, self.cx.now_ms())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "canary freeze failed; failing closed");
                CoreError::Unavailable
            })
    }

    fn parse_project(&self, project: Option<&str>) -> CoreResult<Option<ProjectId>> {
        // A malformed project id names no project the machine could see: an empty answer would
        // hide typos, so it is refused like any project the machine is not attached to.
        project
            .map(|p| ProjectId::parse(p).map_err(|_| CoreError::Forbidden))
            .transpose()
    }

    /// `GET /v1/secrets`, `POST /v1/secrets/list`, `GET /v1/cli/secrets`.
    pub async fn list_secrets(
        &self,
        m: &AuthedMachine,
        project: Option<&str>,
    ) -> CoreResult<Vec<Listed>> {
        let project = self.parse_project(project)?;
        let rows = self
            .cx
            .store
            .granted_secrets(&m.record.id, project.as_ref())
            .await?;
        if let Some(frozen) = rows.iter().find(|r| r.project_frozen) {
            return Err(self
                .refuse_frozen(
                    m,
                    AuditAction::SecretList,
                    frozen.secret.project_id.as_str(),
                )
                .await);
        }
        let e = self.cx.event(
            &Actor::machine(m),
            AuditAction::SecretList,
            project.as_ref().map(ProjectId::as_str).unwrap_or_default(),
            AuditResult::Ok,
            &format!("count={}", rows.len()),
        );
        self.cx.journal(vec![e], Vec::new()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            // A leased secret lists with the SikkerKey CLI's `leased-secret` tag (its settings
            // row was joined into the listing's query).
            let leased = row.leased;
            // A managed password (`crate::managed`, which sits above this module) lists with
            // the `managed` tag, by the same rule.
            let managed = !leased
                && row.secret.kind == SecretKind::Structured
                && self.cx.store.managed(&row.secret.id).await?.is_some();
            let mut listed = Listed::from(row);
            if leased {
                listed.kind = "leased-secret";
            } else if managed {
                listed.kind = "managed";
            }
            out.push(listed);
        }
        Ok(out)
    }

    /// `POST /v1/secrets/export`: every granted secret's value in one round trip, each audited as
    /// a read.
    pub async fn export(
        &self,
        m: &AuthedMachine,
        project: Option<&str>,
    ) -> CoreResult<Vec<Exported>> {
        let project = self.parse_project(project)?;
        let views = self
            .cx
            .store
            .granted_read_views(&m.record.id, project.as_ref())
            .await?;
        if let Some(frozen) = views.iter().find(|v| v.project_frozen) {
            return Err(self
                .refuse_frozen(
                    m,
                    AuditAction::SecretExport,
                    frozen.secret.project_id.as_str(),
                )
                .await);
        }
        let mut out = Vec::with_capacity(views.len());
        let mut events = Vec::with_capacity(views.len());
        let mut marks = Vec::with_capacity(views.len());
        let who = Actor::machine(m);
        let mut due = Vec::new();
        for v in &views {
            let s = &v.secret;
            // A secret its policy refuses is left out of the export, with its own refusal.
            match policy::admit(&self.cx, m, v).await? {
                Ok(a) if a.rotate => due.push((s.id.clone(), s.current_version)),
                Ok(_) => {}
                Err(reason) => {
                    events.push(self.cx.event(
                        &who,
                        AuditAction::SecretRead,
                        s.id.as_str(),
                        AuditResult::Denied,
                        reason.as_str(),
                    ));
                    continue;
                }
            }
            let value = self.decrypt(v).await?;
            events.push(self.cx.event(
                &who,
                AuditAction::SecretRead,
                s.id.as_str(),
                AuditResult::Ok,
                &format!("version={} via=export", s.current_version),
            ));
            marks.push(ReadMark {
                machine: m.record.id,
                secret: s.id.clone(),
                version: s.current_version,
            });
            out.push(Exported {
                id: s.id.clone(),
                name: s.name.clone(),
                value,
                field_names: joined(&s.field_names),
            });
        }
        if events.is_empty() {
            events.push(self.cx.event(
                &who,
                AuditAction::SecretExport,
                "",
                AuditResult::Ok,
                "count=0",
            ));
        }
        // Every canary among them freezes its project before any value leaves.
        for v in views.iter().filter(|v| v.secret.canary) {
            self.trigger(m, &v.secret).await?;
        }
        self.cx.journal(events, marks).await?;
        for (secret, version) in &due {
            policy::rotation_due(&self.cx, secret, *version);
        }
        Ok(out)
    }

    /// `POST /v1/secrets/poll`.
    pub async fn poll(
        &self,
        m: &AuthedMachine,
        watch: &[String],
    ) -> CoreResult<Vec<(String, PollStatus)>> {
        if watch.len() > MAX_WATCH {
            return Err(CoreError::bad(format!("watch at most {MAX_WATCH} ids")));
        }
        let mut ids = Vec::with_capacity(watch.len());
        let mut out = Vec::new();
        for w in watch {
            match SecretId::parse(w) {
                Ok(id) => ids.push(id),
                Err(_) => out.push((w.clone(), PollStatus::AccessDenied)),
            }
        }
        let rows = self.cx.store.poll(&m.record.id, &ids).await?;
        // Only a machine that may read a watched secret learns that its project is frozen.
        if let Some(frozen) = rows.iter().find(|r| r.granted && r.project_frozen) {
            return Err(self
                .refuse_frozen(m, AuditAction::SecretPoll, frozen.secret_id.as_str())
                .await);
        }
        for row in rows {
            // Grant before deletion: only a machine that could read the secret may learn it
            // existed and was deleted (issue 9, finding 2).
            let status = match row.current_version {
                None => Some(PollStatus::AccessDenied),
                Some(_) if !row.granted => Some(PollStatus::AccessDenied),
                Some(_) if row.deleted => Some(PollStatus::Deleted),
                Some(v) if row.last_read_version.is_none_or(|r| r < v) => Some(PollStatus::Changed),
                Some(_) => None,
            };
            if let Some(s) = status {
                out.push((row.secret_id.to_string(), s));
            }
        }
        let e = self.cx.event(
            &Actor::machine(m),
            AuditAction::SecretPoll,
            "",
            AuditResult::Ok,
            &format!("watched={}", watch.len()),
        );
        self.cx.journal(vec![e], Vec::new()).await?;
        Ok(out)
    }

    /// `GET /v1/whoami`: audited like every machine call, which also makes its nonce durable.
    pub async fn machine_whoami(&self, m: &AuthedMachine) -> CoreResult<()> {
        let e = self.cx.event(
            &Actor::machine(m),
            AuditAction::MachineWhoami,
            "",
            AuditResult::Ok,
            "",
        );
        self.cx.journal(vec![e], Vec::new()).await
    }

    /// `GET /v1/cli/projects`: projects the machine is attached to, with names.
    pub async fn machine_projects(
        &self,
        m: &AuthedMachine,
    ) -> CoreResult<Vec<(ProjectId, String)>> {
        let e = self.cx.event(
            &Actor::machine(m),
            AuditAction::ProjectList,
            "",
            AuditResult::Ok,
            "",
        );
        self.cx.journal(vec![e], Vec::new()).await?;
        let mut out = Vec::new();
        for pid in self.cx.store.memberships(&m.record.id).await? {
            if let Some(p) = self.cx.store.project(&pid).await? {
                out.push((p.id, p.name));
            }
        }
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }
}
