//! The hash-chained audit log and the read marks that travel with it.
//!
//! Appends run on the writer thread, which is the only writer, so reading the head, chaining the
//! events after it and moving it happen with nothing in between: concurrent appenders always
//! form one gapless chain. The head is read from its row in each append rather than cached, so a
//! rolled-back savepoint or another process's append can never leave a stale copy behind.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Row, Transaction, params};
use signet_store::{
    ActorKind, AuditChain, AuditCheckpoint, AuditEvent, AuditFilter, AuditHead, AuditRecord,
    AuditResult, AuditStore, Audited, Conflict, JournalBatch, SignedEvidence, StoreError,
    StoreResult,
};

use crate::SqliteStore;
use crate::error::corrupt;
use crate::row::{col, name, seq, seq_param};
use crate::statement::{all, exec, one};

/// The most records one listing returns, whatever the filter asks for.
const MAX_LIMIT: u32 = 1000;

macro_rules! record_select {
    ($where:literal, $order:literal) => {
        concat!(
            "SELECT seq, ts_ms, actor_kind, actor_id, action, target, source_ip, result, detail, prev_hash, hash,
                    evidence
             FROM audit WHERE ",
            $where,
            $order
        )
    };
}

fn record(row: &Row<'_>) -> StoreResult<AuditRecord> {
    Ok(AuditRecord {
        seq: seq(row, 0)?,
        event: AuditEvent {
            ts_ms: col(row, 1)?,
            actor_kind: name(row, 2, ActorKind::parse)?,
            actor_id: col(row, 3)?,
            action: col(row, 4)?,
            target: col(row, 5)?,
            source_ip: col(row, 6)?,
            result: name(row, 7, AuditResult::parse)?,
            detail: col(row, 8)?,
            evidence: evidence(row, 11)?,
        },
        prev_hash: col(row, 9)?,
        hash: col(row, 10)?,
    })
}

/// The evidence column: NULL, or bytes that must parse (anything else is damage).
fn evidence(row: &Row<'_>, i: usize) -> StoreResult<Option<Arc<SignedEvidence>>> {
    let bytes: Option<Vec<u8>> = col(row, i)?;
    bytes
        .map(|b| {
            SignedEvidence::from_bytes(&b)
                .map(Arc::new)
                .ok_or_else(|| corrupt("audit evidence"))
        })
        .transpose()
}

fn head(row: &Row<'_>) -> StoreResult<AuditHead> {
    Ok(AuditHead {
        seq: seq(row, 0)?,
        hash: col(row, 1)?,
    })
}

fn append(
    tx: &Transaction<'_>,
    batch: &JournalBatch,
    chain: &dyn AuditChain,
) -> StoreResult<Vec<u64>> {
    let current = one(
        tx,
        "SELECT seq, hash FROM audit_head WHERE singleton = 1",
        [],
        head,
    )?;
    let (mut seq, mut prev) = match current {
        Some(h) => (h.seq, h.hash),
        None => {
            // No head is only valid for an empty log; chaining from zero onto existing records
            // would hide that the head was removed.
            if one(tx, "SELECT 1 FROM audit LIMIT 1", [], |_| Ok(()))?.is_some() {
                return Err(corrupt("audit head"));
            }
            (0, [0; 32])
        }
    };
    let mut appended = Vec::with_capacity(batch.events.len());
    for event in &batch.events {
        seq = seq.checked_add(1).ok_or(StoreError::Corrupt)?;
        let hash = chain.link(&prev, seq, event);
        exec(
            tx,
            "INSERT INTO audit (seq, ts_ms, actor_kind, actor_id, action, target, source_ip, result, detail, prev_hash, hash,
                                evidence)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                seq_param(seq),
                event.ts_ms,
                event.actor_kind.as_str(),
                event.actor_id,
                event.action,
                event.target,
                event.source_ip,
                event.result.as_str(),
                event.detail,
                prev,
                hash,
                event.evidence.as_ref().map(|e| e.to_bytes()),
            ],
        )?;
        appended.push(seq);
        prev = hash;
    }
    if !appended.is_empty() {
        exec(
            tx,
            "INSERT INTO audit_head (singleton, seq, hash) VALUES (1, ?1, ?2)
             ON CONFLICT (singleton) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            params![seq_param(seq), prev],
        )?;
    }
    for mark in &batch.read_marks {
        exec(
            tx,
            // Re-reading an unchanged secret is the common case; the WHERE leaves its page clean.
            "INSERT INTO read_marks (machine_id, secret_id, version) VALUES (?1, ?2, ?3)
             ON CONFLICT (machine_id, secret_id) DO UPDATE SET version = excluded.version
             WHERE read_marks.version <> excluded.version",
            params![mark.machine.to_string(), mark.secret.as_str(), mark.version],
        )?;
    }
    Ok(appended)
}

