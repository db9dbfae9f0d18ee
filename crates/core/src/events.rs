//! Change notifications for machines (issue 12 §3): the audit log is the change feed.
//!
//! Every change is already an audit record, durable before anything is answered, numbered
//! without gaps and the same on every replica. So an event's id is the `seq` of the record it
//! comes from, and a stream resumes after any id exactly, on any replica.
//!
//! # One reader per process
//!
//! A [`Hub`] task follows the log's head and reads each new record once for every stream in the
//! process: it maps the records to [`Cause`]s (which machine-facing change, if any, a record
//! means, without deciding who may hear it) and broadcasts them in batches. It wakes on the
//! store's change feed (`Change::Audit`: this process's own appends on SQLite; every replica's on
//! PostgreSQL, through `pg_notify` in the append's transaction) and, in case the feed is down or
//! another process appends to the same SQLite file, checks the head every [`HEAD_CHECK`].
//! Without open streams it reads only the head.
//!
//! # Who hears what
//!
//! Each [`Subscription`] decides for its machine, once per batch that concerns it, through the
//! store and never from the record alone: one `poll` query says which of the batch's secrets the
//! machine is attached to and granted right now (a deletion is told only to a machine that could
//! read the secret until then, as `POST /v1/secrets/poll` does). Grants, attachments and state
//! changes of *this* machine are `access.changed`; nothing names another machine. A revoked
//! grant is one `access.changed` for that secret, and from then on the secret's changes are
//! filtered out like any other secret the machine may not read.
//!
//! # Staying cheap and safe
//!
//! An idle stream costs a broadcast receiver and its keep-alive timer; it re-checks its machine
//! (approved, enabled, not expired, source inside the vault allowlist and its networks) on
//! every batch that concerns it (its own changes, the allowlist's, its secrets') and every second
//! keep-alive (30 s), and ends when the check fails. A stream that falls more
//! than [`BACKLOG`] batches behind (a reader that does not read) is dropped rather than buffered;
//! its client resumes from its last id. At most [`MAX_STREAMS_PER_MACHINE`] streams per machine
//! (configurable) and [`MAX_STREAMS`] per process are open at once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use signet_api::audit::{AuditAction, DenialReason};
use signet_api::events::EventType;
use signet_proto::{MachineId, ProjectId, SecretId};
use signet_store::{AuditRecord, AuditResult, Change, MachineStatus};
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;

use crate::address::{ClientAddr, ip_in_cidrs};
use crate::context::Context;
use crate::journal::Actor;
use crate::network::Network;
use crate::principal::AuthedMachine;
use crate::{CoreError, CoreResult};

/// Open streams one machine may hold at once unless configured
/// (`SignetConfig::event_streams_per_machine`); the next is refused with 429.
pub const MAX_STREAMS_PER_MACHINE: usize = crate::context::EVENT_STREAMS_PER_MACHINE;
/// Open streams one process holds at most (each is also an open connection, which the server's
/// `max_connections` bounds too).
pub const MAX_STREAMS: usize = 10_000;
/// How often an idle stream sends a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often the hub reads the head when nothing woke it (a lost feed, another process on the
/// same SQLite file): the worst-case delay of an event.
pub const HEAD_CHECK: Duration = Duration::from_millis(500);
/// Batches a stream may fall behind before it is dropped.
pub const BACKLOG: usize = 256;
/// Records read per query.
const PAGE: u32 = 500;

/// One event for one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The audit record's `seq`: the SSE `id:`, where a reconnect resumes.
    pub id: u64,
    /// What happened.
    pub kind: EventType,
    /// The secret, unless the machine's access changed as a whole.
    pub secret: Option<SecretId>,
    /// The new version, when the record names it.
    pub version: Option<u32>,
    /// The record's time, Unix ms.
    pub ts_ms: i64,
}

/// What a stream yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// An event for this machine.
    Event(Event),
    /// Nothing happened for [`KEEP_ALIVE`]: a comment keeps the connection open.
    KeepAlive,
}

