//! AI agents' routes (`signet_api::route::ai_agent`): the agent's own (`AgentCall`, signed with
//! its key) and the operators' management of agents (`OperatorCall`). Every rule is core's
//! (`signet_core::ai_agent`); this module parses bodies and maps views to answers, none of which
//! carries a value.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use signet_api::admin::audit::{AuditQueryRequest, AuditRecordsAnswer};
use signet_api::admin::machine::{MachineAnswer, MachinesAnswer};
use signet_api::admin::project::{CreateProjectRequest, ProjectAnswer, ProjectsAnswer};
use signet_api::admin::secret::{SecretMetadataAnswer, SecretQueryRequest, SecretsAnswer};
use signet_api::ai_agent::{
    AgentApproveRequest, AgentCreateSecretRequest, AgentGrantRequest, AgentScopesRequest,
    AgentWhoami, AiAgentAnswer, AiAgentsAnswer, ApproveAgentRequest,
};
use signet_api::route;
use signet_api::wire_id::WireId;
use signet_core::ai_agent::{AgentSecretValue, AiAgentView, AiAgents};
use signet_core::secret::SecretInput;
use signet_proto::{MachineId, SecretId};
use signet_store::AuditFilter;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AgentCall, OperatorCall, json, json_opt};
use crate::routes::admin::{answer, found};

/// The agent routes and the operators' agent routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::ai_agent::WHOAMI, get(whoami))
        .route(
            route::ai_agent::PROJECTS,
            get(projects).post(create_project),
        )
        .route(route::ai_agent::SECRETS_QUERY, post(query_secrets))
        .route(route::ai_agent::SECRETS, post(create_secret))
        .route(route::ai_agent::SECRET_ROTATE, post(rotate_secret))
        .route(route::ai_agent::MACHINES, get(machines))
        .route(route::ai_agent::MACHINE_APPROVE, post(approve_machine))
        .route(route::ai_agent::MACHINE_ENABLE, post(enable_machine))
        .route(route::ai_agent::MACHINE_DISABLE, post(disable_machine))
        .route(route::ai_agent::MACHINE_GRANT, post(grant))
        .route(route::ai_agent::MACHINE_REVOKE, post(revoke))
        .route(route::ai_agent::AUDIT_QUERY, post(audit_query))
        .route(route::ai_agent::ADMIN_AGENTS, get(admin_agents))
        .route(route::ai_agent::ADMIN_APPROVE, post(admin_approve))
        .route(route::ai_agent::ADMIN_SCOPES, post(admin_scopes))
}

/// Bodies that must be empty or `{}`.
fn no_body(body: &[u8]) -> ApiResult<()> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let fields: serde_json::Map<String, serde_json::Value> = json(body)?;
    if fields.is_empty() {
        Ok(())
    } else {
        Err(ApiError::malformed("this route takes no fields"))
    }
}

async fn whoami(State(s): State<AppState>, call: AgentCall) -> ApiResult<Json<AgentWhoami>> {
    no_body(&call.body)?;
    AiAgents::of(&s.signet).whoami(&call.agent).await?;
    let m = &call.agent.machine.record;
    let profile = m.ai_agent.clone().unwrap_or_default();
    Ok(Json(AgentWhoami {
        agent_id: m.id.to_string(),
        name: m.name.clone(),
        scopes: profile.scopes,
        project_ids: profile.projects,
    }))
}

async fn projects(State(s): State<AppState>, call: AgentCall) -> ApiResult<Json<ProjectsAnswer>> {
    no_body(&call.body)?;
    let projects = AiAgents::of(&s.signet).projects(&call.agent).await?;
    Ok(Json(ProjectsAnswer {
        projects: projects.into_iter().map(answer::project).collect(),
    }))
}

async fn create_project(
    State(s): State<AppState>,
    call: AgentCall,
) -> ApiResult<Json<ProjectAnswer>> {
    let b: CreateProjectRequest = json(&call.body)?;
    Ok(Json(answer::project(
        AiAgents::of(&s.signet)
            .create_project(&call.agent, &b.name)
            .await?,
    )))
}

async fn query_secrets(
    State(s): State<AppState>,
    call: AgentCall,
) -> ApiResult<Json<SecretsAnswer>> {
    let b: SecretQueryRequest = json(&call.body)?;
    let secrets = AiAgents::of(&s.signet)
        .secrets(&call.agent, &b.project_id)
        .await?;
    Ok(Json(SecretsAnswer {
        secrets: secrets.into_iter().map(answer::secret).collect(),
    }))
}

async fn create_secret(
    State(s): State<AppState>,
    call: AgentCall,
) -> ApiResult<Json<SecretMetadataAnswer>> {
    let b: AgentCreateSecretRequest = json(&call.body)?;
    let value = match (b.value, b.fields, b.generate) {
        (Some(v), None, false) => AgentSecretValue::Given(SecretInput::Value(v)),
        (None, Some(f), false) => AgentSecretValue::Given(SecretInput::Fields(f)),
        (None, None, true) => AgentSecretValue::Generated,
        _ => {
            return Err(ApiError::malformed(
                "give exactly one of value, fields and generate: true",
            ));
        }
    };
    Ok(Json(answer::secret(
        AiAgents::of(&s.signet)
            .create_secret(&call.agent, &b.project_id, &b.name, value)
            .await?,
    )))
}

