//! The managed-secret routes' handlers (listed in `admin.rs`'s route table): a secret's binding
//! to its database connection and agent, and its rotation state. Answers never carry a value
//! or the connection's admin password.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use signet_api::admin::managed::{ManagedAnswer, ManagedStatusAnswer, SetManagedRequest};
use signet_api::wire_id::WireId;
use signet_core::managed::{ManagedSpec, ManagedView};
use signet_proto::SecretId;

use super::found;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{OperatorCall, json};

fn managed(m: ManagedView) -> ManagedAnswer {
    let (pending_rotation_id, pending_since) = m
        .pending
        .map_or((None, None), |(id, at)| (Some(id), Some(at)));
    let (last_rotation_id, last_outcome, last_error, last_at) = m
        .last
        .map_or((None, None, None, None), |(id, outcome, error, at)| {
            (Some(id), Some(outcome.as_str().to_owned()), error, Some(at))
        });
    let (heartbeat_status, heartbeat_error, last_seen_at) =
        m.heartbeat.map_or((None, None, None), |h| {
            (Some(h.status), h.error, Some(h.at_ms))
        });
    ManagedAnswer {
        secret_id: m.secret_id,
        connection_id: m.connection_id,
        username: m.username,
        agent_machine_id: m.agent_machine_id.map(|a| a.to_string()),
        poll_interval_seconds: m.poll_interval_secs,
        pending_rotation_id,
        pending_since,
        last_rotation_id,
        last_outcome,
        last_error,
        last_at,
        heartbeat_status,
        heartbeat_error,
        last_seen_at,
    }
}

pub(super) async fn show(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<ManagedStatusAnswer>> {
    let id = found(id)?;
    let m = s
        .signet
        .managed()
        .show(&call.operator, &id.to_string())
        .await?;
    Ok(Json(ManagedStatusAnswer {
        managed: m.map(managed),
    }))
}

pub(super) async fn set(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<ManagedAnswer>> {
    let b: SetManagedRequest = json(&call.body)?;
    let id = found(id)?;
    let spec = ManagedSpec {
        connection_id: b.connection_id,
        agent_machine_id: b.agent_machine_id,
        poll_interval_secs: b.poll_interval_seconds,
    };
    Ok(Json(managed(
        s.signet
            .managed()
            .set(&call.operator, &id.to_string(), spec)
            .await?,
    )))
}
