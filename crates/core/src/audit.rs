//! The audit log: what is recorded, how records are chained, and how the chain is verified.
//!
//! Every record is linked to its predecessor with `HMAC-SHA256(audit_key, prev_hash || record)`,
//! where the key is derived from the root key. Editing, deleting or reordering a row breaks the
//! chain, and without the root key nobody can recompute it. A separately stored head (newest seq
//! and hash) makes deleting the newest rows detectable too.
//!
//! Writes are fail-closed: a machine read returns a value only after its record is durable.
//! Durability does not cap throughput because the store group-commits: every append queued while
//! one transaction is being synced goes into the next one.

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use signet_api::audit::AuditAction;
use signet_proto::PublicKey;
use signet_proto::archive::{Checkpoint, CheckpointParts};
use signet_store::{
    ActorKind, AuditChain, AuditCheckpoint, AuditEvent, AuditFilter, AuditRecord, AuditResult,
    SignedEvidence,
};

use crate::actor::{ActorName, ActorNames};
pub use crate::chain::ChainKey;
use crate::chain::archived;
pub use crate::chain::evidence;
use crate::context::Context;
use crate::journal::Actor;
use crate::principal::AuthedOperator;
use crate::role::Permission;
use crate::{CoreError, CoreResult};

/// Records per page when walking the chain.
const VERIFY_PAGE: u32 = 1000;

/// Most store queries one audit search may run (matching actions × a person's sessions).
const MAX_SEARCH_QUERIES: usize = 400;

/// The actions a filter's text names: itself when it is one exactly, else every action
/// containing it, with `.`, `-` and spaces read as `_` and case ignored (a person types
/// `machine.approve` or `Approve`). Empty when none matches.
pub fn matching_actions(text: &str) -> Vec<String> {
    let text = text.trim();
    if AuditAction::ALL.iter().any(|a| a.as_str() == text) {
        return vec![text.to_owned()];
    }
    let wanted: String = text
        .chars()
        .map(|c| match c {
            '.' | '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    AuditAction::ALL
        .iter()
        .map(|a| a.as_str())
        .filter(|a| a.contains(wanted.as_str()))
        .map(str::to_owned)
        .collect()
}

/// The outcome of `signet audit verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Whether the whole chain checked out.
    pub ok: bool,
    /// How many records were checked.
    pub records: u64,
    /// The stored head's sequence number.
    pub head_seq: Option<u64>,
    /// The first record that failed, if any.
    pub first_bad_seq: Option<u64>,
    /// What was wrong, in words.
    pub problem: Option<String>,
}

/// A record as listed to operators.
#[derive(Debug, Clone)]
pub struct AuditView {
    /// Position in the chain.
    pub seq: u64,
    /// Unix ms.
    pub ts: i64,
    /// `machine`, `operator`, `anonymous` or `system`.
    pub actor_kind: &'static str,
    /// The actor's id.
    pub actor_id: String,
    /// What happened.
    pub action: String,
    /// To what.
    pub target: String,
    /// From where.
    pub source_ip: String,
    /// `ok`, `denied` or `failed`.
    pub result: &'static str,
    /// Context.
    pub detail: String,
    /// The record's link, hex.
    pub hash: String,
    /// What the machine signed, if the record keeps it.
    pub evidence: Option<Arc<SignedEvidence>>,
    /// Who the actor is, for people: the user behind an operator key or session, or a
    /// machine's name (`crate::actor`); `None` when nobody is known.
    pub actor: Option<ActorName>,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        Self {
            seq: r.seq,
            ts: r.event.ts_ms,
            actor_kind: r.event.actor_kind.as_str(),
            actor_id: r.event.actor_id,
            action: r.event.action,
            target: r.event.target,
            source_ip: r.event.source_ip,
            result: r.event.result.as_str(),
            detail: r.event.detail,
            evidence: r.event.evidence,
            hash: hex::encode(r.hash),
            actor: None,
        }
    }
}