async fn rotate_secret(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: AgentCall,
) -> ApiResult<Json<SecretMetadataAnswer>> {
    no_body(&call.body)?;
    let id = found(id)?;
    Ok(Json(answer::secret(
        AiAgents::of(&s.signet)
            .rotate_secret(&call.agent, &id.to_string())
            .await?,
    )))
}

async fn machines(State(s): State<AppState>, call: AgentCall) -> ApiResult<Json<MachinesAnswer>> {
    no_body(&call.body)?;
    let machines = AiAgents::of(&s.signet).machines(&call.agent).await?;
    Ok(Json(MachinesAnswer {
        machines: machines.into_iter().map(answer::machine).collect(),
    }))
}

async fn approve_machine(
    State(s): State<AppState>,
    id: Result<Path<WireId<MachineId>>, PathRejection>,
    call: AgentCall,
) -> ApiResult<Json<MachineAnswer>> {
    let b: AgentApproveRequest = json(&call.body)?;
    let id = found(id)?;
    Ok(Json(answer::machine(
        AiAgents::of(&s.signet)
            .approve_machine(&call.agent, &id.to_string(), &b.fingerprint)
            .await?,
    )))
}

async fn set_enabled(
    s: AppState,
    id: Result<Path<WireId<MachineId>>, PathRejection>,
    call: AgentCall,
    enabled: bool,
) -> ApiResult<Json<MachineAnswer>> {
    no_body(&call.body)?;
    let id = found(id)?;
    Ok(Json(answer::machine(
        AiAgents::of(&s.signet)
            .set_machine_enabled(&call.agent, &id.to_string(), enabled)
            .await?,
    )))
}

async fn enable_machine(
    State(s): State<AppState>,
    id: Result<Path<WireId<MachineId>>, PathRejection>,
    call: AgentCall,
) -> ApiResult<Json<MachineAnswer>> {
    set_enabled(s, id, call, true).await
}

async fn disable_machine(
    State(s): State<AppState>,
    id: Result<Path<WireId<MachineId>>, PathRejection>,
    call: AgentCall,
) -> ApiResult<Json<MachineAnswer>> {
    set_enabled(s, id, call, false).await
}

async fn set_grant(
    s: AppState,
    id: Result<Path<WireId<MachineId>>, PathRejection>,
    call: AgentCall,
    grant: bool,
) -> ApiResult<Json<MachineAnswer>> {
    let b: AgentGrantRequest = json(&call.body)?;
    let id = found(id)?;
    Ok(Json(answer::machine(
        AiAgents::of(&s.signet)
            .set_grant(&call.agent, &id.to_string(), &b.secret_id, grant)
            .await?,
    )))
}

async fn grant(
    State(s): State<AppState>,
    id: Result<Path<WireId<MachineId>>, PathRejection>,
    call: AgentCall,
) -> ApiResult<Json<MachineAnswer>> {
    set_grant(s, id, call, true).await
}

async fn revoke(
    State(s): State<AppState>,
    id: Result<Path<WireId<MachineId>>, PathRejection>,
    call: AgentCall,
) -> ApiResult<Json<MachineAnswer>> {
    set_grant(s, id, call, false).await
}

async fn audit_query(
    State(s): State<AppState>,
    call: AgentCall,
) -> ApiResult<Json<AuditRecordsAnswer>> {
    let q: AuditQueryRequest = json_opt(&call.body)?.unwrap_or_default();
    let filter = AuditFilter {
        before_seq: q.before_seq,
        actor_id: q.actor_id,
        action: q.action,
        result: q
            .result
            .as_deref()
            .map(signet_core::audit::parse_result)
            .transpose()?,
        since_ms: q.since_ms,
        until_ms: q.until_ms,
        limit: q.limit.unwrap_or(100),
    };
    let records = AiAgents::of(&s.signet).audit(&call.agent, &filter).await?;
    Ok(Json(AuditRecordsAnswer {
        records: records.into_iter().map(answer::audit_record).collect(),
    }))
}

fn agent_answer(v: AiAgentView) -> AiAgentAnswer {
    AiAgentAnswer {
        machine: answer::machine(v.machine),
        scopes: v.scopes,
        project_ids: v.projects,
    }
}

async fn admin_agents(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<AiAgentsAnswer>> {
    let agents = AiAgents::of(&s.signet).agents(&call.operator).await?;
    Ok(Json(AiAgentsAnswer {
        agents: agents.into_iter().map(agent_answer).collect(),
    }))
}

async fn admin_approve(
    State(s): State<AppState>,
    id: Result<Path<WireId<MachineId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<AiAgentAnswer>> {
    let b: ApproveAgentRequest = json(&call.body)?;
    let id = found(id)?;
    Ok(Json(agent_answer(
        AiAgents::of(&s.signet)
            .approve_as_agent(
                &call.operator,
                &id.to_string(),
                &b.fingerprint,
                &b.scopes,
                b.project_ids.as_deref(),
            )
            .await?,
    )))
}

async fn admin_scopes(
    State(s): State<AppState>,
    id: Result<Path<WireId<MachineId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<AiAgentAnswer>> {
    let b: AgentScopesRequest = json(&call.body)?;
    let id = found(id)?;
    Ok(Json(agent_answer(
        AiAgents::of(&s.signet)
            .set_profile(
                &call.operator,
                &id.to_string(),
                &b.scopes,
                b.project_ids.as_deref(),
            )
            .await?,
    )))
}
