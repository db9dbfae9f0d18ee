//! The trash: soft delete with who and when, restore, purge, the retention job's selection.

use std::sync::Arc;

use signet_proto::{MachineId, ProjectId, SecretId};

use super::fixture::{self, HOUR, NOW, add_machine, add_project, add_secret, sealed, version};
use crate::{
    ActorKind, AuditEvent, AuditResult, Audited, Conflict, DEFAULT_TRASH_RETENTION_DAYS, Deletion,
    JournalBatch, ReadMark, Store, StoreError, TrashItem, TrashKind,
};

fn by(at_ms: i64) -> Deletion {
    Deletion {
        at_ms,
        by_id: "op_1".to_owned(),
        by_name: "alice".to_owned(),
    }
}

fn purge_record() -> Audited {
    Audited {
        event: AuditEvent {
            actor_kind: ActorKind::System,
            ..fixture::event("", "trash_purge", AuditResult::Ok)
        },
        chain: fixture::chain(),
    }
}

async fn actions(store: &Arc<dyn Store>) -> Vec<String> {
    let records = store.audit_range(1, 10_000).await.unwrap();
    fixture::assert_chain(&records);
    records.into_iter().map(|r| r.event.action).collect()
}

/// A project with a machine attached and granted one secret that has two versions and a read
/// mark: everything a purge must remove.
async fn populated(store: &Arc<dyn Store>, name: &str) -> (ProjectId, SecretId, MachineId) {
    let p = add_project(store, name).await;
    let s = add_secret(store, &p.id, "db").await;
    store
        .append_version(&s.id, 1, &version(sealed(2), NOW + 1))
        .await
        .unwrap();
    let m = add_machine(store, &format!("{name}-m")).await;
    store.attach(&m.id, &p.id).await.unwrap();
    store.grant(&m.id, &s.id).await.unwrap();
    let batch = JournalBatch {
        events: vec![fixture::event(
            &m.id.to_string(),
            "secret_read",
            AuditResult::Ok,
        )],
        read_marks: vec![ReadMark {
            machine: m.id,
            secret: s.id.clone(),
            version: 2,
        }],
    };
    store.append_journal(batch, fixture::chain()).await.unwrap();
    (p.id, s.id, m.id)
}

/// Trashing records who and when; a trashed secret, and every secret of a trashed project, is
/// gone for machines, and the project is gone from the project lookups.
pub async fn trashing_records_who_and_hides_from_machines(store: Arc<dyn Store>) {
    let (p, s, m) = populated(&store, "p").await;
    let other = add_secret(&store, &p, "other").await;
    store.grant(&m, &other.id).await.unwrap();

    store.trash_secret(&s, &by(NOW + 10)).await.unwrap();
    assert_eq!(
        store.trash_secret(&s, &by(NOW + 11)).await,
        Err(StoreError::NotFound)
    );
    assert!(store.read_view(&m, &s).await.unwrap().is_none());
    assert!(store.read_view(&m, &other.id).await.unwrap().is_some());
    assert_eq!(
        store.trash().await.unwrap(),
        [TrashItem {
            kind: TrashKind::Secret,
            id: s.to_string(),
            name: "db".to_owned(),
            project_id: p.clone(),
            project_name: "p".to_owned(),
            deletion: by(NOW + 10),
        }]
    );

    store.trash_project(&p, &by(NOW + 20)).await.unwrap();
    assert_eq!(
        store.trash_project(&p, &by(NOW + 21)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.project(&p).await.unwrap(), None);
    assert!(store.projects().await.unwrap().is_empty());
    assert!(store.read_view(&m, &other.id).await.unwrap().is_none());
    assert!(store.granted_read_views(&m, None).await.unwrap().is_empty());
    assert!(store.granted_secrets(&m, None).await.unwrap().is_empty());
    // The secrets of a trashed project read as deleted, and poll says so only to the granted.
    assert_eq!(
        store.secret(&other.id).await.unwrap().unwrap().deleted_ms,
        Some(NOW + 20)
    );
    let stranger = add_machine(&store, "stranger").await;
    let rows = store
        .poll(&m, std::slice::from_ref(&other.id))
        .await
        .unwrap();
    assert_eq!((rows[0].deleted, rows[0].granted), (true, true));
    let rows = store
        .poll(&stranger.id, std::slice::from_ref(&other.id))
        .await
        .unwrap();
    assert_eq!((rows[0].deleted, rows[0].granted), (true, false));
    // A secret of a trashed project cannot be trashed on its own.
    assert_eq!(
        store.trash_secret(&other.id, &by(NOW + 30)).await,
        Err(StoreError::NotFound)
    );
    let listed: Vec<_> = store
        .trash()
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.kind, i.id, i.deletion.at_ms))
        .collect();
    assert_eq!(
        listed,
        [
            (TrashKind::Secret, s.to_string(), NOW + 10),
            (TrashKind::Project, p.to_string(), NOW + 20)
        ]
    );
    // The name stays reserved while the project is in the trash.
    assert_eq!(
        store.insert_project(&fixture::project("p")).await,
        Err(StoreError::Conflict(Conflict::ProjectName))
    );
}

