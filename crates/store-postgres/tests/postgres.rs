//! Behaviour specific to the PostgreSQL backend: migrations, several replicas on one database,
//! the change feed, transfer, and failing fast.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use signet_store::conformance::fixture::{
    self, FAR_FUTURE, add_machine, add_project, add_secret, assert_chain, chain, event,
};
use signet_store::{
    AuditEvent, AuditResult, AuditStore, Cell, Change, ChangeFeed, Conflict, FeedState,
    JournalBatch, NetworkStore, NonceStore, ReadMark, Store, StoreError, Table, TransferStore,
    VaultStore,
};
use signet_store_postgres::testing::{TestDatabase, TestStore};
use signet_store_postgres::{PgOptions, PgStore};
use sqlx::{Connection, PgConnection};
use tokio::sync::mpsc;

const MACHINE: &str = "0b6f7a51-8b0e-4a57-9a7e-3c1c1b0a4f11";

fn one_event(action: &str) -> JournalBatch {
    JournalBatch {
        events: vec![event("a", action, AuditResult::Ok)],
        read_marks: Vec::new(),
    }
}

async fn sql(db: &TestDatabase) -> PgConnection {
    PgConnection::connect(db.url()).await.unwrap()
}

/// A watcher that forwards what it is told.
fn watcher(store: &PgStore) -> (FeedState, mpsc::UnboundedReceiver<Change>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = store.watch(Arc::new(move |c| {
        let _ = tx.send(c);
    }));
    (state, rx)
}

