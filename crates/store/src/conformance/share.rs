//! One-time share links: stored as given, listed newest first, closed exactly once (the sealed
//! value erased with it), and swept to `expired` once past their expiry.

use std::sync::Arc;

use signet_proto::{OperatorId, ShareId, UserId};

use super::fixture::{self, HOUR, NOW};
use crate::{Cell, Conflict, ShareRecord, ShareStatus, Store, StoreError};

/// A pending share with recognisable sealed bytes, created at `created_ms`.
pub(crate) fn share(created_ms: i64, expires_ms: i64) -> ShareRecord {
    ShareRecord {
        id: ShareId::generate(),
        secret_hash: fixture::random32(),
        passphrase_hash: Some(format!("$argon2id$v=19$m=19456,t=2,p=1$phc-{created_ms}")),
        wrapped_dek: Some(fixture::random32().to_vec()),
        ciphertext: Some(fixture::random32().to_vec()),
        created_by: OperatorId::generate(),
        created_by_user: Some(UserId::generate()),
        created_ms,
        expires_ms,
        status: ShareStatus::Pending,
        closed_ms: None,
    }
}

/// Whether `needle` occurs in any cell of any table the store exports: its raw rows.
async fn stored_anywhere(store: &Arc<dyn Store>, needle: &[u8]) -> bool {
    store.export_tables().await.unwrap().iter().any(|t| {
        t.rows.iter().flatten().any(|c| match c {
            Cell::Bytes(b) => b.windows(needle.len()).any(|w| w == needle),
            Cell::Text(s) => s.as_bytes().windows(needle.len()).any(|w| w == needle),
            _ => false,
        })
    })
}

/// Shares read back exactly as stored, newest first and by id; a secret digest is unique.
pub async fn shares_round_trip_newest_first(store: Arc<dyn Store>) {
    let older = ShareRecord {
        created_by_user: None,
        ..share(NOW, NOW + HOUR)
    };
    let newer = share(NOW + 1, NOW + 2 * HOUR);
    store.insert_share(&older).await.unwrap();
    store.insert_share(&newer).await.unwrap();
    assert_eq!(
        store.shares().await.unwrap(),
        [newer.clone(), older.clone()]
    );
    assert_eq!(store.share(&older.id).await.unwrap(), Some(older.clone()));
    assert_eq!(store.share(&ShareId::generate()).await.unwrap(), None);
    let same_secret = ShareRecord {
        secret_hash: older.secret_hash,
        ..share(NOW, NOW + HOUR)
    };
    assert_eq!(
        store.insert_share(&same_secret).await,
        Err(StoreError::Conflict(Conflict::Id))
    );
    assert_eq!(store.shares().await.unwrap().len(), 2);
}

/// Closing moves a pending share to its final state once and erases the passphrase hash, the
/// data key and the ciphertext from the stored row; every later close is `NotFound`.
pub async fn a_share_closes_once_and_is_erased(store: Arc<dyn Store>) {
    for to in [
        ShareStatus::Viewed,
        ShareStatus::Destroyed,
        ShareStatus::Expired,
    ] {
        let s = share(NOW, NOW + HOUR);
        store.insert_share(&s).await.unwrap();
        let ciphertext = s.ciphertext.clone().unwrap();
        let dek = s.wrapped_dek.clone().unwrap();
        let phc = s.passphrase_hash.clone().unwrap();
        assert!(
            stored_anywhere(&store, &ciphertext).await,
            "the check can see a stored value"
        );
        store.close_share(&s.id, to, NOW + 5).await.unwrap();
        let back = store.share(&s.id).await.unwrap().unwrap();
        assert_eq!(back.status, to);
        assert_eq!(back.closed_ms, Some(NOW + 5));
        assert_eq!(
            (back.passphrase_hash, back.wrapped_dek, back.ciphertext),
            (None, None, None)
        );
        assert_eq!(back.secret_hash, s.secret_hash);
        for gone in [&ciphertext[..], &dek[..], phc.as_bytes()] {
            assert!(
                !stored_anywhere(&store, gone).await,
                "{to:?}: sealed bytes erased"
            );
        }
        for again in [
            ShareStatus::Viewed,
            ShareStatus::Destroyed,
            ShareStatus::Expired,
        ] {
            assert_eq!(
                store.close_share(&s.id, again, NOW + 6).await,
                Err(StoreError::NotFound)
            );
        }
        assert_eq!(store.share(&s.id).await.unwrap().unwrap().status, to);
    }
    assert_eq!(
        store
            .close_share(&ShareId::generate(), ShareStatus::Destroyed, NOW)
            .await,
        Err(StoreError::NotFound)
    );
}

/// Of many concurrent closes of one share, some asking to view it and some to destroy it,
/// exactly one succeeds, and the share ends in the state that one asked for.
pub async fn concurrent_closes_let_one_win(store: Arc<dyn Store>) {
    for _round in 0..3 {
        let s = share(NOW, NOW + HOUR);
        store.insert_share(&s).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..12 {
            let store = Arc::clone(&store);
            let id = s.id.clone();
            let to = if i % 2 == 0 {
                ShareStatus::Viewed
            } else {
                ShareStatus::Destroyed
            };
            tasks.push(tokio::spawn(async move {
                (to, store.close_share(&id, to, NOW + 1).await)
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                (to, Ok(())) => winners.push(to),
                (_, Err(e)) => assert_eq!(e, StoreError::NotFound),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one close wins");
        assert_eq!(
            store.share(&s.id).await.unwrap().unwrap().status,
            winners[0]
        );
    }
}

/// A share cannot be viewed at or after its expiry (it can still be destroyed or expired), and
/// the sweep expires exactly the pending shares past their expiry.
pub async fn expired_shares_are_never_viewed_and_are_swept(store: Arc<dyn Store>) {
    let s = share(NOW, NOW + HOUR);
    store.insert_share(&s).await.unwrap();
    assert_eq!(
        store
            .close_share(&s.id, ShareStatus::Viewed, NOW + HOUR)
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.share(&s.id).await.unwrap().unwrap().status,
        ShareStatus::Pending
    );

    let later = share(NOW, NOW + 3 * HOUR);
    store.insert_share(&later).await.unwrap();
    let viewed = share(NOW, NOW + HOUR);
    store.insert_share(&viewed).await.unwrap();
    store
        .close_share(&viewed.id, ShareStatus::Viewed, NOW + 1)
        .await
        .unwrap();
    assert_eq!(store.expire_shares(NOW + 2 * HOUR).await.unwrap(), 1);
    let swept = store.share(&s.id).await.unwrap().unwrap();
    assert_eq!(swept.status, ShareStatus::Expired);
    assert_eq!(swept.closed_ms, Some(NOW + 2 * HOUR));
    assert_eq!(swept.ciphertext, None);
    assert!(!stored_anywhere(&store, s.ciphertext.as_ref().unwrap()).await);
    assert_eq!(
        store.share(&later.id).await.unwrap().unwrap().status,
        ShareStatus::Pending
    );
    assert_eq!(
        store.share(&viewed.id).await.unwrap().unwrap().status,
        ShareStatus::Viewed
    );
    assert_eq!(store.expire_shares(NOW + 2 * HOUR).await.unwrap(), 0);
}
