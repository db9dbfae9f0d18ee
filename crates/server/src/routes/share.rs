//! One-time share links: creating, listing and revoking them (operator routes), and opening one
//! (unauthenticated: the link's secret part and the passphrase are the credential). The rules
//! live in `signet_core::share`; this is only the HTTP shape.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use signet_api::admin::RevokedAnswer;
use signet_api::admin::share::{ShareCreateRequest, ShareCreatedAnswer, SharesAnswer};
use signet_api::route;
use signet_api::share::{ShareOpenAnswer, ShareOpenRequest};
use signet_api::wire_id::WireId;
use signet_core::account::Password;
use signet_core::share::{NewShare, ShareOpening};
use signet_proto::{HEADER_MACHINE_ID, ShareId};
use zeroize::Zeroizing;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{ClientIp, MAX_BODY, OperatorCall, json, read_body};
use crate::routes::admin::{answer, found};

/// Share link routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::admin::SHARES, get(shares).post(create))
        .route(route::admin::SHARE_REVOKE, post(revoke))
        .route(route::share::OPEN, post(open))
}

async fn create(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<ShareCreatedAnswer>> {
    // The body holds the value and passphrase; the parsed copy zeroizes itself, the raw bytes
    // are dropped with the call.
    let mut b: ShareCreateRequest = json(&call.body)?;
    let issued = s
        .signet
        .shares()
        .create_share(
            &call.operator,
            NewShare {
                value: std::mem::take(&mut b.value),
                passphrase: Password::new(std::mem::take(&mut *b.passphrase)),
                ttl_secs: b.ttl_seconds,
            },
        )
        .await?;
    Ok(Json(ShareCreatedAnswer {
        id: issued.share.id,
        url: issued.url,
        expires_at: issued.share.expires_at,
    }))
}

async fn shares(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<SharesAnswer>> {
    let list = s.signet.shares().shares(&call.operator).await?;
    Ok(Json(SharesAnswer {
        shares: list.into_iter().map(answer::share).collect(),
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

async fn revoke(
    State(s): State<AppState>,
    id: Result<Path<WireId<ShareId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<RevokedAnswer>> {
    no_body(&call.body)?;
    let id = found(id)?;
    s.signet
        .shares()
        .revoke_share(&call.operator, &id.to_string())
        .await?;
    Ok(Json(RevokedAnswer { revoked: true }))
}

async fn open(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    raw: axum::body::Body,
) -> ApiResult<Json<ShareOpenAnswer>> {
    // Machines never read a share: a request that names a machine (signed or not) is refused
    // before the link is looked at, so it consumes nothing. The link is a human's credential.
    if headers.contains_key(HEADER_MACHINE_ID) {
        return Err(ApiError::new(ErrorCode::AccessDenied));
    }
    // The raw copy holds the secret part and passphrase too, so it is zeroized as well.
    let body = Zeroizing::new(read_body(&headers, raw, MAX_BODY).await?.to_vec());
    let mut b: ShareOpenRequest = json(&body)?;
    let value = s
        .signet
        .shares()
        .open_share(ShareOpening {
            id: &b.id,
            secret: &b.secret,
            passphrase: Password::new(std::mem::take(&mut *b.passphrase)),
            source_ip: ip,
        })
        .await?;
    Ok(Json(ShareOpenAnswer { value }))
}
