//! Managed secrets: a secret's binding to its database connection and sync agent.

use signet_api::admin::managed::{ManagedAnswer, ManagedStatusAnswer, SetManagedRequest};
use signet_api::route::admin as route;
use signet_proto::SecretId;

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// Managed secrets: `client.managed()`.
#[derive(Clone, Copy)]
pub struct Managed<'a> {
    client: &'a OperatorClient,
}

impl OperatorClient {
    /// Calls on managed secrets' bindings.
    pub fn managed(&self) -> Managed<'_> {
        Managed { client: self }
    }
}

impl Managed<'_> {
    /// `GET /v1/admin/secrets/{id}/managed`: the binding, `managed: null` if none.
    pub async fn show(&self, id: &SecretId) -> Result<ManagedStatusAnswer, ClientError> {
        let path = super::path(route::SECRET_MANAGED, &[("id", id.as_str())]);
        self.client.call("GET", &path, &[]).await
    }

    /// `POST /v1/admin/secrets/{id}/managed`: makes the secret managed or changes its binding.
    pub async fn set(
        &self,
        id: &SecretId,
        request: &SetManagedRequest,
    ) -> Result<ManagedAnswer, ClientError> {
        let body = super::body(request)?;
        let path = super::path(route::SECRET_MANAGED, &[("id", id.as_str())]);
        self.client.call("POST", &path, &body).await
    }
}
