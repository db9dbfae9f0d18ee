//! Access policies (issue 11, section 4): named, project-scoped rules a machine's read of a bound
//! secret must pass after its grant and before the value is decrypted.
//!
//! Each axis is off unless set:
//!
//! * **Time window** (`start`–`end`, an IANA zone, days of the week), read on the zone's wall
//!   clock. A window whose end is before its start wraps midnight, and the day that counts is
//!   the day it *opened*: `22:00–06:00 mon-fri` is open from Friday 22:00 to Saturday 06:00 and
//!   closed from Sunday 22:00 to Monday 06:00. Across a DST change the wall clock rules: a window
//!   time the change skips never happens that day (a window inside the skipped hour stays shut),
//!   and one it repeats is open both times.
//! * **CIDRs**: the source address as authentication decided it (trusted proxies applied), the
//!   same one the vault allowlist and machine networks see. An unknown address matches nothing.
//! * **Rate caps** per machine and secret: reads per minute and per day, in fixed UTC windows
//!   (a minute starts at :00, a day at 00:00 UTC), not sliding ones.
//! * **Co-sign**: another named machine must have read the same secret within N seconds. The
//!   named machine itself is exempt from this axis (otherwise neither could read first).
//! * **Expiry** (an instant) and **maximum reads** of the secret by all machines together.
//! * **Rotate after N reads**: the reads of each version are counted; the read that reaches N
//!   calls [`rotation_due`], which queues the rotation with trigger `policy`.
//!
//! Counters live in the store and are spent by one transaction of conditional upserts, so they
//! are exact across replicas and under races. The bound policy is loaded by the read view's own
//! query, so there is nothing cached to go stale and a policy write needs no cache stamp: the
//! next read on any replica sees it.

use std::sync::Arc;

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use signet_api::admin::policy::{CoSign, PolicyRules, TimeWindow};
use signet_api::audit::{AuditAction, DenialReason};
use signet_proto::{MachineId, PolicyId, ProjectId, SecretId};
use signet_store::{
    CounterAxis, CounterTake, PolicyRead, PolicyReadOutcome, PolicyRecord, SecretReadView,
};

use crate::address::parse_cidr;
use crate::context::Context;
use crate::name::check_name;
use crate::principal::{AuthedMachine, AuthedOperator};
use crate::role::Permission;
use crate::{CoreError, CoreResult};

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
/// Longest co-sign interval: one day.
pub const MAX_COSIGN_SECONDS: u32 = 86_400;
/// Most CIDRs one policy lists.
pub const MAX_CIDRS: usize = 100;

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A policy as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyView {
    /// Its id.
    pub id: PolicyId,
    /// Its project.
    pub project_id: ProjectId,
    /// Its name.
    pub name: String,
    /// Its rules, as they were given (canonical).
    pub rules: PolicyRules,
    /// Secrets bound to it.
    pub bound_secrets: u32,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms.
    pub updated_ms: i64,
}

/// A time window, parsed.
#[derive(Debug, Clone)]
struct Window {
    start: Time,
    end: Time,
    zone: TimeZone,
    /// Bit `n` set: open on the day `n` days after Monday.
    days: u8,
}

impl Window {
    fn parse(w: &TimeWindow) -> CoreResult<Self> {
        let start = parse_hhmm(&w.start)?;
        let end = parse_hhmm(&w.end)?;
        if start == end {
            return Err(CoreError::bad(
                "window start and end must differ (leave the window out for always)",
            ));
        }
        let zone = TimeZone::get(&w.time_zone)
            .map_err(|_| CoreError::bad(format!("unknown time zone {:?}", w.time_zone)))?;
        let mut days = 0u8;
        for d in &w.days {
            let i = DAY_NAMES
                .iter()
                .position(|n| n.eq_ignore_ascii_case(d))
                .ok_or_else(|| CoreError::bad(format!("unknown day {d:?}: use mon..sun")))?;
            days |= 1 << i;
        }
        if w.days.is_empty() {
            days = 0x7f;
        }
        Ok(Self {
            start,
            end,
            zone,
            days,
        })
    }