/// The audit log as operators see it: listing, verifying the chain, and the aggregated authentication-failure records.
#[derive(Clone)]
pub struct AuditLog {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
}

impl AuditLog {
    /// Lists records, newest first. Not for scoped operators: the log covers every project.
    pub async fn audit_list(
        &self,
        op: &AuthedOperator,
        filter: &AuditFilter,
    ) -> CoreResult<Vec<AuditView>> {
        self.audit_search(op, filter, None).await
    }

    /// Lists records, newest first, each with the person (or machine) behind its actor.
    ///
    /// `filter.action` is an action's name or part of one: text that names no action exactly
    /// matches every action containing it (`approve` finds `machine_approve`; `.` and `-` read
    /// as `_`, so `machine.approve` does too). `person`, a user id, keeps the records of that
    /// person under any of their keys and sessions (`crate::actor::ids_of_person`), and
    /// replaces `filter.actor_id`.
    pub async fn audit_search(
        &self,
        op: &AuthedOperator,
        filter: &AuditFilter,
        person: Option<&str>,
    ) -> CoreResult<Vec<AuditView>> {
        self.cx.require_unscoped(op, AuditAction::AuditList).await?;
        let mut f = filter.clone();
        f.limit = f.limit.clamp(1, 1000);
        let actions = match f.action.as_deref().map(str::trim) {
            None | Some("") => vec![None],
            Some(text) => {
                let actions = matching_actions(text);
                // Text naming no action of this server's vocabulary still matches exactly: an
                // older server's records may carry it.
                if actions.is_empty() {
                    vec![Some(text.to_owned())]
                } else {
                    actions.into_iter().map(Some).collect()
                }
            }
        };
        let actors = match person {
            None => vec![f.actor_id.clone()],
            Some(user) => {
                // An unknown or malformed id is simply nobody: no records.
                let Ok(user) = signet_proto::UserId::parse(user.trim()) else {
                    return Ok(Vec::new());
                };
                crate::actor::ids_of_person(&self.cx, &user)
                    .await?
                    .into_iter()
                    .map(Some)
                    .collect()
            }
        };
        if actions.len().saturating_mul(actors.len()) > MAX_SEARCH_QUERIES {
            return Err(CoreError::bad(
                "this search covers too many actions and sessions at once; name the action more exactly",
            ));
        }
        // One store query per (actor, action) pair, merged newest first: each returns at most
        // `limit`, so the newest `limit` of the union are among them.
        let mut merged: Vec<AuditRecord> = Vec::new();
        for actor in &actors {
            for action in &actions {
                let q = AuditFilter {
                    actor_id: actor.clone(),
                    action: action.clone(),
                    ..f.clone()
                };
                merged.extend(self.cx.store.audit(&q).await?);
            }
        }
        merged.sort_by_key(|b| std::cmp::Reverse(b.seq));
        merged.dedup_by_key(|r| r.seq);
        merged.truncate(f.limit as usize);
        let mut names = ActorNames::new(&self.cx);
        let mut out = Vec::with_capacity(merged.len());
        for r in merged {
            let actor = names.name(r.event.actor_kind, &r.event.actor_id).await?;
            let mut view = AuditView::from(r);
            view.actor = actor;
            out.push(view);
        }
        Ok(out)
    }

    /// Walks the whole chain and checks every link, the sequence, and the head.
    pub async fn audit_verify(&self, op: &AuthedOperator) -> CoreResult<VerifyReport> {
        self.cx
            .require(op, Permission::Read, AuditAction::AuditVerify)
            .await?;
        self.cx
            .require_unscoped(op, AuditAction::AuditVerify)
            .await?;
        let report = verify_chain(
            self.cx.store.as_ref(),
            self.cx.chain.as_ref(),
            &self.archive_key(),
        )
        .await?;
        self.cx
            .audit_operator(
                op,
                AuditAction::AuditVerify,
                "",
                if report.ok { "ok" } else { "broken" },
            )
            .await?;
        Ok(report)
    }
}

