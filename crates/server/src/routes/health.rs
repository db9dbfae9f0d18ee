//! Liveness, readiness and the version.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use signet_api::health::ServerVersionAnswer;
use signet_api::route;

use crate::AppState;

/// Health routes (unsigned, no body).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::health::LIVE, get(healthz))
        .route(route::health::READY, get(readyz))
        .route(route::health::VERSION, get(version))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(s): State<AppState>) -> (StatusCode, &'static str) {
    if s.signet.ready().await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

async fn version(State(s): State<AppState>) -> Json<ServerVersionAnswer> {
    Json(ServerVersionAnswer::clone(&s.build))
}
