//! Secrets, versions, and the machine read path.

use std::sync::Arc;

use signet_proto::{MachineId, ProjectId, SecretId};

use super::fixture::{self, NOW, add_machine, add_project, add_secret, sealed, version};
use crate::{
    AuditResult, Conflict, JournalBatch, NewVersion, PollRow, ReadMark, SecretKind, SecretRecord,
    Store, StoreError, VersionContent, VersionRecord,
};

fn structured(content: VersionContent, created_ms: i64) -> NewVersion {
    NewVersion {
        key_generation: 0,
        kind: SecretKind::Structured,
        field_names: Some(vec!["user".to_owned(), "password".to_owned()]),
        ..version(content, created_ms)
    }
}

async fn mark_read(store: &Arc<dyn Store>, machine: &MachineId, secret: &SecretId, version: u32) {
    let batch = JournalBatch {
        events: vec![fixture::event(
            &machine.to_string(),
            "secret_read",
            AuditResult::Ok,
        )],
        read_marks: vec![ReadMark {
            machine: *machine,
            secret: secret.clone(),
            version,
        }],
    };
    store.append_journal(batch, fixture::chain()).await.unwrap();
}

/// A new secret reads back as given, with its first version; unknown ids read as nothing.
pub async fn secrets_round_trip_with_their_first_version(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let first = structured(sealed(1), NOW);
    let s = SecretRecord {
        kind: SecretKind::Structured,
        field_names: first.field_names.clone(),
        ..fixture::secret(&p.id, "db").0
    };
    store.insert_secret(&s, &first).await.unwrap();

    assert_eq!(store.secret(&s.id).await.unwrap(), Some(s.clone()));
    assert_eq!(
        store.secrets_in_project(&p.id).await.unwrap(),
        std::slice::from_ref(&s)
    );
    let expected = VersionRecord {
        version: 1,
        value_version: 1,
        kind: SecretKind::Structured,
        field_names: first.field_names.clone(),
        created_by: "op".to_owned(),
        created_ms: NOW,
        changed_fields: None,
    };
    assert_eq!(store.versions(&s.id).await.unwrap(), [expected]);

    let unknown = SecretId::generate();
    assert_eq!(store.secret(&unknown).await.unwrap(), None);
    assert_eq!(store.versions(&unknown).await.unwrap(), []);
    assert_eq!(
        store
            .secrets_in_project(&ProjectId::generate())
            .await
            .unwrap(),
        []
    );
}

/// A name is taken by one live secret per project; other projects, and deletion, free it.
pub async fn a_live_secret_name_is_unique_per_project(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let q = add_project(&store, "q").await;
    let original = add_secret(&store, &p.id, "db").await;

    let (twin, first) = fixture::secret(&p.id, "db");
    assert_eq!(
        store.insert_secret(&twin, &first).await,
        Err(StoreError::Conflict(Conflict::SecretName))
    );
    assert_eq!(store.secret(&twin.id).await.unwrap(), None);

    add_secret(&store, &q.id, "db").await;

    store.delete_secret(&original.id, NOW).await.unwrap();
    let reuse = add_secret(&store, &p.id, "db").await;
    assert_eq!(store.secrets_in_project(&p.id).await.unwrap(), [reuse]);
}

/// A secret cannot be created in a project that does not exist.
pub async fn a_secret_needs_its_project(store: Arc<dyn Store>) {
    let (s, first) = fixture::secret(&ProjectId::generate(), "orphan");
    assert_eq!(
        store.insert_secret(&s, &first).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.secret(&s.id).await.unwrap(), None);
}

/// A version is appended only on top of the version the writer saw, and moves the secret.
pub async fn versions_append_optimistically(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;

    let v2 = structured(sealed(2), NOW + 10);
    assert_eq!(store.append_version(&s.id, 1, &v2).await.unwrap(), 2);
    let got = store.secret(&s.id).await.unwrap().unwrap();
    assert_eq!(got.current_version, 2);
    assert_eq!(got.kind, SecretKind::Structured);
    assert_eq!(got.field_names, v2.field_names);
    assert_eq!(got.updated_ms, NOW + 10);
    assert_eq!(got.created_ms, NOW);

    assert_eq!(
        store
            .append_version(&s.id, 1, &version(sealed(3), NOW))
            .await,
        Err(StoreError::Conflict(Conflict::Version))
    );
    assert_eq!(
        store
            .append_version(&s.id, 3, &version(sealed(3), NOW))
            .await,
        Err(StoreError::Conflict(Conflict::Version))
    );
    let versions = store.versions(&s.id).await.unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version, v.value_version))
            .collect::<Vec<_>>(),
        [(1, 1), (2, 2)]
    );
    assert_eq!(versions[1].kind, SecretKind::Structured);
    assert_eq!(versions[1].created_ms, NOW + 10);
}