/// What a record may mean to some machine, decided once per process for every stream.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cause {
    /// A secret's new version or deletion (`kind` is one of the three `secret.*` types).
    Secret {
        kind: EventType,
        secret: SecretId,
        version: Option<u32>,
    },
    /// A whole project went to the trash (or was purged), or came back.
    Project { deleted: bool, project: ProjectId },
    /// A grant to or from `machine`.
    Grant {
        machine: MachineId,
        secret: SecretId,
    },
    /// `machine` was attached to or detached from a project, approved, enabled, disabled,
    /// denied, revoked, or given other source networks.
    Machine { machine: MachineId },
    /// The vault IP allowlist changed: every stream re-checks its source.
    Allowlist,
}

#[derive(Debug, Clone)]
struct Candidate {
    seq: u64,
    ts_ms: i64,
    cause: Cause,
}

/// Records `from..=upto`, of which `candidates` may mean something to some machine.
#[derive(Debug, Default)]
struct Batch {
    from: u64,
    upto: u64,
    candidates: Vec<Candidate>,
    /// The server is shutting down: every stream ends.
    shutdown: bool,
}

/// `N` in a detail's `version=N` word.
fn version_in(detail: &str) -> Option<u32> {
    detail
        .split_whitespace()
        .find_map(|w| w.strip_prefix("version="))
        .and_then(|v| v.parse().ok())
}

/// What `record` may mean to a machine; `None` for the many records that mean nothing (reads,
/// listings, refusals...).
fn cause_of(record: &AuditRecord) -> Option<Cause> {
    let e = &record.event;
    if e.result != AuditResult::Ok {
        return None;
    }
    let action = AuditAction::parse(&e.action)?;
    let secret = |kind| {
        Some(Cause::Secret {
            kind,
            secret: SecretId::parse(&e.target).ok()?,
            version: version_in(&e.detail),
        })
    };
    let machine = || MachineId::parse(&e.target).ok();
    match action {
        AuditAction::SecretUpdate | AuditAction::SecretRollback => secret(EventType::SecretChanged),
        // A managed secret's rotation becomes a version only when its agent confirms it.
        AuditAction::SecretRotate | AuditAction::SecretRotationConfirmed => {
            secret(EventType::SecretRotated)
        }
        AuditAction::SecretDelete => secret(EventType::SecretDeleted),
        AuditAction::TrashRestore | AuditAction::TrashPurge | AuditAction::ProjectDelete => {
            let deleted = action != AuditAction::TrashRestore;
            if let Ok(project) = ProjectId::parse(&e.target) {
                Some(Cause::Project { deleted, project })
            } else if deleted {
                secret(EventType::SecretDeleted)
            } else {
                secret(EventType::SecretChanged)
            }
        }
        AuditAction::GrantAdd | AuditAction::GrantRemove => Some(Cause::Grant {
            machine: machine()?,
            secret: SecretId::parse(&e.detail).ok()?,
        }),
        AuditAction::MachineAttach
        | AuditAction::MachineDetach
        | AuditAction::MachineApprove
        | AuditAction::MachineDeny
        | AuditAction::MachineEnable
        | AuditAction::MachineDisable
        | AuditAction::MachineRevoke
        | AuditAction::MachineCidrsSet => Some(Cause::Machine {
            machine: machine()?,
        }),
        AuditAction::IpAllowlistEnable
        | AuditAction::IpAllowlistDisable
        | AuditAction::IpAllowlistAdd
        | AuditAction::IpAllowlistRemove => Some(Cause::Allowlist),
        _ => None,
    }
}

fn candidates(records: &[AuditRecord]) -> Vec<Candidate> {
    records
        .iter()
        .filter_map(|r| {
            Some(Candidate {
                seq: r.seq,
                ts_ms: r.event.ts_ms,
                cause: cause_of(r)?,
            })
        })
        .collect()
}

/// Streams open now, per machine and in all.
#[derive(Default)]
struct Open {
    per_machine: HashMap<MachineId, usize>,
    total: usize,
}

/// The process-wide follower of the audit log.
pub(crate) struct Hub {
    batches: broadcast::Sender<Arc<Batch>>,
    wake: Arc<Notify>,
    started: AtomicBool,
    closing: AtomicBool,
    open: Mutex<Open>,
    per_machine: usize,
}

