//! `signet project`: projects group secrets, and are what machines are attached to.

use std::process::ExitCode;

use serde_json::{Value, json};
use signet_client::{OperatorClient, ProjectId};

use crate::identity::OperatorOpts;
use crate::output::{self, Table};

/// `signet project`.
#[derive(Debug, clap::Args)]
pub struct ProjectArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: ProjectCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ProjectCommand {
    /// Create a project.
    Create {
        /// Its name.
        name: String,
    },
    /// List projects.
    List,
}

/// Runs a `project` subcommand.
pub async fn run(args: ProjectArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    match args.command {
        ProjectCommand::Create { name } => {
            let p = client
                .request("POST", "/v1/admin/projects", Some(&json!({ "name": name })))
                .await?;
            if json {
                output::json(&p)?;
            } else {
                output::lines([format!(
                    "created project {} ({})",
                    output::text(&p["id"]),
                    output::text(&p["name"])
                )])?;
            }
        }
        ProjectCommand::List => {
            let r = client.request("GET", "/v1/admin/projects", None).await?;
            if json {
                output::json(&r)?;
            } else {
                let mut t = Table::new(&["ID", "NAME", "CREATED"]);
                for p in r["projects"].as_array().into_iter().flatten() {
                    t.row(vec![
                        output::text(&p["id"]),
                        output::text(&p["name"]),
                        output::time(&p["createdAt"]),
                    ]);
                }
                t.print("no projects")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A project given as its id, or as its exact name (which must be unique).
pub async fn resolve(client: &OperatorClient, wanted: &str) -> anyhow::Result<ProjectId> {
    if let Ok(id) = ProjectId::parse(wanted) {
        return Ok(id);
    }
    let r = client.request("GET", "/v1/admin/projects", None).await?;
    let hits: Vec<&Value> = r["projects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == wanted)
        .collect();
    match hits.as_slice() {
        [one] => {
            let id = one["id"].as_str().unwrap_or_default();
            ProjectId::parse(id)
                .map_err(|_| anyhow::anyhow!("the server listed a malformed project id {id:?}"))
        }
        [] => anyhow::bail!("no project named {wanted:?}"),
        _ => anyhow::bail!("several projects are named {wanted:?}; use the project id"),
    }
}
