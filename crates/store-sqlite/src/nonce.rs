//! The replay cache: an in-memory set in front of the durable `nonces` table.
//!
//! The set decides (an insert-if-absent costs well under a microsecond); the table only lets the
//! set survive a restart. Fresh pairs are buffered and written by one flush job on the writer's
//! queue, not awaited: the request goes on meanwhile, and its audit record is queued behind the
//! flush that carries its nonce. One flush per group commit, rather than one job per nonce, halves
//! the writer's work on the signed-read path.
//!
//! # Start-up
//!
//! Nothing waits for the stored pairs, not `/readyz` and not the first requests. A thread loads
//! them into the set (keys read from the rows, no hashing: about a second at a full window at
//! full rate). Until it is done, a request first makes sure that the stored pairs *with its
//! expiry* are in the set, loading that one expiry's rows through the `nonces_expiry` index if no
//! request has yet (one load per expiry, shared by racing requests), and then the set decides as
//! always. Most requests load nothing: a fresh request's expiry lies past every stored one (it is
//! its signed timestamp plus the window, and the server was down meanwhile), which one `max` read
//! at open tells. Only requests signed before the restart, replays among them, load an expiry,
//! which costs a few milliseconds at full rate. Why no replay gets through meanwhile:
//!
//! * A pair stored by an earlier process was committed before this one opened the file. A request
//!   with its expiry either finds that expiry already loaded (the load finished before the cell
//!   says so) or loads it itself before deciding; one past the newest stored expiry has no stored
//!   pair to find.
//! * A pair admitted by this process is in the set from the moment it is admitted, before its row
//!   is buffered, flushed or committed; the set answers for it, so a pair in the buffer or in a
//!   flush not yet committed is never judged by the table alone.
//! * Two requests with one new pair: whatever they load, the admission itself is an
//!   insert-if-absent under the set's shard lock, so exactly one wins.
//! * The loader against a request: both only add stored pairs (keeping the later expiry), so what
//!   one adds the other cannot take away, and a pair loaded twice is one entry.
//! * The hot path stops loading expiries only after reading `done` (acquire), which the loader
//!   sets (release) after its last insert: a set that is consulted alone is complete.
//! * A sweep waits for the load to finish, so it never races it: otherwise a load could put back
//!   a pair the sweep had just forgotten (only until the next sweep, but there is no need).
//! * If a load fails, the request it serves fails (closed); if the start-up load fails, every
//!   signed request and `/readyz` fail from then on.
//!
//! Until the load is done a pair counts as seen with the expiry it was stored with. Callers derive
//! `expires_ms` from the request's *signed* timestamp (`core::auth`), so a replay carries the
//! expiry of the original and is refused. The same nonce under another signed timestamp is a new
//! request its key holder signed, not a replay; it may be admitted while the load runs (and is
//! refused once the set holds the stored pair).
//!
//! # Expiry
//!
//! A pair stays in the set until a sweep forgets it, even past its expiry. The store has no
//! clock of its own: judging expiry by the wall clock here would admit replays whenever the
//! caller's clock (which stamps `expires_ms` and drives the sweeps) runs behind it. The trait
//! allows this: an expired pair *may* be forgotten, and a replay of one fails the caller's
//! timestamp window anyway.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dashmap::{DashMap, Entry};
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, Transaction, params};
use sha2::{Digest, Sha256};
use signet_store::{AccessStamp, NonceStore, StoreError, StoreResult, VaultStore};

use crate::SqliteStore;
use crate::error::db;
use crate::reader::ReaderPool;
use crate::statement::exec;

/// Most expired pairs one write job deletes (see `sweep_nonces`): a few milliseconds of the
/// writer's time.
const SWEEP_CHUNK: u16 = 2_000;

/// A pair's key in the set and in the table: the first 128 bits of SHA-256 over
/// `principal NUL nonce`. At 10,000 requests a second the set holds about three million pairs;
/// two heap strings per pair would cost several hundred megabytes, 16 bytes cost under a hundred.
/// A false "seen" needs a 128-bit collision between live pairs, which is out of reach.
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

