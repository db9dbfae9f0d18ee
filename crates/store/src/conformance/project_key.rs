//! Project key rotation (`KeyringStore::project_key_values`, `replace_project_key`): every kind
//! of value sealed under a project key is listed and re-wrapped in one transaction, a second
//! rotation from the same generation loses, a value written after the listing is re-wrapped
//! inside the commit, and a write under a replaced generation is refused.

use std::sync::Arc;

use signet_proto::{LeaseId, ProjectId};

use super::connection::record;
use super::fixture::{self, NOW, add_machine, add_project, sealed, version};
use crate::{
    Conflict, ConnectionRecord, LateRewrap, LeaseRecord, LeaseState, ManagedRecord,
    PendingRotation, ProjectKeyReplacement, ProjectKeyedRow, ProjectKeyedValue, RewrappedValue,
    SecretRecord, Store, StoreError, VersionContent,
};

/// A project with a secret of two sealed versions and a rollback (a pointer, which seals
/// nothing), a managed secret with a pending rotation, a connection and a lease.
async fn seeded(store: &Arc<dyn Store>) -> (ProjectId, SecretRecord, ConnectionRecord) {
    let p = add_project(store, "keyed").await;
    let s = fixture::add_secret(store, &p.id, "S").await;
    store
        .append_version(&s.id, 1, &version(sealed(2), NOW + 1))
        .await
        .unwrap();
    store
        .append_version(&s.id, 2, &version(VersionContent::Pointer(1), NOW + 2))
        .await
        .unwrap();
    let managed = fixture::add_secret(store, &p.id, "DB").await;
    store
        .set_managed(&ManagedRecord {
            secret_id: managed.id.clone(),
            connection_id: "dbc_0123456789".to_owned(),
            username: "app".to_owned(),
            agent_machine_id: None,
            poll_interval_secs: 10,
            created_ms: NOW,
            updated_ms: NOW,
        })
        .await
        .unwrap();
    store
        .begin_managed_rotation(
            &managed.id,
            &PendingRotation {
                rotation_id: "rot_1".to_owned(),
                version: version(sealed(7), NOW),
                sealed_for: 2,
                trigger: "manual".to_owned(),
            },
            None,
        )
        .await
        .unwrap();
    let c = record(&p.id, "db");
    store.insert_connection(&c).await.unwrap();
    let m = add_machine(store, "m").await;
    store.insert_lease(&lease(&s, &c, m.id, 0)).await.unwrap();
    (p.id, s, c)
}

fn lease(
    s: &SecretRecord,
    c: &ConnectionRecord,
    machine: signet_proto::MachineId,
    key_generation: u32,
) -> LeaseRecord {
    LeaseRecord {
        id: LeaseId::generate(),
        secret_id: s.id.clone(),
        project_id: s.project_id.clone(),
        machine_id: machine,
        connection_id: c.id.clone(),
        role_name: format!(
            "signet_{}",
            LeaseId::generate().as_str()[6..].to_lowercase()
        ),
        password_wrapped_dek: vec![5; 60],
        key_generation,
        password_ciphertext: vec![6; 40],
        created_ms: NOW,
        expires_ms: NOW + 60_000,
        max_expires_ms: NOW + 600_000,
        state: LeaseState::Active,
        claim_until_ms: None,
        revoked_ms: None,
        revoke_reason: None,
    }
}

fn kinds(values: &[ProjectKeyedValue]) -> Vec<&'static str> {
    let mut k: Vec<&'static str> = values
        .iter()
        .map(|v| match v.row {
            ProjectKeyedRow::Version { .. } => "version",
            ProjectKeyedRow::Pending { .. } => "pending",
            ProjectKeyedRow::Connection { .. } => "connection",
            ProjectKeyedRow::Lease { .. } => "lease",
        })
        .collect();
    k.sort_unstable();
    k
}

