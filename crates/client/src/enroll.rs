//! Enrollment: a machine makes its key locally, registers only the public half, and saves its
//! identity under the Signet home. These routes are unsigned (the machine has no identity yet).
//!
//! Three ways in, as `docs/api.md` describes:
//! - [`bootstrap`]: with a bootstrap token (which names the vault); the machine waits for an
//!   operator's approval.
//! - [`register_with_enrollment_token`]: with an enrollment token; the machine is approved at
//!   once and is ephemeral.
//! - [`request`]: with no token; the operator approves it by quoting the fingerprint.
//!
//! Every body carries a proof of possession (`proof`, `timestamp`): the new key's signature over
//! the vault, the token's hash, the key and the time (`docs/protocol.md` §15), so a vault that
//! requires one accepts this client.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use signet_api::enroll::EnrollRequest;
use signet_api::route;
use signet_proto::web_url::WebUrl;
use signet_proto::{
    EnrollmentProof, Fingerprint, Identity, MachineId, SecretSeed, Timestamp, VaultId,
};
use zeroize::Zeroizing;

use crate::error::ClientError;
use crate::identity::{Credentials, SignetHome};
use crate::request::{checked_base_url, http_client, unix_now, unsigned_call};

/// How long one enrollment call may take, as in the SikkerKey SDKs.
const TIMEOUT: Duration = Duration::from_secs(15);

/// The outcome of an enrollment.
#[derive(Debug)]
pub struct Enrollment {
    /// The identity as saved (its `apiUrl` is the one the server returned), with its key.
    pub credentials: Credentials<Identity>,
    /// The fingerprint of the new public key; an operator quotes it to approve a tokenless
    /// request.
    pub fingerprint: Fingerprint,
    /// The machine's status: `pending` for bootstrap and tokenless requests; `None` when the
    /// server did not say (enrollment tokens approve at once).
    pub status: Option<String>,
    /// When an ephemeral machine expires (Unix ms).
    pub expires_at: Option<i64>,
    /// Where an identity previously saved for the same vault was moved, if there was one.
    pub replaced: Option<PathBuf>,
}

/// The enrollment routes' answer: the union of `signet_api::enroll`'s `RegisteredMachine` and
/// `PendingEnrollment`, decoded leniently so that a SikkerKey-compatible server that leaves out
/// an optional field still enrolls.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnrollResponse {
    machine_id: MachineId,
    #[serde(default)]
    machine_name: String,
    vault_id: VaultId,
    #[serde(default)]
    api_url: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    expires_at: Option<i64>,
}

/// `POST /v1/enroll/bootstrap` with a bootstrap token. The machine is pending until an operator
/// approves it.
pub async fn bootstrap(
    home: &SignetHome,
    server_url: &str,
    token: &str,
    hostname: &str,
    name: Option<&str>,
) -> Result<Enrollment, ClientError> {
    enroll(
        home,
        server_url,
        route::enroll::BOOTSTRAP,
        None,
        Some(token),
        hostname,
        name,
    )
    .await
}

/// `POST /v1/{vaultId}/enroll/register` with an enrollment token. The machine is approved at
/// once, ephemeral, and scoped by the token.
pub async fn register_with_enrollment_token(
    home: &SignetHome,
    server_url: &str,
    vault: &VaultId,
    token: &str,
    hostname: &str,
    name: Option<&str>,
) -> Result<Enrollment, ClientError> {
    enroll(
        home,
        server_url,
        &route::enroll::REGISTER.replace("{vault}", vault.as_str()),
        Some(vault),
        Some(token),
        hostname,
        name,
    )
    .await
}

/// `POST /v1/{vaultId}/enroll/request` without a token. The machine is pending; the operator
/// must quote [`Enrollment::fingerprint`] to approve it. Rate limited, and refused when the vault
/// turned tokenless requests off.
pub async fn request(
    home: &SignetHome,
    server_url: &str,
    vault: &VaultId,
    hostname: &str,
    name: Option<&str>,
) -> Result<Enrollment, ClientError> {
    enroll(
        home,
        server_url,
        &route::enroll::REQUEST.replace("{vault}", vault.as_str()),
        Some(vault),
        None,
        hostname,
        name,
    )
    .await
}

