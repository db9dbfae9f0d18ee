//! What each operator role may do, checked in core so that no route can forget it.
//!
//! The role is resolved once per request by `authenticate_operator` and carried on
//! [`AuthedOperator`]. A key that belongs to no user (`signet operator init`, created on the
//! server host with file access) acts as the owner.
//!
//! | permission        | viewer | developer | admin | owner |
//! |-------------------|:------:|:---------:|:-----:|:-----:|
//! | `Read`            |   ✓    |     ✓     |   ✓   |   ✓   |
//! | `WriteSecrets`    |        |     ✓     |   ✓   |   ✓   |
//! | `ManageProjects`  |        |           |   ✓   |   ✓   |
//! | `ManageTokens`    |        |           |   ✓   |   ✓   |
//! | `ManageMachines`  |        |           |   ✓   |   ✓   |
//! | `ManageAllowlist` |        |           |   ✓   |   ✓   |
//! | `ManageVault`     |        |           |   ✓   |   ✓   |
//! | `ManageUsers`     |        |           |   ✓   |   ✓   |
//! | `ManageOwners`    |        |           |       |   ✓   |
//!
//! `Read` covers listing and showing projects, secret metadata, versions, machines, tokens, the
//! allowlist, audit list and verify, and whoami. Granting a role is further limited by
//! [`may_grant`]: nobody hands out more than they hold.
//!
//! Not yet here (issue 3): scoping developers and viewers to the projects they are given.

use signet_store::{AuditResult, Role};

use crate::audit::Actor;
use crate::auth::AuthedOperator;
use crate::{CoreError, CoreResult, Signet};

/// Something an operator may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Permission {
    /// Read metadata: never a secret value.
    Read,
    /// Create, update, roll back and delete secrets.
    WriteSecrets,
    /// Create projects.
    ManageProjects,
    /// Issue and revoke bootstrap and enrollment tokens.
    ManageTokens,
    /// Machine lifecycle, project membership, grants and CIDRs.
    ManageMachines,
    /// The vault IP allowlist.
    ManageAllowlist,
    /// Vault settings.
    ManageVault,
    /// Create users with a role at or below the caller's (see [`may_grant`]).
    ManageUsers,
    /// Create or change owners.
    ManageOwners,
}

impl Permission {
    /// Every permission, for tables and tests.
    pub const ALL: [Self; 9] = [
        Self::Read,
        Self::WriteSecrets,
        Self::ManageProjects,
        Self::ManageTokens,
        Self::ManageMachines,
        Self::ManageAllowlist,
        Self::ManageVault,
        Self::ManageUsers,
        Self::ManageOwners,
    ];

    /// A stable name for the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::WriteSecrets => "write_secrets",
            Self::ManageProjects => "manage_projects",
            Self::ManageTokens => "manage_tokens",
            Self::ManageMachines => "manage_machines",
            Self::ManageAllowlist => "manage_allowlist",
            Self::ManageVault => "manage_vault",
            Self::ManageUsers => "manage_users",
            Self::ManageOwners => "manage_owners",
        }
    }
}

/// Orders roles: owner > admin > developer > viewer. Higher grants more.
pub fn rank(role: Role) -> u8 {
    match role {
        Role::Viewer => 0,
        Role::Developer => 1,
        Role::Admin => 2,
        Role::Owner => 3,
    }
}

/// Whether `role` holds `perm` (the table in the module docs).
pub fn allows(role: Role, perm: Permission) -> bool {
    // Written as the lowest role holding each permission, so the table is monotone by
    // construction: a higher role can never lose something a lower one has.
    let lowest = match perm {
        Permission::Read => Role::Viewer,
        Permission::WriteSecrets => Role::Developer,
        Permission::ManageProjects
        | Permission::ManageTokens
        | Permission::ManageMachines
        | Permission::ManageAllowlist
        | Permission::ManageVault
        | Permission::ManageUsers => Role::Admin,
        Permission::ManageOwners => Role::Owner,
    };
    rank(role) >= rank(lowest)
}

/// Whether an operator with role `granter` may give someone the role `granted`: only roles at or
/// below their own, and only if they may manage users at all.
pub fn may_grant(granter: Role, granted: Role) -> bool {
    allows(granter, Permission::ManageUsers)
        && rank(granted) <= rank(granter)
        && (granted != Role::Owner || allows(granter, Permission::ManageOwners))
}

impl Signet {
    /// Refuses, and audits the refusal, unless the operator's role holds `perm`. `action` names
    /// what was attempted, as the success record would. It runs before any input is parsed, so
    /// the record carries no caller-chosen target text.
    pub(crate) async fn require(
        &self,
        op: &AuthedOperator,
        perm: Permission,
        action: &str,
    ) -> CoreResult<()> {
        if allows(op.role, perm) {
            return Ok(());
        }
        let e = self.event(
            &Actor::operator(op),
            action,
            "",
            AuditResult::Denied,
            &format!("role={} needs={}", op.role.as_str(), perm.as_str()),
        );
        // Fail closed like every other audited decision: an unrecorded denial is an outage.
        self.journal(vec![e], Vec::new()).await?;
        Err(CoreError::Forbidden)
    }
}