    fn on(&self, day: Weekday) -> bool {
        // `to_monday_zero_offset` is 0..=6.
        self.days & (1 << day.to_monday_zero_offset()) != 0
    }

    /// Whether the window is open at `now_ms`, on the zone's wall clock.
    fn open_at(&self, now_ms: i64) -> bool {
        let Ok(ts) = Timestamp::from_millisecond(now_ms) else {
            return false;
        };
        let local: Zoned = ts.to_zoned(self.zone.clone());
        let (t, day) = (local.time(), local.weekday());
        if self.start < self.end {
            self.on(day) && self.start <= t && t < self.end
        } else {
            // Wraps midnight: before `end` belongs to the window that opened yesterday.
            (t >= self.start && self.on(day)) || (t < self.end && self.on(day.previous()))
        }
    }
}

fn parse_hhmm(s: &str) -> CoreResult<Time> {
    let bad = || CoreError::bad(format!("time {s:?} must be HH:MM (00:00-23:59)"));
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: i8 = h.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    Time::new(h, m, 0, 0).map_err(|_| bad())
}

/// Rules, parsed and checked: what a read is evaluated against.
#[derive(Debug, Clone)]
struct Compiled {
    window: Option<Window>,
    cidrs: Option<Vec<String>>,
    per_minute: Option<u32>,
    per_day: Option<u32>,
    cosign: Option<(MachineId, u32)>,
    expires_ms: Option<i64>,
    max_reads: Option<u64>,
    rotate_after: Option<u64>,
}

fn at_least_one<T: PartialOrd + From<u8>>(what: &str, v: Option<T>) -> CoreResult<Option<T>> {
    match v {
        Some(n) if n < T::from(1) => Err(CoreError::bad(format!("{what} must be at least 1"))),
        v => Ok(v),
    }
}

impl Compiled {
    fn parse(r: &PolicyRules) -> CoreResult<Self> {
        let cidrs = match &r.cidrs {
            None => None,
            Some(list) if list.is_empty() || list.len() > MAX_CIDRS => {
                return Err(CoreError::bad(format!(
                    "cidrs must list 1-{MAX_CIDRS} networks (leave it out for any)"
                )));
            }
            Some(list) => {
                for c in list {
                    parse_cidr(c)?;
                }
                Some(list.clone())
            }
        };
        let cosign = match &r.cosign {
            None => None,
            Some(CoSign {
                machine_id,
                within_seconds,
            }) => {
                let m = MachineId::parse(machine_id)
                    .map_err(|_| CoreError::bad("cosign machineId is not a machine id"))?;
                if !(1..=MAX_COSIGN_SECONDS).contains(within_seconds) {
                    return Err(CoreError::bad(format!(
                        "cosign withinSeconds must be 1-{MAX_COSIGN_SECONDS}"
                    )));
                }
                Some((m, *within_seconds))
            }
        };
        let expires_ms = match &r.expires_at {
            None => None,
            Some(s) => Some(
                s.parse::<Timestamp>()
                    .map_err(|_| CoreError::bad(format!("expiresAt {s:?} is not RFC 3339")))?
                    .as_millisecond(),
            ),
        };
        Ok(Self {
            window: r.window.as_ref().map(Window::parse).transpose()?,
            cidrs,
            per_minute: at_least_one("perMinute", r.per_minute)?,
            per_day: at_least_one("perDay", r.per_day)?,
            cosign,
            expires_ms,
            max_reads: at_least_one("maxReads", r.max_reads)?,
            rotate_after: at_least_one("rotateAfterReads", r.rotate_after_reads)?,
        })
    }

