//! The audit log: append-only, hash-chained, written in durable group commits.

use std::sync::Arc;

use async_trait::async_trait;
use signet_proto::{MachineId, SecretId};

use crate::StoreResult;

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// A request that did not authenticate as anyone.
    Anonymous,
    /// A machine key.
    Machine,
    /// An operator key.
    Operator,
    /// The server itself (start-up, sweeps).
    System,
    /// An AI agent's key (a machine row with an agent profile) acting on the management
    /// routes; its id is the machine id.
    AiAgent,
}

impl ActorKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Machine => "machine",
            Self::Operator => "operator",
            Self::System => "system",
            Self::AiAgent => "ai_agent",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "anonymous" => Some(Self::Anonymous),
            "machine" => Some(Self::Machine),
            "operator" => Some(Self::Operator),
            "system" => Some(Self::System),
            "ai_agent" => Some(Self::AiAgent),
            _ => None,
        }
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditResult {
    /// Refused by policy (403) or authentication (401).
    Denied,
    /// Failed for another reason (bad input, internal error).
    Failed,
    /// Succeeded.
    Ok,
}

impl AuditResult {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Denied => "denied",
            Self::Failed => "failed",
            Self::Ok => "ok",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "denied" => Some(Self::Denied),
            "failed" => Some(Self::Failed),
            "ok" => Some(Self::Ok),
            _ => None,
        }
    }
}

/// One event, before it is chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Unix ms.
    pub ts_ms: i64,
    /// Who acted.
    pub actor_kind: ActorKind,
    /// Their id (empty for anonymous).
    pub actor_id: String,
    /// What they did, a stable snake_case name such as `secret_read`.
    pub action: String,
    /// What they did it to (an id, or empty).
    pub target: String,
    /// The client address as the server decided it.
    pub source_ip: String,
    /// How it ended.
    pub result: AuditResult,
    /// A short reason or context; never a secret.
    pub detail: String,
    /// What the machine signed, for a record written for an authenticated machine request;
    /// `None` for every other record and for records written before evidence was kept.
    /// Shared because one request may write several records.
    pub evidence: Option<Arc<SignedEvidence>>,
}

/// What a machine signed for the request a record was written for: enough to rebuild the
/// signing string (`docs/protocol.md` §2) and check the signature offline with the machine's
/// public key, so a record no machine asked for cannot be made to look as if one had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEvidence {
    /// The HTTP method as signed.
    pub method: String,
    /// The canonical path as signed.
    pub path: String,
    /// `X-Timestamp`, Unix seconds.
    pub timestamp: i64,
    /// `X-Nonce`.
    pub nonce: String,
    /// SHA-256 of the exact body bytes.
    pub body_sha256: [u8; 32],
    /// The Ed25519 signature.
    pub signature: [u8; 64],
}

/// The one encoding version [`SignedEvidence::to_bytes`] writes.
const EVIDENCE_V1: u8 = 1;

impl SignedEvidence {
    /// The stored form, also what the chain link covers: a version byte, then the method, path
    /// and nonce length-prefixed (u32, big-endian), the timestamp (i64, big-endian), the body
    /// hash and the signature. One column per backend, about 150 bytes for a read.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            1 + 12 + 8 + self.method.len() + self.path.len() + self.nonce.len() + 96,
        );
        out.push(EVIDENCE_V1);
        for text in [&self.method, &self.path] {
            out.extend_from_slice(&(text.len() as u32).to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&(self.nonce.len() as u32).to_be_bytes());
        out.extend_from_slice(self.nonce.as_bytes());
        out.extend_from_slice(&self.body_sha256);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses [`Self::to_bytes`]; `None` for anything else (a damaged or foreign column).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (&version, rest) = bytes.split_first()?;
        if version != EVIDENCE_V1 {
            return None;
        }
        let mut r = Reader(rest);
        let method = r.text()?;
        let path = r.text()?;
        let timestamp = i64::from_be_bytes(r.take(8)?.try_into().ok()?);
        let nonce = r.text()?;
        let body_sha256 = r.take(32)?.try_into().ok()?;
        let signature = r.take(64)?.try_into().ok()?;
        if !r.0.is_empty() {
            return None;
        }
        Some(Self {
            method,
            path,
            timestamp,
            nonce,
            body_sha256,
            signature,
        })
    }
}

/// The unread rest of an encoded [`SignedEvidence`].
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.0.split_at_checked(n)?;
        self.0 = tail;
        Some(head)
    }

    fn text(&mut self) -> Option<String> {
        let n = u32::from_be_bytes(self.take(4)?.try_into().ok()?);
        let bytes = self.take(usize::try_from(n).ok()?)?;
        String::from_utf8(bytes.to_vec()).ok()
    }
}

/// A chained, stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// The event.
    pub event: AuditEvent,
    /// `hash` of record `seq - 1` (zeros for the first).
    pub prev_hash: [u8; 32],
    /// `AuditChain::link(prev_hash, seq, event)`.
    pub hash: [u8; 32],
}

