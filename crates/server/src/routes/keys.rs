//! Root key rotation (`docs/operations.md`, "Key rotation"): the keyring's generations,
//! rotating and retiring; and rotating one project's key. The rules live in
//! `signet_core::keyring` and `signet_core::project_key`.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use signet_api::admin::keys::{
    ProjectKeyRotationAnswer, RetireRootAnswer, RetireRootRequest, RootGenerationAnswer,
    RootKeyStatusAnswer, RootRotationAnswer, RotateRootRequest,
};
use signet_api::route;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{OperatorCall, json};

/// Key rotation routes (operators).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::keys::ROOT, get(root_status))
        .route(route::keys::ROOT_ROTATE, post(root_rotate))
        .route(route::keys::ROOT_RETIRE, post(root_retire))
        .route(route::keys::PROJECT_ROTATE, post(project_rotate))
}

async fn root_status(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<RootKeyStatusAnswer>> {
    if !call.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::malformed("this route takes no body"));
    }
    let generations = signet_core::root_rotation::Keys::of(&s.signet)
        .root_status(&call.operator)
        .await?;
    Ok(Json(RootKeyStatusAnswer {
        generations: generations
            .into_iter()
            .map(|g| RootGenerationAnswer {
                generation: g.generation,
                current: g.current,
                project_keys: g.project_keys,
                created_ms: g.created_ms,
            })
            .collect(),
    }))
}

async fn root_rotate(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<RootRotationAnswer>> {
    // An empty body continues a rotation, like `{}`.
    let b: RotateRootRequest = if call.body.iter().all(u8::is_ascii_whitespace) {
        RotateRootRequest::default()
    } else {
        json(&call.body)?
    };
    let r = signet_core::root_rotation::Keys::of(&s.signet)
        .rotate_root(&call.operator, b.start)
        .await?;
    Ok(Json(RootRotationAnswer {
        generation: r.generation,
        started: r.started,
        rewrapped: r.rewrapped,
        remaining: r.remaining,
        more: r.more,
    }))
}

async fn root_retire(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<RetireRootAnswer>> {
    let b: RetireRootRequest = json(&call.body)?;
    signet_core::root_rotation::Keys::of(&s.signet)
        .retire_root(&call.operator, b.generation)
        .await?;
    Ok(Json(RetireRootAnswer {
        generation: b.generation,
        retired: true,
    }))
}

/// The id is taken as text: a malformed one is a project that does not exist, which gets the
/// same 403 as one out of reach.
async fn project_rotate(
    State(s): State<AppState>,
    Path(id): Path<String>,
    call: OperatorCall,
) -> ApiResult<Json<ProjectKeyRotationAnswer>> {
    if !call.body.iter().all(u8::is_ascii_whitespace) && call.body.as_ref() != b"{}" {
        return Err(ApiError::malformed("this route takes no body"));
    }
    let r = signet_core::root_rotation::Keys::of(&s.signet)
        .rotate_project_key(&call.operator, &id)
        .await?;
    Ok(Json(ProjectKeyRotationAnswer {
        project_id: r.project.to_string(),
        generation: r.generation,
        rewrapped: r.rewrapped,
    }))
}
