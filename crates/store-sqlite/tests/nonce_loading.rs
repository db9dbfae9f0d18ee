//! The nonce set while its start-up load is held at the fault point `nonce_load_start`: the set
//! is empty but for what requests load themselves (the stored pairs of their own expiry).
//! Nothing waits for the load but a sweep. The fault point is process-wide, so the tests of this
//! binary take turns.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod test_db;

use std::sync::Arc;
use std::time::Duration;

use signet_store::conformance::fixture::{FAR_FUTURE, chain, event};
use signet_store::{AuditResult, JournalBatch, Store};
use test_db::TestDb;

const MACHINE: &str = "0b6f7a51-8b0e-4a57-9a7e-3c1c1b0a4f11";
const OTHER: &str = "5d0c8b1e-6f2a-4e7d-9c3b-2a1f0e9d8c7b";

/// One test at a time holds the load.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Holds every store's start-up load from now until dropped.
struct Held;

impl Held {
    fn arm() -> Self {
        assert!(
            fail::has_failpoints(),
            "this test needs the nonce_load_start fault point compiled in"
        );
        fail::cfg("nonce_load_start", "pause").unwrap();
        Held
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        fail::remove("nonce_load_start");
    }
}

/// What a call must not take longer than: nothing here waits for the held load.
const PROMPTLY: Duration = Duration::from_secs(10);

async fn remember(store: &Arc<dyn Store>, principal: &str, nonce: &str, expires_ms: i64) -> bool {
    tokio::time::timeout(PROMPTLY, store.remember_nonce(principal, nonce, expires_ms))
        .await
        .expect("a request waited for the held load")
        .unwrap()
}

/// Makes the pairs remembered so far durable (nonce writes are not awaited; an append is).
async fn settle(store: &Arc<dyn Store>) {
    let batch = JournalBatch {
        events: vec![event("a", "request", AuditResult::Ok)],
        read_marks: Vec::new(),
    };
    store.append_journal(batch, chain()).await.unwrap();
}

/// Before the load has read a row: stored pairs are refused by their (signed) expiry, new pairs
/// are admitted once, racing requests admit one, readiness answers, and only a sweep waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_pairs_are_refused_before_the_load_has_read_them() {
    let _turn = TURN.lock().await;
    let mut db = TestDb::create();
    let store = db.dyn_store();
    assert!(remember(&store, MACHINE, "a", 5_000).await);
    assert!(remember(&store, MACHINE, "b", FAR_FUTURE).await);
    settle(&store).await;
    drop(store);

    let held = Held::arm();
    db.reopen();
    let store = db.dyn_store();
    // `/readyz` is `vault()` and `probe_write()`: neither waits for the load.
    tokio::time::timeout(PROMPTLY, store.probe_write())
        .await
        .expect("readiness waited for the held load")
        .unwrap();

    assert!(!remember(&store, MACHINE, "a", 5_000).await, "replay of a");
    assert!(
        !remember(&store, MACHINE, "b", FAR_FUTURE).await,
        "replay of b"
    );
    assert!(
        remember(&store, OTHER, "a", 5_000).await,
        "another principal"
    );
    assert!(!remember(&store, OTHER, "a", 5_000).await, "its replay");

    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = Arc::clone(&store);
            let nonce = if i % 2 == 0 { "b" } else { "c" };
            tokio::spawn(async move { (nonce, remember(&store, MACHINE, nonce, FAR_FUTURE).await) })
        })
        .collect();
    let mut admitted = Vec::new();
    for task in tasks {
        let (nonce, fresh) = task.await.unwrap();
        if fresh {
            admitted.push(nonce);
        }
    }
    assert_eq!(admitted, ["c"]);

    // A sweep waits for the load (it could race the loader otherwise), and finishes after it.
    let sweeping = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.sweep_nonces(0).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!sweeping.is_finished(), "a sweep ran beside the held load");
    drop(held);
    assert_eq!(sweeping.await.unwrap().unwrap(), 0);

    // Loaded: the set answers alone, for stored pairs and for pairs admitted meanwhile.
    for (principal, nonce, expires) in [
        (MACHINE, "a", 5_000),
        (MACHINE, "b", FAR_FUTURE),
        (MACHINE, "c", FAR_FUTURE),
        (OTHER, "a", 5_000),
    ] {
        assert!(
            !remember(&store, principal, nonce, expires).await,
            "{nonce}"
        );
    }
    // The pairs admitted while the load was held were written like any other.
    settle(&store).await;
    drop(store);
    db.reopen();
    let store = db.dyn_store();
    assert!(!remember(&store, MACHINE, "c", FAR_FUTURE).await);
    assert!(!remember(&store, OTHER, "a", 5_000).await);
}

