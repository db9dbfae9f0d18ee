//! `signet ai-agent`: operators approve a pending machine as an AI agent with its scopes, change
//! them, and cut agents off. (`signet agent` is the managed-secret sync agent, a machine.)
//!
//! An agent's host enrolls like a machine (`signet enroll --request`, which prints the
//! fingerprint), then runs `signet mcp` with that identity once approved here.

use std::process::ExitCode;

use signet_client::Fingerprint;
use signet_client::api::admin::machine::{MachineAction, MachineActionRequest};
use signet_client::api::ai_agent::{AgentScopesRequest, AiAgentAnswer, ApproveAgentRequest};

use crate::identity::OperatorOpts;
use crate::output::{self, Table};
use crate::{ids, project};

/// `signet ai-agent`.
#[derive(Debug, clap::Args)]
pub struct AiAgentArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: AiAgentCommand,
}

/// The scope and allowlist flags of `approve` and `scopes`.
#[derive(Debug, clap::Args)]
struct ScopeFlags {
    /// A scope (repeatable): projects.read, projects.write, secrets.read, secrets.write,
    /// machines.read, machines.write, audit.read.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Limit the agent to this project, by name or id (repeatable) [default: every project].
    #[arg(long = "project", value_name = "PROJECT")]
    projects: Vec<String>,
}

#[derive(Debug, clap::Subcommand)]
enum AiAgentCommand {
    /// List AI agents.
    List,
    /// Approve a pending machine request as an AI agent.
    Approve {
        /// The pending machine's id (from `signet enroll --request` on the agent's host).
        id: String,
        /// The fingerprint the agent's host printed.
        #[arg(long)]
        fingerprint: String,
        #[command(flatten)]
        scopes: ScopeFlags,
    },
    /// Replace an agent's scopes and project allowlist.
    Scopes {
        /// The agent's id.
        id: String,
        #[command(flatten)]
        scopes: ScopeFlags,
    },
    /// Stop an agent, reversibly.
    Disable {
        /// The agent's id.
        id: String,
    },
    /// Let a disabled agent act again.
    Enable {
        /// The agent's id.
        id: String,
    },
    /// Revoke an agent for good.
    Delete {
        /// The agent's id.
        id: String,
    },
}

async fn project_ids(
    client: &signet_client::OperatorClient,
    names: &[String],
) -> anyhow::Result<Option<Vec<String>>> {
    if names.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        out.push(project::resolve(client, n).await?.to_string());
    }
    Ok(Some(out))
}

/// Runs an `ai-agent` subcommand.
pub async fn run(args: AiAgentArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    let (verb, agent) = match args.command {
        AiAgentCommand::List => {
            let r = client.ai_agents().list().await?;
            if json {
                output::json(&r)?;
            } else {
                let mut t = Table::new(&["ID", "NAME", "STATUS", "ENABLED", "SCOPES", "PROJECTS"]);
                for a in &r.agents {
                    t.row(vec![
                        output::cell(&a.machine.id),
                        output::cell(&a.machine.name),
                        output::cell(&a.machine.status),
                        output::cell(&a.machine.enabled),
                        a.scopes.join(","),
                        projects_text(a),
                    ]);
                }
                t.print("no AI agents")?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        AiAgentCommand::Approve {
            id,
            fingerprint,
            scopes,
        } => {
            let fp = Fingerprint::parse(&fingerprint).ok_or_else(|| {
                anyhow::anyhow!("{fingerprint:?} is not a fingerprint (20 hex digits)")
            })?;
            let request = ApproveAgentRequest {
                fingerprint: fp.to_string(),
                scopes: scopes.scopes,
                project_ids: project_ids(&client, &scopes.projects).await?,
            };
            let id = ids::machine(&id)?;
            ("approved", client.ai_agents().approve(&id, &request).await?)
        }
        AiAgentCommand::Scopes { id, scopes } => {
            let request = AgentScopesRequest {
                scopes: scopes.scopes,
                project_ids: project_ids(&client, &scopes.projects).await?,
            };
            let id = ids::machine(&id)?;
            (
                "updated",
                client.ai_agents().set_scopes(&id, &request).await?,
            )
        }
        AiAgentCommand::Disable { id } => {
            return act(&client, &id, MachineAction::Disable, json).await;
        }
        AiAgentCommand::Enable { id } => {
            return act(&client, &id, MachineAction::Enable, json).await;
        }
        AiAgentCommand::Delete { id } => {
            return act(&client, &id, MachineAction::Revoke, json).await;
        }
    };
    if json {
        output::json(&agent)?;
    } else {
        output::lines(describe(verb, &agent))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Disable, enable and delete are the machine actions on the agent's row; only an agent's id
/// is accepted, so this never cuts off an ordinary machine by mistake.
async fn act(
    client: &signet_client::OperatorClient,
    id: &str,
    action: MachineAction,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let id = ids::machine(id)?;
    let agents = client.ai_agents().list().await?;
    if !agents.agents.iter().any(|a| a.machine.id == id) {
        anyhow::bail!("{id} is not an AI agent (see `signet ai-agent list`)");
    }
    let m = client
        .machines()
        .act(&id, action, &MachineActionRequest::default())
        .await?;
    if json {
        output::json(&m)?;
    } else {
        let verb = match action {
            MachineAction::Disable => "disabled",
            MachineAction::Enable => "enabled",
            _ => "deleted",
        };
        output::lines([format!("{verb} AI agent {}", output::cell(&m.id))])?;
    }
    Ok(ExitCode::SUCCESS)
}

fn projects_text(a: &AiAgentAnswer) -> String {
    match &a.project_ids {
        None => "all".to_owned(),
        Some(p) => p
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
    }
}

fn describe(verb: &str, a: &AiAgentAnswer) -> Vec<String> {
    let enabled = if a.machine.enabled {
        "enabled"
    } else {
        "disabled"
    };
    vec![
        format!("{verb} AI agent {}", output::cell(&a.machine.id)),
        format!("  name:        {}", output::cell(&a.machine.name)),
        format!(
            "  status:      {} ({enabled})",
            output::cell(&a.machine.status)
        ),
        format!("  fingerprint: {}", output::cell(&a.machine.fingerprint)),
        format!("  scopes:      {}", a.scopes.join(",")),
        format!("  projects:    {}", projects_text(a)),
    ]
}