    fn from_stored(p: &PolicyRecord) -> CoreResult<Self> {
        let rules: PolicyRules = serde_json::from_str(&p.rules).map_err(|_| {
            tracing::error!(policy = %p.id, "stored policy rules do not parse");
            CoreError::Unavailable
        })?;
        Self::parse(&rules).map_err(|_| {
            tracing::error!(policy = %p.id, "stored policy rules are invalid");
            CoreError::Unavailable
        })
    }
}

/// Which axis a take stands for, to name it in the refusal.
fn take_reason(axis: CounterAxis) -> DenialReason {
    match axis {
        CounterAxis::Minute => DenialReason::PolicyRateMinute,
        CounterAxis::Day => DenialReason::PolicyRateDay,
        CounterAxis::Total | CounterAxis::Version => DenialReason::PolicyMaxReads,
    }
}

/// The read may go on; `rotate` is set when this read reached the rotate-after count.
pub(crate) struct Admitted {
    pub(crate) rotate: bool,
}

/// The axes of `view`'s bound policy that spend no counter: its expiry, its window and its
/// networks. A sync agent's `sync-config` hands out the pending value (the secret's next value)
/// and must pass them like a read; it polls every few seconds, so it spends no read counter.
/// `Some(reason)`: refused on that axis.
pub(crate) fn refuses_uncounted(
    cx: &Context,
    m: &AuthedMachine,
    view: &SecretReadView,
) -> CoreResult<Option<DenialReason>> {
    let Some(policy) = &view.policy else {
        return Ok(None);
    };
    let rules = Compiled::from_stored(policy)?;
    let now = cx.now_ms();
    if rules.expires_ms.is_some_and(|e| now >= e) {
        return Ok(Some(DenialReason::PolicyExpired));
    }
    if rules.window.as_ref().is_some_and(|w| !w.open_at(now)) {
        return Ok(Some(DenialReason::PolicyWindow));
    }
    if let Some(cidrs) = &rules.cidrs
        && !crate::address::ip_in_cidrs(m.source_ip, cidrs)
    {
        return Ok(Some(DenialReason::PolicyCidr));
    }
    Ok(None)
}

/// Evaluates the bound policy of `view` for one read by `m` at `now_ms`, spending its counters.
/// `Err(reason)`: refused on that axis, nothing spent. A secret without a policy is admitted
/// here without touching the store.
pub(crate) async fn admit(
    cx: &Context,
    m: &AuthedMachine,
    view: &SecretReadView,
) -> CoreResult<Result<Admitted, DenialReason>> {
    let Some(policy) = &view.policy else {
        return Ok(Ok(Admitted { rotate: false }));
    };
    let rules = Compiled::from_stored(policy)?;
    let now = cx.now_ms();
    if rules.expires_ms.is_some_and(|e| now >= e) {
        return Ok(Err(DenialReason::PolicyExpired));
    }
    if rules.window.as_ref().is_some_and(|w| !w.open_at(now)) {
        return Ok(Err(DenialReason::PolicyWindow));
    }
    if let Some(cidrs) = &rules.cidrs
        && !crate::address::ip_in_cidrs(m.source_ip, cidrs)
    {
        return Ok(Err(DenialReason::PolicyCidr));
    }
    let me = m.record.id;
    let secret = &view.secret.id;
    let mut takes = Vec::new();
    if let Some(n) = rules.per_minute {
        takes.push(CounterTake {
            machine: Some(me),
            axis: CounterAxis::Minute,
            window: now - now.rem_euclid(MINUTE_MS),
            cap: Some(u64::from(n)),
        });
    }
    if let Some(n) = rules.per_day {
        takes.push(CounterTake {
            machine: Some(me),
            axis: CounterAxis::Day,
            window: now - now.rem_euclid(DAY_MS),
            cap: Some(u64::from(n)),
        });
    }
    if let Some(n) = rules.max_reads {
        takes.push(CounterTake {
            machine: None,
            axis: CounterAxis::Total,
            window: 0,
            cap: Some(n),
        });
    }
    if rules.rotate_after.is_some() {
        takes.push(CounterTake {
            machine: None,
            axis: CounterAxis::Version,
            window: i64::from(view.secret.current_version),
            cap: None,
        });
    }
    let cosign = rules
        .cosign
        .filter(|(other, _)| *other != me)
        .map(|(other, secs)| (other, now - i64::from(secs) * 1000));
    let read = PolicyRead {
        secret: secret.clone(),
        machine: me,
        now_ms: now,
        cosign,
        takes,
    };
    match cx.store.record_policy_read(&read).await? {
        PolicyReadOutcome::NoCosign => Ok(Err(DenialReason::PolicyCosign)),
        PolicyReadOutcome::AtCap(i) => {
            let axis = read.takes.get(i).map_or(CounterAxis::Total, |t| t.axis);
            Ok(Err(take_reason(axis)))
        }
        PolicyReadOutcome::Taken(counts) => {
            // The version count is the last take when rotate-after is set.
            let rotate = match (rules.rotate_after, counts.last()) {
                (Some(n), Some(&c)) => c >= n,
                _ => false,
            };
            Ok(Ok(Admitted { rotate }))
        }
    }
}

