//! The hash-chained audit log and the read marks that travel with it, group-committed.
//!
//! Appends from this process go through one journal task. It takes whatever is queued (up to
//! [`MAX_GROUP`] batches), chains every batch after the head it last wrote, and hands the whole
//! group to `signet_append_audit` (migration 0017) in one autocommitted statement: one round
//! trip per group. The function takes the advisory lock [`AUDIT_LOCK`] that every appender in
//! every process takes, reads the head under it, and writes the records, the read marks and the
//! new head only if the head is still the one the group was chained after. If another appender
//! (another replica, or a change's own record) moved it, nothing is written and the group is
//! chained again after the head the function returned.
//!
//! When that does not settle it (no head yet, or the head keeps moving), the group is written
//! by the transaction path: one transaction that takes the lock, reads the head, chains and
//! writes the group and moves the head. If a statement with several batches in it fails, the
//! group is written again with each batch in its own savepoint, so a batch that fails rolls back
//! alone. Callers are answered only after the commit returned; if it failed (or its outcome is
//! unknown), every caller in the group gets [`StoreError::Unavailable`].
//!
//! The lock is taken before the head is read and held until commit, so two replicas appending
//! at once are serialised and form one gapless chain. A row lock on `audit_head` would not do:
//! before the first record there is no row to lock.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use signet_store::{
    ActorKind, AuditChain, AuditCheckpoint, AuditEvent, AuditFilter, AuditHead, AuditRecord,
    AuditResult, AuditStore, Audited, Conflict, JournalBatch, ReadMark, SignedEvidence, StoreError,
    StoreMetrics, StoreResult,
};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{PgConnection, Postgres, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::PgStore;
use crate::error::{corrupt, db};
use crate::row::{col, digest, name, seq, seq_param};

/// The advisory lock key that serialises appends across processes ("SIGNET" then 2).
const AUDIT_LOCK: i64 = 0x5349_474E_4554_0002;

/// How many batches share one transaction at most, which bounds how long the first caller in a
/// group waits behind the others.
const MAX_GROUP: usize = 256;

/// How many appends may wait for the journal before callers wait too.
const QUEUE_DEPTH: usize = 4096;

/// How many times a group is chained again after a head another appender moved, before it
/// takes the transaction path (which holds the lock from reading the head to commit).
const FAST_TRIES: usize = 3;

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

fn record(row: &PgRow) -> StoreResult<AuditRecord> {
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
        prev_hash: digest(row, 9)?,
        hash: digest(row, 10)?,
    })
}

/// The evidence column: NULL, or bytes that must parse (anything else is damage).
fn evidence(row: &PgRow, i: usize) -> StoreResult<Option<Arc<SignedEvidence>>> {
    let bytes: Option<Vec<u8>> = col(row, i)?;
    bytes
        .map(|b| {
            SignedEvidence::from_bytes(&b)
                .map(Arc::new)
                .ok_or_else(|| corrupt("audit evidence"))
        })
        .transpose()
}

fn head(row: &PgRow) -> StoreResult<AuditHead> {
    Ok(AuditHead {
        seq: seq(row, 0)?,
        hash: digest(row, 1)?,
    })
}

/// One caller's batch, and where its answer goes.
struct Append {
    batch: JournalBatch,
    chain: Arc<dyn AuditChain>,
    reply: oneshot::Sender<StoreResult<Vec<u64>>>,
}

/// The sending side of the journal task's queue. Dropping it lets the task finish what is
/// queued and stop.
pub(crate) struct Journal {
    queue: mpsc::Sender<Append>,
}

impl Journal {
    pub(crate) fn spawn(pool: PgPool, metrics: Arc<StoreMetrics>) -> Journal {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(pool, rx, metrics));
        Journal { queue }
    }

    async fn append(
        &self,
        batch: JournalBatch,
        chain: Arc<dyn AuditChain>,
    ) -> StoreResult<Vec<u64>> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Append {
                batch,
                chain,
                reply,
            })
            .await
            .map_err(|_| {
                tracing::error!("the audit journal has stopped");
                StoreError::Unavailable
            })?;
        answer.await.map_err(|_| StoreError::Unavailable)?
    }
}

