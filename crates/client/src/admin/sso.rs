//! Single sign-on: the OpenID providers people sign in through and their claim-to-role
//! mappings (`client.sso()`, owners), and the caller's own linked identities.

use signet_api::admin::DeletedAnswer;
use signet_api::route::sso as route;
use signet_api::sso::{
    SsoIdentitiesAnswer, SsoMappingCreateRequest, SsoProviderAnswer, SsoProviderCreateRequest,
    SsoProviderUpdateRequest, SsoProvidersAnswer,
};
use signet_proto::{SsoMappingId, SsoProviderId};
use zeroize::Zeroizing;

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// SSO providers, their mappings and the caller's linked identities: `client.sso()`.
#[derive(Clone, Copy)]
pub struct Sso<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// Single sign-on: trusted providers and mappings (owners), linked identities (anyone).
    pub fn sso(&self) -> Sso<'_> {
        Sso { client: self }
    }
}

impl Sso<'_> {
    /// `GET /v1/admin/sso/providers`.
    pub async fn providers(&self) -> Result<SsoProvidersAnswer, ClientError> {
        self.client.call("GET", route::PROVIDERS, &[]).await
    }

    /// `POST /v1/admin/sso/providers`. The encoded body, which may hold the client secret, is
    /// wiped after sending.
    pub async fn create(
        &self,
        req: &SsoProviderCreateRequest,
    ) -> Result<SsoProviderAnswer, ClientError> {
        let body = Zeroizing::new(super::body(req)?);
        self.client.call("POST", route::PROVIDERS, &body).await
    }

    /// `GET /v1/admin/sso/providers/{id}`.
    pub async fn show(&self, id: &SsoProviderId) -> Result<SsoProviderAnswer, ClientError> {
        let path = super::path(route::PROVIDER, &[("id", id.as_str())]);
        self.client.call("GET", &path, &[]).await
    }

    /// `POST /v1/admin/sso/providers/{id}/update`: the fields given change, the others stay.
    pub async fn update(
        &self,
        id: &SsoProviderId,
        req: &SsoProviderUpdateRequest,
    ) -> Result<SsoProviderAnswer, ClientError> {
        let path = super::path(route::PROVIDER_UPDATE, &[("id", id.as_str())]);
        let body = Zeroizing::new(super::body(req)?);
        self.client.call("POST", &path, &body).await
    }

    /// `POST /v1/admin/sso/providers/{id}/delete`: the provider, its mappings and its links go;
    /// the users stay.
    pub async fn delete(&self, id: &SsoProviderId) -> Result<DeletedAnswer, ClientError> {
        let path = super::path(route::PROVIDER_DELETE, &[("id", id.as_str())]);
        self.client.call("POST", &path, &[]).await
    }

    /// `POST /v1/admin/sso/providers/{id}/mappings`: adds a mapping after the existing ones.
    pub async fn add_mapping(
        &self,
        id: &SsoProviderId,
        req: &SsoMappingCreateRequest,
    ) -> Result<SsoProviderAnswer, ClientError> {
        let path = super::path(route::MAPPINGS, &[("id", id.as_str())]);
        let body = super::body(req)?;
        self.client.call("POST", &path, &body).await
    }

    /// `POST /v1/admin/sso/providers/{id}/mappings/{mapping}/delete`.
    pub async fn delete_mapping(
        &self,
        id: &SsoProviderId,
        mapping: &SsoMappingId,
    ) -> Result<SsoProviderAnswer, ClientError> {
        let path = super::path(
            route::MAPPING_DELETE,
            &[("id", id.as_str()), ("mapping", mapping.as_str())],
        );
        self.client.call("POST", &path, &[]).await
    }

    /// `GET /v1/admin/account/sso`: the caller's linked provider identities.
    pub async fn identities(&self) -> Result<SsoIdentitiesAnswer, ClientError> {
        self.client.call("GET", route::IDENTITIES, &[]).await
    }

    /// `POST /v1/admin/account/sso/{provider}/delete`: unlinks one of the caller's identities.
    pub async fn unlink(
        &self,
        provider: &SsoProviderId,
    ) -> Result<SsoIdentitiesAnswer, ClientError> {
        let path = super::path(route::IDENTITY_DELETE, &[("provider", provider.as_str())]);
        self.client.call("POST", &path, &[]).await
    }
}
