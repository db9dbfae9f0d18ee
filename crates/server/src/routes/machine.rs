//! The machine API, wire-compatible with the SikkerKey SDKs and CLI. Every route is signed with
//! the machine's key; success is always 200. The wire types are `signet_api::machine`'s; this
//! module maps core's answers to them.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use signet_api::machine::{
    CliProject, CliProjectList, CliSecret, CliSecretList, ExportAnswer, ExportRequest,
    ExportedSecret, ListedSecret, MachineWhoami, PollAnswer, PollChange, PollRequest, PollStatus,
    ProjectScope, SecretAnswer, SecretList,
};
use signet_api::route;
use signet_api::wire_id::WireId;
use signet_core::read::{Exported, Listed};
use signet_proto::SecretId;
use zeroize::Zeroizing;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{CeilingCall, MachineCall, json, json_opt};

/// Routes for machines. Under the benchmark's ceiling (`bench_ceiling`), a secret read only
/// checks the signature and answers a constant.
pub(crate) fn routes(ceiling: bool) -> Router<AppState> {
    let read = if ceiling {
        get(ceiling_read)
    } else {
        get(read_secret)
    };
    Router::new()
        .route(route::machine::SECRET, read)
        .route(route::machine::SECRETS, get(list_secrets))
        .route(route::machine::SECRETS_LIST, post(list_in_project))
        .route(route::machine::SECRETS_EXPORT, post(export))
        .route(route::machine::SECRETS_POLL, post(poll))
        .route(route::machine::CLI_PROJECTS, get(cli_projects))
        .route(route::machine::CLI_SECRETS, get(cli_secrets))
        .route(route::machine::WHOAMI, get(whoami))
}

fn listed(r: Listed) -> ListedSecret {
    ListedSecret {
        id: r.id,
        name: r.name,
        field_names: r.field_names,
        project_id: r.project_id,
    }
}

fn cli_listed(r: Listed) -> CliSecret {
    CliSecret {
        id: r.id,
        name: r.name,
        field_names: r.field_names,
        project_id: r.project_id,
        project_name: r.project_name,
        application_id: String::new(),
        application_name: String::new(),
        kind: r.kind.to_owned(),
    }
}

fn exported(r: Exported) -> ExportedSecret {
    ExportedSecret {
        id: r.id,
        name: r.name,
        value: r.value.0,
        field_names: r.field_names,
    }
}

fn poll_status(s: signet_core::read::PollStatus) -> PollStatus {
    use signet_core::read::PollStatus as Core;
    match s {
        Core::AccessDenied => PollStatus::AccessDenied,
        Core::Changed => PollStatus::Changed,
        Core::Deleted => PollStatus::Deleted,
    }
}

async fn read_secret(
    State(s): State<AppState>,
    // A malformed id reaches core, which audits and refuses it like a secret that does not
    // exist: the same 403 either way.
    Path(id): Path<WireId<SecretId>>,
    call: MachineCall,
) -> ApiResult<Json<SecretAnswer>> {
    let v = s
        .signet
        .reads()
        .read_secret(&call.machine, &id.to_string())
        .await?;
    Ok(Json(SecretAnswer { value: v.0 }))
}

/// The ceiling's answer: as long as the value `scripts/bench.sh` stores (48 random bytes in
/// base64), so the answer's bytes on the wire match a real read's.
pub(crate) const CEILING_VALUE: &str =
    "ceiling-ceiling-ceiling-ceiling-ceiling-ceiling-ceiling-ceiling-";

/// `GET /v1/secret/{id}` under the ceiling: the path is parsed like a real read's, then the
/// constant answer goes through the same JSON type.
async fn ceiling_read(
    Path(_id): Path<WireId<SecretId>>,
    _call: CeilingCall,
) -> ApiResult<Json<SecretAnswer>> {
    Ok(Json(SecretAnswer {
        value: Zeroizing::new(CEILING_VALUE.to_owned()),
    }))
}

async fn list_secrets(State(s): State<AppState>, call: MachineCall) -> ApiResult<Json<SecretList>> {
    let rows = s.signet.reads().list_secrets(&call.machine, None).await?;
    Ok(Json(SecretList {
        secrets: rows.into_iter().map(listed).collect(),
    }))
}

async fn list_in_project(
    State(s): State<AppState>,
    call: MachineCall,
) -> ApiResult<Json<SecretList>> {
    let body: ProjectScope = json(&call.body)?;
    let rows = s
        .signet
        .reads()
        .list_secrets(&call.machine, Some(&body.project_id.to_string()))
        .await?;
    Ok(Json(SecretList {
        secrets: rows.into_iter().map(listed).collect(),
    }))
}

async fn cli_secrets(
    State(s): State<AppState>,
    call: MachineCall,
) -> ApiResult<Json<CliSecretList>> {
    let rows = s.signet.reads().list_secrets(&call.machine, None).await?;
    Ok(Json(CliSecretList {
        secrets: rows.into_iter().map(cli_listed).collect(),
    }))
}

async fn export(State(s): State<AppState>, call: MachineCall) -> ApiResult<Json<ExportAnswer>> {
    let body: Option<ExportRequest> = json_opt(&call.body)?;
    if body.as_ref().is_some_and(|b| b.application_id.is_some()) {
        return Ok(Json(ExportAnswer {
            secrets: Vec::new(),
        }));
    }
    let project = body.and_then(|b| b.project_id).map(|p| p.to_string());
    let rows = s
        .signet
        .reads()
        .export(&call.machine, project.as_deref())
        .await?;
    Ok(Json(ExportAnswer {
        secrets: rows.into_iter().map(exported).collect(),
    }))
}

async fn poll(State(s): State<AppState>, call: MachineCall) -> ApiResult<Json<PollAnswer>> {
    let body: PollRequest = json(&call.body)?;
    let changes = s
        .signet
        .reads()
        .poll(&call.machine, &body.watch)
        .await?
        .into_iter()
        .map(|(id, st)| {
            (
                id,
                PollChange {
                    status: poll_status(st),
                },
            )
        })
        .collect();
    Ok(Json(PollAnswer { changes }))
}

async fn cli_projects(
    State(s): State<AppState>,
    call: MachineCall,
) -> ApiResult<Json<CliProjectList>> {
    let projects = s
        .signet
        .reads()
        .machine_projects(&call.machine)
        .await?
        .into_iter()
        .map(|(project_id, project_name)| CliProject {
            project_id,
            project_name,
            application_id: String::new(),
            application_name: String::new(),
        })
        .collect();
    Ok(Json(CliProjectList { projects }))
}

async fn whoami(State(s): State<AppState>, call: MachineCall) -> ApiResult<Json<MachineWhoami>> {
    s.signet.reads().machine_whoami(&call.machine).await?;
    let m = &call.machine.record;
    Ok(Json(MachineWhoami {
        machine_id: m.id,
        machine_name: m.name.clone(),
        vault_id: s.signet.vault_id().clone(),
        status: m.status.as_str().to_owned(),
        kind: m.kind.as_str().to_owned(),
        expires_at: m.expires_ms,
    }))
}
