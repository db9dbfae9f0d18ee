//! Request budgets: a column of the vault row and of each machine row.

use async_trait::async_trait;
use rusqlite::params;
use signet_proto::MachineId;
use signet_store::{BudgetStore, RequestBudgets, StoreResult};

use crate::SqliteStore;
use crate::error::corrupt;
use crate::row::{col, id};
use crate::statement::{all, exec_found, one};

fn per_minute(v: i64) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| corrupt("request_budget_per_minute"))
}

#[async_trait]
impl BudgetStore for SqliteStore {
    async fn request_budgets(&self) -> StoreResult<RequestBudgets> {
        self.read(|c| {
            let vault: Option<Option<i64>> = one(
                c,
                "SELECT request_budget_per_minute FROM vault WHERE singleton = 1",
                [],
                |r| col(r, 0),
            )?;
            let machines = all(
                c,
                "SELECT id, request_budget_per_minute FROM machines
                 WHERE request_budget_per_minute IS NOT NULL ORDER BY id",
                [],
                |r| Ok((id(r, 0)?, per_minute(col(r, 1)?)?)),
            )?;
            Ok(RequestBudgets {
                vault_per_minute: vault.flatten().map(per_minute).transpose()?,
                machines,
            })
        })
    }

    async fn set_vault_request_budget(&self, per_minute: Option<u32>) -> StoreResult<()> {
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE vault SET request_budget_per_minute = ?1 WHERE singleton = 1",
                [per_minute],
            )
        })
        .await
    }

    async fn set_machine_request_budget(
        &self,
        id: &MachineId,
        per_minute: Option<u32>,
    ) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE machines SET request_budget_per_minute = ?2 WHERE id = ?1",
                params![id, per_minute],
            )
        })
        .await
    }
}
