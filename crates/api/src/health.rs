//! Probes and the API's own description: unauthenticated, no body.

use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// `GET /v1/version`: which build answers. Unauthenticated, like the probes: monitoring and an
/// operator about to upgrade need it before any sign-in (Vault's `sys/health` tells it too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerVersionAnswer {
    /// The release, as in `Cargo.toml` (`0.1.0`).
    pub version: String,
    /// The short git commit it was built from, or `unknown` outside a git checkout.
    pub commit: String,
    /// The day it was built (`YYYY-MM-DD`, UTC): `SOURCE_DATE_EPOCH`'s, else the commit's, so
    /// a rebuild of the same commit answers the same; `unknown` when neither is known.
    pub build_date: String,
}

/// Liveness: the process answers.
#[utoipa::path(operation_id = "health_live", get, path = "/healthz", tag = "health",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain; charset=utf-8")))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn live() {}

/// Readiness: the store answers reads and takes audit writes.
#[utoipa::path(operation_id = "health_ready", get, path = "/readyz", tag = "health",
    responses((status = 200, description = "`ready`", body = String, content_type = "text/plain; charset=utf-8"),
              (status = 503, description = "`not ready`", body = String, content_type = "text/plain; charset=utf-8")))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn ready() {}

/// This document, as JSON.
#[utoipa::path(operation_id = "health_openapi", get, path = "/v1/openapi.json", tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object, content_type = "application/json")))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn openapi() {}

/// The server's version, commit and build date.
#[utoipa::path(operation_id = "health_version", get, path = "/v1/version", tag = "health",
    responses((status = 200, description = "The build that answers", body = ServerVersionAnswer)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn version() {}

/// The probes' part of the document.
#[derive(OpenApi)]
#[openapi(
    paths(live, ready, openapi, version),
    components(schemas(ServerVersionAnswer)),
    tags((name = "health", description = "Probes, the version and this document; no authentication."))
)]
pub struct Api;
