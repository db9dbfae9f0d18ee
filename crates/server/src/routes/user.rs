//! Managing users: invitations, role and project scope, suspension and removal (signed operator
//! routes), and accepting an invitation (unauthenticated: the code is the credential). The
//! rules live in `signet_core::user` and `signet_core::invite`; this is only the HTTP shape.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use signet_api::route;
use signet_core::account::{OwnerEnrollment, Password, UserView};
use signet_core::invite::{InviteAcceptance, NewInvite};
use signet_core::user::AccessChange;
use signet_store::Role;
use zeroize::Zeroizing;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{ClientIp, MAX_BODY, OperatorCall, json, read_body};

/// User management routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::admin::USERS_INVITE, post(invite))
        .route(route::admin::USERS_INVITES, get(invites))
        .route(route::admin::USERS_INVITE_REVOKE, post(revoke_invite))
        .route(route::admin::USER_ACTION, post(user_action))
        .route(route::auth::INVITE_ACCEPT, post(accept_invite))
}

/// A role from the wire.
pub(crate) fn parse_role(s: &str) -> ApiResult<Role> {
    Role::parse(s)
        .ok_or_else(|| ApiError::malformed("role must be owner, admin, developer or viewer"))
}

fn to_json<T: serde::Serialize>(v: T) -> ApiResult<Json<Value>> {
    serde_json::to_value(v)
        .map(Json)
        .map_err(|_| ApiError::new(ErrorCode::Internal))
}

/// `{role, projects?}` for an invitation or a role change, plus the invitee's email.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InviteBody {
    email: String,
    role: String,
    projects: Option<Vec<String>>,
}

async fn invite(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    let b: InviteBody = json(&call.body)?;
    let new = NewInvite {
        email: &b.email,
        role: parse_role(&b.role)?,
        projects: b.projects,
    };
    let issued = s.signet.invites().invite_user(&call.operator, new).await?;
    Ok(Json(json!({
        "inviteId": issued.invite.id,
        "inviteUrl": issued.url.as_str(),
        "expiresAt": issued.invite.expires_at,
    })))
}

async fn invites(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "invites": s.signet.invites().invites(&call.operator).await? }),
    ))
}

/// Bodies that must be empty or `{}`.
fn no_body(body: &[u8]) -> ApiResult<()> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let m: serde_json::Map<String, Value> = json(body)?;
    if m.is_empty() {
        Ok(())
    } else {
        Err(ApiError::malformed("this route takes no fields"))
    }
}

async fn revoke_invite(
    State(s): State<AppState>,
    Path(id): Path<String>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    no_body(&call.body)?;
    s.signet
        .invites()
        .revoke_invite(&call.operator, &id)
        .await?;
    Ok(Json(json!({ "revoked": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleBody {
    role: String,
    projects: Option<Vec<String>>,
}

async fn user_action(
    State(s): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    let op = &call.operator;
    let view: UserView = match action.as_str() {
        "role" => {
            let b: RoleBody = json(&call.body)?;
            let change = AccessChange {
                role: parse_role(&b.role)?,
                projects: b.projects,
            };
            s.signet.users().set_user_role(op, &id, change).await?
        }
        "suspend" | "activate" => {
            no_body(&call.body)?;
            s.signet
                .users()
                .set_user_active(op, &id, action == "activate")
                .await?
        }
        "delete" => {
            no_body(&call.body)?;
            s.signet.users().remove_user(op, &id).await?;
            return Ok(Json(json!({ "deleted": true })));
        }
        _ => return Err(ApiError::new(ErrorCode::NotFound)),
    };
    to_json(view)
}

/// The invitee's answer. Its secrets are zeroized when it is dropped.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AcceptBody {
    code: Zeroizing<String>,
    username: String,
    password: Zeroizing<String>,
}

/// What a new account is shown once: the user, how to enroll an authenticator, the codes.
pub(crate) fn enrollment_json(e: &OwnerEnrollment) -> ApiResult<Json<Value>> {
    let secret = e
        .otpauth_uri
        .split_once("secret=")
        .map(|(_, rest)| rest.split('&').next().unwrap_or_default())
        .unwrap_or_default();
    let codes: Vec<&str> = e.recovery_codes.iter().map(|c| c.as_str()).collect();
    Ok(Json(json!({
        "user": UserView::from(e.user.clone()),
        "otpauthUri": e.otpauth_uri.as_str(),
        "totpSecret": secret,
        "recoveryCodes": codes,
    })))
}

async fn accept_invite(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    raw: axum::body::Body,
) -> ApiResult<Json<Value>> {
    // The raw copy holds the password too, so it is zeroized as well.
    let body = Zeroizing::new(read_body(&headers, raw, MAX_BODY).await?.to_vec());
    let mut b: AcceptBody = json(&body)?;
    let e = s
        .signet
        .invites()
        .accept_invite(InviteAcceptance {
            code: &b.code,
            username: &b.username,
            password: Password::new(std::mem::take(&mut *b.password)),
            source_ip: ip,
        })
        .await?;
    enrollment_json(&e)
}
