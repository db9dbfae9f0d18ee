//! Users: listing and creating.

use signet_api::admin::user::{CreateUserRequest, CreatedUserAnswer, UsersAnswer};
use signet_api::route::admin as route;
use zeroize::Zeroizing;

use crate::error::ClientError;
use crate::operator::OperatorClient;

impl OperatorClient {
    /// `GET /v1/admin/users`.
    pub async fn users(&self) -> Result<UsersAnswer, ClientError> {
        self.call("GET", route::USERS, &[]).await
    }

    /// `POST /v1/admin/users`: creates a user; the answer's TOTP URI and recovery codes are
    /// shown once. The encoded body, which holds the password, is wiped after sending.
    pub async fn create_user(
        &self,
        user: &CreateUserRequest,
    ) -> Result<CreatedUserAnswer, ClientError> {
        let body = Zeroizing::new(super::body(user)?);
        self.call("POST", route::USERS, &body).await
    }
}
