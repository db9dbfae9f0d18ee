//! Root key rotation: the keyring's generations, rotating, retiring; and project key rotation.

use signet_api::admin::keys::{
    ProjectKeyRotationAnswer, RetireRootAnswer, RetireRootRequest, RootKeyStatusAnswer,
    RootRotationAnswer, RotateRootRequest,
};
use signet_api::route::keys as route;

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// Root key rotation: `Keys::of(&client)` (an associated function rather than one more accessor
/// on `OperatorClient`, which keeps under the workspace's 30-method limit).
#[derive(Clone, Copy)]
pub struct Keys<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl<'a> Keys<'a> {
    /// Calls on the root keyring (owners), through `client`.
    pub fn of(client: &'a OperatorClient) -> Self {
        Self { client }
    }
}

impl Keys<'_> {
    /// `GET /v1/admin/keys/root`: the live generations and what each still wraps.
    pub async fn root_status(&self) -> Result<RootKeyStatusAnswer, ClientError> {
        self.client.call("GET", route::ROOT, &[]).await
    }

    /// `POST /v1/admin/keys/root/rotate`: with `start`, makes a new generation current; then
    /// re-wraps for a few seconds. Call again with `start: false` while `more`.
    pub async fn rotate_root(&self, start: bool) -> Result<RootRotationAnswer, ClientError> {
        let body = super::body(&RotateRootRequest { start })?;
        self.client.call("POST", route::ROOT_ROTATE, &body).await
    }

    /// `POST /v1/admin/keys/root/retire`: retires a generation nothing refers to.
    pub async fn retire_root(&self, generation: u32) -> Result<RetireRootAnswer, ClientError> {
        let body = super::body(&RetireRootRequest { generation })?;
        self.client.call("POST", route::ROOT_RETIRE, &body).await
    }

    /// `POST /v1/admin/projects/{id}/key/rotate`: replaces the project's key and re-wraps every
    /// value sealed under it, in one transaction (owners and admins).
    pub async fn rotate_project(
        &self,
        project: &signet_proto::ProjectId,
    ) -> Result<ProjectKeyRotationAnswer, ClientError> {
        let path = super::path(route::PROJECT_ROTATE, &[("id", project.as_str())]);
        self.client.call("POST", &path, &[]).await
    }
}
