//! Projects and secrets, as operators manage them. Humans write; only machines read values.

use std::collections::BTreeMap;
use std::sync::Arc;

use signet_api::audit::AuditAction;
use signet_crypto::generator::Generator;
use signet_crypto::{ProjectKey, SecretAad};
use signet_proto::{MachineId, ProjectId, SecretId};
use signet_store::{
    Conflict, NewVersion, ProjectRecord, SecretKind, SecretRecord, StoreError, VersionContent,
    VersionRecord,
};
use zeroize::Zeroizing;

use crate::context::Context;
use crate::principal::AuthedOperator;
use crate::read::Reads;
use crate::role::Permission;
use crate::{CoreError, CoreResult};

/// Largest value accepted, in bytes (the HTTP layer also caps secret writes at 1 MiB).
pub const MAX_VALUE_BYTES: usize = 1024 * 1024 - 4096;
/// Most fields in a structured secret.
pub const MAX_FIELDS: usize = 100;

/// What an operator writes.
pub enum SecretInput {
    /// A standard secret's value.
    Value(Zeroizing<String>),
    /// A structured secret's fields.
    Fields(BTreeMap<String, Zeroizing<String>>),
}

/// A structured secret's new version built from its current one: each current field is kept
/// (its value never leaves the server), replaced, or removed, and new fields may be added. The
/// merge is against `base_version`, the version the person saw; if the secret has moved on since,
/// nothing is written and the answer is a conflict, so a concurrent update is never undone.
pub struct FieldMerge {
    /// The version the caller started from; it must still be the current one.
    pub base_version: u32,
    /// Check-and-set: when given, the write happens only at this current version, else
    /// [`CoreError::VersionConflict`].
    pub expected_version: Option<u32>,
    /// Current fields to carry over unchanged.
    pub keep: Vec<String>,
    /// Current fields to leave out of the new version.
    pub remove: Vec<String>,
    /// New values: a current field's name replaces it, any other name adds a field.
    pub set: BTreeMap<String, Zeroizing<String>>,
}

impl std::fmt::Debug for FieldMerge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldMerge")
            .field("base_version", &self.base_version)
            .field("expected_version", &self.expected_version)
            .field("keep", &self.keep)
            .field("remove", &self.remove)
            .field("set", &self.set.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A partial update of a structured secret: `set` replaces or adds fields, `unset` removes
/// current ones, and every current field named in neither is kept as it is (its value never
/// leaves the server). Against the current version, or only `expected_version` when given.
pub struct FieldPatch {
    /// New values: a current field's name replaces it, any other name adds a field.
    pub set: BTreeMap<String, Zeroizing<String>>,
    /// Current fields to leave out of the new version.
    pub unset: Vec<String>,
    /// Check-and-set: when given, the write happens only at this current version, else
    /// [`CoreError::VersionConflict`].
    pub expected_version: Option<u32>,
}

impl std::fmt::Debug for FieldPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldPatch")
            .field("set", &self.set.keys().collect::<Vec<_>>())
            .field("unset", &self.unset)
            .field("expected_version", &self.expected_version)
            .finish()
    }
}

impl FieldPatch {
    /// Applies the patch to the current fields. Every name in `unset` must be a current field,
    /// named once and not also set; the patch must change something. (That the result keeps at
    /// least one field is checked with the rest of a structured value's rules when it is sealed.)
    fn apply(
        self,
        mut current: BTreeMap<String, Zeroizing<String>>,
    ) -> CoreResult<(BTreeMap<String, Zeroizing<String>>, MergeSummary)> {
        if self.set.is_empty() && self.unset.is_empty() {
            return Err(CoreError::bad("give at least one field to set or unset"));
        }
        check_set_values(&self.set)?;
        let mut seen = std::collections::BTreeSet::new();
        for name in &self.unset {
            check_field_name(name)?;
            if self.set.contains_key(name) {
                return Err(CoreError::bad(format!(
                    "field {name:?} is both set and unset"
                )));
            }
            if !seen.insert(name) {
                return Err(CoreError::bad(format!(
                    "field {name:?} is named more than once"
                )));
            }
            if !current.contains_key(name) {
                return Err(CoreError::bad(format!(
                    "field {name:?} is not a field of the current version"
                )));
            }
        }
        let mut summary = MergeSummary::default();
        for name in self.unset {
            current.remove(&name);
            summary.removed.push(name);
        }
        summary.kept = current
            .keys()
            .filter(|k| !self.set.contains_key(*k))
            .cloned()
            .collect();
        for (name, v) in self.set {
            if current.insert(name.clone(), v).is_some() {
                summary.replaced.push(name);
            } else {
                summary.added.push(name);
            }
        }
        Ok((current, summary))
    }
}

/// Refuses a check-and-set write whose expected version is not the current one.
fn check_expected(expected: Option<u32>, current: u32) -> CoreResult<()> {
    match expected {
        Some(e) if e != current => Err(CoreError::VersionConflict {
            current_version: current,
        }),
        _ => Ok(()),
    }
}

/// What a merge did, by field name (never values): for the audit record.
#[derive(Debug, Default, PartialEq, Eq)]
struct MergeSummary {
    kept: Vec<String>,
    replaced: Vec<String>,
    removed: Vec<String>,
    added: Vec<String>,
}

impl MergeSummary {
    fn detail(&self) -> String {
        format!(
            "kept={} replaced={} removed={} added={}",
            self.kept.join(","),
            self.replaced.join(","),
            self.removed.join(","),
            self.added.join(",")
        )
    }
}