fn drain(rx: &mut mpsc::Receiver<Append>, group: &mut Vec<Append>) {
    while group.len() < MAX_GROUP {
        match rx.try_recv() {
            Ok(more) => group.push(more),
            Err(_) => break,
        }
    }
}

/// A head: the last record's sequence number and hash.
type Head = (u64, [u8; 32]);

async fn run(pool: PgPool, mut rx: mpsc::Receiver<Append>, metrics: Arc<StoreMetrics>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    // The head this task last wrote or was told of: its guess for the next group, checked under
    // the lock by the statement that writes it. `None`: take the transaction path.
    let mut head: Option<Head> = None;
    while let Some(first) = rx.recv().await {
        group.push(first);
        drain(&mut rx, &mut group);
        tracing::trace!(batches = group.len(), "audit group");
        metrics
            .commit_batch
            .observe(u64::try_from(group.len()).unwrap_or(u64::MAX));
        let started = std::time::Instant::now();
        let outcomes = write_group(&pool, &group, &mut head).await;
        // The group's write is one autocommitted statement (or one short transaction): its
        // time is the commit's, WAL flush included, so it is both histograms' observation.
        let took = started.elapsed();
        metrics.commit_micros.observe_duration(took);
        metrics.sync_micros.observe_duration(took);
        for (i, append) in group.drain(..).enumerate() {
            let outcome = match &outcomes {
                Ok(each) => each.get(i).cloned().unwrap_or(Err(StoreError::Unavailable)),
                Err(e) => Err(e.clone()),
            };
            // The caller may have stopped waiting; the outcome stands either way.
            let _ = append.reply.send(outcome);
        }
    }
}

/// Writes a group. `Err` means nothing was written and every caller gets that error; `Ok`
/// holds each caller's own result.
///
/// The common case, where every batch is fine and `head` is right, costs one statement for the
/// whole group. Only if writing fails with several batches in it is the group written again,
/// each batch in its own savepoint, to find out whose batch it was.
async fn write_group(
    pool: &PgPool,
    group: &[Append],
    head: &mut Option<Head>,
) -> StoreResult<Vec<StoreResult<Vec<u64>>>> {
    if let Some(done) = write_fast(pool, group, head).await? {
        return Ok(done);
    }
    match write_together(pool, group, head).await? {
        Together::Done(outcomes) => Ok(outcomes),
        Together::Split => {
            *head = None;
            write_apart(pool, group).await
        }
    }
}

/// A group chained after a head, as the statements take it.
struct Chained<'a> {
    rows: Rows<'a>,
    marks: Marks,
    /// Each caller's result (an error here is its batch failing to chain).
    outcomes: Vec<StoreResult<Vec<u64>>>,
    /// The batches that have something to write.
    writers: Vec<usize>,
    /// The head after the group's last record.
    end: Head,
}

fn chain_group(group: &[Append], start: Head) -> Chained<'_> {
    let (mut seq, mut prev) = start;
    let mut c = Chained {
        rows: Rows::default(),
        marks: Marks::default(),
        outcomes: Vec::with_capacity(group.len()),
        writers: Vec::new(),
        end: start,
    };
    for (i, a) in group.iter().enumerate() {
        if is_empty(&a.batch) {
            c.outcomes.push(Ok(Vec::new()));
            continue;
        }
        match c
            .rows
            .chain(&a.batch, a.chain.as_ref(), &mut seq, &mut prev)
        {
            Ok(seqs) => {
                c.marks.add(&a.batch.read_marks);
                c.writers.push(i);
                c.outcomes.push(Ok(seqs));
            }
            Err(e) => c.outcomes.push(Err(e)),
        }
    }
    c.end = (seq, prev);
    c
}

/// What a failed write of the whole group means for its callers: a batch alone in the group
/// gets the error as its own; with several, the group must be split to find whose it was.
fn failed(mut c: Chained<'_>, e: StoreError) -> Together {
    match c.writers.as_slice() {
        [only] => {
            let only = *only;
            c.outcomes[only] = Err(e);
            Together::Done(c.outcomes)
        }
        _ => Together::Split,
    }
}