fn checkpoint(row: &Row<'_>) -> StoreResult<AuditCheckpoint> {
    Ok(AuditCheckpoint {
        first_seq: seq(row, 0)?,
        last_seq: seq(row, 1)?,
        last_hash: col(row, 2)?,
        prev_checkpoint: col(row, 3)?,
        segment_sha256: col(row, 4)?,
        signature: col(row, 5)?,
    })
}

macro_rules! checkpoint_select {
    ($rest:literal) => {
        concat!(
            "SELECT first_seq, last_seq, last_hash, prev_checkpoint, segment_sha256, signature
             FROM audit_checkpoints ",
            $rest
        )
    };
}

/// See `AuditStore::prune_audit`. Runs on the writer thread, so nothing appends or prunes in
/// between the checks and the delete.
fn prune(tx: &Transaction<'_>, cp: &AuditCheckpoint) -> StoreResult<bool> {
    let same_range = one(
        tx,
        checkpoint_select!("WHERE last_seq = ?1 OR first_seq = ?2"),
        params![seq_param(cp.last_seq), seq_param(cp.first_seq)],
        checkpoint,
    )?;
    if let Some(existing) = same_range {
        return if existing == *cp {
            Ok(false)
        } else {
            Err(StoreError::Conflict(Conflict::Id))
        };
    }
    let newest = one(
        tx,
        "SELECT max(last_seq) FROM audit_checkpoints",
        [],
        |row| col::<Option<i64>>(row, 0),
    )?
    .flatten();
    let next = newest.map_or(Ok(1), |last| {
        u64::try_from(last)
            .map_err(|_| corrupt("checkpoint seq"))
            .map(|l| l + 1)
    })?;
    if cp.first_seq != next || cp.last_seq < cp.first_seq {
        return Err(StoreError::Conflict(Conflict::Id));
    }
    let hash = one(
        tx,
        "SELECT hash FROM audit WHERE seq = ?1",
        params![seq_param(cp.last_seq)],
        |row| col::<[u8; 32]>(row, 0),
    )?
    .ok_or(StoreError::NotFound)?;
    if hash != cp.last_hash {
        return Err(StoreError::Conflict(Conflict::Id));
    }
    exec(
        tx,
        "INSERT INTO audit_checkpoints
             (first_seq, last_seq, last_hash, prev_checkpoint, segment_sha256, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            seq_param(cp.first_seq),
            seq_param(cp.last_seq),
            cp.last_hash,
            cp.prev_checkpoint,
            cp.segment_sha256,
            cp.signature,
        ],
    )?;
    exec(
        tx,
        "DELETE FROM audit WHERE seq <= ?1",
        params![seq_param(cp.last_seq)],
    )?;
    Ok(true)
}

/// Chains one change's record inside the change's own transaction (see `SqliteStore::write`).
pub(crate) fn append_record(tx: &Transaction<'_>, record: &Audited) -> StoreResult<()> {
    // Stands for any append failure after the change's statements: the change must roll back.
    fail::fail_point!("audit_append_fail", |_| Err(StoreError::Unavailable));
    let batch = JournalBatch {
        events: vec![record.event.clone()],
        read_marks: Vec::new(),
    };
    append(tx, &batch, record.chain.as_ref()).map(drop)
}

