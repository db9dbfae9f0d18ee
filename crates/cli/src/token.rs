//! `signet token`: bootstrap tokens (a one-line install that waits for approval) and
//! enrollment tokens (scoped, auto-approved, ephemeral machines).

use std::process::ExitCode;

use signet_client::api::admin::token::EnrollmentTokenRequest;

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

/// A count or duration the server takes in a narrower integer; beyond it the server would refuse
/// the body, so the CLI refuses first.
fn narrow<T: TryFrom<u64>>(v: Option<u64>, what: &str) -> anyhow::Result<Option<T>> {
    v.map(|n| T::try_from(n).map_err(|_| anyhow::anyhow!("{what} {n} is too large")))
        .transpose()
}

/// Runs a `token` subcommand.
pub async fn run(args: TokenArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    match args.command {
        TokenCommand::Bootstrap => {
            let t = client.tokens().bootstrap().await?;
            if json {
                output::json(&t)?;
            } else {
                output::lines([
                    format!("token:   {}", output::cell(&t.token)),
                    format!("expires: {}", output::at(t.expires_at)),
                    String::new(),
                    "Run on the machine to enroll it (it then waits for approval):".to_owned(),
                    format!("  {}", output::cell(&t.command)),
                ])?;
            }
        }
        TokenCommand::Enrollment(EnrollmentCommand::Create(c)) => {
            let mut project_ids = Vec::new();
            for p in &c.project {
                project_ids.push(project::resolve(&client, p).await?.to_string());
            }
            let secret_ids = c
                .secret
                .iter()
                .map(|s| ids::secret(s).map(|id| id.to_string()))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let spec = EnrollmentTokenRequest {
                name: c.name,
                project_ids,
                secret_ids,
                max_uses: narrow(c.uses, "--uses")?,
                ttl_secs: narrow(c.ttl, "--ttl")?,
                machine_ttl_secs: narrow(c.machine_ttl, "--machine-ttl")?,
                source_cidr: c.source_cidr,
                hostname_pattern: c.hostname_pattern,
            };
            let t = client.tokens().create_enrollment(&spec).await?;
            if json {
                output::json(&t)?;
            } else {
                let vault = &client.identity().vault_id;
                output::lines([
                    format!("created enrollment token {}", output::cell(&t.id)),
                    format!("token:   {}   (shown once)", output::cell(&t.token)),
                    format!("expires: {}", output::at(t.expires_at)),
                    format!("uses:    {}", output::cell(&t.max_uses)),
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
            let r = client.tokens().enrollment_list().await?;
            if json {
                output::json(&r)?;
            } else {
                let mut t = Table::new(&[
                    "ID", "NAME", "PROJECTS", "SECRETS", "USES", "EXPIRES", "STATE",
                ]);
                for tok in &r.tokens {
                    let uses = format!("{}/{}", tok.uses, tok.max_uses);
                    let state = if tok.revoked_at.is_none() {
                        "active"
                    } else {
                        "revoked"
                    };
                    t.row(vec![
                        output::cell(&tok.id),
                        output::cell(&tok.name),
                        output::cell(&tok.project_ids),
                        output::cell(&tok.secret_ids),
                        uses,
                        output::at(tok.expires_at),
                        state.to_owned(),
                    ]);
                }
                t.print("no enrollment tokens")?;
            }
        }
        TokenCommand::Enrollment(EnrollmentCommand::Revoke { id }) => {
            let id = ids::segment("token", &id)?;
            let t = client.tokens().revoke_enrollment(id).await?;
            if json {
                output::json(&t)?;
            } else {
                output::lines([format!("revoked enrollment token {}", output::cell(&t.id))])?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