/// Audit devices (`crate::audit_device`): where records go besides the store.
impl AuditLog {
    /// Sends every audit record from now on to `devices` too. Called once by the composition
    /// root, before serving.
    pub async fn set_devices(
        &self,
        devices: Vec<Arc<dyn crate::audit_device::AuditDevice>>,
    ) -> CoreResult<()> {
        self.cx.set_audit_devices(devices).await
    }

    /// Writes the records the audit devices lack (those audited writes committed with their
    /// change, and other replicas' records). `Err(Unavailable)` when a required device cannot
    /// take them: the server answers the request that wrote them 503.
    pub async fn flush_devices(&self) -> CoreResult<()> {
        self.cx.flush_devices(None).await
    }

    /// Failed writes so far per audit device name, for the metrics scrape.
    pub fn device_failures(&self) -> Vec<(String, u64)> {
        self.cx.device_failures()
    }
}

/// Host-side commands (`signet backup`, `signet restore`), run by whoever holds the server's
/// files rather than by an authenticated operator: their records name the system as actor and
/// `local` as source, like `signet server create-owner`'s.
impl AuditLog {
    /// Records that a backup is being taken (`backup_create`), before its snapshot is read, so
    /// the backup holds its own record. Fails closed: a backup that could not record itself must
    /// not go on.
    pub async fn record_backup(&self, manifest_id: &str) -> CoreResult<()> {
        self.record_host_action(AuditAction::BackupCreate, manifest_id)
            .await
    }

    /// Records that this store was restored from a backup (`backup_restore`), after its chain
    /// was checked.
    pub async fn record_restore(&self, manifest_id: &str) -> CoreResult<()> {
        self.record_host_action(AuditAction::BackupRestore, manifest_id)
            .await
    }

    /// One record about a host-side command, through the journal, so it is chained like any
    /// other. The actions are named by the two methods above only: the server cannot make core
    /// write any other action as the system.
    async fn record_host_action(&self, action: AuditAction, manifest_id: &str) -> CoreResult<()> {
        let e = self.cx.event(
            &Actor::new(ActorKind::System, "", "local"),
            action,
            "",
            AuditResult::Ok,
            &format!("manifest={manifest_id}"),
        );
        self.cx.journal(vec![e], Vec::new()).await
    }

    /// Checks the whole chain as `signet audit verify` does, without an operator and without
    /// recording the check (a restore records itself right after).
    pub async fn verify_host(&self) -> CoreResult<VerifyReport> {
        verify_chain(
            self.cx.store.as_ref(),
            self.cx.chain.as_ref(),
            &self.archive_key(),
        )
        .await
    }
}

/// What one `signet audit archive` call did.
#[derive(Debug, Default)]
pub struct Archived {
    /// The segments archived, oldest first.
    pub segments: Vec<Checkpoint>,
    /// Full segments remain for the next call (the call ran out of its budget).
    pub more: bool,
}

/// How long one operator call keeps archiving before it answers: well inside the clients' 15 s
/// timeout, so a long backlog is archived by several calls instead of one that times out (and
/// keeps working after its client has gone).
pub const ARCHIVE_CALL_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// Where and how the log is archived (`audit_archive_*` in the server's configuration).
#[derive(Debug, Clone)]
pub struct ArchiveSettings {
    /// The folder segment and checkpoint files go to.
    pub dir: PathBuf,
    /// Records per segment: only full segments are archived.
    pub segment_records: u64,
    /// How long one operator call keeps archiving ([`ARCHIVE_CALL_BUDGET`] in a server).
    pub call_budget: std::time::Duration,
}

impl AuditLog {
    /// The vault's archive public key, which signs every checkpoint; published so a verifier
    /// never has to trust the key an archive names.
    pub fn archive_key(&self) -> PublicKey {
        archive_public_key(&self.cx.root.unseal().audit_archive_seed())
    }

