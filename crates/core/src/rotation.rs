//! Rotation: a secret's value regenerated on the server, by hand, on a schedule, or by an
//! access policy. Each rotation is a new version written through the same conditional append
//! as an update (a fresh data key), audited `secret_rotate` with its trigger.
//!
//! The scheduler ([`Rotation::rotate_due`]) may run on every replica at once: each due rotation
//! is claimed by moving its due moment conditionally in the rotation's own transaction (see
//! `RotationStore::append_rotation`), so exactly one replica writes it. A schedule that missed
//! several intervals (the server was down) rotates once and is next due one interval from now.

use std::collections::BTreeMap;
use std::sync::Arc;

use signet_api::audit::AuditAction;
use signet_crypto::generator::{Charset, Generator};
use signet_proto::{MachineId, SecretId};
use signet_store::{
    ActorKind, AuditResult, Conflict, RotationClaim, RotationRecord, SecretKind, SecretRecord,
    StoreError,
};
use zeroize::Zeroizing;

use crate::context::Context;
use crate::journal::Actor;
use crate::managed::Managed;
use crate::principal::AuthedOperator;
use crate::read::Reads;
use crate::role::Permission;
use crate::secret::{
    SecretInput, SecretView, Secrets, check_field_name, parse_fields, refuse_canary,
};
use crate::{CoreError, CoreResult};

/// The shortest schedule interval, in seconds (5 minutes).
pub const MIN_INTERVAL_SECS: u64 = 300;
/// The longest schedule interval, in seconds (30 days).
pub const MAX_INTERVAL_SECS: u64 = 30 * 86_400;
/// Most due rotations one scheduler tick takes on; the rest wait for the next tick.
pub const TICK_BATCH: u32 = 100;

/// What caused a rotation, as its audit record names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationTrigger {
    /// An operator asked for it.
    Manual,
    /// The secret's schedule was due.
    Schedule,
    /// An access policy's "rotate after N reads".
    Policy,
}

impl RotationTrigger {
    /// The name in the audit record's `trigger=` detail.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Schedule => "schedule",
            Self::Policy => "policy",
        }
    }
}

/// Rotation settings as an operator sets them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationSpec {
    /// A charset name (`symbols` when `None`).
    pub charset: Option<String>,
    /// Length 1-1024 (32 when `None`; a UUID is 36).
    pub length: Option<u32>,
    /// For a structured secret, the fields that rotate; `None`: all of them.
    pub fields: Option<Vec<String>>,
    /// The schedule's interval in seconds, 300 to 30 days; `None`: no schedule.
    pub interval_secs: Option<u64>,
}

/// A secret's rotation settings and schedule, as shown to operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationView {
    /// The secret.
    pub secret_id: SecretId,
    /// The charset name.
    pub charset: String,
    /// The generated length.
    pub length: u32,
    /// The fields that rotate (`None`: all).
    pub fields: Option<Vec<String>>,
    /// The schedule's interval in seconds, if scheduled.
    pub interval_secs: Option<u64>,
    /// Whether the schedule is paused.
    pub paused: bool,
    /// When the scheduler next rotates it, Unix ms.
    pub next_due_at: Option<i64>,
    /// The newest rotation, Unix ms.
    pub last_rotated_at: Option<i64>,
}

impl From<RotationRecord> for RotationView {
    fn from(r: RotationRecord) -> Self {
        Self {
            secret_id: r.secret_id,
            charset: r.charset,
            length: r.length,
            fields: r.fields,
            interval_secs: r.interval_ms.and_then(|ms| u64::try_from(ms / 1000).ok()),
            paused: r.paused,
            next_due_at: r.next_due_ms,
            last_rotated_at: r.last_rotated_ms,
        }
    }
}

/// What one scheduler tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Rotations this replica wrote.
    pub rotated: u32,
    /// Due rotations another replica (or a concurrent write) took first.
    pub lost: u32,
    /// Due rotations that failed and stay due.
    pub failed: u32,
}

/// The generator a record describes. A stored record passed these checks when it was set, so a
/// failure here means the row was changed behind the server's back.
fn generator(charset: &str, length: u32) -> CoreResult<Generator> {
    let c = Charset::parse(charset).ok_or_else(|| {
        tracing::error!("a stored rotation charset is unknown");
        CoreError::Unavailable
    })?;
    Generator::new(Some(length), c).map_err(|_| {
        tracing::error!("a stored rotation length is out of range");
        CoreError::Unavailable
    })
}

