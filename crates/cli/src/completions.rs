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
pub fn run(args: CompletionsArgs, command: clap::Command) -> anyhow::Result<ExitCode> {
    let mut command = without_double_quotes(command);
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "signet", &mut script);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
    Ok(ExitCode::SUCCESS)
}

/// `clap_complete` puts a value's help inside double quotes in fish's and zsh's scripts without
/// escaping a double quote in it (clap-rs/clap#6458), and one such quote (`export --format`'s
/// `KEY="value"`) breaks the whole fish file. The help is only a hint next to the value, so
/// here its double quotes become single ones. The tree changed is a copy made to generate from;
/// nothing parses with it.
fn without_double_quotes(command: clap::Command) -> clap::Command {
    let quoted: Vec<clap::Id> = command
        .get_arguments()
        .filter(|a| {
            a.get_possible_values()
                .iter()
                .any(|v| v.get_help().is_some_and(|h| h.to_string().contains('"')))
        })
        .map(|a| a.get_id().clone())
        .collect();
    let command = quoted.into_iter().fold(command, |command, id| {
        command.mut_arg(id, |arg| {
            let values: Vec<clap::builder::PossibleValue> = arg
                .get_possible_values()
                .into_iter()
                .map(
                    |v| match v.get_help().map(|h| h.to_string().replace('"', "'")) {
                        Some(help) => v.help(help),
                        None => v,
                    },
                )
                .collect();
            arg.value_parser(clap::builder::PossibleValuesParser::new(values))
        })
    });
    let subcommands: Vec<String> = command
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    subcommands.into_iter().fold(command, |command, name| {
        command.mut_subcommand(name, without_double_quotes)
    })
}
