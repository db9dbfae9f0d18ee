//! `signet issuer add|list|show|update|delete` and `signet issuer rule add|list|delete`: the OIDC
//! issuers whose platform tokens (CI jobs, Kubernetes service accounts) may enroll workloads,
//! and the rules that say which claims get which projects and secrets.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use signet_client::api::issuer::{
    IssuerAnswer, IssuerCreateRequest, IssuerRuleCreateRequest, IssuerUpdateRequest,
};

use crate::duration;
use crate::identity::OperatorOpts;
use crate::output::{self, Table};

/// `signet issuer`.
#[derive(Debug, clap::Args)]
pub struct IssuerArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: IssuerCommand,
}

#[derive(Debug, clap::Subcommand)]
enum IssuerCommand {
    /// Trust an issuer: its keys are discovered from --issuer, or pinned with --jwks.
    Add {
        /// A label.
        #[arg(long)]
        name: String,
        /// The tokens' exact `iss`, e.g. https://token.actions.githubusercontent.com.
        #[arg(long)]
        issuer: String,
        /// The audience tokens must carry in `aud`.
        #[arg(long)]
        audience: String,
        /// A JWKS file to pin instead of discovering the keys.
        #[arg(long, value_name = "FILE")]
        jwks: Option<PathBuf>,
        /// An accepted `alg` (repeatable) [default: RS256, ES256, EdDSA].
        #[arg(long = "algorithm", value_name = "ALG")]
        algorithms: Vec<String>,
        /// Clock leeway for exp, nbf and iat, e.g. 60s (at most 5m) [default: 60s].
        #[arg(long, value_parser = duration::parse)]
        leeway: Option<u64>,
    },
    /// Trusted issuers.
    List,
    /// One issuer with its rules, in the order they are tried.
    Show {
        /// The issuer's id (iss_…).
        id: String,
    },
    /// Change an issuer's name, audience, algorithms, leeway or pinned keys.
    Update {
        /// The issuer's id (iss_…).
        id: String,
        /// A new label.
        #[arg(long)]
        name: Option<String>,
        /// A new audience.
        #[arg(long)]
        audience: Option<String>,
        /// New pinned keys (a JWKS file; only for an issuer with pinned keys).
        #[arg(long, value_name = "FILE")]
        jwks: Option<PathBuf>,
        /// The accepted `alg`s (repeatable; replaces the list).
        #[arg(long = "algorithm", value_name = "ALG")]
        algorithms: Vec<String>,
        /// A new leeway.
        #[arg(long, value_parser = duration::parse)]
        leeway: Option<u64>,
    },
    /// Stop trusting an issuer (its rules go too; machines it enrolled keep their lifetimes).
    Delete {
        /// The issuer's id (iss_…).
        id: String,
    },
    /// Rules: which claims get which projects and secrets.
    #[command(subcommand)]
    Rule(RuleCommand),
}

#[derive(Debug, clap::Subcommand)]
enum RuleCommand {
    /// Add a rule, tried after the existing ones: every --claim must equal the token's claim.
    Add {
        /// The issuer's id (iss_…).
        issuer: String,
        /// A label.
        #[arg(long)]
        name: String,
        /// A condition NAME=VALUE (repeatable), e.g. repository=acme/api.
        #[arg(long = "claim", value_name = "NAME=VALUE", required = true)]
        claims: Vec<String>,
        /// A project the machine joins (repeatable).
        #[arg(long = "project", value_name = "PROJECT_ID", required = true)]
        projects: Vec<String>,
        /// A secret the machine is granted (repeatable).
        #[arg(long = "secret", value_name = "SECRET_ID")]
        secrets: Vec<String>,
        /// The machine's lifetime, e.g. 1h [default: 1h].
        #[arg(long, value_parser = duration::parse)]
        ttl: Option<u64>,
    },
    /// An issuer's rules, in the order they are tried.
    List {
        /// The issuer's id (iss_…).
        issuer: String,
    },
    /// Remove a rule.
    Delete {
        /// The issuer's id (iss_…).
        issuer: String,
        /// The rule's id (isr_…).
        rule: String,
    },
}

fn read_jwks(path: &PathBuf) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn leeway(v: Option<u64>) -> anyhow::Result<Option<u32>> {
    v.map(|s| u32::try_from(s).context("leeway is too long"))
        .transpose()
}

