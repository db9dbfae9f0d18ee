//! Request budgets: how many signed requests a machine may make per minute.
//!
//! Operators set a vault-wide default and per-machine overrides; 0 means unlimited, and so does
//! a default that was never set (as in Vault and SikkerKey, nothing is throttled until an
//! operator says so). The budget is spent after the signature verifies, so only the machine
//! itself can use it up. Past it the machine is answered 429 with `Retry-After`; other machines
//! are unaffected.
//!
//! The settings are read on every machine request, so they are cached: this replica reloads
//! them at once after its own changes, other replicas within [`RELOAD_MS`].

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};

use dashmap::DashMap;
use governor::{Quota, RateLimiter};
use signet_api::audit::{AuditAction, DenialReason};
use signet_proto::MachineId;
use signet_store::RequestBudgets;

use crate::clock::Clock;
use crate::context::Context;
use crate::failures::{BudgetClock, Limiter, spend};
use crate::principal::{AuthedMachine, AuthedOperator};
use crate::role::Permission;
use crate::{CoreError, CoreResult};

/// How stale another replica's change may be here, ms.
pub const RELOAD_MS: i64 = 5_000;

/// The settings, as cached.
struct Settings {
    loaded_ms: i64,
    default: u32,
    machines: HashMap<MachineId, u32>,
}

/// The cached settings and one limiter per machine that has a budget.
pub(crate) struct BudgetState {
    clock: BudgetClock,
    settings: RwLock<Option<Arc<Settings>>>,
    /// Bounded by the machines that authenticated: only they reach it.
    limiters: DashMap<MachineId, (u32, Limiter)>,
}

impl BudgetState {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock: BudgetClock(clock),
            settings: RwLock::new(None),
            limiters: DashMap::new(),
        }
    }

    fn cached(&self, now_ms: i64) -> Option<Arc<Settings>> {
        // A poisoned lock only means a panic elsewhere while swapping an `Arc`.
        let s = self.settings.read().unwrap_or_else(|e| e.into_inner());
        s.as_ref()
            .filter(|s| now_ms.saturating_sub(s.loaded_ms) < RELOAD_MS && now_ms >= s.loaded_ms)
            .cloned()
    }

    fn store(&self, settings: Option<Arc<Settings>>) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }
}

/// The budgets as operators see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetView {
    /// The vault-wide default, requests per minute; `None` or 0: unlimited.
    pub default_per_minute: Option<u32>,
    /// Machines with their own budget.
    pub machines: Vec<MachineBudget>,
}

/// One machine's own budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineBudget {
    /// The machine.
    pub machine_id: MachineId,
    /// Requests per minute; 0: unlimited.
    pub per_minute: u32,
}

impl From<RequestBudgets> for BudgetView {
    fn from(b: RequestBudgets) -> Self {
        Self {
            default_per_minute: b.vault_per_minute,
            machines: b
                .machines
                .into_iter()
                .map(|(machine_id, per_minute)| MachineBudget {
                    machine_id,
                    per_minute,
                })
                .collect(),
        }
    }
}

/// Request budgets per machine: enforcement and the operator settings.
#[derive(Clone)]
pub struct Budgets {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
    /// The cached settings and a limiter per machine.
    pub(crate) state: Arc<BudgetState>,
}

impl Budgets {
    async fn budget_settings(&self) -> CoreResult<Arc<Settings>> {
        let now = self.cx.now_ms();
        if let Some(s) = self.state.cached(now) {
            return Ok(s);
        }
        let b = self.cx.store.request_budgets().await?;
        let s = Arc::new(Settings {
            loaded_ms: now,
            default: b.vault_per_minute.unwrap_or(0),
            machines: b.machines.into_iter().collect(),
        });
        self.state.store(Some(s.clone()));
        Ok(s)
    }

    /// Spends one request of `m`'s budget: [`CoreError::OverBudget`] once it is used up.
    pub(crate) async fn spend_request_budget(&self, m: &AuthedMachine) -> CoreResult<()> {
        let settings = self.budget_settings().await?;
        let id = &m.record.id;
        let per_minute = settings
            .machines
            .get(id)
            .copied()
            .unwrap_or(settings.default);
        let Some(quota) = NonZeroU32::new(per_minute) else {
            self.state.limiters.remove(id);
            return Ok(());
        };
        let clock = &self.state.clock;
        let mut entry = self.state.limiters.entry(*id).or_insert_with(|| {
            (
                per_minute,
                RateLimiter::direct_with_clock(Quota::per_minute(quota), clock.clone()),
            )
        });
        if entry.0 != per_minute {
            *entry = (
                per_minute,
                RateLimiter::direct_with_clock(Quota::per_minute(quota), clock.clone()),
            );
        }
        let over = spend(&entry.1, clock);
        drop(entry);
        match over {
            None => Ok(()),
            Some(retry_after_secs) => {
                // Counted, not written one by one: the first of an interval is written, the
                // rest go into the source's `auth_failures` record.
                self.cx
                    .audit_signed_failure(
                        signet_store::ActorKind::Machine,
                        &id.to_string(),
                        m.source_ip,
                        AuditAction::MachineOverBudget,
                        DenialReason::RequestBudget,
                        false,
                    )
                    .await;
                Err(CoreError::OverBudget { retry_after_secs })
            }
        }
    }

    /// Every budget set.
    pub async fn request_budgets(&self, op: &AuthedOperator) -> CoreResult<BudgetView> {
        self.cx
            .require(op, Permission::Read, AuditAction::RequestBudgets)
            .await?;
        Ok(self.cx.store.request_budgets().await?.into())
    }

    /// Sets the vault-wide default (`machine` = `None`) or one machine's budget; `per_minute`
    /// `None` clears it (a machine then follows the default). Audited.
    pub async fn set_request_budget(
        &self,
        op: &AuthedOperator,
        machine: Option<&str>,
        per_minute: Option<u32>,
    ) -> CoreResult<BudgetView> {
        let action = AuditAction::RequestBudgetUpdate;
        let detail = match per_minute {
            Some(n) => format!("per_minute={n}"),
            None => "per_minute=default".to_owned(),
        };
        match machine {
            None => {
                self.cx.require(op, Permission::ManageVault, action).await?;
                self.cx
                    .audited(op, action, "vault", &detail)
                    .set_vault_request_budget(per_minute)
                    .await?;
            }
            Some(id) => {
                self.cx
                    .require(op, Permission::ManageMachines, action)
                    .await?;
                // Budgets are vault-wide capacity, not a project's business.
                self.cx.require_unscoped(op, action).await?;
                let id = MachineId::parse(id).map_err(|_| CoreError::NotFound)?;
                self.cx
                    .audited(op, action, &id.to_string(), &detail)
                    .set_machine_request_budget(&id, per_minute)
                    .await?;
            }
        }
        // Effective on this replica's next request.
        self.state.store(None);
        Ok(self.cx.store.request_budgets().await?.into())
    }
}
