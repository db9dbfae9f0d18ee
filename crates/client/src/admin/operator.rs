//! The calling operator.

use signet_api::admin::operator::{LogoutAnswer, WhoamiAnswer};
use signet_api::route::admin as route;

use crate::error::ClientError;
use crate::operator::OperatorClient;

impl OperatorClient {
    /// `GET /v1/admin/whoami`: who this key is, with its role and scope.
    pub async fn whoami(&self) -> Result<WhoamiAnswer, ClientError> {
        self.call("GET", route::WHOAMI, &[]).await
    }

    /// `POST /v1/admin/logout`: revokes this client's key; its next request is a 401.
    pub async fn logout(&self) -> Result<LogoutAnswer, ClientError> {
        self.call("POST", route::LOGOUT, &[]).await
    }
}
