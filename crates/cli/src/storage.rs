//! `signet storage migrate`: copies a whole installation from one store to another (SQLite to
//! PostgreSQL, or to a new SQLite file) and verifies the copy. Runs on the server host; needs no
//! root key. The copy itself is `signet_server::install::transfer`, in the composition root,
//! which is the only code that opens stores.

use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;
use signet_server::install::{self, DatabaseUrl};

use crate::output;
use crate::progress::{Progress, Unit};

/// `signet storage`.
#[derive(Debug, clap::Args)]
pub struct StorageArgs {
    #[command(subcommand)]
    command: StorageCommand,
}

#[derive(Debug, clap::Subcommand)]
enum StorageCommand {
    /// Copy every table from one database into a new, empty one and verify the copy.
    ///
    /// The source may stay in use by a running server: the copy is one consistent snapshot.
    /// Writes the server makes after the snapshot are not copied, so stop the server before the
    /// copy you intend to switch to. The target must hold no vault. Start the new server with the
    /// same root key.
    Migrate {
        // Plain strings, parsed in `run`: clap's own error would echo the value, password and
        // all.
        /// The database to copy: sqlite://PATH (sqlite:///absolute or sqlite://relative).
        #[arg(long, value_name = "URL")]
        from: String,
        /// The empty database to fill: sqlite://PATH, postgres://... or postgresql://...
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// Runs a `storage` subcommand.
pub async fn run(args: StorageArgs, json: bool) -> Result<ExitCode> {
    match args.command {
        StorageCommand::Migrate { from, to } => {
            let from = DatabaseUrl::parse(&from).context("--from")?;
            let to = DatabaseUrl::parse(&to).context("--to")?;
            migrate(&from, &to, json).await
        }
    }
}

async fn migrate(from: &DatabaseUrl, to: &DatabaseUrl, json: bool) -> Result<ExitCode> {
    let progress = Progress::start("copying", None, Unit::Items);
    let copied = install::transfer_watched(from, to, &progress).await?;
    progress.finish();
    let rows: usize = copied.tables.iter().map(|(_, rows)| rows).sum();
    if json {
        let counts: Vec<_> = copied
            .tables
            .iter()
            .map(|(name, rows)| json!({ "table": name, "rows": rows }))
            .collect();
        output::json(&json!({
            "from": from.to_string(),
            "to": to.to_string(),
            "vaultId": copied.vault_id,
            "tables": counts,
            "rows": rows,
            "verified": true,
        }))?;
    } else {
        let mut table = output::Table::new(&["TABLE", "ROWS"]);
        for (name, rows) in &copied.tables {
            table.row(vec![name.clone(), rows.to_string()]);
        }
        table.print("(no tables)")?;
        output::lines([
            format!(
                "Copied vault {} from {from} to {to}: {rows} rows in {} tables, verified.",
                copied.vault_id,
                copied.tables.len()
            ),
            "Start the server on the new database with the same root key.".to_owned(),
        ])?;
    }
    Ok(ExitCode::SUCCESS)
}
