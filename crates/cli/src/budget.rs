//! `signet budget`: how many signed requests per minute machines may make.

use std::process::ExitCode;

use serde_json::Value;

use crate::identity::OperatorOpts;
use crate::ids;
use crate::output::{self, Table};

/// `signet budget`.
#[derive(Debug, clap::Args)]
pub struct BudgetArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: BudgetCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BudgetCommand {
    /// Show the vault default and every machine's own budget.
    Show,
    /// Set the vault default, or one machine's budget with --machine.
    Set {
        /// The machine; without it, the vault-wide default.
        #[arg(long)]
        machine: Option<String>,
        /// Signed requests per minute; 0 is unlimited.
        #[arg(long, conflicts_with = "clear", required_unless_present = "clear")]
        per_minute: Option<u32>,
        /// Clear it: the machine follows the default again (the default: unlimited).
        #[arg(long)]
        clear: bool,
    },
}

fn per_minute(v: &Value) -> String {
    match v.as_u64() {
        None | Some(0) => "unlimited".to_owned(),
        Some(n) => format!("{n}/min"),
    }
}

fn print(budgets: &Value) -> anyhow::Result<()> {
    output::lines([format!(
        "default: {}",
        per_minute(&budgets["defaultPerMinute"])
    )])?;
    let mut t = Table::new(&["MACHINE", "BUDGET"]);
    for m in budgets["machines"].as_array().into_iter().flatten() {
        t.row(vec![
            output::text(&m["machineId"]),
            per_minute(&m["perMinute"]),
        ]);
    }
    t.print("no machine has its own budget")
}

/// Runs a `budget` subcommand.
pub async fn run(args: BudgetArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    let budgets = match args.command {
        BudgetCommand::Show => client.request_budgets().await?,
        BudgetCommand::Set {
            machine,
            per_minute,
            clear: _,
        } => {
            let machine = machine.as_deref().map(ids::machine).transpose()?;
            client
                .set_request_budget(machine.as_ref(), per_minute)
                .await?
        }
    };
    if json {
        output::json(&budgets)?;
    } else {
        print(&budgets)?;
    }
    Ok(ExitCode::SUCCESS)
}
