//! `signet completions SHELL`: the shell's completion script, generated from the command tree
//! (`clap_complete`), so it cannot fall behind the commands.

use std::process::ExitCode;

use clap_complete::Shell;

/// `signet completions` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Install, for example:\n  \
    bash: signet completions bash > ~/.local/share/bash-completion/completions/signet\n  \
    zsh:  signet completions zsh > ~/.zfunc/_signet   (with fpath+=~/.zfunc before compinit)\n  \
    fish: signet completions fish > ~/.config/fish/completions/signet.fish\n  \
    PowerShell: signet completions powershell >> $PROFILE")]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: Shell,
}

/// Prints the completion script for `args.shell` of `command` (the whole `signet` tree).
pub fn run(args: CompletionsArgs, mut command: clap::Command) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "signet", &mut script);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
    Ok(ExitCode::SUCCESS)
}