/// How one call of `signet_append_audit` went.
enum Fast {
    Appended,
    /// Nothing written: the head is not the one the group was chained after. `None`: there is
    /// no head row.
    Moved(Option<Head>),
}

/// Writes the group after `head` with one statement, chaining it again if another appender
/// moved the head. `Ok(None)`: not settled here (no head known, or it kept moving); nothing was
/// written and the transaction path takes over.
async fn write_fast(
    pool: &PgPool,
    group: &[Append],
    head: &mut Option<Head>,
) -> StoreResult<Option<Vec<StoreResult<Vec<u64>>>>> {
    for _ in 0..FAST_TRIES {
        let Some(start) = *head else {
            return Ok(None);
        };
        let c = chain_group(group, start);
        if c.writers.is_empty() {
            return Ok(Some(c.outcomes));
        }
        match append_group(pool, start, &c).await? {
            Ok(Fast::Appended) => {
                *head = Some(c.end);
                return Ok(Some(c.outcomes));
            }
            Ok(Fast::Moved(now)) => *head = now,
            Err(e) => {
                *head = None;
                return match failed(c, e) {
                    Together::Done(outcomes) => Ok(Some(outcomes)),
                    // Nothing was written: the transaction path splits the group.
                    Together::Split => Ok(None),
                };
            }
        }
    }
    Ok(None)
}

/// One call of `signet_append_audit`, autocommitted. The inner `Err` is an error the database
/// reported for the statement, so its implicit transaction rolled back and nothing was written;
/// an error that leaves the outcome unknown (the connection failed) is the outer `Err`, which
/// fails the whole group as a failed commit does.
async fn append_group(
    pool: &PgPool,
    start: Head,
    c: &Chained<'_>,
) -> StoreResult<Result<Fast, StoreError>> {
    let (rows, marks) = (&c.rows, &c.marks);
    let answer = sqlx::query(
        "SELECT appended, head_seq, head_hash FROM signet_append_audit(
             $1, $2, $3, $4::int8[], $5::int8[], $6::text[], $7::text[], $8::text[], $9::text[],
             $10::text[], $11::text[], $12::text[], $13::bytea[], $14::bytea[], $15::bytea[],
             $16::text[], $17::text[], $18::int8[])",
    )
    .bind(AUDIT_LOCK)
    .bind(seq_param(start.0))
    .bind(start.1.as_slice())
    .bind(&rows.seq)
    .bind(&rows.ts)
    .bind(&rows.kind)
    .bind(&rows.actor)
    .bind(&rows.action)
    .bind(&rows.target)
    .bind(&rows.ip)
    .bind(&rows.result)
    .bind(&rows.detail)
    .bind(&rows.prev)
    .bind(&rows.hash)
    .bind(&rows.evidence)
    .bind(&marks.machines)
    .bind(&marks.secrets)
    .bind(&marks.versions)
    .fetch_one(pool)
    .await;
    let row = match answer {
        Ok(row) => row,
        Err(e @ sqlx::Error::Database(_)) => return Ok(Err(db(e))),
        Err(e) => {
            db(e);
            return Err(StoreError::Unavailable);
        }
    };
    let appended: bool = col(&row, 0)?;
    if appended {
        return Ok(Ok(Fast::Appended));
    }
    let seq: Option<i64> = col(&row, 1)?;
    let hash: Option<&[u8]> = col(&row, 2)?;
    Ok(Ok(Fast::Moved(match (seq, hash) {
        (Some(s), Some(h)) => Some((
            u64::try_from(s).map_err(|_| corrupt("audit head"))?,
            h.try_into().map_err(|_| corrupt("audit head"))?,
        )),
        _ => None,
    })))
}

/// How the one-statement attempt went.
enum Together {
    /// Committed (or failed as a whole): each caller's result.
    Done(Vec<StoreResult<Vec<u64>>>),
    /// A statement failed with several batches in it; nothing was written.
    Split,
}

/// Starts the group's transaction, takes the append lock and reads the head.
async fn open(pool: &PgPool) -> StoreResult<(Transaction<'static, Postgres>, u64, [u8; 32])> {
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let (seq, hash) = read_head(&mut tx).await?;
    Ok((tx, seq, hash))
}

