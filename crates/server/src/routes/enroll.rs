//! Unsigned enrollment routes. They accept only a public key: the private key never leaves the
//! machine that generated it.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use signet_api::enroll::{EnrollRequest, PendingEnrollment, RegisteredMachine};
use signet_api::route;
use signet_api::wire_id::WireId;
use signet_core::enrollment::{Registered, Registration};
use signet_proto::VaultId;
use zeroize::Zeroizing;

use crate::AppState;
use crate::bootstrap::script;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{ClientIp, MAX_BODY, json, read_body};

/// Enrollment routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::enroll::BOOTSTRAP, post(bootstrap))
        .route(route::enroll::REGISTER, post(register))
        .route(route::enroll::REQUEST, post(request))
        .route(route::enroll::BOOTSTRAP_SCRIPT, get(bootstrap_script))
}

async fn body(headers: &HeaderMap, body: axum::body::Body) -> ApiResult<EnrollRequest> {
    json(&read_body(headers, body, MAX_BODY).await?)
}

fn required_token(b: &EnrollRequest) -> ApiResult<&str> {
    b.token
        .as_deref()
        .map(String::as_str)
        .ok_or_else(|| ApiError::malformed("missing field `token`"))
}

/// The answer to a registration that waits for an operator.
fn pending(r: Registered) -> PendingEnrollment {
    PendingEnrollment {
        machine_id: r.machine_id,
        machine_name: r.machine_name,
        vault_id: r.vault_id,
        api_url: r.api_url,
        status: r.status.to_owned(),
        fingerprint: r.fingerprint,
    }
}

fn registration<'a>(
    b: &'a EnrollRequest,
    ip: signet_core::network::ClientAddr,
) -> Registration<'a> {
    Registration {
        public_key: &b.public_key,
        hostname: &b.hostname,
        name: b.name.as_deref(),
        source_ip: ip,
        proof: b.proof.as_deref(),
        proof_timestamp: b.timestamp,
    }
}

async fn bootstrap(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    raw: axum::body::Body,
) -> ApiResult<Json<PendingEnrollment>> {
    let b = body(&headers, raw).await?;
    let token = required_token(&b)?;
    let r = s
        .signet
        .enrollment()
        .enroll_with_bootstrap_token(token, &registration(&b, ip))
        .await?;
    Ok(Json(pending(r)))
}

async fn register(
    State(s): State<AppState>,
    // A malformed vault id reaches core, which refuses (and audits) it like another vault's.
    Path(vault): Path<WireId<VaultId>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    raw: axum::body::Body,
) -> ApiResult<Json<RegisteredMachine>> {
    let b = body(&headers, raw).await?;
    let token = required_token(&b)?;
    let r = s
        .signet
        .enrollment()
        .enroll_with_enrollment_token(&vault.to_string(), token, &registration(&b, ip))
        .await?;
    Ok(Json(RegisteredMachine {
        machine_id: r.machine_id,
        machine_name: r.machine_name,
        vault_id: r.vault_id,
        expires_at: r.expires_at,
        api_url: r.api_url,
    }))
}

async fn request(
    State(s): State<AppState>,
    // As in `register`: core refuses a malformed vault id like another vault's.
    Path(vault): Path<WireId<VaultId>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    raw: axum::body::Body,
) -> ApiResult<Json<PendingEnrollment>> {
    let b = body(&headers, raw).await?;
    if b.token.is_some() {
        return Err(ApiError::malformed("a tokenless request carries no token"));
    }
    let r = s
        .signet
        .enrollment()
        .enroll_by_request(&vault.to_string(), &registration(&b, ip))
        .await?;
    Ok(Json(pending(r)))
}

async fn bootstrap_script(
    State(s): State<AppState>,
    Path(token): Path<Zeroizing<String>>,
) -> ApiResult<Response> {
    // Only a well-formed, live token gets a script; everything else is the same refusal.
    let well_formed = token.len() == 68
        && token.starts_with("sgb_")
        && token[4..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if !well_formed || !s.signet.enrollment().bootstrap_token_usable(&token).await? {
        return Err(ApiError::new(ErrorCode::AccessDenied));
    }
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/x-shellscript; charset=utf-8",
        )],
        script(s.signet.api_url(), &token),
    )
        .into_response())
}