/// The default settings: every field, 32 symbols, no schedule.
fn default_record(id: &SecretId, now: i64) -> RotationRecord {
    RotationRecord {
        secret_id: id.clone(),
        charset: Charset::Symbols.as_str().to_owned(),
        length: signet_crypto::generator::DEFAULT_LENGTH,
        fields: None,
        interval_ms: None,
        paused: false,
        next_due_ms: None,
        last_rotated_ms: None,
        updated_ms: now,
    }
}

/// Rotation settings, manual rotation, and the scheduler.
#[derive(Clone)]
pub struct Rotation {
    pub(crate) cx: Arc<Context>,
    pub(crate) reads: Reads,
    pub(crate) secrets: Secrets,
}

impl Rotation {
    /// A secret's settings, `None` if it has none.
    pub async fn show(&self, op: &AuthedOperator, id: &str) -> CoreResult<Option<RotationView>> {
        let s = self
            .secrets
            .secret_in_scope(op, id, AuditAction::SecretShow)
            .await?;
        Ok(self.cx.store.rotation(&s.id).await?.map(Into::into))
    }

    /// Creates or replaces a secret's settings. A schedule is next due one interval from now.
    pub async fn set(
        &self,
        op: &AuthedOperator,
        id: &str,
        spec: RotationSpec,
    ) -> CoreResult<RotationView> {
        self.cx
            .require(op, Permission::WriteSecrets, AuditAction::SecretRotationSet)
            .await?;
        let s = self
            .secrets
            .secret_in_scope(op, id, AuditAction::SecretRotationSet)
            .await?;
        refuse_canary(&s)?;
        let charset = match &spec.charset {
            // A managed password passes unquoted through SikkerKey's agent (`crate::managed`).
            None if self.cx.store.managed(&s.id).await?.is_some() => Charset::Alphanumeric,
            None => Charset::Symbols,
            Some(name) => Charset::parse(name).ok_or_else(|| {
                CoreError::bad(
                    "charset must be one of symbols, alphanumeric, numbers, hex, base64url, uuid",
                )
            })?,
        };
        let generator = Generator::new(spec.length, charset)
            .map_err(|_| CoreError::bad("length must be 1-1024 (a uuid is 36)"))?;
        let fields = match (s.kind, spec.fields) {
            (_, None) => None,
            (SecretKind::Standard, Some(_)) => {
                return Err(CoreError::bad(
                    "only a structured secret has fields to rotate",
                ));
            }
            (SecretKind::Structured, Some(fields)) => {
                let current = s.field_names.clone().unwrap_or_default();
                if fields.is_empty() {
                    return Err(CoreError::bad("name at least one field to rotate"));
                }
                let mut seen = std::collections::BTreeSet::new();
                for f in &fields {
                    check_field_name(f)?;
                    if !current.contains(f) {
                        return Err(CoreError::bad(format!(
                            "field {f:?} is not a field of the current version"
                        )));
                    }
                    if !seen.insert(f.clone()) {
                        return Err(CoreError::bad(format!(
                            "field {f:?} is named more than once"
                        )));
                    }
                }
                Some(seen.into_iter().collect())
            }
        };
        let interval_ms = match spec.interval_secs {
            None => None,
            Some(secs) if (MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS).contains(&secs) => {
                // At most 30 days in ms: far inside i64.
                Some(i64::try_from(secs * 1000).map_err(|_| CoreError::bad("interval"))?)
            }
            Some(_) => {
                return Err(CoreError::bad(
                    "the interval must be between 5 minutes and 30 days",
                ));
            }
        };
        let now = self.cx.now_ms();
        let record = RotationRecord {
            secret_id: s.id.clone(),
            charset: generator.charset().as_str().to_owned(),
            length: generator.length(),
            fields,
            interval_ms,
            paused: false,
            next_due_ms: interval_ms.map(|i| now + i),
            last_rotated_ms: None,
            updated_ms: now,
        };
        let detail = format!(
            "charset={} length={} fields={} interval_secs={}",
            record.charset,
            record.length,
            record
                .fields
                .as_deref()
                .map_or("*".to_owned(), |f| f.join(",")),
            spec.interval_secs
                .map_or("none".to_owned(), |i| i.to_string()),
        );
        self.cx
            .audited(op, AuditAction::SecretRotationSet, s.id.as_str(), &detail)
            .set_rotation(&record)
            .await?;
        self.cx
            .store
            .rotation(&s.id)
            .await?
            .map(Into::into)
            .ok_or(CoreError::NotFound)
    }

