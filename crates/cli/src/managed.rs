//! `signet secret managed`: a structured secret (`username`, `password`) bound to a database
//! connection and to the one machine that runs its sync agent. Nothing here prints a value or
//! the connection's admin password.

use std::process::ExitCode;

use signet_client::OperatorClient;
use signet_client::api::admin::managed::{ManagedAnswer, SetManagedRequest};

use crate::ids;
use crate::output;

/// `signet secret managed ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ManagedCommand {
    /// Make a secret managed (fields exactly username and password; the role is the current
    /// username), or change its connection, agent or poll interval.
    Set {
        /// The secret's id.
        id: String,
        /// A database connection of the secret's project (dbc_...).
        #[arg(long)]
        connection: String,
        /// The machine that runs the sync agent: the only one given the connection's admin
        /// credentials (it must also be attached and granted the secret).
        #[arg(long, value_name = "MACHINE_ID")]
        agent: Option<String>,
        /// How often the agent asks for a pending rotation, 5s to 1h (default 10s).
        #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
        poll_interval: Option<u64>,
    },
    /// Show a secret's binding, pending rotation and agent health.
    Show {
        /// The secret's id.
        id: String,
    },
}

/// Runs `signet secret managed ...`.
pub async fn run(
    client: &OperatorClient,
    command: ManagedCommand,
    json: bool,
) -> anyhow::Result<ExitCode> {
    match command {
        ManagedCommand::Set {
            id,
            connection,
            agent,
            poll_interval,
        } => {
            let id = ids::secret(&id)?;
            let poll_interval_seconds = poll_interval
                .map(|s| {
                    u32::try_from(s).map_err(|_| anyhow::anyhow!("the poll interval is too long"))
                })
                .transpose()?;
            let r = client
                .managed()
                .set(
                    &id,
                    &SetManagedRequest {
                        connection_id: connection,
                        agent_machine_id: agent,
                        poll_interval_seconds,
                    },
                )
                .await?;
            print(json, "managed secret", &r)?;
        }
        ManagedCommand::Show { id } => {
            let id = ids::secret(&id)?;
            let r = client.managed().show(&id).await?;
            match (&r.managed, json) {
                (_, true) => output::json(&r)?,
                (Some(m), false) => print(false, "managed secret", m)?,
                (None, false) => {
                    output::lines([format!("secret {} is not managed", output::cell(&id))])?
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print(json: bool, title: &str, m: &ManagedAnswer) -> anyhow::Result<()> {
    if json {
        return output::json(m);
    }
    let pending = match (&m.pending_rotation_id, m.pending_since) {
        (Some(id), at) => format!("{id} since {}", output::at(at)),
        (None, _) => "none".to_owned(),
    };
    let last = match (&m.last_rotation_id, &m.last_outcome) {
        (Some(id), Some(outcome)) => format!(
            "{id} {outcome} at {}{}",
            output::at(m.last_at),
            m.last_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ),
        _ => "none".to_owned(),
    };
    let agent = match (&m.heartbeat_status, m.last_seen_at) {
        (Some(status), at) => format!(
            "{status}, last seen {}{}",
            output::at(at),
            m.heartbeat_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ),
        (None, _) => "never heard from".to_owned(),
    };
    output::lines([
        format!("{title} {}", output::cell(&m.secret_id)),
        format!("  connection: {}", m.connection_id),
        format!("  username:   {}", m.username),
        format!(
            "  agent:      {} (every {}s)",
            m.agent_machine_id.as_deref().unwrap_or("none"),
            m.poll_interval_seconds
        ),
        format!("  health:     {agent}"),
        format!("  pending:    {pending}"),
        format!("  last:       {last}"),
    ])
}
