//! Rotation: settings, pause and resume, and rotating a secret now.

use signet_api::admin::DeletedFlagAnswer;
use signet_api::admin::rotation::{RotationAnswer, RotationStatusAnswer, SetRotationRequest};
use signet_api::admin::secret::SecretMetadataAnswer;
use signet_api::route::admin as route;
use signet_proto::SecretId;

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// A secret's rotation: `client.rotation()`.
#[derive(Clone, Copy)]
pub struct Rotation<'a> {
    client: &'a OperatorClient,
}

impl OperatorClient {
    /// Calls on secrets' rotation settings and manual rotation.
    pub fn rotation(&self) -> Rotation<'_> {
        Rotation { client: self }
    }
}

impl Rotation<'_> {
    /// `POST /v1/admin/secrets/{id}/rotate`: a new version with a generated value now.
    pub async fn rotate(&self, id: &SecretId) -> Result<SecretMetadataAnswer, ClientError> {
        let path = super::path(route::SECRET_ROTATE, &[("id", id.as_str())]);
        self.client.call("POST", &path, &[]).await
    }

    /// `GET /v1/admin/secrets/{id}/rotation`: the settings, `rotation: null` if none.
    pub async fn show(&self, id: &SecretId) -> Result<RotationStatusAnswer, ClientError> {
        let path = super::path(route::SECRET_ROTATION, &[("id", id.as_str())]);
        self.client.call("GET", &path, &[]).await
    }

    /// `POST /v1/admin/secrets/{id}/rotation`: creates or replaces the settings.
    pub async fn set(
        &self,
        id: &SecretId,
        settings: &SetRotationRequest,
    ) -> Result<RotationAnswer, ClientError> {
        let body = super::body(settings)?;
        let path = super::path(route::SECRET_ROTATION, &[("id", id.as_str())]);
        self.client.call("POST", &path, &body).await
    }

    /// `POST /v1/admin/secrets/{id}/rotation/clear`: removes the settings and schedule.
    pub async fn clear(&self, id: &SecretId) -> Result<DeletedFlagAnswer, ClientError> {
        let path = super::path(route::SECRET_ROTATION_CLEAR, &[("id", id.as_str())]);
        self.client.call("POST", &path, &[]).await
    }

    /// `POST /v1/admin/secrets/{id}/rotation/pause`: pauses the schedule.
    pub async fn pause(&self, id: &SecretId) -> Result<RotationAnswer, ClientError> {
        let path = super::path(route::SECRET_ROTATION_PAUSE, &[("id", id.as_str())]);
        self.client.call("POST", &path, &[]).await
    }

    /// `POST /v1/admin/secrets/{id}/rotation/resume`: resumes it, next due one interval from
    /// now.
    pub async fn resume(&self, id: &SecretId) -> Result<RotationAnswer, ClientError> {
        let path = super::path(route::SECRET_ROTATION_RESUME, &[("id", id.as_str())]);
        self.client.call("POST", &path, &[]).await
    }
}