impl FieldMerge {
    /// Applies the merge to the current fields. Every current field must be named exactly once
    /// (kept, replaced or removed), so a client that forgot one cannot blank it silently;
    /// `keep` and `remove` may name only current fields.
    fn apply(
        mut self,
        mut current: BTreeMap<String, Zeroizing<String>>,
    ) -> CoreResult<(BTreeMap<String, Zeroizing<String>>, MergeSummary)> {
        check_set_values(&self.set)?;
        let mut summary = MergeSummary::default();
        let mut seen = std::collections::BTreeSet::new();
        for name in self.keep.iter().chain(&self.remove) {
            if !current.contains_key(name) {
                check_field_name(name)?;
                return Err(CoreError::bad(format!(
                    "field {name:?} is not a field of the current version"
                )));
            }
            if !seen.insert(name.clone()) || self.set.contains_key(name) {
                return Err(CoreError::bad(format!(
                    "field {name:?} is named more than once"
                )));
            }
        }
        for name in &self.remove {
            current.remove(name);
            summary.removed.push(name.clone());
        }
        let mut out = BTreeMap::new();
        for name in std::mem::take(&mut self.keep) {
            if let Some(v) = current.remove(&name) {
                out.insert(name.clone(), v);
                summary.kept.push(name);
            }
        }
        for (name, v) in std::mem::take(&mut self.set) {
            if current.remove(&name).is_some() {
                summary.replaced.push(name.clone());
            } else {
                summary.added.push(name.clone());
            }
            out.insert(name, v);
        }
        if let Some(name) = current.keys().next() {
            return Err(CoreError::bad(format!(
                "field {name:?} is neither kept, replaced nor removed; name every current field"
            )));
        }
        Ok((out, summary))
    }
}

/// The fields present in both `before` and `after` whose value differs, by name, sorted: what a
/// version changed, recorded with it (`NewVersion::changed_fields`). Added and removed fields are
/// told by the two versions' field names. Values are compared here and never leave.
pub(crate) fn changed_fields(
    before: &BTreeMap<String, Zeroizing<String>>,
    after: &BTreeMap<String, Zeroizing<String>>,
) -> Vec<String> {
    after
        .iter()
        .filter(|(k, v)| before.get(*k).is_some_and(|old| old.as_str() != v.as_str()))
        .map(|(k, _)| k.clone())
        .collect()
}

/// A structured value as stored: a JSON object of strings.
pub(crate) fn parse_fields(plain: &str) -> CoreResult<BTreeMap<String, Zeroizing<String>>> {
    let map: BTreeMap<String, Zeroizing<String>> = serde_json::from_str(plain).map_err(|_| {
        tracing::error!("a structured secret's stored value is not an object of strings");
        CoreError::Unavailable
    })?;
    Ok(map)
}

impl std::fmt::Debug for SecretInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Value(_) => f.write_str("Value(***)"),
            Self::Fields(m) => write!(f, "Fields({:?})", m.keys().collect::<Vec<_>>()),
        }
    }
}

pub use crate::name::{check_name, check_secret_name};

/// Refuses an empty value written by a person: a standard secret's value or any structured
/// field's (a field meant to be blank is a field to remove). Only what is written now is
/// checked: fields kept from an earlier version are carried as they are, and generated values
/// (rotation, canaries) are never empty.
fn refuse_empty<'a>(values: impl IntoIterator<Item = (&'a str, &'a str)>) -> CoreResult<()> {
    for (name, value) in values {
        if value.is_empty() {
            return Err(CoreError::EmptyValue(if name.is_empty() {
                "`value` is empty: a secret needs a value; nothing was saved".to_owned()
            } else {
                format!(
                    "field `{name}` has an empty value; remove the field instead; nothing was saved"
                )
            }));
        }
    }
    Ok(())
}

impl SecretInput {
    /// [`refuse_empty`] over the input: the value of a standard secret is named `""`.
    fn check_values(&self) -> CoreResult<()> {
        match self {
            Self::Value(v) => refuse_empty([("", v.as_str())]),
            Self::Fields(f) => refuse_empty(f.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        }
    }
}

fn check_set_values(set: &BTreeMap<String, Zeroizing<String>>) -> CoreResult<()> {
    refuse_empty(set.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Field names: 1–64 characters of letters, digits and `_ - .`, so that the comma-joined
/// `fieldNames` string of the machine API is unambiguous.
pub fn check_field_name(name: &str) -> CoreResult<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(CoreError::bad(format!(
            "field name {name:?} must be 1-64 characters of letters, digits and _-."
        )))
    }
}

impl SecretInput {
    /// Validates and turns the input into its stored shape: kind, field names and plaintext.
    fn into_plaintext(self) -> CoreResult<(SecretKind, Option<Vec<String>>, Zeroizing<String>)> {
        match self {
            Self::Value(v) => {
                if v.len() > MAX_VALUE_BYTES {
                    return Err(CoreError::bad("value is too large"));
                }
                Ok((SecretKind::Standard, None, v))
            }
            Self::Fields(fields) => {
                if fields.is_empty() || fields.len() > MAX_FIELDS {
                    return Err(CoreError::bad(format!(
                        "a structured secret needs 1-{MAX_FIELDS} fields"
                    )));
                }
                for k in fields.keys() {
                    check_field_name(k)?;
                }
                let names = fields.keys().cloned().collect();
                // Every field value is a JSON string: the SDKs stringify anything else
                // differently from one another.
                let map: serde_json::Map<String, serde_json::Value> = fields
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.to_string())))
                    .collect();
                let json = Zeroizing::new(serde_json::Value::Object(map).to_string());
                if json.len() > MAX_VALUE_BYTES {
                    return Err(CoreError::bad("value is too large"));
                }
                Ok((SecretKind::Structured, Some(names), json))
            }
        }
    }
}