/// A restore brings back versions, grants and memberships as they were; a secret waits for its
/// project, and a name taken meanwhile is a conflict.
pub async fn restore_keeps_versions_and_grants(store: Arc<dyn Store>) {
    let (p, s, m) = populated(&store, "p").await;
    let versions = store.versions(&s).await.unwrap();

    store.trash_secret(&s, &by(NOW + 10)).await.unwrap();
    store.trash_project(&p, &by(NOW + 20)).await.unwrap();
    assert_eq!(
        store.restore_secret(&s).await,
        Err(StoreError::Conflict(Conflict::ProjectTrashed))
    );
    store.restore_project(&p).await.unwrap();
    assert_eq!(store.restore_project(&p).await, Err(StoreError::NotFound));
    assert!(store.project(&p).await.unwrap().is_some());
    // The secret trashed on its own is still in the trash; its name is free meanwhile.
    assert!(store.read_view(&m, &s).await.unwrap().is_none());
    let twin = add_secret(&store, &p, "db").await;
    assert_eq!(
        store.restore_secret(&s).await,
        Err(StoreError::Conflict(Conflict::SecretName))
    );
    store.trash_secret(&twin.id, &by(NOW + 30)).await.unwrap();
    store.restore_secret(&s).await.unwrap();
    assert_eq!(store.restore_secret(&s).await, Err(StoreError::NotFound));

    let view = store.read_view(&m, &s).await.unwrap().unwrap();
    assert!(view.attached && view.granted);
    assert_eq!(view.secret.current_version, 2);
    assert_eq!(view.secret.deleted_ms, None);
    assert_eq!(store.versions(&s).await.unwrap(), versions);
    assert_eq!(store.grants(&m).await.unwrap(), std::slice::from_ref(&s));
    assert_eq!(
        store.memberships(&m).await.unwrap(),
        std::slice::from_ref(&p)
    );
    let listed: Vec<_> = store
        .trash()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(listed, [twin.id.to_string()]);
    // Live or unknown items are not in the trash.
    assert_eq!(
        store.restore_secret(&SecretId::generate()).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.restore_project(&ProjectId::generate()).await,
        Err(StoreError::NotFound)
    );
}

/// A purge destroys versions, grants, read marks, memberships and the project key; only what
/// is in the trash can be purged, and the project's name is free afterwards.
pub async fn purge_removes_everything(store: Arc<dyn Store>) {
    let (p, s, m) = populated(&store, "p").await;
    let kept = add_secret(&store, &p, "kept").await;
    store.grant(&m, &kept.id).await.unwrap();
    assert_eq!(
        store.purge_secret(&s, None).await,
        Err(StoreError::NotFound)
    );

    store.trash_secret(&s, &by(NOW + 10)).await.unwrap();
    store.purge_secret(&s, None).await.unwrap();
    assert_eq!(store.secret(&s).await.unwrap(), None);
    assert!(store.versions(&s).await.unwrap().is_empty());
    assert_eq!(
        store.grants(&m).await.unwrap(),
        std::slice::from_ref(&kept.id)
    );
    let row = &store.poll(&m, std::slice::from_ref(&s)).await.unwrap()[0];
    assert_eq!((row.current_version, row.last_read_version), (None, None));
    assert_eq!(
        store.purge_secret(&s, None).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.restore_secret(&s).await, Err(StoreError::NotFound));
    assert!(store.trash().await.unwrap().is_empty());

    assert_eq!(
        store.purge_project(&p, None).await,
        Err(StoreError::NotFound)
    );
    store.trash_project(&p, &by(NOW + 20)).await.unwrap();
    store.purge_project(&p, None).await.unwrap();
    assert_eq!(store.secret(&kept.id).await.unwrap(), None);
    assert!(store.versions(&kept.id).await.unwrap().is_empty());
    assert!(store.grants(&m).await.unwrap().is_empty());
    assert!(store.memberships(&m).await.unwrap().is_empty());
    assert!(store.trash().await.unwrap().is_empty());
    assert_eq!(store.restore_project(&p).await, Err(StoreError::NotFound));
    assert_eq!(
        store.purge_project(&p, None).await,
        Err(StoreError::NotFound)
    );
    // The machine itself is untouched, and the name is free again.
    assert!(store.machine(&m).await.unwrap().is_some());
    add_project(&store, "p").await;
}

