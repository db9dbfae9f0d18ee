//! Alerts and webhooks: `client.alerts()` manages webhooks, alert rules and the delivery log;
//! [`webhook_keys`] fetches a server's published webhook key (no sign-in).

use std::time::Duration;

use signet_api::admin::DeletedAnswer;
use signet_api::admin::alert::{
    AlertRuleAnswer, AlertRuleCreateRequest, AlertRulesAnswer, DeliveriesAnswer, WebhookAnswer,
    WebhookCreateRequest, WebhookCreatedAnswer, WebhookKeysAnswer, WebhookTestAnswer,
    WebhookUpdateRequest, WebhooksAnswer,
};
use signet_api::route;
use signet_proto::web_url::WebUrl;

use crate::error::ClientError;
use crate::operator::OperatorClient;
use crate::request::{checked_base_url, http_client};

/// Alerts and webhooks: `client.alerts()`.
#[derive(Clone, Copy)]
pub struct Alerts<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// Alerts and webhooks.
    pub fn alerts(&self) -> Alerts<'_> {
        Alerts { client: self }
    }
}

impl Alerts<'_> {
    /// `GET /v1/admin/webhooks`.
    pub async fn webhooks(&self) -> Result<WebhooksAnswer, ClientError> {
        self.client.call("GET", route::admin::WEBHOOKS, &[]).await
    }

    /// `POST /v1/admin/webhooks`: the HMAC secret, if asked for, is answered this once.
    pub async fn create_webhook(
        &self,
        req: &WebhookCreateRequest,
    ) -> Result<WebhookCreatedAnswer, ClientError> {
        let body = super::body(req)?;
        self.client
            .call("POST", route::admin::WEBHOOKS, &body)
            .await
    }

    /// `POST /v1/admin/webhooks/{id}/update`.
    pub async fn update_webhook(
        &self,
        id: &str,
        req: &WebhookUpdateRequest,
    ) -> Result<WebhookAnswer, ClientError> {
        let path = super::path(route::admin::WEBHOOK_UPDATE, &[("id", id)]);
        let body = super::body(req)?;
        self.client.call("POST", &path, &body).await
    }

    /// `POST /v1/admin/webhooks/{id}/delete`.
    pub async fn delete_webhook(&self, id: &str) -> Result<DeletedAnswer, ClientError> {
        let path = super::path(route::admin::WEBHOOK_DELETE, &[("id", id)]);
        self.client.call("POST", &path, &[]).await
    }

    /// `POST /v1/admin/webhooks/{id}/test`: queues a test delivery.
    pub async fn test_webhook(&self, id: &str) -> Result<WebhookTestAnswer, ClientError> {
        let path = super::path(route::admin::WEBHOOK_TEST, &[("id", id)]);
        self.client.call("POST", &path, &[]).await
    }

    /// `GET /v1/admin/webhooks/deliveries`: the newest deliveries first.
    pub async fn deliveries(&self) -> Result<DeliveriesAnswer, ClientError> {
        self.client
            .call("GET", route::admin::WEBHOOK_DELIVERIES, &[])
            .await
    }

    /// `GET /v1/admin/alerts`.
    pub async fn rules(&self) -> Result<AlertRulesAnswer, ClientError> {
        self.client
            .call("GET", route::admin::ALERT_RULES, &[])
            .await
    }

    /// `POST /v1/admin/alerts`.
    pub async fn create_rule(
        &self,
        req: &AlertRuleCreateRequest,
    ) -> Result<AlertRuleAnswer, ClientError> {
        let body = super::body(req)?;
        self.client
            .call("POST", route::admin::ALERT_RULES, &body)
            .await
    }

    /// `POST /v1/admin/alerts/{id}/delete`.
    pub async fn delete_rule(&self, id: &str) -> Result<DeletedAnswer, ClientError> {
        let path = super::path(route::admin::ALERT_RULE_DELETE, &[("id", id)]);
        self.client.call("POST", &path, &[]).await
    }
}

/// The JWKS deliveries are verified with, from `url`: a server's base URL (its
/// `/.well-known/signet/webhook-keys` is fetched) or the key document's full URL. Plain http
/// only to localhost, as for every other call.
pub async fn webhook_keys(url: &str) -> Result<serde_json::Value, ClientError> {
    let malformed = |why| ClientError::MalformedUrl {
        url: url.to_owned(),
        why,
    };
    let parsed = WebUrl::parse(url).map_err(malformed)?;
    let full = if WebUrl::parse_server(url).is_ok() {
        format!(
            "{}{}",
            checked_base_url(url)?,
            route::well_known::WEBHOOK_KEYS
        )
    } else {
        if !parsed.is_secure() {
            return Err(ClientError::InsecureUrl {
                url: url.to_owned(),
            });
        }
        parsed.to_string()
    };
    let resp = http_client(Duration::from_secs(15))?
        .get(&full)
        .send()
        .await
        .map_err(ClientError::transport)?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(ClientError::transport)?;
    if !status.is_success() {
        return Err(ClientError::from_response(status.as_u16(), &bytes));
    }
    // Checked against the wire type, then handed on as the JWKS document it is.
    let _: WebhookKeysAnswer =
        serde_json::from_slice(&bytes).map_err(|e| ClientError::decode("webhook keys", e))?;
    serde_json::from_slice(&bytes).map_err(|e| ClientError::decode("webhook keys", e))
}