/// The head under the append lock, `(0, zeros)` for an empty log.
async fn read_head(conn: &mut PgConnection) -> StoreResult<(u64, [u8; 32])> {
    let current = sqlx::query("SELECT seq, hash FROM audit_head WHERE singleton = 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .map(|r| head(&r))
        .transpose()?;
    match current {
        Some(h) => Ok((h.seq, h.hash)),
        None => {
            // No head is only valid for an empty log; chaining from zero onto existing records
            // would hide that the head was removed.
            let any = sqlx::query("SELECT 1 FROM audit LIMIT 1")
                .fetch_optional(&mut *conn)
                .await
                .map_err(db)?;
            if any.is_some() {
                return Err(corrupt("audit head"));
            }
            Ok((0, [0; 32]))
        }
    }
}

/// Moves the head and announces the append on the change feed (`change::AUDIT`), in one
/// statement of the append's transaction: PostgreSQL delivers the notification only if and when
/// the records commit, so every replica's event hub reads them early, never before they exist.
async fn move_head(conn: &mut PgConnection, seq: u64, hash: [u8; 32]) -> StoreResult<()> {
    sqlx::query(
        "WITH moved AS (
             INSERT INTO audit_head (singleton, seq, hash) VALUES (1, $1, $2)
             ON CONFLICT (singleton) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
         )
         SELECT pg_notify('signet_changes', 'audit')",
    )
    .bind(seq_param(seq))
    .bind(hash.as_slice())
    .execute(&mut *conn)
    .await
    .map_err(db)
    .map(drop)
}

/// Moves the head if it moved, and commits. A failed commit is `Unavailable` for everyone.
async fn finish(
    mut tx: Transaction<'static, Postgres>,
    moved: Option<(u64, [u8; 32])>,
) -> StoreResult<()> {
    if let Some((seq, hash)) = moved {
        move_head(&mut tx, seq, hash).await?;
    }
    tx.commit().await.map_err(|e| {
        db(e);
        StoreError::Unavailable
    })
}

fn is_empty(batch: &JournalBatch) -> bool {
    batch.events.is_empty() && batch.read_marks.is_empty()
}

/// The transaction path for the whole group; on success `head` is the new head.
async fn write_together(
    pool: &PgPool,
    group: &[Append],
    head: &mut Option<Head>,
) -> StoreResult<Together> {
    *head = None;
    let (mut tx, start, start_hash) = open(pool).await?;
    let c = chain_group(group, (start, start_hash));
    if let Err(e) = write(&mut tx, &c.rows, &c.marks).await {
        if let Err(rollback) = tx.rollback().await {
            db(rollback);
        }
        return Ok(failed(c, e));
    }
    let end = c.end;
    finish(tx, (end.0 != start).then_some(end)).await?;
    // An empty log has no head row yet, which the one-statement path cannot start from.
    *head = (end.0 > 0).then_some(end);
    Ok(Together::Done(c.outcomes))
}

async fn write_apart(pool: &PgPool, group: &[Append]) -> StoreResult<Vec<StoreResult<Vec<u64>>>> {
    let (mut tx, start, start_hash) = open(pool).await?;
    let (mut seq, mut prev) = (start, start_hash);
    let mut outcomes = Vec::with_capacity(group.len());
    for a in group {
        if is_empty(&a.batch) {
            outcomes.push(Ok(Vec::new()));
            continue;
        }
        let (mut next, mut next_hash) = (seq, prev);
        let mut rows = Rows::default();
        let seqs = match rows.chain(&a.batch, a.chain.as_ref(), &mut next, &mut next_hash) {
            Ok(seqs) => seqs,
            Err(e) => {
                outcomes.push(Err(e));
                continue;
            }
        };
        let mut marks = Marks::default();
        marks.add(&a.batch.read_marks);
        savepoint(&mut tx, "SAVEPOINT batch").await?;
        match write(&mut tx, &rows, &marks).await {
            Ok(()) => {
                savepoint(&mut tx, "RELEASE SAVEPOINT batch").await?;
                (seq, prev) = (next, next_hash);
                outcomes.push(Ok(seqs));
            }
            Err(e) => {
                savepoint(&mut tx, "ROLLBACK TO SAVEPOINT batch").await?;
                savepoint(&mut tx, "RELEASE SAVEPOINT batch").await?;
                outcomes.push(Err(e));
            }
        }
    }
    finish(tx, (seq != start).then_some((seq, prev))).await?;
    Ok(outcomes)
}

