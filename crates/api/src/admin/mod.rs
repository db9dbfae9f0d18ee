//! Operator routes: a signed CLI request (operator key) or a browser session with its CSRF
//! token. One module per noun; [`api`] gathers their OpenAPI declarations.
//!
//! Ids that a request body names stay text: a malformed one answers exactly like an unknown one
//! (404, after the caller's permission is checked), as it always has, so the server parses them
//! where it looks them up. Ids in answers and in paths are proto's typed ids.

use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

pub mod account;
pub mod alert;
pub mod allowlist;
pub mod audit;
pub mod budget;
pub mod connection;
pub mod keys;
pub mod lease;
pub mod machine;
pub mod managed;
pub mod operator;
pub mod passkey;
pub mod policy;
pub mod project;
pub mod rotation;
pub mod secret;
pub mod share;
pub mod token;
pub mod trash;
pub mod user;
pub mod vault;

/// The answer to a delete: what was deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeletedAnswer {
    /// The deleted object's id, as the path named it.
    pub id: String,
    /// Always `true`.
    pub deleted: bool,
}

/// The answer to a delete that names nothing back: `{"deleted": true}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeletedFlagAnswer {
    /// Always `true`.
    pub deleted: bool,
}

/// The answer to a revocation: `{"revoked": true}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RevokedAnswer {
    /// Always `true`.
    pub revoked: bool,
}

/// What every operator module shares.
#[derive(OpenApi)]
#[openapi(components(schemas(DeletedAnswer, DeletedFlagAnswer, RevokedAnswer)))]
struct Shared;

/// The operator routes' part of the document.
pub fn api() -> utoipa::openapi::OpenApi {
    let mut doc = Shared::openapi();
    for area in [
        operator::Api::openapi(),
        vault::Api::openapi(),
        project::Api::openapi(),
        policy::Api::openapi(),
        secret::Api::openapi(),
        rotation::Api::openapi(),
        token::Api::openapi(),
        trash::Api::openapi(),
        machine::Api::openapi(),
        allowlist::Api::openapi(),
        budget::Api::openapi(),
        audit::Api::openapi(),
        user::Api::openapi(),
        account::Api::openapi(),
        passkey::Api::openapi(),
        share::Api::openapi(),
        managed::Api::openapi(),
        connection::Api::openapi(),
        lease::Api::openapi(),
        alert::Api::openapi(),
    ] {
        doc.merge(area);
    }
    doc
}

#[cfg(test)]
mod tests {
    use crate::route::admin as route;

    /// Every operator path the document declares is a route the router serves, and every route
    /// this module owns is declared.
    #[test]
    fn declared_paths_are_the_route_constants() {
        let doc = super::api();
        let declared: std::collections::BTreeSet<&str> =
            doc.paths.paths.keys().map(String::as_str).collect();
        let owned = [
            route::WHOAMI,
            route::LOGOUT,
            route::VAULT,
            route::VAULT_SETTINGS,
            route::PROJECTS,
            route::PROJECT_RENAME,
            route::PROJECT_POLICIES,
            route::PROJECT_POLICY,
            route::PROJECT_POLICY_UPDATE,
            route::PROJECT_POLICY_DELETE,
            route::PROJECT_DELETE,
            route::TRASH,
            route::TRASH_RESTORE,
            route::TRASH_PURGE,
            route::TRASH_RETENTION,
            route::PROJECT_CANARIES,
            route::PROJECT_UNFREEZE,
            route::SECRETS,
            route::SECRETS_QUERY,
            route::SECRET,
            route::SECRET_UPDATE,
            route::SECRET_VERSIONS,
            route::SECRET_ROLLBACK,
            route::SECRET_DELETE,
            route::SECRET_POLICY,
            route::SECRET_ROTATE,
            route::SECRET_ROTATION,
            route::SECRET_ROTATION_CLEAR,
            route::SECRET_ROTATION_PAUSE,
            route::SECRET_ROTATION_RESUME,
            route::BOOTSTRAP_TOKENS,
            route::ENROLLMENT_TOKENS,
            route::ENROLLMENT_TOKEN_REVOKE,
            route::MACHINES,
            route::MACHINE,
            route::MACHINE_ACTION,
            route::ALLOWLIST,
            route::ALLOWLIST_ENABLE,
            route::ALLOWLIST_DISABLE,
            route::ALLOWLIST_DELETE,
            route::REQUEST_BUDGETS,
            route::AUDIT_QUERY,
            route::AUDIT_VERIFY,
            route::AUDIT_ARCHIVE,
            route::AUDIT_CHECKPOINTS,
            route::USERS,
            route::USERS_INVITE,
            route::USERS_INVITES,
            route::USERS_INVITE_REVOKE,
            route::USER_ACTION,
            route::ACCOUNT,
            route::ACCOUNT_PASSWORD,
            route::ACCOUNT_SESSION_REVOKE,
            route::ACCOUNT_CLI_KEY_REVOKE,
            route::PASSKEY_REGISTER_START,
            route::PASSKEY_REGISTER_FINISH,
            route::PASSKEY_RENAME,
            route::PASSKEY_DELETE,
            route::SHARES,
            route::SHARE_REVOKE,
            route::WEBHOOKS,
            route::WEBHOOK_UPDATE,
            route::WEBHOOK_DELETE,
            route::WEBHOOK_TEST,
            route::WEBHOOK_DELIVERIES,
            route::ALERT_RULES,
            route::ALERT_RULE_DELETE,
            route::SECRET_MANAGED,
            route::PROJECT_CONNECTIONS,
            route::PROJECT_CONNECTION,
            route::CONNECTION_UPDATE,
            route::CONNECTION_DELETE,
            route::CONNECTION_TEST,
            route::PROJECT_LEASED_SECRETS,
            route::SECRET_LEASE,
            route::LEASES,
            route::LEASES_QUERY,
            route::LEASE_RENEW,
            route::LEASE_REVOKE,
        ];
        assert_eq!(declared, owned.into_iter().collect());
    }
}
