//! The replay cache: an in-memory set in front of the durable `nonces` table.
//!
//! The set decides (an insert-if-absent costs well under a microsecond); the table only lets the
//! set survive a restart. Fresh pairs are buffered and written by one flush job on the writer's
//! queue, not awaited: the request goes on meanwhile, and its audit record is queued behind the
//! flush that carries its nonce. One flush per group commit, rather than one job per nonce, halves
//! the writer's work on the signed-read path.
//!
//! A pair stays in the set until a sweep forgets it, even past its expiry. The store has no
//! clock of its own: judging expiry by the wall clock here would admit replays whenever the
//! caller's clock (which stamps `expires_ms` and drives the sweeps) runs behind it. The trait
//! allows this: an expired pair *may* be forgotten, and a replay of one fails the caller's
//! timestamp window anyway.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dashmap::{DashMap, Entry};
use rusqlite::{Connection, Transaction, params};
use sha2::{Digest, Sha256};
use signet_store::{AccessStamp, NonceStore, StoreResult, VaultStore};

use crate::SqliteStore;
use crate::row::col;
use crate::statement::{all, exec};

/// A pair's key in the set: the first 128 bits of SHA-256 over `principal NUL nonce`. At 10,000
/// requests a second the set holds about three million pairs; two heap strings per pair would
/// cost several hundred megabytes, 16 bytes cost under a hundred. A false "seen" needs a 128-bit
/// collision between live pairs, which is out of reach.
type PairKey = [u8; 16];

fn pair_key(principal: &str, nonce: &str) -> PairKey {
    let mut h = Sha256::new();
    h.update(principal.as_bytes());
    h.update([0u8]);
    h.update(nonce.as_bytes());
    let digest = h.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// Every (principal, nonce) pair seen and not yet swept, with the time it may be forgotten.
pub(crate) struct NonceSet {
    seen: DashMap<PairKey, i64>,
    /// Pairs admitted but not yet handed to a flush job.
    pending: Arc<Mutex<Pending>>,
    /// Serialises "buffer, and enqueue a flush if none is queued", so that no caller can return
    /// (and queue its audit record) before the flush carrying its pair is on the queue.
    enqueue: tokio::sync::Mutex<()>,
}

/// The write buffer.
#[derive(Default)]
struct Pending {
    rows: Vec<(String, String, i64)>,
    /// A flush job is on the writer's queue and has not yet taken `rows`.
    flush_queued: bool,
}

impl NonceSet {
    /// Loads every stored pair. Sweeps keep the table to about one clock window of traffic.
    pub(crate) fn load(conn: &Connection) -> StoreResult<Self> {
        let rows = all(
            conn,
            "SELECT principal, nonce, expires_ms FROM nonces",
            [],
            |r| {
                let (principal, nonce): (String, String) = (col(r, 0)?, col(r, 1)?);
                Ok((pair_key(&principal, &nonce), col(r, 2)?))
            },
        )?;
        Ok(Self {
            seen: rows.into_iter().collect(),
            pending: Arc::default(),
            enqueue: tokio::sync::Mutex::new(()),
        })
    }

    /// Adds every stored pair to the set, keeping the pairs it already holds. Used after an
    /// import has filled the table behind the set's back.
    pub(crate) fn learn(&self, conn: &Connection) -> StoreResult<()> {
        let loaded = Self::load(conn)?;
        for (key, expires_ms) in loaded.seen {
            self.seen
                .entry(key)
                .and_modify(|e| *e = (*e).max(expires_ms))
                .or_insert(expires_ms);
        }
        Ok(())
    }

    /// Records the pair and returns `true` if it was not in the set.
    fn admit(&self, principal: &str, nonce: &str, expires_ms: i64) -> bool {
        let key = pair_key(principal, nonce);
        // `entry` holds the shard lock, so of two racing callers exactly one finds it vacant.
        match self.seen.entry(key) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(expires_ms);
                true
            }
        }
    }

    /// Forgets the pairs that expired before `now_ms`, never one before its expiry.
    fn sweep(&self, now_ms: i64) {
        self.seen.retain(|_, expires_ms| *expires_ms >= now_ms);
    }
}

fn persist(tx: &Transaction<'_>, principal: &str, nonce: &str, expires_ms: i64) -> StoreResult<()> {
    exec(
        tx,
        "INSERT INTO nonces (principal, nonce, expires_ms) VALUES (?1, ?2, ?3)",
        params![principal, nonce, expires_ms],
    )
    .map(drop)
}

#[async_trait]
impl NonceStore for SqliteStore {
    async fn remember_nonce(
        &self,
        principal: &str,
        nonce: &str,
        expires_ms: i64,
    ) -> StoreResult<bool> {
        if !self.nonces.admit(principal, nonce, expires_ms) {
            return Ok(false);
        }
        // Invariant: the pair is durable no later than any audit record appended after this
        // call returns. Either a flush job is already queued and has not yet taken the buffer
        // (it will take this pair when it runs, ahead of anything queued after now), or this
        // call queues one before returning. The `enqueue` lock keeps a second caller from
        // returning between the first caller's buffering and its enqueue. Waiting for the commit
        // here would add an fsync to every request for nothing. If the write fails, the set
        // still holds the pair, so this process keeps refusing it; the writer logs the failure.
        let _turn = self.nonces.enqueue.lock().await;
        let needs_flush = {
            // A poisoned lock only means a flush panicked mid-take; the buffer is still a Vec.
            let mut p = self
                .nonces
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            p.rows
                .push((principal.to_owned(), nonce.to_owned(), expires_ms));
            !std::mem::replace(&mut p.flush_queued, true)
        };
        if needs_flush {
            let pending = self.nonces.pending.clone();
            let submitted = self
                .writer
                .submit(move |tx| {
                    let rows = {
                        let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
                        p.flush_queued = false;
                        std::mem::take(&mut p.rows)
                    };
                    rows.iter().try_for_each(|(p, n, e)| persist(tx, p, n, *e))
                })
                .await;
            if let Err(e) = submitted {
                // The writer is gone: no flush is queued after all, and the caller fails closed.
                self.nonces
                    .pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .flush_queued = false;
                return Err(e);
            }
        }
        Ok(true)
    }

    async fn remember_nonce_at_stamp(
        &self,
        principal: &str,
        nonce: &str,
        expires_ms: i64,
    ) -> StoreResult<Option<AccessStamp>> {
        // The pair is decided in memory and written behind, so there is no statement to fold the
        // stamp into: it costs one indexed read of a one-row table on a reader connection.
        if !self.remember_nonce(principal, nonce, expires_ms).await? {
            return Ok(None);
        }
        self.access_stamp().await.map(Some)
    }

    async fn sweep_nonces(&self, now_ms: i64) -> StoreResult<u64> {
        self.nonces.sweep(now_ms);
        let removed = self
            .write(move |tx| exec(tx, "DELETE FROM nonces WHERE expires_ms < ?1", [now_ms]))
            .await?;
        Ok(u64::try_from(removed).unwrap_or(u64::MAX))
    }
}
