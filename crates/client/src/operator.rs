//! The operator client: the admin API, signed with an operator's key.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use signet_proto::{MachineId, ProjectId, SecretId};
use zeroize::Zeroizing;

use crate::error::ClientError;
use crate::identity::{self, Credentials, OperatorIdentity};
use crate::request::{ClientOptions, Principal, RetryNetwork, SignedRequest, Signer};
use crate::secret::SecretValue;

/// The content of a secret write: exactly one of a plain value or a set of fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretContent {
    /// A structured secret's fields.
    Fields(BTreeMap<String, SecretValue>),
    /// A standard secret's value.
    Value(SecretValue),
}

/// The body of `POST /v1/admin/secrets` and `.../update`, borrowing the plaintext so that the
/// only copy made is the serialised body, which is wiped after sending.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecretWrite<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    project_id: Option<&'a ProjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<BTreeMap<&'a str, &'a str>>,
}

impl<'a> SecretWrite<'a> {
    fn new(
        project_id: Option<&'a ProjectId>,
        name: Option<&'a str>,
        content: &'a SecretContent,
    ) -> Self {
        let (value, fields) = match content {
            SecretContent::Value(v) => (Some(v.expose()), None),
            SecretContent::Fields(f) => (
                None,
                Some(f.iter().map(|(k, v)| (k.as_str(), v.expose())).collect()),
            ),
        };
        Self {
            project_id,
            name,
            value,
            fields,
        }
    }

    fn to_body(&self) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        serde_json::to_vec(self)
            .map(Zeroizing::new)
            .map_err(|e| ClientError::decode("secret body", e))
    }
}

/// Calls the admin API as one operator. Operators never receive secret values; the API only
/// takes them. Requests are re-signed on every attempt and retried on 429 and 503, and on
/// network failures only when nothing reached the server (an admin write must not be applied
/// twice). Cheap to clone.
#[derive(Debug, Clone)]
pub struct OperatorClient {
    signer: Arc<Signer>,
    identity: Arc<OperatorIdentity>,
}

impl OperatorClient {
    /// A client for a loaded operator identity, with default timeout and retries.
    pub fn new(credentials: Credentials<OperatorIdentity>) -> Result<Self, ClientError> {
        Self::with_options(credentials, ClientOptions::default())
    }

    /// A client with explicit timeout and retry settings.
    pub fn with_options(
        credentials: Credentials<OperatorIdentity>,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let (identity, seed, _) = credentials.into_parts();
        let signer = Signer::new(
            Principal::Operator(identity.operator_id),
            seed,
            &identity.api_url,
            options,
        )?;
        Ok(Self {
            signer: Arc::new(signer),
            identity: Arc::new(identity),
        })
    }

    /// A client for the operator identity at `explicit`, else `SIGNET_OPERATOR_IDENTITY`, else
    /// the single folder under `$SIGNET_HOME/operators`.
    pub fn from_env(explicit: Option<&Path>) -> Result<Self, ClientError> {
        Self::new(identity::load_operator_from_env(explicit)?)
    }

    /// The identity this client signs as.
    pub fn identity(&self) -> &OperatorIdentity {
        &self.identity
    }

