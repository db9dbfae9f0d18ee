//! Single-use nonces.

use std::sync::Arc;

use super::fixture::FAR_FUTURE;
use crate::Store;

const MACHINE: &str = "0b6f7a51-8b0e-4a57-9a7e-3c1c1b0a4f11";
const OPERATOR: &str = "7f3a9d0c-2e41-4c8b-b1f5-0d6e2a9c4b27";

/// A pair is fresh once; the same nonce from another principal, or another nonce, is fresh too.
pub async fn a_nonce_is_fresh_once(store: Arc<dyn Store>) {
    assert!(
        store
            .remember_nonce(MACHINE, "n-1", FAR_FUTURE)
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_nonce(MACHINE, "n-1", FAR_FUTURE)
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_nonce(MACHINE, "n-1", FAR_FUTURE)
            .await
            .unwrap()
    );
    assert!(
        store
            .remember_nonce(OPERATOR, "n-1", FAR_FUTURE)
            .await
            .unwrap()
    );
    assert!(
        store
            .remember_nonce(MACHINE, "n-2", FAR_FUTURE)
            .await
            .unwrap()
    );
}

/// Once a sweep past its expiry has forgotten a pair, it may be used again (and is then
/// remembered anew). Whether an expired pair is refused before that sweep is left to the
/// backend: the trait only says it *may* be forgotten.
pub async fn an_expired_nonce_may_be_reused(store: Arc<dyn Store>) {
    assert!(store.remember_nonce(MACHINE, "old", 1_000).await.unwrap());
    assert_eq!(store.sweep_nonces(2_000).await.unwrap(), 1);
    assert!(
        store
            .remember_nonce(MACHINE, "old", FAR_FUTURE)
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_nonce(MACHINE, "old", FAR_FUTURE)
            .await
            .unwrap()
    );
}

/// A sweep forgets exactly the pairs that expired before its time and counts them.
pub async fn sweeping_forgets_only_expired_nonces(store: Arc<dyn Store>) {
    assert!(store.remember_nonce(MACHINE, "a", 1_000).await.unwrap());
    assert!(store.remember_nonce(MACHINE, "b", 2_000).await.unwrap());
    assert!(
        store
            .remember_nonce(OPERATOR, "c", FAR_FUTURE)
            .await
            .unwrap()
    );

    assert_eq!(store.sweep_nonces(1_500).await.unwrap(), 1);
    assert_eq!(store.sweep_nonces(1_500).await.unwrap(), 0);
    assert_eq!(store.sweep_nonces(2_500).await.unwrap(), 1);
    assert!(
        !store
            .remember_nonce(OPERATOR, "c", FAR_FUTURE)
            .await
            .unwrap(),
        "an unexpired pair survives sweeps"
    );
}

/// However many requests race with one nonce, one is admitted.
pub async fn concurrent_uses_of_one_nonce_admit_one(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .remember_nonce(MACHINE, "raced", FAR_FUTURE)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        admitted += usize::from(task.await.unwrap());
    }
    assert_eq!(admitted, 1);
}

/// The scrape's nonce-set size (`Instrumented::nonces_held`) is known on every backend and
/// follows what was remembered and swept: a new pair adds one, a replay nothing, a sweep takes
/// away what it forgot.
pub async fn the_nonce_count_follows_inserts_and_sweeps(store: Arc<dyn Store>) {
    let held = |s: &Arc<dyn Store>| s.nonces_held().expect("every backend counts its nonces");
    let start = held(&store);
    assert!(store.remember_nonce(MACHINE, "n1", 1_000).await.unwrap());
    assert!(store.remember_nonce(MACHINE, "n2", 2_000).await.unwrap());
    assert!(
        store
            .remember_nonce(OPERATOR, "n3", FAR_FUTURE)
            .await
            .unwrap()
    );
    assert_eq!(held(&store), start + 3);
    assert!(!store.remember_nonce(MACHINE, "n1", 1_000).await.unwrap());
    assert_eq!(held(&store), start + 3, "a replay is not a new pair");
    assert_eq!(store.sweep_nonces(1_500).await.unwrap(), 1);
    assert_eq!(held(&store), start + 2);
    assert_eq!(store.sweep_nonces(2_500).await.unwrap(), 1);
    assert_eq!(held(&store), start + 1);
}
