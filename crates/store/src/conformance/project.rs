//! Projects.

use std::sync::Arc;

use signet_proto::ProjectId;

use super::fixture;
use crate::{Conflict, Store, StoreError};

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
