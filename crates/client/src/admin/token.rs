//! Bootstrap and enrollment tokens.

use signet_api::admin::token::{
    BootstrapTokenAnswer, EnrollmentTokenAnswer, EnrollmentTokenRequest, EnrollmentTokensAnswer,
};
use signet_api::route::admin as route;

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// Bootstrap and enrollment tokens: `client.tokens()`.
#[derive(Clone, Copy)]
pub struct Tokens<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// Calls on bootstrap and enrollment tokens.
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens { client: self }
    }
}

impl Tokens<'_> {
    /// `POST /v1/admin/tokens/bootstrap`: a one-use bootstrap token and its install command.
    pub async fn bootstrap(&self) -> Result<BootstrapTokenAnswer, ClientError> {
        self.client.call("POST", route::BOOTSTRAP_TOKENS, &[]).await
    }

    /// `POST /v1/admin/tokens/enrollment`: issues an enrollment token (its text only here).
    pub async fn create_enrollment(
        &self,
        spec: &EnrollmentTokenRequest,
    ) -> Result<EnrollmentTokenAnswer, ClientError> {
        let body = super::body(spec)?;
        self.client
            .call("POST", route::ENROLLMENT_TOKENS, &body)
            .await
    }

    /// `GET /v1/admin/tokens/enrollment`: every enrollment token.
    pub async fn enrollment_list(&self) -> Result<EnrollmentTokensAnswer, ClientError> {
        self.client.call("GET", route::ENROLLMENT_TOKENS, &[]).await
    }

    /// `POST /v1/admin/tokens/enrollment/{id}/revoke`.
    pub async fn revoke_enrollment(&self, id: &str) -> Result<EnrollmentTokenAnswer, ClientError> {
        let path = super::path(route::ENROLLMENT_TOKEN_REVOKE, &[("id", id)]);
        self.client.call("POST", &path, &[]).await
    }
}
