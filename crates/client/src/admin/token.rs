//! Bootstrap and enrollment tokens.

use signet_api::admin::token::{
    BootstrapTokenAnswer, EnrollmentTokenAnswer, EnrollmentTokenRequest, EnrollmentTokensAnswer,
};
use signet_api::route::admin as route;

use crate::error::ClientError;
use crate::operator::OperatorClient;

impl OperatorClient {
    /// `POST /v1/admin/tokens/bootstrap`: a one-use bootstrap token and its install command.
    pub async fn bootstrap_token(&self) -> Result<BootstrapTokenAnswer, ClientError> {
        self.call("POST", route::BOOTSTRAP_TOKENS, &[]).await
    }

    /// `POST /v1/admin/tokens/enrollment`: issues an enrollment token (its text only here).
    pub async fn create_enrollment_token(
        &self,
        spec: &EnrollmentTokenRequest,
    ) -> Result<EnrollmentTokenAnswer, ClientError> {
        let body = super::body(spec)?;
        self.call("POST", route::ENROLLMENT_TOKENS, &body).await
    }

    /// `GET /v1/admin/tokens/enrollment`: every enrollment token.
    pub async fn enrollment_tokens(&self) -> Result<EnrollmentTokensAnswer, ClientError> {
        self.call("GET", route::ENROLLMENT_TOKENS, &[]).await
    }

    /// `POST /v1/admin/tokens/enrollment/{id}/revoke`.
    pub async fn revoke_enrollment_token(
        &self,
        id: &str,
    ) -> Result<EnrollmentTokenAnswer, ClientError> {
        let path = super::path(route::ENROLLMENT_TOKEN_REVOKE, &[("id", id)]);
        self.call("POST", &path, &[]).await
    }
}
