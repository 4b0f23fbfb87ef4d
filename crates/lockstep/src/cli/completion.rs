//! `lockstep completion bash|zsh|fish`: shell completion scripts generated from the CLI definition.

use std::process::ExitCode;

use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell;

/// The shells completions are generated for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum CompletionShell {
    /// Bash: `source <(lockstep completion bash)`.
    Bash,
    /// Zsh: `lockstep completion zsh > "${fpath[1]}/_lockstep"`.
    Zsh,
    /// Fish: `lockstep completion fish > ~/.config/fish/completions/lockstep.fish`.
    Fish,
}

#[derive(Args)]
pub(crate) struct CompletionArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: CompletionShell,
}

/// Prints the completion script of the command `C`.
pub(crate) fn run<C: CommandFactory>(args: CompletionArgs) -> anyhow::Result<ExitCode> {
    let shell = match args.shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut command = C::command();
    clap_complete::generate(shell, &mut command, "lockstep", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
