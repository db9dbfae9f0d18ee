//! Single-use nonces, in a table every replica shares.
//!
//! A pair is new exactly when its `INSERT … ON CONFLICT DO NOTHING` inserts a row. PostgreSQL
//! makes a second inserter of the same key wait for the first to commit, then skips, so of any
//! number of racing requests on any replicas exactly one is admitted. The insert commits before
//! the call returns, so every replica refuses the pair from then on.
//!
//! The commit does not wait for its WAL flush (`synchronous_commit = off` on the nonce pool),
//! which halves the fsyncs on the signed-read path. It is still durable before any audit record
//! appended after it: PostgreSQL flushes WAL in order, and the audit commit waits for its own
//! flush, which covers the nonce's earlier commit record. If the database crashes in between, the
//! audit record is lost with the nonce, so the request was never answered and a replay of it is
//! no more than a retry.
//!
//! As in the SQLite backend, a pair stays until a sweep forgets it, even past its expiry: the
//! store has no clock of its own, and judging expiry by the database's clock would admit replays
//! whenever the caller's clock (which stamps `expires_ms` and drives the sweeps) runs behind it.
//!
//! Concurrent requests share one statement: a batcher task takes every pair queued while the
//! previous statement ran and inserts them with one `INSERT … SELECT FROM unnest(…)`, which also
//! returns the access stamp (`AccessStamp`), read by the statement's own snapshot, taken after
//! every request in the batch arrived. A request waits for its batch's commit as before, so
//! the guarantees are the same as one statement each; the cost per read is a fraction of a
//! statement (and of the pool's acquire and release). Pairs go in sorted, so two replicas'
//! batches that share pairs (a replay sent to both) lock them in one order and cannot
//! deadlock; a pair twice in one batch is admitted once, for the first to ask.
//!
//! For the metrics scrape the batcher keeps a count of the table's rows without asking the
//! database: each sweep sets it to what the table holds after the sweep, and every pair this
//! process inserts adds one. With one replica it is exact; with several, the others' inserts
//! show from the next sweep (a minute at most).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use signet_store::{AccessStamp, NonceStore, StoreError, StoreResult};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::PgStore;
use crate::error::db;

/// Most pairs in one statement.
const MAX_BATCH: usize = 512;
/// Pairs that may wait for the batcher before callers wait to queue.
const QUEUE_DEPTH: usize = 4096;

/// One caller's pair, and where its answer goes: `Some(stamp)` if new, `None` if seen.
struct Pending {
    principal: String,
    nonce: String,
    expires_ms: i64,
    reply: oneshot::Sender<StoreResult<Option<AccessStamp>>>,
}

/// The sending side of the nonce batcher's queue. Dropping it stops the task.
pub(crate) struct NonceBatcher {
    queue: mpsc::Sender<Pending>,
    /// The table's rows as of the last sweep, plus the pairs inserted here since.
    held: Arc<AtomicU64>,
}

impl NonceBatcher {
    pub(crate) fn spawn(pool: PgPool) -> NonceBatcher {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        let held = Arc::new(AtomicU64::new(0));
        tokio::spawn(run(pool, rx, Arc::clone(&held)));
        NonceBatcher { queue, held }
    }

    /// The nonce table's rows, as the module docs count them.
    pub(crate) fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    async fn remember(
        &self,
        principal: &str,
        nonce: &str,
        expires_ms: i64,
    ) -> StoreResult<Option<AccessStamp>> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending {
                principal: principal.to_owned(),
                nonce: nonce.to_owned(),
                expires_ms,
                reply,
            })
            .await
            .map_err(|_| {
                tracing::error!("the nonce batcher has stopped");
                StoreError::Unavailable
            })?;
        answer.await.map_err(|_| StoreError::Unavailable)?
    }
}

async fn run(pool: PgPool, mut rx: mpsc::Receiver<Pending>, held: Arc<AtomicU64>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        batch.sort_by(|a, b| (&a.principal, &a.nonce).cmp(&(&b.principal, &b.nonce)));
        let mut admitted = insert(&pool, &batch).await;
        if let Ok((_, inserted)) = &admitted {
            held.fetch_add(inserted.len() as u64, Ordering::Relaxed);
        }
        for p in batch.drain(..) {
            let answer = match &mut admitted {
                // Removed on first use: a pair twice in one batch is new only for the first.
                Ok((stamp, inserted)) => {
                    Ok(inserted.remove(&(p.principal, p.nonce)).then_some(*stamp))
                }
                Err(e) => Err(e.clone()),
            };
            // The caller may have stopped waiting; the insert stands either way.
            let _ = p.reply.send(answer);
        }
    }
}

/// Inserts the batch; returns the stamp and the pairs this statement inserted.
async fn insert(
    pool: &PgPool,
    batch: &[Pending],
) -> StoreResult<(AccessStamp, HashSet<(String, String)>)> {
    let principals: Vec<&str> = batch.iter().map(|p| p.principal.as_str()).collect();
    let nonces: Vec<&str> = batch.iter().map(|p| p.nonce.as_str()).collect();
    let expiries: Vec<i64> = batch.iter().map(|p| p.expires_ms).collect();
    let rows: Vec<(String, String, Option<i64>)> = sqlx::query_as(
        "INSERT INTO nonces (principal, nonce, expires_ms)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
         ON CONFLICT (principal, nonce) DO NOTHING
         RETURNING principal, nonce, (SELECT stamp FROM access_stamp WHERE singleton = 1)",
    )
    .bind(&principals)
    .bind(&nonces)
    .bind(&expiries)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    let stamp = AccessStamp(rows.first().and_then(|r| r.2).unwrap_or_default());
    Ok((stamp, rows.into_iter().map(|(p, n, _)| (p, n)).collect()))
}

#[async_trait]
impl NonceStore for PgStore {
    async fn remember_nonce(
        &self,
        principal: &str,
        nonce: &str,
        expires_ms: i64,
    ) -> StoreResult<bool> {
        self.nonce_batcher()
            .remember(principal, nonce, expires_ms)
            .await
            .map(|admitted| admitted.is_some())
    }

    async fn remember_nonce_at_stamp(
        &self,
        principal: &str,
        nonce: &str,
        expires_ms: i64,
    ) -> StoreResult<Option<AccessStamp>> {
        self.nonce_batcher()
            .remember(principal, nonce, expires_ms)
            .await
    }

    async fn sweep_nonces(&self, now_ms: i64) -> StoreResult<u64> {
        // One statement deletes and counts: both subqueries read the snapshot from before the
        // delete, so what stays is the table's rows less the deleted ones.
        let (deleted, before): (i64, i64) = sqlx::query_as(
            "WITH gone AS (DELETE FROM nonces WHERE expires_ms < $1 RETURNING 1)
             SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM nonces)",
        )
        .bind(now_ms)
        .fetch_one(self.pool())
        .await
        .map_err(db)?;
        let deleted = u64::try_from(deleted).unwrap_or(0);
        let before = u64::try_from(before).unwrap_or(0);
        self.nonce_batcher()
            .held
            .store(before.saturating_sub(deleted), Ordering::Relaxed);
        Ok(deleted)
    }
}