/// Migrations after 0023_nonce_keys, undone below before 0023 is.
const MIGRATIONS_AFTER_0023: i64 = 5;

/// A file from before migration 0023 (nonces without their key) is keyed by the migration with
/// the set's own key: the table alone, with the load held, refuses its pairs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairs_stored_before_the_key_migration_are_refused() {
    let _turn = TURN.lock().await;
    let mut db = TestDb::create();
    drop(db.dyn_store());
    {
        let conn = rusqlite::Connection::open(db.path()).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        // The table as migration 0001 made it, and the file as the migration before 0023 left it:
        // what the migrations after 0023 (0024_sso, 0025_keyring, 0026_project_keys,
        // 0027_totp_confirmed, 0028_version_changes) made is taken away too, so that reopening
        // runs 0023 and every later one again, in order.
        conn.execute_batch(&format!(
            "ALTER TABLE secret_versions DROP COLUMN changed_fields;
             ALTER TABLE users DROP COLUMN totp_confirmed;
             DROP TRIGGER secret_versions_project_key;
             DROP TRIGGER managed_secrets_project_key;
             DROP TRIGGER db_connections_project_key_insert;
             DROP TRIGGER db_connections_project_key_update;
             DROP TRIGGER leases_project_key;
             ALTER TABLE projects DROP COLUMN key_generation;
             ALTER TABLE secret_versions DROP COLUMN key_generation;
             ALTER TABLE managed_secrets DROP COLUMN pending_key_generation;
             ALTER TABLE db_connections DROP COLUMN key_generation;
             ALTER TABLE leases DROP COLUMN key_generation;
             DROP TRIGGER root_keys_in_use;
             DROP TRIGGER projects_root_generation_insert;
             DROP TRIGGER projects_root_generation_update;
             DROP INDEX projects_root_generation;
             ALTER TABLE projects DROP COLUMN root_generation;
             DROP TABLE root_keys;
             DROP TABLE sso_attempts;
             DROP TABLE sso_identities;
             DROP TABLE sso_mappings;
             DROP TABLE sso_providers;
             ALTER TABLE vault DROP COLUMN sso_required;
             ALTER TABLE vault DROP COLUMN break_glass_user;
             ALTER TABLE vault DROP COLUMN sso_trust_provider_mfa;
             DROP TABLE nonces;
             CREATE TABLE nonces (
                 principal  TEXT    NOT NULL,
                 nonce      TEXT    NOT NULL,
                 expires_ms INTEGER NOT NULL
             ) STRICT;
             CREATE INDEX nonces_expiry ON nonces (expires_ms);
             INSERT INTO nonces VALUES ('{MACHINE}', 'old-1', 7000), ('{OTHER}', 'old-2', {FAR_FUTURE});
             PRAGMA user_version = {};",
            version - 1 - MIGRATIONS_AFTER_0023
        ))
        .unwrap();
    }
    let _held = Held::arm();
    db.reopen();
    let store = db.dyn_store();
    assert!(!remember(&store, MACHINE, "old-1", 7_000).await);
    assert!(!remember(&store, OTHER, "old-2", FAR_FUTURE).await);
    assert!(remember(&store, OTHER, "old-1", 7_000).await);
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    // Two migrated rows, and the new pair's if its flush has run already: every one keyed.
    let (rows, keyed): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE length(key) = 16) FROM nonces",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(rows >= 2 && keyed == rows, "{keyed} of {rows} rows keyed");
}
