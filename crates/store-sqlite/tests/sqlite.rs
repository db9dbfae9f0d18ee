//! Behaviour specific to the SQLite backend: the file, restarts, and sharing it with another
//! process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod test_db;

use std::sync::Arc;

use signet_store::conformance::fixture::{
    self, FAR_FUTURE, add_machine, add_project, add_secret, assert_chain, chain, event,
};
use signet_store::{
    AuditResult, JournalBatch, OperatorStore, ReadMark, Store, StoreError, UserStore,
};
use signet_store_sqlite::SqliteStore;
use test_db::TestDb;

const MACHINE: &str = "0b6f7a51-8b0e-4a57-9a7e-3c1c1b0a4f11";

fn one_event(action: &str) -> JournalBatch {
    JournalBatch {
        events: vec![event("a", action, AuditResult::Ok)],
        read_marks: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_reopen() {
    let mut db = TestDb::create();
    let store = db.dyn_store();
    let vault = fixture::vault();
    store.create_vault(&vault).await.unwrap();
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let m = add_machine(&store, "m").await;
    store.attach(&m.id, &p.id).await.unwrap();
    store.grant(&m.id, &s.id).await.unwrap();
    assert!(
        store
            .remember_nonce(MACHINE, "n-1", FAR_FUTURE)
            .await
            .unwrap()
    );
    assert!(store.remember_nonce(MACHINE, "stale", 1_000).await.unwrap());
    // The nonce above is not awaited; this append is what guarantees it is on disk.
    let batch = JournalBatch {
        events: vec![
            event("a", "secret_read", AuditResult::Ok),
            event("a", "secret_read", AuditResult::Ok),
        ],
        read_marks: vec![ReadMark {
            machine: m.id,
            secret: s.id.clone(),
            version: 1,
        }],
    };
    store.append_journal(batch, chain()).await.unwrap();
    let head = store.audit_head().await.unwrap().unwrap();
    drop(store);

    db.reopen();
    let store = db.dyn_store();
    assert_eq!(store.vault().await.unwrap(), Some(vault));
    assert_eq!(store.machine(&m.id).await.unwrap(), Some(m.clone()));
    let view = store.read_view(&m.id, &s.id).await.unwrap().unwrap();
    assert!(view.attached && view.granted);
    assert!(
        !store
            .remember_nonce(MACHINE, "n-1", FAR_FUTURE)
            .await
            .unwrap(),
        "a restart must not forget a nonce"
    );
    // A replay carries the original's expiry: callers derive it from the signed timestamp.
    assert!(
        !store.remember_nonce(MACHINE, "stale", 1_000).await.unwrap(),
        "unswept nonces are reloaded, expired or not"
    );
    assert_eq!(store.sweep_nonces(2_000).await.unwrap(), 1);
    assert_eq!(
        store
            .poll(&m.id, std::slice::from_ref(&s.id))
            .await
            .unwrap()[0]
            .last_read_version,
        Some(1)
    );
    assert_eq!(store.audit_head().await.unwrap(), Some(head));

    assert_eq!(
        store
            .append_journal(one_event("after_restart"), chain())
            .await
            .unwrap(),
        [3]
    );
    assert_chain(&store.audit_range(1, 10).await.unwrap());
}

#[tokio::test]
async fn a_new_file_is_private_and_migrated() {
    use std::os::unix::fs::PermissionsExt;

    let db = TestDb::create();
    let mode = std::fs::metadata(db.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    // Every file in migrations/ is applied: the list in schema.rs cannot forget one.
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".sql")
        })
        .count();
    assert_eq!(version, files as i64);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn reopening_does_not_migrate_again() {
    let mut db = TestDb::create();
    db.dyn_store()
        .insert_project(&fixture::project("p"))
        .await
        .unwrap();
    db.reopen();
    db.reopen();
    assert_eq!(db.dyn_store().projects().await.unwrap().len(), 1);
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.sqlite3");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert_eq!(SqliteStore::open(&path).err(), Some(StoreError::Corrupt));
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.sqlite3");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    assert_eq!(SqliteStore::open(&path).err(), Some(StoreError::Corrupt));
}

#[test]
fn a_missing_directory_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent").join("signet.sqlite3");
    assert_eq!(
        SqliteStore::open(&path).err(),
        Some(StoreError::Unavailable)
    );
}

