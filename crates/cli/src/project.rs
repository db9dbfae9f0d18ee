//! `signet project`: projects group secrets, and are what machines are attached to.

use std::process::ExitCode;

use signet_client::admin::keys::Keys;
use signet_client::{OperatorClient, ProjectId};

use crate::identity::OperatorOpts;
use crate::output::{self, Table};
use crate::progress::{Progress, Unit};

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
    /// Create a canary secret: its value is generated on the server and never shown. Grant it
    /// only to machines whose read of it means compromise: the read freezes the whole project
    /// (every machine request into it answers 423) until an admin unfreezes it.
    Canary {
        /// The project (its name or id).
        project: String,
        /// The canary's name: one a thief would want.
        name: String,
        /// The value's length, 1-1024 (default 32; uuid is always 36).
        #[arg(long)]
        length: Option<u32>,
        /// symbols (default), alphanumeric, numbers, hex, base64url or uuid.
        #[arg(long)]
        charset: Option<String>,
    },
    /// Lift a canary's freeze from a project (admins). With an operator key no second factor
    /// is asked: the key itself was issued after a sign-in with one.
    Unfreeze {
        /// The project (its name or id).
        project: String,
    },
    /// Replace a project's key with a new one and re-wrap every value sealed under it (secret
    /// versions, database connection and lease passwords) in one step, while the server
    /// serves (owners and admins). The old key is gone when this answers.
    RotateKey {
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
        ProjectCommand::Canary {
            project,
            name,
            length,
            charset,
        } => {
            let id = resolve(&client, &project).await?;
            let s = client
                .projects()
                .create_canary(&id, &name, length, charset.as_deref())
                .await?;
            if json {
                output::json(&s)?;
            } else {
                output::lines([format!(
                    "created canary {} ({}) in project {}",
                    output::cell(&s.id),
                    output::cell(&s.name),
                    output::cell(&s.project_id)
                )])?;
            }
        }
        ProjectCommand::Unfreeze { project } => {
            let id = resolve(&client, &project).await?;
            let p = client.projects().unfreeze(&id).await?;
            if json {
                output::json(&p)?;
            } else {
                output::lines([format!(
                    "unfroze project {} ({})",
                    output::cell(&p.id),
                    output::cell(&p.name)
                )])?;
            }
        }
        ProjectCommand::RotateKey { project } => {
            let id = resolve(&client, &project).await?;
            let bar = Progress::start(&format!("rotating the key of {id}"), None, Unit::Items);
            let r = Keys::of(&client).rotate_project(&id).await;
            bar.finish();
            let r = r?;
            if json {
                output::json(&r)?;
            } else {
                output::lines([format!(
                    "project {} has key generation {}: {} values re-wrapped, the old key is gone",
                    output::cell(&r.project_id),
                    r.generation,
                    r.rewrapped
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
