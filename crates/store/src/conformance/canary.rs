//! Canary secrets and project freezes (issue 11 §5).

use std::sync::Arc;

use signet_proto::{ProjectId, SecretId};

use super::fixture::{self, NOW, add_machine, add_project, add_secret};
use crate::{SecretRecord, Store, StoreError};

/// The canary flag is stored with the secret and read back by every metadata query, and a new
/// version leaves it as it was.
pub async fn the_canary_flag_round_trips(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let plain = add_secret(&store, &p.id, "plain").await;
    let (record, first) = fixture::secret(&p.id, "trap");
    let canary = SecretRecord {
        canary: true,
        ..record
    };
    store.insert_secret(&canary, &first).await.unwrap();

    assert_eq!(
        store.secret(&canary.id).await.unwrap(),
        Some(canary.clone())
    );
    assert!(!store.secret(&plain.id).await.unwrap().unwrap().canary);
    assert_eq!(
        store.secrets_in_project(&p.id).await.unwrap(),
        [plain.clone(), canary.clone()]
    );
    let m = add_machine(&store, "m").await;
    store.attach(&m.id, &p.id).await.unwrap();
    store.grant(&m.id, &canary.id).await.unwrap();
    let view = store.read_view(&m.id, &canary.id).await.unwrap().unwrap();
    assert!(view.secret.canary);
    store
        .append_version(
            &canary.id,
            1,
            &fixture::version(fixture::sealed(2), NOW + 1),
        )
        .await
        .unwrap();
    assert!(store.secret(&canary.id).await.unwrap().unwrap().canary);
}

/// A freeze shows in the project and in every machine-side view of its secrets (read view,
/// export views, listing, poll), in no other project's; it keeps its first time, advances the
/// policy stamp, and an unfreeze lifts it everywhere.
pub async fn a_freeze_shows_in_every_read_view(store: Arc<dyn Store>) {
    store.create_vault(&fixture::vault()).await.unwrap();
    let p = add_project(&store, "p").await;
    let other = add_project(&store, "other").await;
    let s = add_secret(&store, &p.id, "s").await;
    let t = add_secret(&store, &other.id, "t").await;
    let m = add_machine(&store, "m").await;
    for (project, secret) in [(&p.id, &s.id), (&other.id, &t.id)] {
        store.attach(&m.id, project).await.unwrap();
        store.grant(&m.id, secret).await.unwrap();
    }
    let frozen = async |secret: &SecretId| {
        let view = store.read_view(&m.id, secret).await.unwrap().unwrap();
        let exported: Vec<bool> = store
            .granted_read_views(&m.id, Some(&view.secret.project_id))
            .await
            .unwrap()
            .iter()
            .map(|v| v.project_frozen)
            .collect();
        let listed: Vec<bool> = store
            .granted_secrets(&m.id, Some(&view.secret.project_id))
            .await
            .unwrap()
            .iter()
            .map(|g| g.project_frozen)
            .collect();
        let polled = store
            .poll(&m.id, std::slice::from_ref(secret))
            .await
            .unwrap()[0]
            .project_frozen;
        assert_eq!(exported, [view.project_frozen]);
        assert_eq!(listed, [view.project_frozen]);
        assert_eq!(polled, view.project_frozen);
        view.project_frozen
    };
    assert!(!frozen(&s.id).await);
    assert_eq!(store.project(&p.id).await.unwrap().unwrap().frozen_ms, None);

    let before = store.policy_version().await.unwrap();
    store.freeze_project(&p.id, NOW + 5).await.unwrap();
    let stamped = store.policy_version().await.unwrap();
    assert!(stamped > before, "a freeze advances the policy stamp");
    assert!(frozen(&s.id).await);
    assert!(!frozen(&t.id).await, "another project stays open");
    assert_eq!(
        store.project(&p.id).await.unwrap().unwrap().frozen_ms,
        Some(NOW + 5)
    );
    // The unscoped views tell the two projects apart row by row.
    let all: Vec<(SecretId, bool)> = store
        .granted_secrets(&m.id, None)
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.secret.id, g.project_frozen))
        .collect();
    assert_eq!(all, [(t.id.clone(), false), (s.id.clone(), true)]);

    // A second canary read does not move the time the project stopped being trusted.
    store.freeze_project(&p.id, NOW + 9).await.unwrap();
    assert_eq!(
        store.project(&p.id).await.unwrap().unwrap().frozen_ms,
        Some(NOW + 5)
    );

    store.unfreeze_project(&p.id).await.unwrap();
    assert!(
        store.policy_version().await.unwrap() > stamped,
        "an unfreeze advances it too"
    );
    assert!(!frozen(&s.id).await);
    assert_eq!(store.project(&p.id).await.unwrap().unwrap().frozen_ms, None);
}

/// Freezing or unfreezing needs the project; an unknown one changes nothing.
pub async fn a_freeze_needs_the_project(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let unknown = ProjectId::generate();
    assert_eq!(
        store.freeze_project(&unknown, NOW).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.unfreeze_project(&unknown).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.project(&p.id).await.unwrap().unwrap().frozen_ms, None);
    assert_eq!(store.project(&unknown).await.unwrap(), None);
}
