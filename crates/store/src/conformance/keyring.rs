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
    assert_eq!(store.projects_below_generation(1, 1).await.unwrap().len(), 1);
    assert!(store.projects_below_generation(0, 100).await.unwrap().is_empty());

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
    assert!(store.projects_below_generation(1, 100).await.unwrap().is_empty());
    // A re-wrap to a generation that does not exist is refused and changes nothing.
    assert_eq!(
        store.rewrap_project_key(&web.id, 1, b"pk:web@7", 7).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.project(&web.id).await.unwrap().unwrap().root_generation, 1);
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
    // Nothing is written under the retired generation any more.
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

/// Projects written under a generation while it is being retired: either the retirement
/// refuses, or every such write failed. Never both a retirement and a value under it.
pub async fn a_seal_racing_a_retirement_never_strands_a_value(store: Arc<dyn Store>) {
    store.add_root_generation(&generation(1)).await.unwrap();
    for round in 0..8 {
        let mut writes = Vec::new();
        for i in 0..6 {
            let store = store.clone();
            writes.push(tokio::spawn(async move {
                let p = fixture::project(&format!("p{round}-{i}"));
                store.insert_project(&p).await.map(|()| p.id)
            }));
        }
        let retire = {
            let store = store.clone();
            tokio::spawn(async move { store.retire_root_generation(0).await })
        };
        let mut written = Vec::new();
        for w in writes {
            match w.await.unwrap() {
                Ok(id) => written.push(id),
                Err(e) => assert_eq!(e, StoreError::NotFound, "a write failed otherwise"),
            }
        }
        let retired = retire.await.unwrap();
        let zero_uses = store.root_generation_use().await.unwrap();
        match retired {
            Ok(()) => {
                assert!(written.is_empty(), "round {round}: retired under live values");
                assert!(zero_uses.iter().all(|u| u.generation != 0));
                return;
            }
            Err(e) => {
                assert_eq!(e, StoreError::Conflict(Conflict::RootGenerationInUse));
                // Move what was written so the next round's retirement may succeed.
                for id in written {
                    assert!(store.rewrap_project_key(&id, 0, b"pk@1", 1).await.unwrap());
                }
            }
        }
    }
    // Every round lost the race to a write: still consistent, and a quiet retirement works.
    store.retire_root_generation(0).await.unwrap();
}
