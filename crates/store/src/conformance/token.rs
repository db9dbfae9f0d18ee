//! Bootstrap and enrollment tokens: single use, use limits, expiry, revocation, races.

use std::sync::Arc;

use super::fixture::{self, HOUR, NOW, add_machine, add_project, add_secret};
use crate::{Conflict, EnrollmentGrant, EnrollmentTokenRecord, MachineRecord, Store, StoreError};

/// A grant of no projects and no secrets.
fn nothing() -> EnrollmentGrant {
    EnrollmentGrant {
        project_ids: Vec::new(),
        secret_ids: Vec::new(),
    }
}

async fn uses(store: &Arc<dyn Store>, token: &EnrollmentTokenRecord) -> u32 {
    store
        .enrollment_token_by_hash(&token.token_hash)
        .await
        .unwrap()
        .unwrap()
        .uses
}

/// A bootstrap token registers one machine, then is spent.
pub async fn bootstrap_tokens_are_single_use(store: Arc<dyn Store>) {
    let t = fixture::bootstrap_token(NOW + HOUR);
    store.insert_bootstrap_token(&t).await.unwrap();
    assert_eq!(
        store.bootstrap_token(&t.token_hash).await.unwrap(),
        Some(t.clone())
    );
    assert_eq!(
        store.bootstrap_token(&fixture::random32()).await.unwrap(),
        None
    );

    let m = fixture::machine("m");
    store
        .redeem_bootstrap_token(&t.token_hash, NOW, &m)
        .await
        .unwrap();
    assert_eq!(store.machine(&m.id).await.unwrap(), Some(m));
    assert_eq!(
        store
            .bootstrap_token(&t.token_hash)
            .await
            .unwrap()
            .unwrap()
            .used_ms,
        Some(NOW)
    );

    let second = fixture::machine("second");
    assert_eq!(
        store
            .redeem_bootstrap_token(&t.token_hash, NOW + 1, &second)
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.machine(&second.id).await.unwrap(), None);
    assert_eq!(
        store
            .bootstrap_token(&t.token_hash)
            .await
            .unwrap()
            .unwrap()
            .used_ms,
        Some(NOW)
    );
}

/// An expired or unknown bootstrap token registers nothing.
pub async fn expired_or_unknown_bootstrap_tokens_are_refused(store: Arc<dyn Store>) {
    let t = fixture::bootstrap_token(NOW);
    store.insert_bootstrap_token(&t).await.unwrap();

    let late = fixture::machine("late");
    assert_eq!(
        store
            .redeem_bootstrap_token(&t.token_hash, NOW + 1, &late)
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store
            .bootstrap_token(&t.token_hash)
            .await
            .unwrap()
            .unwrap()
            .used_ms,
        None
    );
    let stranger = fixture::machine("stranger");
    assert_eq!(
        store
            .redeem_bootstrap_token(&fixture::random32(), NOW, &stranger)
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.machines().await.unwrap(), []);

    let early = fixture::machine("early");
    store
        .redeem_bootstrap_token(&t.token_hash, NOW - 1, &early)
        .await
        .unwrap();
}

/// A known key makes the redemption fail as a whole: the token stays unspent.
pub async fn a_bootstrap_key_conflict_leaves_the_token_unspent(store: Arc<dyn Store>) {
    let op = fixture::operator("op", NOW);
    store.insert_operator(&op).await.unwrap();
    let t = fixture::bootstrap_token(NOW + HOUR);
    store.insert_bootstrap_token(&t).await.unwrap();

    let thief = MachineRecord {
        public_key: op.public_key.clone(),
        ..fixture::machine("thief")
    };
    assert_eq!(
        store
            .redeem_bootstrap_token(&t.token_hash, NOW, &thief)
            .await,
        Err(StoreError::Conflict(Conflict::PublicKey))
    );
    assert_eq!(
        store
            .bootstrap_token(&t.token_hash)
            .await
            .unwrap()
            .unwrap()
            .used_ms,
        None
    );
    assert_eq!(store.machine(&thief.id).await.unwrap(), None);

    store
        .redeem_bootstrap_token(&t.token_hash, NOW, &fixture::machine("honest"))
        .await
        .unwrap();
}

/// Of several machines racing for one bootstrap token, exactly one registers.
pub async fn concurrent_bootstrap_redeems_let_one_win(store: Arc<dyn Store>) {
    let t = fixture::bootstrap_token(NOW + HOUR);
    store.insert_bootstrap_token(&t).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .redeem_bootstrap_token(&t.token_hash, NOW, &fixture::machine(&format!("m{i}")))
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(e) => assert_eq!(e, StoreError::NotFound),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.machines().await.unwrap().len(), 1);
}

/// Enrollment tokens read back as stored, newest first.
pub async fn enrollment_tokens_round_trip_newest_first(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let older = EnrollmentTokenRecord {
        project_ids: vec![p.id.clone()],
        secret_ids: vec![s.id.clone()],
        ..fixture::enrollment_token(3, NOW + HOUR)
    };
    let newer = EnrollmentTokenRecord {
        source_cidr: None,
        hostname_pattern: None,
        created_ms: NOW + 1,
        ..fixture::enrollment_token(1, NOW + HOUR)
    };
    store.insert_enrollment_token(&older).await.unwrap();
    store.insert_enrollment_token(&newer).await.unwrap();

    assert_eq!(
        store
            .enrollment_token_by_hash(&older.token_hash)
            .await
            .unwrap(),
        Some(older.clone())
    );
    assert_eq!(
        store
            .enrollment_token_by_hash(&fixture::random32())
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.enrollment_tokens().await.unwrap(), [newer, older]);
}

