//! The audit log.

use signet_api::admin::audit::{AuditQueryRequest, AuditRecordsAnswer, VerifyAnswer};
use signet_api::route::admin as route;

use crate::error::ClientError;
use crate::operator::OperatorClient;

impl OperatorClient {
    /// `POST /v1/admin/audit/query`: the records matching `query`, newest first.
    pub async fn audit(
        &self,
        query: &AuditQueryRequest,
    ) -> Result<AuditRecordsAnswer, ClientError> {
        let body = super::body(query)?;
        self.call("POST", route::AUDIT_QUERY, &body).await
    }

    /// `POST /v1/admin/audit/verify`: checks the whole hash chain.
    pub async fn audit_verify(&self) -> Result<VerifyAnswer, ClientError> {
        self.call("POST", route::AUDIT_VERIFY, &[]).await
    }
}
