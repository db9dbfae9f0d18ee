//! The replay cache: an in-memory set in front of the durable `nonces` table.
//!
//! The set decides (an insert-if-absent costs well under a microsecond); the table only lets the
//! set survive a restart. Fresh pairs are buffered and written by one flush job on the writer's
//! queue, not awaited: the request goes on meanwhile, and its audit record is queued behind the
//! flush that carries its nonce. One flush per group commit, rather than one job per nonce, halves
//! the writer's work on the signed-read path.
//!
//! Start-up does not wait for the stored pairs: a thread loads them into the set while the
//! server starts, and a signed request that arrives first waits for that load (about a second
//! at a full window at full rate) before its nonce is judged, so no replay is ever admitted
//! against a partial set. See `NonceSet::open`.
//!
//! A pair stays in the set until a sweep forgets it, even past its expiry. The store has no
//! clock of its own: judging expiry by the wall clock here would admit replays whenever the
//! caller's clock (which stamps `expires_ms` and drives the sweeps) runs behind it. The trait
//! allows this: an expired pair *may* be forgotten, and a replay of one fails the caller's
//! timestamp window anyway.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dashmap::{DashMap, Entry};
use rusqlite::{Connection, Transaction, params};
use sha2::{Digest, Sha256};
use signet_store::{AccessStamp, NonceStore, StoreError, StoreResult, VaultStore};

use crate::SqliteStore;
use crate::error::db;
use crate::reader::ReaderPool;
use crate::statement::exec;

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

/// Every (principal, nonce) pair seen and not yet swept, with the second (rounded up) from which
/// it may be forgotten. Whole seconds in a `u32` keep an entry at 20 bytes (the window holds
/// millions at full rate); rounding up only keeps a pair longer, never forgets one early.
pub(crate) struct NonceSet {
    seen: DashMap<PairKey, u32>,
    /// Whether the stored pairs are all in `seen` yet (see [`NonceSet::open`]).
    loaded: tokio::sync::watch::Receiver<Load>,
    /// `loaded` once it is `Done`: the hot path's check without touching the channel.
    done: AtomicBool,
    /// Pairs admitted but not yet handed to a flush job.
    pending: Arc<Mutex<Pending>>,
    /// Serialises "buffer, and enqueue a flush if none is queued", so that no caller can return
    /// (and queue its audit record) before the flush carrying its pair is on the queue.
    enqueue: tokio::sync::Mutex<()>,
}

/// How far the start-up load of the stored pairs has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    Running,
    Done,
    /// The table could not be read: nothing is admitted (fail closed).
    Failed,
}

/// The write buffer.
#[derive(Default)]
struct Pending {
    rows: Vec<(String, String, i64)>,
    /// A flush job is on the writer's queue and has not yet taken `rows`.
    flush_queued: bool,
}

