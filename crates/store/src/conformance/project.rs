//! Projects.

use std::sync::Arc;

use signet_proto::ProjectId;

use super::fixture;
use crate::{Conflict, ProjectRecord, Store, StoreError};

/// Projects read back as stored, listed by name; unknown ids are `None`.
pub async fn projects_round_trip_by_name(store: Arc<dyn Store>) {
    let web = fixture::project("web");
    let api = fixture::project("api");
    store.insert_project(&web).await.unwrap();
    store.insert_project(&api).await.unwrap();

    assert_eq!(store.project(&web.id).await.unwrap(), Some(web.clone()));
    assert_eq!(store.project(&ProjectId::generate()).await.unwrap(), None);
    assert_eq!(store.projects().await.unwrap(), [api, web]);
}

/// A name belongs to one project.
pub async fn a_project_name_is_unique(store: Arc<dyn Store>) {
    let first = fixture::project("web");
    store.insert_project(&first).await.unwrap();
    let twin = fixture::project("web");
    assert_eq!(
        store.insert_project(&twin).await,
        Err(StoreError::Conflict(Conflict::ProjectName))
    );
    assert_eq!(store.project(&twin.id).await.unwrap(), None);
    assert_eq!(store.projects().await.unwrap(), [first]);
}

/// A rename changes only the name, keeps it unique, and needs the project.
pub async fn a_project_is_renamed_to_a_free_name(store: Arc<dyn Store>) {
    let web = fixture::project("web");
    let api = fixture::project("api");
    store.insert_project(&web).await.unwrap();
    store.insert_project(&api).await.unwrap();

    store.rename_project(&web.id, "www").await.unwrap();
    let renamed = ProjectRecord {
        name: "www".to_owned(),
        ..web.clone()
    };
    assert_eq!(store.project(&web.id).await.unwrap(), Some(renamed.clone()));
    // Its own name again is no conflict; another project's is, and changes nothing.
    store.rename_project(&web.id, "www").await.unwrap();
    assert_eq!(
        store.rename_project(&web.id, "api").await,
        Err(StoreError::Conflict(Conflict::ProjectName))
    );
    assert_eq!(
        store.rename_project(&ProjectId::generate(), "new").await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.projects().await.unwrap(), [api, renamed]);
    // The old name is free again.
    store
        .insert_project(&fixture::project("web"))
        .await
        .unwrap();
}
