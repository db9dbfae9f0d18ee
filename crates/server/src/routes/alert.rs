//! Alerts and webhooks: the operator routes, and the vault's published webhook key (no
//! authentication: anyone verifying a delivery fetches it). The rules live in
//! `signet_core::alert` and `signet_core::webhook`; this is only the HTTP shape.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use signet_api::admin::DeletedAnswer;
use signet_api::admin::alert::{
    AlertRuleAnswer, AlertRuleCreateRequest, AlertRulesAnswer, BurstSpec, DeliveriesAnswer,
    DeliveryAnswer, Jwk, WebhookAnswer, WebhookCreateRequest, WebhookCreatedAnswer,
    WebhookKeysAnswer, WebhookTestAnswer, WebhookUpdateRequest, WebhooksAnswer,
};
use signet_api::route;
use signet_core::alert::{NewRule, RuleSpec, RuleView};
use signet_core::webhook::{WebhookChange, WebhookView};
use signet_store::DeliveryRecord;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{OperatorCall, json};
use crate::routes::admin::found;

/// Alert and webhook routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::admin::WEBHOOKS, get(webhooks).post(create_webhook))
        .route(route::admin::WEBHOOK_UPDATE, post(update_webhook))
        .route(route::admin::WEBHOOK_DELETE, post(delete_webhook))
        .route(route::admin::WEBHOOK_TEST, post(test_webhook))
        .route(route::admin::WEBHOOK_DELIVERIES, get(deliveries))
        .route(route::admin::ALERT_RULES, get(rules).post(create_rule))
        .route(route::admin::ALERT_RULE_DELETE, post(delete_rule))
        .route(route::well_known::WEBHOOK_KEYS, get(webhook_keys))
}

fn webhook(w: WebhookView) -> WebhookAnswer {
    WebhookAnswer {
        id: w.id,
        name: w.name,
        url: w.url,
        enabled: w.enabled,
        has_hmac_secret: w.has_hmac_secret,
        created_at: w.created_at,
        updated_at: w.updated_at,
    }
}

fn rule(r: RuleView) -> AlertRuleAnswer {
    let (actions, result, burst) = match r.spec {
        Some(RuleSpec::Actions { actions, result }) => (actions, result, None),
        Some(RuleSpec::Burst {
            threshold,
            window_ms,
            per,
        }) => (
            Vec::new(),
            None,
            Some(BurstSpec {
                threshold,
                window_seconds: u32::try_from(window_ms / 1000).unwrap_or(u32::MAX),
                per: per.as_str().to_owned(),
            }),
        ),
        None => (Vec::new(), None, None),
    };
    AlertRuleAnswer {
        id: r.id,
        name: r.name,
        severity: r.severity,
        actions,
        result,
        burst,
        webhooks: r.webhooks,
        created_at: r.created_at,
    }
}

fn delivery(d: DeliveryRecord) -> DeliveryAnswer {
    DeliveryAnswer {
        id: d.id,
        webhook_id: d.webhook_id,
        rule_id: d.rule_id,
        event: d.event,
        severity: d.severity,
        status: d.status.as_str().to_owned(),
        attempts: d.attempts,
        next_attempt_at: d.next_attempt_ms,
        last_status_code: d.last_status_code,
        last_error: d.last_error,
        last_duration_ms: d.last_duration_ms,
        created_at: d.created_ms,
        updated_at: d.updated_ms,
    }
}

/// Bodies that must be empty or `{}`.
fn no_body(body: &[u8]) -> ApiResult<()> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let m: serde_json::Map<String, serde_json::Value> = json(body)?;
    if m.is_empty() {
        Ok(())
    } else {
        Err(ApiError::malformed("this route takes no fields"))
    }
}

async fn webhooks(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<WebhooksAnswer>> {
    let hooks = s.signet.webhooks();
    let list = hooks.webhooks(&call.operator).await?;
    Ok(Json(WebhooksAnswer {
        webhooks: list.into_iter().map(webhook).collect(),
        key_id: hooks.signing_key().key_id(),
    }))
}

async fn create_webhook(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<WebhookCreatedAnswer>> {
    let b: WebhookCreateRequest = json(&call.body)?;
    let created = s
        .signet
        .webhooks()
        .create(&call.operator, &b.name, &b.url, b.hmac_secret)
        .await?;
    Ok(Json(WebhookCreatedAnswer {
        webhook: webhook(created.webhook),
        hmac_secret: created.hmac_secret,
    }))
}

async fn update_webhook(
    State(s): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<WebhookAnswer>> {
    let id = found(id)?;
    let b: WebhookUpdateRequest = json(&call.body)?;
    let w = s
        .signet
        .webhooks()
        .update(
            &call.operator,
            &id,
            WebhookChange {
                name: b.name,
                url: b.url,
                enabled: b.enabled,
            },
        )
        .await?;
    Ok(Json(webhook(w)))
}

async fn delete_webhook(
    State(s): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<DeletedAnswer>> {
    no_body(&call.body)?;
    let id = found(id)?;
    let gone = s.signet.webhooks().delete(&call.operator, &id).await?;
    Ok(Json(DeletedAnswer {
        id: gone.to_string(),
        deleted: true,
    }))
}

async fn test_webhook(
    State(s): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<WebhookTestAnswer>> {
    no_body(&call.body)?;
    let id = found(id)?;
    let delivery_id = s.signet.webhooks().test(&call.operator, &id).await?;
    Ok(Json(WebhookTestAnswer { delivery_id }))
}

async fn deliveries(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<DeliveriesAnswer>> {
    let list = s.signet.webhooks().deliveries(&call.operator).await?;
    Ok(Json(DeliveriesAnswer {
        deliveries: list.into_iter().map(delivery).collect(),
    }))
}

async fn rules(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Json<AlertRulesAnswer>> {
    let list = s.signet.alerts().rules(&call.operator).await?;
    Ok(Json(AlertRulesAnswer {
        rules: list.into_iter().map(rule).collect(),
    }))
}

async fn create_rule(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<AlertRuleAnswer>> {
    let b: AlertRuleCreateRequest = json(&call.body)?;
    let r = s
        .signet
        .alerts()
        .create(
            &call.operator,
            NewRule {
                name: b.name,
                severity: b.severity,
                actions: b.actions,
                result: b.result,
                burst: b.burst.map(|b| (b.threshold, b.window_seconds, b.per)),
                webhooks: b.webhooks,
            },
        )
        .await?;
    Ok(Json(rule(r)))
}

async fn delete_rule(
    State(s): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<DeletedAnswer>> {
    no_body(&call.body)?;
    let id = found(id)?;
    let gone = s.signet.alerts().delete(&call.operator, &id).await?;
    Ok(Json(DeletedAnswer {
        id: gone.to_string(),
        deleted: true,
    }))
}

async fn webhook_keys(State(s): State<AppState>) -> Json<WebhookKeysAnswer> {
    let key = s.signet.webhooks().signing_key();
    let public = key.public_key();
    Json(WebhookKeysAnswer {
        keys: vec![Jwk {
            kty: "OKP".to_owned(),
            crv: "Ed25519".to_owned(),
            x: URL_SAFE_NO_PAD.encode(public),
            kid: key.key_id(),
            alg: "EdDSA".to_owned(),
            use_: "sig".to_owned(),
        }],
    })
}
