//! The machine client: signed reads of secrets with a machine's own key, the SikkerKey SDK
//! surface in Rust.
//!
//! Answers are `signet_api::machine`'s wire types where the SDK hands them out as they are
//! (listings, whoami). Three keep an SDK-side shape: [`ExportedSecret`] (its value is a
//! [`SecretValue`], with the structured-field rule), [`SecretChange`] (it keeps a status this
//! SDK does not know instead of failing), and the SikkerKey CLI listings [`CliProject`] and
//! [`CliSecret`] (decoded leniently, as the SikkerKey CLI decodes them).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use signet_api::machine::{ExportRequest, PollRequest, ProjectScope, SecretAnswer};
use signet_api::route;
use signet_proto::{Identity, ProjectId, SecretId};

use crate::error::ClientError;
use crate::identity::{self, Credentials};
use crate::request::{ClientOptions, Principal, RetryNetwork, SignedRequest, Signer};
use crate::secret::SecretValue;

/// A secret as listed by `GET /v1/secrets` and `POST /v1/secrets/list` (no value): the wire
/// type itself.
pub use signet_api::machine::ListedSecret as SecretSummary;

/// A secret with its value, as returned by `POST /v1/secrets/export`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedSecret {
    /// The secret's id.
    pub id: SecretId,
    /// Its name.
    pub name: String,
    /// Its value; for a structured secret, a JSON object of strings.
    pub value: SecretValue,
    /// The comma-joined field names of a structured secret; `None` for a standard one.
    #[serde(default)]
    pub field_names: Option<String>,
}

impl ExportedSecret {
    /// The fields to expand into `NAME_FIELD` variables: only when the server calls the
    /// secret structured *and* its value is a non-empty JSON object of strings, the rule of
    /// every SikkerKey client's export.
    pub fn fields(&self) -> Option<BTreeMap<String, SecretValue>> {
        self.field_names.as_ref()?;
        self.value.fields()
    }
}

/// What `POST /v1/secrets/poll` says about one watched secret. Unchanged secrets are absent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretChange {
    /// The machine is no longer attached to its project, or no longer granted it.
    AccessDenied,
    /// It has a version newer than the one this machine last read (or it never read it).
    Changed,
    /// It was deleted, or never existed.
    Deleted,
    /// A status this SDK does not know, kept verbatim.
    Other(String),
}

