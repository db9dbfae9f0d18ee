//! Managing other people's accounts: role and project scope, suspension, removal.
//!
//! # Rules (checked here, whatever the route)
//!
//! * In a browser session, a role change needs a recent second factor (step-up, as creating and
//!   inviting users do); suspension and removal only take access away, so they do not.
//! * Only operators who may manage users ([`Permission::ManageUsers`]: admins and owners).
//! * A role is given only at or below the giver's own ([`may_grant`]).
//! * Only owners touch owners ([`Permission::ManageOwners`]): an admin cannot demote, suspend or
//!   remove one.
//! * Nobody changes, suspends or removes themselves: a slip of the finger must not lock the
//!   last person with the key out, and a compromised session must not entrench itself.
//! * There is always an active owner: the store refuses, in the same transaction as the change,
//!   to demote, suspend or remove the last one (`409 conflict: last_owner`).
//! * A suspended user's keys stop authenticating on their next request (authentication reads
//!   the user every time); a removed user's keys are disabled for good, in the same transaction.
//!
//! Every change and every refusal is in the audit log, written before the answer.

use std::sync::Arc;

use signet_api::audit::AuditAction;
use signet_proto::UserId;
use signet_store::{Role, UserRecord, UserStatus};

use crate::account::{Accounts, UserView, scope_detail};
use crate::context::Context;
use crate::principal::AuthedOperator;
use crate::role::{Permission, allows, may_grant};
use crate::{CoreError, CoreResult};

/// What `set_user_role` changes.
#[derive(Debug, Clone)]
pub struct AccessChange {
    /// The new role.
    pub role: Role,
    /// Project ids a developer or viewer is limited to; `None` for every project.
    pub projects: Option<Vec<String>>,
}

/// Managing other users: role, active state, removal.
#[derive(Clone)]
pub struct Users {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
    /// Checks a scoped role's projects like account creation does.
    pub(crate) accounts: Accounts,
}

impl Users {
    /// The user `id` if `op` may manage them at all: someone else, and not an owner unless `op`
    /// may manage owners. Refusals are audited under `action`.
    async fn manageable_user(
        &self,
        op: &AuthedOperator,
        id: &str,
        action: AuditAction,
    ) -> CoreResult<UserRecord> {
        self.cx.require(op, Permission::ManageUsers, action).await?;
        let id = UserId::parse(id).map_err(|_| CoreError::NotFound)?;
        let user = match self.cx.store.user(&id).await? {
            Some(u) if u.status != UserStatus::Removed => u,
            _ => return Err(CoreError::NotFound),
        };
        if op.user_id == Some(user.id) {
            return Err(self.cx.deny(op, action, "target=self").await);
        }
        if user.role == Role::Owner && !allows(op.role, Permission::ManageOwners) {
            return Err(self
                .cx
                .deny(
                    op,
                    action,
                    &format!("role={} target_role=owner", op.role.as_str()),
                )
                .await);
        }
        Ok(user)
    }

    /// Refuses a change that would take the break-glass owner away while the vault requires
    /// SSO: without them, nobody could sign in if the provider fails.
    async fn keep_break_glass(&self, user: &UserRecord) -> CoreResult<()> {
        let held = self
            .cx
            .store
            .vault()
            .await?
            .is_some_and(|v| v.sso_required && v.break_glass_user == Some(user.id));
        if held {
            return Err(CoreError::Conflict(signet_store::Conflict::BreakGlass));
        }
        Ok(())
    }

    async fn user_view(&self, id: &UserId) -> CoreResult<UserView> {
        Ok(self
            .cx
            .store
            .user(id)
            .await?
            .ok_or(CoreError::NotFound)?
            .into())
    }

    /// Changes a user's role and project scope. Takes effect on their next request.
    pub async fn set_user_role(
        &self,
        op: &AuthedOperator,
        id: &str,
        change: AccessChange,
    ) -> CoreResult<UserView> {
        let user = self
            .manageable_user(op, id, AuditAction::UserRoleSet)
            .await?;
        self.cx
            .require_step_up(op, AuditAction::UserRoleSet)
            .await?;
        if !may_grant(op.role, change.role) {
            return Err(self
                .cx
                .deny(
                    op,
                    AuditAction::UserRoleSet,
                    &format!("role={} grants={}", op.role.as_str(), change.role.as_str()),
                )
                .await);
        }
        let projects = self
            .accounts
            .check_scope(change.role, change.projects.as_deref())
            .await?;
        if change.role != Role::Owner {
            self.keep_break_glass(&user).await?;
        }
        self.cx
            .audited(
                op,
                AuditAction::UserRoleSet,
                &user.id.to_string(),
                &format!(
                    "from={} role={} projects={}",
                    user.role.as_str(),
                    change.role.as_str(),
                    scope_detail(projects.as_deref())
                ),
            )
            .set_user_access(&user.id, change.role, projects.as_deref())
            .await?;
        self.user_view(&user.id).await
    }

    /// Suspends (`active == false`) or reactivates a user. A suspended user's keys and sessions
    /// stop authenticating; nothing of theirs is deleted.
    pub async fn set_user_active(
        &self,
        op: &AuthedOperator,
        id: &str,
        active: bool,
    ) -> CoreResult<UserView> {
        let action = if active {
            AuditAction::UserActivate
        } else {
            AuditAction::UserSuspend
        };
        let user = self.manageable_user(op, id, action).await?;
        if !active {
            self.keep_break_glass(&user).await?;
        }
        self.cx
            .audited(op, action, &user.id.to_string(), "")
            .set_user_active(&user.id, active)
            .await?;
        self.user_view(&user.id).await
    }

    /// Removes a user for good: they never sign in again and every key of theirs is disabled.
    /// The account row stays (the audit log and login history name it), so its username and
    /// email stay taken.
    pub async fn remove_user(&self, op: &AuthedOperator, id: &str) -> CoreResult<()> {
        let user = self
            .manageable_user(op, id, AuditAction::UserRemove)
            .await?;
        self.keep_break_glass(&user).await?;
        self.cx
            .audited(
                op,
                AuditAction::UserRemove,
                &user.id.to_string(),
                &format!("username={}", user.username),
            )
            .remove_user(&user.id, self.cx.now_ms())
            .await?;
        Ok(())
    }
}
