//! The caller's own passkeys. Registering one is a browser ceremony (WebAuthn), so the SDK only
//! lists (through [`OperatorClient::account`]), renames and deletes them.

use signet_api::admin::DeletedFlagAnswer;
use signet_api::admin::passkey::{PasskeyAnswer, PasskeyNameRequest};
use signet_api::route::admin as route;
use signet_proto::PasskeyId;

use super::account::Account;
use crate::error::ClientError;

impl Account<'_> {
    /// `POST /v1/admin/account/passkeys/{id}/rename`.
    pub async fn rename_passkey(
        &self,
        id: &PasskeyId,
        name: &str,
    ) -> Result<PasskeyAnswer, ClientError> {
        let body = super::body(&PasskeyNameRequest {
            name: name.to_owned(),
        })?;
        let path = super::path(route::PASSKEY_RENAME, &[("id", id.as_str())]);
        self.client.call("POST", &path, &body).await
    }

    /// `POST /v1/admin/account/passkeys/{id}/delete`.
    pub async fn delete_passkey(&self, id: &PasskeyId) -> Result<DeletedFlagAnswer, ClientError> {
        let path = super::path(route::PASSKEY_DELETE, &[("id", id.as_str())]);
        self.client.call("POST", &path, &[]).await
    }
}
