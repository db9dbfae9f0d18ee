//! The hash-chained audit log and the read marks that travel with it.
//!
//! Appends run on the writer thread, which is the only writer, so reading the head, chaining the
//! events after it and moving it happen with nothing in between: concurrent appenders always
//! form one gapless chain. The head is read from its row in each append (or once per run of
//! coalesced appends) rather than cached, so a rolled-back savepoint or another process's append
//! can never leave a stale copy behind.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Row, Transaction, params};
use signet_store::{
    ActorKind, AuditChain, AuditCheckpoint, AuditEvent, AuditFilter, AuditHead, AuditRecord,
    AuditResult, AuditStore, Audited, Conflict, JournalBatch, ReadMark, SignedEvidence, StoreError,
    StoreResult,
};
use tokio::sync::oneshot;

use crate::SqliteStore;
use crate::error::corrupt;
use crate::row::{col, name, seq, seq_param};
use crate::statement::{all, exec, one};
use crate::writer::{self, Work};

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

/// The chain's head as the transaction sees it: `(0, zeros)` for an empty log.
fn current_head(tx: &Transaction<'_>) -> StoreResult<(u64, [u8; 32])> {
    let current = one(
        tx,
        "SELECT seq, hash FROM audit_head WHERE singleton = 1",
        [],
        head,
    )?;
    match current {
        Some(h) => Ok((h.seq, h.hash)),
        None => {
            // No head is only valid for an empty log; chaining from zero onto existing records
            // would hide that the head was removed.
            if one(tx, "SELECT 1 FROM audit LIMIT 1", [], |_| Ok(()))?.is_some() {
                return Err(corrupt("audit head"));
            }
            Ok((0, [0; 32]))
        }
    }
}

/// Chains `events` after `(seq, prev)`, inserting each, and returns their numbers. Moves
/// `(seq, prev)` to the last one; the head row is the caller's to move.
fn insert_events(
    tx: &Transaction<'_>,
    events: &[AuditEvent],
    chain: &dyn AuditChain,
    seq: &mut u64,
    prev: &mut [u8; 32],
) -> StoreResult<Vec<u64>> {
    let mut appended = Vec::with_capacity(events.len());
    for event in events {
        let next = seq.checked_add(1).ok_or(StoreError::Corrupt)?;
        let hash = chain.link(prev, next, event);
        exec(
            tx,
            "INSERT INTO audit (seq, ts_ms, actor_kind, actor_id, action, target, source_ip, result, detail, prev_hash, hash,
                                evidence)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                seq_param(next),
                event.ts_ms,
                event.actor_kind.as_str(),
                event.actor_id,
                event.action,
                event.target,
                event.source_ip,
                event.result.as_str(),
                event.detail,
                *prev,
                hash,
                event.evidence.as_ref().map(|e| e.to_bytes()),
            ],
        )?;
        appended.push(next);
        *seq = next;
        *prev = hash;
    }
    Ok(appended)
}

fn move_head(tx: &Transaction<'_>, seq: u64, hash: &[u8; 32]) -> StoreResult<()> {
    exec(
        tx,
        "INSERT INTO audit_head (singleton, seq, hash) VALUES (1, ?1, ?2)
         ON CONFLICT (singleton) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        params![seq_param(seq), hash],
    )
    .map(drop)
}

fn upsert_marks(tx: &Transaction<'_>, marks: &[ReadMark]) -> StoreResult<()> {
    for mark in marks {
        exec(
            tx,
            // Re-reading an unchanged secret is the common case; the WHERE leaves its page clean.
            "INSERT INTO read_marks (machine_id, secret_id, version) VALUES (?1, ?2, ?3)
             ON CONFLICT (machine_id, secret_id) DO UPDATE SET version = excluded.version
             WHERE read_marks.version <> excluded.version",
            params![mark.machine.to_string(), mark.secret.as_str(), mark.version],
        )?;
    }
    Ok(())
}

