//! `GET /v1/openapi.json`: the API's description, generated from `signet_api` once per process.

use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use signet_api::route;

use crate::AppState;

/// The document is the same for the process's whole life, so it is built once, on first use.
static DOCUMENT: LazyLock<String> = LazyLock::new(signet_api::openapi::document_json);

/// The document's route (unauthenticated, like the probes).
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(route::health::OPENAPI, get(document))
}

async fn document() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}
