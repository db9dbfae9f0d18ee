//! Database connections of a project (the admin password is sent, never answered).

use signet_api::admin::DeletedAnswer;
use signet_api::admin::connection::{
    ConnectionAnswer, ConnectionRequest, ConnectionTestAnswer, ConnectionsAnswer,
};
use signet_api::route::admin as route;
use signet_proto::{ConnectionId, ProjectId};

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// Database connections: `client.connections()`.
#[derive(Clone, Copy)]
pub struct Connections<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// Calls on database connections.
    pub fn connections(&self) -> Connections<'_> {
        Connections { client: self }
    }
}

impl Connections<'_> {
    fn one(template: &str, project: &ProjectId, id: &ConnectionId) -> String {
        super::path(
            template,
            &[("id", project.as_str()), ("connection", id.as_str())],
        )
    }

    /// `GET /v1/admin/projects/{id}/connections`: a project's connections, by name.
    pub async fn list(&self, project: &ProjectId) -> Result<ConnectionsAnswer, ClientError> {
        let path = super::path(route::PROJECT_CONNECTIONS, &[("id", project.as_str())]);
        self.client.call("GET", &path, &[]).await
    }

    /// `POST /v1/admin/projects/{id}/connections`: registers a connection.
    pub async fn create(
        &self,
        project: &ProjectId,
        request: &ConnectionRequest,
    ) -> Result<ConnectionAnswer, ClientError> {
        let body = super::body(request)?;
        let path = super::path(route::PROJECT_CONNECTIONS, &[("id", project.as_str())]);
        self.client.call("POST", &path, &body).await
    }

    /// `GET .../connections/{connection}`: one connection.
    pub async fn show(
        &self,
        project: &ProjectId,
        id: &ConnectionId,
    ) -> Result<ConnectionAnswer, ClientError> {
        let path = Self::one(route::PROJECT_CONNECTION, project, id);
        self.client.call("GET", &path, &[]).await
    }

    /// `POST .../connections/{connection}/update`: changes it (no password: kept).
    pub async fn update(
        &self,
        project: &ProjectId,
        id: &ConnectionId,
        request: &ConnectionRequest,
    ) -> Result<ConnectionAnswer, ClientError> {
        let body = super::body(request)?;
        let path = Self::one(route::CONNECTION_UPDATE, project, id);
        self.client.call("POST", &path, &body).await
    }

    /// `POST .../connections/{connection}/delete`.
    pub async fn delete(
        &self,
        project: &ProjectId,
        id: &ConnectionId,
    ) -> Result<DeletedAnswer, ClientError> {
        let path = Self::one(route::CONNECTION_DELETE, project, id);
        self.client.call("POST", &path, &[]).await
    }

    /// `POST .../connections/{connection}/test`: whether Signet can log in as the admin.
    pub async fn test(
        &self,
        project: &ProjectId,
        id: &ConnectionId,
    ) -> Result<ConnectionTestAnswer, ClientError> {
        let path = Self::one(route::CONNECTION_TEST, project, id);
        self.client.call("POST", &path, &[]).await
    }
}
