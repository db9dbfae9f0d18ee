//! `signet audit`: read the hash-chained audit log and check that it is unbroken.

use std::process::ExitCode;

use signet_client::api::admin::audit::AuditQueryRequest;

use crate::identity::OperatorOpts;
use crate::output::{self, Table};

/// `signet audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// List records, newest first.
    List {
        /// At most this many records.
        #[arg(long)]
        limit: Option<u64>,
        /// Only this action.
        #[arg(long)]
        action: Option<String>,
        /// Only this actor (a machine or operator id).
        #[arg(long, value_name = "ID")]
        actor: Option<String>,
        /// Only this result.
        #[arg(long)]
        result: Option<String>,
        /// Only records older than this sequence number (to page back).
        #[arg(long, value_name = "SEQ")]
        before: Option<u64>,
        /// Only records from this long ago on (`90m`, `24h`, `7d`), or from this Unix time in
        /// milliseconds.
        #[arg(long, value_name = "AGO|MS", value_parser = parse_time)]
        since: Option<i64>,
        /// Only records before this long ago, or before this Unix time in milliseconds.
        #[arg(long, value_name = "AGO|MS", value_parser = parse_time)]
        until: Option<i64>,
    },
    /// Recompute the hash chain; exits 1 when it is broken.
    Verify,
}

/// A point in time: a Unix time in milliseconds (13 digits or more), or a duration ago.
fn parse_time(s: &str) -> Result<i64, String> {
    if s.len() >= 13
        && let Ok(ms) = s.parse::<i64>()
    {
        return Ok(ms);
    }
    let secs = crate::duration::parse(s)?;
    let ago = i64::try_from(secs.saturating_mul(1000)).map_err(|_| "too long ago".to_owned())?;
    Ok(signet_client::unix_now()
        .saturating_mul(1000)
        .saturating_sub(ago))
}

/// Runs an `audit` subcommand.
pub async fn run(args: AuditArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    match args.command {
        AuditCommand::List {
            limit,
            action,
            actor,
            result,
            before,
            since,
            until,
        } => {
            let limit = limit
                .map(|n| u32::try_from(n).map_err(|_| anyhow::anyhow!("--limit {n} is too large")))
                .transpose()?;
            let query = AuditQueryRequest {
                limit,
                before_seq: before,
                actor_id: actor,
                action,
                result,
                since_ms: since,
                until_ms: until,
            };
            let r = client.audit().query(&query).await?;
            if json {
                output::json(&r)?;
            } else {
                let mut t = Table::new(&[
                    "SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "RESULT", "SOURCE",
                ]);
                for rec in &r.records {
                    let actor = format!(
                        "{}:{}",
                        output::cell(&rec.actor_kind),
                        output::cell(&rec.actor_id)
                    );
                    t.row(vec![
                        output::cell(&rec.seq),
                        output::at(rec.ts),
                        actor,
                        output::cell(&rec.action),
                        output::cell(&rec.target),
                        output::cell(&rec.result),
                        output::cell(&rec.source_ip),
                    ]);
                }
                t.print("no records")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify => {
            let r = client.audit().verify().await?;
            if json {
                output::json(&r)?;
            } else if r.ok {
                output::lines([format!(
                    "audit chain ok: {} records, head at seq {}",
                    output::cell(&r.records),
                    output::cell(&r.head_seq)
                )])?;
            }
            if r.ok {
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!(
                "error: the audit chain is broken at seq {}: {}",
                output::cell(&r.first_bad_seq),
                output::cell(&r.problem)
            );
            Ok(ExitCode::from(1))
        }
    }
}
