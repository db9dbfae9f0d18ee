//! `signet share`: one-time share links. The value is read from standard input and the
//! passphrase from `SIGNET_SHARE_PASSPHRASE` or a prompt, never from an argument, so neither
//! lands in shell history or a process list.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use signet_client::{ShareId, open_share};
use zeroize::Zeroizing;

use crate::duration;
use crate::identity::OperatorOpts;
use crate::output::{self, Table};

/// Where the passphrase may come from instead of a prompt.
const PASSPHRASE_ENV: &str = "SIGNET_SHARE_PASSPHRASE";

/// `signet share`.
#[derive(Debug, clap::Args)]
pub struct ShareArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: ShareCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ShareCommand {
    /// Create a link for the value on standard input; prints the link, shown once.
    Create {
        /// How long the link works: 1m to 24h (e.g. 10m, 1h).
        #[arg(long, value_parser = duration::parse)]
        ttl: u64,
    },
    /// Your links (an admin's: everyone's) and their status.
    List,
    /// Destroy a pending link.
    Revoke {
        /// The link's id (shr_…).
        id: String,
    },
    /// Open a link once and print its value. One attempt: a wrong passphrase destroys it.
    Open {
        /// The link: URL/#/s/ID.SECRET.
        url: String,
    },
}

/// The passphrase: `SIGNET_SHARE_PASSPHRASE` if set, else a prompt that does not echo (asked
/// twice when creating, since a typo would make the link useless).
fn read_passphrase(confirm: bool) -> anyhow::Result<Zeroizing<String>> {
    if let Some(p) = std::env::var_os(PASSPHRASE_ENV) {
        let p = p
            .into_string()
            .map_err(|_| anyhow::anyhow!("{PASSPHRASE_ENV} is not UTF-8"))?;
        return Ok(Zeroizing::new(p));
    }
    if !std::io::stdin().is_terminal() && !confirm {
        bail!("no terminal to ask the passphrase on: set {PASSPHRASE_ENV}");
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("Passphrase: ").context("cannot read the passphrase")?,
    );
    if confirm {
        let again = Zeroizing::new(
            rpassword::prompt_password("Passphrase again: ")
                .context("cannot read the passphrase")?,
        );
        if *first != *again {
            bail!("the passphrases differ");
        }
    }
    Ok(first)
}

/// The value: all of standard input, verbatim; it must be UTF-8.
fn read_value() -> anyhow::Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new(Vec::new());
    std::io::stdin()
        .read_to_end(&mut bytes)
        .context("cannot read the value from standard input")?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| anyhow::anyhow!("the value on standard input is not UTF-8 text"))?;
    if text.is_empty() {
        bail!("no value on standard input");
    }
    Ok(Zeroizing::new(text.to_owned()))
}

/// Runs a `share` subcommand.
pub async fn run(args: ShareArgs, json: bool) -> anyhow::Result<ExitCode> {
    match args.command {
        ShareCommand::Create { ttl } => {
            let ttl = u32::try_from(ttl).unwrap_or(u32::MAX);
            // The value first: it may be piped, and the passphrase prompt reads the terminal.
            let value = read_value()?;
            let passphrase = read_passphrase(true)?;
            let client = args.opts.client()?;
            let created = client.shares().create(&value, &passphrase, ttl).await?;
            if json {
                output::json(&created)?;
            } else {
                output::lines([
                    created.url.to_string(),
                    format!(
                        "Share {} expires {}. The link is shown only now; send the passphrase \
                         separately. One attempt opens or destroys it.",
                        created.id,
                        output::at(created.expires_at)
                    ),
                ])?;
            }
        }
        ShareCommand::List => {
            let list = args.opts.client()?.shares().list().await?;
            if json {
                output::json(&list)?;
            } else {
                let mut t = Table::new(&["ID", "STATUS", "CREATED", "EXPIRES"]);
                for s in &list.shares {
                    t.row(vec![
                        s.id.to_string(),
                        output::cell(&s.status),
                        output::at(s.created_at),
                        output::at(s.expires_at),
                    ]);
                }
                t.print("no share links")?;
            }
        }
        ShareCommand::Revoke { id } => {
            let id = ShareId::parse(&id).map_err(|_| {
                anyhow::anyhow!("{id:?} is not a share id (shr_ and 16 letters or digits)")
            })?;
            let r = args.opts.client()?.shares().revoke(&id).await?;
            if json {
                output::json(&r)?;
            } else {
                output::lines([format!("Share {id} destroyed.")])?;
            }
        }
        ShareCommand::Open { url } => {
            let passphrase = read_passphrase(false)?;
            let value = open_share(&url, &passphrase)
                .await
                .context("cannot open the share link (wrong passphrase, used, expired or revoked: it is gone either way)")?;
            if json {
                output::json(&serde_json::json!({ "value": value.as_str() }))?;
            } else {
                let mut out = std::io::stdout().lock();
                out.write_all(value.as_bytes())?;
                if !value.ends_with('\n') && std::io::stdout().is_terminal() {
                    out.write_all(b"\n")?;
                }
                out.flush()?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
