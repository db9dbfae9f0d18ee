//! Rotation settings and the scheduler's claims.

use std::sync::Arc;

use super::fixture::{self, NOW, add_project, add_secret, chain, sealed, version};
use crate::{
    ActorKind, AuditEvent, AuditResult, Audited, Conflict, RotationClaim, RotationRecord, Store,
    StoreError,
};

const MINUTE: i64 = 60_000;

fn settings(secret: &crate::SecretRecord, interval_ms: Option<i64>) -> RotationRecord {
    RotationRecord {
        secret_id: secret.id.clone(),
        charset: "alphanumeric".to_owned(),
        length: 40,
        fields: Some(vec!["password".to_owned()]),
        interval_ms,
        paused: false,
        next_due_ms: interval_ms.map(|i| NOW + i),
        last_rotated_ms: None,
        updated_ms: NOW,
    }
}

fn audited(action: &str) -> Audited {
    Audited {
        event: AuditEvent {
            actor_kind: ActorKind::System,
            ..fixture::event("scheduler", action, AuditResult::Ok)
        },
        chain: chain(),
    }
}

/// Settings are stored, replaced (keeping the last rotation's time), and cleared; a missing or
/// deleted secret has none to set.
pub async fn rotation_settings_round_trip(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    assert_eq!(store.rotation(&s.id).await.unwrap(), None);
    let first = settings(&s, Some(5 * MINUTE));
    store.set_rotation(&first).await.unwrap();
    assert_eq!(store.rotation(&s.id).await.unwrap(), Some(first.clone()));

    store
        .append_rotation(&s.id, 1, &version(sealed(2), NOW + MINUTE), None)
        .await
        .unwrap();
    let rotated = store.rotation(&s.id).await.unwrap().unwrap();
    assert_eq!(rotated.last_rotated_ms, Some(NOW + MINUTE));
    assert_eq!(
        rotated.next_due_ms,
        Some(NOW + 6 * MINUTE),
        "a manual rotation starts the schedule again"
    );

    let replaced = RotationRecord {
        charset: "hex".to_owned(),
        length: 1024,
        fields: None,
        interval_ms: None,
        next_due_ms: None,
        last_rotated_ms: None,
        updated_ms: NOW + 2 * MINUTE,
        ..first.clone()
    };
    store.set_rotation(&replaced).await.unwrap();
    assert_eq!(
        store.rotation(&s.id).await.unwrap(),
        Some(RotationRecord {
            last_rotated_ms: Some(NOW + MINUTE),
            ..replaced
        })
    );

    store
        .set_rotation_paused(&s.id, true, None, NOW + 3 * MINUTE)
        .await
        .unwrap();
    let paused = store.rotation(&s.id).await.unwrap().unwrap();
    assert!(paused.paused);
    assert_eq!(paused.updated_ms, NOW + 3 * MINUTE);

    store.clear_rotation(&s.id).await.unwrap();
    assert_eq!(store.rotation(&s.id).await.unwrap(), None);
    assert_eq!(store.clear_rotation(&s.id).await, Err(StoreError::NotFound));
    assert_eq!(
        store.set_rotation_paused(&s.id, false, None, NOW).await,
        Err(StoreError::NotFound)
    );

    let gone = add_secret(&store, &p.id, "gone").await;
    store.delete_secret(&gone.id, NOW).await.unwrap();
    assert_eq!(
        store.set_rotation(&settings(&gone, None)).await,
        Err(StoreError::NotFound)
    );
    let never = fixture::secret(&p.id, "never").0;
    assert_eq!(
        store.set_rotation(&settings(&never, None)).await,
        Err(StoreError::NotFound)
    );
}

