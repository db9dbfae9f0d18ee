//! The admin API for operators. Signed with an operator key; never returns a secret value.
//! Queries with parameters are POSTs with a JSON body, since signed routes take no query string.

use signet_api::route;
use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use signet_core::account::{NewUser, Password};
use signet_core::enrollment::EnrollmentSpec;
use signet_core::secret::{FieldMerge, SecretInput};
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
        .route(route::admin::SECRETS, post(create_secret))
        .route(route::admin::SECRETS_QUERY, post(query_secrets))
        .route(route::admin::SECRET, get(secret))
        .route(route::admin::SECRET_UPDATE, post(update_secret))
        .route(route::admin::SECRET_VERSIONS, get(versions))
        .route(route::admin::SECRET_ROLLBACK, post(rollback))
        .route(route::admin::SECRET_DELETE, post(delete_secret))
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
        .route(route::admin::USERS, get(users).post(create_user))
}

fn to_json<T: serde::Serialize>(v: T) -> ApiResult<Json<Value>> {
    serde_json::to_value(v)
        .map(Json)
        .map_err(|_| ApiError::new(crate::error::ErrorCode::Internal))
}

/// Bodies that must be empty or `{}`.
fn no_body(call: &OperatorCall) -> ApiResult<()> {
    if call.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let _: serde_json::Map<String, Value> =
        json(&call.body).and_then(|m: serde_json::Map<String, Value>| {
            if m.is_empty() {
                Ok(m)
            } else {
                Err(ApiError::malformed("this route takes no fields"))
            }
        })?;
    Ok(())
}

async fn whoami(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    let o = &call.operator;
    Ok(Json(json!({
        "operatorId": o.id,
        "name": o.name,
        "vaultId": s.signet.vault_id(),
        "owner": o.owner,
        "userId": o.user_id,
        "session": o.session.is_some(),
        "role": call.operator.role.as_str(),
        "projects": match &call.operator.scope {
            signet_core::role::Scope::All => Value::Null,
            signet_core::role::Scope::Projects(p) => json!(p),
        },
    })))
}

/// Revokes the key that signed this request; its next request is a 401.
async fn logout(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    no_body(&call)?;
    s.signet.accounts().logout(&call.operator).await?;
    Ok(Json(json!({ "loggedOut": true })))
}

async fn vault(State(s): State<AppState>, _call: OperatorCall) -> ApiResult<Json<Value>> {
    to_json(s.signet.vault().vault_view().await?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct VaultSettings {
    tokenless_enrollment: Option<bool>,
    cli_key_ttl_ms: Option<i64>,
    require_enrollment_proof: Option<bool>,
}

async fn vault_settings(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    let b: VaultSettings = json(&call.body)?;
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
    match view {
        Some(v) => to_json(v),
        None => to_json(s.signet.vault().vault_view().await?),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NameBody {
    name: String,
}

async fn create_project(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    let b: NameBody = json(&call.body)?;
    to_json(
        s.signet
            .secrets()
            .create_project(&call.operator, &b.name)
            .await?,
    )
}

async fn projects(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "projects": s.signet.secrets().projects(&call.operator).await? }),
    ))
}

/// A secret write: exactly one of `value` and `fields`. Values are held in zeroizing memory.
/// An update may instead start from the current fields: `keepFields` and `removeFields` name
/// current fields, `fields` replaces or adds, and `baseVersion` is the version the caller saw.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ValueBody {
    project_id: Option<String>,
    name: Option<String>,
    value: Option<Zeroizing<String>>,
    fields: Option<BTreeMap<String, Zeroizing<String>>>,
    keep_fields: Option<Vec<String>>,
    remove_fields: Option<Vec<String>>,
    base_version: Option<u32>,
}

impl ValueBody {
    fn is_merge(&self) -> bool {
        self.keep_fields.is_some() || self.remove_fields.is_some() || self.base_version.is_some()
    }

    fn merge(self) -> ApiResult<FieldMerge> {
        if self.value.is_some() {
            return Err(ApiError::malformed(
                "keepFields and removeFields go with fields, not value",
            ));
        }
        let base_version = self.base_version.ok_or_else(|| {
            ApiError::malformed(
                "missing field `baseVersion` (the version the fields were read from)",
            )
        })?;
        Ok(FieldMerge {
            base_version,
            keep: self.keep_fields.unwrap_or_default(),
            remove: self.remove_fields.unwrap_or_default(),
            set: self.fields.unwrap_or_default(),
        })
    }

