//! Leased secrets and leases.

use signet_api::admin::lease::{
    CreateLeasedSecretRequest, LeaseAnswer, LeaseQueryRequest, LeaseSettings, LeaseSettingsAnswer,
    LeasesAnswer, RenewLeaseRequest,
};
use signet_api::route::admin as route;
use signet_proto::{LeaseId, ProjectId, SecretId};

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// Leased secrets and leases: `client.leases()`.
#[derive(Clone, Copy)]
pub struct Leases<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// Calls on leased secrets and leases.
    pub fn leases(&self) -> Leases<'_> {
        Leases { client: self }
    }
}

impl Leases<'_> {
    /// `POST /v1/admin/projects/{id}/leased-secrets`: creates a leased secret.
    pub async fn create_secret(
        &self,
        project: &ProjectId,
        name: &str,
        settings: &LeaseSettings,
    ) -> Result<LeaseSettingsAnswer, ClientError> {
        let body = super::body(&CreateLeasedSecretRequest {
            name: name.to_owned(),
            settings: settings.clone(),
        })?;
        let path = super::path(route::PROJECT_LEASED_SECRETS, &[("id", project.as_str())]);
        self.client.call("POST", &path, &body).await
    }

    /// `GET /v1/admin/secrets/{id}/lease`: a leased secret's settings.
    pub async fn settings(&self, secret: &SecretId) -> Result<LeaseSettingsAnswer, ClientError> {
        let path = super::path(route::SECRET_LEASE, &[("id", secret.as_str())]);
        self.client.call("GET", &path, &[]).await
    }

    /// `POST /v1/admin/secrets/{id}/lease`: replaces them.
    pub async fn set_settings(
        &self,
        secret: &SecretId,
        settings: &LeaseSettings,
    ) -> Result<LeaseSettingsAnswer, ClientError> {
        let body = super::body(settings)?;
        let path = super::path(route::SECRET_LEASE, &[("id", secret.as_str())]);
        self.client.call("POST", &path, &body).await
    }

    /// `GET /v1/admin/leases` or, with a filter, `POST /v1/admin/leases/query`.
    pub async fn list(&self, query: &LeaseQueryRequest) -> Result<LeasesAnswer, ClientError> {
        if query.secret_id.is_none() && query.machine_id.is_none() {
            return self.client.call("GET", route::LEASES, &[]).await;
        }
        let body = super::body(query)?;
        self.client.call("POST", route::LEASES_QUERY, &body).await
    }

    /// `POST /v1/admin/leases/{id}/renew`.
    pub async fn renew(
        &self,
        id: &LeaseId,
        ttl_secs: Option<u64>,
    ) -> Result<LeaseAnswer, ClientError> {
        let body = super::body(&RenewLeaseRequest { ttl_secs })?;
        let path = super::path(route::LEASE_RENEW, &[("id", id.as_str())]);
        self.client.call("POST", &path, &body).await
    }

    /// `POST /v1/admin/leases/{id}/revoke`.
    pub async fn revoke(&self, id: &LeaseId) -> Result<LeaseAnswer, ClientError> {
        let path = super::path(route::LEASE_REVOKE, &[("id", id.as_str())]);
        self.client.call("POST", &path, &[]).await
    }
}
