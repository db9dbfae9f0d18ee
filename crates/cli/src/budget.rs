//! `signet budget`: how many signed requests per minute machines may make.

use std::process::ExitCode;

use signet_client::api::admin::budget::BudgetsAnswer;

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

fn per_minute(v: Option<u32>) -> String {
    match v {
        None | Some(0) => "unlimited".to_owned(),
        Some(n) => format!("{n}/min"),
    }
}

fn print(budgets: &BudgetsAnswer) -> anyhow::Result<()> {
    output::lines([format!(
        "default: {}",
        per_minute(budgets.default_per_minute)
    )])?;
    let mut t = Table::new(&["MACHINE", "BUDGET"]);
    for m in &budgets.machines {
        t.row(vec![
            output::cell(&m.machine_id),
            per_minute(Some(m.per_minute)),
        ]);
    }
    t.print("no machine has its own budget")
}

/// Runs a `budget` subcommand.
pub async fn run(args: BudgetArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    let budgets = match args.command {
        BudgetCommand::Show => client.vault().request_budgets().await?,
        BudgetCommand::Set {
            machine,
            per_minute,
            clear: _,
        } => {
            let machine = machine.as_deref().map(ids::machine).transpose()?;
            client
                .vault()
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
