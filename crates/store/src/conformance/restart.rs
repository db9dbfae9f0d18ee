//! What a store opened over existing data must already know: a restarted process, or another
//! replica, refuses every stored nonce from its first request on, however far it has got
//! in loading them.

use std::sync::Arc;

use super::Harness;
use super::fixture::{FAR_FUTURE, chain, event};
use crate::{AuditResult, JournalBatch, Store};

const MACHINE: &str = "0b6f7a51-8b0e-4a57-9a7e-3c1c1b0a4f11";
const OTHER: &str = "5d0c8b1e-6f2a-4e7d-9c3b-2a1f0e9d8c7b";

/// Enough pairs that a backend loading them at start-up is usually still at it when the first
/// requests arrive; the assertions hold either way.
const STORED: usize = 1_000;

/// The expiry pair `i` was stored with: spread over a five-minute window, as a full window at a
/// steady rate leaves them. A replay carries its original's expiry (callers derive it from the
/// signed timestamp).
fn expiry(i: usize) -> i64 {
    1_700_000_000_000 + (i as i64 * 300_000) / STORED as i64
}

/// Stored pairs are refused by a store opened after them, the last stored first; a new pair is
/// admitted once, also when requests race for it and for a stored pair.
pub async fn stored_nonces_are_refused_by_a_store_opened_after_them(harness: &dyn Harness) {
    let first = harness.store();
    for i in 0..STORED {
        assert!(
            first
                .remember_nonce(MACHINE, &format!("p-{i}"), expiry(i))
                .await
                .unwrap()
        );
    }
    // Nonce writes need not be awaited; a later audit append is what makes them durable.
    let batch = JournalBatch {
        events: vec![event("a", "request", AuditResult::Ok)],
        read_marks: Vec::new(),
    };
    first.append_journal(batch, chain()).await.unwrap();

    let second = harness
        .reopen()
        .await
        .expect("this body needs a harness that opens a second store");
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store: Arc<dyn Store> = Arc::clone(&second);
            let (nonce, expires) = if i % 2 == 0 {
                (format!("p-{}", STORED - 2), expiry(STORED - 2))
            } else {
                ("fresh".to_owned(), FAR_FUTURE)
            };
            tokio::spawn(async move {
                let fresh = store
                    .remember_nonce(MACHINE, &nonce, expires)
                    .await
                    .unwrap();
                (nonce, fresh)
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
    for i in [STORED - 1, 0, STORED / 2] {
        assert!(
            !second
                .remember_nonce(MACHINE, &format!("p-{i}"), expiry(i))
                .await
                .unwrap(),
            "stored pair {i} admitted by the second store"
        );
    }
    assert!(
        second
            .remember_nonce(OTHER, "p-0", expiry(0))
            .await
            .unwrap(),
        "the same nonce from another principal is another pair"
    );
    assert!(
        !first
            .remember_nonce(MACHINE, "p-1", expiry(1))
            .await
            .unwrap()
    );
}