    fn input(self) -> ApiResult<SecretInput> {
        if self.is_merge() {
            return Err(ApiError::malformed(
                "keepFields, removeFields and baseVersion belong to an update",
            ));
        }
        match (self.value, self.fields) {
            (Some(v), None) => Ok(SecretInput::Value(v)),
            (None, Some(f)) => Ok(SecretInput::Fields(f)),
            _ => Err(ApiError::malformed("give exactly one of value and fields")),
        }
    }
}

async fn create_secret(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    let mut b: ValueBody = json(&call.body)?;
    let project = b
        .project_id
        .take()
        .ok_or_else(|| ApiError::malformed("missing field `projectId`"))?;
    let name = b
        .name
        .take()
        .ok_or_else(|| ApiError::malformed("missing field `name`"))?;
    to_json(
        s.signet
            .secrets()
            .create_secret(&call.operator, &project, &name, b.input()?)
            .await?,
    )
}

async fn update_secret(
    State(s): State<AppState>,
    Path(id): Path<String>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    let b: ValueBody = json(&call.body)?;
    if b.project_id.is_some() || b.name.is_some() {
        return Err(ApiError::malformed("an update takes only value or fields"));
    }
    if b.is_merge() {
        return to_json(
            s.signet
                .secrets()
                .merge_secret_fields(&call.operator, &id, b.merge()?)
                .await?,
        );
    }
    to_json(
        s.signet
            .secrets()
            .update_secret(&call.operator, &id, b.input()?)
            .await?,
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ProjectBody {
    project_id: String,
}

async fn query_secrets(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    let b: ProjectBody = json(&call.body)?;
    Ok(Json(
        json!({ "secrets": s.signet.secrets().secrets_in_project(&call.operator, &b.project_id).await? }),
    ))
}

async fn secret(
    State(s): State<AppState>,
    Path(id): Path<String>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    to_json(s.signet.secrets().secret_view(&call.operator, &id).await?)
}

async fn versions(
    State(s): State<AppState>,
    Path(id): Path<String>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "versions": s.signet.secrets().versions(&call.operator, &id).await? }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VersionBody {
    version: u32,
}

async fn rollback(
    State(s): State<AppState>,
    Path(id): Path<String>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    let b: VersionBody = json(&call.body)?;
    to_json(
        s.signet
            .secrets()
            .rollback_secret(&call.operator, &id, b.version)
            .await?,
    )
}

async fn delete_secret(
    State(s): State<AppState>,
    Path(id): Path<String>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    no_body(&call)?;
    s.signet
        .secrets()
        .delete_secret(&call.operator, &id)
        .await?;
    Ok(Json(json!({ "id": id, "deleted": true })))
}

async fn bootstrap_token(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    no_body(&call)?;
    let (rec, token) = s
        .signet
        .enrollment()
        .issue_bootstrap_token(&call.operator)
        .await?;
    let script_url = format!("{}/v1/bootstrap/{}", s.signet.api_url(), token.0.as_str());
    Ok(Json(json!({
        "id": rec.id,
        "token": token.0.as_str(),
        "expiresAt": rec.expires_ms,
        "scriptUrl": script_url,
        "command": install_command(&script_url),
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct EnrollmentBody {
    name: Option<String>,
    #[serde(default)]
    project_ids: Vec<String>,
    #[serde(default)]
    secret_ids: Vec<String>,
    max_uses: Option<u32>,
    ttl_secs: Option<i64>,
    machine_ttl_secs: Option<i64>,
    source_cidr: Option<String>,
    hostname_pattern: Option<String>,
}

async fn create_enrollment_token(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    let b: EnrollmentBody = json(&call.body)?;
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
    to_json(
        s.signet
            .enrollment()
            .issue_enrollment_token(&call.operator, &spec)
            .await?,
    )
}

async fn enrollment_tokens(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "tokens": s.signet.enrollment().enrollment_tokens(&call.operator).await? }),
    ))
}

async fn revoke_enrollment_token(
    State(s): State<AppState>,
    Path(id): Path<String>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    no_body(&call)?;
    to_json(
        s.signet
            .enrollment()
            .revoke_enrollment_token(&call.operator, &id)
            .await?,
    )
}

async fn machines(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "machines": s.signet.machines().machine_views(&call.operator).await? }),
    ))
}