    /// The checkpoints of every archived segment, oldest first, in their file form.
    pub async fn checkpoints(&self, op: &AuthedOperator) -> CoreResult<Vec<Checkpoint>> {
        self.cx
            .require(op, Permission::Read, AuditAction::AuditCheckpoints)
            .await?;
        self.cx
            .require_unscoped(op, AuditAction::AuditCheckpoints)
            .await?;
        let public_key =
            base64::engine::general_purpose::STANDARD.encode(self.archive_key().as_bytes());
        Ok(self
            .cx
            .store
            .audit_checkpoints()
            .await?
            .iter()
            .map(|cp| checkpoint_file(cp, &public_key))
            .collect())
    }

    /// `signet audit archive`: archives every full segment now, as the operator.
    /// `settings` is `None` when the server archives nothing: refused, after the role check so
    /// a viewer learns nothing about the configuration.
    pub async fn archive_now(
        &self,
        op: &AuthedOperator,
        settings: Option<&ArchiveSettings>,
    ) -> CoreResult<Archived> {
        self.cx
            .require(op, Permission::ManageVault, AuditAction::AuditArchive)
            .await?;
        self.cx
            .require_unscoped(op, AuditAction::AuditArchive)
            .await?;
        let settings = settings.ok_or_else(|| {
            CoreError::bad("audit archiving is not configured (set audit_archive_dir)")
        })?;
        let deadline = tokio::time::Instant::now() + settings.call_budget;
        self.archive(&Actor::operator(op), settings, Some(deadline))
            .await
    }

    /// The server's periodic archiver: archives every full segment, as the system.
    pub async fn archive_due(&self, settings: &ArchiveSettings) -> CoreResult<Vec<Checkpoint>> {
        self.archive(&Actor::new(ActorKind::System, "", ""), settings, None)
            .await
            .map(|a| a.segments)
    }

