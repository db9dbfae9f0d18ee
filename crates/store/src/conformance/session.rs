//! Browser sessions and the CLI keys a user signed in with.

use std::sync::Arc;

use signet_proto::{OperatorId, SessionId, UserId};

use super::fixture::{self, HOUR, NOW};
use crate::{Conflict, OperatorRecord, SessionRecord, Store, StoreError};

fn session(user: &UserId, created_ms: i64) -> SessionRecord {
    SessionRecord {
        id: SessionId::generate(),
        token_hash: fixture::random32(),
        user_id: *user,
        operator_id: OperatorId::generate(),
        created_ms,
        last_seen_ms: created_ms,
        expires_ms: created_ms + 12 * HOUR,
        step_up_ms: Some(created_ms),
        ip: "192.0.2.1".into(),
        user_agent: "test".into(),
        revoked_ms: None,
    }
}

/// A session reads back by its token digest; an unknown digest is `None`; a digest is unique.
pub async fn sessions_round_trip_by_token(store: Arc<dyn Store>) {
    let alice = fixture::user("alice", NOW);
    store.insert_user(&alice).await.unwrap();
    let s = session(&alice.id, NOW);
    store.insert_session(&s).await.unwrap();
    assert_eq!(
        store.session_by_token(&s.token_hash).await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(
        store.session_by_token(&fixture::random32()).await.unwrap(),
        None
    );
    let twin = SessionRecord {
        token_hash: s.token_hash,
        ..session(&alice.id, NOW)
    };
    assert_eq!(
        store.insert_session(&twin).await,
        Err(StoreError::Conflict(Conflict::TokenHash))
    );
}

/// Touch and step-up move a live session's times; neither revives a revoked one, and
/// `last_seen_ms` never goes backwards.
pub async fn touch_and_step_up_need_a_live_session(store: Arc<dyn Store>) {
    let alice = fixture::user("alice", NOW);
    store.insert_user(&alice).await.unwrap();
    let s = session(&alice.id, NOW);
    store.insert_session(&s).await.unwrap();

    assert!(store.touch_session(&s.id, NOW + 60_000).await.unwrap());
    assert!(store.touch_session(&s.id, NOW + 30_000).await.unwrap());
    assert!(
        store
            .set_session_step_up(&s.id, NOW + 90_000)
            .await
            .unwrap()
    );
    let got = store
        .session_by_token(&s.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.last_seen_ms, NOW + 60_000);
    assert_eq!(got.step_up_ms, Some(NOW + 90_000));

    assert!(
        store
            .revoke_session(&alice.id, &s.id, NOW + 100_000)
            .await
            .unwrap()
    );
    assert!(!store.touch_session(&s.id, NOW + 200_000).await.unwrap());
    assert!(
        !store
            .set_session_step_up(&s.id, NOW + 200_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .touch_session(&SessionId::generate(), NOW)
            .await
            .unwrap()
    );
    let got = store
        .session_by_token(&s.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.revoked_ms, Some(NOW + 100_000));
    assert_eq!(got.last_seen_ms, NOW + 60_000);
}

/// Only the session's own user can end it, once; ending all of a user's sessions leaves other
/// users' alone; listings show live, unexpired sessions newest first.
pub async fn revocation_is_per_user_and_final(store: Arc<dyn Store>) {
    let alice = fixture::user("alice", NOW);
    let bob = fixture::user("bob", NOW);
    store.insert_user(&alice).await.unwrap();
    store.insert_user(&bob).await.unwrap();
    let a1 = session(&alice.id, NOW);
    let a2 = session(&alice.id, NOW + 1);
    let expired = SessionRecord {
        expires_ms: NOW + 5,
        ..session(&alice.id, NOW + 2)
    };
    let b1 = session(&bob.id, NOW);
    for s in [&a1, &a2, &expired, &b1] {
        store.insert_session(s).await.unwrap();
    }

    let ids = |v: Vec<SessionRecord>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.live_sessions(&alice.id, NOW + 10).await.unwrap()),
        vec![a2.id, a1.id]
    );
    assert!(!store.revoke_session(&bob.id, &a1.id, NOW).await.unwrap());
    assert!(store.revoke_session(&alice.id, &a1.id, NOW).await.unwrap());
    assert!(!store.revoke_session(&alice.id, &a1.id, NOW).await.unwrap());
    assert_eq!(
        ids(store.live_sessions(&alice.id, NOW + 10).await.unwrap()),
        vec![a2.id]
    );
    assert_eq!(
        store.revoke_user_sessions(&alice.id, NOW).await.unwrap(),
        2,
        "a2 and the expired-but-unrevoked one"
    );
    assert!(
        store
            .live_sessions(&alice.id, NOW)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(store.live_sessions(&bob.id, NOW).await.unwrap()),
        vec![b1.id]
    );
}

/// A user's CLI keys are the enabled, unexpired operators linked to them, newest first.
pub async fn user_operators_lists_live_keys_of_that_user(store: Arc<dyn Store>) {
    let alice = fixture::user("alice", NOW);
    let bob = fixture::user("bob", NOW);
    store.insert_user(&alice).await.unwrap();
    store.insert_user(&bob).await.unwrap();
    let key = |name: &str, user: &UserId, created: i64, expires: i64| OperatorRecord {
        user_id: Some(*user),
        expires_ms: Some(expires),
        ..fixture::operator(name, created)
    };
    let old = key("old", &alice.id, NOW, NOW + HOUR);
    let new = key("new", &alice.id, NOW + 1, NOW + HOUR);
    let gone = key("gone", &alice.id, NOW + 2, NOW + 10);
    let off = key("off", &alice.id, NOW + 3, NOW + HOUR);
    let bobs = key("bobs", &bob.id, NOW, NOW + HOUR);
    for k in [&old, &new, &gone, &off, &bobs] {
        store.insert_operator(k).await.unwrap();
    }
    store
        .insert_operator(&fixture::operator("headless", NOW))
        .await
        .unwrap();
    store.disable_operator(&off.id).await.unwrap();
    let names: Vec<String> = store
        .user_operators(&alice.id, NOW + 20)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, vec!["new", "old"]);
}

/// A password hash is replaced in place; an unknown user is `NotFound`.
pub async fn a_password_hash_is_replaced(store: Arc<dyn Store>) {
    let alice = fixture::user("alice", NOW);
    store.insert_user(&alice).await.unwrap();
    store
        .set_password_hash(&alice.id, "$argon2id$new")
        .await
        .unwrap();
    let got = store.user(&alice.id).await.unwrap().unwrap();
    assert_eq!(got.password_hash, "$argon2id$new");
    assert_eq!(
        store.set_password_hash(&UserId::generate(), "x").await,
        Err(StoreError::NotFound)
    );
}
