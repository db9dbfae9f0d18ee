//! Request budgets: how many signed requests a machine may make per minute.

use async_trait::async_trait;
use signet_proto::MachineId;

use crate::StoreResult;

/// Every budget an operator has set. A budget of 0 means unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestBudgets {
    /// The vault-wide default; `None` when never set (unlimited).
    pub vault_per_minute: Option<u32>,
    /// Per-machine overrides of the default, by machine id (ascending).
    pub machines: Vec<(MachineId, u32)>,
}

/// Request budgets, kept with the vault and machine rows.
#[async_trait]
pub trait BudgetStore {
    /// Every budget set.
    async fn request_budgets(&self) -> StoreResult<RequestBudgets>;
    /// Sets the vault-wide default; `None` clears it.
    async fn set_vault_request_budget(&self, per_minute: Option<u32>) -> StoreResult<()>;
    /// Sets a machine's override; `None` makes it follow the default again. [`NotFound`] for
    /// an unknown machine.
    ///
    /// [`NotFound`]: crate::StoreError::NotFound
    async fn set_machine_request_budget(
        &self,
        id: &MachineId,
        per_minute: Option<u32>,
    ) -> StoreResult<()>;
}
