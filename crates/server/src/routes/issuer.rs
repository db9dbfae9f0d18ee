//! Workload identity by OIDC: the operator routes for trusted issuers and their rules, and the
//! unsigned enrollment route that takes a platform token. The rules live in
//! `signet_core::issuer`; this is only the HTTP shape.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use signet_api::admin::DeletedAnswer;
use signet_api::enroll::RegisteredMachine;
use signet_api::issuer::{
    IssuerAnswer, IssuerCreateRequest, IssuerRuleAnswer, IssuerRuleCreateRequest,
    IssuerUpdateRequest, IssuersAnswer, OidcEnrollRequest,
};
use signet_api::route;
use signet_api::wire_id::WireId;
use signet_core::enrollment::Registration;
use signet_core::issuer::{IssuerChange, IssuerView, NewIssuer, NewRule};
use signet_proto::VaultId;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientIp, MAX_BODY, OperatorCall, json, read_body};
use crate::routes::admin::found;

/// Issuer and OIDC enrollment routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::issuer::ISSUERS, get(issuers).post(create))
        .route(route::issuer::ISSUER, get(show))
        .route(route::issuer::ISSUER_UPDATE, post(update))
        .route(route::issuer::ISSUER_DELETE, post(delete))
        .route(route::issuer::ISSUER_RULES, post(add_rule))
        .route(route::issuer::ISSUER_RULE_DELETE, post(delete_rule))
        .route(route::issuer::ENROLL_OIDC, post(enroll))
}

fn answer(v: IssuerView) -> IssuerAnswer {
    let i = v.issuer;
    IssuerAnswer {
        id: i.id,
        name: i.name,
        issuer: i.issuer,
        pinned: i.pinned_jwks.is_some(),
        audience: i.audience,
        algorithms: i.algorithms,
        leeway_seconds: i.leeway_secs,
        rules: v
            .rules
            .into_iter()
            .map(|r| IssuerRuleAnswer {
                id: r.id,
                name: r.name,
                position: r.position,
                claims: r.claims,
                project_ids: r.project_ids,
                secret_ids: r.secret_ids,
                machine_ttl_seconds: r.machine_ttl_secs,
                created_at: r.created_ms,
            })
            .collect(),
        created_at: i.created_ms,
        updated_at: i.updated_ms,
    }
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

async fn issuers(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<IssuersAnswer>> {
    let list = s.signet.enrollment().issuers().list(&call.operator).await?;
    Ok(Json(IssuersAnswer {
        issuers: list.into_iter().map(answer).collect(),
    }))
}

async fn create(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<IssuerAnswer>> {
    let b: IssuerCreateRequest = json(&call.body)?;
    let v = s
        .signet
        .enrollment()
        .issuers()
        .create(
            &call.operator,
            NewIssuer {
                name: b.name,
                issuer: b.issuer,
                jwks: b.jwks,
                audience: b.audience,
                algorithms: b.algorithms,
                leeway_secs: b.leeway_seconds,
            },
        )
        .await?;
    Ok(Json(answer(v)))
}

async fn show(
    State(s): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<IssuerAnswer>> {
    let id = found(id)?;
    Ok(Json(answer(
        s.signet
            .enrollment()
            .issuers()
            .show(&call.operator, &id)
            .await?,
    )))
}

async fn update(
    State(s): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<IssuerAnswer>> {
    let id = found(id)?;
    let b: IssuerUpdateRequest = json(&call.body)?;
    let v = s
        .signet
        .enrollment()
        .issuers()
        .update(
            &call.operator,
            &id,
            IssuerChange {
                name: b.name,
                jwks: b.jwks,
                audience: b.audience,
                algorithms: b.algorithms,
                leeway_secs: b.leeway_seconds,
            },
        )
        .await?;
    Ok(Json(answer(v)))
}

async fn delete(
    State(s): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<DeletedAnswer>> {
    no_body(&call.body)?;
    let id = found(id)?;
    let gone = s
        .signet
        .enrollment()
        .issuers()
        .delete(&call.operator, &id)
        .await?;
    Ok(Json(DeletedAnswer {
        id: gone.to_string(),
        deleted: true,
    }))
}

async fn add_rule(
    State(s): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<IssuerAnswer>> {
    let id = found(id)?;
    let b: IssuerRuleCreateRequest = json(&call.body)?;
    let v = s
        .signet
        .enrollment()
        .issuers()
        .add_rule(
            &call.operator,
            &id,
            NewRule {
                name: b.name,
                claims: b.claims,
                project_ids: b.project_ids,
                secret_ids: b.secret_ids,
                machine_ttl_secs: b.machine_ttl_seconds,
            },
        )
        .await?;
    Ok(Json(answer(v)))
}

async fn delete_rule(
    State(s): State<AppState>,
    ids: Result<Path<(String, String)>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<IssuerAnswer>> {
    no_body(&call.body)?;
    let (id, rule) = found(ids)?;
    let v = s
        .signet
        .enrollment()
        .issuers()
        .delete_rule(&call.operator, &id, &rule)
        .await?;
    Ok(Json(answer(v)))
}

async fn enroll(
    State(s): State<AppState>,
    // A malformed vault id reaches core, which refuses (and audits) it like another vault's.
    Path(vault): Path<WireId<VaultId>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    raw: axum::body::Body,
) -> ApiResult<Json<RegisteredMachine>> {
    let b: OidcEnrollRequest = json(&read_body(&headers, raw, MAX_BODY).await?)?;
    let reg = Registration {
        public_key: &b.public_key,
        hostname: &b.hostname,
        name: b.name.as_deref(),
        source_ip: ip,
        proof: b.proof.as_deref(),
        proof_timestamp: b.timestamp,
    };
    let r = s
        .signet
        .enrollment()
        .issuers()
        .enroll(&vault.to_string(), &b.token, &reg)
        .await?;
    Ok(Json(RegisteredMachine {
        machine_id: r.machine_id,
        machine_name: r.machine_name,
        vault_id: r.vault_id,
        expires_at: r.expires_at,
        api_url: r.api_url,
    }))
}
