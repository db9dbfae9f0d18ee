//! Request budgets: a column of the vault row and of each machine row. Other replicas pick a
//! change up when their cached copy expires (`signet_core::budget`), so no notification.

use async_trait::async_trait;
use signet_proto::MachineId;
use signet_store::{BudgetStore, RequestBudgets, StoreResult};

use crate::PgStore;
use crate::error::{corrupt, db};
use crate::row::{col, id};

fn per_minute(v: i64) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| corrupt("request_budget_per_minute"))
}

#[async_trait]
impl BudgetStore for PgStore {
    async fn request_budgets(&self) -> StoreResult<RequestBudgets> {
        let vault: Option<i64> =
            match sqlx::query("SELECT request_budget_per_minute FROM vault WHERE singleton = 1")
                .fetch_optional(self.pool())
                .await
                .map_err(db)?
            {
                Some(row) => col(&row, 0)?,
                None => None,
            };
        let machines = sqlx::query(
            "SELECT id, request_budget_per_minute FROM machines
             WHERE request_budget_per_minute IS NOT NULL ORDER BY id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(|r| Ok((id(r, 0)?, per_minute(col(r, 1)?)?)))
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(RequestBudgets {
            vault_per_minute: vault.map(per_minute).transpose()?,
            machines,
        })
    }

    async fn set_vault_request_budget(&self, per_minute: Option<u32>) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("UPDATE vault SET request_budget_per_minute = $1 WHERE singleton = 1")
                .bind(per_minute.map(i64::from)),
        )
        .await
    }

    async fn set_machine_request_budget(
        &self,
        id: &MachineId,
        per_minute: Option<u32>,
    ) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("UPDATE machines SET request_budget_per_minute = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(per_minute.map(i64::from)),
        )
        .await
    }
}
