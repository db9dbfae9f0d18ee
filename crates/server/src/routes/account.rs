//! The signed-in user's own account: security overview, password, sessions and CLI keys.
//! Session or signed; a headless `operator init` key has no account (400).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use signet_api::route;
use signet_core::account::Password;
use zeroize::Zeroizing;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{OperatorCall, json};

/// Account routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::admin::ACCOUNT, get(account))
        .route(route::admin::ACCOUNT_PASSWORD, post(password))
        .route(route::admin::ACCOUNT_SESSION_REVOKE, post(revoke_session))
        .route(route::admin::ACCOUNT_CLI_KEY_REVOKE, post(revoke_cli_key))
}

async fn account(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    let view = s.signet.sessions().account_view(&call.operator).await?;
    serde_json::to_value(view)
        .map(Json)
        .map_err(|_| ApiError::new(ErrorCode::Internal))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PasswordBody {
    current_password: Zeroizing<String>,
    new_password: Zeroizing<String>,
}

async fn password(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    let mut b: PasswordBody = json(&call.body)?;
    s.signet
        .sessions()
        .change_password(
            &call.operator,
            Password::new(std::mem::take(&mut *b.current_password)),
            Password::new(std::mem::take(&mut *b.new_password)),
        )
        .await?;
    Ok(Json(json!({ "changed": true })))
}

async fn revoke_session(
    State(s): State<AppState>,
    Path(id): Path<String>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    s.signet
        .sessions()
        .revoke_own_session(&call.operator, &id)
        .await?;
    Ok(Json(json!({ "revoked": true })))
}

async fn revoke_cli_key(
    State(s): State<AppState>,
    Path(id): Path<String>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    s.signet
        .sessions()
        .revoke_own_cli_key(&call.operator, &id)
        .await?;
    Ok(Json(json!({ "revoked": true })))
}