/// The server and the CLI may hold the same file open at once, each with its own writer: writes
/// from both land, and the audit chain stays one chain because each append reads the head
/// inside its own transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_can_share_the_file() {
    let db = TestDb::create();
    let server = db.dyn_store();
    let cli: Arc<dyn Store> = Arc::new(SqliteStore::open(db.path()).unwrap());

    let mut tasks = Vec::new();
    for (who, store) in [("server", &server), ("cli", &cli)] {
        for i in 0..4 {
            let store = Arc::clone(store);
            tasks.push(tokio::spawn(async move {
                for j in 0..25 {
                    store
                        .append_journal(one_event(&format!("{who}_{i}_{j}")), chain())
                        .await
                        .unwrap();
                }
                store
                    .insert_project(&fixture::project(&format!("{who}-{i}")))
                    .await
                    .unwrap();
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }

    let records = server.audit_range(1, 1000).await.unwrap();
    assert_eq!(records.len(), 200);
    assert_chain(&records);
    assert_eq!(cli.audit_head().await.unwrap().unwrap().seq, 200);
    assert_eq!(server.projects().await.unwrap().len(), 8);
    drop(cli);
}

#[tokio::test]
async fn audit_records_cannot_be_rewritten_through_sql() {
    let db = TestDb::create();
    db.dyn_store()
        .append_journal(one_event("x"), chain())
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    assert!(
        conn.execute("UPDATE audit SET action = 'y' WHERE seq = 1", [])
            .is_err()
    );
    assert!(conn.execute("DELETE FROM audit WHERE seq = 1", []).is_err());
    assert_eq!(
        db.dyn_store().audit_range(1, 10).await.unwrap()[0]
            .event
            .action,
        "x"
    );
}

/// A deleted head row must not let appends restart the chain from zero.
#[tokio::test]
async fn appending_after_the_head_is_removed_is_refused() {
    let db = TestDb::create();
    db.dyn_store()
        .append_journal(one_event("x"), chain())
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    conn.execute("DELETE FROM audit_head", []).unwrap();
    assert_eq!(
        db.dyn_store().append_journal(one_event("y"), chain()).await,
        Err(StoreError::Corrupt)
    );
    assert_eq!(db.dyn_store().audit_range(1, 10).await.unwrap().len(), 1);
}

/// The harness itself: a test that panics leaves its database behind for inspection.
#[test]
fn a_failed_test_keeps_its_database() {
    let mut kept = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let db = TestDb::create();
        kept = Some(db.path().to_owned());
        panic!("deliberate");
    }));
    assert!(outcome.is_err());
    let kept = kept.unwrap();
    assert!(kept.exists());
    std::fs::remove_file(kept).unwrap();
}

/// The nonce invariant across a crash-like stop: a nonce remembered before an acknowledged audit
/// append is on disk even if the process never closes the store cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_is_durable_once_a_later_append_returns() {
    let db = TestDb::create();
    let store = db.dyn_store();
    for i in 0..50 {
        assert!(
            store
                .remember_nonce(MACHINE, &format!("n{i}"), FAR_FUTURE)
                .await
                .unwrap()
        );
    }
    store
        .append_journal(one_event("request"), chain())
        .await
        .unwrap();
    // Read through an independent connection while the store is still open: no clean shutdown
    // has flushed anything.
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM nonces", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 50);
}

