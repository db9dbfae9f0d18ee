//! Passkeys and WebAuthn ceremony state.

use std::sync::Arc;

use signet_proto::{CeremonyId, PasskeyId, UserId};

use super::fixture::{self, HOUR, NOW};
use crate::{CeremonyKind, CeremonyRecord, Conflict, PasskeyRecord, Store, StoreError, UserRecord};

fn passkey(user: &UserId, credential_id: &[u8], created_ms: i64) -> PasskeyRecord {
    PasskeyRecord {
        id: PasskeyId::generate(),
        user_id: *user,
        credential_id: credential_id.to_vec(),
        name: "laptop".to_owned(),
        credential: format!("{{\"cred\":{credential_id:?}}}"),
        sign_count: 0,
        created_ms,
        last_used_ms: None,
    }
}

async fn user(store: &Arc<dyn Store>, name: &str) -> UserRecord {
    let u = fixture::user(name, NOW);
    store.insert_user(&u).await.unwrap();
    u
}

fn ceremony(kind: CeremonyKind, user: Option<UserId>, expires_ms: i64) -> CeremonyRecord {
    CeremonyRecord {
        id: CeremonyId::generate(),
        kind,
        user_id: user,
        state: "{\"challenge\":\"c\"}".to_owned(),
        expires_ms,
    }
}

/// Passkeys read back as stored, per user oldest first, and by credential id across users.
pub async fn passkeys_round_trip_per_user(store: Arc<dyn Store>) {
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    let second = passkey(&alice.id, b"a-2", NOW + 1);
    let first = PasskeyRecord {
        sign_count: 7,
        last_used_ms: Some(NOW + 5),
        ..passkey(&alice.id, b"a-1", NOW)
    };
    let bobs = passkey(&bob.id, b"b-1", NOW);
    for p in [&second, &first, &bobs] {
        store.insert_passkey(p, 10).await.unwrap();
    }
    assert_eq!(
        store.passkeys(&alice.id).await.unwrap(),
        vec![first.clone(), second]
    );
    assert_eq!(store.passkeys(&bob.id).await.unwrap(), vec![bobs.clone()]);
    assert_eq!(
        store.passkey_by_credential(b"a-1").await.unwrap(),
        Some(first)
    );
    assert_eq!(
        store.passkey_by_credential(b"b-1").await.unwrap(),
        Some(bobs)
    );
    assert_eq!(store.passkey_by_credential(b"zzz").await.unwrap(), None);
    assert!(
        store
            .passkeys(&UserId::generate())
            .await
            .unwrap()
            .is_empty()
    );
}

/// A credential id is registered once across all users; a user has at most the limit; a passkey
/// needs its user. A refused insert stores nothing.
pub async fn a_credential_is_registered_once_and_within_the_limit(store: Arc<dyn Store>) {
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    store
        .insert_passkey(&passkey(&alice.id, b"same", NOW), 10)
        .await
        .unwrap();
    let clash = passkey(&bob.id, b"same", NOW);
    assert_eq!(
        store.insert_passkey(&clash, 10).await,
        Err(StoreError::Conflict(Conflict::CredentialId))
    );
    assert!(store.passkeys(&bob.id).await.unwrap().is_empty());

    store
        .insert_passkey(&passkey(&alice.id, b"two", NOW), 2)
        .await
        .unwrap();
    assert_eq!(
        store
            .insert_passkey(&passkey(&alice.id, b"three", NOW), 2)
            .await,
        Err(StoreError::Conflict(Conflict::PasskeyLimit))
    );
    assert_eq!(store.passkeys(&alice.id).await.unwrap().len(), 2);
    assert_eq!(store.passkey_by_credential(b"three").await.unwrap(), None);

    assert_eq!(
        store
            .insert_passkey(&passkey(&UserId::generate(), b"orphan", NOW), 10)
            .await,
        Err(StoreError::NotFound)
    );
}

