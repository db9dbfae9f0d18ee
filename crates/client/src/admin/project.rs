//! Projects.

use signet_api::admin::project::{CreateProjectRequest, ProjectAnswer, ProjectsAnswer};
use signet_api::route::admin as route;

use crate::error::ClientError;
use crate::operator::OperatorClient;

impl OperatorClient {
    /// `GET /v1/admin/projects`: the projects in the caller's scope.
    pub async fn projects(&self) -> Result<ProjectsAnswer, ClientError> {
        self.call("GET", route::PROJECTS, &[]).await
    }

    /// `POST /v1/admin/projects`: creates a project.
    pub async fn create_project(&self, name: &str) -> Result<ProjectAnswer, ClientError> {
        let body = super::body(&CreateProjectRequest {
            name: name.to_owned(),
        })?;
        self.call("POST", route::PROJECTS, &body).await
    }
}
