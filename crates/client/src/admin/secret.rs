//! Secrets: operators write them and manage their versions; no answer carries a value.

use std::collections::BTreeMap;

use serde::Serialize;
use signet_api::admin::DeletedAnswer;
use signet_api::admin::secret::{
    RollbackRequest, SecretMetadataAnswer, SecretQueryRequest, SecretsAnswer, VersionsAnswer,
};
use signet_api::route::admin as route;
use signet_proto::{ProjectId, SecretId};
use zeroize::Zeroizing;

use crate::error::ClientError;
use crate::operator::{OperatorClient, SecretContent, SecretWrite};
use crate::secret::SecretValue;

/// Secrets as operators write them: `client.secrets()`.
#[derive(Clone, Copy)]
pub struct Secrets<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// Calls on secrets: writing, listing, versions, rollback, deletion (values never come back).
    pub fn secrets(&self) -> Secrets<'_> {
        Secrets { client: self }
    }
}

impl Secrets<'_> {
    /// `POST /v1/admin/secrets`: creates a secret.
    pub async fn create(
        &self,
        project: &ProjectId,
        name: &str,
        content: &SecretContent,
    ) -> Result<SecretMetadataAnswer, ClientError> {
        let body = SecretWrite::new(Some(project), Some(name), content).to_body()?;
        self.client.call("POST", route::SECRETS, &body).await
    }

    /// `POST /v1/admin/secrets/{id}/update`: writes a new version. With `expected` Some(n)
    /// (check-and-set), only if the secret's current version is n: otherwise a 409
    /// `version_conflict` whose [`ClientError::current_version`] names the current one, and
    /// nothing is written.
    pub async fn update(
        &self,
        id: &SecretId,
        content: &SecretContent,
        expected: Option<u32>,
    ) -> Result<SecretMetadataAnswer, ClientError> {
        let body = SecretWrite::new(None, None, content)
            .expecting(expected)
            .to_body()?;
        let path = super::path(route::SECRET_UPDATE, &[("id", id.as_str())]);
        self.client.call("POST", &path, &body).await
    }

    /// `POST /v1/admin/secrets/{id}/update` starting from the current fields of a structured
    /// secret: `keep` carries current fields over (their values never leave the server),
    /// `remove` drops current fields, `set` replaces or adds. `base_version` is the version the
    /// caller started from; a newer one on the server is a 409 and nothing is written.
    /// `expected` adds a check-and-set, as in [`Secrets::update`].
    pub async fn merge_fields(
        &self,
        id: &SecretId,
        base_version: u32,
        keep: &[String],
        remove: &[String],
        set: &BTreeMap<String, SecretValue>,
        expected: Option<u32>,
    ) -> Result<SecretMetadataAnswer, ClientError> {
        // Borrows the plaintext, so the only copy is the encoded body, wiped after sending.
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct FieldMergeBody<'a> {
            base_version: u32,
            keep_fields: &'a [String],
            remove_fields: &'a [String],
            fields: BTreeMap<&'a str, &'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            expected_version: Option<u32>,
        }
        let body = FieldMergeBody {
            base_version,
            keep_fields: keep,
            remove_fields: remove,
            fields: set.iter().map(|(k, v)| (k.as_str(), v.expose())).collect(),
            expected_version: expected,
        };
        let body = serde_json::to_vec(&body)
            .map(Zeroizing::new)
            .map_err(|e| ClientError::decode("secret body", e))?;
        let path = super::path(route::SECRET_UPDATE, &[("id", id.as_str())]);
        self.client.call("POST", &path, &body).await
    }

    /// `POST /v1/admin/secrets/{id}/update` as a partial update of a structured secret: `set`
    /// replaces or adds fields, `unset` removes current ones, and every other current field is
    /// kept on the server (its value never travels). `expected` adds a check-and-set, as in
    /// [`Secrets::update`].
    pub async fn patch_fields(
        &self,
        id: &SecretId,
        set: &BTreeMap<String, SecretValue>,
        unset: &[String],
        expected: Option<u32>,
    ) -> Result<SecretMetadataAnswer, ClientError> {
        // Borrows the plaintext, so the only copy is the encoded body, wiped after sending.
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct FieldPatchBody<'a> {
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            set: BTreeMap<&'a str, &'a str>,
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            unset: &'a [String],
            #[serde(skip_serializing_if = "Option::is_none")]
            expected_version: Option<u32>,
        }
        let body = FieldPatchBody {
            set: set.iter().map(|(k, v)| (k.as_str(), v.expose())).collect(),
            unset,
            expected_version: expected,
        };
        let body = serde_json::to_vec(&body)
            .map(Zeroizing::new)
            .map_err(|e| ClientError::decode("secret body", e))?;
        let path = super::path(route::SECRET_UPDATE, &[("id", id.as_str())]);
        self.client.call("POST", &path, &body).await
    }

    /// `POST /v1/admin/secrets/query`: a project's secrets.
    pub async fn list(&self, project: &ProjectId) -> Result<SecretsAnswer, ClientError> {
        let body = super::body(&SecretQueryRequest {
            project_id: project.to_string(),
        })?;
        self.client.call("POST", route::SECRETS_QUERY, &body).await
    }

    /// `GET /v1/admin/secrets/{id}`: one secret's metadata.
    pub async fn show(&self, id: &SecretId) -> Result<SecretMetadataAnswer, ClientError> {
        let path = super::path(route::SECRET, &[("id", id.as_str())]);
        self.client.call("GET", &path, &[]).await
    }

    /// `GET /v1/admin/secrets/{id}/versions`: a secret's versions.
    pub async fn versions(&self, id: &SecretId) -> Result<VersionsAnswer, ClientError> {
        let path = super::path(route::SECRET_VERSIONS, &[("id", id.as_str())]);
        self.client.call("GET", &path, &[]).await
    }

    /// `POST /v1/admin/secrets/{id}/rollback`: makes `version`'s value current again, as a new
    /// version. `expected` adds a check-and-set, as in [`Secrets::update`].
    pub async fn rollback(
        &self,
        id: &SecretId,
        version: u32,
        expected: Option<u32>,
    ) -> Result<SecretMetadataAnswer, ClientError> {
        let body = super::body(&RollbackRequest {
            version,
            expected_version: expected,
        })?;
        let path = super::path(route::SECRET_ROLLBACK, &[("id", id.as_str())]);
        self.client.call("POST", &path, &body).await
    }

    /// `POST /v1/admin/secrets/{id}/delete`: deletes a secret.
    pub async fn delete(&self, id: &SecretId) -> Result<DeletedAnswer, ClientError> {
        let path = super::path(route::SECRET_DELETE, &[("id", id.as_str())]);
        self.client.call("POST", &path, &[]).await
    }
}
