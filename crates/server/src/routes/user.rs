//! Managing users: invitations, role and project scope, suspension and removal (signed operator
//! routes), and accepting an invitation (unauthenticated: the code is the credential). The
//! rules live in `signet_core::user` and `signet_core::invite`; this is only the HTTP shape.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use signet_api::admin::user::{
    InviteRequest, InvitedAnswer, InvitesAnswer, UserAction, UserActionAnswer, UserRoleRequest,
};
use signet_api::admin::{DeletedFlagAnswer, RevokedAnswer};
use signet_api::auth::{
    InviteAcceptRequest, InviteCheckAnswer, InviteCheckRequest, NewAccountAnswer,
};
use signet_api::route;
use signet_api::wire_id::WireId;
use signet_core::account::Password;
use signet_core::invite::{InviteAcceptance, NewInvite};
use signet_core::user::AccessChange;
use signet_proto::{InviteId, UserId};
use signet_store::Role;
use zeroize::Zeroizing;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientIp, MAX_BODY, OperatorCall, json, read_body};
use crate::routes::admin::{answer, found};

/// User management routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::admin::USERS_INVITE, post(invite))
        .route(route::admin::USERS_INVITES, get(invites))
        .route(route::admin::USERS_INVITE_REVOKE, post(revoke_invite))
        .route(route::admin::USER_ACTION, post(user_action))
        .route(route::auth::INVITE_ACCEPT, post(accept_invite))
        .route(route::auth::INVITE_CHECK, post(check_invite))
}

/// A role from the wire.
pub(crate) fn parse_role(s: &str) -> ApiResult<Role> {
    Role::parse(s)
        .ok_or_else(|| ApiError::malformed("role must be owner, admin, developer or viewer"))
}

async fn invite(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<InvitedAnswer>> {
    let b: InviteRequest = json(&call.body)?;
    let new = NewInvite {
        email: &b.email,
        role: parse_role(&b.role)?,
        projects: b.projects,
    };
    let issued = s.signet.invites().invite_user(&call.operator, new).await?;
    Ok(Json(InvitedAnswer {
        invite_id: issued.invite.id,
        expires_at: issued.invite.expires_at,
        invite_url: issued.url,
    }))
}

async fn invites(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<InvitesAnswer>> {
    let invites = s.signet.invites().invites(&call.operator).await?;
    Ok(Json(InvitesAnswer {
        invites: invites.into_iter().map(answer::invite).collect(),
    }))
}

/// Bodies that must be empty or `{}`.
fn no_body(body: &[u8]) -> ApiResult<()> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let m: serde_json::Map<String, serde_json::Value> = json(body)?;
    if m.is_empty() {
        Ok(())
    } else {
        Err(ApiError::malformed("this route takes no fields"))
    }
}

async fn revoke_invite(
    State(s): State<AppState>,
    id: Result<Path<WireId<InviteId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<RevokedAnswer>> {
    no_body(&call.body)?;
    let id = found(id)?;
    s.signet
        .invites()
        .revoke_invite(&call.operator, &id.to_string())
        .await?;
    Ok(Json(RevokedAnswer { revoked: true }))
}

async fn user_action(
    State(s): State<AppState>,
    path: Result<Path<(WireId<UserId>, UserAction)>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<UserActionAnswer>> {
    // An unknown action, like a malformed id, is a route that does not exist.
    let (id, action) = found(path)?;
    let id = id.to_string();
    let op = &call.operator;
    let view = match action {
        UserAction::Role => {
            let b: UserRoleRequest = json(&call.body)?;
            let change = AccessChange {
                role: parse_role(&b.role)?,
                projects: b.projects,
            };
            s.signet.users().set_user_role(op, &id, change).await?
        }
        UserAction::Suspend | UserAction::Activate => {
            no_body(&call.body)?;
            s.signet
                .users()
                .set_user_active(op, &id, action == UserAction::Activate)
                .await?
        }
        UserAction::Delete => {
            no_body(&call.body)?;
            s.signet.users().remove_user(op, &id).await?;
            return Ok(Json(UserActionAnswer::Deleted(DeletedFlagAnswer {
                deleted: true,
            })));
        }
    };
    Ok(Json(UserActionAnswer::User(answer::user(view))))
}

async fn accept_invite(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    raw: axum::body::Body,
) -> ApiResult<Json<NewAccountAnswer>> {
    // The raw copy holds the password too, so it is zeroized as well.
    let body = Zeroizing::new(read_body(&headers, raw, MAX_BODY).await?.to_vec());
    let mut b: InviteAcceptRequest = json(&body)?;
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
    Ok(Json(answer::new_account(e)))
}

/// Whether an invitation link still works, so its page can say "used, revoked or expired"
/// before the person fills in the form (as the setup link does). Spends nothing.
async fn check_invite(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    raw: axum::body::Body,
) -> ApiResult<Json<InviteCheckAnswer>> {
    let body = Zeroizing::new(read_body(&headers, raw, MAX_BODY).await?.to_vec());
    let b: InviteCheckRequest = json(&body)?;
    Ok(Json(InviteCheckAnswer {
        valid: s.signet.invites().invite_code_live(&b.code, ip).await?,
    }))
}
