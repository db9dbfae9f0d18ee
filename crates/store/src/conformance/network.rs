//! The vault IP allowlist.

use std::sync::Arc;

use super::fixture;
use crate::{Conflict, Store, StoreError};

/// Entries read back as stored, oldest first.
pub async fn allowlist_round_trips_oldest_first(store: Arc<dyn Store>) {
    assert_eq!(store.allowlist().await.unwrap(), []);
    let office = fixture::allowlist_entry("198.51.100.0/24", fixture::NOW + 1);
    let vpn = fixture::allowlist_entry("10.8.0.0/16", fixture::NOW);
    let v6 = fixture::allowlist_entry("2001:db8::/32", fixture::NOW + 2);
    for e in [&office, &vpn, &v6] {
        store.insert_allowlist_entry(e).await.unwrap();
    }
    assert_eq!(store.allowlist().await.unwrap(), [vpn, office, v6]);
}

/// A CIDR is listed once.
pub async fn a_cidr_is_listed_once(store: Arc<dyn Store>) {
    let first = fixture::allowlist_entry("10.8.0.0/16", fixture::NOW);
    store.insert_allowlist_entry(&first).await.unwrap();
    let twin = fixture::allowlist_entry("10.8.0.0/16", fixture::NOW + 1);
    assert_eq!(
        store.insert_allowlist_entry(&twin).await,
        Err(StoreError::Conflict(Conflict::Cidr))
    );
    assert_eq!(store.allowlist().await.unwrap(), [first]);
}

/// Removing takes the entry out; removing it again, or an unknown id, is `NotFound`.
pub async fn removing_needs_the_entry(store: Arc<dyn Store>) {
    let keep = fixture::allowlist_entry("10.8.0.0/16", fixture::NOW);
    let gone = fixture::allowlist_entry("198.51.100.0/24", fixture::NOW + 1);
    store.insert_allowlist_entry(&keep).await.unwrap();
    store.insert_allowlist_entry(&gone).await.unwrap();

    store.remove_allowlist_entry(&gone.id).await.unwrap();
    assert_eq!(store.allowlist().await.unwrap(), [keep]);
    assert_eq!(
        store.remove_allowlist_entry(&gone.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.remove_allowlist_entry("ip_unknown").await,
        Err(StoreError::NotFound)
    );
}
