//! Invitations: listed newest first, found by code digest, spent once together with the
//! account they create, and revocable until then.

use std::sync::Arc;

use signet_proto::{InviteId, OperatorId, UserId};

use super::fixture::{self, HOUR, NOW};
use crate::{Conflict, InviteRecord, Role, Store, StoreError, UserRecord};

fn invite(email: &str, created_ms: i64) -> InviteRecord {
    InviteRecord {
        id: InviteId::generate(),
        code_hash: fixture::random32(),
        email: email.to_owned(),
        role: Role::Developer,
        projects: None,
        created_by: OperatorId::generate(),
        created_ms,
        expires_ms: created_ms + 72 * HOUR,
        used_ms: None,
        revoked_ms: None,
    }
}

/// Invitations read back as stored, newest first and by code digest; a digest is unique.
pub async fn invites_round_trip_newest_first(store: Arc<dyn Store>) {
    let p = fixture::add_project(&store, "inv").await;
    let older = InviteRecord {
        projects: Some(vec![p.id.clone()]),
        role: Role::Viewer,
        ..invite("a@example.test", NOW)
    };
    let newer = invite("b@example.test", NOW + 1);
    store.insert_invite(&older).await.unwrap();
    store.insert_invite(&newer).await.unwrap();
    assert_eq!(
        store.invites().await.unwrap(),
        [newer.clone(), older.clone()]
    );
    assert_eq!(
        store.invite_by_code(&older.code_hash).await.unwrap(),
        Some(older.clone())
    );
    assert_eq!(
        store.invite_by_code(&fixture::random32()).await.unwrap(),
        None
    );
    let same_code = InviteRecord {
        code_hash: older.code_hash,
        ..invite("c@example.test", NOW)
    };
    assert_eq!(
        store.insert_invite(&same_code).await,
        Err(StoreError::Conflict(Conflict::InviteCode))
    );
}

/// Accepting creates the account with its codes and spends the invitation; a second acceptance
/// creates nothing. A username clash leaves the invitation unspent.
pub async fn an_invite_is_accepted_once(store: Arc<dyn Store>) {
    store
        .insert_user(&fixture::user("taken", NOW))
        .await
        .unwrap();
    let p = fixture::add_project(&store, "scoped").await;
    let inv = invite("mo@example.test", NOW);
    store.insert_invite(&inv).await.unwrap();

    let clash = UserRecord {
        email: inv.email.clone(),
        ..fixture::user("taken", NOW)
    };
    assert_eq!(
        store
            .accept_invite(&inv.id, NOW + 1, &clash, &[[1; 32]])
            .await,
        Err(StoreError::Conflict(Conflict::Username))
    );
    assert_eq!(store.invites().await.unwrap()[0].used_ms, None);

    let mo = UserRecord {
        email: inv.email.clone(),
        projects: Some(vec![p.id.clone()]),
        ..fixture::user("mo", NOW + 1)
    };
    store
        .accept_invite(&inv.id, NOW + 1, &mo, &[[1; 32], [2; 32]])
        .await
        .unwrap();
    assert_eq!(store.user(&mo.id).await.unwrap(), Some(mo.clone()));
    assert_eq!(store.unused_recovery_codes(&mo.id).await.unwrap(), 2);
    assert_eq!(store.invites().await.unwrap()[0].used_ms, Some(NOW + 1));

    let again = UserRecord {
        email: "other@example.test".into(),
        ..fixture::user("ned", NOW + 2)
    };
    assert_eq!(
        store.accept_invite(&inv.id, NOW + 2, &again, &[]).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.user(&again.id).await.unwrap(), None);
    assert_eq!(
        store.revoke_invite(&inv.id, NOW + 3).await,
        Err(StoreError::Conflict(Conflict::InviteSpent))
    );
}

/// Expired, revoked and unknown invitations create nothing; revoking is once.
pub async fn expired_or_revoked_invites_create_nothing(store: Arc<dyn Store>) {
    let expired = invite("old@example.test", NOW - 100 * HOUR);
    let revoked = invite("rev@example.test", NOW);
    store.insert_invite(&expired).await.unwrap();
    store.insert_invite(&revoked).await.unwrap();
    store.revoke_invite(&revoked.id, NOW).await.unwrap();
    assert_eq!(
        store.revoke_invite(&revoked.id, NOW).await,
        Err(StoreError::Conflict(Conflict::InviteSpent))
    );
    assert_eq!(
        store.revoke_invite(&InviteId::generate(), NOW).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store
            .invite_by_code(&revoked.code_hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_ms,
        Some(NOW)
    );
    for (n, inv) in [&expired, &revoked].into_iter().enumerate() {
        let u = UserRecord {
            email: inv.email.clone(),
            ..fixture::user(&format!("late{n}"), NOW)
        };
        assert_eq!(
            store.accept_invite(&inv.id, NOW, &u, &[]).await,
            Err(StoreError::NotFound)
        );
        assert_eq!(store.user(&u.id).await.unwrap(), None);
    }
    let nobody = fixture::user("nobody", NOW);
    assert_eq!(
        store
            .accept_invite(&InviteId::generate(), NOW, &nobody, &[])
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.user(&UserId::generate()).await.unwrap(), None);
}

/// Of many concurrent acceptances of one invitation, exactly one creates an account.
pub async fn concurrent_accepts_let_one_win(store: Arc<dyn Store>) {
    let inv = invite("race@example.test", NOW);
    store.insert_invite(&inv).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = Arc::clone(&store);
        let id = inv.id;
        tasks.push(tokio::spawn(async move {
            let u = UserRecord {
                email: format!("race{i}@example.test"),
                ..fixture::user(&format!("racer{i}"), NOW)
            };
            store.accept_invite(&id, NOW + 1, &u, &[]).await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => won += 1,
            Err(e) => assert_eq!(e, StoreError::NotFound),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.user_count().await.unwrap(), 1);
}