    /// Archives full segments until none is left or `deadline` has passed (checked between
    /// segments, so one segment is always finished).
    async fn archive(
        &self,
        actor: &Actor,
        settings: &ArchiveSettings,
        deadline: Option<tokio::time::Instant>,
    ) -> CoreResult<Archived> {
        if settings.segment_records == 0 {
            return Err(CoreError::bad(
                "audit_archive_segment_records must be at least 1",
            ));
        }
        // Only segments full now: each archive appends a record of its own, which must not
        // fill the next segment and keep this loop going (forever, with one-record segments).
        let mut done = Archived::default();
        let Some(head) = self.cx.store.audit_head().await? else {
            return Ok(done);
        };
        while let Some(cp) = self.archive_one(actor, settings, head.seq).await? {
            done.segments.push(cp);
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                // Whether another full segment waits: the next one's last record is written.
                let next_last =
                    done.segments.last().map_or(0, |c| c.last_seq) + settings.segment_records;
                done.more = next_last <= head.seq;
                break;
            }
        }
        Ok(done)
    }

    /// Archives the next segment if it ends at or before `up_to`: writes and syncs its file and checkpoint, reads
    /// the file back to check what is durable is what was signed, then prunes it. `None` when
    /// the next segment is not full yet (by `up_to`).
    ///
    /// Two archivers (replicas) may run this at once: both read the same records and sign the
    /// same bytes (Ed25519 is deterministic and the checkpoint carries no time), so their files
    /// are identical, and the store records the checkpoint once (`prune_audit`).
    async fn archive_one(
        &self,
        actor: &Actor,
        settings: &ArchiveSettings,
        up_to: u64,
    ) -> CoreResult<Option<Checkpoint>> {
        let store = self.cx.store.as_ref();
        let (first, mut prev, prev_checkpoint) = match store.audit_checkpoints().await?.last() {
            None => (1, [0u8; 32], [0u8; 32]),
            Some(cp) => (cp.last_seq + 1, cp.last_hash, checkpoint_parts(cp).hash()),
        };
        let last = first
            .checked_add(settings.segment_records - 1)
            .ok_or(CoreError::Unavailable)?;
        if last > up_to {
            return Ok(None);
        }
        let dir = settings.dir.clone();
        let name = Checkpoint::segment_name(first, last);
        // Unique per attempt: two archivers sharing the folder never write into one file, and
        // each renames its own complete file into place (the two are identical).
        let mut salt = [0u8; 8];
        getrandom::fill(&mut salt).map_err(|_| CoreError::Unavailable)?;
        let tmp = dir.join(format!(".{name}.{}.tmp", hex::encode(salt)));
        // Removes the partial files of an attempt that fails anywhere below, so failed attempts
        // do not pile up in the archive folder.
        let _leftovers = Leftovers(vec![
            tmp.clone(),
            dir.join(format!(
                ".{}.{}.tmp",
                Checkpoint::file_name(first, last),
                hex::encode(salt)
            )),
        ]);
        let mut file = blocking({
            let dir = dir.clone();
            let tmp = tmp.clone();
            move || {
                std::fs::create_dir_all(&dir)?;
                std::fs::File::create(tmp)
            }
        })
        .await?;
        let mut sha = Sha256::new();
        let mut expected = first;
        while expected <= last {
            let want = u32::try_from((last - expected + 1).min(u64::from(VERIFY_PAGE)))
                .unwrap_or(VERIFY_PAGE);
            let page = store.audit_range(expected, want).await?;
            if page.is_empty() {
                return Err(self.refuse(expected, "is missing"));
            }
            let mut bytes = Vec::with_capacity(page.len() * 320);
            for r in page.iter().take_while(|r| r.seq <= last) {
                if r.seq != expected {
                    return Err(self.refuse(expected, "is missing"));
                }
                if r.prev_hash != prev || self.cx.chain.link(&prev, r.seq, &r.event) != r.hash {
                    return Err(self.refuse(r.seq, "does not verify"));
                }
                serde_json::to_writer(&mut bytes, &archived(r))
                    .map_err(|_| CoreError::Unavailable)?;
                bytes.push(b'\n');
                prev = r.hash;
                expected += 1;
            }
            sha.update(&bytes);
            file = blocking(move || {
                use std::io::Write as _;
                let mut file = file;
                file.write_all(&bytes).map(|()| file)
            })
            .await?;
        }
        let segment_sha256: [u8; 32] = sha.finalize().into();
        let seed = self.cx.root.unseal().audit_archive_seed();
        let cp = Checkpoint::sign(&seed, first, last, &prev, &prev_checkpoint, &segment_sha256);
        let cp_bytes = serde_json::to_vec_pretty(&cp).map_err(|_| CoreError::Unavailable)?;
        let durable = blocking({
            let dir = dir.clone();
            move || {
                file.sync_all()?;
                drop(file);
                std::fs::rename(&tmp, dir.join(&name))?;
                let cp_name = Checkpoint::file_name(first, last);
                let tmp = dir.join(format!(".{cp_name}.{}.tmp", hex::encode(salt)));
                {
                    use std::io::Write as _;
                    let mut f = std::fs::File::create(&tmp)?;
                    f.write_all(&cp_bytes)?;
                    f.sync_all()?;
                }
                std::fs::rename(&tmp, dir.join(cp_name))?;
                std::fs::File::open(&dir)?.sync_all()?;
                // What is on disk now, not what was meant to be: the records leave the live
                // store only if these bytes are the ones signed.
                use std::io::Read as _;
                let mut back = std::fs::File::open(dir.join(&name))?;
                let mut sha = Sha256::new();
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = back.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    sha.update(&buf[..n]);
                }
                Ok(<[u8; 32]>::from(sha.finalize()))
            }
        })
        .await?;
        if durable != segment_sha256 {
            tracing::error!(
                first,
                last,
                "an archived segment read back differently; not pruning"
            );
            return Err(CoreError::Unavailable);
        }
        let parts = cp.parts().map_err(|_| CoreError::Unavailable)?;
        let stored = AuditCheckpoint {
            first_seq: first,
            last_seq: last,
            last_hash: prev,
            prev_checkpoint,
            segment_sha256,
            signature: parts.signature,
        };
        let event = self.cx.event(
            actor,
            AuditAction::AuditArchive,
            "",
            AuditResult::Ok,
            &format!("first={first} last={last}"),
        );
        // `false`: another archiver recorded this same checkpoint first; the files are the same.
        self.cx.audited_event(event).prune_audit(&stored).await?;
        tracing::info!(first, last, "audit segment archived");
        Ok(Some(cp))
    }

    fn refuse(&self, seq: u64, what: &str) -> CoreError {
        tracing::error!(seq, what, "the audit chain is broken; not archiving");
        CoreError::bad(format!(
            "record {seq} {what}: the chain is broken there, so nothing was archived (run `signet audit verify`)"
        ))
    }
}

