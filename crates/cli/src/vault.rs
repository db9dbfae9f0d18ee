//! `signet vault`: settings that apply to the whole vault.

use std::process::ExitCode;

use serde_json::{Value, json};

use crate::identity::OperatorOpts;
use crate::output;

/// `signet vault`.
#[derive(Debug, clap::Args)]
pub struct VaultArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: VaultCommand,
}

#[derive(Debug, clap::Subcommand)]
enum VaultCommand {
    /// Show the vault's settings.
    Show,
    /// Change the vault's settings.
    Settings {
        /// Whether machines may ask to join without a token (`signet enroll --request`).
        #[arg(long, value_enum)]
        tokenless: Option<Switch>,
        /// How long keys made by `signet login` authenticate from now on (`12h`, `30m`, `7d`).
        #[arg(long, value_parser = crate::duration::parse)]
        cli_key_ttl: Option<u64>,
        /// Whether enrollment must prove possession of the new key. `signet enroll` and the
        /// bootstrap script always do; the SikkerKey SDKs cannot, so `on` refuses them.
        #[arg(long, value_enum)]
        require_enrollment_proof: Option<Switch>,
    },
}

/// An on/off setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Switch {
    On,
    Off,
}

/// Runs a `vault` subcommand.
pub async fn run(args: VaultArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    let vault = match args.command {
        VaultCommand::Show => client.request("GET", "/v1/admin/vault", None).await?,
        VaultCommand::Settings {
            tokenless,
            cli_key_ttl,
            require_enrollment_proof,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(t) = tokenless {
                body.insert("tokenlessEnrollment".into(), json!(t == Switch::On));
            }
            if let Some(ttl) = cli_key_ttl {
                body.insert("cliKeyTtlMs".into(), json!(ttl.saturating_mul(1000)));
            }
            if let Some(p) = require_enrollment_proof {
                body.insert("requireEnrollmentProof".into(), json!(p == Switch::On));
            }
            if body.is_empty() {
                anyhow::bail!("give --tokenless, --cli-key-ttl or --require-enrollment-proof");
            }
            let body = Value::Object(body);
            client
                .request("POST", "/v1/admin/vault/settings", Some(&body))
                .await?
        }
    };
    if json {
        output::json(&vault)?;
    } else {
        output::lines(describe(&vault))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(v: &Value) -> Vec<String> {
    let on_off = |b: &Value| {
        if b.as_bool() == Some(true) {
            "on"
        } else {
            "off"
        }
    };
    vec![
        format!("vault {}", output::text(&v["vaultId"])),
        format!(
            "  tokenless enrollment: {}",
            on_off(&v["tokenlessEnrollment"])
        ),
        format!(
            "  ip allowlist:         {}",
            on_off(&v["ipAllowlistEnabled"])
        ),
        format!(
            "  enrollment proof:     {}",
            if v["requireEnrollmentProof"].as_bool() == Some(true) {
                "required"
            } else {
                "optional"
            }
        ),
        format!(
            "  cli key lifetime:     {} min",
            v["cliKeyTtlMs"].as_i64().unwrap_or_default() / 60_000
        ),
        format!("  created:              {}", output::time(&v["createdAt"])),
    ]
}
