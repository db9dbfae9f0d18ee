//! `signet machine`: approve enrolled machines, scope what they read, and cut them off.

use std::process::ExitCode;

use serde_json::{Value, json};
use signet_client::Fingerprint;

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
    let (verb, id, action, body) = match args.command {
        MachineCommand::List => {
            let r = client.request("GET", "/v1/admin/machines", None).await?;
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
                for m in r["machines"].as_array().into_iter().flatten() {
                    t.row(vec![
                        output::text(&m["id"]),
                        output::text(&m["name"]),
                        output::text(&m["hostname"]),
                        output::text(&m["status"]),
                        output::text(&m["enabled"]),
                        output::text(&m["kind"]),
                        output::text(&m["fingerprint"]),
                    ]);
                }
                t.print("no machines")?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        MachineCommand::Show { id } => {
            let id = ids::machine(&id)?;
            let m = client
                .request("GET", &format!("/v1/admin/machines/{id}"), None)
                .await?;
            if json {
                output::json(&m)?;
            } else {
                output::lines(describe(&m))?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        MachineCommand::Approve { id, fingerprint } => {
            let body = match fingerprint {
                Some(f) => {
                    let fp = Fingerprint::parse(&f).ok_or_else(|| {
                        anyhow::anyhow!("{f:?} is not a fingerprint (20 hex digits)")
                    })?;
                    json!({ "fingerprint": fp.to_string() })
                }
                None => json!({}),
            };
            ("approved", id, "approve", Some(body))
        }
        MachineCommand::Deny { id } => ("denied", id, "deny", None),
        MachineCommand::Enable { id } => ("enabled", id, "enable", None),
        MachineCommand::Disable { id } => ("disabled", id, "disable", None),
        MachineCommand::Revoke { id } => ("revoked", id, "revoke", None),
        MachineCommand::Attach { id, project } => {
            let p = project::resolve(&client, &project).await?;
            ("attached", id, "attach", Some(json!({ "projectId": p })))
        }
        MachineCommand::Detach { id, project } => {
            let p = project::resolve(&client, &project).await?;
            ("detached", id, "detach", Some(json!({ "projectId": p })))
        }
        MachineCommand::Grant { id, secret } => (
            "granted",
            id,
            "grant",
            Some(json!({ "secretIds": secret_ids(&secret)? })),
        ),
        MachineCommand::Ungrant { id, secret } => (
            "ungranted",
            id,
            "ungrant",
            Some(json!({ "secretIds": secret_ids(&secret)? })),
        ),
        MachineCommand::AllowCidr { id, cidrs, any: _ } => {
            ("updated", id, "cidrs", Some(json!({ "cidrs": cidrs })))
        }
    };
    let id = ids::machine(&id)?;
    let m = client
        .request(
            "POST",
            &format!("/v1/admin/machines/{id}/{action}"),
            body.as_ref(),
        )
        .await?;
    if json {
        output::json(&m)?;
    } else {
        let mut lines = vec![format!("{verb} machine {}", output::text(&m["id"]))];
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
fn describe(m: &Value) -> Vec<String> {
    let enabled = if m["enabled"].as_bool() == Some(false) {
        "disabled"
    } else {
        "enabled"
    };
    vec![
        format!("machine {}", output::text(&m["id"])),
        format!(
            "  name:        {} (host {})",
            output::text(&m["name"]),
            output::text(&m["hostname"])
        ),
        format!(
            "  status:      {} ({enabled}, {})",
            output::text(&m["status"]),
            output::text(&m["kind"])
        ),
        format!("  fingerprint: {}", output::text(&m["fingerprint"])),
        format!("  projects:    {}", output::text(&m["projects"])),
        format!("  grants:      {}", output::text(&m["grants"])),
        format!("  cidrs:       {}", output::text(&m["allowedCidrs"])),
        format!("  expires:     {}", output::time(&m["expiresAt"])),
    ]
}