/// The hook of "rotate after N reads": called after a read of `version` of `secret` that brought
/// that version's read count to the policy's N or past it (every such read calls it, until a
/// new version starts a new count). It queues a rotation with trigger `policy` for the task
/// `Signet::open` spawns; that rotation is a check-and-set on `version`, so however many reads
/// race past N, the version is rotated once.
pub(crate) fn rotation_due(cx: &Context, secret: &SecretId, version: u32) {
    if cx
        .rotations_due
        .try_send((secret.clone(), version))
        .is_err()
    {
        // Full (a burst of reads past N) or closed (shutting down): the next read asks again.
        tracing::debug!(%secret, version, "access policy: rotation request not queued");
    }
}

/// Policies as operators manage them.
#[derive(Clone)]
pub struct Policies {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
}

fn canonical(rules: &PolicyRules) -> CoreResult<String> {
    serde_json::to_string(rules).map_err(|_| CoreError::Unavailable)
}

fn view(p: PolicyRecord, bound_secrets: u32) -> CoreResult<PolicyView> {
    let rules: PolicyRules = serde_json::from_str(&p.rules).map_err(|_| {
        tracing::error!(policy = %p.id, "stored policy rules do not parse");
        CoreError::Unavailable
    })?;
    Ok(PolicyView {
        id: p.id,
        project_id: p.project_id,
        name: p.name,
        rules,
        bound_secrets,
        created_ms: p.created_ms,
        updated_ms: p.updated_ms,
    })
}

impl Policies {
    /// The project, after the role and scope checks; `NotFound` if it does not exist.
    async fn project(
        &self,
        op: &AuthedOperator,
        perm: Permission,
        project: &str,
        action: AuditAction,
    ) -> CoreResult<ProjectId> {
        self.cx.require(op, perm, action).await?;
        let parsed = ProjectId::parse(project).ok();
        self.cx.require_project(op, parsed.as_ref(), action).await?;
        let id = parsed.ok_or(CoreError::NotFound)?;
        self.cx
            .store
            .project(&id)
            .await?
            .ok_or(CoreError::NotFound)?;
        Ok(id)
    }

    /// The policy `id` of `project`; another project's is `NotFound`, like a missing one.
    async fn policy_in(&self, project: &ProjectId, id: &str) -> CoreResult<PolicyRecord> {
        let id = PolicyId::parse(id).map_err(|_| CoreError::NotFound)?;
        match self.cx.store.policy(&id).await? {
            Some(p) if p.project_id == *project => Ok(p),
            _ => Err(CoreError::NotFound),
        }
    }