async fn savepoint(tx: &mut Transaction<'static, Postgres>, sql: &'static str) -> StoreResult<()> {
    sqlx::query(sql)
        .execute(&mut **tx)
        .await
        .map(drop)
        .map_err(|e| {
            db(e);
            StoreError::Unavailable
        })
}

/// `chain.link`, which is the caller's code: a panic in it must not take the journal task, and
/// with it every later append, down. The batch fails instead, like any other failed batch.
fn link(
    chain: &dyn AuditChain,
    prev: &[u8; 32],
    seq: u64,
    event: &AuditEvent,
) -> StoreResult<[u8; 32]> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        chain.link(prev, seq, event)
    }))
    .map_err(|_| {
        tracing::error!("the audit chain panicked");
        StoreError::Unavailable
    })
}

/// Chained records as columns, for one `INSERT … SELECT * FROM UNNEST(…)`.
#[derive(Default)]
struct Rows<'a> {
    seq: Vec<i64>,
    ts: Vec<i64>,
    kind: Vec<&'static str>,
    actor: Vec<&'a str>,
    action: Vec<&'a str>,
    target: Vec<&'a str>,
    ip: Vec<&'a str>,
    result: Vec<&'static str>,
    detail: Vec<&'a str>,
    prev: Vec<Vec<u8>>,
    hash: Vec<Vec<u8>>,
    evidence: Vec<Option<Vec<u8>>>,
}

impl<'a> Rows<'a> {
    /// Chains `batch` after `(seq, prev)` and moves them to its last record. On error nothing
    /// changes.
    fn chain(
        &mut self,
        batch: &'a JournalBatch,
        chain: &dyn AuditChain,
        seq: &mut u64,
        prev: &mut [u8; 32],
    ) -> StoreResult<Vec<u64>> {
        let (mut s, mut p) = (*seq, *prev);
        let mut links = Vec::with_capacity(batch.events.len());
        for event in &batch.events {
            s = s.checked_add(1).ok_or(StoreError::Corrupt)?;
            let hash = link(chain, &p, s, event)?;
            links.push((s, p, hash));
            p = hash;
        }
        let mut seqs = Vec::with_capacity(links.len());
        for (event, (s, p, hash)) in batch.events.iter().zip(links) {
            seqs.push(s);
            self.seq.push(seq_param(s));
            self.ts.push(event.ts_ms);
            self.kind.push(event.actor_kind.as_str());
            self.actor.push(&event.actor_id);
            self.action.push(&event.action);
            self.target.push(&event.target);
            self.ip.push(&event.source_ip);
            self.result.push(event.result.as_str());
            self.detail.push(&event.detail);
            self.prev.push(p.to_vec());
            self.hash.push(hash.to_vec());
            self.evidence
                .push(event.evidence.as_ref().map(|e| e.to_bytes()));
        }
        (*seq, *prev) = (s, p);
        Ok(seqs)
    }
}

/// Read marks reduced to the last one per (machine, secret), which is what upserting them in
/// order would leave: one upsert statement may not touch a row twice.
#[derive(Default)]
struct Marks {
    index: HashMap<(String, String), usize>,
    machines: Vec<String>,
    secrets: Vec<String>,
    versions: Vec<i64>,
}

impl Marks {
    fn add(&mut self, marks: &[ReadMark]) {
        for m in marks {
            let key = (m.machine.to_string(), m.secret.to_string());
            let version = i64::from(m.version);
            match self.index.get(&key) {
                Some(&i) => self.versions[i] = version,
                None => {
                    self.index.insert(key.clone(), self.versions.len());
                    self.machines.push(key.0);
                    self.secrets.push(key.1);
                    self.versions.push(version);
                }
            }
        }
    }
}

