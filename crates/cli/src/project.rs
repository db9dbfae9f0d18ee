//! `signet project`: projects group secrets, and are what machines are attached to.

use std::process::ExitCode;

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
    /// Rename a project (its id, secrets and machines stay as they are).
    Rename {
        /// The project (its name or id).
        project: String,
        /// Its new name.
        new_name: String,
    },
    /// Move a project, with every secret in it, to the trash (`signet trash` restores it).
    Delete {
        /// The project (its name or id).
        project: String,
    },
}

/// Runs a `project` subcommand.
pub async fn run(args: ProjectArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    match args.command {
        ProjectCommand::Create { name } => {
            let p = client.projects().create(&name).await?;
            if json {
                output::json(&p)?;
            } else {
                output::lines([format!(
                    "created project {} ({})",
                    output::cell(&p.id),
                    output::cell(&p.name)
                )])?;
            }
        }
        ProjectCommand::Rename { project, new_name } => {
            let id = resolve(&client, &project).await?;
            let p = client.projects().rename(&id, &new_name).await?;
            if json {
                output::json(&p)?;
            } else {
                output::lines([format!(
                    "renamed project {} ({})",
                    output::cell(&p.id),
                    output::cell(&p.name)
                )])?;
            }
        }
        ProjectCommand::Delete { project } => {
            let id = resolve(&client, &project).await?;
            let d = client.trash().delete_project(&id).await?;
            if json {
                output::json(&d)?;
            } else {
                output::lines([format!(
                    "moved project {} to the trash",
                    output::cell(&d.id)
                )])?;
            }
        }
        ProjectCommand::List => {
            let r = client.projects().list().await?;
            if json {
                output::json(&r)?;
            } else {
                let mut t = Table::new(&["ID", "NAME", "CREATED"]);
                for p in &r.projects {
                    t.row(vec![
                        output::cell(&p.id),
                        output::cell(&p.name),
                        output::at(p.created_at),
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
    let mut hits: Vec<ProjectId> = client
        .projects()
        .list()
        .await?
        .projects
        .into_iter()
        .filter(|p| p.name == wanted)
        .map(|p| p.id)
        .collect();
    match hits.len() {
        1 => Ok(hits.remove(0)),
        0 => anyhow::bail!("no project named {wanted:?}"),
        _ => anyhow::bail!("several projects are named {wanted:?}; use the project id"),
    }
}