impl Hub {
    /// A hub woken by `cx`'s change feed; its task starts with the first stream.
    pub(crate) fn new(cx: &Context) -> Arc<Hub> {
        let wake = Arc::new(Notify::new());
        let woken = Arc::clone(&wake);
        // Whether the feed is live does not matter: the head check runs either way.
        let _ = cx.store.watch(Arc::new(move |change: Change| {
            if matches!(change, Change::Audit | Change::Resumed) {
                woken.notify_one();
            }
        }));
        Arc::new(Hub {
            batches: broadcast::channel(BACKLOG).0,
            wake,
            started: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            open: Mutex::default(),
            per_machine: cx.config.event_streams_per_machine,
        })
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        // A poisoned lock only means a holder panicked between two plain counter updates.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Follows the head until the hub or the context is gone. Holds neither between rounds, so a
/// dropped `Signet` ends it.
async fn follow(cx: Weak<Context>, hub: Weak<Hub>) {
    let mut last: Option<u64> = None;
    loop {
        let Some(wake) = hub.upgrade().map(|h| Arc::clone(&h.wake)) else {
            return;
        };
        // A wake-up while reading leaves a permit, so nothing appended meanwhile waits for the
        // next head check.
        let _ = tokio::time::timeout(HEAD_CHECK, wake.notified()).await;
        drop(wake);
        let (Some(cx), Some(hub)) = (cx.upgrade(), hub.upgrade()) else {
            return;
        };
        if hub.closing.load(Ordering::SeqCst) {
            return;
        }
        let head = match cx.store.audit_head().await {
            Ok(h) => h.map_or(0, |h| h.seq),
            Err(e) => {
                tracing::warn!(error = %e, "event hub cannot read the audit head; will retry");
                continue;
            }
        };
        // Nobody listening (or the first round): skip ahead, and say so with an empty batch
        // ending at the head, so a stream that stands before it reads the records in between
        // from the store itself (see `Subscription::on_batch`) instead of waiting for the next.
        let Some(mut from) = last.filter(|_| hub.batches.receiver_count() > 0) else {
            last = Some(head);
            let _ = hub.batches.send(Arc::new(Batch {
                from: head + 1,
                upto: head,
                ..Batch::default()
            }));
            continue;
        };
        while from < head {
            let records = match cx.store.audit_range(from + 1, PAGE).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "event hub cannot read the audit log; will retry");
                    break;
                }
            };
            let Some(upto) = records.last().map(|r| r.seq) else {
                break;
            };
            let batch = Batch {
                from: from + 1,
                upto,
                candidates: candidates(&records),
                shutdown: false,
            };
            // No receiver left is fine: the next round skips ahead.
            let _ = hub.batches.send(Arc::new(batch));
            from = upto;
        }
        last = Some(from);
    }
}

/// Change notifications: opening streams, and ending them all at shutdown.
#[derive(Clone)]
pub struct Events {
    pub(crate) cx: Arc<Context>,
    pub(crate) hub: Arc<Hub>,
    /// The vault allowlist, which an open stream's source must stay inside.
    pub(crate) network: Network,
}

impl Events {
    /// Opens a stream for `m`, from the current head, or after event id `after`.
    ///
    /// Refused with [`CoreError::RateLimited`] (and a denied `events_open` record) when the
    /// machine or the process holds its most streams; [`CoreError::Unavailable`] while shutting
    /// down or without a durable `events_open` record.
    pub async fn subscribe(
        &self,
        m: &AuthedMachine,
        after: Option<u64>,
    ) -> CoreResult<Subscription> {
        if self.hub.closing.load(Ordering::SeqCst) {
            return Err(CoreError::Unavailable);
        }
        let Some(slot) = Slot::take(&self.hub, &m.record.id) else {
            self.cx
                .audit_machine_denied(m, AuditAction::EventsOpen, "", DenialReason::StreamLimit)
                .await?;
            return Err(CoreError::RateLimited);
        };
        if !self.hub.started.swap(true, Ordering::SeqCst) {
            tokio::spawn(follow(Arc::downgrade(&self.cx), Arc::downgrade(&self.hub)));
        }
        // Subscribe before reading the head: every record after it then arrives in a batch,
        // or is read from the store when a batch shows a gap.
        let rx = self.hub.batches.subscribe();
        let head = self.cx.store.audit_head().await?.map_or(0, |h| h.seq);
        let cursor = after.map_or(head, |a| a.min(head));
        let e = self.cx.event(
            &Actor::machine(m),
            AuditAction::EventsOpen,
            "",
            AuditResult::Ok,
            &format!("after={cursor}"),
        );
        self.cx.journal(vec![e], Vec::new()).await?;
        Ok(Subscription {
            cx: Arc::clone(&self.cx),
            network: self.network.clone(),
            machine: m.record.id,
            source: m.source_ip,
            rx,
            cursor,
            catch_up: (cursor < head).then_some((cursor + 1, head)),
            pending: VecDeque::new(),
            keep_alive_at: Instant::now() + KEEP_ALIVE,
            keep_alives: 0,
            done: false,
            _slot: slot,
        })
    }