/// Temporary files of one archive attempt, removed when the attempt ends. After a success they
/// have been renamed into place, so there is nothing left to remove.
struct Leftovers(Vec<PathBuf>);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for path in &self.0 {
            // Absent (renamed, or never created) is the common case and not an error.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Runs blocking file work off the async threads; an I/O error is an outage.
async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> CoreResult<T> {
    match tokio::task::spawn_blocking(job).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "audit archive file");
            Err(CoreError::Unavailable)
        }
        Err(_) => Err(CoreError::Unavailable),
    }
}

/// The archive key's public half from its seed.
fn archive_public_key(seed: &[u8; 32]) -> PublicKey {
    let raw = ed25519_dalek::SigningKey::from_bytes(seed)
        .verifying_key()
        .to_bytes();
    // A key made from a seed is a valid point, so validation cannot fail; the fallback keeps
    // this total without a panic.
    PublicKey::from_bytes(&raw).unwrap_or_else(|_| archive_public_key(&[1; 32]))
}

/// A stored checkpoint's parts in the protocol's form.
fn checkpoint_parts(cp: &AuditCheckpoint) -> CheckpointParts {
    CheckpointParts {
        first_seq: cp.first_seq,
        last_seq: cp.last_seq,
        last_hash: cp.last_hash,
        prev_checkpoint: cp.prev_checkpoint,
        segment_sha256: cp.segment_sha256,
        signature: cp.signature,
    }
}

/// A stored checkpoint in its file form.
fn checkpoint_file(cp: &AuditCheckpoint, public_key: &str) -> Checkpoint {
    Checkpoint {
        version: signet_proto::archive::CHECKPOINT_VERSION,
        first_seq: cp.first_seq,
        last_seq: cp.last_seq,
        records: cp.last_seq - cp.first_seq + 1,
        last_hash: hex::encode(cp.last_hash),
        prev_checkpoint: hex::encode(cp.prev_checkpoint),
        segment_sha256: hex::encode(cp.segment_sha256),
        public_key: public_key.to_owned(),
        signature: base64::engine::general_purpose::STANDARD.encode(cp.signature),
    }
}

impl AuditLog {
    /// Writes one `auth_failures` record per source whose interval has ended (every pending
    /// one, when `all`: on shutdown). Run periodically; returns how many records it wrote.
    pub async fn flush_auth_failures(&self, all: bool) -> CoreResult<usize> {
        let now = self.cx.now_ms();
        let due = self.cx.failures.take_due(now, all);
        if due.is_empty() {
            return Ok(0);
        }
        let events: Vec<AuditEvent> = due
            .iter()
            .map(|d| {
                self.cx.event(
                    &Actor::new(ActorKind::Anonymous, "", &d.source),
                    AuditAction::AuthFailures,
                    "",
                    AuditResult::Denied,
                    &d.tally.detail(now.saturating_sub(d.started_ms)),
                )
            })
            .collect();
        let n = events.len();
        self.cx.journal(events, Vec::new()).await?;
        Ok(n)
    }

    /// How long failures are counted before their record is written, seconds.
    pub fn auth_failure_interval_secs(&self) -> u64 {
        self.cx.failures.limits.audit_interval_secs
    }

