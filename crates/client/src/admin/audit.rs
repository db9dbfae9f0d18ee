//! The audit log.

use signet_api::admin::audit::{
    ArchiveAnswer, AuditQueryRequest, AuditRecordsAnswer, CheckpointsAnswer, VerifyAnswer,
};
use signet_api::route::admin as route;

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// The audit log: `client.audit()`.
#[derive(Clone, Copy)]
pub struct Audit<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// Calls on the audit log: reading and verifying it.
    pub fn audit(&self) -> Audit<'_> {
        Audit { client: self }
    }
}

impl Audit<'_> {
    /// `POST /v1/admin/audit/query`: the records matching `query`, newest first.
    pub async fn query(
        &self,
        query: &AuditQueryRequest,
    ) -> Result<AuditRecordsAnswer, ClientError> {
        let body = super::body(query)?;
        self.client.call("POST", route::AUDIT_QUERY, &body).await
    }

    /// `POST /v1/admin/audit/verify`: checks the whole hash chain.
    pub async fn verify(&self) -> Result<VerifyAnswer, ClientError> {
        self.client.call("POST", route::AUDIT_VERIFY, &[]).await
    }

    /// `POST /v1/admin/audit/archive`: archives every full segment now.
    pub async fn archive(&self) -> Result<ArchiveAnswer, ClientError> {
        self.client.call("POST", route::AUDIT_ARCHIVE, &[]).await
    }

    /// `GET /v1/admin/audit/checkpoints`: the archive checkpoints and the key that signs them.
    pub async fn checkpoints(&self) -> Result<CheckpointsAnswer, ClientError> {
        self.client.call("GET", route::AUDIT_CHECKPOINTS, &[]).await
    }
}