    /// Ends every open stream and refuses new ones: for shutdown, whose drain would otherwise
    /// wait for streams that never finish.
    pub fn close(&self) {
        self.hub.closing.store(true, Ordering::SeqCst);
        let _ = self.hub.batches.send(Arc::new(Batch {
            shutdown: true,
            ..Batch::default()
        }));
    }

    /// Streams open now in this process.
    pub fn open_streams(&self) -> usize {
        self.hub.open().total
    }
}

/// One open stream's place in the limits, given back when the stream is dropped.
struct Slot {
    hub: Arc<Hub>,
    machine: MachineId,
}

impl Slot {
    fn take(hub: &Arc<Hub>, machine: &MachineId) -> Option<Slot> {
        let mut open = hub.open();
        let mine = open.per_machine.get(machine).copied().unwrap_or(0);
        if mine >= hub.per_machine || open.total >= MAX_STREAMS {
            return None;
        }
        open.per_machine.insert(*machine, mine + 1);
        open.total += 1;
        Some(Slot {
            hub: Arc::clone(hub),
            machine: *machine,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.hub.open();
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_machine.get_mut(&self.machine) {
            *n -= 1;
            if *n == 0 {
                open.per_machine.remove(&self.machine);
            }
        }
    }
}

/// One machine's open stream. [`next`](Self::next) yields its events and keep-alives, and
/// `None` once it has ended (machine no longer allowed, too slow, shutdown, store down).
pub struct Subscription {
    cx: Arc<Context>,
    network: Network,
    machine: MachineId,
    source: ClientAddr,
    rx: broadcast::Receiver<Arc<Batch>>,
    /// Every record up to here has been considered.
    cursor: u64,
    /// Records to read from the store before taking batches again, inclusive.
    catch_up: Option<(u64, u64)>,
    pending: VecDeque<Event>,
    keep_alive_at: Instant,
    keep_alives: u32,
    done: bool,
    _slot: Slot,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("machine", &self.machine)
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// Where the stream stands (at first, where it starts): every event it yields from now on
    /// has a greater id.
    pub fn position(&self) -> u64 {
        self.cursor
    }

    /// The next event or keep-alive; `None` when the stream has ended.
    pub async fn next(&mut self) -> Option<StreamItem> {
        let item = self.step().await;
        if item.is_none() {
            self.done = true;
        }
        item
    }

    async fn step(&mut self) -> Option<StreamItem> {
        loop {
            if self.done {
                return None;
            }
            if let Some(e) = self.pending.pop_front() {
                return Some(StreamItem::Event(e));
            }
            if let Some((from, to)) = self.catch_up {
                // The store failing ends the stream; the client resumes from its last id.
                if !self.read_from_store(from, to).await.ok()? {
                    return None;
                }
                continue;
            }
            match tokio::time::timeout_at(self.keep_alive_at, self.rx.recv()).await {
                Err(_) => {
                    self.keep_alive_at = Instant::now() + KEEP_ALIVE;
                    self.keep_alives += 1;
                    if self.keep_alives.is_multiple_of(2) && !self.machine_may_listen().await {
                        return None;
                    }
                    return Some(StreamItem::KeepAlive);
                }
                Ok(Ok(batch)) => {
                    if !self.on_batch(&batch).await.ok()? {
                        return None;
                    }
                }
                Ok(Err(broadcast::error::RecvError::Lagged(n))) => {
                    tracing::info!(machine = %self.machine, batches = n, "dropping an event stream that fell behind");
                    return None;
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
            }
        }
    }

    /// Takes one batch from the hub; `false` ends the stream.
    async fn on_batch(&mut self, batch: &Batch) -> CoreResult<bool> {
        if batch.shutdown {
            return Ok(false);
        }
        if batch.upto <= self.cursor {
            return Ok(true);
        }
        if batch.from > self.cursor + 1 {
            // The hub skipped ahead before this stream subscribed: read the gap, and this
            // batch's records with it, from the store.
            self.catch_up = Some((self.cursor + 1, batch.upto));
            return Ok(true);
        }
        let fresh: Vec<Candidate> = batch
            .candidates
            .iter()
            .filter(|c| c.seq > self.cursor)
            .cloned()
            .collect();
        let open = self.apply(fresh).await?;
        self.cursor = batch.upto;
        Ok(open)
    }

    /// Reads one page of `from..=to` from the store; `false` ends the stream.
    async fn read_from_store(&mut self, from: u64, to: u64) -> CoreResult<bool> {
        let records = if from > to {
            Vec::new()
        } else {
            let limit = PAGE.min(u32::try_from(to - from + 1).unwrap_or(PAGE));
            self.cx.store.audit_range(from, limit).await?
        };
        let records: Vec<AuditRecord> = records.into_iter().filter(|r| r.seq <= to).collect();
        let Some(upto) = records.last().map(|r| r.seq) else {
            self.catch_up = None;
            return Ok(true);
        };
        let open = self.apply(candidates(&records)).await?;
        self.cursor = self.cursor.max(upto);
        self.catch_up = (upto < to).then_some((upto + 1, to));
        Ok(open)
    }

    /// Whether the machine may still listen: approved, enabled, not expired, and this stream's
    /// source still inside the vault allowlist and the machine's networks (the checks of
    /// `crate::auth` that do not involve the request itself). A store error counts as no.
    async fn machine_may_listen(&self) -> bool {
        let store = self.cx.store.as_ref();
        let found = match store.machine_at_policy(&self.machine).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "cannot re-check a streaming machine; ending its stream");
                return false;
            }
        };
        let Some(m) = found.machine else {
            return false;
        };
        let allowed = match self
            .network
            .policy
            .ip_allowed(store, found.policy_version, self.source)
            .await
        {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "cannot re-check a streaming machine; ending its stream");
                return false;
            }
        };
        allowed
            && m.status == MachineStatus::Approved
            && m.enabled
            && m.expires_ms.is_none_or(|exp| self.cx.now_ms() < exp)
            && (m.allowed_cidrs.is_empty() || ip_in_cidrs(self.source, &m.allowed_cidrs))
    }

    /// Turns candidates into this machine's events; `false` ends the stream.
    async fn apply(&mut self, candidates: Vec<Candidate>) -> CoreResult<bool> {
        let me = self.machine;
        let relevant: Vec<Candidate> = candidates
            .into_iter()
            .filter(|c| match &c.cause {
                Cause::Secret { .. } | Cause::Project { .. } | Cause::Allowlist => true,
                Cause::Grant { machine, .. } | Cause::Machine { machine } => *machine == me,
            })
            .collect();
        if relevant.is_empty() {
            return Ok(true);
        }
        if !self.machine_may_listen().await {
            return Ok(false);
        }
        let store = &self.cx.store;
        // A project's secrets this machine holds a grant on, for whole-project changes (rare:
        // one query per granted secret).
        let mut in_project: HashMap<ProjectId, Vec<SecretId>> = HashMap::new();
        if relevant
            .iter()
            .any(|c| matches!(c.cause, Cause::Project { .. }))
        {
            for id in store.grants(&me).await? {
                if let Some(s) = store.secret(&id).await? {
                    in_project.entry(s.project_id).or_default().push(id);
                }
            }
        }
        let mut ids: Vec<SecretId> = Vec::new();
        let mut seen = HashSet::new();
        for c in &relevant {
            let named: Vec<&SecretId> = match &c.cause {
                Cause::Secret { secret, .. } => vec![secret],
                Cause::Project { project, .. } => in_project
                    .get(project)
                    .map(|v| v.iter().collect())
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            for id in named {
                if seen.insert(id.clone()) {
                    ids.push(id.clone());
                }
            }
        }
        // One query for the batch: granted (attached and granted) and deleted, right now.
        let mut rows = HashMap::new();
        for chunk in ids.chunks(crate::read::MAX_WATCH) {
            for row in store.poll(&me, chunk).await? {
                rows.insert(row.secret_id, (row.granted, row.deleted));
            }
        }
        let may_read = |id: &SecretId| rows.get(id).is_some_and(|(g, d)| *g && !*d);
        let held = |id: &SecretId| rows.get(id).is_some_and(|(g, _)| *g);
        for c in relevant {
            let event = |kind, secret, version| Event {
                id: c.seq,
                kind,
                secret,
                version,
                ts_ms: c.ts_ms,
            };
            match c.cause {
                Cause::Secret {
                    kind: EventType::SecretDeleted,
                    secret,
                    ..
                } => {
                    if held(&secret) {
                        self.pending
                            .push_back(event(EventType::SecretDeleted, Some(secret), None));
                    }
                }
                Cause::Secret {
                    kind,
                    secret,
                    version,
                } => {
                    if may_read(&secret) {
                        self.pending.push_back(event(kind, Some(secret), version));
                    }
                }
                Cause::Project { deleted, project } => {
                    for secret in in_project.get(&project).into_iter().flatten() {
                        if deleted && held(secret) {
                            self.pending.push_back(event(
                                EventType::SecretDeleted,
                                Some(secret.clone()),
                                None,
                            ));
                        } else if !deleted && may_read(secret) {
                            self.pending.push_back(event(
                                EventType::SecretChanged,
                                Some(secret.clone()),
                                None,
                            ));
                        }
                    }
                }
                Cause::Grant { secret, .. } => {
                    self.pending
                        .push_back(event(EventType::AccessChanged, Some(secret), None));
                }
                Cause::Machine { .. } => {
                    self.pending
                        .push_back(event(EventType::AccessChanged, None, None));
                }
                // The re-check above is all it asks for: a source still inside hears nothing.
                Cause::Allowlist => {}
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly by design.

    use signet_store::{ActorKind, AuditEvent};

    use super::*;

    fn record(action: AuditAction, target: &str, detail: &str, result: AuditResult) -> AuditRecord {
        AuditRecord {
            seq: 7,
            event: AuditEvent {
                ts_ms: 1,
                actor_kind: ActorKind::Operator,
                actor_id: "op".into(),
                action: action.as_str().into(),
                target: target.into(),
                source_ip: String::new(),
                result,
                detail: detail.into(),
                evidence: None,
            },
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    #[test]
    fn records_map_to_causes_and_refusals_to_nothing() {
        let sk = "sk_0123456789";
        let secret = SecretId::parse(sk).unwrap();
        let ok = |a, t, d| cause_of(&record(a, t, d, AuditResult::Ok));
        assert_eq!(
            ok(AuditAction::SecretUpdate, sk, "version=4 set=a"),
            Some(Cause::Secret {
                kind: EventType::SecretChanged,
                secret: secret.clone(),
                version: Some(4)
            })
        );
        assert_eq!(
            ok(
                AuditAction::SecretRotate,
                sk,
                "trigger=manual version=9 fields=password"
            ),
            Some(Cause::Secret {
                kind: EventType::SecretRotated,
                secret: secret.clone(),
                version: Some(9)
            })
        );
        assert_eq!(
            ok(
                AuditAction::SecretRotationConfirmed,
                sk,
                "rotation=rot_x version=3"
            ),
            Some(Cause::Secret {
                kind: EventType::SecretRotated,
                secret: secret.clone(),
                version: Some(3)
            })
        );
        assert_eq!(
            ok(AuditAction::TrashPurge, sk, "kind=secret name=\"x\""),
            Some(Cause::Secret {
                kind: EventType::SecretDeleted,
                secret: secret.clone(),
                version: None
            })
        );
        let m = MachineId::generate();
        let target = m.to_string();
        assert_eq!(
            ok(AuditAction::GrantRemove, &target, sk),
            Some(Cause::Grant { machine: m, secret })
        );
        assert_eq!(ok(AuditAction::SecretRead, sk, ""), None);
        assert_eq!(
            cause_of(&record(
                AuditAction::SecretUpdate,
                sk,
                "version=2",
                AuditResult::Denied
            )),
            None
        );
        // A record this server does not know, or a malformed target, means nothing.
        assert_eq!(ok(AuditAction::SecretUpdate, "sk_bad", "version=2"), None);
    }
}
