//! `signet watch`: prints the machine's change notifications as they arrive (`GET /v1/events`),
//! one line each, until interrupted. The stream reconnects by itself and resumes after the last
//! event, so nothing is missed across a dropped connection or a server restart.

use std::io::Write as _;
use std::process::ExitCode;

use futures_util::StreamExt as _;
use signet_client::SecretId;
use signet_client::events::Event;

use crate::identity::MachineOpts;

/// `signet watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Only events about this secret (repeatable); access changes of the machine as a whole are
    /// always printed.
    #[arg(long, value_name = "ID")]
    secret: Vec<String>,
    /// Start after this event id (replays what came after it) instead of now.
    #[arg(long, value_name = "ID")]
    after: Option<u64>,
    #[command(flatten)]
    opts: MachineOpts,
}

/// Whether `e` is one `only` asks for (empty: every event).
pub(crate) fn wanted(e: &Event, only: &[SecretId]) -> bool {
    only.is_empty() || e.secret_id.as_ref().is_none_or(|s| only.contains(s))
}

/// Prints events until the stream ends with an error (the machine may no longer listen) or the
/// process is interrupted.
pub async fn run(args: WatchArgs, json: bool) -> anyhow::Result<ExitCode> {
    let only = args
        .secret
        .iter()
        .map(|s| {
            SecretId::parse(s).map_err(|_| {
                anyhow::anyhow!("{s:?} is not a secret id (sk_ and 10 letters or digits)")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let client = args.opts.client()?;
    let mut events = std::pin::pin!(client.events(args.after));
    while let Some(next) = events.next().await {
        let e = next?;
        if !wanted(&e, &only) {
            continue;
        }
        let mut out = std::io::stdout().lock();
        if json {
            let line = serde_json::json!({
                "id": e.id,
                "type": e.kind.as_str(),
                "secretId": e.secret_id.as_ref().map(SecretId::as_str),
                "version": e.version,
                "ts": e.ts,
            });
            writeln!(out, "{line}")?;
        } else {
            let secret = e.secret_id.as_ref().map_or("-", SecretId::as_str);
            match e.version {
                Some(v) => writeln!(out, "{}\t{}\t{secret}\tv{v}", e.id, e.kind.as_str())?,
                None => writeln!(out, "{}\t{}\t{secret}", e.id, e.kind.as_str())?,
            }
        }
        // A pipe reader (a script) sees each event as it happens, not when a buffer fills.
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
