//! `signet webhook add|list|update|delete|test|deliveries|verify` and
//! `signet alert add|list|delete`: where alerts go, which audit records raise them, and a check
//! of a saved delivery's signature (`verify` needs no identity).

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use signet_client::api::admin::alert::{
    AlertRuleCreateRequest, BurstSpec, WebhookCreateRequest, WebhookUpdateRequest,
};
use signet_client::webhook_keys;
use signet_proto::webhook::{self, DEFAULT_MAX_AGE_SECS, ReceivedDelivery};

use crate::duration;
use crate::identity::OperatorOpts;
use crate::output::{self, Table};

/// `signet webhook`.
#[derive(Debug, clap::Args)]
pub struct WebhookArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: WebhookCommand,
}

#[derive(Debug, clap::Subcommand)]
enum WebhookCommand {
    /// Add a webhook (https://, checked against private and metadata addresses).
    Add {
        /// A label.
        #[arg(long)]
        name: String,
        /// Where deliveries go.
        #[arg(long)]
        url: String,
        /// Also sign with SikkerKey's X-SikkerKey-Signature (HMAC); its secret is printed once.
        #[arg(long)]
        hmac_secret: bool,
    },
    /// Webhooks, and the key id deliveries are signed with.
    List,
    /// Change a webhook's name, URL, or turn it on or off.
    Update {
        /// The webhook's id (wh_…).
        id: String,
        /// A new label.
        #[arg(long)]
        name: Option<String>,
        /// A new URL.
        #[arg(long)]
        url: Option<String>,
        /// Turn deliveries on.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Turn deliveries off.
        #[arg(long)]
        disable: bool,
    },
    /// Delete a webhook with its delivery log.
    Delete {
        /// The webhook's id (wh_…).
        id: String,
    },
    /// Queue a test delivery.
    Test {
        /// The webhook's id (wh_…).
        id: String,
    },
    /// The delivery log, newest first.
    Deliveries {
        /// Only this webhook's.
        #[arg(long)]
        webhook: Option<String>,
    },
    /// Check a saved delivery's signature: exits non-zero, saying why, when the body or a
    /// signed header was altered, the key is not the vault's, or it is too old. The file is
    /// JSON {"method", "url", "headers": {name: value}, "body"} (docs/protocol.md).
    Verify {
        /// The vault's key document, or the server's base URL.
        #[arg(long, required_unless_present = "key", conflicts_with = "key")]
        key_url: Option<String>,
        /// A saved copy of the key document (JWKS JSON).
        #[arg(long)]
        key: Option<std::path::PathBuf>,
        /// How old the signature may be (default 5m).
        #[arg(long, value_parser = duration::parse)]
        max_age: Option<u64>,
        /// The saved delivery.
        delivery: std::path::PathBuf,
    },
}

/// `signet alert`.
#[derive(Debug, clap::Args)]
pub struct AlertArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: AlertCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AlertCommand {
    /// Add a rule: --action (repeatable, any audit action) [--result], or --burst N --window W
    /// --per machine|source; and --webhook (repeatable).
    Add {
        /// A label.
        #[arg(long)]
        name: String,
        /// info, warning or critical.
        #[arg(long, default_value = "warning")]
        severity: String,
        /// An audit action that fires it (repeatable), e.g. canary_triggered.
        #[arg(long = "action")]
        actions: Vec<String>,
        /// Only records with this result: ok, denied or failed.
        #[arg(long)]
        result: Option<String>,
        /// Fire on this many denied machine reads...
        #[arg(long, requires = "window", conflicts_with = "actions")]
        burst: Option<u32>,
        /// ...within this long (e.g. 60s, 5m)...
        #[arg(long, value_parser = duration::parse)]
        window: Option<u64>,
        /// ...from one machine or one source address.
        #[arg(long, default_value = "machine")]
        per: String,
        /// Where its alerts go (repeatable).
        #[arg(long = "webhook", required = true)]
        webhooks: Vec<String>,
    },
    /// Alert rules.
    List,
    /// Delete a rule.
    Delete {
        /// The rule's id (alr_…).
        id: String,
    },
}

