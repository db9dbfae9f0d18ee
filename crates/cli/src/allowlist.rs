//! `signet ip-allowlist`: the source ranges from which the vault answers machines at all.

use std::process::ExitCode;

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
            let e = client
                .vault()
                .allowlist_add(&cidr, label.as_deref())
                .await?;
            if json {
                output::json(&e)?;
            } else {
                output::lines([format!(
                    "added {} ({}) as {}",
                    output::cell(&e.cidr),
                    output::cell(&e.label),
                    output::cell(&e.id)
                )])?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        AllowlistCommand::Remove { id } => {
            let id = ids::segment("allowlist entry", &id)?;
            let r = client.vault().allowlist_remove(id).await?;
            if json {
                output::json(&r)?;
            } else {
                output::lines([format!("removed {}", output::cell(&r.id))])?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        AllowlistCommand::List => client.vault().allowlist().await?,
        AllowlistCommand::Enable => client.vault().allowlist_set_enabled(true).await?,
        AllowlistCommand::Disable => client.vault().allowlist_set_enabled(false).await?,
    };
    if json {
        output::json(&list)?;
    } else {
        let state = if list.enabled {
            "enforced"
        } else {
            "not enforced"
        };
        output::lines([format!("ip allowlist: {state}")])?;
        let mut t = Table::new(&["ID", "CIDR", "LABEL", "CREATED"]);
        for e in &list.entries {
            t.row(vec![
                output::cell(&e.id),
                output::cell(&e.cidr),
                output::cell(&e.label),
                output::at(e.created_at),
            ]);
        }
        t.print("no entries")?;
    }
    Ok(ExitCode::SUCCESS)
}