/// Each value with its data key replaced by `[0xEE; 8]`; a value written after the listing
/// gets `[0x1A; 8]`.
fn replacement(
    project: &ProjectId,
    from: u32,
    values: &[ProjectKeyedValue],
) -> ProjectKeyReplacement {
    ProjectKeyReplacement {
        project: project.clone(),
        from_generation: from,
        wrapped_key: vec![0xAB; 40],
        root_generation: 0,
        values: values
            .iter()
            .map(|v| RewrappedValue {
                listed: v.clone(),
                wrapped_dek: vec![0xEE; 8],
            })
            .collect(),
        late: LateRewrap::new(|_| Some(vec![0x1A; 8])),
    }
}

/// Every kind of value is listed under generation 0 and, after a replacement, is under
/// generation 1 with its new data key; the project's key and generation change with it.
pub async fn a_project_key_rotation_rewraps_every_kind_of_value(store: Arc<dyn Store>) {
    let (p, s, c) = seeded(&store).await;
    let before = store.project_key_values(&p).await.unwrap();
    // Two sealed versions and the managed secret's first; the rollback seals nothing.
    assert_eq!(
        kinds(&before),
        [
            "connection",
            "lease",
            "pending",
            "version",
            "version",
            "version"
        ]
    );
    assert!(before.iter().all(|v| v.key_generation == 0));
    let other = add_project(&store, "other").await;
    assert!(
        store
            .project_key_values(&other.id)
            .await
            .unwrap()
            .is_empty()
    );

    store
        .replace_project_key(&replacement(&p, 0, &before))
        .await
        .unwrap();
    let project = store.project(&p).await.unwrap().unwrap();
    assert_eq!(project.key_generation, 1);
    assert_eq!(project.wrapped_key, vec![0xAB; 40]);
    let after = store.project_key_values(&p).await.unwrap();
    assert_eq!(kinds(&after), kinds(&before));
    assert!(
        after
            .iter()
            .all(|v| v.key_generation == 1 && v.wrapped_dek == vec![0xEE; 8])
    );
    // The read paths see the same: the connection, and the read view's version.
    let conn = store.connection(&c.id).await.unwrap().unwrap();
    assert_eq!(
        (conn.key_generation, conn.password_wrapped_dek),
        (1, vec![0xEE; 8])
    );
    assert_eq!(conn.password_ciphertext, c.password_ciphertext);
    let versions = store.versions(&s.id).await.unwrap();
    assert_eq!(versions.len(), 3);
}

/// Two rotations from the same generation: the second finds the key moved and changes
/// nothing; a project that is not live is `NotFound`.
pub async fn a_second_rotation_from_the_same_generation_loses(store: Arc<dyn Store>) {
    let (p, _, _) = seeded(&store).await;
    let values = store.project_key_values(&p).await.unwrap();
    store
        .replace_project_key(&replacement(&p, 0, &values))
        .await
        .unwrap();
    let mut late = replacement(&p, 0, &values);
    late.wrapped_key = vec![0xCD; 40];
    assert_eq!(
        store.replace_project_key(&late).await,
        Err(StoreError::Conflict(Conflict::ProjectKeyRotated))
    );
    assert_eq!(
        store.project(&p).await.unwrap().unwrap().wrapped_key,
        vec![0xAB; 40]
    );
    let missing = replacement(&ProjectId::generate(), 0, &[]);
    assert_eq!(
        store.replace_project_key(&missing).await,
        Err(StoreError::NotFound)
    );
}

