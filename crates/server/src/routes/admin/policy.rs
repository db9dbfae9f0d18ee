//! Access policy routes: CRUD under a project, and binding one to a secret.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use signet_api::admin::DeletedAnswer;
use signet_api::admin::policy::{
    BindPolicyRequest, CreatePolicyRequest, PoliciesAnswer, PolicyAnswer, SecretPolicyAnswer,
    UpdatePolicyRequest,
};
use signet_api::wire_id::WireId;
use signet_core::policy::PolicyView;
use signet_proto::{PolicyId, ProjectId, SecretId};

use super::{found, no_body};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{OperatorCall, json};

type ProjectPath = Result<Path<WireId<ProjectId>>, PathRejection>;
type PolicyPath = Result<Path<(WireId<ProjectId>, WireId<PolicyId>)>, PathRejection>;

fn policy(p: PolicyView) -> PolicyAnswer {
    PolicyAnswer {
        id: p.id,
        project_id: p.project_id,
        name: p.name,
        rules: p.rules,
        bound_secrets: p.bound_secrets,
        created_at: p.created_ms,
        updated_at: p.updated_ms,
    }
}

pub(super) async fn list(
    State(s): State<AppState>,
    id: ProjectPath,
    call: OperatorCall,
) -> ApiResult<Json<PoliciesAnswer>> {
    let id = found(id)?;
    let list = s
        .signet
        .policies()
        .list(&call.operator, &id.to_string())
        .await?;
    Ok(Json(PoliciesAnswer {
        policies: list.into_iter().map(policy).collect(),
    }))
}

pub(super) async fn create(
    State(s): State<AppState>,
    id: ProjectPath,
    call: OperatorCall,
) -> ApiResult<Json<PolicyAnswer>> {
    let b: CreatePolicyRequest = json(&call.body)?;
    let id = found(id)?;
    Ok(Json(policy(
        s.signet
            .policies()
            .create(&call.operator, &id.to_string(), &b.name, &b.rules)
            .await?,
    )))
}

pub(super) async fn show(
    State(s): State<AppState>,
    ids: PolicyPath,
    call: OperatorCall,
) -> ApiResult<Json<PolicyAnswer>> {
    let (project, id) = found(ids)?;
    Ok(Json(policy(
        s.signet
            .policies()
            .show(&call.operator, &project.to_string(), &id.to_string())
            .await?,
    )))
}

pub(super) async fn update(
    State(s): State<AppState>,
    ids: PolicyPath,
    call: OperatorCall,
) -> ApiResult<Json<PolicyAnswer>> {
    let b: UpdatePolicyRequest = json(&call.body)?;
    let (project, id) = found(ids)?;
    Ok(Json(policy(
        s.signet
            .policies()
            .update(
                &call.operator,
                &project.to_string(),
                &id.to_string(),
                b.name.as_deref(),
                &b.rules,
            )
            .await?,
    )))
}

pub(super) async fn delete(
    State(s): State<AppState>,
    ids: PolicyPath,
    call: OperatorCall,
) -> ApiResult<Json<DeletedAnswer>> {
    no_body(&call)?;
    let (project, id) = found(ids)?;
    s.signet
        .policies()
        .delete(&call.operator, &project.to_string(), &id.to_string())
        .await?;
    Ok(Json(DeletedAnswer {
        id: id.to_string(),
        deleted: true,
    }))
}

pub(super) async fn bound(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<SecretPolicyAnswer>> {
    let id = found(id)?;
    let policy_id = s
        .signet
        .policies()
        .bound(&call.operator, &id.to_string())
        .await?;
    Ok(Json(SecretPolicyAnswer {
        secret_id: id.to_string(),
        policy_id,
    }))
}

pub(super) async fn bind(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<SecretPolicyAnswer>> {
    let b: BindPolicyRequest = json(&call.body)?;
    let id = found(id)?;
    let policy_id = s
        .signet
        .policies()
        .bind(&call.operator, &id.to_string(), b.policy_id.as_deref())
        .await?;
    Ok(Json(SecretPolicyAnswer {
        secret_id: id.to_string(),
        policy_id,
    }))
}
