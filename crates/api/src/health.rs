//! Probes and the API's own description: unauthenticated, no body.

use utoipa::OpenApi;

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

/// The probes' part of the document.
#[derive(OpenApi)]
#[openapi(
    paths(live, ready, openapi),
    tags((name = "health", description = "Probes and this document; no authentication."))
)]
pub struct Api;
