//! `signet ip-allowlist`: the source ranges from which the vault answers machines at all.

use std::process::ExitCode;

use serde_json::{Value, json};

use crate::identity::OperatorOpts;
use crate::ids;
use crate::output::{self, Table};

/// `signet ip-allowlist`.
#[derive(Debug, clap::Args)]
pub struct AllowlistArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: AllowlistCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AllowlistCommand {
    /// Add a range.
    Add {
        /// The range, e.g. 203.0.113.0/24.
        cidr: String,
        /// A note on what the range is.
        #[arg(long)]
        label: Option<String>,
    },
    /// List the ranges and whether the allowlist is enforced.
    List,
    /// Remove a range.
    Remove {
        /// The entry's id.
        id: String,
    },
    /// Enforce the allowlist.
    Enable,
    /// Stop enforcing the allowlist.
    Disable,
}

/// Runs an `ip-allowlist` subcommand.
pub async fn run(args: AllowlistArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    let list = match args.command {
        AllowlistCommand::Add { cidr, label } => {
            let mut body = json!({ "cidr": cidr });
            if let Some(label) = label {
                body["label"] = Value::from(label);
            }
            let e = client
                .request("POST", "/v1/admin/ip-allowlist", Some(&body))
                .await?;
            if json {
                output::json(&e)?;
            } else {
                output::lines([format!(
                    "added {} ({}) as {}",
                    output::text(&e["cidr"]),
                    output::text(&e["label"]),
                    output::text(&e["id"])
                )])?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        AllowlistCommand::Remove { id } => {
            let id = ids::segment("allowlist entry", &id)?;
            let r = client
                .request("POST", &format!("/v1/admin/ip-allowlist/{id}/delete"), None)
                .await?;
            if json {
                output::json(&r)?;
            } else {
                output::lines([format!("removed {}", output::text(&r["id"]))])?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        AllowlistCommand::List => {
            client
                .request("GET", "/v1/admin/ip-allowlist", None)
                .await?
        }
        AllowlistCommand::Enable => {
            client
                .request("POST", "/v1/admin/ip-allowlist/enable", None)
                .await?
        }
        AllowlistCommand::Disable => {
            client
                .request("POST", "/v1/admin/ip-allowlist/disable", None)
                .await?
        }
    };
    if json {
        output::json(&list)?;
    } else {
        let state = if list["enabled"].as_bool() == Some(true) {
            "enforced"
        } else {
            "not enforced"
        };
        output::lines([format!("ip allowlist: {state}")])?;
        let mut t = Table::new(&["ID", "CIDR", "LABEL", "CREATED"]);
        for e in list["entries"].as_array().into_iter().flatten() {
            t.row(vec![
                output::text(&e["id"]),
                output::text(&e["cidr"]),
                output::text(&e["label"]),
                output::time(&e["createdAt"]),
            ]);
        }
        t.print("no entries")?;
    }
    Ok(ExitCode::SUCCESS)
}
