//! `signet policy`: access policies, and `signet secret policy` to bind one to a secret.

use std::process::ExitCode;

use signet_client::api::admin::policy::{CoSign, PolicyAnswer, PolicyRules, TimeWindow};
use signet_client::{OperatorClient, PolicyId, ProjectId};

use crate::identity::OperatorOpts;
use crate::output::{self, Table};
use crate::{duration, ids, project};

/// `signet policy`.
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: PolicyCommand,
}

/// The axes, each off unless given. `update` replaces every axis: what is not given is off.
#[derive(Debug, Clone, clap::Args)]
struct RuleArgs {
    /// Time window `HH:MM-HH:MM` (an end before the start wraps past midnight).
    #[arg(long, requires = "tz")]
    window: Option<String>,
    /// IANA time zone of the window, e.g. `Europe/Oslo`.
    #[arg(long, requires = "window")]
    tz: Option<String>,
    /// Days the window opens: `mon-fri`, `sat,sun`, ... (default every day).
    #[arg(long, requires = "window")]
    days: Option<String>,
    /// A network reads may come from (canonical CIDR); repeat for several.
    #[arg(long = "cidr")]
    cidrs: Vec<String>,
    /// Reads per machine per minute.
    #[arg(long)]
    per_minute: Option<u32>,
    /// Reads per machine per day (UTC).
    #[arg(long)]
    per_day: Option<u32>,
    /// A machine that must have read the secret recently (with --within).
    #[arg(long, requires = "within")]
    cosign: Option<String>,
    /// How recently the co-signing machine must have read: `60s`, `5m`, ...
    #[arg(long, requires = "cosign", value_parser = duration::parse)]
    within: Option<u64>,
    /// No reads at or after this instant (RFC 3339).
    #[arg(long)]
    expires: Option<String>,
    /// At most this many reads, by all machines together.
    #[arg(long)]
    max_reads: Option<u64>,
    /// Rotate the secret after this many reads of a version.
    #[arg(long)]
    rotate_after: Option<u64>,
}

#[derive(Debug, clap::Subcommand)]
enum PolicyCommand {
    /// Create a policy in a project.
    Create {
        /// The project (its name or id).
        #[arg(long)]
        project: String,
        /// The policy's name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        rules: RuleArgs,
    },
    /// List a project's policies.
    List {
        /// The project (its name or id).
        #[arg(long)]
        project: String,
    },
    /// Show one policy.
    Show {
        /// The project (its name or id).
        #[arg(long)]
        project: String,
        /// The policy's id.
        id: String,
    },
    /// Replace a policy's rules (axes not given are turned off), optionally renaming it.
    Update {
        /// The project (its name or id).
        #[arg(long)]
        project: String,
        /// The policy's id.
        id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        rules: RuleArgs,
    },
    /// Delete a policy no secret is bound to.
    Delete {
        /// The project (its name or id).
        #[arg(long)]
        project: String,
        /// The policy's id.
        id: String,
    },
}

/// Expands `mon-fri,sun` into day names; the server checks each.
fn days(spec: &str) -> anyhow::Result<Vec<String>> {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let index = |d: &str| {
        DAYS.iter()
            .position(|n| n.eq_ignore_ascii_case(d.trim()))
            .ok_or_else(|| anyhow::anyhow!("unknown day {d:?}: use mon..sun"))
    };
    let mut out = Vec::new();
    for part in spec.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (index(a)?, index(b)?);
                let mut i = a;
                loop {
                    out.push(DAYS[i].to_owned());
                    if i == b {
                        break;
                    }
                    i = (i + 1) % 7;
                }
            }
            None => out.push(DAYS[index(part)?].to_owned()),
        }
    }
    Ok(out)
}

impl RuleArgs {
    fn rules(self) -> anyhow::Result<PolicyRules> {
        let window = match (self.window, self.tz) {
            (Some(w), Some(tz)) => {
                let (start, end) = w
                    .split_once('-')
                    .ok_or_else(|| anyhow::anyhow!("--window is HH:MM-HH:MM"))?;
                Some(TimeWindow {
                    start: start.to_owned(),
                    end: end.to_owned(),
                    time_zone: tz,
                    days: self
                        .days
                        .as_deref()
                        .map(days)
                        .transpose()?
                        .unwrap_or_default(),
                })
            }
            _ => None,
        };
        let cosign = match (self.cosign, self.within) {
            (Some(m), Some(secs)) => Some(CoSign {
                machine_id: ids::machine(&m)?.to_string(),
                within_seconds: u32::try_from(secs)
                    .map_err(|_| anyhow::anyhow!("--within is too long"))?,
            }),
            _ => None,
        };
        Ok(PolicyRules {
            window,
            cidrs: (!self.cidrs.is_empty()).then_some(self.cidrs),
            per_minute: self.per_minute,
            per_day: self.per_day,
            cosign,
            expires_at: self.expires,
            max_reads: self.max_reads,
            rotate_after_reads: self.rotate_after,
        })
    }
}