/// Waits (bounded) until `want` arrives, skipping anything else.
async fn expect(rx: &mut mpsc::UnboundedReceiver<Change>, want: Change) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(c)) if c == want => return,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the feed stopped before {want:?}"),
            Err(_) => panic!("no {want:?} within 10 s"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_connects_migrate_once() {
    let db = TestDatabase::create().await;
    let connects: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url().to_owned();
            tokio::spawn(async move { PgStore::connect(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for c in connects {
        stores.push(c.await.unwrap().unwrap());
    }
    let mut conn = sql(&db).await;
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, name FROM signet_schema_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(rows, migration_files());
    // Every store works on the one schema.
    stores[3].create_vault(&fixture::vault()).await.unwrap();
    assert!(stores[0].vault().await.unwrap().is_some());
    drop(stores);
    // Connecting again applies nothing.
    let again = db.store().await;
    assert!(again.vault().await.unwrap().is_some());
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM signet_schema_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, i64::try_from(migration_files().len()).unwrap());
}

/// (version, name) of every file in `migrations/`, in order: what a fresh database records.
fn migration_files() -> Vec<(i64, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let mut files: Vec<(i64, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .map(|n| (n[..4].parse().unwrap(), n))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_a_newer_version_is_refused() {
    let db = TestDatabase::create().await;
    drop(db.store().await);
    let mut conn = sql(&db).await;
    sqlx::query("INSERT INTO signet_schema_migrations (version, name, applied_ms) VALUES (999, 'future', 0)")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        PgStore::connect(db.url()).await.err(),
        Some(StoreError::Corrupt)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_fails_fast() {
    // Nothing listens on port 1.
    let started = Instant::now();
    let got = PgStore::connect("postgres://postgres@127.0.0.1:1/test").await;
    assert_eq!(got.err(), Some(StoreError::Unavailable));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        PgStore::connect("not a url").await.err(),
        Some(StoreError::Unavailable)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_recovers_when_its_connections_are_killed() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    store.create_vault(&fixture::vault()).await.unwrap();
    let mut conn = sql(&db).await;
    // Every connection of the store, the listener's included, as a restart of the server would.
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    // The pool tests a connection before handing it out, and opens a new one.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.vault().await {
            Ok(v) => {
                assert!(v.is_some());
                break;
            }
            Err(e) => {
                assert_eq!(e, StoreError::Unavailable);
                assert!(Instant::now() < deadline, "the pool did not recover");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pool_fails_fast() {
    let db = TestDatabase::create().await;
    let options = PgOptions::default()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(300));
    let store = PgStore::connect_with(db.url(), options).await.unwrap();
    let mut blocker = sql(&db).await;
    // Hold the row lock on the vault so the one pooled connection is stuck in an update.
    store.create_vault(&fixture::vault()).await.unwrap();
    let mut tx = blocker.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM vault FOR UPDATE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let store = Arc::new(store);
    let stuck = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.set_tokenless_enrollment(true).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    assert_eq!(store.vault().await, Err(StoreError::Unavailable));
    assert!(started.elapsed() < Duration::from_secs(3));
    tx.rollback().await.unwrap();
    stuck.await.unwrap().unwrap();
    assert!(store.vault().await.unwrap().unwrap().tokenless_enrollment);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_seen_by_one_replica_is_refused_by_another() {
    let db = TestDatabase::create().await;
    let (a, b) = (db.store().await, db.store().await);
    assert!(a.remember_nonce(MACHINE, "n", FAR_FUTURE).await.unwrap());
    assert!(!b.remember_nonce(MACHINE, "n", FAR_FUTURE).await.unwrap());
    // Expired but not yet swept: still refused, as in SQLite.
    assert!(b.remember_nonce(MACHINE, "old", 1_000).await.unwrap());
    assert!(!a.remember_nonce(MACHINE, "old", FAR_FUTURE).await.unwrap());
    assert_eq!(a.sweep_nonces(2_000).await.unwrap(), 1);
    assert!(b.remember_nonce(MACHINE, "old", FAR_FUTURE).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_appending_at_once_keep_one_chain() {
    let db = TestDatabase::create().await;
    let replicas: Vec<Arc<dyn Store>> = vec![
        Arc::new(db.store().await),
        Arc::new(db.store().await),
        Arc::new(db.store().await),
    ];
    let mut tasks = Vec::new();
    for (r, store) in replicas.iter().enumerate() {
        for t in 0..4 {
            let store = Arc::clone(store);
            tasks.push(tokio::spawn(async move {
                for b in 0..20 {
                    let events = (0..3)
                        .map(|e| event(&format!("r{r}t{t}"), &format!("b{b}e{e}"), AuditResult::Ok))
                        .collect();
                    let got = store
                        .append_journal(
                            JournalBatch {
                                events,
                                read_marks: Vec::new(),
                            },
                            chain(),
                        )
                        .await
                        .unwrap();
                    assert_eq!(got, [got[0], got[0] + 1, got[0] + 2]);
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let records = replicas[0].audit_range(1, 10_000).await.unwrap();
    assert_eq!(records.len(), 3 * 4 * 20 * 3);
    assert_chain(&records);
    assert_eq!(
        replicas[1].audit_head().await.unwrap().unwrap().seq,
        records.len() as u64
    );
}

/// Each journal chains its next group after the head it last wrote; here that guess is always
/// out of date (the other replica, or a change's own record, moved the head in between), so
/// every append must find that out under the lock and chain again after the real head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_after_another_replicas_chain_after_its_head() {
    let db = TestDatabase::create().await;
    let (a, b): (Arc<dyn Store>, Arc<dyn Store>) =
        (Arc::new(db.store().await), Arc::new(db.store().await));
    let mut want = 0;
    for round in 0..6u32 {
        for (name, store) in [("a", &a), ("b", &b)] {
            let batch = JournalBatch {
                events: vec![
                    event(name, &format!("read_{round}"), AuditResult::Ok),
                    event(name, &format!("list_{round}"), AuditResult::Ok),
                ],
                read_marks: Vec::new(),
            };
            let got = store.append_journal(batch, chain()).await.unwrap();
            assert_eq!(
                got,
                [want + 1, want + 2],
                "{name} chained after the real head"
            );
            want += 2;
        }
        // A change carrying its record moves the head outside either journal.
        let project = fixture::project(&format!("p{round}"));
        a.audited(signet_store::Audited {
            event: event("op", &format!("change_{round}"), AuditResult::Ok),
            chain: chain(),
        })
        .insert_project(&project)
        .await
        .unwrap();
        want += 1;
    }
    let records = b.audit_range(1, 1000).await.unwrap();
    assert_eq!(records.len() as u64, want);
    assert_chain(&records);
    assert_eq!(a.audit_head().await.unwrap().unwrap().seq, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_batch_fails_alone_in_its_group() {
    let h = TestStore::create().await;
    let store = h.pg();
    // A NUL byte cannot be stored in TEXT: that batch fails, its neighbours must not.
    let bad = JournalBatch {
        events: vec![AuditEvent {
            detail: "nul\0".to_owned(),
            ..event("a", "bad", AuditResult::Ok)
        }],
        read_marks: Vec::new(),
    };
    let mut tasks = Vec::new();
    for i in 0..64 {
        let store = Arc::clone(store);
        let batch = if i == 32 {
            bad.clone()
        } else {
            one_event(&format!("ok{i}"))
        };
        tasks.push(tokio::spawn(async move {
            AuditStore::append_journal(store.as_ref(), batch, chain()).await
        }));
    }
    let mut failed = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(seqs) => assert_eq!(seqs.len(), 1),
            Err(e) => {
                assert_eq!(e, StoreError::Corrupt);
                failed += 1;
            }
        }
    }
    assert_eq!(failed, 1);
    let records = AuditStore::audit_range(store.as_ref(), 1, 100)
        .await
        .unwrap();
    assert_eq!(records.len(), 63);
    assert_chain(&records);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_records_cannot_be_rewritten_through_sql() {
    let h = TestStore::create().await;
    let store = h.pg();
    AuditStore::append_journal(store.as_ref(), one_event("x"), chain())
        .await
        .unwrap();
    let mut conn = sql(h.database()).await;
    assert!(
        sqlx::query("UPDATE audit SET detail = 'forged'")
            .execute(&mut conn)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM audit")
            .execute(&mut conn)
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appending_after_the_head_is_removed_is_refused() {
    let h = TestStore::create().await;
    let store: Arc<dyn Store> = Arc::clone(h.pg()) as Arc<dyn Store>;
    store.append_journal(one_event("x"), chain()).await.unwrap();
    let mut conn = sql(h.database()).await;
    sqlx::query("DELETE FROM audit_head")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        store.append_journal(one_event("y"), chain()).await,
        Err(StoreError::Corrupt)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_store_is_live_and_sees_other_replicas_policy_changes() {
    let db = TestDatabase::create().await;
    let (a, b) = (db.store().await, db.store().await);
    let (state, mut rx) = watcher(&b);
    assert_eq!(state, FeedState::Live);

    a.insert_allowlist_entry(&fixture::allowlist_entry("10.0.0.0/8", fixture::NOW))
        .await
        .unwrap();
    expect(&mut rx, Change::Policy).await;

    a.create_vault(&fixture::vault()).await.unwrap();
    expect(&mut rx, Change::Policy).await;
    a.set_ip_allowlist_enabled(true).await.unwrap();
    expect(&mut rx, Change::Policy).await;
    a.set_tokenless_enrollment(true).await.unwrap();
    expect(&mut rx, Change::Policy).await;
    a.set_cli_key_ttl(3_600_000).await.unwrap();
    expect(&mut rx, Change::Policy).await;
    let entry = a.allowlist().await.unwrap().remove(0);
    a.remove_allowlist_entry(&entry.id).await.unwrap();
    expect(&mut rx, Change::Policy).await;

    // A write that fails (and so rolls back) announces nothing.
    assert_eq!(
        a.remove_allowlist_entry(&entry.id).await,
        Err(StoreError::NotFound)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err(), "a rolled-back write was announced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_listener_reports_lost_then_resumed() {
    let db = TestDatabase::create().await;
    let (a, b) = (db.store().await, db.store().await);
    let (state, mut rx) = watcher(&b);
    assert_eq!(state, FeedState::Live);

    let mut conn = sql(&db).await;
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'signet-listener'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(killed.len(), 2, "one listener per store");

    expect(&mut rx, Change::Lost).await;
    expect(&mut rx, Change::Resumed).await;
    let (state, _) = watcher(&b);
    assert_eq!(state, FeedState::Live);

    // And it hears changes again.
    a.insert_allowlist_entry(&fixture::allowlist_entry("10.0.0.0/8", fixture::NOW))
        .await
        .unwrap();
    expect(&mut rx, Change::Policy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_store_stops_its_listener() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    drop(store);
    let mut conn = sql(&db).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'signet-listener'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if n == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the listener outlived its store");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Fills a store with at least one row in most tables.
async fn populate(store: &Arc<dyn Store>) {
    store.create_vault(&fixture::vault()).await.unwrap();
    let p = add_project(store, "p").await;
    let s = add_secret(store, &p.id, "s").await;
    let m = add_machine(store, "m").await;
    store.attach(&m.id, &p.id).await.unwrap();
    store.grant(&m.id, &s.id).await.unwrap();
    store
        .insert_operator(&fixture::operator("op", fixture::NOW))
        .await
        .unwrap();
    let u = fixture::user("alice", fixture::NOW);
    store
        .insert_user_with_codes(&u, &[fixture::random32()])
        .await
        .unwrap();
    store
        .insert_allowlist_entry(&fixture::allowlist_entry("10.0.0.0/8", fixture::NOW))
        .await
        .unwrap();
    store
        .remember_nonce(MACHINE, "n", FAR_FUTURE)
        .await
        .unwrap();
    store
        .append_journal(
            JournalBatch {
                events: vec![event("a", "x", AuditResult::Ok)],
                read_marks: vec![ReadMark {
                    machine: m.id,
                    secret: s.id,
                    version: 1,
                }],
            },
            chain(),
        )
        .await
        .unwrap();
}

fn find<'a>(tables: &'a [Table], name: &str) -> &'a Table {
    tables.iter().find(|t| t.name == name).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_import_round_trip() {
    let from = TestStore::create().await;
    let store: Arc<dyn Store> = Arc::clone(from.pg()) as Arc<dyn Store>;
    populate(&store).await;
    let exported = from.pg().export_tables().await.unwrap();
    assert!(
        !exported
            .iter()
            .any(|t| t.name == "signet_schema_migrations")
    );
    let vault = find(&exported, "vault");
    let col = vault
        .columns
        .iter()
        .position(|c| c == "ip_allowlist_enabled")
        .unwrap();
    assert_eq!(vault.rows[0][col], Cell::Int(0), "booleans travel as 0/1");
    let names: Vec<&str> = exported.iter().map(|t| t.name.as_str()).collect();
    let pos = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(pos("projects") < pos("secrets") && pos("secrets") < pos("secret_versions"));
    assert!(pos("users") < pos("operators") && pos("machines") < pos("grants"));

    let to = TestStore::create().await;
    to.pg().import_tables(exported.clone()).await.unwrap();
    assert_eq!(to.pg().export_tables().await.unwrap(), exported);
    let target: Arc<dyn Store> = Arc::clone(to.pg()) as Arc<dyn Store>;
    // The chain continues where it left off.
    target
        .append_journal(one_event("after"), chain())
        .await
        .unwrap();
    assert_chain(&target.audit_range(1, 10).await.unwrap());

    assert_eq!(
        to.pg().import_tables(exported).await,
        Err(StoreError::Conflict(Conflict::NotEmpty))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_import_writes_nothing() {
    let from = TestStore::create().await;
    let store: Arc<dyn Store> = Arc::clone(from.pg()) as Arc<dyn Store>;
    populate(&store).await;
    let good = from.pg().export_tables().await.unwrap();
    let to = TestStore::create().await;

    let mut unknown_table = good.clone();
    unknown_table.push(Table {
        name: "signet_schema_migrations".to_owned(),
        columns: vec!["version".to_owned()],
        rows: vec![vec![Cell::Int(1)]],
    });
    let mut unknown_column = good.clone();
    unknown_column[0].columns[1] = "id; DROP TABLE audit".to_owned();
    let mut ill_typed = good.clone();
    let last = ill_typed.iter().rposition(|t| !t.rows.is_empty()).unwrap();
    ill_typed[last].rows[0][0] = Cell::Bytes(vec![1]);
    let mut bad_bool = good.clone();
    let vault = bad_bool.iter_mut().find(|t| t.name == "vault").unwrap();
    let col = vault
        .columns
        .iter()
        .position(|c| c == "tokenless_enrollment")
        .unwrap();
    vault.rows[0][col] = Cell::Int(2);
    let mut short_row = good.clone();
    short_row[0].rows[0].pop();

    for bad in [
        unknown_table,
        unknown_column,
        ill_typed,
        bad_bool,
        short_row,
    ] {
        assert_eq!(to.pg().import_tables(bad).await, Err(StoreError::Corrupt));
        let empty = to.pg().export_tables().await.unwrap();
        // The keyring's generation 0 row is every migrated store's from the start.
        assert!(
            empty.iter().all(|t| t.state_rows() == 0),
            "nothing was written"
        );
    }
    to.pg().import_tables(good).await.unwrap();
}

/// A chain that panics on one action.
struct Grenade;

impl signet_store::AuditChain for Grenade {
    fn link(&self, prev: &[u8; 32], seq: u64, event: &AuditEvent) -> [u8; 32] {
        assert_ne!(event.action, "boom", "the chain refuses");
        fixture::TestChain.link(prev, seq, event)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_chain_fails_its_batch_not_the_journal() {
    let h = TestStore::create().await;
    let store = h.pg();
    assert_eq!(
        store
            .append_journal(one_event("boom"), Arc::new(Grenade))
            .await,
        Err(StoreError::Unavailable)
    );
    assert_eq!(
        store.append_journal(one_event("fine"), chain()).await,
        Ok(vec![1])
    );
    assert_chain(&store.audit_range(1, 10).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_replicas_audit_appends_are_reported_as_audit_changes_not_policy_changes() {
    let db = TestDatabase::create().await;
    let (a, b) = (db.store().await, db.store().await);
    let (state, mut rx) = watcher(&b);
    assert_eq!(state, FeedState::Live);

    // A plain append, and a change carrying its record: each wakes the other replica's event
    // hub, and neither makes its policy cache reload.
    a.append_journal(one_event("x"), chain()).await.unwrap();
    expect(&mut rx, Change::Audit).await;
    let a: Arc<dyn Store> = Arc::new(a);
    let project = add_project(&a, "p").await;
    let secret = add_secret(&a, &project.id, "s").await;
    let record = signet_store::Audited {
        event: event("op", "secret_delete", AuditResult::Ok),
        chain: chain(),
    };
    a.audited(record)
        .delete_secret(&secret.id, fixture::NOW)
        .await
        .unwrap();
    expect(&mut rx, Change::Audit).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(c) = rx.try_recv() {
        assert_ne!(
            c,
            Change::Policy,
            "an audit append was reported as a policy change"
        );
    }
}