/// The newest link, kept apart from the rows so that deleting the tail is detectable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditHead {
    /// Sequence of the newest record.
    pub seq: u64,
    /// Its hash.
    pub hash: [u8; 32],
}

/// The signed close of an archived segment: records `first_seq..=last_seq` left the live store
/// for a segment file whose SHA-256 is `segment_sha256`, and the live chain continues after
/// `last_hash`. Core builds and signs it (`docs/protocol.md` §21); the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheckpoint {
    /// The segment's first record.
    pub first_seq: u64,
    /// Its last record.
    pub last_seq: u64,
    /// The last record's hash: the live chain's first record links to it.
    pub last_hash: [u8; 32],
    /// The previous checkpoint's hash (zeros for the first), chaining segments in order.
    pub prev_checkpoint: [u8; 32],
    /// SHA-256 of the segment file.
    pub segment_sha256: [u8; 32],
    /// Ed25519 signature by the vault's archive key.
    pub signature: [u8; 64],
}

/// Computes chain links. Core implements it with a key the store never sees.
pub trait AuditChain: Send + Sync {
    /// The hash of record `seq` whose predecessor has hash `prev`.
    fn link(&self, prev: &[u8; 32], seq: u64, event: &AuditEvent) -> [u8; 32];
}

/// A change's audit record, handed to the store so that it commits in the change's transaction:
/// both are durable or neither is, whatever crashes in between.
#[derive(Clone)]
pub struct Audited {
    /// The record, before it is chained.
    pub event: AuditEvent,
    /// Links it after the head the transaction sees.
    pub chain: Arc<dyn AuditChain>,
}

impl std::fmt::Debug for Audited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audited")
            .field("event", &self.event)
            .finish_non_exhaustive()
    }
}

/// That a machine read a secret at a version (for the poll endpoint's "changed").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMark {
    /// The reader.
    pub machine: MachineId,
    /// What it read.
    pub secret: SecretId,
    /// The version it was given.
    pub version: u32,
}

/// One group commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalBatch {
    /// Events to chain and append, in order.
    pub events: Vec<AuditEvent>,
    /// Read marks to upsert in the same transaction.
    pub read_marks: Vec<ReadMark>,
}

/// Which records to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only records with `seq` below this.
    pub before_seq: Option<u64>,
    /// Only this actor id.
    pub actor_id: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this result.
    pub result: Option<AuditResult>,
    /// Only records at or after this time, Unix ms.
    pub since_ms: Option<i64>,
    /// Only records before this time, Unix ms (exclusive, so consecutive windows never
    /// overlap).
    pub until_ms: Option<i64>,
    /// At most this many (the store caps it at 1000).
    pub limit: u32,
}

/// The audit log.
#[async_trait]
pub trait AuditStore {
    /// Chains and appends the batch's events after the current head, upserts its read marks,
    /// and moves the head, all in one durable transaction. Returns the new records' sequence
    /// numbers. On error nothing was written.
    ///
    /// The chain is shared rather than borrowed because only the backend knows the head at the
    /// moment the batch is written: links are computed inside the transaction, possibly on the
    /// backend's own writer thread, which a borrow cannot reach.
    async fn append_journal(
        &self,
        batch: JournalBatch,
        chain: Arc<dyn AuditChain>,
    ) -> StoreResult<Vec<u64>>;
    /// A handle on this store whose next write also chains and appends `record` inside that
    /// write's transaction, so the change and its record commit together or not at all (an
    /// append that fails rolls the change back). Reads through the handle are ordinary. It
    /// carries one record: a second write through the same handle carries none.
    fn audited(&self, record: Audited) -> Box<dyn crate::Store>;
    /// Records newest first, filtered.
    async fn audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;
    /// Records with `seq >= from`, oldest first, at most `limit`.
    async fn audit_range(&self, from: u64, limit: u32) -> StoreResult<Vec<AuditRecord>>;
    /// The stored head, `None` before the first record.
    async fn audit_head(&self) -> StoreResult<Option<AuditHead>>;
    /// Checkpoints, oldest first (one per archived segment, so few).
    async fn audit_checkpoints(&self) -> StoreResult<Vec<AuditCheckpoint>>;
    /// Closes an archived segment, in one transaction: checks that `checkpoint` continues the
    /// newest one (its `first_seq` follows that one's `last_seq`, or is 1) and that the live
    /// record `last_seq` has hash `last_hash`, records it, and deletes every record up to
    /// `last_seq`. On an audited handle the record describing it commits in the same
    /// transaction. `Ok(false)`, with nothing written, when this exact checkpoint is recorded
    /// already (another archiver got there first); `Conflict::Id` when another checkpoint holds
    /// the range or it does not continue the chain; `NotFound` when the record is not live.
    async fn prune_audit(&self, checkpoint: &AuditCheckpoint) -> StoreResult<bool>;
    /// Opens a write transaction that changes nothing, on the path an append takes, and commits
    /// it: `Ok` only if an append could be made durable right now. For readiness; callers bound
    /// how long they wait.
    async fn probe_write(&self) -> StoreResult<()>;
}