/// Which fields a version changed is kept with it, by name, as written: a list, an empty list
/// (a write that changed no value) and none (not recorded) each read back as themselves.
pub async fn a_version_keeps_which_fields_it_changed(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let changed = |names: Option<&[&str]>, tag: u8| NewVersion {
        changed_fields: names.map(|n| n.iter().map(|x| (*x).to_owned()).collect()),
        ..structured(sealed(tag), NOW + i64::from(tag))
    };
    for (expected, v) in [
        (1, changed(Some(&["password"]), 2)),
        (2, changed(Some(&[]), 3)),
        (3, changed(None, 4)),
        (4, changed(Some(&["password", "user"]), 5)),
    ] {
        assert_eq!(
            store.append_version(&s.id, expected, &v).await.unwrap(),
            expected + 1
        );
    }
    let got: Vec<Option<Vec<String>>> = store
        .versions(&s.id)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.changed_fields)
        .collect();
    let list = |n: &[&str]| Some(n.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>());
    assert_eq!(
        got,
        [
            None,
            list(&["password"]),
            list(&[]),
            None,
            list(&["password", "user"])
        ]
    );
}

/// Of several writers appending on the same version, exactly one wins.
pub async fn concurrent_appends_on_one_version_let_one_win(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let tasks: Vec<_> = (0..8_u8)
        .map(|i| {
            let (store, id) = (Arc::clone(&store), s.id.clone());
            tokio::spawn(async move {
                store
                    .append_version(&id, 1, &version(sealed(10 + i), NOW))
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(written) => {
                won += 1;
                assert_eq!(written, 2, "the winner is told the version it wrote");
            }
            Err(e) => assert_eq!(e, StoreError::Conflict(Conflict::Version)),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(
        store.secret(&s.id).await.unwrap().unwrap().current_version,
        2
    );
    assert_eq!(store.versions(&s.id).await.unwrap().len(), 2);
}

/// Writers that each retry until their append lands are each told a different version, and the
/// version each is told is the one that holds what it wrote, however the appends interleave.
pub async fn concurrent_appends_are_told_the_version_they_wrote(store: Arc<dyn Store>) {
    const WRITERS: u32 = 8;
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|i| {
            let (store, id) = (Arc::clone(&store), s.id.clone());
            tokio::spawn(async move {
                let v = NewVersion {
                    created_by: format!("writer_{i}"),
                    ..version(sealed(20), NOW)
                };
                loop {
                    let current = store.secret(&id).await.unwrap().unwrap().current_version;
                    match store.append_version(&id, current, &v).await {
                        Ok(written) => return (i, written),
                        Err(StoreError::Conflict(Conflict::Version)) => {
                            tokio::task::yield_now().await
                        }
                        Err(e) => panic!("append failed: {e}"),
                    }
                }
            })
        })
        .collect();
    let mut told = Vec::new();
    for task in tasks {
        told.push(task.await.unwrap());
    }
    let mut numbers: Vec<u32> = told.iter().map(|&(_, v)| v).collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (2..=WRITERS + 1).collect::<Vec<_>>(),
        "each told a distinct version"
    );
    let versions = store.versions(&s.id).await.unwrap();
    for (i, written) in told {
        let stored = &versions[usize::try_from(written).unwrap() - 1];
        assert_eq!(stored.version, written);
        assert_eq!(
            stored.created_by,
            format!("writer_{i}"),
            "version {written} holds what its writer was told"
        );
    }
}

/// Appending to a missing or deleted secret is `NotFound`.
pub async fn appending_needs_a_live_secret(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    store.delete_secret(&s.id, NOW).await.unwrap();
    assert_eq!(
        store
            .append_version(&s.id, 1, &version(sealed(2), NOW))
            .await,
        Err(StoreError::NotFound)
    );
    let unknown = SecretId::generate();
    assert_eq!(
        store
            .append_version(&unknown, 1, &version(sealed(2), NOW))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.versions(&s.id).await.unwrap().len(), 1);
}

/// A rollback names an existing sealed version (not a missing one, not another rollback).
pub async fn a_rollback_must_point_at_a_sealed_version(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    store
        .append_version(&s.id, 1, &version(sealed(2), NOW))
        .await
        .unwrap();

    assert!(
        store
            .append_version(&s.id, 2, &version(VersionContent::Pointer(9), NOW))
            .await
            .is_err()
    );
    assert_eq!(
        store.secret(&s.id).await.unwrap().unwrap().current_version,
        2,
        "a refused rollback changes nothing"
    );
    assert_eq!(store.versions(&s.id).await.unwrap().len(), 2);

    store
        .append_version(&s.id, 2, &version(VersionContent::Pointer(1), NOW))
        .await
        .unwrap();
    assert!(
        store
            .append_version(&s.id, 3, &version(VersionContent::Pointer(3), NOW))
            .await
            .is_err()
    );
    assert_eq!(
        store.secret(&s.id).await.unwrap().unwrap().current_version,
        3
    );

    store
        .append_version(&s.id, 3, &version(VersionContent::Pointer(2), NOW))
        .await
        .unwrap();
    let versions = store.versions(&s.id).await.unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version, v.value_version))
            .collect::<Vec<_>>(),
        [(1, 1), (2, 2), (3, 1), (4, 2)]
    );
}

