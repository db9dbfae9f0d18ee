//! Passkey routes: usernameless sign-in (unauthenticated, same-origin checked like the password
//! sign-in, and answered with a session), step-up inside a browser session, and managing the
//! caller's own passkeys (`/v1/admin/account/passkeys/...`, session or signed). The WebAuthn work
//! is in `signet_core::passkey`; these handlers only move JSON.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use signet_api::admin::DeletedFlagAnswer;
use signet_api::admin::passkey::{
    PasskeyAnswer, PasskeyChallengeAnswer, PasskeyCredentialRequest, PasskeyNameRequest,
};
use signet_api::auth::StepUpAnswer;
use signet_api::route;
use signet_api::wire_id::WireId;
use signet_core::auth::SessionGrant;
use signet_core::passkey::PasskeyAnswer as CeremonyAnswer;
use signet_proto::{PasskeyId, UserId};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{OperatorCall, json, json_opt};
use crate::routes::admin::{answer, found};
use crate::routes::auth::{browser_post, session_response};

/// Passkey routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::auth::PASSKEY_LOGIN_START, post(login_start))
        .route(route::auth::PASSKEY_LOGIN_FINISH, post(login_finish))
        .route(route::auth::STEP_UP_PASSKEY_START, post(step_up_start))
        .route(route::auth::STEP_UP_PASSKEY_FINISH, post(step_up_finish))
        .route(route::admin::PASSKEY_REGISTER_START, post(register_start))
        .route(route::admin::PASSKEY_REGISTER_FINISH, post(register_finish))
        .route(route::admin::PASSKEY_RENAME, post(rename))
        .route(route::admin::PASSKEY_DELETE, post(delete))
}

/// Bodies that must be empty or `{}`.
fn empty(body: &[u8]) -> ApiResult<()> {
    match json_opt::<serde_json::Map<String, serde_json::Value>>(body)? {
        Some(m) if !m.is_empty() => Err(ApiError::malformed("this route takes no fields")),
        _ => Ok(()),
    }
}

fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn login_start(
    State(s): State<AppState>,
    req: Request<Body>,
) -> ApiResult<Json<PasskeyChallengeAnswer>> {
    let (_parts, body, ip) = browser_post(&s, req).await?;
    empty(&body)?;
    Ok(Json(answer::challenge(
        s.signet.passkeys().passkey_login_start(ip).await?,
    )))
}

/// Signs in and opens a browser session exactly as a password sign-in does: same answer, same
/// cookie, and any session the browser still had is ended.
async fn login_finish(State(s): State<AppState>, req: Request<Body>) -> ApiResult<Response> {
    let (parts, body, ip) = browser_post(&s, req).await?;
    let b: PasskeyCredentialRequest = json(&body)?;
    let ua = user_agent(&parts.headers);
    let user = s
        .signet
        .passkeys()
        .passkey_login_finish(CeremonyAnswer {
            challenge_id: &b.challenge_id,
            credential: &b.credential,
            source_ip: ip,
            user_agent: ua,
        })
        .await?;
    let previous = s.web.session_secret(&parts.headers);
    let opened = s
        .signet
        .sessions()
        .open_session(&user, ip, ua, previous.as_ref())
        .await?;
    session_response(&s, opened)
}

/// The session a step-up is for, and its user. Step-up is a property of a browser session; a
/// signed CLI request has nothing to step up.
fn session_of(call: &OperatorCall) -> ApiResult<(SessionGrant, UserId)> {
    match (call.operator.session, call.operator.user_id) {
        (Some(grant), Some(user)) => Ok((grant, user)),
        _ => Err(ApiError::malformed("step-up is for browser sessions")),
    }
}

async fn step_up_start(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<PasskeyChallengeAnswer>> {
    empty(&call.body)?;
    let (_, user) = session_of(&call)?;
    Ok(Json(answer::challenge(
        s.signet.passkeys().passkey_step_up_start(&user).await?,
    )))
}

async fn step_up_finish(
    State(s): State<AppState>,
    headers: HeaderMap,
    call: OperatorCall,
) -> ApiResult<Json<StepUpAnswer>> {
    let b: PasskeyCredentialRequest = json(&call.body)?;
    let (grant, user) = session_of(&call)?;
    s.signet
        .passkeys()
        .passkey_step_up_finish(
            &user,
            CeremonyAnswer {
                challenge_id: &b.challenge_id,
                credential: &b.credential,
                source_ip: call.operator.source_ip,
                user_agent: user_agent(&headers),
            },
        )
        .await?;
    let until = s
        .signet
        .sessions()
        .mark_step_up(&call.operator, grant, "passkey")
        .await?;
    Ok(Json(StepUpAnswer {
        step_up_until: until,
    }))
}

async fn register_start(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<PasskeyChallengeAnswer>> {
    let b: PasskeyNameRequest = json(&call.body)?;
    Ok(Json(answer::challenge(
        s.signet
            .passkeys()
            .passkey_register_start(&call.operator, &b.name)
            .await?,
    )))
}

async fn register_finish(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<PasskeyAnswer>> {
    let b: PasskeyCredentialRequest = json(&call.body)?;
    Ok(Json(answer::passkey(
        s.signet
            .passkeys()
            .passkey_register_finish(&call.operator, &b.challenge_id, &b.credential)
            .await?,
    )))
}

async fn rename(
    State(s): State<AppState>,
    id: Result<Path<WireId<PasskeyId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<PasskeyAnswer>> {
    let b: PasskeyNameRequest = json(&call.body)?;
    let id = found(id)?;
    Ok(Json(answer::passkey(
        s.signet
            .passkeys()
            .passkey_rename(&call.operator, &id.to_string(), &b.name)
            .await?,
    )))
}

async fn delete(
    State(s): State<AppState>,
    id: Result<Path<WireId<PasskeyId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<DeletedFlagAnswer>> {
    empty(&call.body)?;
    let id = found(id)?;
    s.signet
        .passkeys()
        .passkey_delete(&call.operator, &id.to_string())
        .await?;
    Ok(Json(DeletedFlagAnswer { deleted: true }))
}