impl SecretChange {
    fn from_status(status: &str) -> Self {
        match status {
            "access_denied" => Self::AccessDenied,
            "changed" => Self::Changed,
            "deleted" => Self::Deleted,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A project as listed by `GET /v1/cli/projects`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct CliProject {
    /// The project's id.
    pub project_id: String,
    /// Its name.
    pub project_name: String,
    /// Always empty: Signet has no applications (kept for SikkerKey compatibility).
    pub application_id: String,
    /// Always empty.
    pub application_name: String,
}

/// A secret as listed by `GET /v1/cli/secrets`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct CliSecret {
    /// The secret's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The comma-joined field names of a structured secret; `None` for a standard one.
    pub field_names: Option<String>,
    /// The project's id.
    pub project_id: String,
    /// The project's name.
    pub project_name: String,
    /// Always empty: Signet has no applications.
    pub application_id: String,
    /// Always empty.
    pub application_name: String,
    /// `"secret"`, `"structured"` or `"leased-secret"`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// The server's view of this machine, from `GET /v1/whoami`: the wire type itself.
pub use signet_api::machine::MachineWhoami;

#[derive(Deserialize)]
struct SecretsResponse<T> {
    secrets: Vec<T>,
}

#[derive(Deserialize)]
struct ProjectsResponse {
    projects: Vec<CliProject>,
}

#[derive(Deserialize)]
struct PollResponse {
    #[serde(default)]
    changes: BTreeMap<String, PollEntry>,
}

#[derive(Deserialize)]
struct PollEntry {
    #[serde(default)]
    status: String,
}

/// Reads secrets as one machine. Every request is signed with the machine's key, re-signed on
/// each retry, and retried on 429, 503 and network failures (about 1, 2 and 4 s apart by
/// default, jittered).
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct MachineClient {
    signer: Arc<Signer>,
    identity: Arc<Identity>,
}

impl MachineClient {
    /// A client for a loaded identity, with default timeout and retries.
    pub fn new(credentials: Credentials<Identity>) -> Result<Self, ClientError> {
        Self::with_options(credentials, ClientOptions::default())
    }

    /// A client with explicit timeout and retry settings.
    pub fn with_options(
        credentials: Credentials<Identity>,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let (identity, seed, _) = credentials.into_parts();
        let signer = Signer::new(
            Principal::Machine(identity.machine_id),
            seed,
            &identity.api_url,
            options,
        )?;
        Ok(Self {
            signer: Arc::new(signer),
            identity: Arc::new(identity),
        })
    }

    /// A client for the identity at `explicit`, else `SIGNET_IDENTITY`, else the single vault
    /// under `SIGNET_HOME` (default `~/.signet`).
    pub fn from_env(explicit: Option<&Path>) -> Result<Self, ClientError> {
        Self::new(identity::load_machine_from_env(explicit)?)
    }

    /// The identity this client signs as.
    pub fn identity(&self) -> &Identity {
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

    /// `GET /v1/secret/{id}`: the value of one secret.
    pub async fn get_secret(&self, id: &SecretId) -> Result<SecretValue, ClientError> {
        let path = route::machine::SECRET.replace("{id}", id.as_str());
        let mut r: SecretAnswer = self.get(&path, "secret value").await?;
        // Moves the string out of the answer; the emptied `Zeroizing` is dropped harmlessly.
        Ok(SecretValue::from(std::mem::take(&mut *r.value)))
    }

    /// The fields of a structured secret. Fails with [`ClientError::NotStructured`] when the
    /// value is not a non-empty JSON object of strings.
    pub async fn get_fields(
        &self,
        id: &SecretId,
    ) -> Result<BTreeMap<String, SecretValue>, ClientError> {
        self.get_secret(id)
            .await?
            .fields()
            .ok_or_else(|| ClientError::NotStructured {
                secret: id.to_string(),
            })
    }

    /// `GET /v1/secrets`: every secret this machine may read, without values.
    pub async fn list_secrets(&self) -> Result<Vec<SecretSummary>, ClientError> {
        let r: SecretsResponse<SecretSummary> =
            self.get(route::machine::SECRETS, "secret list").await?;
        Ok(r.secrets)
    }

    /// `POST /v1/secrets/list`: the readable secrets of one project.
    pub async fn list_secrets_in_project(
        &self,
        project: &ProjectId,
    ) -> Result<Vec<SecretSummary>, ClientError> {
        let body = encode(&ProjectScope {
            project_id: project.clone().into(),
        })?;
        let r: SecretsResponse<SecretSummary> = self
            .post(route::machine::SECRETS_LIST, &body, "secret list")
            .await?;
        Ok(r.secrets)
    }

    /// `POST /v1/secrets/export`: every readable secret with its value, or those of one
    /// project. Without a project the body is empty (never `{}`), as in the SikkerKey SDKs.
    pub async fn export(
        &self,
        project: Option<&ProjectId>,
    ) -> Result<Vec<ExportedSecret>, ClientError> {
        let body = match project {
            Some(p) => encode(&ExportRequest {
                project_id: Some(p.clone().into()),
                application_id: None,
            })?,
            None => Vec::new(),
        };
        // The response buffer, which holds every value in the clear, is wiped when dropped.
        let r: SecretsResponse<ExportedSecret> = self
            .post(route::machine::SECRETS_EXPORT, &body, "export")
            .await?;
        Ok(r.secrets)
    }

    /// `POST /v1/secrets/poll`: which of `ids` changed since this machine last read them. At
    /// most 100 ids per call; the server refuses more.
    pub async fn poll(
        &self,
        ids: &[SecretId],
    ) -> Result<BTreeMap<SecretId, SecretChange>, ClientError> {
        let body = encode(&PollRequest {
            watch: ids.iter().map(|id| id.as_str().to_owned()).collect(),
        })?;
        let r: PollResponse = self
            .post(route::machine::SECRETS_POLL, &body, "poll")
            .await?;
        // Only ids that were asked about are reported, as the SDKs ignore the rest.
        Ok(r.changes
            .into_iter()
            .filter_map(|(id, entry)| {
                let id = SecretId::parse(&id).ok().filter(|id| ids.contains(id))?;
                Some((id, SecretChange::from_status(&entry.status)))
            })
            .collect())
    }

    /// `GET /v1/cli/projects`: the projects this machine can read from.
    pub async fn cli_projects(&self) -> Result<Vec<CliProject>, ClientError> {
        let r: ProjectsResponse = self
            .get(route::machine::CLI_PROJECTS, "project list")
            .await?;
        Ok(r.projects)
    }

    /// `GET /v1/cli/secrets`: readable secrets with their project names and types.
    pub async fn cli_secrets(&self) -> Result<Vec<CliSecret>, ClientError> {
        let r: SecretsResponse<CliSecret> =
            self.get(route::machine::CLI_SECRETS, "secret list").await?;
        Ok(r.secrets)
    }

    /// `GET /v1/whoami`: the server's view of this machine.
    pub async fn whoami(&self) -> Result<MachineWhoami, ClientError> {
        self.get(route::machine::WHOAMI, "whoami").await
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        what: &'static str,
    ) -> Result<T, ClientError> {
        self.signer
            .call_json("GET", path, &[], RetryNetwork::Always, what)
            .await
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &[u8],
        what: &'static str,
    ) -> Result<T, ClientError> {
        self.signer
            .call_json("POST", path, body, RetryNetwork::Always, what)
            .await
    }
}

/// A request body as JSON. The api's request types are plain strings, numbers and lists, whose
/// serialisation cannot fail; an error is still reported rather than sending an empty body.
fn encode<T: Serialize>(body: &T) -> Result<Vec<u8>, ClientError> {
    serde_json::to_vec(body).map_err(|_| ClientError::InvalidRequest { what: "body" })
}