/// A project as shown to operators.
#[derive(Debug, Clone)]
pub struct ProjectView {
    /// Its id.
    pub id: ProjectId,
    /// Its name.
    pub name: String,
    /// Unix ms.
    pub created_at: i64,
    /// When a canary read froze it, Unix ms; `None` while machines may use it.
    pub frozen_at: Option<i64>,
}

impl From<ProjectRecord> for ProjectView {
    fn from(p: ProjectRecord) -> Self {
        Self {
            id: p.id,
            name: p.name,
            created_at: p.created_ms,
            frozen_at: p.frozen_ms,
        }
    }
}

/// A secret's metadata as shown to operators (never the value).
#[derive(Debug, Clone)]
pub struct SecretView {
    /// Its id.
    pub id: SecretId,
    /// Its name.
    pub name: String,
    /// Its project.
    pub project_id: ProjectId,
    /// `standard` or `structured`.
    pub kind: &'static str,
    /// Field names of a structured secret.
    pub field_names: Option<Vec<String>>,
    /// The current version.
    pub version: u32,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
    /// A canary (operators see it; machines never do).
    pub canary: bool,
}

impl From<SecretRecord> for SecretView {
    fn from(s: SecretRecord) -> Self {
        Self {
            id: s.id,
            name: s.name,
            project_id: s.project_id,
            kind: s.kind.as_str(),
            field_names: s.field_names,
            version: s.current_version,
            created_at: s.created_ms,
            updated_at: s.updated_ms,
            canary: s.canary,
        }
    }
}

/// A version as shown to operators.
#[derive(Debug, Clone)]
pub struct VersionView {
    /// The version number.
    pub version: u32,
    /// The version whose value it carries (differs after a rollback).
    pub value_version: u32,
    /// `standard` or `structured`.
    pub kind: &'static str,
    /// Field names.
    pub field_names: Option<Vec<String>>,
    /// Who wrote it.
    pub created_by: String,
    /// The person (or machine) behind `created_by`, for people (`crate::actor`).
    pub created_by_name: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    /// Fields whose value this version changed, by name; `None` when not recorded.
    pub changed_fields: Option<Vec<String>>,
}

impl From<VersionRecord> for VersionView {
    fn from(v: VersionRecord) -> Self {
        Self {
            version: v.version,
            value_version: v.value_version,
            kind: v.kind.as_str(),
            field_names: v.field_names,
            created_by: v.created_by,
            created_by_name: None,
            created_at: v.created_ms,
            changed_fields: v.changed_fields,
        }
    }
}

/// The secret as the write that created version `written` left it: the answer names that
/// version, never a later one that a concurrent write may already have added.
pub(crate) fn written_version(before: SecretRecord, written: u32, v: NewVersion) -> SecretRecord {
    SecretRecord {
        kind: v.kind,
        field_names: v.field_names,
        current_version: written,
        updated_ms: v.created_ms,
        ..before
    }
}

/// Whether a secret is a canary, whose value is never written by hand. Rotation asks this
/// before it writes (a manual rotation of a canary is the same 409 as an update).
pub fn is_canary(s: &SecretRecord) -> bool {
    s.canary
}

/// Refuses a hand-made value write on a canary: 409 `conflict` naming the `canary` rule, before
/// anything is sealed or written. Its value is the server's, and a write would let someone who
/// learned it replace the trap with a value they know.
pub(crate) fn refuse_canary(s: &SecretRecord) -> CoreResult<()> {
    if is_canary(s) {
        return Err(CoreError::Conflict(Conflict::Canary));
    }
    Ok(())
}

fn parse_secret_id(id: &str) -> CoreResult<SecretId> {
    SecretId::parse(id).map_err(|_| CoreError::NotFound)
}

fn parse_project_id(id: &str) -> CoreResult<ProjectId> {
    ProjectId::parse(id).map_err(|_| CoreError::NotFound)
}

/// Projects, secrets and their versions, for operators.
#[derive(Clone)]
pub struct Secrets {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
    /// Decrypts a version for field merges.
    pub(crate) reads: Reads,
}

