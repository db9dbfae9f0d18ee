//! The trash: deleted secrets and projects, restore, purge and retention.

use signet_api::admin::DeletedAnswer;
use signet_api::admin::trash::{
    TrashAnswer, TrashOutcomeAnswer, TrashRetentionAnswer, TrashRetentionRequest,
};
use signet_api::route::admin as route;
use signet_proto::ProjectId;

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// The trash: `client.trash()`.
#[derive(Clone, Copy)]
pub struct Trash<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// Calls on the trash (and deleting projects into it).
    pub fn trash(&self) -> Trash<'_> {
        Trash { client: self }
    }
}

impl Trash<'_> {
    /// `POST /v1/admin/projects/{id}/delete`: moves a project, with every secret in it, to the
    /// trash.
    pub async fn delete_project(&self, id: &ProjectId) -> Result<DeletedAnswer, ClientError> {
        let path = super::path(route::PROJECT_DELETE, &[("id", id.as_str())]);
        self.client.call("POST", &path, &[]).await
    }

    /// `GET /v1/admin/trash`: the items in the caller's scope and the vault's retention.
    pub async fn list(&self) -> Result<TrashAnswer, ClientError> {
        self.client.call("GET", route::TRASH, &[]).await
    }

    /// `POST /v1/admin/trash/{id}/restore`: brings a secret or project back (`id` is either).
    pub async fn restore(&self, id: &str) -> Result<TrashOutcomeAnswer, ClientError> {
        let path = super::path(route::TRASH_RESTORE, &[("id", id)]);
        self.client.call("POST", &path, &[]).await
    }

    /// `POST /v1/admin/trash/{id}/purge`: destroys a trashed secret or project for good.
    pub async fn purge(&self, id: &str) -> Result<TrashOutcomeAnswer, ClientError> {
        let path = super::path(route::TRASH_PURGE, &[("id", id)]);
        self.client.call("POST", &path, &[]).await
    }

    /// `POST /v1/admin/trash/retention`: days trashed items are kept (1 to 3650).
    pub async fn set_retention(&self, days: u32) -> Result<TrashRetentionAnswer, ClientError> {
        let body = super::body(&TrashRetentionRequest { days })?;
        self.client
            .call("POST", route::TRASH_RETENTION, &body)
            .await
    }
}