/// The retention job's selection: items trashed before the cutoff, and a conditional purge
/// that refuses an item trashed later.
pub async fn purge_due_selects_by_deletion_time(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let old = add_secret(&store, &p.id, "old").await;
    let new = add_secret(&store, &p.id, "new").await;
    let gone = add_project(&store, "gone").await;
    store.trash_secret(&old.id, &by(NOW)).await.unwrap();
    store
        .trash_project(&gone.id, &by(NOW + HOUR))
        .await
        .unwrap();
    store
        .trash_secret(&new.id, &by(NOW + 2 * HOUR))
        .await
        .unwrap();

    let due = |before: i64| {
        let store = Arc::clone(&store);
        async move {
            store
                .purge_due(before)
                .await
                .unwrap()
                .into_iter()
                .map(|i| i.id)
                .collect::<Vec<_>>()
        }
    };
    assert!(due(NOW).await.is_empty());
    assert_eq!(due(NOW + 1).await, [old.id.to_string()]);
    assert_eq!(
        due(NOW + 2 * HOUR).await,
        [old.id.to_string(), gone.id.to_string()]
    );
    assert_eq!(
        store.purge_secret(&new.id, Some(NOW + HOUR)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.purge_project(&gone.id, Some(NOW + HOUR)).await,
        Err(StoreError::NotFound)
    );
    store
        .purge_project(&gone.id, Some(NOW + HOUR + 1))
        .await
        .unwrap();
    store.purge_secret(&old.id, Some(NOW + 1)).await.unwrap();
    assert_eq!(due(NOW + 3 * HOUR).await, [new.id.to_string()]);
}

/// Of many concurrent audited purges of one item, exactly one succeeds and exactly one record
/// is written; the rest find nothing to purge.
pub async fn concurrent_purges_purge_and_audit_once(store: Arc<dyn Store>) {
    let (p, s, _) = populated(&store, "p").await;
    let other = add_project(&store, "other").await;
    store.trash_secret(&s, &by(NOW)).await.unwrap();
    store.trash_project(&other.id, &by(NOW)).await.unwrap();
    let before = actions(&store).await.len();

    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = Arc::clone(&store);
        let (s, other) = (s.clone(), other.id.clone());
        tasks.push(tokio::spawn(async move {
            let handle = store.audited(purge_record());
            if i % 2 == 0 {
                handle.purge_secret(&s, Some(NOW + 1)).await
            } else {
                handle.purge_project(&other, Some(NOW + 1)).await
            }
        }));
    }
    let mut won = (0, 0);
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(()) if i % 2 == 0 => won.0 += 1,
            Ok(()) => won.1 += 1,
            Err(StoreError::NotFound) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won, (1, 1));
    let after = actions(&store).await;
    assert_eq!(after.len() - before, 2);
    assert_eq!(after[before..], ["trash_purge", "trash_purge"]);
    assert!(store.trash().await.unwrap().is_empty());
    assert!(store.project(&p).await.unwrap().is_some());
}

/// The retention is 30 days on a new vault and can be changed.
pub async fn retention_defaults_and_changes(store: Arc<dyn Store>) {
    store.create_vault(&fixture::vault()).await.unwrap();
    assert_eq!(
        store.trash_retention_days().await.unwrap(),
        DEFAULT_TRASH_RETENTION_DAYS
    );
    store.set_trash_retention_days(7).await.unwrap();
    assert_eq!(store.trash_retention_days().await.unwrap(), 7);
    store.set_trash_retention_days(3650).await.unwrap();
    assert_eq!(store.trash_retention_days().await.unwrap(), 3650);
}