/// Runs a `webhook` subcommand.
pub async fn webhook(args: WebhookArgs, json: bool) -> anyhow::Result<ExitCode> {
    if let WebhookCommand::Verify {
        key_url,
        key,
        max_age,
        delivery,
    } = args.command
    {
        return verify(key_url, key, max_age, &delivery, json).await;
    }
    let client = args.opts.client()?;
    let alerts = client.alerts();
    match args.command {
        WebhookCommand::Add {
            name,
            url,
            hmac_secret,
        } => {
            let created = alerts
                .create_webhook(&WebhookCreateRequest {
                    name,
                    url,
                    hmac_secret,
                })
                .await?;
            if json {
                output::json(&created)?;
            } else {
                let mut lines = vec![format!(
                    "Webhook {} added: {}",
                    created.webhook.id, created.webhook.url
                )];
                if let Some(secret) = &created.hmac_secret {
                    lines.push(format!(
                        "X-SikkerKey-Signature secret (shown only now): {}",
                        secret.as_str()
                    ));
                }
                output::lines(lines)?;
            }
        }
        WebhookCommand::List => {
            let list = alerts.webhooks().await?;
            if json {
                output::json(&list)?;
            } else {
                let mut t = Table::new(&["ID", "NAME", "URL", "ENABLED", "HMAC"]);
                for w in &list.webhooks {
                    t.row(vec![
                        w.id.to_string(),
                        output::cell(&w.name),
                        output::cell(&w.url),
                        w.enabled.to_string(),
                        w.has_hmac_secret.to_string(),
                    ]);
                }
                t.print("no webhooks")?;
                output::lines([format!("Deliveries are signed with keyid {}", list.key_id)])?;
            }
        }
        WebhookCommand::Update {
            id,
            name,
            url,
            enable,
            disable,
        } => {
            let enabled = match (enable, disable) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            };
            if name.is_none() && url.is_none() && enabled.is_none() {
                bail!("nothing to change: give --name, --url, --enable or --disable");
            }
            let w = alerts
                .update_webhook(&id, &WebhookUpdateRequest { name, url, enabled })
                .await?;
            if json {
                output::json(&w)?;
            } else {
                output::lines([format!("Webhook {} updated.", w.id)])?;
            }
        }
        WebhookCommand::Delete { id } => {
            let d = alerts.delete_webhook(&id).await?;
            if json {
                output::json(&d)?;
            } else {
                output::lines([format!("Webhook {} deleted.", d.id)])?;
            }
        }
        WebhookCommand::Test { id } => {
            let t = alerts.test_webhook(&id).await?;
            if json {
                output::json(&t)?;
            } else {
                output::lines([format!(
                    "Test delivery {} queued; follow it with `signet webhook deliveries`.",
                    t.delivery_id
                )])?;
            }
        }
        WebhookCommand::Deliveries { webhook } => {
            let mut list = alerts.deliveries().await?;
            if let Some(w) = webhook {
                list.deliveries.retain(|d| d.webhook_id.as_str() == w);
            }
            if json {
                output::json(&list)?;
            } else {
                let mut t = Table::new(&[
                    "ID", "WEBHOOK", "EVENT", "STATUS", "ATTEMPTS", "CODE", "ERROR", "CREATED",
                ]);
                for d in &list.deliveries {
                    t.row(vec![
                        d.id.to_string(),
                        d.webhook_id.to_string(),
                        output::cell(&d.event),
                        output::cell(&d.status),
                        d.attempts.to_string(),
                        d.last_status_code
                            .map(|c| c.to_string())
                            .unwrap_or_default(),
                        d.last_error.clone().unwrap_or_default(),
                        output::at(d.created_at),
                    ]);
                }
                t.print("no deliveries")?;
            }
        }
        WebhookCommand::Verify { .. } => unreachable_verify()?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `verify` returned above; kept as an error rather than a panic.
fn unreachable_verify() -> anyhow::Result<()> {
    bail!("verify is handled before an identity is loaded")
}

/// `signet webhook verify`.
async fn verify(
    key_url: Option<String>,
    key: Option<std::path::PathBuf>,
    max_age: Option<u64>,
    delivery: &std::path::Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let jwks: serde_json::Value = match (key_url, key) {
        (Some(url), _) => webhook_keys(&url)
            .await
            .with_context(|| format!("cannot fetch the webhook keys from {url}"))?,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a JWKS JSON document", path.display()))?
        }
        (None, None) => bail!("give --key-url or --key"),
    };
    let keys = webhook::keys_from_jwks(&jwks);
    if keys.is_empty() {
        bail!("the key document holds no Ed25519 key");
    }
    let text = std::fs::read_to_string(delivery)
        .with_context(|| format!("cannot read {}", delivery.display()))?;
    let saved: ReceivedDelivery = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a saved delivery (JSON with method, url, headers, body)",
            delivery.display()
        )
    })?;
    let max_age = max_age.map_or(DEFAULT_MAX_AGE_SECS, |s| {
        i64::try_from(s).unwrap_or(i64::MAX)
    });
    let now = signet_client::unix_now();
    match webhook::verify(&saved, &keys, now, max_age) {
        Ok(()) => {
            let id = saved
                .header(webhook::HEADER_DELIVERY_ID)
                .unwrap_or_default()
                .to_owned();
            if json {
                output::json(&serde_json::json!({ "valid": true, "deliveryId": id }))?;
            } else {
                output::lines([format!("valid: delivery {id} is signed by the vault's key")])?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if json {
                output::json(&serde_json::json!({ "valid": false, "reason": e.to_string() }))?;
            }
            bail!("invalid delivery: {e}")
        }
    }
}

