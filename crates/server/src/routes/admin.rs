//! The admin API for operators. Signed with an operator key; never returns a secret value.
//! Queries with parameters are POSTs with a JSON body, since signed routes take no query string.
//! Bodies and answers are `signet_api::admin`'s types; [`answer`] maps core's views to them.

pub(crate) mod answer;
mod connection;
mod lease;
mod managed;
mod policy;
mod rotation;

use std::collections::BTreeMap;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use signet_api::admin::DeletedAnswer;
use signet_api::admin::allowlist::{
    AllowlistAddRequest, AllowlistAnswer, AllowlistEntryAnswer, AllowlistEntryId,
};
use signet_api::admin::audit::{
    ArchiveAnswer, AuditQueryRequest, AuditRecordsAnswer, CheckpointsAnswer, VerifyAnswer,
};
use signet_api::admin::budget::{BudgetsAnswer, SetBudgetRequest};
use signet_api::admin::machine::{
    MachineAction, MachineActionRequest, MachineAnswer, MachinesAnswer,
};
use signet_api::admin::operator::{LogoutAnswer, WhoamiAnswer};
use signet_api::admin::project::{
    CreateCanaryRequest, CreateProjectRequest, ProjectAnswer, ProjectsAnswer, RenameProjectRequest,
};
use signet_api::admin::secret::{
    CreateSecretRequest, RollbackRequest, SecretMetadataAnswer, SecretQueryRequest, SecretsAnswer,
    UpdateSecretRequest, VersionsAnswer,
};
use signet_api::admin::token::{
    BootstrapTokenAnswer, EnrollmentTokenAnswer, EnrollmentTokenId, EnrollmentTokenRequest,
    EnrollmentTokensAnswer,
};
use signet_api::admin::trash::{
    TrashAnswer, TrashOutcomeAnswer, TrashRetentionAnswer, TrashRetentionRequest,
};
use signet_api::admin::user::{CreateUserRequest, CreatedUserAnswer, UsersAnswer};
use signet_api::admin::vault::{VaultAnswer, VaultSettingsRequest};
use signet_api::route;
use signet_api::wire_id::WireId;
use signet_core::account::{NewUser, Password, UserView};
use signet_core::enrollment::EnrollmentSpec;
use signet_core::role::Scope;
use signet_core::secret::{FieldMerge, FieldPatch, SecretInput};
use signet_crypto::generator::{Charset, Generator};
use signet_proto::{MachineId, ProjectId, SecretId};
use signet_store::AuditFilter;
use zeroize::Zeroizing;

use crate::AppState;
use crate::bootstrap::install_command;
use crate::error::{ApiError, ApiResult};
use crate::extract::{OperatorCall, json};