fn append(
    tx: &Transaction<'_>,
    batch: &JournalBatch,
    chain: &dyn AuditChain,
) -> StoreResult<Vec<u64>> {
    let (mut seq, mut prev) = current_head(tx)?;
    let appended = insert_events(tx, &batch.events, chain, &mut seq, &mut prev)?;
    if !appended.is_empty() {
        move_head(tx, seq, &prev)?;
    }
    upsert_marks(tx, &batch.read_marks)?;
    Ok(appended)
}

/// One caller's journal append, queued on the writer. Run alone it is [`append`]; next to other
/// appends the writer runs them all through [`append_coalesced`].
pub(crate) struct JournalCall {
    batch: JournalBatch,
    chain: Arc<dyn AuditChain>,
    result: Option<StoreResult<Vec<u64>>>,
    reply: oneshot::Sender<StoreResult<Vec<u64>>>,
}

impl Work for JournalCall {
    fn run(&mut self, tx: &Transaction<'_>) -> bool {
        // As for any write closure: a panic fails this append, not the writer.
        let result = catch_unwind(AssertUnwindSafe(|| {
            append(tx, &self.batch, self.chain.as_ref())
        }))
        .unwrap_or_else(|_| {
            tracing::error!("a journal append panicked");
            Err(StoreError::Unavailable)
        });
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, committed: bool) {
        writer::reply(self.reply, self.result, committed);
    }

    fn journal(&mut self) -> Option<&mut JournalCall> {
        Some(self)
    }
}

