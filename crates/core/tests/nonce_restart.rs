//! A signed request replayed after the server restarts, on the manual clock: the SQLite store
//! loads its stored nonces on a thread of its own while start-up goes on, and a request that
//! arrives meanwhile first loads the stored pairs with its own expiry (which its signed timestamp
//! gives), so the replay is refused right after the restart; once the clock window has closed on
//! it, the window refuses it, and the sweep may forget it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::sync::Arc;

use signet_core::auth::AuthedOperator;
use signet_core::{Clock, CoreError, Signet, SignetConfig};
use signet_crypto::RootKey;
use signet_store::Store;
use signet_store_sqlite::SqliteStore;
use signet_testkit::{ManualClock, granted_machine, signed};

async fn open(path: &std::path::Path, hex: &str, clock: &Arc<ManualClock>) -> Signet {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path).unwrap());
    Signet::open(
        store,
        RootKey::from_hex(hex).unwrap(),
        clock.clone(),
        SignetConfig::default(),
    )
    .await
    .expect("open signet")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_answered_before_a_restart_is_refused_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signet.db");
    let hex = RootKey::generate().unwrap().to_hex();
    let clock = Arc::new(ManualClock::default());

    let signet = open(&path, &hex, &clock).await;
    let (rec, _) = signet
        .operators()
        .create_operator("owner", true)
        .await
        .unwrap();
    let op = AuthedOperator::key(rec, signet_store::Role::Owner, signet_testkit::LOCAL);
    let m = granted_machine(&signet, &op, "reader", None).await;
    let mut parts = Vec::new();
    let req = signed(&m.seed, &m.id, &m.path, clock.now_ms(), &mut parts);
    let machine = signet.auth().authenticate_machine(&req).await.unwrap();
    // Answered: its read record is durable, and with it the nonce.
    signet
        .reads()
        .read_secret(&machine, m.secret.as_str())
        .await
        .unwrap();
    drop(signet);

    // Restarted a second later, within the window: refused at once.
    clock.advance(1_000);
    let signet = open(&path, &hex, &clock).await;
    assert!(matches!(
        signet.auth().authenticate_machine(&req).await,
        Err(CoreError::Unauthenticated)
    ));
    // A fresh request is served.
    let mut fresh_parts = Vec::new();
    let fresh = signed(&m.seed, &m.id, &m.path, clock.now_ms(), &mut fresh_parts);
    signet.auth().authenticate_machine(&fresh).await.unwrap();

    // After the window (and a sweep), the replay is still refused: by its timestamp now.
    clock.advance(301_000);
    signet.sweep().await.unwrap();
    drop(signet);
    let signet = open(&path, &hex, &clock).await;
    assert!(matches!(
        signet.auth().authenticate_machine(&req).await,
        Err(CoreError::Unauthenticated)
    ));
    let mut later_parts = Vec::new();
    let later = signed(&m.seed, &m.id, &m.path, clock.now_ms(), &mut later_parts);
    signet.auth().authenticate_machine(&later).await.unwrap();
}