fn policy_id(raw: &str) -> anyhow::Result<PolicyId> {
    PolicyId::parse(raw)
        .map_err(|_| anyhow::anyhow!("{raw:?} is not a policy id (pol_ and 10 letters or digits)"))
}

/// The axes a policy has on, for the listing.
fn axes(r: &PolicyRules) -> String {
    let mut on = Vec::new();
    if let Some(w) = &r.window {
        on.push(format!("window {}-{} {}", w.start, w.end, w.time_zone));
    }
    if let Some(c) = &r.cidrs {
        on.push(format!("cidr {}", c.join(",")));
    }
    if let Some(n) = r.per_minute {
        on.push(format!("{n}/min"));
    }
    if let Some(n) = r.per_day {
        on.push(format!("{n}/day"));
    }
    if let Some(c) = &r.cosign {
        on.push(format!("cosign {} {}s", c.machine_id, c.within_seconds));
    }
    if let Some(e) = &r.expires_at {
        on.push(format!("expires {e}"));
    }
    if let Some(n) = r.max_reads {
        on.push(format!("max {n} reads"));
    }
    if let Some(n) = r.rotate_after_reads {
        on.push(format!("rotate after {n}"));
    }
    if on.is_empty() {
        "-".to_owned()
    } else {
        on.join("; ")
    }
}

fn print(json: bool, verb: &str, p: &PolicyAnswer) -> anyhow::Result<()> {
    if json {
        output::json(p)
    } else {
        output::lines([format!(
            "{verb}policy {} ({}): {}",
            output::cell(&p.id),
            output::cell(&p.name),
            output::cell(&axes(&p.rules))
        )])
    }
}

async fn project_id(client: &OperatorClient, project: &str) -> anyhow::Result<ProjectId> {
    project::resolve(client, project).await
}

/// Runs a `policy` subcommand.
pub async fn run(args: PolicyArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    match args.command {
        PolicyCommand::Create {
            project,
            name,
            rules,
        } => {
            let project = project_id(&client, &project).await?;
            let p = client
                .policies()
                .create(&project, &name, &rules.rules()?)
                .await?;
            print(json, "created ", &p)?;
        }
        PolicyCommand::List { project } => {
            let project = project_id(&client, &project).await?;
            let r = client.policies().list(&project).await?;
            if json {
                output::json(&r)?;
            } else {
                let mut t = Table::new(&["ID", "NAME", "SECRETS", "AXES"]);
                for p in &r.policies {
                    t.row(vec![
                        output::cell(&p.id),
                        output::cell(&p.name),
                        p.bound_secrets.to_string(),
                        output::cell(&axes(&p.rules)),
                    ]);
                }
                t.print("no policies")?;
            }
        }
        PolicyCommand::Show { project, id } => {
            let project = project_id(&client, &project).await?;
            let p = client.policies().show(&project, &policy_id(&id)?).await?;
            print(json, "", &p)?;
        }
        PolicyCommand::Update {
            project,
            id,
            name,
            rules,
        } => {
            let project = project_id(&client, &project).await?;
            let p = client
                .policies()
                .update(&project, &policy_id(&id)?, name.as_deref(), &rules.rules()?)
                .await?;
            print(json, "updated ", &p)?;
        }
        PolicyCommand::Delete { project, id } => {
            let project = project_id(&client, &project).await?;
            let r = client.policies().delete(&project, &policy_id(&id)?).await?;
            if json {
                output::json(&r)?;
            } else {
                output::lines([format!("deleted policy {}", output::cell(&r.id))])?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `signet secret policy ID --policy PID | --none`.
pub async fn bind(
    client: &OperatorClient,
    secret: &str,
    policy: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let secret = ids::secret(secret)?;
    let policy = policy.map(policy_id).transpose()?;
    let r = client.policies().bind(&secret, policy.as_ref()).await?;
    if json {
        return output::json(&r);
    }
    output::lines([match &r.policy_id {
        Some(p) => format!("bound policy {} to secret {}", output::cell(p), r.secret_id),
        None => format!("secret {} has no policy", r.secret_id),
    }])
}

#[cfg(test)]
mod tests {
    use super::days;

    #[test]
    fn day_ranges_expand_and_wrap() {
        assert_eq!(days("mon-wed").unwrap(), ["mon", "tue", "wed"]);
        assert_eq!(days("sat-mon").unwrap(), ["sat", "sun", "mon"]);
        assert_eq!(days("fri,sun").unwrap(), ["fri", "sun"]);
        assert!(days("mon-xyz").is_err());
    }
}
