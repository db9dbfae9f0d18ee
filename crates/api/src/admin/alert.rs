//! Alerts and webhooks as operators manage them: webhooks (the HMAC secret answered once),
//! alert rules, the delivery log and a test delivery; and the vault's published webhook key.

use serde::{Deserialize, Serialize};
use signet_proto::{AlertRuleId, DeliveryId, WebhookId};
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

/// `POST /v1/admin/webhooks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookCreateRequest {
    /// A label for people: 1 to 100 characters.
    pub name: String,
    /// `https://...` (or `http://` to a loopback address the operator allowed). Checked now and
    /// before every delivery: no private, link-local or metadata address unless allowed.
    pub url: String,
    /// Also send SikkerKey's `X-SikkerKey-Signature` (hex HMAC-SHA256 of the body) under a
    /// secret made for this webhook and answered once.
    #[serde(default)]
    pub hmac_secret: bool,
}

/// `POST /v1/admin/webhooks/{id}/update`: the fields to change.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookUpdateRequest {
    /// A new label.
    #[serde(default)]
    pub name: Option<String>,
    /// A new URL (checked like a new webhook's).
    #[serde(default)]
    pub url: Option<String>,
    /// Turn deliveries on or off.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A webhook: never its HMAC secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: WebhookId,
    /// Its label.
    pub name: String,
    /// Where deliveries go.
    pub url: String,
    /// Whether new alerts are delivered to it.
    pub enabled: bool,
    /// Whether deliveries carry `X-SikkerKey-Signature`.
    pub has_hmac_secret: bool,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

/// `POST /v1/admin/webhooks`: the webhook, and its HMAC secret this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookCreatedAnswer {
    /// The webhook.
    pub webhook: WebhookAnswer,
    /// `whsec_...`: the `X-SikkerKey-Signature` key. Shown only now; `null` without one.
    #[schema(value_type = Option<String>)]
    pub hmac_secret: Option<Zeroizing<String>>,
}

/// `GET /v1/admin/webhooks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhooksAnswer {
    /// Every webhook, oldest first.
    pub webhooks: Vec<WebhookAnswer>,
    /// The `keyid` deliveries are signed with (published at `/.well-known/signet/webhook-keys`).
    pub key_id: String,
}

/// One delivery in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAnswer {
    /// The delivery id, the same on every attempt (`Signet-Delivery-Id`).
    #[schema(value_type = String)]
    pub id: DeliveryId,
    /// Where it goes.
    #[schema(value_type = String)]
    pub webhook_id: WebhookId,
    /// The rule that made it; `null` for a test.
    #[schema(value_type = Option<String>)]
    pub rule_id: Option<AlertRuleId>,
    /// The audit action, `burst` or `test`.
    pub event: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts started.
    pub attempts: u32,
    /// When the next attempt is due (pending only), Unix ms.
    pub next_attempt_at: i64,
    /// The last answer's HTTP status.
    pub last_status_code: Option<u16>,
    /// The last failure's class: `timeout`, `connect`, `tls`, `status`, `address_refused`,
    /// `redirect`, `no_sender`.
    pub last_error: Option<String>,
    /// How long the last attempt took, ms.
    pub last_duration_ms: Option<i64>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

/// `GET /v1/admin/webhooks/deliveries`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveriesAnswer {
    /// The newest 200 deliveries, newest first.
    pub deliveries: Vec<DeliveryAnswer>,
}

/// `POST /v1/admin/webhooks/{id}/test`: the queued test delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookTestAnswer {
    /// Its id; follow it in the delivery log.
    #[schema(value_type = String)]
    pub delivery_id: DeliveryId,
}

/// A burst rule: at least `threshold` denied machine reads from one machine (or one source
/// address) within `windowSeconds` of the first; fires once per window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BurstSpec {
    /// How many denied reads: 2 to 100000.
    pub threshold: u32,
    /// The window, seconds: 1 to 86400.
    pub window_seconds: u32,
    /// `machine` or `source`.
    pub per: String,
}

/// `POST /v1/admin/alerts`: either `actions` (optionally with `result`) or `burst`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertRuleCreateRequest {
    /// A label for people: 1 to 100 characters.
    pub name: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// Audit actions that fire it (any name of the audit vocabulary).
    #[serde(default)]
    pub actions: Option<Vec<String>>,
    /// Only records with this result: `ok`, `denied` or `failed`.
    #[serde(default)]
    pub result: Option<String>,
    /// Or: a burst of denied machine reads.
    #[serde(default)]
    pub burst: Option<BurstSpec>,
    /// The webhooks its alerts go to (at least one).
    pub webhooks: Vec<String>,
}

/// An alert rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertRuleAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: AlertRuleId,
    /// Its label.
    pub name: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// The audit actions that fire it (empty for a burst rule).
    pub actions: Vec<String>,
    /// Only records with this result.
    pub result: Option<String>,
    /// The burst it watches for.
    pub burst: Option<BurstSpec>,
    /// Where its alerts go.
    #[schema(value_type = Vec<String>)]
    pub webhooks: Vec<WebhookId>,
    /// Unix ms.
    pub created_at: i64,
}

