//! Per-machine request budgets.

use signet_api::admin::budget::{BudgetsAnswer, SetBudgetRequest};
use signet_api::route::admin as route;
use signet_proto::MachineId;

use super::vault::Vault;
use crate::error::ClientError;

impl Vault<'_> {
    /// `GET /v1/admin/request-budgets`: the vault default and every machine's own budget
    /// (requests per minute; 0 or unset is unlimited).
    pub async fn request_budgets(&self) -> Result<BudgetsAnswer, ClientError> {
        self.client.call("GET", route::REQUEST_BUDGETS, &[]).await
    }

    /// `POST /v1/admin/request-budgets`: sets the vault default (`machine` = `None`) or one
    /// machine's budget, in requests per minute (0: unlimited); `None` clears it, so a machine
    /// follows the default again. Returns every budget.
    pub async fn set_request_budget(
        &self,
        machine: Option<&MachineId>,
        per_minute: Option<u32>,
    ) -> Result<BudgetsAnswer, ClientError> {
        let body = super::body(&SetBudgetRequest {
            machine_id: machine.map(ToString::to_string),
            requests_per_minute: per_minute,
        })?;
        self.client
            .call("POST", route::REQUEST_BUDGETS, &body)
            .await
    }
}