/// Racing registrations for one user never pass the limit together.
pub async fn concurrent_registrations_stop_at_the_limit(store: Arc<dyn Store>) {
    let alice = user(&store, "alice").await;
    let tasks: Vec<_> = (0..12u8)
        .map(|i| {
            let store = Arc::clone(&store);
            let p = passkey(&alice.id, &[b'c', i], NOW);
            tokio::spawn(async move { store.insert_passkey(&p, 5).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(e) => assert_eq!(e, StoreError::Conflict(Conflict::PasskeyLimit)),
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(store.passkeys(&alice.id).await.unwrap().len(), 5);
}

/// A use stores the new credential, counter and time; the counter only moves forward, except that
/// an authenticator without one (always 0) may be used again and again.
pub async fn the_signature_counter_only_moves_forward(store: Arc<dyn Store>) {
    let alice = user(&store, "alice").await;
    let counted = passkey(&alice.id, b"counted", NOW);
    let uncounted = passkey(&alice.id, b"uncounted", NOW);
    store.insert_passkey(&counted, 10).await.unwrap();
    store.insert_passkey(&uncounted, 10).await.unwrap();

    assert!(
        store
            .record_passkey_use(&counted.id, "{\"v\":1}", 3, NOW + 1)
            .await
            .unwrap()
    );
    let now = store
        .passkey_by_credential(b"counted")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.credential, "{\"v\":1}");
    assert_eq!(now.sign_count, 3);
    assert_eq!(now.last_used_ms, Some(NOW + 1));
    assert_eq!(now.name, "laptop");

    for stale in [3, 2, 0] {
        assert!(
            !store
                .record_passkey_use(&counted.id, "{\"v\":2}", stale, NOW + 2)
                .await
                .unwrap(),
            "counter {stale} after 3 must be refused"
        );
    }
    let still = store
        .passkey_by_credential(b"counted")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still, now, "a refused use changes nothing");

    for i in 0..3 {
        assert!(
            store
                .record_passkey_use(&uncounted.id, "{}", 0, NOW + i)
                .await
                .unwrap()
        );
    }
    assert_eq!(
        store
            .record_passkey_use(&PasskeyId::generate(), "{}", 1, NOW)
            .await,
        Err(StoreError::NotFound)
    );
}

/// Of racing uses with one counter value, exactly one is accepted.
pub async fn concurrent_uses_with_one_counter_admit_one(store: Arc<dyn Store>) {
    let alice = user(&store, "alice").await;
    let p = passkey(&alice.id, b"raced", NOW);
    store.insert_passkey(&p, 10).await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(&store);
            let id = p.id.clone();
            tokio::spawn(async move { store.record_passkey_use(&id, "{}", 9, NOW).await })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        admitted += usize::from(t.await.unwrap().unwrap());
    }
    assert_eq!(admitted, 1);
}

/// Only the owner renames or deletes a passkey; anyone else gets `NotFound` and changes nothing.
pub async fn only_the_owner_renames_or_deletes(store: Arc<dyn Store>) {
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    let p = passkey(&alice.id, b"alices", NOW);
    store.insert_passkey(&p, 10).await.unwrap();

    assert_eq!(
        store.rename_passkey(&bob.id, &p.id, "mine now").await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.delete_passkey(&bob.id, &p.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.passkeys(&alice.id).await.unwrap(), vec![p.clone()]);

    let renamed = store
        .rename_passkey(&alice.id, &p.id, "phone")
        .await
        .unwrap();
    assert_eq!(
        renamed,
        PasskeyRecord {
            name: "phone".to_owned(),
            ..p.clone()
        }
    );
    assert_eq!(store.passkeys(&alice.id).await.unwrap(), vec![renamed]);

    store.delete_passkey(&alice.id, &p.id).await.unwrap();
    assert!(store.passkeys(&alice.id).await.unwrap().is_empty());
    assert_eq!(store.passkey_by_credential(b"alices").await.unwrap(), None);
    assert_eq!(
        store.delete_passkey(&alice.id, &p.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.rename_passkey(&alice.id, &p.id, "gone").await,
        Err(StoreError::NotFound)
    );
}

/// A ceremony is taken once, only as its own kind, and only before it expires.
pub async fn a_ceremony_is_taken_once_before_it_expires(store: Arc<dyn Store>) {
    let alice = user(&store, "alice").await;
    let login = ceremony(CeremonyKind::Authentication, None, NOW + HOUR);
    let reg = ceremony(CeremonyKind::Registration, Some(alice.id), NOW + HOUR);
    let step = ceremony(CeremonyKind::StepUp, Some(alice.id), NOW + HOUR);
    for c in [&login, &reg, &step] {
        store.insert_ceremony(c).await.unwrap();
    }
    assert_eq!(
        store.insert_ceremony(&login).await,
        Err(StoreError::Conflict(Conflict::Id))
    );

    // The wrong kind neither returns nor spends it.
    assert_eq!(
        store
            .take_ceremony(&login.id, CeremonyKind::Registration, NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_ceremony(&login.id, CeremonyKind::Authentication, NOW)
            .await
            .unwrap(),
        Some(login.clone())
    );
    assert_eq!(
        store
            .take_ceremony(&login.id, CeremonyKind::Authentication, NOW)
            .await
            .unwrap(),
        None,
        "a ceremony is finished once"
    );
    assert_eq!(
        store
            .take_ceremony(&reg.id, CeremonyKind::Registration, NOW)
            .await
            .unwrap(),
        Some(reg)
    );
    assert_eq!(
        store
            .take_ceremony(&step.id, CeremonyKind::StepUp, NOW + HOUR)
            .await
            .unwrap(),
        None,
        "expired at its expiry time"
    );
    assert_eq!(
        store
            .take_ceremony(&step.id, CeremonyKind::StepUp, NOW)
            .await
            .unwrap(),
        None,
        "an expired ceremony is gone, not kept for later"
    );
    assert_eq!(
        store
            .take_ceremony(&CeremonyId::generate(), CeremonyKind::StepUp, NOW)
            .await
            .unwrap(),
        None
    );
}

/// Of racing takes of one ceremony, exactly one gets it.
pub async fn concurrent_takes_of_a_ceremony_admit_one(store: Arc<dyn Store>) {
    let c = ceremony(CeremonyKind::Authentication, None, NOW + HOUR);
    store.insert_ceremony(&c).await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(&store);
            let id = c.id.clone();
            tokio::spawn(async move {
                store
                    .take_ceremony(&id, CeremonyKind::Authentication, NOW)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut taken = 0;
    for t in tasks {
        taken += usize::from(t.await.unwrap().is_some());
    }
    assert_eq!(taken, 1);
}

/// Sweeping forgets only expired ceremonies.
pub async fn sweeping_forgets_only_expired_ceremonies(store: Arc<dyn Store>) {
    let old = ceremony(CeremonyKind::Authentication, None, NOW - 1);
    let live = ceremony(CeremonyKind::Authentication, None, NOW + HOUR);
    store.insert_ceremony(&old).await.unwrap();
    store.insert_ceremony(&live).await.unwrap();
    assert_eq!(store.sweep_ceremonies(NOW).await.unwrap(), 1);
    assert_eq!(store.sweep_ceremonies(NOW).await.unwrap(), 0);
    assert_eq!(
        store
            .take_ceremony(&live.id, CeremonyKind::Authentication, NOW)
            .await
            .unwrap(),
        Some(live)
    );
}