    /// Removes a secret's settings (and its schedule). `NotFound` if it has none.
    pub async fn clear(&self, op: &AuthedOperator, id: &str) -> CoreResult<()> {
        self.cx
            .require(
                op,
                Permission::WriteSecrets,
                AuditAction::SecretRotationClear,
            )
            .await?;
        let s = self
            .secrets
            .secret_in_scope(op, id, AuditAction::SecretRotationClear)
            .await?;
        self.cx
            .audited(op, AuditAction::SecretRotationClear, s.id.as_str(), "")
            .clear_rotation(&s.id)
            .await?;
        Ok(())
    }

    /// Pauses (`paused`) or resumes a schedule. Resuming starts a full interval from now, so a
    /// long pause never ends in an immediate rotation.
    pub async fn set_paused(
        &self,
        op: &AuthedOperator,
        id: &str,
        paused: bool,
    ) -> CoreResult<RotationView> {
        let action = if paused {
            AuditAction::SecretRotationPause
        } else {
            AuditAction::SecretRotationResume
        };
        self.cx
            .require(op, Permission::WriteSecrets, action)
            .await?;
        let s = self.secrets.secret_in_scope(op, id, action).await?;
        let r = self
            .cx
            .store
            .rotation(&s.id)
            .await?
            .ok_or_else(|| CoreError::bad("the secret has no rotation settings"))?;
        let Some(interval) = r.interval_ms else {
            return Err(CoreError::bad("the secret's rotation has no schedule"));
        };
        let now = self.cx.now_ms();
        let next = (!paused).then_some(now + interval);
        self.cx
            .audited(op, action, s.id.as_str(), "")
            .set_rotation_paused(&s.id, paused, next, now)
            .await?;
        self.cx
            .store
            .rotation(&s.id)
            .await?
            .map(Into::into)
            .ok_or(CoreError::NotFound)
    }

    /// Rotates a secret now, for an operator (trigger `manual`), with its settings or the
    /// defaults (every field, 32 symbols).
    pub async fn rotate_now(&self, op: &AuthedOperator, id: &str) -> CoreResult<SecretView> {
        self.cx
            .require(op, Permission::WriteSecrets, AuditAction::SecretRotate)
            .await?;
        let s = self
            .secrets
            .secret_in_scope(op, id, AuditAction::SecretRotate)
            .await?;
        let actor = Actor::operator(op);
        let by = op.id.to_string();
        self.write(&actor, &by, s, RotationTrigger::Manual, None)
            .await
    }

    /// Rotates a live secret for the server itself: an access policy's trigger (or any caller
    /// that is not an operator request). Audited with the system as the actor.
    pub async fn rotate(
        &self,
        secret: &SecretId,
        trigger: RotationTrigger,
    ) -> CoreResult<SecretView> {
        let s = match self.cx.store.secret(secret).await? {
            Some(s) if s.deleted_ms.is_none() => s,
            _ => return Err(CoreError::NotFound),
        };
        let actor = Actor::new(ActorKind::System, trigger.as_str(), "local");
        self.write(&actor, trigger.as_str(), s, trigger, None).await
    }