    /// Sources whose authentication failures are being tracked (memory is bounded by
    /// `auth_failure_max_sources`).
    pub fn auth_failure_sources(&self) -> usize {
        self.cx.failures.tracked()
    }
}

/// Checks the chain in `store` with `chain`. Separate from [`AuditLog`] so tools can run it too.
///
/// On an archived log the walk starts after the newest checkpoint: every checkpoint must be
/// signed with `archive_key` and name its predecessor, and the first live record must link to
/// the newest one's last hash. The archived records themselves are checked from their files
/// (`signet audit verify --archive`).
pub async fn verify_chain(
    store: &dyn signet_store::Store,
    chain: &dyn AuditChain,
    archive_key: &PublicKey,
) -> CoreResult<VerifyReport> {
    let head = store.audit_head().await?;
    let mut prev = [0u8; 32];
    let mut expected = 1u64;
    let mut checked = 0u64;
    let fail = |seq: u64, checked: u64, problem: String| VerifyReport {
        ok: false,
        records: checked,
        head_seq: head.map(|h| h.seq),
        first_bad_seq: Some(seq),
        problem: Some(problem),
    };
    let mut prev_checkpoint = [0u8; 32];
    for cp in store.audit_checkpoints().await? {
        let parts = checkpoint_parts(&cp);
        let signed = archive_key.verifying_key().ok().is_some_and(|vk| {
            vk.verify_strict(
                &parts.signing_bytes(),
                &ed25519_dalek::Signature::from_bytes(&parts.signature),
            )
            .is_ok()
        });
        if !signed {
            return Ok(fail(
                cp.first_seq,
                checked,
                format!(
                    "the checkpoint of records {}..={} is not signed by the vault's archive key",
                    cp.first_seq, cp.last_seq
                ),
            ));
        }
        if cp.first_seq != expected || cp.prev_checkpoint != prev_checkpoint {
            return Ok(fail(
                expected,
                checked,
                format!(
                    "the checkpoint of records {}..={} does not continue the one before",
                    cp.first_seq, cp.last_seq
                ),
            ));
        }
        prev_checkpoint = parts.hash();
        prev = cp.last_hash;
        expected = cp.last_seq + 1;
    }
    loop {
        let page = store.audit_range(expected, VERIFY_PAGE).await?;
        if page.is_empty() {
            break;
        }
        for r in page {
            if r.seq != expected {
                return Ok(fail(
                    expected,
                    checked,
                    format!("record {expected} is missing (next is {})", r.seq),
                ));
            }
            if r.prev_hash != prev {
                return Ok(fail(
                    r.seq,
                    checked,
                    format!("record {} does not link to its predecessor", r.seq),
                ));
            }
            if chain.link(&prev, r.seq, &r.event) != r.hash {
                return Ok(fail(
                    r.seq,
                    checked,
                    format!("record {} was altered", r.seq),
                ));
            }
            prev = r.hash;
            expected += 1;
            checked += 1;
        }
    }
    let last = expected - 1;
    match head {
        None if last == 0 => {}
        None => return Ok(fail(1, checked, "the chain head is missing".to_owned())),
        Some(h) if h.seq != last => {
            return Ok(fail(
                last + 1,
                checked,
                format!("the head says {} records but {} remain", h.seq, last),
            ));
        }
        Some(h) if h.hash != prev => {
            return Ok(fail(
                last,
                checked,
                "the head does not match the newest record".to_owned(),
            ));
        }
        Some(_) => {}
    }
    Ok(VerifyReport {
        ok: true,
        records: checked,
        head_seq: head.map(|h| h.seq),
        first_bad_seq: None,
        problem: None,
    })
}

/// Parses an audit result filter value.
pub fn parse_result(s: &str) -> CoreResult<AuditResult> {
    AuditResult::parse(s).ok_or_else(|| CoreError::bad("result must be ok, denied or failed"))
}
