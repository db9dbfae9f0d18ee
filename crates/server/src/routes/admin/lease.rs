//! Leased secret and lease routes: create a leased secret, its settings, list, renew, revoke.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use signet_api::admin::lease::{
    CreateLeasedSecretRequest, LeaseAnswer, LeaseQueryRequest, LeaseSettings, LeaseSettingsAnswer,
    LeasesAnswer, RenewLeaseRequest,
};
use signet_api::wire_id::WireId;
use signet_core::lease::{LeaseSettingsInput, LeaseView, LeasedSecretView};
use signet_proto::{LeaseId, ProjectId, SecretId};

use super::{found, no_body};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{OperatorCall, json};

fn settings_input(b: LeaseSettings) -> LeaseSettingsInput {
    LeaseSettingsInput {
        connection: b.connection_id,
        ttl_secs: b.ttl_secs,
        max_ttl_secs: b.max_ttl_secs,
        renew_on_read: b.renew_on_read,
        mint_fresh: b.mint_fresh,
        revoke_on_disable: b.revoke_on_disable,
        password_length: b.password_length,
        password_charset: b.password_charset,
        grant_sql: b.grant_sql,
    }
}

fn settings(v: LeasedSecretView) -> LeaseSettingsAnswer {
    LeaseSettingsAnswer {
        secret_id: v.secret_id,
        connection_id: v.connection_id,
        ttl_secs: v.ttl_secs,
        max_ttl_secs: v.max_ttl_secs,
        renew_on_read: v.renew_on_read,
        mint_fresh: v.mint_fresh,
        revoke_on_disable: v.revoke_on_disable,
        password_length: v.password_length,
        password_charset: v.password_charset,
        grant_sql: v.grant_sql,
        updated_at: v.updated_ms,
    }
}

fn lease(l: LeaseView) -> LeaseAnswer {
    LeaseAnswer {
        id: l.id,
        secret_id: l.secret_id,
        project_id: l.project_id,
        machine_id: l.machine_id,
        connection_id: l.connection_id,
        role: l.role_name,
        created_at: l.created_ms,
        expires_at: l.expires_ms,
        max_expires_at: l.max_expires_ms,
        state: l.state.as_str().to_owned(),
        revoked_at: l.revoked_ms,
        revoke_reason: l.revoke_reason,
    }
}

pub(super) async fn create(
    State(s): State<AppState>,
    id: Result<Path<WireId<ProjectId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<LeaseSettingsAnswer>> {
    let b: CreateLeasedSecretRequest = json(&call.body)?;
    let id = found(id)?;
    let (_, view) = s
        .signet
        .leases()
        .create(
            &call.operator,
            &id.to_string(),
            &b.name,
            &settings_input(b.settings),
        )
        .await?;
    Ok(Json(settings(view)))
}

pub(super) async fn show(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<LeaseSettingsAnswer>> {
    let id = found(id)?;
    Ok(Json(settings(
        s.signet
            .leases()
            .settings(&call.operator, &id.to_string())
            .await?,
    )))
}

pub(super) async fn set(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<LeaseSettingsAnswer>> {
    let b: LeaseSettings = json(&call.body)?;
    let id = found(id)?;
    Ok(Json(settings(
        s.signet
            .leases()
            .set(&call.operator, &id.to_string(), &settings_input(b))
            .await?,
    )))
}

pub(super) async fn list(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<LeasesAnswer>> {
    let rows = s.signet.leases().list(&call.operator, None, None).await?;
    Ok(Json(LeasesAnswer {
        leases: rows.into_iter().map(lease).collect(),
    }))
}

pub(super) async fn query(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<LeasesAnswer>> {
    let b: LeaseQueryRequest = json(&call.body)?;
    let rows = s
        .signet
        .leases()
        .list(
            &call.operator,
            b.secret_id.as_deref(),
            b.machine_id.as_deref(),
        )
        .await?;
    Ok(Json(LeasesAnswer {
        leases: rows.into_iter().map(lease).collect(),
    }))
}

pub(super) async fn renew(
    State(s): State<AppState>,
    id: Result<Path<WireId<LeaseId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<LeaseAnswer>> {
    let b: RenewLeaseRequest = if call.body.iter().all(u8::is_ascii_whitespace) {
        RenewLeaseRequest::default()
    } else {
        json(&call.body)?
    };
    let id = found(id)?;
    Ok(Json(lease(
        s.signet
            .leases()
            .renew(&call.operator, &id.to_string(), b.ttl_secs)
            .await?,
    )))
}

pub(super) async fn revoke(
    State(s): State<AppState>,
    id: Result<Path<WireId<LeaseId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<LeaseAnswer>> {
    no_body(&call)?;
    let id = found(id)?;
    Ok(Json(lease(
        s.signet
            .leases()
            .revoke(&call.operator, &id.to_string())
            .await?,
    )))
}