/// Registers `signet_pair_key(principal, nonce)` on `conn`: [`pair_key`] for SQL, with which
/// migration 0023 keys the rows stored before it and an import keys the rows it copies (the
/// key is not part of the logical table that travels between backends).
pub(crate) fn register_key_function(conn: &Connection) -> StoreResult<()> {
    conn.create_scalar_function(
        "signet_pair_key",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text = |i| {
                ctx.get_raw(i)
                    .as_str()
                    .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))
            };
            let (principal, nonce) = (text(0)?, text(1)?);
            Ok(pair_key(principal, nonce).to_vec())
        },
    )
    .map_err(db)
}

/// Every (principal, nonce) pair seen and not yet swept, with the second (rounded up) from which
/// it may be forgotten. Whole seconds in a `u32` keep an entry at 20 bytes (the window holds
/// millions at full rate); rounding up only keeps a pair longer, never forgets one early.
pub(crate) struct NonceSet {
    seen: DashMap<PairKey, u32>,
    /// How far the start-up load has got (see the module docs).
    loaded: tokio::sync::watch::Receiver<Load>,
    /// `loaded` once it is `Done`: the hot path's check without touching the channel. Set with
    /// release after the loader's last insert.
    done: AtomicBool,
    /// The newest expiry stored when the store opened (`i64::MIN`: none). A request with a later
    /// expiry has no stored pair to find.
    newest_stored_ms: i64,
    /// The expiries loaded (or being loaded) for requests while the start-up load runs. At most
    /// one per second of the clock window (expiries come from signed timestamps inside it);
    /// emptied once the load is done.
    covered: Mutex<HashMap<i64, Arc<tokio::sync::OnceCell<()>>>>,
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

/// A row to write.
struct Row {
    principal: String,
    nonce: String,
    expires_ms: i64,
    key: PairKey,
}

/// The write buffer.
#[derive(Default)]
struct Pending {
    rows: Vec<Row>,
    /// A flush job is on the writer's queue and has not yet taken `rows`.
    flush_queued: bool,
}

/// `expires_ms` as the whole second from which a pair may be forgotten, rounded up. Times past
/// 2106 are kept for good; times before 1970 are already past.
fn expiry_secs(expires_ms: i64) -> u32 {
    let secs = expires_ms.max(0).div_euclid(1000) + i64::from(expires_ms.rem_euclid(1000) != 0);
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// Adds every pair `query` selects (`expires_ms, key` rows) to `seen`, keeping a later expiry
/// where a pair is there already.
fn load_into(
    seen: &DashMap<PairKey, u32>,
    conn: &Connection,
    query: &'static str,
    params: impl rusqlite::Params,
) -> StoreResult<usize> {
    // Keys arrive ready: no hashing per row. At a full window (millions of rows) the row loop is
    // the whole cost of the load.
    let mut stmt = conn.prepare_cached(query).map_err(db)?;
    let mut rows = stmt.query(params).map_err(db)?;
    let mut count = 0usize;
    while let Some(r) = rows.next().map_err(db)? {
        let expires: i64 = r.get(0).map_err(db)?;
        let key: PairKey = r
            .get_ref(1)
            .map_err(db)?
            .as_blob()
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(StoreError::Corrupt)?;
        let secs = expiry_secs(expires);
        seen.entry(key)
            .and_modify(|e| *e = (*e).max(secs))
            .or_insert(secs);
        count += 1;
    }
    Ok(count)
}

/// Every stored pair.
const ALL: &str = "SELECT expires_ms, key FROM nonces";
/// The stored pairs of one expiry, through `nonces_expiry`.
const ONE_EXPIRY: &str = "SELECT expires_ms, key FROM nonces WHERE expires_ms = ?1";

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
    /// `readers`. Nobody waits for it: until it is done, each request loads its own expiry's
    /// stored pairs first (see the module docs).
    pub(crate) fn open(readers: Arc<ReaderPool>) -> StoreResult<Arc<Self>> {
        let (tx, loaded) = tokio::sync::watch::channel(Load::Running);
        // Sized up front, so the load does not rehash millions of entries as it goes.
        let (estimate, newest_stored_ms) = readers.read(|conn| {
            let newest = conn
                .query_row("SELECT max(expires_ms) FROM nonces", [], |r| {
                    r.get::<_, Option<i64>>(0)
                })
                .map_err(db)?;
            Ok((estimate_rows(conn), newest.unwrap_or(i64::MIN)))
        })?;
        let set = Arc::new(Self {
            seen: DashMap::with_capacity(estimate),
            loaded,
            done: AtomicBool::new(false),
            newest_stored_ms,
            covered: Mutex::default(),
            pending: Arc::default(),
            enqueue: tokio::sync::Mutex::new(()),
        });
        let filling = Arc::clone(&set);
        std::thread::Builder::new()
            .name("signet-nonce-load".into())
            .spawn(move || {
                // Tests hold the load here, to judge requests against an empty set.
                fail::fail_point!("nonce_load_start");
                let result = readers.read(|conn| load_into(&filling.seen, conn, ALL, []));
                let state = match result {
                    Ok(rows) => {
                        tracing::debug!(rows, "nonce set loaded");
                        filling.done.store(true, Ordering::Release);
                        filling
                            .covered
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .clear();
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

    /// Whether the set alone decides: `Ok(true)` once every stored pair is in it, `Ok(false)`
    /// while the load runs (see [`NonceSet::cover`]), an error if the load failed.
    fn complete(&self) -> StoreResult<bool> {
        if self.done.load(Ordering::Acquire) {
            return Ok(true);
        }
        match *self.loaded.borrow() {
            Load::Running => Ok(false),
            Load::Done => Ok(true),
            Load::Failed => Err(StoreError::Unavailable),
        }
    }

    /// Whether pairs can be judged: fails once the start-up load has failed. Never waits for
    /// the load, so neither do `/readyz` nor the first signed requests.
    pub(crate) async fn ready(&self) -> StoreResult<()> {
        self.complete().map(drop)
    }

    /// Waits until the stored pairs are all in the set.
    pub(crate) async fn loaded(&self) -> StoreResult<()> {
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
        self.loaded().await?;
        readers.read(|conn| load_into(&self.seen, conn, ALL, []).map(drop))
    }

    /// Makes sure the stored pairs with this expiry are in the set, while the start-up load has
    /// not got to all of them. One load per expiry: racing requests wait for the first; a failed
    /// load is retried by the next request.
    async fn cover(&self, readers: &ReaderPool, expires_ms: i64) -> StoreResult<()> {
        if expires_ms > self.newest_stored_ms {
            return Ok(());
        }
        let cell = {
            let mut covered = self.covered.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(covered.entry(expires_ms).or_default())
        };
        cell.get_or_try_init(|| async {
            readers
                .read(|conn| load_into(&self.seen, conn, ONE_EXPIRY, [expires_ms]))
                .map(drop)
        })
        .await
        .map(drop)
    }

    /// Pairs held now (the scrape's nonce-set size). Visits every shard: not for the hot path.
    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }

    /// Records the pair and returns `true` if it was not in the set.
    fn admit(&self, key: PairKey, expires_ms: i64) -> bool {
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

fn persist(tx: &Transaction<'_>, row: &Row) -> StoreResult<()> {
    exec(
        tx,
        "INSERT INTO nonces (principal, nonce, expires_ms, key) VALUES (?1, ?2, ?3, ?4)",
        params![row.principal, row.nonce, row.expires_ms, &row.key[..]],
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
        if !self.nonces.complete()? {
            // While the load runs, the set may lack a stored pair with this expiry (module docs).
            self.nonces.cover(&self.readers, expires_ms).await?;
        }
        let key = pair_key(principal, nonce);
        if !self.nonces.admit(key, expires_ms) {
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
            p.rows.push(Row {
                principal: principal.to_owned(),
                nonce: nonce.to_owned(),
                expires_ms,
                key,
            });
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
                    rows.iter().try_for_each(|row| persist(tx, row))
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
        // Not while the load runs: the loader could put back a pair the sweep forgot (module
        // docs). Sweeps run in the background, so this wait delays no request.
        self.nonces.loaded().await?;
        self.nonces.sweep(now_ms);
        // One bounded job at a time, each committed before the next is queued: at full rate a
        // minute of expired pairs is hundreds of thousands of rows, and one job deleting them all
        // held the writer, and every read waiting for its audit commit, for a third of a second.
        // In chunks, the reads' commits queue between the sweep's.
        let mut removed = 0u64;
        loop {
            let n = self
                .write(move |tx| {
                    exec(
                        tx,
                        "DELETE FROM nonces WHERE rowid IN
                             (SELECT rowid FROM nonces WHERE expires_ms < ?1
                              ORDER BY expires_ms LIMIT ?2)",
                        params![now_ms, SWEEP_CHUNK],
                    )
                })
                .await?;
            removed = removed.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
            if n < usize::from(SWEEP_CHUNK) {
                return Ok(removed);
            }
        }
    }
}
