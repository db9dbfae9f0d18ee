//! The hash-chained audit log and the read marks that travel with it, group-committed.
//!
//! Appends from this process go through one journal task. It takes whatever is queued (up to
//! [`MAX_GROUP`] batches), opens one transaction, takes the advisory lock [`AUDIT_LOCK`] that
//! every appender in every process takes, reads the head, and chains each batch after it inside
//! its own savepoint, so a batch that fails rolls back alone. Then it moves the head and commits
//! once. Callers are answered only after the commit returned; if it failed, every caller in the
//! group gets [`StoreError::Unavailable`] and nothing was written.
//!
//! The lock is taken before the head is read and held until commit, so two replicas appending
//! at once are serialised and form one gapless chain. A row lock on `audit_head` would not do:
//! before the first record there is no row to lock.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use signet_store::{
    ActorKind, AuditChain, AuditEvent, AuditFilter, AuditHead, AuditRecord, AuditResult,
    AuditStore, JournalBatch, StoreError, StoreResult,
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

/// The most records one listing returns, whatever the filter asks for.
const MAX_LIMIT: u32 = 1000;

macro_rules! record_select {
    ($where:literal, $order:literal) => {
        concat!(
            "SELECT seq, ts_ms, actor_kind, actor_id, action, target, source_ip, result, detail, prev_hash, hash
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
        },
        prev_hash: digest(row, 9)?,
        hash: digest(row, 10)?,
    })
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
    pub(crate) fn spawn(pool: PgPool) -> Journal {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(pool, rx));
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

async fn run(pool: PgPool, mut rx: mpsc::Receiver<Append>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.recv().await {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(more) => group.push(more),
                Err(_) => break,
            }
        }
        let outcomes = write_group(&pool, &group).await;
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

/// Writes a group in one transaction. `Err` means nothing was written and every caller gets
/// that error; `Ok` holds each caller's own result.
async fn write_group(pool: &PgPool, group: &[Append]) -> StoreResult<Vec<StoreResult<Vec<u64>>>> {
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let current = sqlx::query("SELECT seq, hash FROM audit_head WHERE singleton = 1")
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .map(|r| head(&r))
        .transpose()?;
    let (mut seq, mut prev) = match current {
        Some(h) => (h.seq, h.hash),
        None => {
            // No head is only valid for an empty log; chaining from zero onto existing records
            // would hide that the head was removed.
            let any = sqlx::query("SELECT 1 FROM audit LIMIT 1")
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            if any.is_some() {
                return Err(corrupt("audit head"));
            }
            (0, [0; 32])
        }
    };
    let start = seq;
    let mut outcomes = Vec::with_capacity(group.len());
    for a in group {
        if a.batch.events.is_empty() && a.batch.read_marks.is_empty() {
            outcomes.push(Ok(Vec::new()));
            continue;
        }
        savepoint(&mut tx, "SAVEPOINT batch").await?;
        match append(&mut tx, &a.batch, a.chain.as_ref(), seq, prev).await {
            Ok((seqs, last)) => {
                savepoint(&mut tx, "RELEASE SAVEPOINT batch").await?;
                if let Some((s, h)) = last {
                    (seq, prev) = (s, h);
                }
                outcomes.push(Ok(seqs));
            }
            Err(e) => {
                savepoint(&mut tx, "ROLLBACK TO SAVEPOINT batch").await?;
                savepoint(&mut tx, "RELEASE SAVEPOINT batch").await?;
                outcomes.push(Err(e));
            }
        }
    }
    if seq != start {
        sqlx::query(
            "INSERT INTO audit_head (singleton, seq, hash) VALUES (1, $1, $2)
             ON CONFLICT (singleton) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        )
        .bind(seq_param(seq))
        .bind(prev.as_slice())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    tx.commit().await.map_err(|e| {
        db(e);
        StoreError::Unavailable
    })?;
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

/// The new link after a batch: its sequence number and hash.
type Link = Option<(u64, [u8; 32])>;

/// Chains and inserts one batch after `(seq, prev)`, and upserts its read marks.
async fn append(
    conn: &mut PgConnection,
    batch: &JournalBatch,
    chain: &dyn AuditChain,
    mut seq: u64,
    mut prev: [u8; 32],
) -> StoreResult<(Vec<u64>, Link)> {
    let n = batch.events.len();
    let mut seqs = Vec::with_capacity(n);
    let (mut seq_col, mut ts, mut kind, mut actor, mut action, mut target, mut ip, mut result) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut detail, mut prevs, mut hashes) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for event in &batch.events {
        seq = seq.checked_add(1).ok_or(StoreError::Corrupt)?;
        let hash = link(chain, &prev, seq, event)?;
        seqs.push(seq);
        seq_col.push(seq_param(seq));
        ts.push(event.ts_ms);
        kind.push(event.actor_kind.as_str());
        actor.push(event.actor_id.as_str());
        action.push(event.action.as_str());
        target.push(event.target.as_str());
        ip.push(event.source_ip.as_str());
        result.push(event.result.as_str());
        detail.push(event.detail.as_str());
        prevs.push(prev.to_vec());
        hashes.push(hash.to_vec());
        prev = hash;
    }
    if n > 0 {
        // One statement for the whole batch: the arrays are zipped row by row.
        sqlx::query(
            "INSERT INTO audit (seq, ts_ms, actor_kind, actor_id, action, target, source_ip, result, detail, prev_hash, hash)
             SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[],
                                  $7::text[], $8::text[], $9::text[], $10::bytea[], $11::bytea[])",
        )
        .bind(seq_col)
        .bind(ts)
        .bind(kind)
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(ip)
        .bind(result)
        .bind(detail)
        .bind(prevs)
        .bind(hashes)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    if !batch.read_marks.is_empty() {
        // One upsert may not touch a row twice, so a batch's marks are reduced to the last one
        // per (machine, secret), which is what applying them in order would leave.
        let mut last: HashMap<(String, String), i64> = HashMap::new();
        let mut order = Vec::new();
        for m in &batch.read_marks {
            let key = (m.machine.to_string(), m.secret.to_string());
            if last.insert(key.clone(), i64::from(m.version)).is_none() {
                order.push(key);
            }
        }
        let mut machines = Vec::with_capacity(order.len());
        let mut secrets = Vec::with_capacity(order.len());
        let mut versions = Vec::with_capacity(order.len());
        for key in order {
            versions.push(last.get(&key).copied().unwrap_or_default());
            machines.push(key.0);
            secrets.push(key.1);
        }
        sqlx::query(
            // Re-reading an unchanged secret is the common case; the WHERE leaves its row alone.
            "INSERT INTO read_marks (machine_id, secret_id, version)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[])
             ON CONFLICT (machine_id, secret_id) DO UPDATE SET version = excluded.version
             WHERE read_marks.version <> excluded.version",
        )
        .bind(machines)
        .bind(secrets)
        .bind(versions)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    let last = seqs.last().map(|s| (*s, prev));
    Ok((seqs, last))
}

#[async_trait]
impl AuditStore for PgStore {
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

    async fn audit_head(&self) -> StoreResult<Option<AuditHead>> {
        sqlx::query("SELECT seq, hash FROM audit_head WHERE singleton = 1")
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| head(&r))
            .transpose()
    }
}
