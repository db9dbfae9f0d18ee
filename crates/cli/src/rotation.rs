//! `signet secret rotate` and `signet secret rotation`: values generated on the server, by hand
//! or on a schedule. Like every operator command, nothing here prints a value.

use std::process::ExitCode;

use signet_client::OperatorClient;
use signet_client::api::admin::rotation::{RotationAnswer, SetRotationRequest};

use crate::ids;
use crate::output;

/// `signet secret rotation ...`.
#[derive(Debug, clap::Subcommand)]
pub enum RotationCommand {
    /// Set (or replace) how a secret rotates, and optionally its schedule.
    Set {
        /// The secret's id.
        id: String,
        /// Rotate on a schedule: every 5m to 30d (e.g. 1h, 7d, 1h30m). Without it, the secret
        /// rotates only when asked.
        #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
        every: Option<u64>,
        /// symbols (default), alphanumeric, numbers, hex, base64url or uuid.
        #[arg(long)]
        charset: Option<String>,
        /// Length of each generated value, 1-1024 (default 32; a uuid is 36).
        #[arg(long)]
        length: Option<u32>,
        /// For a structured secret: the fields that rotate, comma-separated (default: all; the
        /// others keep their values).
        #[arg(long, value_delimiter = ',')]
        fields: Option<Vec<String>>,
    },
    /// Show how a secret rotates.
    Show {
        /// The secret's id.
        id: String,
    },
    /// Pause a secret's schedule.
    Pause {
        /// The secret's id.
        id: String,
    },
    /// Resume a paused schedule (next rotation one interval from now).
    Resume {
        /// The secret's id.
        id: String,
    },
    /// Remove a secret's rotation settings and schedule.
    Clear {
        /// The secret's id.
        id: String,
    },
}

/// Runs `signet secret rotation ...`.
pub async fn run(
    client: &OperatorClient,
    command: RotationCommand,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let rotation = client.rotation();
    match command {
        RotationCommand::Set {
            id,
            every,
            charset,
            length,
            fields,
        } => {
            let id = ids::secret(&id)?;
            let r = rotation
                .set(
                    &id,
                    &SetRotationRequest {
                        charset,
                        length,
                        fields,
                        interval_seconds: every,
                    },
                )
                .await?;
            print(json, "rotation set for", &r)?;
        }
        RotationCommand::Show { id } => {
            let id = ids::secret(&id)?;
            let r = rotation.show(&id).await?;
            match (&r.rotation, json) {
                (_, true) => output::json(&r)?,
                (Some(r), false) => print(false, "rotation of", r)?,
                (None, false) => output::lines([format!(
                    "secret {} has no rotation settings",
                    output::cell(&id)
                )])?,
            }
        }
        RotationCommand::Pause { id } => {
            let id = ids::secret(&id)?;
            print(json, "rotation paused for", &rotation.pause(&id).await?)?;
        }
        RotationCommand::Resume { id } => {
            let id = ids::secret(&id)?;
            print(json, "rotation resumed for", &rotation.resume(&id).await?)?;
        }
        RotationCommand::Clear { id } => {
            let id = ids::secret(&id)?;
            let r = rotation.clear(&id).await?;
            if json {
                output::json(&r)?;
            } else {
                output::lines([format!("rotation cleared for {}", output::cell(&id))])?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print(json: bool, title: &str, r: &RotationAnswer) -> anyhow::Result<()> {
    if json {
        return output::json(r);
    }
    let schedule = match (r.interval_seconds, r.paused) {
        (None, _) => "none (manual only)".to_owned(),
        (Some(s), false) => format!("every {s}s"),
        (Some(s), true) => format!("every {s}s, paused"),
    };
    output::lines([
        format!("{title} {}", output::cell(&r.secret_id)),
        format!(
            "  generator: {} x {}",
            output::cell(&r.length),
            output::cell(&r.charset)
        ),
        format!("  fields:    {}", output::cell(&r.fields)),
        format!("  schedule:  {schedule}"),
        format!("  next due:  {}", output::at(r.next_due_at)),
        format!("  last:      {}", output::at(r.last_rotated_at)),
    ])
}
