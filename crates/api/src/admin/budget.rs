//! Per-machine request budgets (requests per minute; 0 or unset is unlimited).

use serde::{Deserialize, Serialize};
use signet_proto::MachineId;
use utoipa::{OpenApi, ToSchema};

/// `GET` and `POST /v1/admin/request-budgets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetsAnswer {
    /// The vault-wide default, requests per minute; `null` or 0: unlimited.
    pub default_per_minute: Option<u32>,
    /// Machines with their own budget.
    pub machines: Vec<MachineBudgetAnswer>,
}

/// One machine's own budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachineBudgetAnswer {
    /// The machine.
    #[schema(value_type = String)]
    pub machine_id: MachineId,
    /// Requests per minute; 0: unlimited.
    pub per_minute: u32,
}

/// `POST /v1/admin/request-budgets`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetBudgetRequest {
    /// The machine; absent or `null`: the vault default (text: a malformed id answers like an
    /// unknown one).
    #[serde(default)]
    pub machine_id: Option<String>,
    /// Requests per minute (0: unlimited); absent or `null` clears the budget.
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
}

/// The vault default and every machine's own budget.
#[utoipa::path(get, path = "/v1/admin/request-budgets", tag = "admin",
    responses((status = 200, description = "Success", body = BudgetsAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn request_budgets() {}

/// Sets or clears the vault default or one machine's budget.
#[utoipa::path(post, path = "/v1/admin/request-budgets", tag = "admin",
    request_body = SetBudgetRequest,
    responses((status = 200, description = "Success", body = BudgetsAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such object", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn set_request_budget() {}

/// The request budget routes.
#[derive(OpenApi)]
#[openapi(
    paths(request_budgets, set_request_budget),
    components(schemas(BudgetsAnswer, MachineBudgetAnswer, SetBudgetRequest))
)]
pub struct Api;