/// Deleting hides a secret from listings but keeps its metadata; it happens once.
pub async fn deleting_hides_a_secret_but_keeps_its_metadata(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let keep = add_secret(&store, &p.id, "keep").await;

    store.delete_secret(&s.id, NOW + 5).await.unwrap();
    assert_eq!(
        store.secret(&s.id).await.unwrap(),
        Some(SecretRecord {
            deleted_ms: Some(NOW + 5),
            ..s.clone()
        })
    );
    assert_eq!(store.secrets_in_project(&p.id).await.unwrap(), [keep]);

    assert_eq!(
        store.delete_secret(&s.id, NOW + 6).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.delete_secret(&SecretId::generate(), NOW).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.secret(&s.id).await.unwrap().unwrap().deleted_ms,
        Some(NOW + 5)
    );
}

/// The read view carries the value and says whether the machine is attached and granted.
pub async fn read_view_reports_attachment_and_grant(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let m = add_machine(&store, "m").await;
    let flags = async |machine: &MachineId| {
        let v = store.read_view(machine, &s.id).await.unwrap().unwrap();
        (v.attached, v.granted)
    };

    let view = store.read_view(&m.id, &s.id).await.unwrap().unwrap();
    assert_eq!(view.secret, s);
    assert_eq!((view.attached, view.granted), (false, false));
    assert_eq!(view.wrapped_project_key, p.wrapped_key);
    assert_eq!(view.value_version, 1);
    assert_eq!(view.wrapped_dek, vec![1; 8]);
    assert_eq!(view.ciphertext, vec![1; 24]);

    store.grant(&m.id, &s.id).await.unwrap();
    assert_eq!(flags(&m.id).await, (false, true));
    store.attach(&m.id, &p.id).await.unwrap();
    assert_eq!(flags(&m.id).await, (true, true));
    store.ungrant(&m.id, &s.id).await.unwrap();
    assert_eq!(flags(&m.id).await, (true, false));
    assert_eq!(flags(&MachineId::generate()).await, (false, false));
}

/// No view of a secret that does not exist or is deleted, even for a granted machine.
pub async fn read_view_hides_missing_and_deleted_secrets(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let m = add_machine(&store, "m").await;
    store.attach(&m.id, &p.id).await.unwrap();
    store.grant(&m.id, &s.id).await.unwrap();

    assert_eq!(
        store.read_view(&m.id, &SecretId::generate()).await.unwrap(),
        None
    );
    assert!(store.read_view(&m.id, &s.id).await.unwrap().is_some());
    store.delete_secret(&s.id, NOW).await.unwrap();
    assert_eq!(store.read_view(&m.id, &s.id).await.unwrap(), None);
    assert_eq!(store.granted_read_views(&m.id, None).await.unwrap(), []);
}

