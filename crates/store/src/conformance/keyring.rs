//! The root keyring (`KeyringStore`).

use std::sync::Arc;

use super::fixture::{self, NOW};
use crate::{
    Conflict, Deletion, ProjectRecord, RootGenerationRecord, RootGenerationUse, Store, StoreError,
};

fn generation(n: u32) -> RootGenerationRecord {
    RootGenerationRecord {
        generation: n,
        sealed: Some(format!("sealed:{n}").into_bytes()),
        created_ms: NOW + i64::from(n),
    }
}

fn uses(store_use: &[RootGenerationUse]) -> Vec<(u32, u64)> {
    store_use
        .iter()
        .map(|u| (u.generation, u.project_keys))
        .collect()
}

/// A migrated store has generation 0 (no sealed key); each new generation is the next number.
pub async fn the_keyring_starts_at_generation_zero_and_grows_by_one(store: Arc<dyn Store>) {
    let start = store.root_generations().await.unwrap();
    assert_eq!(start.len(), 1);
    assert_eq!(start[0].generation, 0);
    assert_eq!(start[0].sealed, None);

    assert_eq!(
        store.add_root_generation(&generation(2)).await,
        Err(StoreError::Conflict(Conflict::RootGenerationStale))
    );
    store.add_root_generation(&generation(1)).await.unwrap();
    // Two rotations that both saw generation 0 current: the second one loses.
    assert_eq!(
        store.add_root_generation(&generation(1)).await,
        Err(StoreError::Conflict(Conflict::RootGenerationStale))
    );
    let after = store.root_generations().await.unwrap();
    assert_eq!(after.len(), 2);
    assert_eq!(after[1], generation(1));
}

/// Projects (live and trashed) below a generation are found, and a compare-and-swap re-wrap
/// moves each to the new generation once.
pub async fn rewrapping_moves_a_project_to_a_newer_generation(store: Arc<dyn Store>) {
    let web = fixture::project("web");
    let old = fixture::project("old");
    store.insert_project(&web).await.unwrap();
    store.insert_project(&old).await.unwrap();
    let deletion = Deletion {
        at_ms: NOW,
        by_id: "op".to_owned(),
        by_name: "op".to_owned(),
    };
    store.trash_project(&old.id, &deletion).await.unwrap();
    store.add_root_generation(&generation(1)).await.unwrap();
    assert_eq!(
        uses(&store.root_generation_use().await.unwrap()),
        [(0, 2), (1, 0)]
    );
    let below = store.projects_below_generation(1, 100).await.unwrap();
    let mut ids: Vec<_> = below.iter().map(|p| p.id.clone()).collect();
    ids.sort();
    let mut want = vec![web.id.clone(), old.id.clone()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(
        store.projects_below_generation(1, 1).await.unwrap().len(),
        1
    );
    assert!(
        store
            .projects_below_generation(0, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Not under generation 1 yet: nothing changes.
    assert!(
        !store
            .rewrap_project_key(&web.id, 1, b"pk:web@1", 1)
            .await
            .unwrap()
    );
    assert!(
        store
            .rewrap_project_key(&web.id, 0, b"pk:web@1", 1)
            .await
            .unwrap()
    );
    // The same swap again finds the project moved already.
    assert!(
        !store
            .rewrap_project_key(&web.id, 0, b"pk:web@again", 1)
            .await
            .unwrap()
    );
    assert!(
        store
            .rewrap_project_key(&old.id, 0, b"pk:old@1", 1)
            .await
            .unwrap()
    );
    assert_eq!(
        store.project(&web.id).await.unwrap(),
        Some(ProjectRecord {
            wrapped_key: b"pk:web@1".to_vec(),
            root_generation: 1,
            ..web.clone()
        })
    );
    assert_eq!(
        uses(&store.root_generation_use().await.unwrap()),
        [(0, 0), (1, 2)]
    );
    assert!(
        store
            .projects_below_generation(1, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // A re-wrap to a generation that does not exist is refused and changes nothing.
    assert_eq!(
        store.rewrap_project_key(&web.id, 1, b"pk:web@7", 7).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store
            .project(&web.id)
            .await
            .unwrap()
            .unwrap()
            .root_generation,
        1
    );
}

/// The current generation and a generation a project still uses cannot be retired; an unused
/// older one can, once, and nothing can be written under it afterwards.
pub async fn retirement_needs_an_older_generation_nothing_uses(store: Arc<dyn Store>) {
    let web = fixture::project("web");
    store.insert_project(&web).await.unwrap();
    assert_eq!(
        store.retire_root_generation(0).await,
        Err(StoreError::Conflict(Conflict::RootGenerationCurrent))
    );
    store.add_root_generation(&generation(1)).await.unwrap();
    assert_eq!(
        store.retire_root_generation(1).await,
        Err(StoreError::Conflict(Conflict::RootGenerationCurrent))
    );
    assert_eq!(
        store.retire_root_generation(0).await,
        Err(StoreError::Conflict(Conflict::RootGenerationInUse))
    );
    assert_eq!(store.root_generations().await.unwrap().len(), 2);
    assert_eq!(
        store.retire_root_generation(5).await,
        Err(StoreError::NotFound)
    );

    assert!(
        store
            .rewrap_project_key(&web.id, 0, b"pk:web@1", 1)
            .await
            .unwrap()
    );
    store.retire_root_generation(0).await.unwrap();
    let left = store.root_generations().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].generation, 1);
    assert_eq!(
        store.retire_root_generation(0).await,
        Err(StoreError::NotFound)
    );
    // Nothing is written under the retired generation any more, nor under a live older one.
    let late = fixture::project("late");
    assert_eq!(store.insert_project(&late).await, Err(StoreError::NotFound));
    assert_eq!(store.project(&late.id).await.unwrap(), None);
    assert_eq!(
        store.rewrap_project_key(&web.id, 1, b"pk:web@0", 0).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(uses(&store.root_generation_use().await.unwrap()), [(1, 1)]);
    // The next generation is still one more than the current one.
    store.add_root_generation(&generation(2)).await.unwrap();
}

/// A project written under the current generation while a rotation makes a new one: it
/// either commits before the new generation exists (so the rotation's listing finds it) or is
/// refused as stale. Never a project under the old generation that a finished re-wrap missed.
pub async fn a_seal_racing_a_rotation_lands_before_it_or_fails(store: Arc<dyn Store>) {
    for round in 0..6u32 {
        let mut writes = Vec::new();
        for i in 0..6 {
            let store = store.clone();
            writes.push(tokio::spawn(async move {
                let mut p = fixture::project(&format!("p{round}-{i}"));
                p.root_generation = round;
                store.insert_project(&p).await.map(|()| p.id)
            }));
        }
        store
            .add_root_generation(&generation(round + 1))
            .await
            .unwrap();
        // What a rotation's re-wrap lists right after making the new generation current.
        let listed: Vec<_> = store
            .projects_below_generation(round + 1, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        for w in writes {
            match w.await.unwrap() {
                Ok(id) => assert!(listed.contains(&id), "round {round}: a write landed after"),
                Err(e) => assert_eq!(
                    e,
                    StoreError::Conflict(Conflict::RootGenerationStale),
                    "round {round}"
                ),
            }
        }
        // After the rotation, the old generation is refused outright.
        let mut late = fixture::project(&format!("late{round}"));
        late.root_generation = round;
        assert_eq!(
            store.insert_project(&late).await,
            Err(StoreError::Conflict(Conflict::RootGenerationStale))
        );
    }
}