async fn machine(
    State(s): State<AppState>,
    Path(id): Path<String>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    to_json(
        s.signet
            .machines()
            .machine_view(&call.operator, &id)
            .await?,
    )
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct MachineBody {
    fingerprint: Option<String>,
    project_id: Option<String>,
    secret_ids: Option<Vec<String>>,
    cidrs: Option<Vec<String>>,
}

async fn machine_action(
    State(s): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    let b: MachineBody = crate::extract::json_opt(&call.body)?.unwrap_or_default();
    let op = &call.operator;
    let need = |v: Option<String>, f: &str| {
        v.ok_or_else(|| ApiError::malformed(format!("missing field `{f}`")))
    };
    let sig = &s.signet;
    let view = match action.as_str() {
        "approve" => {
            sig.machines()
                .approve_machine(op, &id, b.fingerprint.as_deref())
                .await?
        }
        "deny" => sig.machines().deny_machine(op, &id).await?,
        "enable" => sig.machines().set_machine_enabled(op, &id, true).await?,
        "disable" => sig.machines().set_machine_enabled(op, &id, false).await?,
        "revoke" => sig.machines().revoke_machine(op, &id).await?,
        "attach" => {
            sig.machines()
                .set_membership(op, &id, &need(b.project_id, "projectId")?, true)
                .await?
        }
        "detach" => {
            sig.machines()
                .set_membership(op, &id, &need(b.project_id, "projectId")?, false)
                .await?
        }
        "grant" => {
            sig.machines()
                .set_grants(op, &id, &b.secret_ids.unwrap_or_default(), true)
                .await?
        }
        "ungrant" => {
            sig.machines()
                .set_grants(op, &id, &b.secret_ids.unwrap_or_default(), false)
                .await?
        }
        "cidrs" => {
            sig.machines()
                .set_machine_cidrs(op, &id, &b.cidrs.unwrap_or_default())
                .await?
        }
        _ => return Err(ApiError::new(crate::error::ErrorCode::NotFound)),
    };
    to_json(view)
}

async fn allowlist(State(s): State<AppState>, _call: OperatorCall) -> ApiResult<Json<Value>> {
    to_json(s.signet.network().allowlist().await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CidrBody {
    cidr: String,
    label: Option<String>,
}

async fn allowlist_add(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    let b: CidrBody = json(&call.body)?;
    to_json(
        s.signet
            .network()
            .allowlist_add(
                &call.operator,
                &b.cidr,
                b.label.as_deref().unwrap_or_default(),
            )
            .await?,
    )
}

async fn allowlist_remove(
    State(s): State<AppState>,
    Path(id): Path<String>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    no_body(&call)?;
    s.signet
        .network()
        .allowlist_remove(&call.operator, &id)
        .await?;
    Ok(Json(json!({ "id": id, "deleted": true })))
}

async fn allowlist_enable(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    no_body(&call)?;
    to_json(
        s.signet
            .network()
            .allowlist_set_enabled(&call.operator, true)
            .await?,
    )
}

async fn allowlist_disable(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    no_body(&call)?;
    to_json(
        s.signet
            .network()
            .allowlist_set_enabled(&call.operator, false)
            .await?,
    )
}

async fn request_budgets(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    to_json(s.signet.budgets().request_budgets(&call.operator).await?)
}

/// `machineId` absent: the vault default. `requestsPerMinute` absent or null: cleared (0 is
/// unlimited).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct BudgetBody {
    machine_id: Option<String>,
    requests_per_minute: Option<u32>,
}

async fn set_request_budget(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<Value>> {
    let b: BudgetBody = json(&call.body)?;
    to_json(
        s.signet
            .budgets()
            .set_request_budget(
                &call.operator,
                b.machine_id.as_deref(),
                b.requests_per_minute,
            )
            .await?,
    )
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AuditQuery {
    limit: Option<u32>,
    before_seq: Option<u64>,
    actor_id: Option<String>,
    action: Option<String>,
    result: Option<String>,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
}

async fn audit_query(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    let q: AuditQuery = crate::extract::json_opt(&call.body)?.unwrap_or_default();
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
    Ok(Json(
        json!({ "records": s.signet.audit().audit_list(&call.operator, &filter).await? }),
    ))
}

async fn audit_verify(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    no_body(&call)?;
    to_json(s.signet.audit().audit_verify(&call.operator).await?)
}

/// A new user. The password is held in zeroizing memory and never echoed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserBody {
    username: String,
    email: String,
    password: Zeroizing<String>,
    role: String,
    projects: Option<Vec<String>>,
}

/// Creates a user; the answer carries their TOTP enrollment and recovery codes, shown once.
async fn create_user(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    let mut b: UserBody = json(&call.body)?;
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
    let codes: Vec<&str> = e.recovery_codes.iter().map(|c| c.as_str()).collect();
    Ok(Json(json!({
        "user": signet_core::account::UserView::from(e.user.clone()),
        "otpauthUri": e.otpauth_uri.as_str(),
        "recoveryCodes": codes,
    })))
}

async fn users(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "users": s.signet.accounts().users(&call.operator).await? }),
    ))
}
