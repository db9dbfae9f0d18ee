//! Managed secrets: the binding, one pending rotation at a time, and confirm/reject exactly
//! once.

use std::sync::Arc;

use super::fixture::{self, NOW, add_machine, add_project, add_secret, chain, sealed, version};
use crate::{
    ActorKind, AuditEvent, AuditResult, Audited, Conflict, Heartbeat, ManagedRecord,
    PendingRotation, RotationClaim, RotationOutcome, RotationRecord, SecretKind, Store, StoreError,
};

const MINUTE: i64 = 60_000;

fn binding(secret: &crate::SecretRecord, agent: Option<signet_proto::MachineId>) -> ManagedRecord {
    ManagedRecord {
        secret_id: secret.id.clone(),
        connection_id: "dbc_0123456789".to_owned(),
        username: "app_user".to_owned(),
        agent_machine_id: agent,
        poll_interval_secs: 10,
        created_ms: NOW,
        updated_ms: NOW,
    }
}

fn pending(rotation_id: &str, tag: u8) -> PendingRotation {
    let mut v = version(sealed(tag), NOW + MINUTE);
    v.kind = SecretKind::Structured;
    v.field_names = Some(vec!["password".to_owned(), "username".to_owned()]);
    PendingRotation {
        rotation_id: rotation_id.to_owned(),
        version: v,
        sealed_for: 2,
        trigger: "manual".to_owned(),
    }
}

fn audited(action: &str) -> Audited {
    Audited {
        event: AuditEvent {
            actor_kind: ActorKind::System,
            ..fixture::event("agent", action, AuditResult::Ok)
        },
        chain: chain(),
    }
}

/// A binding is stored and replaced; a missing or deleted secret has none; heartbeats and a
/// pending rotation round trip.
pub async fn managed_binding_round_trip(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "db").await;
    let m = add_machine(&store, "agent").await;
    assert_eq!(store.managed(&s.id).await.unwrap(), None);
    store.set_managed(&binding(&s, None)).await.unwrap();
    let replaced = ManagedRecord {
        username: "other".to_owned(),
        updated_ms: NOW + 1,
        ..binding(&s, Some(m.id))
    };
    store.set_managed(&replaced).await.unwrap();
    let got = store.managed(&s.id).await.unwrap().unwrap();
    assert_eq!(got.record, replaced);
    assert_eq!((got.pending, got.last, got.heartbeat), (None, None, None));

    let hb = Heartbeat {
        status: "error".to_owned(),
        error: Some("connect refused".to_owned()),
        at_ms: NOW + 2,
    };
    store.record_heartbeat(&s.id, &hb).await.unwrap();
    let p1 = pending("rot_a", 7);
    store
        .begin_managed_rotation(&s.id, &p1, None)
        .await
        .unwrap();
    let got = store.managed(&s.id).await.unwrap().unwrap();
    assert_eq!(got.heartbeat, Some(hb));
    assert_eq!(got.pending, Some(p1));

    let gone = add_secret(&store, &p.id, "gone").await;
    store.delete_secret(&gone.id, NOW).await.unwrap();
    assert_eq!(
        store.set_managed(&binding(&gone, None)).await,
        Err(StoreError::NotFound)
    );
    let plain = add_secret(&store, &p.id, "plain").await;
    assert_eq!(
        store
            .record_heartbeat(
                &plain.id,
                &Heartbeat {
                    status: "healthy".to_owned(),
                    error: None,
                    at_ms: NOW
                }
            )
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store
            .begin_managed_rotation(&plain.id, &pending("rot_b", 8), None)
            .await,
        Err(StoreError::NotFound)
    );
}

