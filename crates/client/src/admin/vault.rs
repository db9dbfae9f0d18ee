//! The vault's settings.

use signet_api::admin::vault::{VaultAnswer, VaultSettingsRequest};
use signet_api::route::admin as route;

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// The vault: its settings, IP allowlist and request budgets: `client.vault()`.
#[derive(Clone, Copy)]
pub struct Vault<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// Calls on the vault: settings, IP allowlist, request budgets.
    pub fn vault(&self) -> Vault<'_> {
        Vault { client: self }
    }
}

impl Vault<'_> {
    /// `GET /v1/admin/vault`: the vault's settings.
    pub async fn settings(&self) -> Result<VaultAnswer, ClientError> {
        self.client.call("GET", route::VAULT, &[]).await
    }

    /// `POST /v1/admin/vault/settings`: changes the settings given; the others stay.
    pub async fn set_settings(
        &self,
        settings: &VaultSettingsRequest,
    ) -> Result<VaultAnswer, ClientError> {
        let body = super::body(settings)?;
        self.client.call("POST", route::VAULT_SETTINGS, &body).await
    }

    /// `POST /v1/admin/vault/settings` with `requireEnrollmentProof`: whether enrollment must
    /// prove possession of the new key (off by default, since the SikkerKey SDKs cannot).
    pub async fn set_enrollment_proof_required(
        &self,
        required: bool,
    ) -> Result<VaultAnswer, ClientError> {
        self.set_settings(&VaultSettingsRequest {
            require_enrollment_proof: Some(required),
            ..VaultSettingsRequest::default()
        })
        .await
    }
}
