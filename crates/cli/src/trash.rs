//! `signet trash`: deleted secrets and projects, until restored, purged, or past the vault's
//! retention.

use std::process::ExitCode;

use crate::identity::OperatorOpts;
use crate::output::{self, Table};

/// `signet trash`.
#[derive(Debug, clap::Args)]
pub struct TrashArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: TrashCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TrashCommand {
    /// List deleted secrets and projects, with who deleted them and when.
    List,
    /// Bring a secret or project back with its versions and grants.
    Restore {
        /// The secret's or project's id.
        id: String,
    },
    /// Destroy a trashed secret or project for good (admins and owners).
    Purge {
        /// The secret's or project's id.
        id: String,
    },
    /// Set how many days trashed items are kept before the server purges them (1-3650).
    Retention {
        /// Days.
        days: u32,
    },
}

/// Runs a `trash` subcommand.
pub async fn run(args: TrashArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    let trash = client.trash();
    match args.command {
        TrashCommand::List => {
            let r = trash.list().await?;
            if json {
                output::json(&r)?;
            } else {
                let mut t = Table::new(&[
                    "KIND",
                    "ID",
                    "NAME",
                    "PROJECT",
                    "DELETED BY",
                    "DELETED",
                    "PURGE AFTER",
                ]);
                for i in &r.items {
                    t.row(vec![
                        output::cell(&i.kind),
                        output::cell(&i.id),
                        output::cell(&i.name),
                        output::cell(&i.project_name),
                        output::cell(&i.deleted_by_name),
                        output::at(i.deleted_at),
                        output::at(i.purge_after),
                    ]);
                }
                t.print("the trash is empty")?;
            }
        }
        TrashCommand::Restore { id } => {
            let r = trash.restore(&id).await?;
            if json {
                output::json(&r)?;
            } else {
                output::lines([format!("restored {} {}", r.kind, output::cell(&r.id))])?;
            }
        }
        TrashCommand::Purge { id } => {
            let r = trash.purge(&id).await?;
            if json {
                output::json(&r)?;
            } else {
                output::lines([format!("purged {} {}", r.kind, output::cell(&r.id))])?;
            }
        }
        TrashCommand::Retention { days } => {
            let r = trash.set_retention(days).await?;
            if json {
                output::json(&r)?;
            } else {
                output::lines([format!("trashed items are kept {} days", r.retention_days)])?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
