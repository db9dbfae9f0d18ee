//! `signet man`: manual pages generated from the command tree (`clap_mangen`), one per command
//! and subcommand (`signet.1`, `signet-secret.1`, `signet-secret-create.1`, ...), so the pages
//! say what `--help` says.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::json;

use crate::output;

/// `signet man` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Read one without installing: signet man | man -l -\n\
    Install all: signet man --out /usr/local/share/man/man1 && mandb")]
pub struct ManArgs {
    /// Write every page into this folder (created if missing) instead of printing `signet.1`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Prints the top page, or writes every page into `--out`.
pub fn run(args: ManArgs, command: clap::Command, json: bool) -> anyhow::Result<ExitCode> {
    let mut command = command;
    // Builds the tree as clap does before parsing: each subcommand then knows its full name
    // (`signet-secret-create`), which becomes its page's name.
    command.build();
    let Some(dir) = args.out else {
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page)?;
        std::io::Write::write_all(&mut std::io::stdout().lock(), &page)?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    write_pages(&command, &dir, &mut written)?;
    if json {
        output::json(&json!({ "dir": dir, "pages": written }))?;
    } else {
        output::lines([format!(
            "{} pages written to {}",
            written.len(),
            dir.display()
        )])?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `command`'s page and, depth first, its subcommands' (not clap's `help`, nor hidden
/// ones); pushes each file name written.
fn write_pages(
    command: &clap::Command,
    dir: &Path,
    written: &mut Vec<String>,
) -> anyhow::Result<()> {
    let name = format!(
        "{}.1",
        command.get_display_name().unwrap_or(command.get_name())
    );
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    let path = dir.join(&name);
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(name);
    for sub in command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}
