//! The IP allowlist.

use signet_api::admin::DeletedAnswer;
use signet_api::admin::allowlist::{AllowlistAddRequest, AllowlistAnswer, AllowlistEntryAnswer};
use signet_api::route::admin as route;

use super::vault::Vault;
use crate::error::ClientError;

impl Vault<'_> {
    /// `GET /v1/admin/ip-allowlist`: the entries, and whether the list is enforced.
    pub async fn allowlist(&self) -> Result<AllowlistAnswer, ClientError> {
        self.client.call("GET", route::ALLOWLIST, &[]).await
    }

    /// `POST /v1/admin/ip-allowlist`: adds a network.
    pub async fn allowlist_add(
        &self,
        cidr: &str,
        label: Option<&str>,
    ) -> Result<AllowlistEntryAnswer, ClientError> {
        let body = super::body(&AllowlistAddRequest {
            cidr: cidr.to_owned(),
            label: label.map(str::to_owned),
        })?;
        self.client.call("POST", route::ALLOWLIST, &body).await
    }

    /// `POST /v1/admin/ip-allowlist/enable` or `/disable`.
    pub async fn allowlist_set_enabled(&self, on: bool) -> Result<AllowlistAnswer, ClientError> {
        let path = if on {
            route::ALLOWLIST_ENABLE
        } else {
            route::ALLOWLIST_DISABLE
        };
        self.client.call("POST", path, &[]).await
    }

    /// `POST /v1/admin/ip-allowlist/{id}/delete`: removes an entry.
    pub async fn allowlist_remove(&self, id: &str) -> Result<DeletedAnswer, ClientError> {
        let path = super::path(route::ALLOWLIST_DELETE, &[("id", id)]);
        self.client.call("POST", &path, &[]).await
    }
}
