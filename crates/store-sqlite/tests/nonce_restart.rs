//! The nonce set across restarts. Start-up loads the stored pairs on a thread of its own and
//! nobody waits for it: a request that arrives before the load is done has its pair looked up in
//! the table, so a pair stored before the restart is refused at once, and stays refused until a
//! sweep past its expiry. (`nonce_loading.rs` holds the load to make the early case certain.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod test_db;

use std::sync::Arc;

use signet_store::conformance::fixture::{FAR_FUTURE, chain, event};
use signet_store::{AuditResult, JournalBatch, Store};
use signet_store_sqlite::SqliteStore;
use test_db::TestDb;

const MACHINE: &str = "0b6f7a51-8b0e-4a57-9a7e-3c1c1b0a4f11";
const OTHER: &str = "5d0c8b1e-6f2a-4e7d-9c3b-2a1f0e9d8c7b";

/// Where `fill` starts the stored pairs' expiries.
const BASE: i64 = 1_000_000;

/// Enough pairs that the load is still running when the first request arrives on most runs;
/// the assertions hold either way.
const STORED: usize = 60_000;

fn one_event() -> JournalBatch {
    JournalBatch {
        events: vec![event("a", "request", AuditResult::Ok)],
        read_marks: Vec::new(),
    }
}

/// The pair's key as the store keys it: the first 16 bytes of SHA-256 over `principal NUL
/// nonce`. Written out here rather than borrowed from the crate, so a change of format shows.
fn pair_key(principal: &str, nonce: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(principal)
        .chain_update([0u8])
        .chain_update(nonce)
        .finalize();
    digest[..16].to_vec()
}

/// Writes `STORED` pairs straight into the table (as a long run at full rate leaves it), with
/// expiries spread over one window from `base_ms`.
fn fill(db: &TestDb, base_ms: i64) {
    let mut conn = rusqlite::Connection::open(db.path()).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO nonces (principal, nonce, expires_ms, key) VALUES (?1, ?2, ?3, ?4)",
            )
            .unwrap();
        for i in 0..STORED {
            let expires = expiry(base_ms, i);
            let nonce = format!("stored-{i}");
            insert
                .execute(rusqlite::params![
                    MACHINE,
                    nonce,
                    expires,
                    pair_key(MACHINE, &nonce)
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// The expiry `fill` gave pair `i`: a replay carries the original's expiry.
fn expiry(base_ms: i64, i: usize) -> i64 {
    base_ms + (i as i64 * 300_000) / STORED as i64
}

/// Right after a restart, before or while the set loads, every stored pair is refused: the
/// first and the last written, and one in the middle. New pairs are admitted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_nonce_is_refused_right_after_a_restart() {
    let mut db = TestDb::create();
    fill(&db, BASE);
    db.reopen();
    let store = db.dyn_store();
    for i in [STORED - 1, 0, STORED / 2] {
        assert!(
            !store
                .remember_nonce(MACHINE, &format!("stored-{i}"), expiry(BASE, i))
                .await
                .unwrap(),
            "stored pair {i} admitted after the restart"
        );
    }
    assert!(
        store
            .remember_nonce(OTHER, "stored-0", FAR_FUTURE)
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_nonce(OTHER, "stored-0", FAR_FUTURE)
            .await
            .unwrap()
    );
    store.probe_write().await.unwrap();
}

/// Racing requests right after a restart, while the set loads: of many uses of one stored pair
/// none is admitted, and of many uses of a new pair exactly one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_requests_after_a_restart_admit_only_the_new_pair_once() {
    let mut db = TestDb::create();
    fill(&db, BASE);
    db.reopen();
    let store = db.dyn_store();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = Arc::clone(&store);
            let (nonce, expires) = if i % 2 == 0 {
                ("stored-7", expiry(BASE, 7))
            } else {
                ("fresh", FAR_FUTURE)
            };
            tokio::spawn(async move {
                (
                    nonce,
                    store.remember_nonce(MACHINE, nonce, expires).await.unwrap(),
                )
            })
        })
        .collect();
    let mut admitted = Vec::new();
    for task in tasks {
        let (nonce, fresh) = task.await.unwrap();
        if fresh {
            admitted.push(nonce);
        }
    }
    assert_eq!(admitted, ["fresh"]);
}

