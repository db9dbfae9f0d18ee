//! The scrape's live counts (`Instrumented::live_counts`): browser sessions, CLI keys and leases
//! live at an instant, each by the rule its trait states, on every backend.

use std::sync::Arc;

use signet_proto::{LeaseId, OperatorId, ProjectId, SecretId, SessionId, UserId};

use super::connection::{leased, record};
use super::fixture::{self, HOUR, NOW, add_machine, add_project, add_secret};
use crate::{LeaseRecord, LeaseState, LiveCounts, OperatorRecord, SessionRecord, Store};

fn session(user: &UserId, last_seen_ms: i64, expires_ms: i64) -> SessionRecord {
    SessionRecord {
        id: SessionId::generate(),
        token_hash: fixture::random32(),
        user_id: *user,
        operator_id: OperatorId::generate(),
        created_ms: NOW - HOUR,
        last_seen_ms,
        expires_ms,
        step_up_ms: None,
        ip: "192.0.2.1".into(),
        user_agent: "test".into(),
        revoked_ms: None,
    }
}

fn lease(secret: &SecretId, project: &ProjectId, expires_ms: i64) -> LeaseRecord {
    LeaseRecord {
        key_generation: 0,
        id: LeaseId::generate(),
        secret_id: secret.clone(),
        project_id: project.clone(),
        machine_id: signet_proto::MachineId::generate(),
        connection_id: signet_proto::ConnectionId::generate(),
        role_name: format!(
            "signet_{}",
            LeaseId::generate().as_str()[6..].to_lowercase()
        ),
        password_wrapped_dek: vec![5; 60],
        password_ciphertext: vec![6; 40],
        created_ms: NOW - HOUR,
        expires_ms,
        max_expires_ms: NOW + 10 * HOUR,
        state: LeaseState::Active,
        claim_until_ms: None,
        revoked_ms: None,
        revoke_reason: None,
    }
}

/// A fresh store counts nothing. Then only what is live at `now` counts: a session of an active
/// user neither revoked, expired nor idle (last seen at or before the bound); a key an active
/// user signed in with, enabled and unexpired (not the headless key, not a suspended user's); a lease `active` and unexpired (not one being
/// revoked, revoked, or past its expiry). The counts follow the clock given and the changes.
pub async fn live_counts_follow_sessions_keys_and_leases(store: Arc<dyn Store>) {
    let seen_after = NOW - HOUR / 2;
    let counts = |store: Arc<dyn Store>, now: i64| async move {
        store.live_counts(now, now - HOUR / 2).await.unwrap()
    };
    assert_eq!(counts(store.clone(), NOW).await, LiveCounts::default());

    let alice = fixture::user("alice", NOW - HOUR);
    store.insert_user(&alice).await.unwrap();
    let live = session(&alice.id, NOW - 60_000, NOW + HOUR);
    let later = session(&alice.id, NOW - 60_000, NOW + 2 * HOUR);
    let revoked = session(&alice.id, NOW - 60_000, NOW + HOUR);
    let expired = session(&alice.id, NOW - 60_000, NOW);
    let idle = session(&alice.id, seen_after, NOW + HOUR);
    for s in [&live, &later, &revoked, &expired, &idle] {
        store.insert_session(s).await.unwrap();
    }
    assert!(
        store
            .revoke_session(&alice.id, &revoked.id, NOW - 1)
            .await
            .unwrap()
    );

    let key = |name: &str, expires_ms: Option<i64>| OperatorRecord {
        user_id: Some(alice.id),
        expires_ms,
        ..fixture::operator(name, NOW - HOUR)
    };
    let cli = key("cli", Some(NOW + HOUR));
    let forever = key("forever", None);
    let off = key("off", Some(NOW + HOUR));
    let gone = key("gone", Some(NOW));
    for k in [&cli, &forever, &off, &gone] {
        store.insert_operator(k).await.unwrap();
    }
    store
        .insert_operator(&fixture::operator("headless", NOW - HOUR))
        .await
        .unwrap();
    store.disable_operator(&off.id).await.unwrap();
    // A suspended user's session and key authenticate nothing: not counted.
    let bob = fixture::user("bob", NOW - HOUR);
    store.insert_user(&bob).await.unwrap();
    store
        .insert_session(&session(&bob.id, NOW - 60_000, NOW + HOUR))
        .await
        .unwrap();
    store
        .insert_operator(&OperatorRecord {
            user_id: Some(bob.id),
            expires_ms: Some(NOW + HOUR),
            ..fixture::operator("bobs", NOW - HOUR)
        })
        .await
        .unwrap();
    store.set_user_active(&bob.id, false).await.unwrap();

    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let c = record(&p.id, "c");
    store.insert_connection(&c).await.unwrap();
    store
        .set_leased_secret(&crate::LeasedSecretRecord {
            mint_fresh: true,
            ..leased(&s, &c.id)
        })
        .await
        .unwrap();
    let m = add_machine(&store, "m").await;
    let mint = |expires_ms: i64| LeaseRecord {
        machine_id: m.id,
        connection_id: c.id.clone(),
        ..lease(&s.id, &p.id, expires_ms)
    };
    let active = mint(NOW + HOUR);
    let longer = mint(NOW + 3 * HOUR);
    let lapsed = mint(NOW);
    let revoking = mint(NOW + HOUR);
    let done = mint(NOW + HOUR);
    for l in [&active, &longer, &lapsed, &revoking, &done] {
        store.insert_lease(l).await.unwrap();
    }
    store
        .claim_lease(&revoking.id, NOW - 2, NOW + 30_000)
        .await
        .unwrap();
    store
        .claim_lease(&done.id, NOW - 2, NOW + 30_000)
        .await
        .unwrap();
    store
        .finish_lease(&done.id, NOW + 30_000, NOW - 1, "operator")
        .await
        .unwrap();

    assert_eq!(
        counts(store.clone(), NOW).await,
        LiveCounts {
            browser_sessions: 2,
            cli_keys: 2,
            leases: 2,
        }
    );
    // An hour on, the idle bound kept: the first session, key and lease end at that instant.
    assert_eq!(
        store.live_counts(NOW + HOUR, seen_after).await.unwrap(),
        LiveCounts {
            browser_sessions: 1,
            cli_keys: 1,
            leases: 1,
        },
        "bounds are exclusive: what ends at `now` is over"
    );
    assert_eq!(
        counts(store.clone(), NOW + HOUR).await,
        LiveCounts {
            browser_sessions: 0,
            cli_keys: 1,
            leases: 1,
        },
        "idle sessions are over"
    );

    store.revoke_user_sessions(&alice.id, NOW).await.unwrap();
    store.disable_operator(&cli.id).await.unwrap();
    store
        .claim_lease(&active.id, NOW, NOW + 30_000)
        .await
        .unwrap();
    assert_eq!(
        counts(store.clone(), NOW).await,
        LiveCounts {
            browser_sessions: 0,
            cli_keys: 1,
            leases: 1,
        }
    );
}