/// Inserts the records and upserts the read marks.
async fn write(conn: &mut PgConnection, rows: &Rows<'_>, marks: &Marks) -> StoreResult<()> {
    if !rows.seq.is_empty() {
        // The arrays are zipped row by row.
        sqlx::query(
            "INSERT INTO audit (seq, ts_ms, actor_kind, actor_id, action, target, source_ip, result, detail, prev_hash, hash,
                                evidence)
             SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[],
                                  $7::text[], $8::text[], $9::text[], $10::bytea[], $11::bytea[], $12::bytea[])",
        )
        .bind(&rows.seq)
        .bind(&rows.ts)
        .bind(&rows.kind)
        .bind(&rows.actor)
        .bind(&rows.action)
        .bind(&rows.target)
        .bind(&rows.ip)
        .bind(&rows.result)
        .bind(&rows.detail)
        .bind(&rows.prev)
        .bind(&rows.hash)
        .bind(&rows.evidence)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    if !marks.versions.is_empty() {
        sqlx::query(
            // Re-reading an unchanged secret is the common case; the WHERE leaves its row alone.
            "INSERT INTO read_marks (machine_id, secret_id, version)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[])
             ON CONFLICT (machine_id, secret_id) DO UPDATE SET version = excluded.version
             WHERE read_marks.version <> excluded.version",
        )
        .bind(&marks.machines)
        .bind(&marks.secrets)
        .bind(&marks.versions)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

fn checkpoint(row: &PgRow) -> StoreResult<AuditCheckpoint> {
    let signature: Vec<u8> = col(row, 5)?;
    Ok(AuditCheckpoint {
        first_seq: seq(row, 0)?,
        last_seq: seq(row, 1)?,
        last_hash: digest(row, 2)?,
        prev_checkpoint: digest(row, 3)?,
        segment_sha256: digest(row, 4)?,
        signature: signature
            .try_into()
            .map_err(|_| corrupt("checkpoint signature"))?,
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

/// See `AuditStore::prune_audit`: the checks, the checkpoint and the delete, under the append
/// lock so no append or other prune interleaves. `Ok(false)`: nothing to commit.
async fn prune(conn: &mut PgConnection, cp: &AuditCheckpoint) -> StoreResult<bool> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let same_range = sqlx::query(checkpoint_select!("WHERE last_seq = $1 OR first_seq = $2"))
        .bind(seq_param(cp.last_seq))
        .bind(seq_param(cp.first_seq))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .map(|r| checkpoint(&r))
        .transpose()?;
    if let Some(existing) = same_range {
        return if existing == *cp {
            Ok(false)
        } else {
            Err(StoreError::Conflict(Conflict::Id))
        };
    }
    let newest: Option<i64> = sqlx::query_scalar("SELECT max(last_seq) FROM audit_checkpoints")
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    let next = match newest {
        None => 1,
        Some(last) => u64::try_from(last).map_err(|_| corrupt("checkpoint seq"))? + 1,
    };
    if cp.first_seq != next || cp.last_seq < cp.first_seq {
        return Err(StoreError::Conflict(Conflict::Id));
    }
    let hash = sqlx::query("SELECT hash FROM audit WHERE seq = $1")
        .bind(seq_param(cp.last_seq))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound)?;
    if digest(&hash, 0)? != cp.last_hash {
        return Err(StoreError::Conflict(Conflict::Id));
    }
    sqlx::query(
        "INSERT INTO audit_checkpoints
             (first_seq, last_seq, last_hash, prev_checkpoint, segment_sha256, signature)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(seq_param(cp.first_seq))
    .bind(seq_param(cp.last_seq))
    .bind(cp.last_hash.as_slice())
    .bind(cp.prev_checkpoint.as_slice())
    .bind(cp.segment_sha256.as_slice())
    .bind(cp.signature.as_slice())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query("DELETE FROM audit WHERE seq <= $1")
        .bind(seq_param(cp.last_seq))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(true)
}

/// Chains one change's record inside the change's own transaction (see `PgStore::commit`).
///
/// It takes the append lock that the journal takes, as late as it can (just before commit), so
/// concurrent changes and journal groups still form one gapless chain and the lock is held for
/// as short a time as an ordinary group's.
pub(crate) async fn append_record(
    tx: &mut Transaction<'static, Postgres>,
    record: &Audited,
) -> StoreResult<()> {
    // Stands for any append failure after the change's statements: the change must roll back.
    fail::fail_point!("audit_append_fail", |_| Err(StoreError::Unavailable));
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    let (start, start_hash) = read_head(tx).await?;
    let (mut seq, mut prev) = (start, start_hash);
    let batch = JournalBatch {
        events: vec![record.event.clone()],
        read_marks: Vec::new(),
    };
    let mut rows = Rows::default();
    rows.chain(&batch, record.chain.as_ref(), &mut seq, &mut prev)?;
    write(tx, &rows, &Marks::default()).await?;
    move_head(tx, seq, prev).await
}

#[async_trait]
impl AuditStore for PgStore {
    fn audited(&self, record: Audited) -> Box<dyn signet_store::Store> {
        Box::new(self.with_record(record))
    }

    async fn probe_write(&self) -> StoreResult<()> {
        // Assigning a transaction id is what a read-only or recovering server refuses, and
        // committing it waits for the WAL flush the append needs; nothing is written.
        let mut tx = self.pool().begin().await.map_err(db)?;
        sqlx::query("SELECT txid_current()")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn append_journal(
        &self,
        batch: JournalBatch,
        chain: Arc<dyn AuditChain>,
    ) -> StoreResult<Vec<u64>> {
        self.journal.append(batch, chain).await
    }

    async fn audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        // A filter on actor or action gets a statement where it is a plain equality, so the
        // planner walks that column's index (which ends in `seq`) instead of the whole log.
        let sql = match (&filter.actor_id, &filter.action) {
            (Some(_), _) => record_select!(
                "actor_id = $2 AND seq < $1 AND ($3::text IS NULL OR action = $3)
                 AND ($4::text IS NULL OR result = $4)
                 AND ($6::int8 IS NULL OR ts_ms >= $6) AND ($7::int8 IS NULL OR ts_ms < $7)",
                " ORDER BY seq DESC LIMIT $5"
            ),
            (None, Some(_)) => record_select!(
                "action = $3 AND seq < $1 AND ($2::text IS NULL OR actor_id = $2)
                 AND ($4::text IS NULL OR result = $4)
                 AND ($6::int8 IS NULL OR ts_ms >= $6) AND ($7::int8 IS NULL OR ts_ms < $7)",
                " ORDER BY seq DESC LIMIT $5"
            ),
            (None, None) => record_select!(
                "seq < $1 AND ($2::text IS NULL OR actor_id = $2) AND ($3::text IS NULL OR action = $3)
                 AND ($4::text IS NULL OR result = $4)
                 AND ($6::int8 IS NULL OR ts_ms >= $6) AND ($7::int8 IS NULL OR ts_ms < $7)",
                " ORDER BY seq DESC LIMIT $5"
            ),
        };
        sqlx::query(sql)
            .bind(filter.before_seq.map_or(i64::MAX, seq_param))
            .bind(filter.actor_id.as_deref())
            .bind(filter.action.as_deref())
            .bind(filter.result.map(AuditResult::as_str))
            .bind(i64::from(filter.limit.min(MAX_LIMIT)))
            .bind(filter.since_ms)
            .bind(filter.until_ms)
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .iter()
            .map(record)
            .collect()
    }

    async fn audit_range(&self, from: u64, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        sqlx::query(record_select!("seq >= $1", " ORDER BY seq LIMIT $2"))
            .bind(seq_param(from))
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .iter()
            .map(record)
            .collect()
    }

    async fn audit_checkpoints(&self) -> StoreResult<Vec<AuditCheckpoint>> {
        sqlx::query(checkpoint_select!("ORDER BY last_seq"))
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .iter()
            .map(checkpoint)
            .collect()
    }

    async fn prune_audit(&self, checkpoint: &AuditCheckpoint) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if !prune(&mut tx, checkpoint).await? {
            // Nothing changed: no record to append, nothing to commit.
            return Ok(false);
        }
        self.commit(tx).await.map(|()| true)
    }

    async fn audit_head(&self) -> StoreResult<Option<AuditHead>> {
        sqlx::query("SELECT seq, hash FROM audit_head WHERE singleton = 1")
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| head(&r))
            .transpose()
    }
}