/// One pending rotation at a time; confirming appends it as the next version once, a second
/// confirmation or a rejection of the same id is stale, and a rejection keeps the live version.
pub async fn a_pending_rotation_is_confirmed_or_rejected_once(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "db").await;
    store.set_managed(&binding(&s, None)).await.unwrap();
    store
        .begin_managed_rotation(&s.id, &pending("rot_1", 1), None)
        .await
        .unwrap();
    assert_eq!(
        store
            .begin_managed_rotation(&s.id, &pending("rot_2", 2), None)
            .await,
        Err(StoreError::Conflict(Conflict::RotationPending))
    );
    assert_eq!(
        store
            .reject_managed_rotation(&s.id, "rot_2", "no", NOW)
            .await,
        Err(StoreError::Conflict(Conflict::RotationStale))
    );

    let v = pending("rot_1", 1).version;
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (store, id, v) = (Arc::clone(&store), s.id.clone(), v.clone());
            tokio::spawn(async move {
                store
                    .audited(audited("secret_rotation_confirmed"))
                    .confirm_managed_rotation(&id, "rot_1", 1, &v)
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(n) => {
                won += 1;
                assert_eq!(n, 2);
            }
            Err(e) => assert_eq!(e, StoreError::Conflict(Conflict::RotationStale)),
        }
    }
    assert_eq!(won, 1);
    let confirms = store.audit_range(1, 100).await.unwrap();
    assert_eq!(confirms.len(), 1, "one record for the one confirmation");
    let secret = store.secret(&s.id).await.unwrap().unwrap();
    assert_eq!(secret.current_version, 2);
    let got = store.managed(&s.id).await.unwrap().unwrap();
    assert_eq!(got.pending, None);
    let last = got.last.unwrap();
    assert_eq!(
        (last.rotation_id.as_str(), last.outcome),
        ("rot_1", RotationOutcome::Confirmed)
    );

    store
        .begin_managed_rotation(&s.id, &pending("rot_3", 3), None)
        .await
        .unwrap();
    assert_eq!(
        store.confirm_managed_rotation(&s.id, "rot_1", 2, &v).await,
        Err(StoreError::Conflict(Conflict::RotationStale))
    );
    store
        .reject_managed_rotation(&s.id, "rot_3", "verify failed", NOW + 5)
        .await
        .unwrap();
    assert_eq!(
        store
            .reject_managed_rotation(&s.id, "rot_3", "verify failed", NOW + 6)
            .await,
        Err(StoreError::Conflict(Conflict::RotationStale))
    );
    let got = store.managed(&s.id).await.unwrap().unwrap();
    assert_eq!(got.pending, None);
    let last = got.last.unwrap();
    assert_eq!(last.outcome, RotationOutcome::Rejected);
    assert_eq!(last.error.as_deref(), Some("verify failed"));
    assert_eq!(last.at_ms, NOW + 5);
    assert_eq!(
        store.secret(&s.id).await.unwrap().unwrap().current_version,
        2,
        "a rejection keeps the live version"
    );
}

/// Replicas racing to claim a managed secret's due schedule: exactly one makes it pending.
pub async fn a_due_managed_rotation_is_claimed_once(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "db").await;
    store.set_managed(&binding(&s, None)).await.unwrap();
    store
        .set_rotation(&RotationRecord {
            secret_id: s.id.clone(),
            charset: "alphanumeric".to_owned(),
            length: 32,
            fields: None,
            interval_ms: Some(5 * MINUTE),
            paused: false,
            next_due_ms: Some(NOW),
            last_rotated_ms: None,
            updated_ms: NOW,
        })
        .await
        .unwrap();
    let claim = RotationClaim {
        due_ms: NOW,
        next_due_ms: NOW + 5 * MINUTE,
    };
    let tasks: Vec<_> = (0..8_u8)
        .map(|i| {
            let (store, id) = (Arc::clone(&store), s.id.clone());
            tokio::spawn(async move {
                store
                    .begin_managed_rotation(&id, &pending(&format!("rot_{i}"), i), Some(claim))
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => won += 1,
            Err(e) => assert!(
                matches!(
                    e,
                    StoreError::Conflict(Conflict::RotationClaimed | Conflict::RotationPending)
                ),
                "{e:?}"
            ),
        }
    }
    assert_eq!(won, 1);
    let r = store.rotation(&s.id).await.unwrap().unwrap();
    assert_eq!(r.next_due_ms, Some(NOW + 5 * MINUTE));
    assert_eq!(
        store.secret(&s.id).await.unwrap().unwrap().current_version,
        1,
        "pending is not live"
    );
}

/// Purging a managed secret with rotation settings (alone, or with its project) takes its
/// binding and settings with it.
pub async fn a_purged_managed_secret_takes_its_binding(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let mut ids = Vec::new();
    for name in ["alone", "with_project"] {
        let s = add_secret(&store, &p.id, name).await;
        store.set_managed(&binding(&s, None)).await.unwrap();
        store
            .set_rotation(&RotationRecord {
                secret_id: s.id.clone(),
                charset: "alphanumeric".to_owned(),
                length: 32,
                fields: None,
                interval_ms: Some(5 * MINUTE),
                paused: false,
                next_due_ms: Some(NOW + 5 * MINUTE),
                last_rotated_ms: None,
                updated_ms: NOW,
            })
            .await
            .unwrap();
        store
            .begin_managed_rotation(&s.id, &pending("rot_p", 9), None)
            .await
            .unwrap();
        ids.push(s.id);
    }
    let by = crate::Deletion {
        at_ms: NOW,
        by_id: "op_1".to_owned(),
        by_name: "alice".to_owned(),
    };
    store.trash_secret(&ids[0], &by).await.unwrap();
    store.purge_secret(&ids[0], None).await.unwrap();
    assert_eq!(store.managed(&ids[0]).await.unwrap(), None);
    assert_eq!(store.rotation(&ids[0]).await.unwrap(), None);
    store.trash_project(&p.id, &by).await.unwrap();
    store.purge_project(&p.id, None).await.unwrap();
    assert_eq!(store.managed(&ids[1]).await.unwrap(), None);
    assert_eq!(store.secret(&ids[1]).await.unwrap(), None);
}