/// `GET /v1/admin/alerts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertRulesAnswer {
    /// Every rule, oldest first.
    pub rules: Vec<AlertRuleAnswer>,
}

/// One published key (RFC 7517 JWK, RFC 8037 `OKP`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// The raw public key, base64url without padding.
    pub x: String,
    /// Its RFC 7638 thumbprint: the `keyid` of signatures it made.
    pub kid: String,
    /// `EdDSA`.
    pub alg: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: String,
}

/// `GET /.well-known/signet/webhook-keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookKeysAnswer {
    /// The vault's webhook signing keys.
    pub keys: Vec<Jwk>,
}

/// Lists webhooks, and the `keyid` deliveries are signed with.
#[utoipa::path(get, path = "/v1/admin/webhooks", tag = "admin",
    responses((status = 200, description = "Success", body = WebhooksAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (admins and owners only)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn webhooks() {}

/// Creates a webhook; its HMAC secret, if asked for, is answered this once.
#[utoipa::path(post, path = "/v1/admin/webhooks", tag = "admin",
    request_body = WebhookCreateRequest,
    responses((status = 200, description = "Success", body = WebhookCreatedAnswer),
              (status = 400, description = "Malformed request, or the URL's address is refused (private, link-local, metadata, not HTTPS)", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (admins and owners only)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_webhook() {}

/// Changes a webhook's name, URL or enabled flag.
#[utoipa::path(post, path = "/v1/admin/webhooks/{id}/update", tag = "admin",
    params(("id" = String, Path, description = "The webhook's id")),
    request_body = WebhookUpdateRequest,
    responses((status = 200, description = "Success", body = WebhookAnswer),
              (status = 400, description = "Malformed request, or the URL's address is refused", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such webhook", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn update_webhook() {}

/// Deletes a webhook with its deliveries. Takes no body (or `{}`).
#[utoipa::path(post, path = "/v1/admin/webhooks/{id}/delete", tag = "admin",
    params(("id" = String, Path, description = "The webhook's id")),
    responses((status = 200, description = "Success", body = super::DeletedAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such webhook", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn delete_webhook() {}

/// Queues a test delivery to a webhook. Takes no body (or `{}`).
#[utoipa::path(post, path = "/v1/admin/webhooks/{id}/test", tag = "admin",
    params(("id" = String, Path, description = "The webhook's id")),
    responses((status = 200, description = "Success", body = WebhookTestAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such webhook", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn test_webhook() {}

/// The delivery log: the newest 200 deliveries, newest first.
#[utoipa::path(get, path = "/v1/admin/webhooks/deliveries", tag = "admin",
    responses((status = 200, description = "Success", body = DeliveriesAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn deliveries() {}

/// Lists alert rules.
#[utoipa::path(get, path = "/v1/admin/alerts", tag = "admin",
    responses((status = 200, description = "Success", body = AlertRulesAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn alert_rules() {}

/// Creates an alert rule.
#[utoipa::path(post, path = "/v1/admin/alerts", tag = "admin",
    request_body = AlertRuleCreateRequest,
    responses((status = 200, description = "Success", body = AlertRuleAnswer),
              (status = 400, description = "Malformed request (unknown action, severity, webhook, burst bounds)", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_alert_rule() {}

/// Deletes an alert rule. Takes no body (or `{}`).
#[utoipa::path(post, path = "/v1/admin/alerts/{id}/delete", tag = "admin",
    params(("id" = String, Path, description = "The rule's id")),
    responses((status = 200, description = "Success", body = super::DeletedAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed", body = crate::openapi::ErrorBody),
              (status = 404, description = "No such rule", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn delete_alert_rule() {}

/// The vault's webhook signing key, as a JWKS. No authentication.
#[utoipa::path(get, path = "/.well-known/signet/webhook-keys", tag = "health",
    responses((status = 200, description = "The JWKS", body = WebhookKeysAnswer)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn webhook_keys() {}

/// The alert and webhook routes.
#[derive(OpenApi)]
#[openapi(
    paths(
        webhooks,
        create_webhook,
        update_webhook,
        delete_webhook,
        test_webhook,
        deliveries,
        alert_rules,
        create_alert_rule,
        delete_alert_rule
    ),
    components(schemas(
        WebhookCreateRequest,
        WebhookUpdateRequest,
        WebhookAnswer,
        WebhookCreatedAnswer,
        WebhooksAnswer,
        DeliveryAnswer,
        DeliveriesAnswer,
        WebhookTestAnswer,
        BurstSpec,
        AlertRuleCreateRequest,
        AlertRuleAnswer,
        AlertRulesAnswer
    ))
)]
pub struct Api;

/// The published webhook key: not an operator route (no authentication), so its own part of
/// the document.
#[derive(OpenApi)]
#[openapi(paths(webhook_keys), components(schemas(Jwk, WebhookKeysAnswer)))]
pub struct WellKnownApi;
