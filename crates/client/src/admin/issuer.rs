//! Trusted OIDC issuers and their rules: `client.issuers()`.

use signet_api::admin::DeletedAnswer;
use signet_api::issuer::{
    IssuerAnswer, IssuerCreateRequest, IssuerRuleCreateRequest, IssuerUpdateRequest, IssuersAnswer,
};
use signet_api::route::issuer as route;

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// Trusted issuers: `client.issuers()`.
#[derive(Clone, Copy)]
pub struct Issuers<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// Trusted OIDC issuers and their rules.
    pub fn issuers(&self) -> Issuers<'_> {
        Issuers { client: self }
    }
}

impl Issuers<'_> {
    /// `GET /v1/admin/issuers`.
    pub async fn list(&self) -> Result<IssuersAnswer, ClientError> {
        self.client.call("GET", route::ISSUERS, &[]).await
    }

    /// `POST /v1/admin/issuers`.
    pub async fn create(&self, req: &IssuerCreateRequest) -> Result<IssuerAnswer, ClientError> {
        let body = super::body(req)?;
        self.client.call("POST", route::ISSUERS, &body).await
    }

    /// `GET /v1/admin/issuers/{id}`.
    pub async fn show(&self, id: &str) -> Result<IssuerAnswer, ClientError> {
        let path = super::path(route::ISSUER, &[("id", id)]);
        self.client.call("GET", &path, &[]).await
    }

    /// `POST /v1/admin/issuers/{id}/update`.
    pub async fn update(
        &self,
        id: &str,
        req: &IssuerUpdateRequest,
    ) -> Result<IssuerAnswer, ClientError> {
        let path = super::path(route::ISSUER_UPDATE, &[("id", id)]);
        let body = super::body(req)?;
        self.client.call("POST", &path, &body).await
    }

    /// `POST /v1/admin/issuers/{id}/delete`.
    pub async fn delete(&self, id: &str) -> Result<DeletedAnswer, ClientError> {
        let path = super::path(route::ISSUER_DELETE, &[("id", id)]);
        self.client.call("POST", &path, &[]).await
    }

    /// `POST /v1/admin/issuers/{id}/rules`: adds a rule after the existing ones.
    pub async fn add_rule(
        &self,
        id: &str,
        req: &IssuerRuleCreateRequest,
    ) -> Result<IssuerAnswer, ClientError> {
        let path = super::path(route::ISSUER_RULES, &[("id", id)]);
        let body = super::body(req)?;
        self.client.call("POST", &path, &body).await
    }

    /// `POST /v1/admin/issuers/{id}/rules/{rule}/delete`.
    pub async fn delete_rule(&self, id: &str, rule: &str) -> Result<IssuerAnswer, ClientError> {
        let path = super::path(route::ISSUER_RULE_DELETE, &[("id", id), ("rule", rule)]);
        self.client.call("POST", &path, &[]).await
    }
}
