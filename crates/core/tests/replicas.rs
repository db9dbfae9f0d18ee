//! Two `Signet` instances over one database stand for two replicas (issue 9, finding 3): a
//! policy change made through one binds the other at its very next request, while the change
//! feed delivers nothing (PostgreSQL with the `change_feed_drop` fault point armed; SQLite, whose
//! feed never reports another process's writes).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::sync::Arc;

use signet_core::auth::AuthedOperator;
use signet_core::{CoreError, Signet, SignetConfig, SystemClock};
use signet_crypto::RootKey;
use signet_proto::SecretSeed;
use signet_store::Store;
use signet_store_sqlite::SqliteStore;
use signet_testkit::postgres::TestDatabase;
use signet_testkit::{granted_machine, signed};

/// Replica A (where the operator acts) and replica B (where the machine reads), one vault.
struct Pair {
    a: Signet,
    b: Signet,
    op: AuthedOperator,
    machine: String,
    seed: SecretSeed,
    path: String,
}

async fn pair(a_store: Arc<dyn Store>, b_store: Arc<dyn Store>) -> Pair {
    let root = RootKey::generate().unwrap();
    let hex = root.to_hex();
    let a = Signet::open(
        a_store,
        root,
        Arc::new(SystemClock),
        SignetConfig::default(),
    )
    .await
    .expect("open A");
    // B opens after A created the vault, under the same root key, and loads its policy cache
    // now: everything later reaches it only through the store.
    let b = Signet::open(
        b_store,
        RootKey::from_hex(&hex).unwrap(),
        Arc::new(SystemClock),
        SignetConfig::default(),
    )
    .await
    .expect("open B");
    let (rec, _) = a.operators().create_operator("owner", true).await.unwrap();
    let op = AuthedOperator::key(rec, signet_store::Role::Owner, signet_testkit::LOCAL);
    let reader = granted_machine(&a, &op, "reader", None).await;
    Pair {
        a,
        b,
        op,
        machine: reader.id,
        seed: reader.seed,
        path: reader.path,
    }
}

impl Pair {
    /// One freshly signed machine request to `signet`, from 127.0.0.1.
    async fn ask(&self, signet: &Signet) -> Result<(), CoreError> {
        let mut parts = Vec::new();
        signet
            .auth()
            .authenticate_machine(&signed(
                &self.seed,
                &self.machine,
                &self.path,
                signet.now_ms(),
                &mut parts,
            ))
            .await
            .map(drop)
    }

    /// Flips the allowlist through A, over and over, and asks B right after each flip.
    async fn flip_through_a_read_through_b(&self, flips: usize) {
        assert_eq!(
            self.ask(&self.b).await,
            Ok(()),
            "B serves before any change"
        );
        for i in 0..flips {
            self.a
                .network()
                .allowlist_set_enabled(&self.op, true)
                .await
                .unwrap();
            assert_eq!(
                self.ask(&self.b).await,
                Err(CoreError::Forbidden),
                "flip {i}: B admitted a request after A enabled an empty allowlist"
            );
            self.a
                .network()
                .allowlist_set_enabled(&self.op, false)
                .await
                .unwrap();
            assert_eq!(
                self.ask(&self.b).await,
                Ok(()),
                "flip {i}: B still refused after A disabled the allowlist"
            );
        }
        // Entries count the same way: enabled with 127.0.0.0/8 admits, its removal refuses.
        self.a
            .network()
            .allowlist_set_enabled(&self.op, true)
            .await
            .unwrap();
        let entry = self
            .a
            .network()
            .allowlist_add(&self.op, "127.0.0.0/8", "local")
            .await
            .unwrap();
        assert_eq!(self.ask(&self.b).await, Ok(()), "B missed an added entry");
        self.a
            .network()
            .allowlist_remove(&self.op, &entry.id)
            .await
            .unwrap();
        assert_eq!(
            self.ask(&self.b).await,
            Err(CoreError::Forbidden),
            "B missed a removed entry"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_enforce_a_policy_change_at_the_next_request_without_the_feed() {
    assert!(
        fail::has_failpoints(),
        "this test needs the change_feed_drop fault point compiled in"
    );
    // Every notification is swallowed on arrival, in both stores (one process): only the
    // policy stamp can carry the change to B.
    fail::cfg("change_feed_drop", "return").unwrap();
    let db = TestDatabase::create().await;
    let a: Arc<dyn Store> = Arc::new(db.store().await);
    let b: Arc<dyn Store> = Arc::new(db.store().await);
    let p = pair(a, b).await;
    p.flip_through_a_read_through_b(25).await;
    drop(p);
    fail::remove("change_feed_drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_processes_on_one_file_enforce_a_policy_change_at_the_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signet.db");
    let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let p = pair(a, b).await;
    p.flip_through_a_read_through_b(25).await;
}