/// `expires_ms` as the whole second from which a pair may be forgotten, rounded up. Times past
/// 2106 are kept for good; times before 1970 are already past.
fn expiry_secs(expires_ms: i64) -> u32 {
    let secs = expires_ms.max(0).div_euclid(1000) + i64::from(expires_ms.rem_euclid(1000) != 0);
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// Adds every stored pair to `seen`, keeping a later expiry where a pair is there already.
fn load_into(seen: &DashMap<PairKey, u32>, conn: &Connection) -> StoreResult<usize> {
    // Borrowed text, hashed in place: no allocation per row. At a full window (millions of
    // rows) the row loop is the whole cost of the load.
    let mut stmt = conn
        .prepare("SELECT principal, nonce, expires_ms FROM nonces")
        .map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    let mut count = 0usize;
    while let Some(r) = rows.next().map_err(db)? {
        let text = |i| -> StoreResult<&str> {
            r.get_ref(i)
                .map_err(db)?
                .as_str()
                .map_err(|_| StoreError::Corrupt)
        };
        let (principal, nonce) = (text(0)?, text(1)?);
        let expires: i64 = r.get(2).map_err(db)?;
        let secs = expiry_secs(expires);
        seen.entry(pair_key(principal, nonce))
            .and_modify(|e| *e = (*e).max(secs))
            .or_insert(secs);
        count += 1;
    }
    Ok(count)
}

/// An estimate of the table's rows, from its rowid range (two index seeks, where `count(*)`
/// would scan the table): rows are appended in rowid order and swept oldest first.
fn estimate_rows(conn: &Connection) -> usize {
    let range = conn.query_row(
        "SELECT coalesce(max(rowid) - min(rowid) + 1, 0) FROM nonces",
        [],
        |r| r.get::<_, i64>(0),
    );
    // A bad estimate only costs a resize; the cap keeps a strange rowid range from reserving
    // gigabytes.
    range.map_or(0, |n| usize::try_from(n.clamp(0, 1 << 26)).unwrap_or(0))
}

impl NonceSet {
    /// An empty set that fills itself from the table on a thread of its own, reading through
    /// `readers`. Start-up does not wait for it: at a full window (millions of rows) the load
    /// takes about a second. Until it is done, [`NonceStore::remember_nonce`] waits for it
    /// before deciding, so no pair is ever judged against a partial set.
    pub(crate) fn open(readers: Arc<ReaderPool>) -> StoreResult<Arc<Self>> {
        let (tx, loaded) = tokio::sync::watch::channel(Load::Running);
        // Sized up front, so the load does not rehash millions of entries as it goes.
        let estimate = readers.read(|conn| Ok(estimate_rows(conn)))?;
        let set = Arc::new(Self {
            seen: DashMap::with_capacity(estimate),
            loaded,
            done: AtomicBool::new(false),
            pending: Arc::default(),
            enqueue: tokio::sync::Mutex::new(()),
        });
        let filling = Arc::clone(&set);
        std::thread::Builder::new()
            .name("signet-nonce-load".into())
            .spawn(move || {
                let result = readers.read(|conn| load_into(&filling.seen, conn));
                let state = match result {
                    Ok(rows) => {
                        tracing::debug!(rows, "nonce set loaded");
                        filling.done.store(true, Ordering::Release);
                        Load::Done
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot load the nonce set; refusing signed requests");
                        Load::Failed
                    }
                };
                // No receiver left means the store is gone; nobody is waiting.
                let _ = tx.send(state);
            })
            .map_err(|e| {
                tracing::error!(error = %e, "cannot start the nonce set's loader");
                StoreError::Unavailable
            })?;
        Ok(set)
    }

    /// Waits until the stored pairs are all in the set.
    pub(crate) async fn ready(&self) -> StoreResult<()> {
        if self.done.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut loaded = self.loaded.clone();
        match loaded.wait_for(|s| *s != Load::Running).await.map(|s| *s) {
            Ok(Load::Done) => Ok(()),
            // The loader failed, or died without a word: fail closed.
            Ok(Load::Running | Load::Failed) | Err(_) => Err(StoreError::Unavailable),
        }
    }

    /// Adds every stored pair to the set, keeping the pairs it already holds. Used after an
    /// import has filled the table behind the set's back.
    pub(crate) async fn learn(&self, readers: &ReaderPool) -> StoreResult<()> {
        self.ready().await?;
        readers.read(|conn| load_into(&self.seen, conn).map(drop))
    }

    /// Records the pair and returns `true` if it was not in the set.
    fn admit(&self, principal: &str, nonce: &str, expires_ms: i64) -> bool {
        let key = pair_key(principal, nonce);
        // `entry` holds the shard lock, so of two racing callers exactly one finds it vacant.
        match self.seen.entry(key) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(expiry_secs(expires_ms));
                true
            }
        }
    }

    /// Forgets the pairs that expired before `now_ms`, never one before its expiry.
    fn sweep(&self, now_ms: i64) {
        self.seen
            .retain(|_, secs| i64::from(*secs).saturating_mul(1000) >= now_ms);
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
        self.nonces.ready().await?;
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
        // A sweep racing the load could let the loader put back a pair it forgot; that pair
        // would only be kept until the next sweep, but waiting is simpler to reason about.
        self.nonces.ready().await?;
        self.nonces.sweep(now_ms);
        let removed = self
            .write(move |tx| exec(tx, "DELETE FROM nonces WHERE expires_ms < ?1", [now_ms]))
            .await?;
        Ok(u64::try_from(removed).unwrap_or(u64::MAX))
    }
}