impl Secrets {
    /// Creates a project with a fresh project key.
    pub async fn create_project(&self, op: &AuthedOperator, name: &str) -> CoreResult<ProjectView> {
        self.cx
            .require(op, Permission::ManageProjects, AuditAction::ProjectCreate)
            .await?;
        check_name("project", name)?;
        let id = ProjectId::generate();
        let key = ProjectKey::generate().map_err(|_| CoreError::Unavailable)?;
        // A root key rotation may make a new generation current between the wrap and the
        // insert; the store refuses the stale one, and the key is wrapped again.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (wrapped_key, root_generation) = self.cx.wrap_project_key(&id, &key).await?;
            let p = ProjectRecord {
                id: id.clone(),
                name: name.to_owned(),
                wrapped_key,
                created_ms: self.cx.now_ms(),
                frozen_ms: None,
                root_generation,
                key_generation: 0,
            };
            match self
                .cx
                .audited(op, AuditAction::ProjectCreate, p.id.as_str(), &p.name)
                .insert_project(&p)
                .await
            {
                Err(StoreError::Conflict(Conflict::RootGenerationStale)) if attempts < 3 => {}
                done => {
                    done?;
                    return Ok(p.into());
                }
            }
        }
    }

    /// The projects in the operator's scope (all of them for most).
    pub async fn projects(&self, op: &AuthedOperator) -> CoreResult<Vec<ProjectView>> {
        Ok(self
            .cx
            .store
            .projects()
            .await?
            .into_iter()
            .filter(|p| op.scope.covers(&p.id))
            .map(ProjectView::from)
            .collect())
    }

    /// Renames a project; its id, key, secrets and memberships are untouched. Another
    /// project's name is a `Conflict::ProjectName`, decided by the store's write.
    pub async fn rename_project(
        &self,
        op: &AuthedOperator,
        id: &str,
        name: &str,
    ) -> CoreResult<ProjectView> {
        self.cx
            .require(op, Permission::ManageProjects, AuditAction::ProjectRename)
            .await?;
        let parsed = ProjectId::parse(id).ok();
        self.cx
            .require_project(op, parsed.as_ref(), AuditAction::ProjectRename)
            .await?;
        let id = parsed.ok_or(CoreError::NotFound)?;
        check_name("project", name)?;
        let project = self
            .cx
            .store
            .project(&id)
            .await?
            .ok_or(CoreError::NotFound)?;
        // Both names passed `check_name` (no quotes or `=`), so the detail reads unambiguously.
        self.cx
            .audited(
                op,
                AuditAction::ProjectRename,
                id.as_str(),
                &format!("from={:?} to={name:?}", project.name),
            )
            .rename_project(&id, name)
            .await?;
        Ok(ProjectView {
            name: name.to_owned(),
            ..project.into()
        })
    }

    /// Lifts a canary's freeze: machines may use the project again from their next request.
    /// Admins and owners only, and in a browser session only with a second factor given within
    /// the step-up window (operator keys pass, as for every step-up action: the key was issued
    /// after a full sign-in with the second factor). Unfreezing a project that is not frozen
    /// changes nothing and is still recorded.
    pub async fn unfreeze_project(&self, op: &AuthedOperator, id: &str) -> CoreResult<ProjectView> {
        self.cx
            .require(op, Permission::ManageProjects, AuditAction::ProjectUnfreeze)
            .await?;
        let parsed = ProjectId::parse(id).ok();
        self.cx
            .require_project(op, parsed.as_ref(), AuditAction::ProjectUnfreeze)
            .await?;
        self.cx
            .require_step_up(op, AuditAction::ProjectUnfreeze)
            .await?;
        let id = parsed.ok_or(CoreError::NotFound)?;
        let project = self
            .cx
            .store
            .project(&id)
            .await?
            .ok_or(CoreError::NotFound)?;
        let detail = match project.frozen_ms {
            Some(t) => format!("frozen_ms={t}"),
            None => "frozen_ms=none".to_owned(),
        };
        self.cx
            .audited(op, AuditAction::ProjectUnfreeze, id.as_str(), &detail)
            .unfreeze_project(&id)
            .await?;
        Ok(ProjectView {
            frozen_at: None,
            ..project.into()
        })
    }

    async fn project_key(&self, project: &ProjectRecord) -> CoreResult<ProjectKey> {
        self.cx.project_key(project).await
    }

    pub(crate) async fn seal_version(
        &self,
        project: &ProjectRecord,
        secret: &SecretId,
        version: u32,
        input: SecretInput,
        by: &str,
    ) -> CoreResult<NewVersion> {
        let (kind, field_names, plaintext) = input.into_plaintext()?;
        let key = self.project_key(project).await?;
        let aad = SecretAad {
            vault: self.cx.vault.as_str(),
            project: project.id.as_str(),
            secret: secret.as_str(),
            version,
        };
        let sealed = key
            .seal_value(&aad, plaintext.as_bytes())
            .map_err(|_| CoreError::Unavailable)?;
        Ok(NewVersion {
            kind,
            field_names,
            content: VersionContent::Sealed {
                wrapped_dek: sealed.wrapped_dek,
                ciphertext: sealed.ciphertext,
            },
            created_by: by.to_owned(),
            created_ms: self.cx.now_ms(),
            changed_fields: None,
            key_generation: project.key_generation,
        })
    }

    /// Creates a secret (version 1).
    pub async fn create_secret(
        &self,
        op: &AuthedOperator,
        project: &str,
        name: &str,
        input: SecretInput,
    ) -> CoreResult<SecretView> {
        self.cx
            .require(op, Permission::WriteSecrets, AuditAction::SecretCreate)
            .await?;
        self.create(op, project, name, input, None).await
    }

    /// Creates a canary: a standard secret whose value `generator` makes on the server (nobody
    /// ever sees it). To a machine it is like any other secret; reading it freezes its project
    /// (see `crate::read`). Only those who manage projects may set one (admins and owners), since
    /// a granted machine's read of it takes the whole project offline.
    pub async fn create_canary(
        &self,
        op: &AuthedOperator,
        project: &str,
        name: &str,
        generator: Generator,
    ) -> CoreResult<SecretView> {
        self.cx
            .require(op, Permission::ManageProjects, AuditAction::SecretCreate)
            .await?;
        let value = generator.generate().map_err(|e| {
            tracing::error!(error = %e, "canary value generation failed");
            CoreError::Unavailable
        })?;
        self.create(
            op,
            project,
            name,
            SecretInput::Value(value),
            Some(generator),
        )
        .await
    }

    /// The body of [`Secrets::create_secret`] and [`Secrets::create_canary`], after the role
    /// check: a canary is the one whose generator is given.
    async fn create(
        &self,
        op: &AuthedOperator,
        project: &str,
        name: &str,
        input: SecretInput,
        canary: Option<Generator>,
    ) -> CoreResult<SecretView> {
        let parsed = ProjectId::parse(project).ok();
        self.cx
            .require_project(op, parsed.as_ref(), AuditAction::SecretCreate)
            .await?;
        check_secret_name(name)?;
        input.check_values()?;
        let project_id = parsed.ok_or_else(|| CoreError::bad("unknown project"))?;
        let project = self
            .cx
            .store
            .project(&project_id)
            .await?
            .ok_or_else(|| CoreError::bad("unknown project"))?;
        let id = SecretId::generate();
        let by = op.id.to_string();
        let first = self.seal_version(&project, &id, 1, input, &by).await?;
        let now = first.created_ms;
        let rec = SecretRecord {
            id,
            project_id,
            name: name.to_owned(),
            kind: first.kind,
            field_names: first.field_names.clone(),
            current_version: 1,
            created_ms: now,
            updated_ms: now,
            deleted_ms: None,
            canary: canary.is_some(),
        };
        let detail = match canary {
            Some(g) => format!(
                "project={} version=1 canary=true charset={} length={}",
                rec.project_id,
                g.charset(),
                g.length()
            ),
            None => format!("project={} version=1", rec.project_id),
        };
        self.cx
            .audited(op, AuditAction::SecretCreate, rec.id.as_str(), &detail)
            .insert_secret(&rec, &first)
            .await?;
        Ok(rec.into())
    }

    async fn live_secret(&self, id: &SecretId) -> CoreResult<SecretRecord> {
        match self.cx.store.secret(id).await? {
            Some(s) if s.deleted_ms.is_none() => Ok(s),
            _ => Err(CoreError::NotFound),
        }
    }

    /// The live secret `id`, if the operator's scope covers its project. To a scoped operator
    /// an unknown, deleted or malformed id is the same audited 403 as one outside the scope;
    /// to anyone else it is a 404.
    pub(crate) async fn secret_in_scope(
        &self,
        op: &AuthedOperator,
        id: &str,
        action: AuditAction,
    ) -> CoreResult<SecretRecord> {
        let found = match SecretId::parse(id) {
            Ok(id) => match self.live_secret(&id).await {
                Ok(s) => Some(s),
                Err(CoreError::NotFound) => None,
                Err(e) => return Err(e),
            },
            Err(_) => None,
        };
        self.cx
            .require_project(op, found.as_ref().map(|s| &s.project_id), action)
            .await?;
        found.ok_or(CoreError::NotFound)
    }

    /// The error for a conditional append that lost to a concurrent write (`Conflict::Version`
    /// from the store). A check-and-set caller is told the version that won, read again now;
    /// any other store error is answered as it is.
    async fn lost_race(&self, id: &SecretId, expected: Option<u32>, e: StoreError) -> CoreError {
        if expected.is_none() || e != StoreError::Conflict(Conflict::Version) {
            return e.into();
        }
        match self.cx.store.secret(id).await {
            Ok(Some(s)) if s.deleted_ms.is_none() => CoreError::VersionConflict {
                current_version: s.current_version,
            },
            Ok(_) => CoreError::NotFound,
            Err(e) => e.into(),
        }
    }

    /// Writes a new version. With `expected` (check-and-set), only if the secret's current
    /// version is that one: otherwise [`CoreError::VersionConflict`] and nothing is written,
    /// decided in the write's own transaction, so of two writers expecting the same version
    /// exactly one wins.
    pub async fn update_secret(
        &self,
        op: &AuthedOperator,
        id: &str,
        input: SecretInput,
        expected: Option<u32>,
    ) -> CoreResult<SecretView> {
        self.cx
            .require(op, Permission::WriteSecrets, AuditAction::SecretUpdate)
            .await?;
        let s = self
            .secret_in_scope(op, id, AuditAction::SecretUpdate)
            .await?;
        refuse_canary(&s)?;
        check_expected(expected, s.current_version)?;
        input.check_values()?;
        match &input {
            SecretInput::Fields(fields) => self.keep_managed_username(&s.id, fields).await?,
            SecretInput::Value(_) => self.keep_managed_username(&s.id, &BTreeMap::new()).await?,
        }
        let id = s.id.clone();
        let project = self
            .cx
            .store
            .project(&s.project_id)
            .await?
            .ok_or(CoreError::NotFound)?;
        let next = s.current_version + 1;
        let changed = self.changed_by(&s, &input).await?;
        let mut v = self
            .seal_version(&project, &id, next, input, &op.id.to_string())
            .await?;
        v.changed_fields = changed;
        // Conditional on the version read above (the expected one, when given), so `next` is
        // exactly what the store writes or the write fails; the record names it before the
        // transaction starts.
        let written = match self
            .cx
            .audited(
                op,
                AuditAction::SecretUpdate,
                id.as_str(),
                &format!("version={next}"),
            )
            .append_version(&id, s.current_version, &v)
            .await
        {
            Ok(w) => w,
            Err(e) => return Err(self.lost_race(&id, expected, e).await),
        };
        Ok(written_version(s, written, v).into())
    }

    /// Which fields a whole new structured value changes against the current version `s`
    /// names, decrypted here to compare (nothing leaves); `None` when either is not structured,
    /// or when the secret has moved on since `s` was read (the write then fails as a conflict).
    async fn changed_by(
        &self,
        s: &SecretRecord,
        input: &SecretInput,
    ) -> CoreResult<Option<Vec<String>>> {
        let SecretInput::Fields(after) = input else {
            return Ok(None);
        };
        if s.kind != SecretKind::Structured {
            return Ok(None);
        }
        // As in `rewrite_fields`: an operator is no machine, and only the value columns are used.
        let Some(view) = self
            .cx
            .store
            .read_view(&MachineId::generate(), &s.id)
            .await?
        else {
            return Ok(None);
        };
        if view.secret.current_version != s.current_version {
            return Ok(None);
        }
        let before = parse_fields(&self.reads.decrypt(&view).await?.0)?;
        Ok(Some(changed_fields(&before, after)))
    }

    /// Writes a new version of a structured secret from its current fields (see [`FieldMerge`]).
    /// The kept values are decrypted and re-sealed here; they never travel to the caller.
    pub async fn merge_secret_fields(
        &self,
        op: &AuthedOperator,
        id: &str,
        merge: FieldMerge,
    ) -> CoreResult<SecretView> {
        let (expected, base) = (merge.expected_version, merge.base_version);
        self.rewrite_fields(op, id, expected, Some(base), |current| merge.apply(current))
            .await
    }

    /// Writes a new version of a structured secret that sets and unsets some fields and keeps
    /// every other one (see [`FieldPatch`]). The kept values never travel to the caller.
    pub async fn patch_secret_fields(
        &self,
        op: &AuthedOperator,
        id: &str,
        patch: FieldPatch,
    ) -> CoreResult<SecretView> {
        let expected = patch.expected_version;
        self.rewrite_fields(op, id, expected, None, |current| patch.apply(current))
            .await
    }

    /// A managed secret's value names its binding's role (`crate::managed`): an operator's write
    /// keeps the fields `username` and `password`, with the same username. Machines would
    /// otherwise read another role's name, and SikkerKey's agent, which rolls a failed rotation
    /// back to the live value, would set that role's password.
    async fn keep_managed_username(
        &self,
        id: &SecretId,
        fields: &BTreeMap<String, Zeroizing<String>>,
    ) -> CoreResult<()> {
        let Some(m) = self.cx.store.managed(id).await? else {
            return Ok(());
        };
        let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
        names.sort_unstable();
        let same = names == ["password", "username"]
            && fields
                .get("username")
                .is_some_and(|u| u.as_str() == m.record.username);
        if same {
            Ok(())
        } else {
            Err(CoreError::bad(format!(
                "a managed secret keeps the fields username and password, with username {}",
                m.record.username
            )))
        }
    }

    /// A new version of a structured secret computed from its current fields by `change`, at
    /// the current version: which must be `expected` (check-and-set, a
    /// [`CoreError::VersionConflict`] otherwise) and `base` (a field merge's base version, a
    /// `Conflict::StaleBase` otherwise) when they are given.
    async fn rewrite_fields(
        &self,
        op: &AuthedOperator,
        id: &str,
        expected: Option<u32>,
        base: Option<u32>,
        change: impl FnOnce(
            BTreeMap<String, Zeroizing<String>>,
        ) -> CoreResult<(BTreeMap<String, Zeroizing<String>>, MergeSummary)>,
    ) -> CoreResult<SecretView> {
        self.cx
            .require(op, Permission::WriteSecrets, AuditAction::SecretUpdate)
            .await?;
        let s = self
            .secret_in_scope(op, id, AuditAction::SecretUpdate)
            .await?;
        refuse_canary(&s)?;
        let id = s.id.clone();
        // `read_view` also reports a machine's membership and grant; an operator is no machine,
        // so an id that matches no row stands in and only the value columns are used.
        let view = self
            .cx
            .store
            .read_view(&MachineId::generate(), &id)
            .await?
            .ok_or(CoreError::NotFound)?;
        let current_version = view.secret.current_version;
        check_expected(expected, current_version)?;
        if base.is_some_and(|b| b != current_version) {
            return Err(CoreError::Conflict(Conflict::StaleBase));
        }
        if view.secret.kind != SecretKind::Structured {
            return Err(CoreError::bad(
                "only a structured secret's fields can be kept, set or removed",
            ));
        }
        let current = parse_fields(&self.reads.decrypt(&view).await?.0)?;
        let before = current.clone();
        let (fields, summary) = change(current)?;
        self.keep_managed_username(&id, &fields).await?;
        let changed = changed_fields(&before, &fields);
        let project = self
            .cx
            .store
            .project(&s.project_id)
            .await?
            .ok_or(CoreError::NotFound)?;
        let next = current_version + 1;
        let mut v = self
            .seal_version(
                &project,
                &id,
                next,
                SecretInput::Fields(fields),
                &op.id.to_string(),
            )
            .await?;
        v.changed_fields = Some(changed);
        // Conditional on the version read above: a concurrent update since that read makes this
        // a conflict, never a write over fields it did not see.
        let written = match self
            .cx
            .audited(
                op,
                AuditAction::SecretUpdate,
                id.as_str(),
                &format!("version={next} {}", summary.detail()),
            )
            .append_version(&id, current_version, &v)
            .await
        {
            Ok(w) => w,
            Err(e) => {
                return Err(match self.lost_race(&id, expected, e).await {
                    CoreError::Conflict(Conflict::Version) if base.is_some() => {
                        CoreError::Conflict(Conflict::StaleBase)
                    }
                    e => e,
                });
            }
        };
        Ok(written_version(view.secret, written, v).into())
    }

    /// Writes a new version whose value is that of `version`; with `expected`, only if the
    /// secret's current version is that one (as [`Secrets::update_secret`]).
    pub async fn rollback_secret(
        &self,
        op: &AuthedOperator,
        id: &str,
        version: u32,
        expected: Option<u32>,
    ) -> CoreResult<SecretView> {
        self.cx
            .require(op, Permission::WriteSecrets, AuditAction::SecretRollback)
            .await?;
        let s = self
            .secret_in_scope(op, id, AuditAction::SecretRollback)
            .await?;
        refuse_canary(&s)?;
        check_expected(expected, s.current_version)?;
        let id = s.id.clone();
        let versions = self.cx.store.versions(&id).await?;
        let target = versions
            .iter()
            .find(|v| v.version == version)
            .ok_or_else(|| CoreError::bad("no such version"))?;
        let next = s.current_version + 1;
        let v = NewVersion {
            kind: target.kind,
            field_names: target.field_names.clone(),
            content: VersionContent::Pointer(target.value_version),
            created_by: op.id.to_string(),
            created_ms: self.cx.now_ms(),
            // The person sees "rolled back to version N": the value is that version's.
            changed_fields: None,
            // A pointer seals nothing.
            key_generation: 0,
        };
        let written = match self
            .cx
            .audited(
                op,
                AuditAction::SecretRollback,
                id.as_str(),
                &format!("version={next} value_of={version}"),
            )
            .append_version(&id, s.current_version, &v)
            .await
        {
            Ok(w) => w,
            Err(e) => return Err(self.lost_race(&id, expected, e).await),
        };
        Ok(written_version(s, written, v).into())
    }

    /// Moves a secret to the trash (`crate::trash`), recording who deleted it.
    pub async fn delete_secret(&self, op: &AuthedOperator, id: &str) -> CoreResult<()> {
        self.cx
            .require(op, Permission::WriteSecrets, AuditAction::SecretDelete)
            .await?;
        let id = if op.scope.is_limited() {
            self.secret_in_scope(op, id, AuditAction::SecretDelete)
                .await?
                .id
        } else {
            parse_secret_id(id)?
        };
        let d = crate::trash::deletion(&self.cx, op).await?;
        self.cx
            .audited(op, AuditAction::SecretDelete, id.as_str(), "")
            .trash_secret(&id, &d)
            .await?;
        Ok(())
    }

    /// A live secret's metadata.
    pub async fn secret_view(&self, op: &AuthedOperator, id: &str) -> CoreResult<SecretView> {
        Ok(self
            .secret_in_scope(op, id, AuditAction::SecretShow)
            .await?
            .into())
    }

    /// A project's live secrets.
    pub async fn secrets_in_project(
        &self,
        op: &AuthedOperator,
        project: &str,
    ) -> CoreResult<Vec<SecretView>> {
        self.cx
            .require_project(
                op,
                ProjectId::parse(project).ok().as_ref(),
                AuditAction::SecretQuery,
            )
            .await?;
        let p = parse_project_id(project)?;
        if self.cx.store.project(&p).await?.is_none() {
            return Err(CoreError::NotFound);
        }
        Ok(self
            .cx
            .store
            .secrets_in_project(&p)
            .await?
            .into_iter()
            .map(SecretView::from)
            .collect())
    }

    /// A secret's versions, oldest first.
    pub async fn versions(&self, op: &AuthedOperator, id: &str) -> CoreResult<Vec<VersionView>> {
        let id = self
            .secret_in_scope(op, id, AuditAction::SecretVersions)
            .await?
            .id;
        let mut names = crate::actor::ActorNames::new(&self.cx);
        let mut out = Vec::new();
        for v in self.cx.store.versions(&id).await? {
            let mut view = VersionView::from(v);
            // `created_by` is an operator key or session, or a machine for a rotation it
            // confirmed: the id's own prefix tells which, so at most one lookup matches.
            let by = match names
                .name(signet_store::ActorKind::Operator, &view.created_by)
                .await?
            {
                Some(n) => Some(n),
                None => {
                    names
                        .name(signet_store::ActorKind::Machine, &view.created_by)
                        .await?
                }
            };
            view.created_by_name = by.map(|n| n.name);
            out.push(view);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "DATABASE_URL",
            "db creds",
            "a",
            "prod/api-key:v2",
            &"x".repeat(255),
        ] {
            assert!(check_name("secret", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            " a",
            "a ",
            "a\nb",
            "<img>",
            "a;b",
            "é",
            &"x".repeat(256),
        ] {
            assert!(check_name("secret", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_names_are_refused_as_sent_never_rewritten() {
        for ok in [
            "DATABASE_URL",
            "a",
            "prod/api-key:v2",
            "x@y+z",
            "db creds",
            &"x".repeat(255),
        ] {
            assert_eq!(check_secret_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", " DB", "DB ", "a\tb", "a\nb", "é", &"x".repeat(256)] {
            match check_secret_name(bad) {
                Err(CoreError::InvalidName(m)) => assert!(m.contains("`name`"), "{m}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let Err(CoreError::InvalidName(m)) = check_secret_name("db creds ") else {
            panic!("refused")
        };
        assert!(m.contains("no leading or trailing space"), "{m}");
    }

    #[test]
    fn an_empty_value_or_field_is_refused_and_named() {
        let empty = SecretInput::Value(Zeroizing::new(String::new()));
        assert!(
            matches!(empty.check_values(), Err(CoreError::EmptyValue(m)) if m.contains("`value`"))
        );
        let f = SecretInput::Fields(fields(&[("user", "app"), ("pass", "")]));
        assert!(matches!(f.check_values(), Err(CoreError::EmptyValue(m)) if m.contains("`pass`")));
        assert_eq!(
            SecretInput::Fields(fields(&[("a", " ")])).check_values(),
            Ok(())
        );
        // A merge or patch refuses an empty new value, but carries an old field as it is.
        assert!(matches!(
            merge(&["a"], &[], &[("b", "")]).apply(fields(&[("a", "")])),
            Err(CoreError::EmptyValue(_))
        ));
        assert!(
            merge(&["a"], &[], &[("b", "2")])
                .apply(fields(&[("a", "")]))
                .is_ok()
        );
        assert!(matches!(
            patch(&[("b", "")], &[]).apply(fields(&[("a", "1")])),
            Err(CoreError::EmptyValue(_))
        ));
    }

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, Zeroizing<String>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Zeroizing::new((*v).to_owned())))
            .collect()
    }

    fn merge(keep: &[&str], remove: &[&str], set: &[(&str, &str)]) -> FieldMerge {
        FieldMerge {
            base_version: 1,
            expected_version: None,
            keep: keep.iter().map(|s| (*s).to_owned()).collect(),
            remove: remove.iter().map(|s| (*s).to_owned()).collect(),
            set: fields(set),
        }
    }

    #[test]
    fn a_merge_keeps_replaces_removes_and_adds() {
        let current = fields(&[("host", "h"), ("pass", "old"), ("user", "u")]);
        let (out, summary) = merge(&["user"], &["host"], &[("pass", "new"), ("port", "1")])
            .apply(current)
            .unwrap();
        let plain: Vec<(&str, &str)> = out.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(plain, [("pass", "new"), ("port", "1"), ("user", "u")]);
        assert_eq!(
            summary,
            MergeSummary {
                kept: vec!["user".into()],
                replaced: vec!["pass".into()],
                removed: vec!["host".into()],
                added: vec!["port".into()],
            }
        );
        assert_eq!(
            summary.detail(),
            "kept=user replaced=pass removed=host added=port"
        );
    }

    #[test]
    fn a_merge_names_every_current_field_exactly_once() {
        let current = || fields(&[("a", "1"), ("b", "2")]);
        for bad in [
            merge(&["a", "b", "c"], &[], &[]),
            merge(&["a"], &["zz"], &[("b", "x")]),
            merge(&["a"], &[], &[]),
            merge(&["a", "a", "b"], &[], &[]),
            merge(&["a", "b"], &["b"], &[]),
            merge(&["a", "b"], &[], &[("a", "x")]),
            merge(&["a,b"], &[], &[]),
        ] {
            let shown = format!("{bad:?}");
            assert!(
                matches!(bad.apply(current()), Err(CoreError::BadRequest(_))),
                "{shown}"
            );
        }
        assert!(!format!("{:?}", merge(&[], &[], &[("a", "hunter2")])).contains("hunter2"));
    }

    fn patch(set: &[(&str, &str)], unset: &[&str]) -> FieldPatch {
        FieldPatch {
            set: fields(set),
            unset: unset.iter().map(|s| (*s).to_owned()).collect(),
            expected_version: None,
        }
    }

    #[test]
    fn a_patch_keeps_every_field_it_does_not_name() {
        let current = fields(&[("host", "h"), ("pass", "old"), ("user", "u")]);
        let (out, summary) = patch(&[("pass", "new"), ("port", "1")], &["host"])
            .apply(current)
            .unwrap();
        let plain: Vec<(&str, &str)> = out.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(plain, [("pass", "new"), ("port", "1"), ("user", "u")]);
        assert_eq!(
            summary.detail(),
            "kept=user replaced=pass removed=host added=port"
        );
        // Removing every field is left to the structured value's own rule (1-100 fields).
        let (out, _) = patch(&[], &["a"]).apply(fields(&[("a", "1")])).unwrap();
        assert!(SecretInput::Fields(out).into_plaintext().is_err());
    }

    #[test]
    fn a_patch_unsets_only_current_fields_once_and_never_one_it_sets() {
        let current = || fields(&[("a", "1"), ("b", "2")]);
        for bad in [
            patch(&[], &["zz"]),
            patch(&[("a", "x")], &["a"]),
            patch(&[], &["a", "a"]),
            patch(&[], &[]),
            patch(&[], &["a,b"]),
        ] {
            let shown = format!("{bad:?}");
            assert!(
                matches!(bad.apply(current()), Err(CoreError::BadRequest(_))),
                "{shown}"
            );
        }
        assert!(!format!("{:?}", patch(&[("a", "hunter2")], &[])).contains("hunter2"));
    }

    #[test]
    fn an_expected_version_must_be_the_current_one() {
        assert_eq!(check_expected(None, 4), Ok(()));
        assert_eq!(check_expected(Some(4), 4), Ok(()));
        assert_eq!(
            check_expected(Some(3), 4),
            Err(CoreError::VersionConflict { current_version: 4 })
        );
    }

    #[test]
    fn structured_values_are_json_objects_of_strings() {
        let mut m = BTreeMap::new();
        m.insert("user".to_owned(), Zeroizing::new("app".to_owned()));
        m.insert("pass".to_owned(), Zeroizing::new("p\"w".to_owned()));
        let (kind, names, json) = SecretInput::Fields(m).into_plaintext().unwrap();
        assert_eq!(kind, SecretKind::Structured);
        assert_eq!(names.unwrap(), vec!["pass", "user"]);
        assert_eq!(json.as_str(), r#"{"pass":"p\"w","user":"app"}"#);
        let mut bad = BTreeMap::new();
        bad.insert("a,b".to_owned(), Zeroizing::new(String::new()));
        assert!(SecretInput::Fields(bad).into_plaintext().is_err());
        assert!(
            SecretInput::Fields(BTreeMap::new())
                .into_plaintext()
                .is_err()
        );
    }
}
