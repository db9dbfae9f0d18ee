//! The rotation routes' handlers (listed in `admin.rs`'s route table): settings, pause and
//! resume, and rotating now. Answers never carry a value.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use signet_api::admin::DeletedFlagAnswer;
use signet_api::admin::rotation::{RotationAnswer, RotationStatusAnswer, SetRotationRequest};
use signet_api::admin::secret::SecretMetadataAnswer;
use signet_api::wire_id::WireId;
use signet_core::rotation::{RotationSpec, RotationView};
use signet_proto::SecretId;

use super::{answer, found, no_body};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{OperatorCall, json};

fn rotation(r: RotationView) -> RotationAnswer {
    RotationAnswer {
        secret_id: r.secret_id,
        charset: r.charset,
        length: r.length,
        fields: r.fields,
        interval_seconds: r.interval_secs,
        paused: r.paused,
        next_due_at: r.next_due_at,
        last_rotated_at: r.last_rotated_at,
    }
}

pub(super) async fn rotate(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<SecretMetadataAnswer>> {
    no_body(&call)?;
    let id = found(id)?;
    Ok(Json(answer::secret(
        s.signet
            .rotation()
            .rotate_now(&call.operator, &id.to_string())
            .await?,
    )))
}

pub(super) async fn show(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<RotationStatusAnswer>> {
    let id = found(id)?;
    let r = s
        .signet
        .rotation()
        .show(&call.operator, &id.to_string())
        .await?;
    Ok(Json(RotationStatusAnswer {
        rotation: r.map(rotation),
    }))
}

pub(super) async fn set(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<RotationAnswer>> {
    let b: SetRotationRequest = json(&call.body)?;
    let id = found(id)?;
    let spec = RotationSpec {
        charset: b.charset,
        length: b.length,
        fields: b.fields,
        interval_secs: b.interval_seconds,
    };
    Ok(Json(rotation(
        s.signet
            .rotation()
            .set(&call.operator, &id.to_string(), spec)
            .await?,
    )))
}

pub(super) async fn clear(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<DeletedFlagAnswer>> {
    no_body(&call)?;
    let id = found(id)?;
    s.signet
        .rotation()
        .clear(&call.operator, &id.to_string())
        .await?;
    Ok(Json(DeletedFlagAnswer { deleted: true }))
}

pub(super) async fn pause(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<RotationAnswer>> {
    no_body(&call)?;
    let id = found(id)?;
    Ok(Json(rotation(
        s.signet
            .rotation()
            .set_paused(&call.operator, &id.to_string(), true)
            .await?,
    )))
}

pub(super) async fn resume(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<RotationAnswer>> {
    no_body(&call)?;
    let id = found(id)?;
    Ok(Json(rotation(
        s.signet
            .rotation()
            .set_paused(&call.operator, &id.to_string(), false)
            .await?,
    )))
}
