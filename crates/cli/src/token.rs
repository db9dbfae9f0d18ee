//! `signet token`: bootstrap tokens (a one-line install that waits for approval) and
//! enrollment tokens (scoped, auto-approved, ephemeral machines).

use std::process::ExitCode;

use serde_json::{Map, Value, json};

use crate::identity::OperatorOpts;
use crate::output::{self, Table};
use crate::{duration, ids, project};

/// `signet token`.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TokenCommand {
    /// Create a bootstrap token and print the one-line install command.
    Bootstrap,
    /// Enrollment tokens.
    #[command(subcommand)]
    Enrollment(EnrollmentCommand),
}

#[derive(Debug, clap::Subcommand)]
enum EnrollmentCommand {
    /// Create an enrollment token (the token is shown once).
    Create(CreateArgs),
    /// List enrollment tokens.
    List,
    /// Revoke an enrollment token.
    Revoke {
        /// The token's id.
        id: String,
    },
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// A project the machines are attached to (its name or id; repeatable).
    #[arg(long, required = true)]
    project: Vec<String>,
    /// A secret the machines are granted (repeatable).
    #[arg(long, value_name = "ID")]
    secret: Vec<String>,
    /// How many machines may enroll with it.
    #[arg(long)]
    uses: Option<u64>,
    /// How long the token stays valid (e.g. 10m, 1h, 7d).
    #[arg(long, value_name = "DUR", value_parser = duration::parse)]
    ttl: Option<u64>,
    /// How long each enrolled machine lives (e.g. 1h).
    #[arg(long, value_name = "DUR", value_parser = duration::parse)]
    machine_ttl: Option<u64>,
    /// Only accept enrollments from this source range.
    #[arg(long, value_name = "CIDR")]
    source_cidr: Option<String>,
    /// Only accept hostnames matching this regular expression.
    #[arg(long, value_name = "RE")]
    hostname_pattern: Option<String>,
    /// A name for the token.
    #[arg(long)]
    name: Option<String>,
}

/// Runs a `token` subcommand.
pub async fn run(args: TokenArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    match args.command {
        TokenCommand::Bootstrap => {
            let t = client
                .request("POST", "/v1/admin/tokens/bootstrap", Some(&json!({})))
                .await?;
            if json {
                output::json(&t)?;
            } else {
                output::lines([
                    format!("token:   {}", output::text(&t["token"])),
                    format!("expires: {}", output::time(&t["expiresAt"])),
                    String::new(),
                    "Run on the machine to enroll it (it then waits for approval):".to_owned(),
                    format!("  {}", output::text(&t["command"])),
                ])?;
            }
        }
        TokenCommand::Enrollment(EnrollmentCommand::Create(c)) => {
            let mut project_ids = Vec::new();
            for p in &c.project {
                project_ids.push(project::resolve(&client, p).await?);
            }
            let secret_ids = c
                .secret
                .iter()
                .map(|s| ids::secret(s))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut body = Map::new();
            body.insert("projectIds".into(), json!(project_ids));
            body.insert("secretIds".into(), json!(secret_ids));
            let optional = [
                ("name", c.name.map(Value::from)),
                ("maxUses", c.uses.map(Value::from)),
                ("ttlSecs", c.ttl.map(Value::from)),
                ("machineTtlSecs", c.machine_ttl.map(Value::from)),
                ("sourceCidr", c.source_cidr.map(Value::from)),
                ("hostnamePattern", c.hostname_pattern.map(Value::from)),
            ];
            for (k, v) in optional {
                if let Some(v) = v {
                    body.insert(k.into(), v);
                }
            }
            let t = client
                .request(
                    "POST",
                    "/v1/admin/tokens/enrollment",
                    Some(&Value::Object(body)),
                )
                .await?;
            if json {
                output::json(&t)?;
            } else {
                let vault = &client.identity().vault_id;
                output::lines([
                    format!("created enrollment token {}", output::text(&t["id"])),
                    format!("token:   {}   (shown once)", output::text(&t["token"])),
                    format!("expires: {}", output::time(&t["expiresAt"])),
                    format!("uses:    {}", output::text(&t["maxUses"])),
                    String::new(),
                    "Enroll a machine with:".to_owned(),
                    format!(
                        "  signet enroll --server {} --vault {vault} --enrollment-token <token>",
                        client.identity().api_url
                    ),
                ])?;
            }
        }
        TokenCommand::Enrollment(EnrollmentCommand::List) => {
            let r = client
                .request("GET", "/v1/admin/tokens/enrollment", None)
                .await?;
            if json {
                output::json(&r)?;
            } else {
                let mut t = Table::new(&[
                    "ID", "NAME", "PROJECTS", "SECRETS", "USES", "EXPIRES", "STATE",
                ]);
                for tok in r["tokens"].as_array().into_iter().flatten() {
                    let uses = format!(
                        "{}/{}",
                        output::text(&tok["uses"]),
                        output::text(&tok["maxUses"])
                    );
                    let state = if tok["revokedAt"].is_null() {
                        "active"
                    } else {
                        "revoked"
                    };
                    t.row(vec![
                        output::text(&tok["id"]),
                        output::text(&tok["name"]),
                        output::text(&tok["projectIds"]),
                        output::text(&tok["secretIds"]),
                        uses,
                        output::time(&tok["expiresAt"]),
                        state.to_owned(),
                    ]);
                }
                t.print("no enrollment tokens")?;
            }
        }
        TokenCommand::Enrollment(EnrollmentCommand::Revoke { id }) => {
            let id = ids::segment("token", &id)?;
            let t = client
                .request(
                    "POST",
                    &format!("/v1/admin/tokens/enrollment/{id}/revoke"),
                    None,
                )
                .await?;
            if json {
                output::json(&t)?;
            } else {
                output::lines([format!(
                    "revoked enrollment token {}",
                    output::text(&t["id"])
                )])?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
