//! The signed-in user's own account: overview, password, sessions and CLI keys.

use signet_api::admin::RevokedAnswer;
use signet_api::admin::account::{AccountAnswer, PasswordChangeRequest, PasswordChangedAnswer};
use signet_api::route::admin as route;
use signet_proto::{OperatorId, SessionId};
use zeroize::Zeroizing;

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// The caller's own account: `client.account()`.
#[derive(Clone, Copy)]
pub struct Account<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// Calls on the caller's own account: password, sessions, CLI keys, passkeys.
    pub fn account(&self) -> Account<'_> {
        Account { client: self }
    }
}

impl Account<'_> {
    /// `GET /v1/admin/account`: the caller's account (a headless key has none: 400).
    pub async fn show(&self) -> Result<AccountAnswer, ClientError> {
        self.client.call("GET", route::ACCOUNT, &[]).await
    }

    /// `POST /v1/admin/account/password`: changes the caller's password and ends their other
    /// sessions. The encoded body, which holds both passwords, is wiped after sending.
    pub async fn change_password(
        &self,
        change: &PasswordChangeRequest,
    ) -> Result<PasswordChangedAnswer, ClientError> {
        let body = Zeroizing::new(super::body(change)?);
        self.client
            .call("POST", route::ACCOUNT_PASSWORD, &body)
            .await
    }

    /// `POST /v1/admin/account/sessions/{id}/revoke`: ends one of the caller's browser sessions.
    pub async fn revoke_session(&self, id: &SessionId) -> Result<RevokedAnswer, ClientError> {
        let path = super::path(route::ACCOUNT_SESSION_REVOKE, &[("id", &id.to_string())]);
        self.client.call("POST", &path, &[]).await
    }

    /// `POST /v1/admin/account/cli-keys/{id}/revoke`: revokes one of the caller's CLI keys.
    pub async fn revoke_cli_key(&self, id: &OperatorId) -> Result<RevokedAnswer, ClientError> {
        let path = super::path(route::ACCOUNT_CLI_KEY_REVOKE, &[("id", &id.to_string())]);
        self.client.call("POST", &path, &[]).await
    }
}
