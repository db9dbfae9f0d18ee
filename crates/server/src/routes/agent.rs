//! A managed secret's sync agent, at SikkerKey's CLI paths: signed like every machine route,
//! answered only to the machine an operator named as the secret's agent (`signet_core::managed`).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use signet_api::agent::{
    AgentAck, ConfirmRotationRequest, HeartbeatRequest, RejectRotationRequest, SyncConfigAnswer,
    SyncConnection,
};
use signet_api::route;
use signet_api::wire_id::WireId;
use signet_core::managed::PROVIDER;
use signet_proto::SecretId;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{MachineCall, json};

/// Routes for a managed secret's agent.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::agent::SYNC_CONFIG, get(sync_config))
        .route(route::agent::HEARTBEAT, post(heartbeat))
        .route(route::agent::CONFIRM_ROTATION, post(confirm))
        .route(route::agent::REJECT_ROTATION, post(reject))
}

async fn sync_config(
    State(s): State<AppState>,
    // A malformed id reaches core, which audits and refuses it like a secret that does not
    // exist: the same 403 either way.
    Path(id): Path<WireId<SecretId>>,
    call: MachineCall,
) -> ApiResult<Json<SyncConfigAnswer>> {
    let c = s
        .signet
        .managed()
        .sync_config(&call.machine, &id.to_string())
        .await?;
    let (pending_rotation_id, pending_value) = c
        .pending
        .map_or((None, None), |(id, value)| (Some(id), Some(value)));
    Ok(Json(SyncConfigAnswer {
        provider_type: PROVIDER.to_owned(),
        connection: SyncConnection {
            host: c.connection.host,
            port: c.connection.port,
            database: c.connection.database,
            admin_user: c.connection.admin_user,
            admin_pass: c.connection.admin_password,
            project_reference: String::new(),
            tls_mode: c.connection.tls_mode,
        },
        managed_username: c.managed_username,
        poll_interval_seconds: c.poll_interval_secs,
        pending_rotation_id,
        pending_value,
        rotation_status: c.rotation_status.to_owned(),
    }))
}

async fn heartbeat(
    State(s): State<AppState>,
    Path(id): Path<WireId<SecretId>>,
    call: MachineCall,
) -> ApiResult<Json<AgentAck>> {
    let b: HeartbeatRequest = json(&call.body)?;
    s.signet
        .managed()
        .heartbeat(
            &call.machine,
            &id.to_string(),
            &b.status,
            b.error.as_deref(),
        )
        .await?;
    Ok(Json(AgentAck { ok: true }))
}

async fn confirm(
    State(s): State<AppState>,
    Path(id): Path<WireId<SecretId>>,
    call: MachineCall,
) -> ApiResult<Json<AgentAck>> {
    let b: ConfirmRotationRequest = json(&call.body)?;
    s.signet
        .managed()
        .confirm(&call.machine, &id.to_string(), &b.rotation_id)
        .await?;
    Ok(Json(AgentAck { ok: true }))
}

async fn reject(
    State(s): State<AppState>,
    Path(id): Path<WireId<SecretId>>,
    call: MachineCall,
) -> ApiResult<Json<AgentAck>> {
    let b: RejectRotationRequest = json(&call.body)?;
    s.signet
        .managed()
        .reject(
            &call.machine,
            &id.to_string(),
            &b.rotation_id,
            b.error.as_deref(),
        )
        .await?;
    Ok(Json(AgentAck { ok: true }))
}
