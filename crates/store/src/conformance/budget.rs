//! Request budgets: the vault default and per-machine overrides.

use std::sync::Arc;

use signet_proto::MachineId;

use super::fixture::{self, add_machine};
use crate::{RequestBudgets, Store, StoreError};

/// Nothing is set on a fresh vault; set values read back, and clearing them forgets them.
pub async fn budgets_round_trip_and_clear(store: Arc<dyn Store>) {
    store.create_vault(&fixture::vault()).await.unwrap();
    assert_eq!(
        store.request_budgets().await.unwrap(),
        RequestBudgets::default()
    );
    let a = add_machine(&store, "a").await;
    let b = add_machine(&store, "b").await;
    store.set_vault_request_budget(Some(600)).await.unwrap();
    store
        .set_machine_request_budget(&a.id, Some(5))
        .await
        .unwrap();
    store
        .set_machine_request_budget(&b.id, Some(0))
        .await
        .unwrap();
    let mut machines = vec![(a.id, 5), (b.id, 0)];
    machines.sort_by_key(|m| m.0.to_string());
    assert_eq!(
        store.request_budgets().await.unwrap(),
        RequestBudgets {
            vault_per_minute: Some(600),
            machines,
        }
    );
    // The largest value survives the trip (no sign or width loss).
    store
        .set_machine_request_budget(&a.id, Some(u32::MAX))
        .await
        .unwrap();
    store.set_machine_request_budget(&b.id, None).await.unwrap();
    store.set_vault_request_budget(None).await.unwrap();
    assert_eq!(
        store.request_budgets().await.unwrap(),
        RequestBudgets {
            vault_per_minute: None,
            machines: vec![(a.id, u32::MAX)],
        }
    );
}

/// An override needs its machine.
pub async fn a_machine_budget_needs_the_machine(store: Arc<dyn Store>) {
    store.create_vault(&fixture::vault()).await.unwrap();
    assert_eq!(
        store
            .set_machine_request_budget(&MachineId::generate(), Some(10))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.request_budgets().await.unwrap(),
        RequestBudgets::default()
    );
}