/// Routes for operators.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::admin::WHOAMI, get(whoami))
        .route(route::admin::LOGOUT, post(logout))
        .route(route::admin::VAULT, get(vault))
        .route(route::admin::VAULT_SETTINGS, post(vault_settings))
        .route(route::admin::PROJECTS, get(projects).post(create_project))
        .route(route::admin::PROJECT_RENAME, post(rename_project))
        .route(
            route::admin::PROJECT_POLICIES,
            get(policy::list).post(policy::create),
        )
        .route(route::admin::PROJECT_POLICY, get(policy::show))
        .route(route::admin::PROJECT_POLICY_UPDATE, post(policy::update))
        .route(route::admin::PROJECT_POLICY_DELETE, post(policy::delete))
        .route(route::admin::PROJECT_DELETE, post(delete_project))
        .route(route::admin::TRASH, get(trash))
        .route(route::admin::TRASH_RESTORE, post(restore_from_trash))
        .route(route::admin::TRASH_PURGE, post(purge_from_trash))
        .route(route::admin::TRASH_RETENTION, post(set_trash_retention))
        .route(route::admin::PROJECT_CANARIES, post(create_canary))
        .route(route::admin::PROJECT_UNFREEZE, post(unfreeze_project))
        .route(route::admin::SECRETS, post(create_secret))
        .route(route::admin::SECRETS_QUERY, post(query_secrets))
        .route(route::admin::SECRET, get(secret))
        .route(route::admin::SECRET_UPDATE, post(update_secret))
        .route(route::admin::SECRET_VERSIONS, get(versions))
        .route(route::admin::SECRET_ROLLBACK, post(rollback))
        .route(route::admin::SECRET_DELETE, post(delete_secret))
        .route(
            route::admin::SECRET_POLICY,
            get(policy::bound).post(policy::bind),
        )
        .route(route::admin::SECRET_ROTATE, post(rotation::rotate))
        .route(
            route::admin::SECRET_ROTATION,
            get(rotation::show).post(rotation::set),
        )
        .route(route::admin::SECRET_ROTATION_CLEAR, post(rotation::clear))
        .route(route::admin::SECRET_ROTATION_PAUSE, post(rotation::pause))
        .route(route::admin::SECRET_ROTATION_RESUME, post(rotation::resume))
        .route(route::admin::BOOTSTRAP_TOKENS, post(bootstrap_token))
        .route(
            route::admin::ENROLLMENT_TOKENS,
            get(enrollment_tokens).post(create_enrollment_token),
        )
        .route(
            route::admin::ENROLLMENT_TOKEN_REVOKE,
            post(revoke_enrollment_token),
        )
        .route(route::admin::MACHINES, get(machines))
        .route(route::admin::MACHINE, get(machine))
        .route(route::admin::MACHINE_ACTION, post(machine_action))
        .route(route::admin::ALLOWLIST, get(allowlist).post(allowlist_add))
        .route(route::admin::ALLOWLIST_ENABLE, post(allowlist_enable))
        .route(route::admin::ALLOWLIST_DISABLE, post(allowlist_disable))
        .route(route::admin::ALLOWLIST_DELETE, post(allowlist_remove))
        .route(
            route::admin::REQUEST_BUDGETS,
            get(request_budgets).post(set_request_budget),
        )
        .route(route::admin::AUDIT_QUERY, post(audit_query))
        .route(route::admin::AUDIT_VERIFY, post(audit_verify))
        .route(route::admin::AUDIT_ARCHIVE, post(audit_archive))
        .route(route::admin::AUDIT_CHECKPOINTS, get(audit_checkpoints))
        .route(route::admin::USERS, get(users).post(create_user))
        .route(
            route::admin::SECRET_MANAGED,
            get(managed::show).post(managed::set),
        )
        .route(
            route::admin::PROJECT_CONNECTIONS,
            get(connection::list).post(connection::create),
        )
        .route(route::admin::PROJECT_CONNECTION, get(connection::show))
        .route(route::admin::CONNECTION_UPDATE, post(connection::update))
        .route(route::admin::CONNECTION_DELETE, post(connection::delete))
        .route(route::admin::CONNECTION_TEST, post(connection::test))
        .route(route::admin::PROJECT_LEASED_SECRETS, post(lease::create))
        .route(
            route::admin::SECRET_LEASE,
            get(lease::show).post(lease::set),
        )
        .route(route::admin::LEASES, get(lease::list))
        .route(route::admin::LEASES_QUERY, post(lease::query))
        .route(route::admin::LEASE_RENEW, post(lease::renew))
        .route(route::admin::LEASE_REVOKE, post(lease::revoke))
}

/// A typed path, or the 404 an unknown machine action has always answered. Taken as a `Result`
/// so the caller is authenticated first: an unauthenticated request is a 401 whatever its path
/// says. Ids are `WireId`s, which never fail here: a malformed id reaches core, which checks the
/// caller's role (and audits a refusal) before answering 404, as it did for a string id.
pub(crate) fn found<T>(path: Result<Path<T>, PathRejection>) -> ApiResult<T> {
    path.map(|Path(t)| t)
        .map_err(|_| ApiError::new(crate::error::ErrorCode::NotFound))
}

/// Bodies that must be empty or `{}`.
fn no_body(call: &OperatorCall) -> ApiResult<()> {
    if call.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let fields: serde_json::Map<String, serde_json::Value> = json(&call.body)?;
    if fields.is_empty() {
        Ok(())
    } else {
        Err(ApiError::malformed("this route takes no fields"))
    }
}