/// This backend has no clock of its own: a pair is refused until a sweep forgets it, even past
/// its expiry, so a caller whose clock lags the machine's cannot have replays admitted.
#[tokio::test]
async fn an_expired_nonce_is_refused_until_swept() {
    let db = TestDb::create();
    let store = db.dyn_store();
    assert!(store.remember_nonce(MACHINE, "old", 1_000).await.unwrap());
    assert!(
        !store
            .remember_nonce(MACHINE, "old", FAR_FUTURE)
            .await
            .unwrap()
    );
    assert_eq!(
        store.sweep_nonces(1_000).await.unwrap(),
        0,
        "never forgotten before its expiry"
    );
    assert!(
        !store
            .remember_nonce(MACHINE, "old", FAR_FUTURE)
            .await
            .unwrap()
    );
    assert_eq!(store.sweep_nonces(1_001).await.unwrap(), 1);
    assert!(
        store
            .remember_nonce(MACHINE, "old", FAR_FUTURE)
            .await
            .unwrap()
    );
}

/// A file written before accounts existed gains them on open; its operator keys keep working,
/// belong to no user and never expire.
#[tokio::test]
async fn a_pre_accounts_file_is_migrated_forward() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite3");
    let id = "5f0c2f6e-93c2-4d2f-a9e4-0e0b8a1c7d21";
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../migrations/0001_init.sql"))
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let key = fixture::key();
        conn.execute(
            "INSERT INTO principal_keys (public_key, kind, principal_id) VALUES (?1, 'operator', ?2)",
            rusqlite::params![key.as_bytes(), id],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO operators (id, name, public_key, owner, disabled, created_ms)
             VALUES (?1, 'owner', ?2, 1, 0, 1)",
            rusqlite::params![id, key.as_bytes()],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let op = store.operator(&id.parse().unwrap()).await.unwrap().unwrap();
    assert!(op.owner);
    assert_eq!((op.user_id, op.expires_ms), (None, None));
    assert_eq!(store.user_count().await.unwrap(), 0);
}

/// An export is one snapshot even while another connection keeps writing: in every export the
/// audit head names exactly the last record exported, and every exported record links to the one
/// before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_is_one_snapshot_while_another_process_writes() {
    let db = TestDb::create();
    let server: Arc<dyn Store> = Arc::new(SqliteStore::open(db.path()).unwrap());
    server.create_vault(&fixture::vault()).await.unwrap();
    let writing = {
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            for i in 0..300 {
                server
                    .append_journal(one_event(&format!("w{i}")), chain())
                    .await
                    .unwrap();
            }
        })
    };
    let exporter = db.dyn_store();
    let mut seen = Vec::new();
    while !writing.is_finished() {
        let tables = exporter.export_tables().await.unwrap();
        let table = |name: &str| tables.iter().find(|t| t.name == name).unwrap();
        let audit = table("audit");
        let head = table("audit_head");
        let seq = audit.columns.iter().position(|c| c == "seq").unwrap();
        let head_seq = head.columns.iter().position(|c| c == "seq").unwrap();
        let last = audit.rows.last().map(|r| r[seq].clone());
        let head = head.rows.first().map(|r| r[head_seq].clone());
        assert_eq!(
            last, head,
            "the head and the records come from one snapshot"
        );
        seen.push(audit.rows.len());
    }
    writing.await.unwrap();
    assert!(
        seen.iter().any(|n| *n > 0 && *n < 300),
        "some export ran mid-write: {seen:?}"
    );
}

#[tokio::test]
async fn this_process_audit_appends_are_reported_to_watchers() {
    let db = TestDb::create();
    let store = db.dyn_store();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let state = store.watch(Arc::new(move |c: signet_store::Change| {
        let _ = tx.send(c);
    }));
    assert_eq!(state, signet_store::FeedState::Live);
    // Told after the commit, before the append returns: the event hub reads it at once.
    store.append_journal(one_event("x"), chain()).await.unwrap();
    assert_eq!(rx.try_recv(), Ok(signet_store::Change::Audit));
    // Read marks alone append no record, and say nothing.
    let marks = JournalBatch {
        events: Vec::new(),
        read_marks: Vec::new(),
    };
    store.append_journal(marks, chain()).await.unwrap();
    assert!(rx.try_recv().is_err());
}
