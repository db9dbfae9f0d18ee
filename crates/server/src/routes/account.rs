//! The signed-in user's own account: security overview, password, sessions and CLI keys.
//! Session or signed; a headless `operator init` key has no account (400).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use signet_api::admin::RevokedAnswer;
use signet_api::admin::account::{AccountAnswer, PasswordChangeRequest, PasswordChangedAnswer};
use signet_api::route;
use signet_api::wire_id::WireId;
use signet_core::account::Password;
use signet_proto::{OperatorId, SessionId};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{OperatorCall, json};
use crate::routes::admin::{answer, found};

/// Account routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::admin::ACCOUNT, get(account))
        .route(route::admin::ACCOUNT_PASSWORD, post(password))
        .route(route::admin::ACCOUNT_SESSION_REVOKE, post(revoke_session))
        .route(route::admin::ACCOUNT_CLI_KEY_REVOKE, post(revoke_cli_key))
}

async fn account(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<AccountAnswer>> {
    let view = s.signet.sessions().account_view(&call.operator).await?;
    Ok(Json(answer::account(view)))
}

async fn password(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<PasswordChangedAnswer>> {
    let mut b: PasswordChangeRequest = json(&call.body)?;
    s.signet
        .sessions()
        .change_password(
            &call.operator,
            Password::new(std::mem::take(&mut *b.current_password)),
            Password::new(std::mem::take(&mut *b.new_password)),
        )
        .await?;
    Ok(Json(PasswordChangedAnswer { changed: true }))
}

async fn revoke_session(
    State(s): State<AppState>,
    id: Result<Path<WireId<SessionId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<RevokedAnswer>> {
    let id = found(id)?;
    s.signet
        .sessions()
        .revoke_own_session(&call.operator, &id.to_string())
        .await?;
    Ok(Json(RevokedAnswer { revoked: true }))
}

async fn revoke_cli_key(
    State(s): State<AppState>,
    id: Result<Path<WireId<OperatorId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<RevokedAnswer>> {
    let id = found(id)?;
    s.signet
        .sessions()
        .revoke_own_cli_key(&call.operator, &id.to_string())
        .await?;
    Ok(Json(RevokedAnswer { revoked: true }))
}
