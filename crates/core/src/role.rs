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
//! allowlist, audit list and verify, and whoami. `ManageUsers` covers creating, inviting,
//! re-roling, suspending and removing users (`crate::user`, `crate::invite`), never oneself, and
//! owners only with `ManageOwners`. Granting a role is further limited by
//! [`may_grant`]: nobody hands out more than they hold.
//!
//! # Project scope
//!
//! A developer or viewer may be limited to chosen projects ([`Scope`], resolved at
//! authentication next to the role; owners and admins are never limited). A scoped operator:
//!
//! * lists only the projects in scope;
//! * gets the same 403 for a secret or project outside the scope as for one that does not exist
//!   (query, show, versions, create, update, rollback, delete), so the scope does not reveal
//!   what lies outside it;
//! * lists only machines attached to a project in scope, each showing only the in-scope
//!   projects and grants; any other machine is the same 403;
//! * is refused the enrollment token list and the audit log (query and verify): both describe
//!   the whole vault. The vault settings and the IP allowlist stay readable.
//!
//! Every refusal is audited like a missing permission.

use std::collections::BTreeSet;

use signet_proto::ProjectId;
use signet_store::Role;

/// Something an operator may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Permission {
    /// Read metadata: never a secret value.
    Read,
    /// Create, update, roll back and delete secrets.
    WriteSecrets,
    /// Create and rename projects.
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

/// The projects an operator's request may touch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every project: owners, admins, keys without a user, and unscoped developers and viewers.
    #[default]
    All,
    /// Only these.
    Projects(BTreeSet<ProjectId>),
}

impl Scope {
    /// The scope a user with `role` and stored `projects` acts with. Owners and admins are
    /// never limited, whatever is stored: they manage the projects themselves.
    pub fn of(role: Role, projects: Option<&[ProjectId]>) -> Self {
        match projects {
            Some(list) if rank(role) < rank(Role::Admin) => {
                Self::Projects(list.iter().cloned().collect())
            }
            _ => Self::All,
        }
    }

    /// Whether `project` is in scope.
    pub fn covers(&self, project: &ProjectId) -> bool {
        match self {
            Self::All => true,
            Self::Projects(set) => set.contains(project),
        }
    }

    /// Whether this scope leaves some project out (or might: a project created later).
    pub fn is_limited(&self) -> bool {
        matches!(self, Self::Projects(_))
    }
}