/// A stored pair stays refused across the restart until a sweep passes its expiry (the caller's
/// clock window has then closed on it), and only then may it be used again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_nonce_is_forgotten_only_by_a_sweep_past_its_expiry() {
    let mut db = TestDb::create();
    let store = db.dyn_store();
    assert!(
        store
            .remember_nonce(MACHINE, "late", 500_000)
            .await
            .unwrap()
    );
    store.append_journal(one_event(), chain()).await.unwrap();
    drop(store);
    db.reopen();
    let store = db.dyn_store();
    assert!(
        !store
            .remember_nonce(MACHINE, "late", 500_000)
            .await
            .unwrap()
    );
    assert_eq!(store.sweep_nonces(499_999).await.unwrap(), 0);
    assert!(
        !store
            .remember_nonce(MACHINE, "late", 500_000)
            .await
            .unwrap()
    );
    assert_eq!(store.sweep_nonces(500_001).await.unwrap(), 1);
    assert!(
        store
            .remember_nonce(MACHINE, "late", 900_000)
            .await
            .unwrap()
    );
}

/// A sweep past half of a full table forgets exactly the expired half, in bounded jobs, however
/// many rows that is (here many times one job's share), and says how many went; the rest stay
/// refused. Writes queued while it runs are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_sweep_removes_every_expired_pair_and_nothing_else() {
    let mut db = TestDb::create();
    drop(db.dyn_store());
    fill(&db, BASE);
    db.reopen();
    let store = db.dyn_store();
    // The pairs expiring before `cut`: the first half of `fill`'s window.
    let half = STORED / 2;
    let cut = expiry(BASE, half);
    let expired = (0..STORED).filter(|i| expiry(BASE, *i) < cut).count() as u64;
    assert!(expired > 20_000, "{expired}");
    let sweeping = tokio::spawn({
        let store = Arc::clone(&store);
        async move { store.sweep_nonces(cut).await.unwrap() }
    });
    for _ in 0..20 {
        store.append_journal(one_event(), chain()).await.unwrap();
    }
    assert_eq!(sweeping.await.unwrap(), expired);
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    let (left, oldest): (i64, i64) = conn
        .query_row("SELECT count(*), min(expires_ms) FROM nonces", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(left as u64, STORED as u64 - expired);
    assert!(oldest >= cut);
    let last = STORED - 1;
    assert!(
        !store
            .remember_nonce(MACHINE, &format!("stored-{last}"), expiry(BASE, last))
            .await
            .unwrap(),
        "a pair the sweep kept is still refused"
    );
    assert_eq!(store.sweep_nonces(cut).await.unwrap(), 0);
}

/// Two processes on one file: a pair the first made durable before the second opened the file is
/// refused by the second, whether the second's load has finished or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_refuses_pairs_stored_before_it_opened() {
    let db = TestDb::create();
    fill(&db, BASE);
    let first = db.dyn_store();
    assert!(
        first
            .remember_nonce(OTHER, "from-first", FAR_FUTURE)
            .await
            .unwrap()
    );
    // The append is what makes the pair durable (nonce writes are not awaited).
    first.append_journal(one_event(), chain()).await.unwrap();
    let second: Arc<dyn Store> = Arc::new(SqliteStore::open(db.path()).unwrap());
    assert!(
        !second
            .remember_nonce(OTHER, "from-first", FAR_FUTURE)
            .await
            .unwrap()
    );
    assert!(
        !second
            .remember_nonce(MACHINE, "stored-1", expiry(BASE, 1))
            .await
            .unwrap()
    );
    drop(second);
}
