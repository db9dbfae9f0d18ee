//! Two `Signet` instances over one database stand for two replicas (issue 9, finding 3): a
//! policy change made through one binds the other at its very next request, while the change
//! feed delivers nothing (PostgreSQL with the `change_feed_drop` fault point armed; SQLite, whose
//! feed never reports another process's writes).
//!
//! The same pairs check the stamped caches (issue 13): B reads the secret (filling its cache
//! of the machine and the read view), A changes what B cached, and B's very next read must
//! answer from the change; a request answered by one replica is refused as a replay by the other.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::sync::Arc;

use signet_core::auth::AuthedOperator;
use signet_core::secret::SecretInput;
use signet_core::{CoreError, Signet, SignetConfig, SystemClock};
use signet_crypto::RootKey;
use signet_proto::SecretSeed;
use signet_store::Store;
use signet_store_sqlite::SqliteStore;
use signet_testkit::postgres::TestDatabase;
use signet_testkit::{granted_machine, signed};
use zeroize::Zeroizing;

/// Replica A (where the operator acts) and replica B (where the machine reads), one vault.
struct Pair {
    a: Signet,
    b: Signet,
    op: AuthedOperator,
    machine: String,
    seed: SecretSeed,
    path: String,
    secret: String,
    project: String,
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
        secret: reader.secret.to_string(),
        project: reader.project.to_string(),
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

    /// One freshly signed read of the granted secret from `signet`: its value.
    async fn read(&self, signet: &Signet) -> Result<String, CoreError> {
        let mut parts = Vec::new();
        let m = signet
            .auth()
            .authenticate_machine(&signed(
                &self.seed,
                &self.machine,
                &self.path,
                signet.now_ms(),
                &mut parts,
            ))
            .await?;
        let value = signet.reads().read_secret(&m, &self.secret).await?;
        Ok(value.0.to_string())
    }

    /// B reads twice before each change A makes (so its caches are warm and stamped), then the
    /// very next read on B must reflect the change.
    /// `replicas_share_nonces`: PostgreSQL's nonce table decides for every replica; two SQLite
    /// processes each decide on their own in-memory set, so a replay across them is not refused.
    async fn change_through_a_read_through_b(&self, replicas_share_nonces: bool) {
        let (a, b, op, id) = (&self.a, &self.b, &self.op, self.machine.as_str());
        let warm = || async {
            assert_eq!(self.read(b).await.as_deref(), Ok("v"));
            assert_eq!(self.read(b).await.as_deref(), Ok("v"));
        };
        let secret = [self.secret.clone()];

        warm().await;
        a.machines()
            .set_grants(op, id, &secret, false)
            .await
            .unwrap();
        assert_eq!(
            self.read(b).await,
            Err(CoreError::Forbidden),
            "a removed grant"
        );
        a.machines()
            .set_grants(op, id, &secret, true)
            .await
            .unwrap();
        warm().await;

        a.machines()
            .set_machine_enabled(op, id, false)
            .await
            .unwrap();
        assert_eq!(self.read(b).await, Err(CoreError::Forbidden), "a disable");
        a.machines()
            .set_machine_enabled(op, id, true)
            .await
            .unwrap();
        warm().await;

        a.machines()
            .set_membership(op, id, &self.project, false)
            .await
            .unwrap();
        assert_eq!(self.read(b).await, Err(CoreError::Forbidden), "a detach");
        a.machines()
            .set_membership(op, id, &self.project, true)
            .await
            .unwrap();
        a.machines()
            .set_grants(op, id, &secret, true)
            .await
            .unwrap();
        warm().await;

        a.secrets()
            .update_secret(
                op,
                &self.secret,
                SecretInput::Value(Zeroizing::new("w".into())),
                None,
            )
            .await
            .unwrap();
        assert_eq!(self.read(b).await.as_deref(), Ok("w"), "a new version");
        assert_eq!(self.read(b).await.as_deref(), Ok("w"));

        // A request one replica answered is a replay on the other, cache or not.
        if replicas_share_nonces {
            let mut parts = Vec::new();
            let req = signed(&self.seed, id, &self.path, a.now_ms(), &mut parts);
            assert!(a.auth().authenticate_machine(&req).await.is_ok());
            assert_eq!(
                b.auth().authenticate_machine(&req).await.map(drop),
                Err(CoreError::Unauthenticated),
                "a replay across replicas"
            );
        }

        a.machines().revoke_machine(op, id).await.unwrap();
        assert_eq!(
            self.read(b).await,
            Err(CoreError::Unauthenticated),
            "a revocation"
        );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_see_access_changes_at_the_next_read_despite_their_caches() {
    let db = TestDatabase::create().await;
    let a: Arc<dyn Store> = Arc::new(db.store().await);
    let b: Arc<dyn Store> = Arc::new(db.store().await);
    pair(a, b).await.change_through_a_read_through_b(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_processes_see_access_changes_at_the_next_read_despite_their_caches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signet.db");
    let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    pair(a, b)
        .await
        .change_through_a_read_through_b(false)
        .await;
}
