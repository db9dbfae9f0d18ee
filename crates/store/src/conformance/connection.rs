//! Database connections: CRUD, names unique per project, the in-use rule.

use std::sync::Arc;

use signet_proto::{ConnectionId, ProjectId};

use super::fixture::{add_project, add_secret};
use crate::{Conflict, ConnectionRecord, LeasedSecretRecord, Store, StoreError, TlsMode};

const NOW: i64 = 1_800_000_000_000;

/// A connection record of `project` named `name`.
pub fn record(project: &ProjectId, name: &str) -> ConnectionRecord {
    ConnectionRecord {
        key_generation: 0,
        id: ConnectionId::generate(),
        project_id: project.clone(),
        name: name.to_owned(),
        host: "127.0.0.1".to_owned(),
        port: 5432,
        database: "app".to_owned(),
        admin_user: "signet_admin".to_owned(),
        tls_mode: TlsMode::Prefer,
        password_wrapped_dek: vec![1; 60],
        password_ciphertext: vec![2; 40],
        created_ms: NOW,
        updated_ms: NOW,
    }
}

/// Lease settings binding `secret` to `connection`.
pub fn leased(secret: &crate::SecretRecord, connection: &ConnectionId) -> LeasedSecretRecord {
    LeasedSecretRecord {
        secret_id: secret.id.clone(),
        connection_id: connection.clone(),
        ttl_ms: 60_000,
        max_ttl_ms: 600_000,
        renew_on_read: true,
        mint_fresh: false,
        revoke_on_disable: true,
        password_length: 32,
        password_charset: "alphanumeric".to_owned(),
        grant_sql: vec!["GRANT SELECT ON t TO {{role}}".to_owned()],
        updated_ms: NOW,
    }
}

/// Connections round-trip by name within their project; names are unique per project only;
/// an update replaces every field but the id, project and creation time; each needs its rows.
pub async fn connections_round_trip_by_name(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let q = add_project(&store, "q").await;
    let b = record(&p.id, "b");
    let a = record(&p.id, "a");
    store.insert_connection(&b).await.unwrap();
    store.insert_connection(&a).await.unwrap();
    store.insert_connection(&record(&q.id, "a")).await.unwrap();
    assert_eq!(
        store.insert_connection(&record(&p.id, "a")).await,
        Err(StoreError::Conflict(Conflict::ConnectionName))
    );
    assert_eq!(
        store
            .insert_connection(&record(&ProjectId::generate(), "x"))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.connections(&p.id).await.unwrap(),
        [a.clone(), b.clone()]
    );
    assert_eq!(store.connection(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(
        store.connection(&ConnectionId::generate()).await.unwrap(),
        None
    );

    let changed = ConnectionRecord {
        name: "c".to_owned(),
        host: "db.internal".to_owned(),
        port: 6432,
        database: "other".to_owned(),
        admin_user: "root".to_owned(),
        tls_mode: TlsMode::VerifyFull,
        password_wrapped_dek: vec![3; 60],
        password_ciphertext: vec![4; 41],
        updated_ms: NOW + 5,
        ..a.clone()
    };
    store.update_connection(&changed).await.unwrap();
    assert_eq!(store.connection(&a.id).await.unwrap(), Some(changed));
    assert_eq!(
        store
            .update_connection(&ConnectionRecord {
                name: "b".to_owned(),
                ..a.clone()
            })
            .await,
        Err(StoreError::Conflict(Conflict::ConnectionName))
    );
    assert_eq!(
        store.update_connection(&record(&p.id, "z")).await,
        Err(StoreError::NotFound)
    );
}

/// A connection bound to a leased secret cannot be deleted; an unbound one can, once.
pub async fn a_bound_connection_is_in_use(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let q = add_project(&store, "q").await;
    let s = add_secret(&store, &p.id, "s").await;
    let c = record(&p.id, "c");
    let other = record(&q.id, "c");
    store.insert_connection(&c).await.unwrap();
    store.insert_connection(&other).await.unwrap();
    // A connection of another project cannot be bound.
    assert_eq!(
        store.set_leased_secret(&leased(&s, &other.id)).await,
        Err(StoreError::NotFound)
    );
    store.set_leased_secret(&leased(&s, &c.id)).await.unwrap();
    assert_eq!(
        store.delete_connection(&c.id).await,
        Err(StoreError::Conflict(Conflict::ConnectionInUse))
    );
    store.delete_connection(&other.id).await.unwrap();
    assert_eq!(
        store.delete_connection(&other.id).await,
        Err(StoreError::NotFound)
    );
    assert!(store.connection(&c.id).await.unwrap().is_some());

    // A trashed secret may come back: still in use. A purged one binds nothing.
    let deletion = crate::Deletion {
        at_ms: NOW,
        by_id: "op".to_owned(),
        by_name: "op".to_owned(),
    };
    store.trash_secret(&s.id, &deletion).await.unwrap();
    assert_eq!(
        store.delete_connection(&c.id).await,
        Err(StoreError::Conflict(Conflict::ConnectionInUse))
    );
    store.purge_secret(&s.id, None).await.unwrap();
    store.delete_connection(&c.id).await.unwrap();
    assert_eq!(store.leased_secret(&s.id).await.unwrap(), None);
}
