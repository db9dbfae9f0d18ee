//! Database connection routes: CRUD under a project, and a test login. The admin password is
//! taken, never answered.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use signet_api::admin::DeletedAnswer;
use signet_api::admin::connection::{
    ConnectionAnswer, ConnectionRequest, ConnectionTestAnswer, ConnectionsAnswer,
};
use signet_api::wire_id::WireId;
use signet_core::connection::{ConnectionInput, ConnectionView};
use signet_proto::{ConnectionId, ProjectId};

use super::{found, no_body};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{OperatorCall, json};

type ProjectPath = Result<Path<WireId<ProjectId>>, PathRejection>;
type ConnectionPath = Result<Path<(WireId<ProjectId>, WireId<ConnectionId>)>, PathRejection>;

fn answer(c: ConnectionView) -> ConnectionAnswer {
    ConnectionAnswer {
        id: c.id,
        project_id: c.project_id,
        name: c.name,
        host: c.host,
        port: c.port,
        database: c.database,
        admin_user: c.admin_user,
        tls_mode: c.tls_mode.as_str().to_owned(),
        created_at: c.created_ms,
        updated_at: c.updated_ms,
    }
}

fn input(b: ConnectionRequest) -> ConnectionInput {
    ConnectionInput {
        name: b.name,
        host: b.host,
        port: b.port,
        database: b.database,
        admin_user: b.admin_user,
        admin_password: b.admin_password,
        tls_mode: b.tls_mode,
    }
}

pub(super) async fn list(
    State(s): State<AppState>,
    id: ProjectPath,
    call: OperatorCall,
) -> ApiResult<Json<ConnectionsAnswer>> {
    let id = found(id)?;
    let list = s
        .signet
        .leases()
        .connections()
        .list(&call.operator, &id.to_string())
        .await?;
    Ok(Json(ConnectionsAnswer {
        connections: list.into_iter().map(answer).collect(),
    }))
}

pub(super) async fn create(
    State(s): State<AppState>,
    id: ProjectPath,
    call: OperatorCall,
) -> ApiResult<Json<ConnectionAnswer>> {
    let b: ConnectionRequest = json(&call.body)?;
    let id = found(id)?;
    Ok(Json(answer(
        s.signet
            .leases()
            .connections()
            .create(&call.operator, &id.to_string(), input(b))
            .await?,
    )))
}

pub(super) async fn show(
    State(s): State<AppState>,
    ids: ConnectionPath,
    call: OperatorCall,
) -> ApiResult<Json<ConnectionAnswer>> {
    let (project, id) = found(ids)?;
    Ok(Json(answer(
        s.signet
            .leases()
            .connections()
            .show(&call.operator, &project.to_string(), &id.to_string())
            .await?,
    )))
}

pub(super) async fn update(
    State(s): State<AppState>,
    ids: ConnectionPath,
    call: OperatorCall,
) -> ApiResult<Json<ConnectionAnswer>> {
    let b: ConnectionRequest = json(&call.body)?;
    let (project, id) = found(ids)?;
    Ok(Json(answer(
        s.signet
            .leases()
            .connections()
            .update(
                &call.operator,
                &project.to_string(),
                &id.to_string(),
                input(b),
            )
            .await?,
    )))
}

pub(super) async fn delete(
    State(s): State<AppState>,
    ids: ConnectionPath,
    call: OperatorCall,
) -> ApiResult<Json<DeletedAnswer>> {
    no_body(&call)?;
    let (project, id) = found(ids)?;
    s.signet
        .leases()
        .connections()
        .delete(&call.operator, &project.to_string(), &id.to_string())
        .await?;
    Ok(Json(DeletedAnswer {
        id: id.to_string(),
        deleted: true,
    }))
}

pub(super) async fn test(
    State(s): State<AppState>,
    ids: ConnectionPath,
    call: OperatorCall,
) -> ApiResult<Json<ConnectionTestAnswer>> {
    no_body(&call)?;
    let (project, id) = found(ids)?;
    let failed = s
        .signet
        .leases()
        .connections()
        .test(&call.operator, &project.to_string(), &id.to_string())
        .await?;
    Ok(Json(ConnectionTestAnswer {
        ok: failed.is_none(),
        error: failed.map(str::to_owned),
    }))
}
