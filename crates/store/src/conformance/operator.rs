//! Operator keys.

use std::sync::Arc;

use signet_proto::OperatorId;

use super::fixture;
use crate::{Conflict, OperatorRecord, Store, StoreError};

/// Operators read back as stored, listed oldest first; unknown ids are `None`.
pub async fn operators_round_trip_oldest_first(store: Arc<dyn Store>) {
    let owner = OperatorRecord {
        owner: true,
        ..fixture::operator("owner", fixture::NOW)
    };
    let later = fixture::operator("later", fixture::NOW + 2);
    let disabled = OperatorRecord {
        disabled: true,
        ..fixture::operator("disabled", fixture::NOW + 1)
    };
    for op in [&owner, &later, &disabled] {
        store.insert_operator(op).await.unwrap();
    }

    assert_eq!(
        store.operator(&owner.id).await.unwrap(),
        Some(owner.clone())
    );
    assert_eq!(
        store.operator(&disabled.id).await.unwrap(),
        Some(disabled.clone())
    );
    assert_eq!(store.operator(&OperatorId::generate()).await.unwrap(), None);
    assert_eq!(store.operators().await.unwrap(), [owner, disabled, later]);
}

/// A key registers one operator only.
pub async fn an_operator_key_is_unique(store: Arc<dyn Store>) {
    let first = fixture::operator("first", fixture::NOW);
    store.insert_operator(&first).await.unwrap();
    let twin = OperatorRecord {
        public_key: first.public_key.clone(),
        ..fixture::operator("twin", fixture::NOW)
    };
    assert_eq!(
        store.insert_operator(&twin).await,
        Err(StoreError::Conflict(Conflict::PublicKey))
    );
    assert_eq!(store.operator(&twin.id).await.unwrap(), None);
    assert_eq!(store.operators().await.unwrap(), [first]);
}

/// Disabling a key is permanent and happens once; unknown keys are `NotFound`.
pub async fn disabling_an_operator_is_final(store: Arc<dyn Store>) {
    let op = fixture::operator("leaving", fixture::NOW);
    store.insert_operator(&op).await.unwrap();
    store.disable_operator(&op.id).await.unwrap();
    assert!(store.operator(&op.id).await.unwrap().unwrap().disabled);
    assert_eq!(
        store.disable_operator(&op.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.disable_operator(&OperatorId::generate()).await,
        Err(StoreError::NotFound)
    );
}
