//! Enrollment routes: a new machine registers its public key (never its private key), with a
//! bootstrap token, an enrollment token, or as a request an operator approves. Unsigned: the
//! machine has no identity yet. Field names are the SikkerKey SDKs'.

use serde::{Deserialize, Serialize};
use signet_proto::{MachineId, VaultId};
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

use crate::openapi::ErrorBody;

/// The body of every enrollment call.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollRequest {
    /// The bootstrap or enrollment token; required by those routes, refused by a tokenless
    /// request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub token: Option<Zeroizing<String>>,
    /// The new raw Ed25519 public key, standard base64.
    pub public_key: String,
    /// The hostname the machine reports.
    pub hostname: String,
    /// A label; defaults to the hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Proof of possession: the new key's base64 signature over the proof string
    /// (`docs/protocol.md`). Signet's clients send one; the SikkerKey SDKs cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
    /// The Unix seconds the proof signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
}

impl std::fmt::Debug for EnrollRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollRequest")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("public_key", &self.public_key)
            .field("hostname", &self.hostname)
            .field("name", &self.name)
            .field("proof", &self.proof)
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

/// A registration that waits for an operator's approval (bootstrap token, tokenless request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingEnrollment {
    /// The new machine's id.
    #[schema(value_type = String)]
    pub machine_id: MachineId,
    /// Its name.
    pub machine_name: String,
    /// The vault it belongs to.
    #[schema(value_type = String)]
    pub vault_id: VaultId,
    /// Where to send signed requests.
    pub api_url: String,
    /// `pending`.
    pub status: String,
    /// The key's fingerprint, which the operator quotes to approve a tokenless request.
    pub fingerprint: String,
}

/// An ephemeral machine approved at once by an enrollment token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredMachine {
    /// The new machine's id.
    #[schema(value_type = String)]
    pub machine_id: MachineId,
    /// Its name.
    pub machine_name: String,
    /// The vault it belongs to.
    #[schema(value_type = String)]
    pub vault_id: VaultId,
    /// When it stops authenticating (Unix ms).
    pub expires_at: Option<i64>,
    /// Where to send signed requests.
    pub api_url: String,
}

/// Redeems a single-use bootstrap token; the machine waits for an operator's approval.
#[utoipa::path(operation_id = "enroll_bootstrap", post, path = "/v1/enroll/bootstrap", tag = "enroll",
    request_body = EnrollRequest,
    responses((status = 200, description = "Registered, pending approval", body = PendingEnrollment),
              (status = 400, description = "Malformed body, or a proof that does not hold", body = ErrorBody),
              (status = 403, description = "An unknown, spent or expired token, an address the \
                  allowlist refuses, or a proof the vault requires and did not get", body = ErrorBody),
              (status = 409, description = "The public key is already registered", body = ErrorBody),
              (status = 503, description = "The store or audit log is down", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn bootstrap() {}

/// Registers an ephemeral machine with an enrollment token; approved at once.
#[utoipa::path(operation_id = "enroll_register", post, path = "/v1/{vault}/enroll/register", tag = "enroll",
    params(("vault" = String, Path, description = "The vault's id")),
    request_body = EnrollRequest,
    responses((status = 200, description = "Registered and approved", body = RegisteredMachine),
              (status = 400, description = "Malformed body, or a proof that does not hold", body = ErrorBody),
              (status = 403, description = "Another vault, an unusable token, or refused by the \
                  token's or the vault's policy", body = ErrorBody),
              (status = 409, description = "The public key is already registered", body = ErrorBody),
              (status = 503, description = "The store or audit log is down", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn register() {}

/// Registers a machine without a token; an operator approves it by quoting its fingerprint.
#[utoipa::path(operation_id = "enroll_request", post, path = "/v1/{vault}/enroll/request", tag = "enroll",
    params(("vault" = String, Path, description = "The vault's id")),
    request_body = EnrollRequest,
    responses((status = 200, description = "Registered, pending approval", body = PendingEnrollment),
              (status = 400, description = "Malformed body, or a token was sent", body = ErrorBody),
              (status = 403, description = "Another vault, tokenless requests turned off, or \
                  refused by the vault's policy", body = ErrorBody),
              (status = 409, description = "The public key is already registered", body = ErrorBody),
              (status = 429, description = "Too many requests from this address", body = ErrorBody),
              (status = 503, description = "The store or audit log is down", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn request() {}

/// The shell script that enrolls a machine with a live bootstrap token (`curl | sh`).
#[utoipa::path(operation_id = "enroll_bootstrap_script", get, path = "/v1/bootstrap/{token}", tag = "enroll",
    params(("token" = String, Path, description = "A live bootstrap token")),
    responses((status = 200, description = "The script", body = String,
                content_type = "text/x-shellscript; charset=utf-8"),
              (status = 403, description = "Not a live bootstrap token", body = ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn bootstrap_script() {}

/// The enrollment routes' part of the document.
#[derive(OpenApi)]
#[openapi(
    paths(bootstrap, register, request, bootstrap_script),
    components(schemas(EnrollRequest, PendingEnrollment, RegisteredMachine)),
    tags((name = "enroll", description = "Unsigned registration of a new machine's public key."))
)]
pub struct Api;
