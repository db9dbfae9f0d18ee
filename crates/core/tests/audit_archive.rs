//! `signet audit archive` on a long backlog, through core on a real SQLite store: one call stops
//! after its time budget and says more is waiting (so no client times out), the next calls carry
//! on where it stopped, and an attempt that fails leaves no partial file in the archive folder.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::sync::Arc;
use std::time::Duration;

use signet_core::audit::ArchiveSettings;
use signet_core::auth::AuthedOperator;
use signet_core::{CoreError, Signet, SignetConfig, SystemClock};
use signet_crypto::RootKey;
use signet_proto::archive::Checkpoint;
use signet_store::{Role, Store};
use signet_store_sqlite::SqliteStore;

async fn vault(dir: &std::path::Path) -> (Signet, AuthedOperator) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("signet.db")).unwrap());
    let signet = Signet::open(
        store,
        RootKey::generate().unwrap(),
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
    // Audited operator actions, enough for several two-record segments.
    for i in 0..8 {
        signet
            .secrets()
            .create_project(&op, &format!("p{i}"))
            .await
            .unwrap();
    }
    (signet, op)
}

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_out_of_budget_says_more_and_the_next_calls_finish_the_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let (signet, op) = vault(dir.path()).await;
    let settings = ArchiveSettings {
        dir: dir.path().join("archive"),
        segment_records: 2,
        // Spent after the first segment of every call.
        call_budget: Duration::ZERO,
    };
    let first = signet
        .audit()
        .archive_now(&op, Some(&settings))
        .await
        .unwrap();
    assert_eq!(
        first.segments.len(),
        1,
        "one segment per call at a zero budget"
    );
    assert!(first.more, "the backlog is not done");
    let mut archived = first.segments;
    for _ in 0..100 {
        let next = signet
            .audit()
            .archive_now(&op, Some(&settings))
            .await
            .unwrap();
        assert!(next.segments.len() <= 1);
        archived.extend(next.segments);
        if !next.more {
            break;
        }
    }
    // Contiguous segments from record 1, none archived twice.
    let ranges: Vec<(u64, u64)> = archived.iter().map(|c| (c.first_seq, c.last_seq)).collect();
    assert!(ranges.len() >= 4, "{ranges:?}");
    for (i, (first, last)) in ranges.iter().enumerate() {
        assert_eq!(*first, 2 * i as u64 + 1, "{ranges:?}");
        assert_eq!(*last, first + 1);
    }
    // A call with time to spare archives what has filled since and says nothing more waits.
    let generous = ArchiveSettings {
        call_budget: Duration::from_secs(60),
        ..settings
    };
    let rest = signet
        .audit()
        .archive_now(&op, Some(&generous))
        .await
        .unwrap();
    assert!(!rest.more);
    assert!(signet.audit().audit_verify(&op).await.unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let (signet, op) = vault(dir.path()).await;
    let archive = dir.path().join("archive");
    // The first segment's final name is taken by a folder, so its rename fails after the
    // partial file has been written and synced.
    std::fs::create_dir_all(archive.join(Checkpoint::segment_name(1, 2))).unwrap();
    let settings = ArchiveSettings {
        dir: archive.clone(),
        segment_records: 2,
        call_budget: Duration::from_secs(60),
    };
    let failed = signet.audit().archive_now(&op, Some(&settings)).await;
    assert_eq!(
        failed.map(|a| a.segments.len()),
        Err(CoreError::Unavailable)
    );
    assert_eq!(leftovers(&archive), Vec::<String>::new());
    // Nothing was pruned: the whole log still verifies from record 1.
    assert!(signet.audit().audit_verify(&op).await.unwrap().ok);
}
