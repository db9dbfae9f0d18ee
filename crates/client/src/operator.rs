//! The operator client: the admin API, signed with an operator's key.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use signet_proto::ProjectId;
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
pub(crate) struct SecretWrite<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    project_id: Option<&'a ProjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<BTreeMap<&'a str, &'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_version: Option<u32>,
}

impl<'a> SecretWrite<'a> {
    pub(crate) fn new(
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
            expected_version: None,
        }
    }

    /// Makes the write a check-and-set on `expected` (an update only).
    pub(crate) fn expecting(mut self, expected: Option<u32>) -> Self {
        self.expected_version = expected;
        self
    }

    pub(crate) fn to_body(&self) -> Result<Zeroizing<Vec<u8>>, ClientError> {
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

    /// Calls any admin route and decodes its answer into `T` (a `signet_api` answer type, or
    /// any other shape the caller expects). `body` is sent as compact JSON; `None` sends an
    /// empty body (and no `Content-Type`). The typed methods are the usual way in; this is for
    /// the routes' edges (tests, tools).
    pub async fn request<B, T>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError>
    where
        B: Serialize + ?Sized,
        T: serde::de::DeserializeOwned,
    {
        let bytes = match body {
            Some(v) => crate::admin::body(v)?,
            None => Vec::new(),
        };
        self.call(method, path, &bytes).await
    }

    /// Like [`request`](Self::request), with the body already encoded: for bodies that hold a
    /// password, which the caller keeps in zeroizing memory.
    pub async fn request_bytes<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<T, ClientError> {
        self.call(method, path, body).await
    }

    /// Sends one signed admin call and decodes its answer (a typed one from `signet_api`).
    pub(crate) async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<T, ClientError> {
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