async fn whoami(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<WhoamiAnswer>> {
    let o = call.operator;
    Ok(Json(WhoamiAnswer {
        operator_id: o.id,
        name: o.name,
        vault_id: s.signet.vault_id().clone(),
        owner: o.owner,
        user_id: o.user_id,
        session: o.session.is_some(),
        role: o.role.as_str().to_owned(),
        projects: match o.scope {
            Scope::All => None,
            Scope::Projects(p) => Some(p.into_iter().collect()),
        },
    }))
}

/// Revokes the key that signed this request; its next request is a 401.
async fn logout(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<LogoutAnswer>> {
    no_body(&call)?;
    s.signet.accounts().logout(&call.operator).await?;
    Ok(Json(LogoutAnswer { logged_out: true }))
}

async fn vault(State(s): State<AppState>, _call: OperatorCall) -> ApiResult<Json<VaultAnswer>> {
    Ok(Json(answer::vault(s.signet.vault().vault_view().await?)))
}

async fn vault_settings(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<VaultAnswer>> {
    let b: VaultSettingsRequest = json(&call.body)?;
    let mut view = None;
    if let Some(on) = b.tokenless_enrollment {
        view = Some(
            s.signet
                .vault()
                .set_tokenless_enrollment(&call.operator, on)
                .await?,
        );
    }
    if let Some(ttl) = b.cli_key_ttl_ms {
        view = Some(
            s.signet
                .vault()
                .set_cli_key_ttl(&call.operator, ttl)
                .await?,
        );
    }
    if let Some(on) = b.require_enrollment_proof {
        view = Some(
            s.signet
                .vault()
                .set_enrollment_proof_required(&call.operator, on)
                .await?,
        );
    }
    if b.sso_required.is_some()
        || b.break_glass_user.is_some()
        || b.sso_trust_provider_mfa.is_some()
    {
        view = Some(
            s.signet
                .vault()
                .set_sso_settings(
                    &call.operator,
                    signet_core::vault::SsoSettings {
                        required: b.sso_required,
                        break_glass_user: b.break_glass_user,
                        trust_provider_mfa: b.sso_trust_provider_mfa,
                    },
                )
                .await?,
        );
    }
    let view = match view {
        Some(v) => v,
        None => s.signet.vault().vault_view().await?,
    };
    Ok(Json(answer::vault(view)))
}

async fn create_project(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<ProjectAnswer>> {
    let b: CreateProjectRequest = json(&call.body)?;
    Ok(Json(answer::project(
        s.signet
            .secrets()
            .create_project(&call.operator, &b.name)
            .await?,
    )))
}

async fn rename_project(
    State(s): State<AppState>,
    id: Result<Path<WireId<ProjectId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<ProjectAnswer>> {
    let b: RenameProjectRequest = json(&call.body)?;
    let id = found(id)?;
    Ok(Json(answer::project(
        s.signet
            .secrets()
            .rename_project(&call.operator, &id.to_string(), &b.name)
            .await?,
    )))
}

async fn delete_project(
    State(s): State<AppState>,
    id: Result<Path<WireId<ProjectId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<DeletedAnswer>> {
    no_body(&call)?;
    let id = found(id)?;
    s.signet
        .trash()
        .delete_project(&call.operator, &id.to_string())
        .await?;
    Ok(Json(DeletedAnswer {
        id: id.to_string(),
        deleted: true,
    }))
}

async fn trash(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<TrashAnswer>> {
    let trash = s.signet.trash();
    let items = trash.list(&call.operator).await?;
    let retention_days = trash.retention_days(&call.operator).await?;
    Ok(Json(TrashAnswer {
        items: items.into_iter().map(answer::trash_item).collect(),
        retention_days,
    }))
}

/// The id is a secret's or a project's; any text that is neither reaches core, which answers
/// it like an id not in the trash.
async fn restore_from_trash(
    State(s): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<TrashOutcomeAnswer>> {
    no_body(&call)?;
    let id = found(id)?;
    let kind = s.signet.trash().restore(&call.operator, &id).await?;
    Ok(Json(TrashOutcomeAnswer {
        id,
        kind: kind.as_str().to_owned(),
        outcome: "restored".to_owned(),
    }))
}

async fn purge_from_trash(
    State(s): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<TrashOutcomeAnswer>> {
    no_body(&call)?;
    let id = found(id)?;
    let kind = s.signet.trash().purge(&call.operator, &id).await?;
    Ok(Json(TrashOutcomeAnswer {
        id,
        kind: kind.as_str().to_owned(),
        outcome: "purged".to_owned(),
    }))
}

async fn set_trash_retention(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<TrashRetentionAnswer>> {
    let b: TrashRetentionRequest = json(&call.body)?;
    let retention_days = s
        .signet
        .trash()
        .set_retention_days(&call.operator, b.days)
        .await?;
    Ok(Json(TrashRetentionAnswer { retention_days }))
}

async fn create_canary(
    State(s): State<AppState>,
    id: Result<Path<WireId<ProjectId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<SecretMetadataAnswer>> {
    let b: CreateCanaryRequest = json(&call.body)?;
    let id = found(id)?;
    let charset = match b.charset.as_deref() {
        None => Charset::Symbols,
        Some(name) => Charset::parse(name).ok_or_else(|| {
            ApiError::malformed(
                "charset must be symbols, alphanumeric, numbers, hex, base64url or uuid",
            )
        })?,
    };
    let generator =
        Generator::new(b.length, charset).map_err(|e| ApiError::malformed(e.to_string()))?;
    Ok(Json(answer::secret(
        s.signet
            .secrets()
            .create_canary(&call.operator, &id.to_string(), &b.name, generator)
            .await?,
    )))
}

async fn unfreeze_project(
    State(s): State<AppState>,
    id: Result<Path<WireId<ProjectId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<ProjectAnswer>> {
    let id = found(id)?;
    Ok(Json(answer::project(
        s.signet
            .secrets()
            .unfreeze_project(&call.operator, &id.to_string())
            .await?,
    )))
}

async fn projects(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<ProjectsAnswer>> {
    let projects = s.signet.secrets().projects(&call.operator).await?;
    Ok(Json(ProjectsAnswer {
        projects: projects.into_iter().map(answer::project).collect(),
    }))
}

/// Exactly one of a value and fields.
fn secret_input(
    value: Option<Zeroizing<String>>,
    fields: Option<BTreeMap<String, Zeroizing<String>>>,
) -> ApiResult<SecretInput> {
    match (value, fields) {
        (Some(v), None) => Ok(SecretInput::Value(v)),
        (None, Some(f)) => Ok(SecretInput::Fields(f)),
        _ => Err(ApiError::malformed("give exactly one of value and fields")),
    }
}

async fn create_secret(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<SecretMetadataAnswer>> {
    let b: CreateSecretRequest = json(&call.body)?;
    let input = secret_input(b.value, b.fields)?;
    Ok(Json(answer::secret(
        s.signet
            .secrets()
            .create_secret(&call.operator, &b.project_id, &b.name, input)
            .await?,
    )))
}

/// A plain write; a partial update (`set`, `unset`: every other current field is kept); or a
/// field merge (`keepFields`, `removeFields`, `baseVersion`) that names every current field. Any
/// of them may carry `expectedVersion` (check-and-set).
async fn update_secret(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<SecretMetadataAnswer>> {
    let b: UpdateSecretRequest = json(&call.body)?;
    let id = found(id)?;
    let expected_version = b.expected_version;
    let patch = b.set.is_some() || b.unset.is_some();
    let merge = b.keep_fields.is_some() || b.remove_fields.is_some() || b.base_version.is_some();
    let view = if patch {
        if merge || b.value.is_some() || b.fields.is_some() {
            return Err(ApiError::malformed(
                "set and unset go alone (with expectedVersion), not with value, fields, \
                 keepFields, removeFields or baseVersion",
            ));
        }
        let patch = FieldPatch {
            set: b.set.unwrap_or_default(),
            unset: b.unset.unwrap_or_default(),
            expected_version,
        };
        s.signet
            .secrets()
            .patch_secret_fields(&call.operator, &id.to_string(), patch)
            .await?
    } else if merge {
        if b.value.is_some() {
            return Err(ApiError::malformed(
                "keepFields and removeFields go with fields, not value",
            ));
        }
        let base_version = b.base_version.ok_or_else(|| {
            ApiError::malformed(
                "missing field `baseVersion` (the version the fields were read from)",
            )
        })?;
        let merge = FieldMerge {
            base_version,
            expected_version,
            keep: b.keep_fields.unwrap_or_default(),
            remove: b.remove_fields.unwrap_or_default(),
            set: b.fields.unwrap_or_default(),
        };
        s.signet
            .secrets()
            .merge_secret_fields(&call.operator, &id.to_string(), merge)
            .await?
    } else {
        let input = secret_input(b.value, b.fields)?;
        s.signet
            .secrets()
            .update_secret(&call.operator, &id.to_string(), input, expected_version)
            .await?
    };
    Ok(Json(answer::secret(view)))
}

async fn query_secrets(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<SecretsAnswer>> {
    let b: SecretQueryRequest = json(&call.body)?;
    let secrets = s
        .signet
        .secrets()
        .secrets_in_project(&call.operator, &b.project_id)
        .await?;
    Ok(Json(SecretsAnswer {
        secrets: secrets.into_iter().map(answer::secret).collect(),
    }))
}

async fn secret(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<SecretMetadataAnswer>> {
    let id = found(id)?;
    Ok(Json(answer::secret(
        s.signet
            .secrets()
            .secret_view(&call.operator, &id.to_string())
            .await?,
    )))
}

async fn versions(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<VersionsAnswer>> {
    let id = found(id)?;
    let versions = s
        .signet
        .secrets()
        .versions(&call.operator, &id.to_string())
        .await?;
    Ok(Json(VersionsAnswer {
        versions: versions.into_iter().map(answer::version).collect(),
    }))
}

async fn rollback(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<SecretMetadataAnswer>> {
    let b: RollbackRequest = json(&call.body)?;
    let id = found(id)?;
    Ok(Json(answer::secret(
        s.signet
            .secrets()
            .rollback_secret(
                &call.operator,
                &id.to_string(),
                b.version,
                b.expected_version,
            )
            .await?,
    )))
}

async fn delete_secret(
    State(s): State<AppState>,
    id: Result<Path<WireId<SecretId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<DeletedAnswer>> {
    no_body(&call)?;
    let id = found(id)?;
    s.signet
        .secrets()
        .delete_secret(&call.operator, &id.to_string())
        .await?;
    Ok(Json(DeletedAnswer {
        id: id.to_string(),
        deleted: true,
    }))
}

async fn bootstrap_token(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<BootstrapTokenAnswer>> {
    no_body(&call)?;
    let (rec, token) = s
        .signet
        .enrollment()
        .issue_bootstrap_token(&call.operator)
        .await?;
    let script_url = Zeroizing::new(format!(
        "{}/v1/bootstrap/{}",
        s.signet.api_url(),
        token.0.as_str()
    ));
    let command = Zeroizing::new(install_command(&script_url));
    Ok(Json(BootstrapTokenAnswer {
        id: rec.id,
        token: token.0,
        expires_at: rec.expires_ms,
        script_url,
        command,
    }))
}

async fn create_enrollment_token(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<EnrollmentTokenAnswer>> {
    let b: EnrollmentTokenRequest = json(&call.body)?;
    let spec = EnrollmentSpec {
        name: b.name,
        project_ids: b.project_ids,
        secret_ids: b.secret_ids,
        max_uses: b.max_uses,
        ttl_secs: b.ttl_secs,
        machine_ttl_secs: b.machine_ttl_secs,
        source_cidr: b.source_cidr,
        hostname_pattern: b.hostname_pattern,
    };
    Ok(Json(answer::enrollment_token(
        s.signet
            .enrollment()
            .issue_enrollment_token(&call.operator, &spec)
            .await?,
    )))
}

async fn enrollment_tokens(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<EnrollmentTokensAnswer>> {
    let tokens = s
        .signet
        .enrollment()
        .enrollment_tokens(&call.operator)
        .await?;
    Ok(Json(EnrollmentTokensAnswer {
        tokens: tokens.into_iter().map(answer::enrollment_token).collect(),
    }))
}

async fn revoke_enrollment_token(
    State(s): State<AppState>,
    Path(id): Path<EnrollmentTokenId>,
    call: OperatorCall,
) -> ApiResult<Json<EnrollmentTokenAnswer>> {
    no_body(&call)?;
    Ok(Json(answer::enrollment_token(
        s.signet
            .enrollment()
            .revoke_enrollment_token(&call.operator, id.as_str())
            .await?,
    )))
}

async fn machines(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<MachinesAnswer>> {
    let machines = s.signet.machines().machine_views(&call.operator).await?;
    Ok(Json(MachinesAnswer {
        machines: machines.into_iter().map(answer::machine).collect(),
    }))
}

async fn machine(
    State(s): State<AppState>,
    id: Result<Path<WireId<MachineId>>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<MachineAnswer>> {
    let id = found(id)?;
    Ok(Json(answer::machine(
        s.signet
            .machines()
            .machine_view(&call.operator, &id.to_string())
            .await?,
    )))
}

async fn machine_action(
    State(s): State<AppState>,
    path: Result<Path<(WireId<MachineId>, MachineAction)>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<MachineAnswer>> {
    let b: MachineActionRequest = crate::extract::json_opt(&call.body)?.unwrap_or_default();
    // An unknown action, like a malformed id, is a route that does not exist.
    let (id, action) = found(path)?;
    let id = id.to_string();
    let op = &call.operator;
    let need = |v: Option<String>, f: &str| {
        v.ok_or_else(|| ApiError::malformed(format!("missing field `{f}`")))
    };
    let sig = &s.signet;
    let view = match action {
        MachineAction::Approve => {
            sig.machines()
                .approve_machine(op, &id, b.fingerprint.as_deref())
                .await?
        }
        MachineAction::Deny => sig.machines().deny_machine(op, &id).await?,
        MachineAction::Enable => sig.machines().set_machine_enabled(op, &id, true).await?,
        MachineAction::Disable => sig.machines().set_machine_enabled(op, &id, false).await?,
        MachineAction::Revoke => sig.machines().revoke_machine(op, &id).await?,
        MachineAction::Attach => {
            sig.machines()
                .set_membership(op, &id, &need(b.project_id, "projectId")?, true)
                .await?
        }
        MachineAction::Detach => {
            sig.machines()
                .set_membership(op, &id, &need(b.project_id, "projectId")?, false)
                .await?
        }
        MachineAction::Grant => {
            sig.machines()
                .set_grants(op, &id, &b.secret_ids.unwrap_or_default(), true)
                .await?
        }
        MachineAction::Ungrant => {
            sig.machines()
                .set_grants(op, &id, &b.secret_ids.unwrap_or_default(), false)
                .await?
        }
        MachineAction::Cidrs => {
            sig.machines()
                .set_machine_cidrs(op, &id, &b.cidrs.unwrap_or_default())
                .await?
        }
    };
    Ok(Json(answer::machine(view)))
}

async fn allowlist(
    State(s): State<AppState>,
    _call: OperatorCall,
) -> ApiResult<Json<AllowlistAnswer>> {
    Ok(Json(answer::allowlist(
        s.signet.network().allowlist().await?,
    )))
}

async fn allowlist_add(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<AllowlistEntryAnswer>> {
    let b: AllowlistAddRequest = json(&call.body)?;
    Ok(Json(answer::allowlist_entry(
        s.signet
            .network()
            .allowlist_add(
                &call.operator,
                &b.cidr,
                b.label.as_deref().unwrap_or_default(),
            )
            .await?,
    )))
}

async fn allowlist_remove(
    State(s): State<AppState>,
    Path(id): Path<AllowlistEntryId>,
    call: OperatorCall,
) -> ApiResult<Json<DeletedAnswer>> {
    no_body(&call)?;
    s.signet
        .network()
        .allowlist_remove(&call.operator, id.as_str())
        .await?;
    Ok(Json(DeletedAnswer {
        id: id.0,
        deleted: true,
    }))
}

async fn allowlist_enable(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<AllowlistAnswer>> {
    no_body(&call)?;
    Ok(Json(answer::allowlist(
        s.signet
            .network()
            .allowlist_set_enabled(&call.operator, true)
            .await?,
    )))
}

async fn allowlist_disable(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<AllowlistAnswer>> {
    no_body(&call)?;
    Ok(Json(answer::allowlist(
        s.signet
            .network()
            .allowlist_set_enabled(&call.operator, false)
            .await?,
    )))
}

async fn request_budgets(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<BudgetsAnswer>> {
    Ok(Json(answer::budgets(
        s.signet.budgets().request_budgets(&call.operator).await?,
    )))
}

async fn set_request_budget(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<BudgetsAnswer>> {
    let b: SetBudgetRequest = json(&call.body)?;
    Ok(Json(answer::budgets(
        s.signet
            .budgets()
            .set_request_budget(
                &call.operator,
                b.machine_id.as_deref(),
                b.requests_per_minute,
            )
            .await?,
    )))
}

async fn audit_query(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<AuditRecordsAnswer>> {
    let q: AuditQueryRequest = crate::extract::json_opt(&call.body)?.unwrap_or_default();
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
    let records = s
        .signet
        .audit()
        .audit_search(&call.operator, &filter, q.actor_user_id.as_deref())
        .await?;
    Ok(Json(AuditRecordsAnswer {
        records: records.into_iter().map(answer::audit_record).collect(),
    }))
}

async fn audit_verify(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<VerifyAnswer>> {
    no_body(&call)?;
    Ok(Json(answer::verify(
        s.signet.audit().audit_verify(&call.operator).await?,
    )))
}

async fn audit_archive(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<ArchiveAnswer>> {
    no_body(&call)?;
    let done = s
        .signet
        .audit()
        .archive_now(&call.operator, s.audit_archive.as_deref())
        .await?;
    Ok(Json(ArchiveAnswer {
        segments: done.segments.into_iter().map(answer::checkpoint).collect(),
        more: done.more,
    }))
}

async fn audit_checkpoints(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<CheckpointsAnswer>> {
    no_body(&call)?;
    let audit = s.signet.audit();
    let checkpoints = audit.checkpoints(&call.operator).await?;
    Ok(Json(CheckpointsAnswer {
        public_key: base64::engine::general_purpose::STANDARD
            .encode(audit.archive_key().as_bytes()),
        checkpoints: checkpoints.into_iter().map(answer::checkpoint).collect(),
    }))
}

/// Creates a user; the answer carries their TOTP enrollment and recovery codes, shown once.
async fn create_user(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<CreatedUserAnswer>> {
    let mut b: CreateUserRequest = json(&call.body)?;
    let role = crate::routes::user::parse_role(&b.role)?;
    let new = NewUser {
        username: &b.username,
        email: &b.email,
        // Moved, not copied: the only clear copy stays in zeroizing memory.
        password: Password::new(std::mem::take(&mut *b.password)),
        role,
        projects: b.projects.take(),
    };
    let e = s.signet.accounts().create_user(&call.operator, new).await?;
    Ok(Json(CreatedUserAnswer {
        user: answer::user(UserView::from(e.user)),
        qr_svg: answer::qr_svg(&e.otpauth_uri),
        otpauth_uri: e.otpauth_uri,
        recovery_codes: e.recovery_codes,
    }))
}

async fn users(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<UsersAnswer>> {
    let users = s.signet.accounts().users(&call.operator).await?;
    Ok(Json(UsersAnswer {
        users: users.into_iter().map(answer::user).collect(),
    }))
}