#[async_trait]
impl AuditStore for SqliteStore {
    fn audited(&self, record: Audited) -> Box<dyn signet_store::Store> {
        Box::new(self.with_record(record))
    }

    async fn probe_write(&self) -> StoreResult<()> {
        // A signed request would wait for the nonce set's start-up load: not ready until then.
        self.nonces.ready().await?;
        // An empty job still runs inside the writer's `BEGIN IMMEDIATE`, so it waits behind
        // the queue and fails when another process holds the write lock, as an append would.
        self.write(|_tx| Ok(())).await
    }

    async fn append_journal(
        &self,
        batch: JournalBatch,
        chain: Arc<dyn AuditChain>,
    ) -> StoreResult<Vec<u64>> {
        let seqs = self
            .write(move |tx| append(tx, &batch, chain.as_ref()))
            .await?;
        if !seqs.is_empty() {
            self.audit_appended();
        }
        Ok(seqs)
    }

    async fn audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        let before = filter.before_seq.map_or(i64::MAX, seq_param);
        let p = params![
            before,
            filter.actor_id,
            filter.action,
            filter.result.map(AuditResult::as_str),
            filter.limit.min(MAX_LIMIT),
            filter.since_ms,
            filter.until_ms
        ];
        // A filter on actor or action gets a statement where it is a plain equality, so SQLite
        // walks that column's index (whose entries end in `seq`) instead of the whole log. The
        // time bounds are plain conditions: `ts_ms` grows with `seq`, so walking newest first
        // finds the window quickly. Unused parameters are gaps in the numbering, which SQLite
        // allows.
        let sql = match (&filter.actor_id, &filter.action) {
            (Some(_), _) => record_select!(
                "actor_id = ?2 AND seq < ?1 AND (?3 IS NULL OR action = ?3) AND (?4 IS NULL OR result = ?4)
                 AND (?6 IS NULL OR ts_ms >= ?6) AND (?7 IS NULL OR ts_ms < ?7)",
                " ORDER BY seq DESC LIMIT ?5"
            ),
            (None, Some(_)) => {
                record_select!(
                    "action = ?3 AND seq < ?1 AND (?4 IS NULL OR result = ?4)
                     AND (?6 IS NULL OR ts_ms >= ?6) AND (?7 IS NULL OR ts_ms < ?7)",
                    " ORDER BY seq DESC LIMIT ?5"
                )
            }
            (None, None) => record_select!(
                "seq < ?1 AND (?4 IS NULL OR result = ?4)
                 AND (?6 IS NULL OR ts_ms >= ?6) AND (?7 IS NULL OR ts_ms < ?7)",
                " ORDER BY seq DESC LIMIT ?5"
            ),
        };
        self.read(|c| all(c, sql, p, record))
    }

    async fn audit_range(&self, from: u64, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        self.read(|c| {
            all(
                c,
                record_select!("seq >= ?1", " ORDER BY seq LIMIT ?2"),
                params![seq_param(from), limit],
                record,
            )
        })
    }

    async fn audit_checkpoints(&self) -> StoreResult<Vec<AuditCheckpoint>> {
        self.read(|c| all(c, checkpoint_select!("ORDER BY last_seq"), [], checkpoint))
    }

    async fn prune_audit(&self, checkpoint: &AuditCheckpoint) -> StoreResult<bool> {
        let cp = checkpoint.clone();
        self.write_where(move |tx| prune(tx, &cp), |changed| *changed)
            .await
    }

    async fn audit_head(&self) -> StoreResult<Option<AuditHead>> {
        self.read(|c| {
            one(
                c,
                "SELECT seq, hash FROM audit_head WHERE singleton = 1",
                [],
                head,
            )
        })
    }
}