    /// The signer, for low-level requests.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Starts a low-level signed request (test-support; see [`SignedRequest`]).
    pub fn signed(&self, method: &str, path: &str) -> SignedRequest<'_> {
        self.signer.signed(method, path)
    }

    /// Calls an admin route (`docs/api.md`) and returns its JSON answer. `body` is sent as
    /// compact JSON; `None` sends an empty body (and no `Content-Type`).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, ClientError> {
        let bytes = match body {
            Some(v) => serde_json::to_vec(v).map_err(|e| ClientError::decode("request body", e))?,
            None => Vec::new(),
        };
        self.call(method, path, &bytes).await
    }

    /// Like [`request`](Self::request), with the body already encoded: for bodies that hold a
    /// password, which the caller keeps in zeroizing memory instead of a `serde_json::Value`.
    pub async fn request_bytes(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<serde_json::Value, ClientError> {
        self.call(method, path, body).await
    }

    /// `POST /v1/admin/vault/settings` with `requireEnrollmentProof`: whether enrollment must
    /// prove possession of the new key (off by default, since the SikkerKey SDKs cannot).
    /// Returns the vault object.
    pub async fn set_enrollment_proof_required(
        &self,
        required: bool,
    ) -> Result<serde_json::Value, ClientError> {
        let body = serde_json::json!({ "requireEnrollmentProof": required });
        self.request("POST", "/v1/admin/vault/settings", Some(&body))
            .await
    }

    /// `GET /v1/admin/request-budgets`: the vault default and every machine's own budget
    /// (requests per minute; 0 or unset is unlimited).
    pub async fn request_budgets(&self) -> Result<serde_json::Value, ClientError> {
        self.call("GET", "/v1/admin/request-budgets", &[]).await
    }

    /// `POST /v1/admin/request-budgets`: sets the vault default (`machine` = `None`) or one
    /// machine's budget, in requests per minute (0: unlimited); `None` clears it, so a machine
    /// follows the default again. Returns every budget.
    pub async fn set_request_budget(
        &self,
        machine: Option<&MachineId>,
        per_minute: Option<u32>,
    ) -> Result<serde_json::Value, ClientError> {
        let body = serde_json::json!({
            "machineId": machine.map(|m| m.to_string()),
            "requestsPerMinute": per_minute,
        });
        self.request("POST", "/v1/admin/request-budgets", Some(&body))
            .await
    }

    /// `POST /v1/admin/secrets`: creates a secret, returning the secret object.
    pub async fn create_secret(
        &self,
        project: &ProjectId,
        name: &str,
        content: &SecretContent,
    ) -> Result<serde_json::Value, ClientError> {
        let body = SecretWrite::new(Some(project), Some(name), content).to_body()?;
        self.call("POST", "/v1/admin/secrets", &body).await
    }

    /// `POST /v1/admin/secrets/{id}/update`: writes a new version, returning the secret object.
    pub async fn update_secret(
        &self,
        id: &SecretId,
        content: &SecretContent,
    ) -> Result<serde_json::Value, ClientError> {
        let body = SecretWrite::new(None, None, content).to_body()?;
        self.call("POST", &format!("/v1/admin/secrets/{id}/update"), &body)
            .await
    }

    /// `POST /v1/admin/secrets/{id}/update` starting from the current fields of a structured
    /// secret: `keep` carries current fields over (their values never leave the server),
    /// `remove` drops current fields, `set` replaces or adds. `base_version` is the version the
    /// caller started from; a newer one on the server is a 409 and nothing is written.
    pub async fn merge_secret_fields(
        &self,
        id: &SecretId,
        base_version: u32,
        keep: &[String],
        remove: &[String],
        set: &BTreeMap<String, SecretValue>,
    ) -> Result<serde_json::Value, ClientError> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct FieldMergeBody<'a> {
            base_version: u32,
            keep_fields: &'a [String],
            remove_fields: &'a [String],
            fields: BTreeMap<&'a str, &'a str>,
        }
        let body = FieldMergeBody {
            base_version,
            keep_fields: keep,
            remove_fields: remove,
            fields: set.iter().map(|(k, v)| (k.as_str(), v.expose())).collect(),
        };
        let body = serde_json::to_vec(&body)
            .map(Zeroizing::new)
            .map_err(|e| ClientError::decode("secret body", e))?;
        self.call("POST", &format!("/v1/admin/secrets/{id}/update"), &body)
            .await
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<serde_json::Value, ClientError> {
        let network = if method == "GET" {
            RetryNetwork::Always
        } else {
            RetryNetwork::ConnectOnly
        };
        self.signer
            .call_json(method, path, body, network, "admin response")
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn secret_bodies_carry_exactly_one_of_value_or_fields() {
        let project = ProjectId::parse("proj_0123456789").unwrap();
        let value = SecretContent::Value(SecretValue::new("s3cr\"et"));
        let body = SecretWrite::new(Some(&project), Some("db"), &value)
            .to_body()
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"projectId":"proj_0123456789","name":"db","value":"s3cr\"et"}"#
        );
        let fields = SecretContent::Fields(
            [
                ("user".to_owned(), SecretValue::new("u")),
                ("pass".to_owned(), SecretValue::new("p")),
            ]
            .into(),
        );
        let body = SecretWrite::new(None, None, &fields).to_body().unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"fields":{"pass":"p","user":"u"}}"#
        );
    }
}