/// Runs an `alert` subcommand.
pub async fn alert(args: AlertArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    let alerts = client.alerts();
    match args.command {
        AlertCommand::Add {
            name,
            severity,
            actions,
            result,
            burst,
            window,
            per,
            webhooks,
        } => {
            let (actions, burst) = match burst {
                Some(threshold) => (
                    None,
                    Some(BurstSpec {
                        threshold,
                        window_seconds: u32::try_from(window.unwrap_or(0)).unwrap_or(u32::MAX),
                        per,
                    }),
                ),
                None if actions.is_empty() => bail!("give --action (repeatable) or --burst"),
                None => (Some(actions), None),
            };
            let r = alerts
                .create_rule(&AlertRuleCreateRequest {
                    name,
                    severity,
                    actions,
                    result,
                    burst,
                    webhooks,
                })
                .await?;
            if json {
                output::json(&r)?;
            } else {
                output::lines([format!("Alert rule {} added.", r.id)])?;
            }
        }
        AlertCommand::List => {
            let list = alerts.rules().await?;
            if json {
                output::json(&list)?;
            } else {
                let mut t = Table::new(&["ID", "NAME", "SEVERITY", "MATCHES", "WEBHOOKS"]);
                for r in &list.rules {
                    let matches = match &r.burst {
                        Some(b) => format!(
                            "{} denied reads per {} in {}s",
                            b.threshold, b.per, b.window_seconds
                        ),
                        None => match &r.result {
                            Some(res) => format!("{} ({res})", r.actions.join(",")),
                            None => r.actions.join(","),
                        },
                    };
                    t.row(vec![
                        r.id.to_string(),
                        output::cell(&r.name),
                        r.severity.clone(),
                        matches,
                        r.webhooks
                            .iter()
                            .map(|w| w.to_string())
                            .collect::<Vec<_>>()
                            .join(","),
                    ]);
                }
                t.print("no alert rules")?;
            }
        }
        AlertCommand::Delete { id } => {
            let d = alerts.delete_rule(&id).await?;
            if json {
                output::json(&d)?;
            } else {
                output::lines([format!("Alert rule {} deleted.", d.id)])?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