async fn enroll(
    home: &SignetHome,
    server_url: &str,
    path: &str,
    vault: Option<&VaultId>,
    token: Option<&str>,
    hostname: &str,
    name: Option<&str>,
) -> Result<Enrollment, ClientError> {
    // The token must not travel in the clear, so the URL is checked before anything else.
    let base = checked_base_url(server_url)?;
    let seed = SecretSeed::generate();
    let public_key = seed.public_key();

    let proof = EnrollmentProof::sign(&seed, vault, token, Timestamp::from_secs(unix_now()));
    let body = EnrollRequest {
        token: token.map(|t| Zeroizing::new(t.to_owned())),
        public_key: public_key.to_base64(),
        hostname: hostname.to_owned(),
        name: name.filter(|n| !n.is_empty()).map(str::to_owned),
        proof: Some(proof.signature.to_base64()),
        timestamp: Some(proof.timestamp.secs()),
    };

    // Any 2xx is success here (unlike signed routes), as the SikkerKey SDKs accept 201.
    let bytes = unsigned_call(
        http_client(TIMEOUT)?
            .post(format!("{base}{path}"))
            .json(&body),
    )
    .await?;
    let r: EnrollResponse = serde_json::from_slice(&bytes)
        .map_err(|e| ClientError::decode("enrollment response", e))?;

    if vault.is_some_and(|v| *v != r.vault_id) {
        return Err(ClientError::Decode {
            what: "the enrollment answer names another vault",
            source: None,
        });
    }
    let fingerprint = public_key.fingerprint();
    if let Some(server) = &r.fingerprint
        && !Fingerprint::parse(server).is_some_and(|fp| fp.matches(&fingerprint))
    {
        return Err(ClientError::FingerprintMismatch {
            local: fingerprint.to_string(),
            server: server.clone(),
        });
    }
    let api_url = match r.api_url.as_deref().map(str::trim) {
        Some(url) if !url.is_empty() => checked_base_url(url)?,
        _ => base,
    };
    let identity = Identity {
        machine_id: r.machine_id,
        machine_name: r.machine_name,
        vault_id: r.vault_id,
        api_url,
        private_key_path: String::new(),
    };
    let saved = home.save(identity, seed)?;
    Ok(Enrollment {
        credentials: saved.credentials,
        fingerprint,
        status: r.status,
        expires_at: r.expires_at,
        replaced: saved.replaced,
    })
}

/// `POST /v1/{vaultId}/enroll/oidc` with a platform token (a JWT from an OIDC issuer the vault
/// trusts: a CI job's or a Kubernetes service account's). The machine is approved at once,
/// ephemeral, and scoped by the first of the issuer's rules that the token's claims match. The
/// proof of possession signs the token's SHA-256, as for an enrollment token.
pub async fn register_with_platform_token(
    home: &SignetHome,
    server_url: &str,
    vault: &VaultId,
    token: &str,
    hostname: &str,
    name: Option<&str>,
) -> Result<Enrollment, ClientError> {
    enroll(
        home,
        server_url,
        &route::issuer::ENROLL_OIDC.replace("{vault}", vault.as_str()),
        Some(vault),
        Some(token),
        hostname,
        name,
    )
    .await
}

/// The OIDC token of a GitHub Actions job (which needs `permissions: id-token: write`): a `GET`
/// of the runner's `ACTIONS_ID_TOKEN_REQUEST_URL` with `&audience=…` and the bearer
/// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`; the token is the answer's `value`. The request URL must be
/// `https://` (or `http://` to this host, for tests).
pub async fn github_actions_token(
    request_url: &str,
    request_token: &str,
    audience: Option<&str>,
) -> Result<Zeroizing<String>, ClientError> {
    #[derive(Deserialize)]
    struct Answer {
        value: Zeroizing<String>,
    }
    let parsed = WebUrl::parse(request_url).map_err(|why| ClientError::MalformedUrl {
        url: request_url.to_owned(),
        why,
    })?;
    if !parsed.is_secure() {
        return Err(ClientError::InsecureUrl {
            url: request_url.to_owned(),
        });
    }
    let mut url = parsed.url().clone();
    if let Some(aud) = audience {
        url.query_pairs_mut().append_pair("audience", aud);
    }
    let bytes = unsigned_call(
        http_client(TIMEOUT)?
            .get(url)
            .header("authorization", format!("bearer {request_token}"))
            .header("accept", "application/json"),
    )
    .await?;
    let a: Answer = serde_json::from_slice(&bytes)
        .map_err(|e| ClientError::decode("GitHub Actions token answer", e))?;
    Ok(a.value)
}
