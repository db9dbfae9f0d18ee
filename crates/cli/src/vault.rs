//! `signet vault`: settings that apply to the whole vault.

use std::process::ExitCode;

use signet_client::api::admin::vault::{VaultAnswer, VaultSettingsRequest};

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
        VaultCommand::Show => client.vault().settings().await?,
        VaultCommand::Settings {
            tokenless,
            cli_key_ttl,
            require_enrollment_proof,
        } => {
            let cli_key_ttl_ms = cli_key_ttl
                .map(|ttl| {
                    i64::try_from(ttl.saturating_mul(1000))
                        .map_err(|_| anyhow::anyhow!("--cli-key-ttl is too large"))
                })
                .transpose()?;
            let settings = VaultSettingsRequest {
                tokenless_enrollment: tokenless.map(|t| t == Switch::On),
                cli_key_ttl_ms,
                require_enrollment_proof: require_enrollment_proof.map(|p| p == Switch::On),
                ..VaultSettingsRequest::default()
            };
            if settings == VaultSettingsRequest::default() {
                anyhow::bail!("give --tokenless, --cli-key-ttl or --require-enrollment-proof");
            }
            client.vault().set_settings(&settings).await?
        }
    };
    if json {
        output::json(&vault)?;
    } else {
        output::lines(describe(&vault))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(v: &VaultAnswer) -> Vec<String> {
    let on_off = |b: bool| if b { "on" } else { "off" };
    vec![
        format!("vault {}", output::cell(&v.vault_id)),
        format!("  tokenless enrollment: {}", on_off(v.tokenless_enrollment)),
        format!("  ip allowlist:         {}", on_off(v.ip_allowlist_enabled)),
        format!(
            "  enrollment proof:     {}",
            if v.require_enrollment_proof {
                "required"
            } else {
                "optional"
            }
        ),
        format!("  cli key lifetime:     {} min", v.cli_key_ttl_ms / 60_000),
        format!("  created:              {}", output::at(v.created_at)),
    ]
}