    /// A project's policies, by name.
    pub async fn list(&self, op: &AuthedOperator, project: &str) -> CoreResult<Vec<PolicyView>> {
        let project = self
            .project(op, Permission::Read, project, AuditAction::PolicyList)
            .await?;
        self.cx
            .store
            .policies(&project)
            .await?
            .into_iter()
            .map(|(p, n)| view(p, n))
            .collect()
    }

    /// One policy.
    pub async fn show(
        &self,
        op: &AuthedOperator,
        project: &str,
        id: &str,
    ) -> CoreResult<PolicyView> {
        let project = self
            .project(op, Permission::Read, project, AuditAction::PolicyList)
            .await?;
        let p = self.policy_in(&project, id).await?;
        self.cx
            .store
            .policies(&project)
            .await?
            .into_iter()
            .find(|(q, _)| q.id == p.id)
            .map(|(q, n)| view(q, n))
            .ok_or(CoreError::NotFound)?
    }

    /// Creates a policy. Audited `policy_create`.
    pub async fn create(
        &self,
        op: &AuthedOperator,
        project: &str,
        name: &str,
        rules: &PolicyRules,
    ) -> CoreResult<PolicyView> {
        let action = AuditAction::PolicyCreate;
        let project = self
            .project(op, Permission::ManageProjects, project, action)
            .await?;
        check_name("policy", name)?;
        Compiled::parse(rules)?;
        let now = self.cx.now_ms();
        let record = PolicyRecord {
            id: PolicyId::generate(),
            project_id: project,
            name: name.to_owned(),
            rules: canonical(rules)?,
            created_ms: now,
            updated_ms: now,
        };
        self.cx
            .audited(op, action, record.id.as_str(), &format!("name={name:?}"))
            .insert_policy(&record)
            .await?;
        view(record, 0)
    }

    /// Renames a policy (`name` `None`: kept) and replaces its rules. Audited `policy_update`.
    pub async fn update(
        &self,
        op: &AuthedOperator,
        project: &str,
        id: &str,
        name: Option<&str>,
        rules: &PolicyRules,
    ) -> CoreResult<PolicyView> {
        let action = AuditAction::PolicyUpdate;
        let project = self
            .project(op, Permission::ManageProjects, project, action)
            .await?;
        let p = self.policy_in(&project, id).await?;
        let name = name.unwrap_or(&p.name).to_owned();
        check_name("policy", &name)?;
        Compiled::parse(rules)?;
        self.cx
            .audited(op, action, p.id.as_str(), &format!("name={name:?}"))
            .update_policy(&p.id, &name, &canonical(rules)?, self.cx.now_ms())
            .await?;
        self.show(op, project.as_str(), p.id.as_str()).await
    }

    /// Deletes a policy; 409 `policy_in_use` while a secret is bound to it. Audited
    /// `policy_delete`.
    pub async fn delete(&self, op: &AuthedOperator, project: &str, id: &str) -> CoreResult<()> {
        let action = AuditAction::PolicyDelete;
        let project = self
            .project(op, Permission::ManageProjects, project, action)
            .await?;
        let p = self.policy_in(&project, id).await?;
        self.cx
            .audited(op, action, p.id.as_str(), &format!("name={:?}", p.name))
            .delete_policy(&p.id)
            .await?;
        Ok(())
    }