/// A redemption counts one use and creates the machine with the grant's memberships and
/// grants, skipping secrets outside the granted projects.
pub async fn enrollment_redeem_counts_a_use_and_applies_the_grant(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let q = add_project(&store, "q").await;
    let inside = add_secret(&store, &p.id, "inside").await;
    let outside = add_secret(&store, &q.id, "outside").await;
    let t = EnrollmentTokenRecord {
        project_ids: vec![p.id.clone()],
        secret_ids: vec![inside.id.clone(), outside.id.clone()],
        ..fixture::enrollment_token(2, NOW + HOUR)
    };
    store.insert_enrollment_token(&t).await.unwrap();

    let m = fixture::ephemeral_machine("ci-1", &t);
    let grant = EnrollmentGrant {
        project_ids: t.project_ids.clone(),
        secret_ids: t.secret_ids.clone(),
    };
    store
        .redeem_enrollment_token(&t.id, NOW, &m, &grant)
        .await
        .unwrap();

    assert_eq!(store.machine(&m.id).await.unwrap(), Some(m.clone()));
    assert_eq!(
        store.memberships(&m.id).await.unwrap(),
        std::slice::from_ref(&p.id)
    );
    assert_eq!(
        store.grants(&m.id).await.unwrap(),
        std::slice::from_ref(&inside.id)
    );
    let view = store.read_view(&m.id, &inside.id).await.unwrap().unwrap();
    assert!(view.attached && view.granted);
    assert_eq!(uses(&store, &t).await, 1);
}

/// However many machines race for an enrollment token, no more than `max_uses` register.
pub async fn concurrent_enrollment_redeems_stop_at_max_uses(store: Arc<dyn Store>) {
    let t = fixture::enrollment_token(3, NOW + HOUR);
    store.insert_enrollment_token(&t).await.unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let (store, t) = (Arc::clone(&store), t.clone());
            tokio::spawn(async move {
                let m = fixture::ephemeral_machine(&format!("ci-{i}"), &t);
                store
                    .redeem_enrollment_token(&t.id, NOW, &m, &nothing())
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(e) => assert_eq!(e, StoreError::NotFound),
        }
    }
    assert_eq!(won, 3);
    assert_eq!(uses(&store, &t).await, 3);
    assert_eq!(store.machines().await.unwrap().len(), 3);
}

/// A revoked, expired or used-up enrollment token creates nothing; revoking happens once.
pub async fn revoked_or_expired_enrollment_tokens_create_nothing(store: Arc<dyn Store>) {
    let none = nothing();
    let revoked = fixture::enrollment_token(5, NOW + HOUR);
    store.insert_enrollment_token(&revoked).await.unwrap();
    store
        .revoke_enrollment_token(&revoked.id, NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .enrollment_token_by_hash(&revoked.token_hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_ms,
        Some(NOW)
    );
    let m = fixture::ephemeral_machine("ci-1", &revoked);
    assert_eq!(
        store
            .redeem_enrollment_token(&revoked.id, NOW, &m, &none)
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.revoke_enrollment_token(&revoked.id, NOW + 1).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.revoke_enrollment_token("et_unknown", NOW).await,
        Err(StoreError::NotFound)
    );

    let expired = fixture::enrollment_token(5, NOW);
    store.insert_enrollment_token(&expired).await.unwrap();
    let m = fixture::ephemeral_machine("ci-2", &expired);
    assert_eq!(
        store
            .redeem_enrollment_token(&expired.id, NOW + 1, &m, &none)
            .await,
        Err(StoreError::NotFound)
    );

    let single = fixture::enrollment_token(1, NOW + HOUR);
    store.insert_enrollment_token(&single).await.unwrap();
    store
        .redeem_enrollment_token(
            &single.id,
            NOW,
            &fixture::ephemeral_machine("ci-3", &single),
            &none,
        )
        .await
        .unwrap();
    let m = fixture::ephemeral_machine("ci-4", &single);
    assert_eq!(
        store
            .redeem_enrollment_token(&single.id, NOW, &m, &none)
            .await,
        Err(StoreError::NotFound)
    );
    let unknown = fixture::ephemeral_machine("ci-5", &single);
    assert_eq!(
        store
            .redeem_enrollment_token("et_unknown", NOW, &unknown, &none)
            .await,
        Err(StoreError::NotFound)
    );

    assert_eq!(store.machines().await.unwrap().len(), 1);
    assert_eq!(uses(&store, &revoked).await, 0);
    assert_eq!(uses(&store, &expired).await, 0);
}

/// A known key fails the redemption as a whole: no use is counted, nothing is attached.
pub async fn an_enrollment_key_conflict_uses_nothing(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let existing = add_machine(&store, "existing").await;
    let t = EnrollmentTokenRecord {
        project_ids: vec![p.id.clone()],
        ..fixture::enrollment_token(2, NOW + HOUR)
    };
    store.insert_enrollment_token(&t).await.unwrap();

    let m = MachineRecord {
        public_key: existing.public_key.clone(),
        ..fixture::ephemeral_machine("dup", &t)
    };
    let grant = EnrollmentGrant {
        project_ids: vec![p.id.clone()],
        secret_ids: Vec::new(),
    };
    assert_eq!(
        store.redeem_enrollment_token(&t.id, NOW, &m, &grant).await,
        Err(StoreError::Conflict(Conflict::PublicKey))
    );
    assert_eq!(uses(&store, &t).await, 0);
    assert_eq!(store.machine(&m.id).await.unwrap(), None);
    assert_eq!(store.memberships(&m.id).await.unwrap(), []);
}