/// A value written after the listing is not in the replacement, and a listed one re-sealed
/// since no longer holds the data key listed: the commit re-wraps both with the replacement's
/// `late` from what they hold then (the other listed values take the data keys given), so the
/// rotation lands whatever was written meanwhile and never pairs a ciphertext with another's
/// data key. A `late` that cannot re-wrap a value makes
/// the rotation change nothing (`Corrupt`).
pub async fn a_value_written_after_the_listing_is_rewrapped_in_the_commit(store: Arc<dyn Store>) {
    let (p, s, c) = seeded(&store).await;
    let listed = store.project_key_values(&p).await.unwrap();
    store
        .append_version(&s.id, 3, &version(sealed(4), NOW + 3))
        .await
        .unwrap();
    // A listed row re-sealed meanwhile (a connection given a new password): the data key the
    // listing re-wrapped is no longer the row's, so the commit must not write it there.
    store
        .update_connection(&ConnectionRecord {
            password_wrapped_dek: vec![9; 60],
            password_ciphertext: vec![8; 40],
            ..c.clone()
        })
        .await
        .unwrap();

    let mut refusing = replacement(&p, 0, &listed);
    refusing.late = LateRewrap::new(|_| None);
    assert_eq!(
        store.replace_project_key(&refusing).await,
        Err(StoreError::Corrupt)
    );
    assert_eq!(store.project(&p).await.unwrap().unwrap().key_generation, 0);
    let unchanged = store.project_key_values(&p).await.unwrap();
    assert!(unchanged.iter().all(|v| v.key_generation == 0));
    assert_eq!(unchanged.len(), listed.len() + 1);

    store
        .replace_project_key(&replacement(&p, 0, &listed))
        .await
        .unwrap();
    assert_eq!(store.project(&p).await.unwrap().unwrap().key_generation, 1);
    let after = store.project_key_values(&p).await.unwrap();
    assert_eq!(after.len(), listed.len() + 1);
    assert!(after.iter().all(|v| v.key_generation == 1));
    let mut late: Vec<&ProjectKeyedRow> = after
        .iter()
        .filter(|v| v.wrapped_dek == vec![0x1A; 8])
        .map(|v| &v.row)
        .collect();
    late.sort_by_key(|r| matches!(r, ProjectKeyedRow::Version { .. }));
    assert_eq!(
        late,
        [
            &ProjectKeyedRow::Connection {
                id: c.id.as_str().to_owned(),
            },
            &ProjectKeyedRow::Version {
                secret: s.id.as_str().to_owned(),
                version: 4,
            }
        ]
    );
    let conn = store.connection(&c.id).await.unwrap().unwrap();
    assert_eq!(
        (conn.password_wrapped_dek, conn.password_ciphertext),
        (vec![0x1A; 8], vec![8; 40])
    );
}

/// After a rotation, every write sealed under the replaced generation is refused with
/// `ProjectKeyStale` and writes nothing; the same writes under the new generation land.
pub async fn a_write_under_a_replaced_project_key_is_refused(store: Arc<dyn Store>) {
    let (p, s, c) = seeded(&store).await;
    let values = store.project_key_values(&p).await.unwrap();
    store
        .replace_project_key(&replacement(&p, 0, &values))
        .await
        .unwrap();
    let stale = Err(StoreError::Conflict(Conflict::ProjectKeyStale));

    // A new version, a new secret, a connection (new, and an update keeping a stale copy) and
    // a lease, each sealed under generation 0.
    assert_eq!(
        store
            .append_version(&s.id, 3, &version(sealed(4), NOW + 3))
            .await,
        stale.clone().map(|()| 0)
    );
    let (fresh, first) = fixture::secret(&p, "NEW");
    assert_eq!(store.insert_secret(&fresh, &first).await, stale);
    assert_eq!(store.insert_connection(&record(&p, "db2")).await, stale);
    assert_eq!(
        store
            .update_connection(&ConnectionRecord {
                host: "db.example".to_owned(),
                ..c.clone()
            })
            .await,
        stale
    );
    let m = add_machine(&store, "m2").await;
    assert_eq!(store.insert_lease(&lease(&s, &c, m.id, 0)).await, stale);
    assert_eq!(
        store.project_key_values(&p).await.unwrap().len(),
        values.len()
    );

    // A rollback pointer seals nothing, so its generation does not matter.
    store
        .append_version(&s.id, 3, &version(VersionContent::Pointer(2), NOW + 3))
        .await
        .unwrap();
    let mut v = version(sealed(4), NOW + 4);
    v.key_generation = 1;
    assert_eq!(store.append_version(&s.id, 4, &v).await, Ok(5));
    let current = store.connection(&c.id).await.unwrap().unwrap();
    store
        .update_connection(&ConnectionRecord {
            host: "db.example".to_owned(),
            ..current
        })
        .await
        .unwrap();
    store.insert_lease(&lease(&s, &c, m.id, 1)).await.unwrap();
    assert_eq!(
        store.project_key_values(&p).await.unwrap().len(),
        values.len() + 2
    );
}