    /// Binds a policy of the secret's own project to it, replacing any, or unbinds (`None`).
    /// A policy of another project is a 400; unknown ones are 404. Audited
    /// `secret_policy_bind`.
    pub async fn bind(
        &self,
        op: &AuthedOperator,
        secret: &str,
        policy: Option<&str>,
    ) -> CoreResult<Option<PolicyId>> {
        let action = AuditAction::SecretPolicyBind;
        self.cx
            .require(op, Permission::ManageProjects, action)
            .await?;
        let found = match SecretId::parse(secret) {
            Ok(id) => self
                .cx
                .store
                .secret(&id)
                .await?
                .filter(|s| s.deleted_ms.is_none()),
            Err(_) => None,
        };
        self.cx
            .require_project(op, found.as_ref().map(|s| &s.project_id), action)
            .await?;
        let secret = found.ok_or(CoreError::NotFound)?;
        let policy = match policy {
            None => None,
            Some(id) => {
                let id = PolicyId::parse(id).map_err(|_| CoreError::NotFound)?;
                let p = self
                    .cx
                    .store
                    .policy(&id)
                    .await?
                    .ok_or(CoreError::NotFound)?;
                if p.project_id != secret.project_id {
                    return Err(CoreError::bad(
                        "the policy belongs to another project than the secret",
                    ));
                }
                Some(p.id)
            }
        };
        let detail = match &policy {
            Some(p) => format!("policy={p}"),
            None => "policy=none".to_owned(),
        };
        self.cx
            .audited(op, action, secret.id.as_str(), &detail)
            .bind_policy(&secret.id, policy.as_ref())
            .await?;
        Ok(policy)
    }

    /// The policy bound to a secret the operator may see.
    pub async fn bound(&self, op: &AuthedOperator, secret: &str) -> CoreResult<Option<PolicyId>> {
        let action = AuditAction::PolicyList;
        self.cx.require(op, Permission::Read, action).await?;
        let found = match SecretId::parse(secret) {
            Ok(id) => self.cx.store.secret(&id).await?,
            Err(_) => None,
        };
        self.cx
            .require_project(op, found.as_ref().map(|s| &s.project_id), action)
            .await?;
        let secret = found.ok_or(CoreError::NotFound)?;
        Ok(self.cx.store.secret_policy(&secret.id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(start: &str, end: &str, days: &[&str]) -> Window {
        Window::parse(&TimeWindow {
            start: start.to_owned(),
            end: end.to_owned(),
            time_zone: "Europe/Oslo".to_owned(),
            days: days.iter().map(|d| (*d).to_owned()).collect(),
        })
        .unwrap()
    }

    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn times_and_days_parse_strictly() {
        for bad in ["9:00", "24:00", "12:60", "12-00", "aa:bb", ""] {
            assert!(parse_hhmm(bad).is_err(), "{bad}");
        }
        assert!(parse_hhmm("23:59").is_ok());
        assert!(
            Window::parse(&TimeWindow {
                start: "09:00".into(),
                end: "09:00".into(),
                time_zone: "UTC".into(),
                days: vec![],
            })
            .is_err()
        );
        assert!(
            Window::parse(&TimeWindow {
                start: "09:00".into(),
                end: "10:00".into(),
                time_zone: "Mars/Olympus".into(),
                days: vec![],
            })
            .is_err()
        );
        assert!(
            Window::parse(&TimeWindow {
                start: "09:00".into(),
                end: "10:00".into(),
                time_zone: "UTC".into(),
                days: vec!["funday".into()],
            })
            .is_err()
        );
    }

    #[test]
    fn a_wrapping_window_counts_on_the_day_it_opened() {
        // 2026-01-02 is a Friday; Oslo is UTC+1 in winter.
        let w = window("22:00", "06:00", &["mon", "tue", "wed", "thu", "fri"]);
        assert!(!w.open_at(at("2026-01-02T20:59:00Z"))); // Fri 21:59
        assert!(w.open_at(at("2026-01-02T21:00:00Z"))); // Fri 22:00
        assert!(w.open_at(at("2026-01-03T04:59:00Z"))); // Sat 05:59, opened Friday
        assert!(!w.open_at(at("2026-01-03T05:00:00Z"))); // Sat 06:00
        assert!(!w.open_at(at("2026-01-03T21:30:00Z"))); // Sat 22:30
        assert!(!w.open_at(at("2026-01-05T01:00:00Z"))); // Mon 02:00, opened Sunday
        assert!(w.open_at(at("2026-01-05T21:00:00Z"))); // Mon 22:00
    }
}