/// Only running schedules of live secrets that are due are listed, most overdue first.
pub async fn due_rotations_are_running_schedules_of_live_secrets(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let mut ids = Vec::new();
    for (name, due) in [("late", NOW - 2), ("later", NOW - 5), ("now", NOW)] {
        let s = add_secret(&store, &p.id, name).await;
        store
            .set_rotation(&RotationRecord {
                next_due_ms: Some(due),
                ..settings(&s, Some(5 * MINUTE))
            })
            .await
            .unwrap();
        ids.push(s.id);
    }
    let future = add_secret(&store, &p.id, "future").await;
    store
        .set_rotation(&settings(&future, Some(5 * MINUTE)))
        .await
        .unwrap();
    let manual = add_secret(&store, &p.id, "manual").await;
    store.set_rotation(&settings(&manual, None)).await.unwrap();
    let paused = add_secret(&store, &p.id, "paused").await;
    store
        .set_rotation(&RotationRecord {
            next_due_ms: Some(NOW - 9),
            paused: true,
            ..settings(&paused, Some(5 * MINUTE))
        })
        .await
        .unwrap();
    let deleted = add_secret(&store, &p.id, "deleted").await;
    store
        .set_rotation(&RotationRecord {
            next_due_ms: Some(NOW - 9),
            ..settings(&deleted, Some(5 * MINUTE))
        })
        .await
        .unwrap();
    store.delete_secret(&deleted.id, NOW).await.unwrap();

    let due: Vec<_> = store
        .due_rotations(NOW, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.secret_id)
        .collect();
    assert_eq!(due, [ids[1].clone(), ids[0].clone(), ids[2].clone()]);
    assert_eq!(store.due_rotations(NOW, 1).await.unwrap().len(), 1);
}

/// Replicas racing to claim the same due rotation: exactly one writes a version and its audit
/// record, the schedule moves once, and the losers change nothing.
pub async fn a_due_rotation_is_claimed_once(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    store
        .set_rotation(&RotationRecord {
            next_due_ms: Some(NOW),
            ..settings(&s, Some(5 * MINUTE))
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
                    .audited(audited("secret_rotate"))
                    .append_rotation(&id, 1, &version(sealed(30 + i), NOW), Some(claim))
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(written) => {
                won += 1;
                assert_eq!(written, 2);
            }
            Err(e) => assert!(
                matches!(
                    e,
                    StoreError::Conflict(Conflict::RotationClaimed | Conflict::Version)
                ),
                "{e:?}"
            ),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.versions(&s.id).await.unwrap().len(), 2);
    let records = store.audit_range(1, 100).await.unwrap();
    assert_eq!(records.len(), 1, "one audit record, the winner's");
    let after = store.rotation(&s.id).await.unwrap().unwrap();
    assert_eq!(after.next_due_ms, Some(NOW + 5 * MINUTE));
    assert_eq!(after.last_rotated_ms, Some(NOW));

    // The same claim again, later: the moment is gone.
    assert_eq!(
        store
            .append_rotation(&s.id, 2, &version(sealed(40), NOW), Some(claim))
            .await,
        Err(StoreError::Conflict(Conflict::RotationClaimed))
    );
    // A paused schedule is not claimed even at its due moment.
    store
        .set_rotation_paused(&s.id, true, Some(NOW + 5 * MINUTE), NOW)
        .await
        .unwrap();
    let paused_claim = RotationClaim {
        due_ms: NOW + 5 * MINUTE,
        next_due_ms: NOW + 10 * MINUTE,
    };
    assert_eq!(
        store
            .append_rotation(&s.id, 2, &version(sealed(41), NOW), Some(paused_claim))
            .await,
        Err(StoreError::Conflict(Conflict::RotationClaimed))
    );
    // A claim whose version lost to another write moves nothing either.
    store
        .set_rotation_paused(&s.id, false, Some(NOW + 5 * MINUTE), NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .append_rotation(&s.id, 1, &version(sealed(42), NOW), Some(paused_claim))
            .await,
        Err(StoreError::Conflict(Conflict::Version))
    );
    assert_eq!(
        store.rotation(&s.id).await.unwrap().unwrap().next_due_ms,
        Some(NOW + 5 * MINUTE)
    );
    assert_eq!(store.versions(&s.id).await.unwrap().len(), 2);
}
