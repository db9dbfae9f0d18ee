//! Projects.

use signet_api::admin::project::{
    CreateCanaryRequest, CreateProjectRequest, ProjectAnswer, ProjectsAnswer, RenameProjectRequest,
};
use signet_api::admin::secret::SecretMetadataAnswer;
use signet_api::route::admin as route;

use signet_proto::ProjectId;

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// Projects: `client.projects()`.
#[derive(Clone, Copy)]
pub struct Projects<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// Calls on projects.
    pub fn projects(&self) -> Projects<'_> {
        Projects { client: self }
    }
}

impl Projects<'_> {
    /// `GET /v1/admin/projects`: the projects in the caller's scope.
    pub async fn list(&self) -> Result<ProjectsAnswer, ClientError> {
        self.client.call("GET", route::PROJECTS, &[]).await
    }

    /// `POST /v1/admin/projects`: creates a project.
    pub async fn create(&self, name: &str) -> Result<ProjectAnswer, ClientError> {
        let body = super::body(&CreateProjectRequest {
            name: name.to_owned(),
        })?;
        self.client.call("POST", route::PROJECTS, &body).await
    }

    /// `POST /v1/admin/projects/{id}/rename`: gives a project a new name (409 `conflict` if
    /// another project has it).
    pub async fn rename(&self, id: &ProjectId, name: &str) -> Result<ProjectAnswer, ClientError> {
        let body = super::body(&RenameProjectRequest {
            name: name.to_owned(),
        })?;
        let path = super::path(route::PROJECT_RENAME, &[("id", id.as_str())]);
        self.client.call("POST", &path, &body).await
    }

    /// `POST /v1/admin/projects/{id}/canaries`: creates a canary secret whose value the server
    /// generates (`length` 1-1024, default 32; `charset` `symbols` by default). A machine's read
    /// of it freezes the project.
    pub async fn create_canary(
        &self,
        id: &ProjectId,
        name: &str,
        length: Option<u32>,
        charset: Option<&str>,
    ) -> Result<SecretMetadataAnswer, ClientError> {
        let body = super::body(&CreateCanaryRequest {
            name: name.to_owned(),
            length,
            charset: charset.map(str::to_owned),
        })?;
        let path = super::path(route::PROJECT_CANARIES, &[("id", id.as_str())]);
        self.client.call("POST", &path, &body).await
    }

    /// `POST /v1/admin/projects/{id}/unfreeze`: lifts a canary's freeze (admins; an operator
    /// key needs no step-up, a browser session does).
    pub async fn unfreeze(&self, id: &ProjectId) -> Result<ProjectAnswer, ClientError> {
        let path = super::path(route::PROJECT_UNFREEZE, &[("id", id.as_str())]);
        self.client.call("POST", &path, &[]).await
    }
}