fn print_issuer(i: &IssuerAnswer) -> anyhow::Result<()> {
    output::lines([
        format!("issuer:     {} ({})", i.id, output::cell(&i.name)),
        format!("iss:        {}", output::cell(&i.issuer)),
        format!("audience:   {}", output::cell(&i.audience)),
        format!(
            "keys:       {}",
            if i.pinned { "pinned" } else { "discovered" }
        ),
        format!("algorithms: {}", i.algorithms.join(", ")),
        format!("leeway:     {}s", i.leeway_seconds),
    ])?;
    print_rules(i)
}

fn print_rules(i: &IssuerAnswer) -> anyhow::Result<()> {
    let mut t = Table::new(&["#", "ID", "NAME", "CLAIMS", "PROJECTS", "SECRETS", "TTL"]);
    for r in &i.rules {
        let claims: Vec<String> = r.claims.iter().map(|(k, v)| format!("{k}={v}")).collect();
        t.row(vec![
            r.position.to_string(),
            r.id.to_string(),
            output::cell(&r.name),
            output::cell(&claims.join(" ")),
            r.project_ids
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            r.secret_ids
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            format!("{}s", r.machine_ttl_seconds),
        ]);
    }
    t.print("no rules: no token can enroll yet")
}

/// Runs an `issuer` subcommand.
pub async fn run(args: IssuerArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    let issuers = client.issuers();
    let shown = match args.command {
        IssuerCommand::Add {
            name,
            issuer,
            audience,
            jwks,
            algorithms,
            leeway: l,
        } => {
            let jwks = jwks.as_ref().map(read_jwks).transpose()?;
            issuers
                .create(&IssuerCreateRequest {
                    name,
                    issuer,
                    jwks,
                    audience,
                    algorithms: (!algorithms.is_empty()).then_some(algorithms),
                    leeway_seconds: leeway(l)?,
                })
                .await?
        }
        IssuerCommand::List => {
            let list = issuers.list().await?;
            if json {
                output::json(&list)?;
            } else {
                let mut t = Table::new(&["ID", "NAME", "ISSUER", "AUDIENCE", "KEYS", "RULES"]);
                for i in &list.issuers {
                    t.row(vec![
                        i.id.to_string(),
                        output::cell(&i.name),
                        output::cell(&i.issuer),
                        output::cell(&i.audience),
                        (if i.pinned { "pinned" } else { "discovered" }).to_owned(),
                        i.rules.len().to_string(),
                    ]);
                }
                t.print("no trusted issuers")?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        IssuerCommand::Show { id } => issuers.show(&id).await?,
        IssuerCommand::Update {
            id,
            name,
            audience,
            jwks,
            algorithms,
            leeway: l,
        } => {
            let req = IssuerUpdateRequest {
                name,
                jwks: jwks.as_ref().map(read_jwks).transpose()?,
                audience,
                algorithms: (!algorithms.is_empty()).then_some(algorithms),
                leeway_seconds: leeway(l)?,
            };
            if req == IssuerUpdateRequest::default() {
                bail!(
                    "nothing to change: give --name, --audience, --jwks, --algorithm or --leeway"
                );
            }
            issuers.update(&id, &req).await?
        }
        IssuerCommand::Delete { id } => {
            let d = issuers.delete(&id).await?;
            if json {
                output::json(&d)?;
            } else {
                output::lines([format!("Issuer {} and its rules deleted.", d.id)])?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        IssuerCommand::Rule(RuleCommand::Add {
            issuer,
            name,
            claims,
            projects,
            secrets,
            ttl,
        }) => {
            let mut conditions = BTreeMap::new();
            for c in claims {
                let Some((k, v)) = c.split_once('=') else {
                    bail!("--claim {c:?}: write NAME=VALUE");
                };
                if conditions.insert(k.to_owned(), v.to_owned()).is_some() {
                    bail!("--claim {k} is given twice");
                }
            }
            issuers
                .add_rule(
                    &issuer,
                    &IssuerRuleCreateRequest {
                        name,
                        claims: conditions,
                        project_ids: projects,
                        secret_ids: secrets,
                        machine_ttl_seconds: ttl
                            .map(|t| i64::try_from(t).context("ttl is too long"))
                            .transpose()?,
                    },
                )
                .await?
        }
        IssuerCommand::Rule(RuleCommand::List { issuer }) => {
            let i = issuers.show(&issuer).await?;
            if json {
                output::json(&i.rules)?;
            } else {
                print_rules(&i)?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        IssuerCommand::Rule(RuleCommand::Delete { issuer, rule }) => {
            issuers.delete_rule(&issuer, &rule).await?
        }
    };
    if json {
        output::json(&shown)?;
    } else {
        print_issuer(&shown)?;
    }
    Ok(ExitCode::SUCCESS)
}