/// After a rollback the view carries the old version's value, and names that version.
pub async fn read_view_follows_a_rollback(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let m = add_machine(&store, "m").await;
    store
        .append_version(&s.id, 1, &version(sealed(2), NOW))
        .await
        .unwrap();
    store
        .append_version(&s.id, 2, &version(VersionContent::Pointer(1), NOW))
        .await
        .unwrap();

    let view = store.read_view(&m.id, &s.id).await.unwrap().unwrap();
    assert_eq!(view.secret.current_version, 3);
    assert_eq!(view.value_version, 1);
    assert_eq!(view.wrapped_dek, vec![1; 8]);
    assert_eq!(view.ciphertext, vec![1; 24]);

    store
        .append_version(&s.id, 3, &version(sealed(4), NOW))
        .await
        .unwrap();
    let view = store.read_view(&m.id, &s.id).await.unwrap().unwrap();
    assert_eq!((view.secret.current_version, view.value_version), (4, 4));
    assert_eq!(view.ciphertext, vec![4; 24]);
}

/// The granted listings hold exactly the live secrets the machine is attached to and granted.
pub async fn granted_views_need_attachment_and_grant(store: Arc<dyn Store>) {
    let alpha = add_project(&store, "alpha").await;
    let beta = add_project(&store, "beta").await;
    let gamma = add_project(&store, "gamma").await;
    let zed = add_secret(&store, &alpha.id, "zed").await;
    let api = add_secret(&store, &alpha.id, "api").await;
    let ungranted = add_secret(&store, &alpha.id, "ungranted").await;
    let deleted = add_secret(&store, &alpha.id, "deleted").await;
    let key = add_secret(&store, &beta.id, "key").await;
    let unattached = add_secret(&store, &gamma.id, "unattached").await;
    let m = add_machine(&store, "m").await;
    let other = add_machine(&store, "other").await;
    for p in [&alpha, &beta, &gamma] {
        store.attach(&other.id, &p.id).await.unwrap();
    }
    store.attach(&m.id, &alpha.id).await.unwrap();
    store.attach(&m.id, &beta.id).await.unwrap();
    for s in [&zed, &api, &ungranted, &deleted, &key, &unattached] {
        store.grant(&other.id, &s.id).await.unwrap();
    }
    for s in [&zed, &api, &deleted, &key, &unattached] {
        store.grant(&m.id, &s.id).await.unwrap();
    }
    store.delete_secret(&deleted.id, NOW).await.unwrap();

    let views = store.granted_read_views(&m.id, None).await.unwrap();
    assert_eq!(
        views
            .iter()
            .map(|v| v.secret.name.as_str())
            .collect::<Vec<_>>(),
        ["api", "key", "zed"]
    );
    for v in &views {
        assert!(v.attached && v.granted);
        let project = if v.secret.project_id == alpha.id {
            &alpha
        } else {
            &beta
        };
        assert_eq!(v.wrapped_project_key, project.wrapped_key);
        assert_eq!(
            (v.value_version, v.ciphertext.as_slice()),
            (1, [1; 24].as_slice())
        );
    }
    assert_eq!(views[0].secret, api);
    let in_alpha = store
        .granted_read_views(&m.id, Some(&alpha.id))
        .await
        .unwrap();
    assert_eq!(
        in_alpha
            .iter()
            .map(|v| v.secret.id.clone())
            .collect::<Vec<_>>(),
        [api.id.clone(), zed.id.clone()]
    );
    assert_eq!(
        store
            .granted_read_views(&m.id, Some(&gamma.id))
            .await
            .unwrap(),
        []
    );

    let listed = store.granted_secrets(&m.id, None).await.unwrap();
    let listed: Vec<_> = listed
        .iter()
        .map(|g| (g.project_name.as_str(), g.secret.name.as_str()))
        .collect();
    assert_eq!(
        listed,
        [("alpha", "api"), ("alpha", "zed"), ("beta", "key")]
    );
    let in_beta = store.granted_secrets(&m.id, Some(&beta.id)).await.unwrap();
    assert_eq!(in_beta.len(), 1);
    assert_eq!(in_beta[0].secret, key);
    assert_eq!(in_beta[0].project_name, "beta");
    assert_eq!(
        store
            .granted_secrets(&MachineId::generate(), None)
            .await
            .unwrap(),
        []
    );
}