/// Appends every call's batch, in queue order, as one: the head is read once and moved once,
/// the marks follow the records. Returns whether it worked; only then does each call get its
/// result (the numbers of its own records), so on failure every call can run again alone after
/// the caller has rolled back.
pub(crate) fn append_coalesced(tx: &Transaction<'_>, calls: &mut [&mut JournalCall]) -> bool {
    let appended = (|| {
        let (mut seq, mut prev) = current_head(tx)?;
        let start = seq;
        let mut appended = Vec::with_capacity(calls.len());
        for call in calls.iter() {
            appended.push(insert_events(
                tx,
                &call.batch.events,
                call.chain.as_ref(),
                &mut seq,
                &mut prev,
            )?);
        }
        if seq != start {
            move_head(tx, seq, &prev)?;
        }
        for call in calls.iter() {
            upsert_marks(tx, &call.batch.read_marks)?;
        }
        Ok::<_, StoreError>(appended)
    })();
    match appended {
        Ok(seqs) => {
            for (call, seqs) in calls.iter_mut().zip(seqs) {
                call.result = Some(Ok(seqs));
            }
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, appends = calls.len(), "a coalesced journal append failed; appending one by one");
            false
        }
    }
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
        // Not ready once the nonce set's start-up load has failed (signed requests would be
        // refused); a load still running does not hold readiness back (see `nonce.rs`).
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
        if self.carries_record() {
            // The handle's record goes in the same savepoint, as for any write through it (which
            // also tells the watchers).
            return self
                .write(move |tx| append(tx, &batch, chain.as_ref()))
                .await;
        }
        // Not through `write`, so that the writer sees an append it may coalesce with its
        // neighbours.
        let (reply, rx) = oneshot::channel();
        self.writer
            .enqueue(Box::new(JournalCall {
                batch,
                chain,
                result: None,
                reply,
            }))
            .await?;
        let seqs = rx.await.map_err(|_| StoreError::Unavailable)??;
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

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use signet_proto::{MachineId, SecretId};
    use signet_store::conformance::fixture::{TestChain, event};

    use super::*;
    use crate::writer::commit_batch;

    type Reply = oneshot::Receiver<StoreResult<Vec<u64>>>;

    fn scratch() -> (tempfile::TempDir, rusqlite::Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::schema::open_writer(&dir.path().join("a.sqlite3")).unwrap();
        (dir, conn)
    }

    fn journal(details: &[&str], marks: Vec<ReadMark>) -> (Box<dyn Work>, Reply) {
        let (reply, rx) = oneshot::channel();
        let events = details
            .iter()
            .map(|d| AuditEvent {
                detail: (*d).to_owned(),
                ..event("m", "secret_read", AuditResult::Ok)
            })
            .collect();
        let call = JournalCall {
            batch: JournalBatch {
                events,
                read_marks: marks,
            },
            chain: Arc::new(TestChain),
            result: None,
            reply,
        };
        (Box::new(call), rx)
    }

    /// One signed read's append (a record with evidence-sized detail and a read mark), as the
    /// writer gets it from `append_journal`.
    pub(crate) async fn append_one(writer: &crate::writer::Writer) {
        let (work, rx) = journal(
            &["version=1"],
            vec![mark(MachineId::generate(), &SecretId::generate(), 1)],
        );
        writer.enqueue(work).await.unwrap();
        rx.await.unwrap().unwrap();
    }

    fn mark(machine: MachineId, secret: &SecretId, version: u32) -> ReadMark {
        ReadMark {
            machine,
            secret: secret.clone(),
            version,
        }
    }

    /// Every record, oldest first, checked to form one gapless chain from the start; returns
    /// their details.
    fn chained_details(conn: &rusqlite::Connection) -> Vec<String> {
        let records = all(
            conn,
            record_select!("seq >= ?1", " ORDER BY seq"),
            [0],
            record,
        )
        .unwrap();
        let mut prev = [0; 32];
        for (i, r) in (1_u64..).zip(&records) {
            assert_eq!(r.seq, i, "a gap in the chain");
            assert_eq!(
                r.prev_hash, prev,
                "record {i} does not follow its predecessor"
            );
            assert_eq!(r.hash, TestChain.link(&prev, r.seq, &r.event));
            prev = r.hash;
        }
        let head = one(
            conn,
            "SELECT seq, hash FROM audit_head WHERE singleton = 1",
            [],
            head,
        )
        .unwrap()
        .unwrap();
        assert_eq!((head.seq, head.hash), (records.len() as u64, prev));
        records.into_iter().map(|r| r.event.detail).collect()
    }

    fn marks(conn: &rusqlite::Connection) -> Vec<(String, u32)> {
        all(
            conn,
            "SELECT secret_id, version FROM read_marks ORDER BY secret_id",
            [],
            |r| Ok((col(r, 0)?, col(r, 1)?)),
        )
        .unwrap()
    }

    #[test]
    fn coalesced_appends_form_one_chain_and_each_caller_gets_its_own_records() {
        let (_dir, mut conn) = scratch();
        let machine = MachineId::generate();
        let (s1, s2) = (SecretId::generate(), SecretId::generate());
        let (a, ra) = journal(&["a1"], vec![mark(machine, &s1, 1)]);
        let (b, rb) = journal(&["b1", "b2"], vec![]);
        // The same secret read again at a newer version: the later mark wins, as it would if
        // the appends ran one after the other.
        let (c, rc) = journal(&["c1"], vec![mark(machine, &s2, 3), mark(machine, &s1, 2)]);
        let (d, rd) = journal(&[], vec![]);
        let before = conn.total_changes();
        commit_batch(&mut conn, &mut vec![a, b, c, d]);

        assert_eq!(ra.blocking_recv().unwrap(), Ok(vec![1]));
        assert_eq!(rb.blocking_recv().unwrap(), Ok(vec![2, 3]));
        assert_eq!(rc.blocking_recv().unwrap(), Ok(vec![4]));
        assert_eq!(rd.blocking_recv().unwrap(), Ok(vec![]));
        assert_eq!(chained_details(&conn), ["a1", "b1", "b2", "c1"]);
        let mut want = vec![(s1.as_str().to_owned(), 2), (s2.as_str().to_owned(), 3)];
        want.sort();
        assert_eq!(marks(&conn), want);
        // Four records, one move of the head, three marks written (one of them twice): one by
        // one, the head would have moved three times.
        assert_eq!(conn.total_changes() - before, 4 + 1 + 3);

        // The next batch chains on from the head the coalesced one left.
        let (e, re) = journal(&["e1"], vec![]);
        let (f, rf) = journal(&["f1"], vec![]);
        commit_batch(&mut conn, &mut vec![e, f]);
        assert_eq!(re.blocking_recv().unwrap(), Ok(vec![5]));
        assert_eq!(rf.blocking_recv().unwrap(), Ok(vec![6]));
        assert_eq!(chained_details(&conn).len(), 6);
    }

    #[test]
    fn a_failing_append_among_coalesced_ones_fails_only_its_own_caller() {
        let (_dir, mut conn) = scratch();
        // Refuses one record as any failed statement would.
        conn.execute_batch(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON audit WHEN NEW.detail = 'bad'
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
        let machine = MachineId::generate();
        let (s1, s2) = (SecretId::generate(), SecretId::generate());
        let (a, ra) = journal(&["a1"], vec![mark(machine, &s1, 1)]);
        // Its first record would be fine: it must not survive its second one's failure.
        let (b, rb) = journal(&["b1", "bad"], vec![mark(machine, &s2, 1)]);
        let (c, rc) = journal(&["c1"], vec![]);
        commit_batch(&mut conn, &mut vec![a, b, c]);

        assert_eq!(ra.blocking_recv().unwrap(), Ok(vec![1]));
        // A trigger's refusal is a value the schema can never hold, as the store reports it.
        assert_eq!(rb.blocking_recv().unwrap(), Err(StoreError::Corrupt));
        assert_eq!(rc.blocking_recv().unwrap(), Ok(vec![2]));
        assert_eq!(chained_details(&conn), ["a1", "c1"]);
        assert_eq!(marks(&conn), [(s1.as_str().to_owned(), 1)]);
    }

    /// A chain that panics on one event, standing for a bug in the caller's code.
    struct Panicky;

    impl AuditChain for Panicky {
        fn link(&self, prev: &[u8; 32], seq: u64, event: &AuditEvent) -> [u8; 32] {
            assert_ne!(event.detail, "panic", "a bug");
            TestChain.link(prev, seq, event)
        }
    }

    #[test]
    fn a_panicking_append_among_coalesced_ones_fails_only_its_own_caller() {
        let (_dir, mut conn) = scratch();
        let (a, ra) = journal(&["a1"], vec![]);
        let (reply, rb) = oneshot::channel();
        let b = Box::new(JournalCall {
            batch: JournalBatch {
                events: vec![AuditEvent {
                    detail: "panic".to_owned(),
                    ..event("m", "secret_read", AuditResult::Ok)
                }],
                read_marks: vec![],
            },
            chain: Arc::new(Panicky),
            result: None,
            reply,
        });
        let (c, rc) = journal(&["c1"], vec![]);
        commit_batch(&mut conn, &mut vec![a, b, c]);

        assert_eq!(ra.blocking_recv().unwrap(), Ok(vec![1]));
        assert_eq!(rb.blocking_recv().unwrap(), Err(StoreError::Unavailable));
        assert_eq!(rc.blocking_recv().unwrap(), Ok(vec![2]));
        assert_eq!(chained_details(&conn), ["a1", "c1"]);
    }

    #[test]
    fn other_work_between_appends_keeps_its_place_in_the_queue() {
        let (_dir, mut conn) = scratch();
        let (a, ra) = journal(&["a1"], vec![]);
        // Stands for a nonce flush or a change: it must see the append queued before it, and
        // not the one queued after it.
        let (reply, rx) = oneshot::channel();
        let between: Box<dyn Work> = Box::new(crate::writer::tests::call_for(
            |tx: &Transaction<'_>| current_head(tx).map(|(seq, _)| seq),
            reply,
        ));
        let (b, rb) = journal(&["b1"], vec![]);
        let (c, rc) = journal(&["c1"], vec![]);
        commit_batch(&mut conn, &mut vec![a, between, b, c]);

        assert_eq!(ra.blocking_recv().unwrap(), Ok(vec![1]));
        assert_eq!(rx.blocking_recv().unwrap(), Ok(1));
        assert_eq!(rb.blocking_recv().unwrap(), Ok(vec![2]));
        assert_eq!(rc.blocking_recv().unwrap(), Ok(vec![3]));
        assert_eq!(chained_details(&conn), ["a1", "b1", "c1"]);
    }
}
