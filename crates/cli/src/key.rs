//! `signet key`: the root keyring (`docs/operations.md`, "Key rotation"). `rotate-root` makes a
//! new root key generation current and re-wraps every project key under it, in calls of a few
//! seconds each, while the server keeps serving; `retire-root` deletes a generation nothing
//! refers to any more. The root key file itself does not change.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use signet_client::admin::keys::Keys;
use signet_client::api::admin::keys::RootRotationAnswer;

use crate::identity::OperatorOpts;
use crate::output::{self, Table};
use crate::progress::{Progress, Unit};

/// `signet key`.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(Debug, clap::Subcommand)]
enum KeyCommand {
    /// The root key generations, which one is current, and how many project keys each still
    /// wraps (owners).
    Status,
    /// Makes a new root key generation current and re-wraps every project key under it while
    /// the server serves (owners). Does not replace the root key file.
    RotateRoot {
        /// Only finish re-wrapping under the current generation (after an interrupted run);
        /// make no new one.
        #[arg(long)]
        resume: bool,
    },
    /// Retires a root key generation nothing refers to any more: its sealed copy is deleted
    /// from the store (owners). Generation 0 is the root key file itself.
    RetireRoot {
        /// The generation to retire.
        #[arg(long)]
        generation: u32,
    },
}

/// Runs `signet key`.
pub async fn run(args: KeyArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    match args.command {
        KeyCommand::Status => {
            let status = Keys::of(&client).root_status().await?;
            if json {
                output::json(&status)?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = Table::new(&["GENERATION", "CURRENT", "PROJECT KEYS", "CREATED"]);
            for g in &status.generations {
                t.row(vec![
                    output::cell(&g.generation),
                    if g.current { "yes" } else { "" }.to_owned(),
                    output::cell(&g.project_keys),
                    if g.generation == 0 {
                        "(root key file)".to_owned()
                    } else {
                        output::at(g.created_ms)
                    },
                ]);
            }
            t.print("no generations")?;
            Ok(ExitCode::SUCCESS)
        }
        KeyCommand::RotateRoot { resume } => {
            // Each call answers after a few seconds of work; many projects take several.
            let mut start = !resume;
            let mut total = 0u64;
            // Progress goes to stderr, so stdout stays the result alone (`--json` too): a bar on
            // a terminal, else one plain line per call, which a log keeps readable.
            let terminal = std::io::stderr().is_terminal();
            let bar = Progress::start("re-wrapping project keys", Some(0), Unit::Items);
            let last: RootRotationAnswer = loop {
                let r = Keys::of(&client).rotate_root(start).await?;
                start = false;
                total += r.rewrapped;
                bar.set_total(total + r.remaining);
                bar.advance(r.rewrapped);
                bar.step(&format!(
                    "generation {}: re-wrapping project keys",
                    r.generation
                ));
                if !terminal {
                    eprintln!(
                        "generation {}: {} project keys re-wrapped, {} to go",
                        r.generation, total, r.remaining
                    );
                }
                if !r.more {
                    break r;
                }
            };
            bar.finish();
            if json {
                output::json(&RootRotationAnswer {
                    rewrapped: total,
                    started: !resume,
                    ..last
                })?;
            } else {
                output::lines([format!(
                    "root key generation {} is current; every project key is wrapped under it \
                     (retire older generations with `signet key retire-root --generation N`)",
                    last.generation
                )])?;
            }
            Ok(ExitCode::SUCCESS)
        }
        KeyCommand::RetireRoot { generation } => {
            let r = Keys::of(&client).retire_root(generation).await?;
            if json {
                output::json(&r)?;
            } else {
                output::lines([format!("root key generation {} retired", r.generation)])?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
