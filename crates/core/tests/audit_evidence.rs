//! Issue 13 §6 through core on a real SQLite store: a machine's read keeps what it signed, and
//! the evidence verifies with the machine's key as `signet audit verify --signatures` checks it.
//! Someone holding the database **and the root key** can append a read that the chain accepts
//! (they can compute its links), but not one whose evidence verifies: they lack the machine's
//! private key. Evidence copied from a genuine read onto another path fails as well.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::sync::Arc;

use signet_core::audit::{ChainKey, evidence};
use signet_core::auth::AuthedOperator;
use signet_core::{Signet, SignetConfig, SystemClock};
use signet_crypto::RootKey;
use signet_proto::PublicKey;
use signet_store::{ActorKind, AuditEvent, AuditResult, JournalBatch, Role, SignedEvidence, Store};
use signet_store_sqlite::SqliteStore;
use signet_testkit::{granted_machine, signed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_forged_with_the_root_key_passes_the_chain_but_not_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("signet.db")).unwrap());
    let root = RootKey::generate().unwrap();
    let hex = root.to_hex();
    let signet = Signet::open(
        Arc::clone(&store),
        root,
        Arc::new(SystemClock),
        SignetConfig::default(),
    )
    .await
    .unwrap();
    let (rec, _) = signet
        .operators()
        .create_operator("owner", true)
        .await
        .unwrap();
    let op = AuthedOperator::key(rec, Role::Owner, signet_testkit::LOCAL);
    let reader = granted_machine(&signet, &op, "app", None).await;
    let mut parts = Vec::new();
    let m = signet
        .auth()
        .authenticate_machine(&signed(
            &reader.seed,
            &reader.id,
            &reader.path,
            signet.now_ms(),
            &mut parts,
        ))
        .await
        .unwrap();
    signet
        .reads()
        .read_secret(&m, reader.secret.as_str())
        .await
        .unwrap();

    let key = PublicKey::from_bytes(&reader.seed.signing_key().verifying_key().to_bytes()).unwrap();
    let records = store.audit_range(1, 1000).await.unwrap();
    let read = records
        .iter()
        .find(|r| r.event.action == "secret_read")
        .expect("the read's record");
    let genuine = read
        .event
        .evidence
        .clone()
        .expect("the read keeps its evidence");
    assert_eq!(genuine.method, "GET");
    assert_eq!(genuine.path, reader.path);
    evidence(&genuine)
        .verify(&key)
        .expect("the machine signed it");

    // The forger: the root key, so the chain links; a fresh nonce and a made-up signature.
    let chain = Arc::new(ChainKey::new(RootKey::from_hex(&hex).unwrap().audit_key()));
    let forged = |ev: SignedEvidence| AuditEvent {
        evidence: Some(Arc::new(ev)),
        ..read.event.clone()
    };
    let invented = SignedEvidence {
        nonce: "ZZZZZZZZZZZZZZZZZZZZZZ==".to_owned(),
        signature: [7; 64],
        ..(*genuine).clone()
    };
    let moved = SignedEvidence {
        path: "/v1/secret/sk_someother1".to_owned(),
        ..(*genuine).clone()
    };
    store
        .append_journal(
            JournalBatch {
                events: vec![forged(invented), forged(moved)],
                read_marks: Vec::new(),
            },
            chain,
        )
        .await
        .unwrap();
    let report = signet.audit().audit_verify(&op).await.unwrap();
    assert!(
        report.ok,
        "the chain accepts what the root key links: {report:?}"
    );
    let records = store.audit_range(1, 1000).await.unwrap();
    let reads: Vec<_> = records
        .iter()
        .filter(|r| r.event.actor_kind == ActorKind::Machine && r.event.result == AuditResult::Ok)
        .filter_map(|r| r.event.evidence.as_ref().map(|e| (r.seq, e)))
        .collect();
    assert_eq!(reads.len(), 3, "{reads:?}");
    assert!(evidence(reads[0].1).verify(&key).is_ok());
    for (seq, ev) in &reads[1..] {
        assert!(
            evidence(ev).verify(&key).is_err(),
            "record {seq}: no signature by the machine"
        );
    }
}
