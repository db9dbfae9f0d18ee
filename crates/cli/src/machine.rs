//! `signet machine`: approve enrolled machines, scope what they read, and cut them off.

use std::process::ExitCode;

use signet_client::Fingerprint;
use signet_client::api::admin::machine::{MachineAction, MachineActionRequest, MachineAnswer};

use crate::identity::OperatorOpts;
use crate::output::{self, Table};
use crate::{ids, project};

/// `signet machine`.
#[derive(Debug, clap::Args)]
pub struct MachineArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: MachineCommand,
}

#[derive(Debug, clap::Subcommand)]
enum MachineCommand {
    /// List machines.
    List,
    /// Show one machine.
    Show {
        /// The machine's id.
        id: String,
    },
    /// Approve a pending machine.
    Approve {
        /// The machine's id.
        id: String,
        /// The fingerprint the machine printed (required for tokenless requests).
        #[arg(long)]
        fingerprint: Option<String>,
    },
    /// Deny a pending machine.
    Deny {
        /// The machine's id.
        id: String,
    },
    /// Let a disabled machine read again.
    Enable {
        /// The machine's id.
        id: String,
    },
    /// Stop a machine from reading, reversibly.
    Disable {
        /// The machine's id.
        id: String,
    },
    /// Revoke a machine for good.
    Revoke {
        /// The machine's id.
        id: String,
    },
    /// Attach a machine to a project.
    Attach {
        /// The machine's id.
        id: String,
        /// The project (its name or id).
        #[arg(long)]
        project: String,
    },
    /// Detach a machine from a project.
    Detach {
        /// The machine's id.
        id: String,
        /// The project (its name or id).
        #[arg(long)]
        project: String,
    },
    /// Grant a machine secrets.
    Grant {
        /// The machine's id.
        id: String,
        /// A secret id (repeatable).
        #[arg(long, required = true, value_name = "ID")]
        secret: Vec<String>,
    },
    /// Take secrets back from a machine.
    Ungrant {
        /// The machine's id.
        id: String,
        /// A secret id (repeatable).
        #[arg(long, required = true, value_name = "ID")]
        secret: Vec<String>,
    },
    /// Set the source ranges a machine may read from (replaces the list).
    AllowCidr {
        /// The machine's id.
        id: String,
        /// The ranges, e.g. 10.0.0.0/8 203.0.113.7/32.
        #[arg(value_name = "CIDR", required_unless_present = "any")]
        cidrs: Vec<String>,
        /// Clear the list: allow any source.
        #[arg(long, conflicts_with = "cidrs")]
        any: bool,
    },
}

/// Runs a `machine` subcommand.
pub async fn run(args: MachineArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    let none = MachineActionRequest::default();
    let (verb, id, action, body) = match args.command {
        MachineCommand::List => {
            let r = client.machines().list().await?;
            if json {
                output::json(&r)?;
            } else {
                let mut t = Table::new(&[
                    "ID",
                    "NAME",
                    "HOSTNAME",
                    "STATUS",
                    "ENABLED",
                    "KIND",
                    "FINGERPRINT",
                ]);
                for m in &r.machines {
                    t.row(vec![
                        output::cell(&m.id),
                        output::cell(&m.name),
                        output::cell(&m.hostname),
                        output::cell(&m.status),
                        output::cell(&m.enabled),
                        output::cell(&m.kind),
                        output::cell(&m.fingerprint),
                    ]);
                }
                t.print("no machines")?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        MachineCommand::Show { id } => {
            let id = ids::machine(&id)?;
            let m = client.machines().show(&id).await?;
            if json {
                output::json(&m)?;
            } else {
                output::lines(describe(&m))?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        MachineCommand::Approve { id, fingerprint } => {
            let fingerprint = match fingerprint {
                Some(f) => {
                    let fp = Fingerprint::parse(&f).ok_or_else(|| {
                        anyhow::anyhow!("{f:?} is not a fingerprint (20 hex digits)")
                    })?;
                    Some(fp.to_string())
                }
                None => None,
            };
            let body = MachineActionRequest {
                fingerprint,
                ..none
            };
            ("approved", id, MachineAction::Approve, body)
        }
        MachineCommand::Deny { id } => ("denied", id, MachineAction::Deny, none),
        MachineCommand::Enable { id } => ("enabled", id, MachineAction::Enable, none),
        MachineCommand::Disable { id } => ("disabled", id, MachineAction::Disable, none),
        MachineCommand::Revoke { id } => ("revoked", id, MachineAction::Revoke, none),
        MachineCommand::Attach { id, project } => {
            let p = project::resolve(&client, &project).await?;
            let body = MachineActionRequest {
                project_id: Some(p.to_string()),
                ..none
            };
            ("attached", id, MachineAction::Attach, body)
        }
        MachineCommand::Detach { id, project } => {
            let p = project::resolve(&client, &project).await?;
            let body = MachineActionRequest {
                project_id: Some(p.to_string()),
                ..none
            };
            ("detached", id, MachineAction::Detach, body)
        }
        MachineCommand::Grant { id, secret } => {
            let body = MachineActionRequest {
                secret_ids: Some(secret_ids(&secret)?),
                ..none
            };
            ("granted", id, MachineAction::Grant, body)
        }
        MachineCommand::Ungrant { id, secret } => {
            let body = MachineActionRequest {
                secret_ids: Some(secret_ids(&secret)?),
                ..none
            };
            ("ungranted", id, MachineAction::Ungrant, body)
        }
        MachineCommand::AllowCidr { id, cidrs, any: _ } => {
            let body = MachineActionRequest {
                cidrs: Some(cidrs),
                ..none
            };
            ("updated", id, MachineAction::Cidrs, body)
        }
    };
    let id = ids::machine(&id)?;
    let m = client.machines().act(&id, action, &body).await?;
    if json {
        output::json(&m)?;
    } else {
        let mut lines = vec![format!("{verb} machine {}", output::cell(&m.id))];
        lines.extend(describe(&m).into_iter().skip(1));
        output::lines(lines)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn secret_ids(raw: &[String]) -> anyhow::Result<Vec<String>> {
    raw.iter()
        .map(|s| ids::secret(s).map(|id| id.to_string()))
        .collect()
}

/// A machine object as text: a title line, then its state and scope.
fn describe(m: &MachineAnswer) -> Vec<String> {
    let enabled = if m.enabled { "enabled" } else { "disabled" };
    vec![
        format!("machine {}", output::cell(&m.id)),
        format!(
            "  name:        {} (host {})",
            output::cell(&m.name),
            output::cell(&m.hostname)
        ),
        format!(
            "  status:      {} ({enabled}, {})",
            output::cell(&m.status),
            output::cell(&m.kind)
        ),
        format!("  fingerprint: {}", output::cell(&m.fingerprint)),
        format!("  projects:    {}", output::cell(&m.projects)),
        format!("  grants:      {}", output::cell(&m.grants)),
        format!("  cidrs:       {}", output::cell(&m.allowed_cidrs)),
        format!("  expires:     {}", output::at(m.expires_at)),
    ]
}