/// One poll row per watched id, in order: existence, deletion, the grant and the last read.
pub async fn poll_reports_each_watched_secret(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let readable = add_secret(&store, &p.id, "readable").await;
    let ungranted = add_secret(&store, &p.id, "ungranted").await;
    let deleted = add_secret(&store, &p.id, "deleted").await;
    let m = add_machine(&store, "m").await;
    store.attach(&m.id, &p.id).await.unwrap();
    store.grant(&m.id, &readable.id).await.unwrap();
    store.grant(&m.id, &deleted.id).await.unwrap();
    store.delete_secret(&deleted.id, NOW).await.unwrap();
    mark_read(&store, &m.id, &readable.id, 1).await;
    store
        .append_version(&readable.id, 1, &version(sealed(2), NOW))
        .await
        .unwrap();
    let unknown = SecretId::generate();

    let watched = [
        unknown.clone(),
        readable.id.clone(),
        deleted.id.clone(),
        ungranted.id.clone(),
        readable.id.clone(),
    ];
    let rows = store.poll(&m.id, &watched).await.unwrap();
    assert_eq!(rows.len(), 5);
    let live = PollRow {
        secret_id: readable.id.clone(),
        current_version: Some(2),
        deleted: false,
        granted: true,
        last_read_version: Some(1),
        project_frozen: false,
    };
    assert_eq!(
        rows[0],
        PollRow {
            secret_id: unknown,
            current_version: None,
            deleted: false,
            granted: false,
            last_read_version: None,
            project_frozen: false,
        }
    );
    assert_eq!(rows[1], live);
    assert_eq!(
        (
            &rows[2].secret_id,
            rows[2].current_version,
            rows[2].deleted,
            rows[2].granted
        ),
        (&deleted.id, Some(1), true, true)
    );
    assert_eq!(rows[2].last_read_version, None);
    assert_eq!(
        rows[3],
        PollRow {
            secret_id: ungranted.id,
            current_version: Some(1),
            deleted: false,
            granted: false,
            last_read_version: None,
            project_frozen: false,
        }
    );
    assert_eq!(rows[4], live);
    assert_eq!(store.poll(&m.id, &[]).await.unwrap(), []);
}

/// A deleted secret the machine was never granted, or that lives in another project, is not
/// granted: poll must not tell it apart from one that never existed (issue 9, finding 2).
pub async fn poll_grants_deletion_only_to_the_granted(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let other = add_project(&store, "other").await;
    let m = add_machine(&store, "m").await;
    store.attach(&m.id, &p.id).await.unwrap();
    let granted = add_secret(&store, &p.id, "granted").await;
    let ungranted = add_secret(&store, &p.id, "ungranted").await;
    let elsewhere = add_secret(&store, &other.id, "elsewhere").await;
    // A grant without membership of the project does not count either.
    store.grant(&m.id, &elsewhere.id).await.unwrap();
    store.grant(&m.id, &granted.id).await.unwrap();
    for s in [&granted, &ungranted, &elsewhere] {
        store.delete_secret(&s.id, NOW).await.unwrap();
    }

    let watched = [
        granted.id.clone(),
        ungranted.id.clone(),
        elsewhere.id.clone(),
    ];
    let rows = store.poll(&m.id, &watched).await.unwrap();
    let seen: Vec<_> = rows.iter().map(|r| (r.deleted, r.granted)).collect();
    assert_eq!(seen, [(true, true), (true, false), (true, false)]);
}

/// A machine's read mark on a secret is replaced by its next one, and is its own.
pub async fn a_read_mark_is_replaced_by_the_next(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let m = add_machine(&store, "m").await;
    let other = add_machine(&store, "other").await;

    mark_read(&store, &m.id, &s.id, 1).await;
    mark_read(&store, &m.id, &s.id, 3).await;
    let last_read = async |machine: &MachineId| {
        store
            .poll(machine, std::slice::from_ref(&s.id))
            .await
            .unwrap()[0]
            .last_read_version
    };
    assert_eq!(last_read(&m.id).await, Some(3));
    assert_eq!(last_read(&other.id).await, None);
}