    /// The rotation an access policy made due after N reads of `version`: a check-and-set on
    /// that version, so the reads that raced past N rotate it once (the others find a newer
    /// version and do nothing).
    pub(crate) async fn rotate_after_reads(&self, secret: &SecretId, version: u32) {
        let s = match self.cx.store.secret(secret).await {
            Ok(Some(s)) if s.deleted_ms.is_none() && s.current_version == version => s,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(%secret, error = %e, "policy rotation: the secret could not be read");
                return;
            }
        };
        let trigger = RotationTrigger::Policy;
        let actor = Actor::new(ActorKind::System, trigger.as_str(), "local");
        match self.write(&actor, trigger.as_str(), s, trigger, None).await {
            Ok(_)
            | Err(CoreError::Conflict(
                Conflict::Version | Conflict::Canary | Conflict::RotationPending,
            )) => {}
            Err(e) => {
                tracing::warn!(%secret, error = %e, "policy rotation failed; the next read past N asks again");
            }
        }
    }

    /// One scheduler tick: rotates every due schedule this replica claims first, at most
    /// [`TICK_BATCH`]. A claim another replica took, or a version a concurrent write took, is
    /// lost, not failed; a failure leaves the rotation due for the next tick.
    pub async fn rotate_due(&self) -> CoreResult<TickReport> {
        let now = self.cx.now_ms();
        let due = self.cx.store.due_rotations(now, TICK_BATCH).await?;
        let mut report = TickReport::default();
        let actor = Actor::new(ActorKind::System, "scheduler", "local");
        for r in due {
            let (Some(due_ms), Some(interval)) = (r.next_due_ms, r.interval_ms) else {
                continue;
            };
            // From now, not from the missed moment: a schedule that missed several intervals
            // rotates once, not once per interval.
            let claim = RotationClaim {
                due_ms,
                next_due_ms: now + interval,
            };
            let id = r.secret_id.clone();
            let secret = match self.cx.store.secret(&id).await? {
                Some(s) if s.deleted_ms.is_none() => s,
                _ => continue,
            };
            match self
                .write(
                    &actor,
                    "scheduler",
                    secret,
                    RotationTrigger::Schedule,
                    Some((claim, r)),
                )
                .await
            {
                Ok(_) => report.rotated += 1,
                Err(
                    CoreError::Conflict(
                        Conflict::RotationClaimed | Conflict::Version | Conflict::RotationPending,
                    )
                    | CoreError::NotFound,
                ) => report.lost += 1,
                Err(e) => {
                    tracing::warn!(secret = %id, error = %e, "a scheduled rotation failed; it stays due");
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    /// Generates, seals and appends the rotation's version, with its audit record in the same
    /// transaction. With a claim, the scheduler's settings are those it read with the claim.
    async fn write(
        &self,
        actor: &Actor,
        by: &str,
        s: SecretRecord,
        trigger: RotationTrigger,
        claimed: Option<(RotationClaim, RotationRecord)>,
    ) -> CoreResult<SecretView> {
        // A canary's value is the server's trap: no trigger replaces it.
        refuse_canary(&s)?;
        // A managed secret's rotation is only pending until its agent has set it in the
        // database and confirmed it (`crate::managed`).
        if self.cx.store.managed(&s.id).await?.is_some() {
            let (claim, settings) = match claimed {
                Some((c, r)) => (Some(c), Some(r)),
                None => (None, self.cx.store.rotation(&s.id).await?),
            };
            let managed = Managed {
                cx: self.cx.clone(),
                reads: self.reads.clone(),
                secrets: self.secrets.clone(),
            };
            return managed
                .begin_rotation(actor, by, s, trigger.as_str(), settings, claim)
                .await
                .map(Into::into);
        }
        let now = self.cx.now_ms();
        let (claim, settings) = match claimed {
            Some((c, r)) => (Some(c), r),
            None => (
                None,
                self.cx
                    .store
                    .rotation(&s.id)
                    .await?
                    .unwrap_or_else(|| default_record(&s.id, now)),
            ),
        };
        let generator = generator(&settings.charset, settings.length)?;
        let id = s.id.clone();
        let project = self
            .cx
            .store
            .project(&s.project_id)
            .await?
            .ok_or(CoreError::NotFound)?;
        let (expected, input, rotated, changed) = match s.kind {
            SecretKind::Standard => (
                s.current_version,
                SecretInput::Value(fresh(&generator)?),
                "*".to_owned(),
                None,
            ),
            SecretKind::Structured => {
                // An operator is no machine: an id that matches no row stands in, and only the
                // value columns of the view are used.
                let view = self
                    .cx
                    .store
                    .read_view(&MachineId::generate(), &id)
                    .await?
                    .ok_or(CoreError::NotFound)?;
                let mut fields: BTreeMap<String, Zeroizing<String>> =
                    parse_fields(&self.reads.decrypt(&view).await?.0)?;
                let names: Vec<String> = match &settings.fields {
                    Some(f) => f.clone(),
                    None => fields.keys().cloned().collect(),
                };
                let before = fields.clone();
                for name in &names {
                    fields.insert(name.clone(), fresh(&generator)?);
                }
                let changed = crate::secret::changed_fields(&before, &fields);
                (
                    view.secret.current_version,
                    SecretInput::Fields(fields),
                    names.join(","),
                    Some(changed),
                )
            }
        };
        let next = expected + 1;
        let mut v = self
            .secrets
            .seal_version(&project, &id, next, input, by)
            .await?;
        v.changed_fields = changed;
        let event = self.cx.event(
            actor,
            AuditAction::SecretRotate,
            id.as_str(),
            AuditResult::Ok,
            &format!(
                "trigger={} version={next} fields={rotated}",
                trigger.as_str()
            ),
        );
        let written = self
            .cx
            .audited_event(event)
            .append_rotation(&id, expected, &v, claim)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(c) => CoreError::Conflict(c),
                e => e.into(),
            })?;
        Ok(crate::secret::written_version(s, written, v).into())
    }
}

fn fresh(g: &Generator) -> CoreResult<Zeroizing<String>> {
    g.generate().map_err(|_| {
        tracing::error!("the OS random number generator failed");
        CoreError::Unavailable
    })
}
