//! The machine API, wire-compatible with the SikkerKey SDKs and CLI. Every route is signed with
//! the machine's key; success is always 200.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use signet_api::route;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{MachineCall, json, json_opt};

/// Routes for machines.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::machine::SECRET, get(read_secret))
        .route(route::machine::SECRETS, get(list_secrets))
        .route(route::machine::SECRETS_LIST, post(list_in_project))
        .route(route::machine::SECRETS_EXPORT, post(export))
        .route(route::machine::SECRETS_POLL, post(poll))
        .route(route::machine::CLI_PROJECTS, get(cli_projects))
        .route(route::machine::CLI_SECRETS, get(cli_secrets))
        .route(route::machine::WHOAMI, get(whoami))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ProjectBody {
    project_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ExportBody {
    project_id: Option<String>,
    // The SikkerKey CLI may scope by application; Signet has no applications, so a request
    // scoped to one is answered for nothing rather than for everything.
    application_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PollBody {
    watch: Vec<String>,
}

async fn read_secret(
    State(s): State<AppState>,
    Path(id): Path<String>,
    call: MachineCall,
) -> ApiResult<Response> {
    let v = s.signet.reads().read_secret(&call.machine, &id).await?;
    Ok(Json(json!({ "value": v.0.as_str() })).into_response())
}

fn listed(rows: Vec<signet_core::read::Listed>, cli: bool) -> Value {
    let secrets: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("id".into(), json!(r.id));
            m.insert("name".into(), json!(r.name));
            m.insert("fieldNames".into(), json!(r.field_names));
            m.insert("projectId".into(), json!(r.project_id));
            if cli {
                m.insert("projectName".into(), json!(r.project_name));
                m.insert("applicationId".into(), json!(""));
                m.insert("applicationName".into(), json!(""));
                m.insert("type".into(), json!(r.kind));
            }
            Value::Object(m)
        })
        .collect();
    json!({ "secrets": secrets })
}

async fn list_secrets(State(s): State<AppState>, call: MachineCall) -> ApiResult<Json<Value>> {
    Ok(Json(listed(
        s.signet.reads().list_secrets(&call.machine, None).await?,
        false,
    )))
}

async fn list_in_project(State(s): State<AppState>, call: MachineCall) -> ApiResult<Json<Value>> {
    let body: ProjectBody = json(&call.body)?;
    Ok(Json(listed(
        s.signet
            .reads()
            .list_secrets(&call.machine, Some(&body.project_id))
            .await?,
        false,
    )))
}

async fn cli_secrets(State(s): State<AppState>, call: MachineCall) -> ApiResult<Json<Value>> {
    Ok(Json(listed(
        s.signet.reads().list_secrets(&call.machine, None).await?,
        true,
    )))
}

async fn export(State(s): State<AppState>, call: MachineCall) -> ApiResult<Response> {
    let body: Option<ExportBody> = json_opt(&call.body)?;
    if body.as_ref().is_some_and(|b| b.application_id.is_some()) {
        return Ok(Json(json!({ "secrets": [] })).into_response());
    }
    let project = body.and_then(|b| b.project_id);
    let rows = s
        .signet
        .reads()
        .export(&call.machine, project.as_deref())
        .await?;
    let secrets: Vec<Value> = rows
        .iter()
        .map(|r| json!({ "id": r.id, "name": r.name, "value": r.value.0.as_str(), "fieldNames": r.field_names }))
        .collect();
    Ok(Json(json!({ "secrets": secrets })).into_response())
}

async fn poll(State(s): State<AppState>, call: MachineCall) -> ApiResult<Json<Value>> {
    let body: PollBody = json(&call.body)?;
    let changes: Map<String, Value> = s
        .signet
        .reads()
        .poll(&call.machine, &body.watch)
        .await?
        .into_iter()
        .map(|(id, st)| (id, json!({ "status": st })))
        .collect();
    Ok(Json(json!({ "changes": changes })))
}

async fn cli_projects(State(s): State<AppState>, call: MachineCall) -> ApiResult<Json<Value>> {
    let projects: Vec<Value> = s
        .signet
        .reads().machine_projects(&call.machine)
        .await?
        .into_iter()
        .map(|(id, name)| json!({ "projectId": id, "projectName": name, "applicationId": "", "applicationName": "" }))
        .collect();
    Ok(Json(json!({ "projects": projects })))
}

async fn whoami(State(s): State<AppState>, call: MachineCall) -> ApiResult<Json<Value>> {
    s.signet.reads().machine_whoami(&call.machine).await?;
    let m = &call.machine.record;
    Ok(Json(json!({
        "machineId": m.id,
        "machineName": m.name,
        "vaultId": s.signet.vault_id(),
        "status": m.status.as_str(),
        "kind": m.kind.as_str(),
        "expiresAt": m.expires_ms,
    })))
}
