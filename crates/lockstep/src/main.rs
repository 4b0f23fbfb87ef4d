//! `lockstep`: the GitOps controller (`lockstep controller`) and the user CLI in one binary.

mod allocator;
mod cli;
mod controller_cmd;
mod duration;
mod health_cmd;
mod logging;
mod ui_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// lockstep keeps Kubernetes clusters in step with git.
#[derive(Parser)]
#[command(name = "lockstep", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    cluster: cli::ClusterArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller (kubeconfig from KUBECONFIG, else in-cluster).
    Controller(controller_cmd::ControllerArgs),
    /// Print the CustomResourceDefinitions lockstep installs (all, or the one named).
    Crd {
        /// Only this CRD, such as `appprojects.lockstep.dev` (as `crds/<name>.yaml` holds it).
        name: Option<String>,
    },
    /// Print the health of each object in a file, offline.
    Health(health_cmd::HealthArgs),
    /// List Applications, or show one in detail with its resources.
    Get(cli::get::GetArgs),
    /// Show what a sync would change: exit 0 when nothing differs, 1 when something does, 2 on error.
    Diff(cli::diff::DiffArgs),
    /// Ask for a sync, and optionally wait for it to finish.
    Sync(cli::sync::SyncArgs),
    /// Ask for a fetch and compare now.
    Refresh(cli::refresh::RefreshArgs),
    /// Deploy an earlier history entry again without touching git; `--resume` follows git again.
    Rollback(cli::rollback::RollbackArgs),
    /// Print the manifests an Application (or a local directory) renders to.
    Render(cli::render::RenderArgs),
    /// Explain why an Application is OutOfSync or not Healthy, and what happens next.
    Explain(cli::explain::ExplainArgs),
    /// Show the Application's objects and what they own, with health and sync per node.
    Tree(cli::tree::TreeArgs),
    /// Serve the web UI (sign-in with a Kubernetes token, or --local with the kubeconfig).
    Ui(ui_cmd::UiArgs),
    /// Print the version of lockstep and of the cluster.
    Version(cli::version::VersionArgs),
    /// Print a shell completion script.
    Completion(cli::completion::CompletionArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cluster = &cli.cluster;
    let done = |result: anyhow::Result<()>| result.map(|()| ExitCode::SUCCESS);
    // `diff` exits 1 for "differs", so its errors take 2, as `kubectl diff` does.
    let error_code = if matches!(cli.command, Command::Diff(_)) { cli::diff::EXIT_ERROR } else { 1 };
    let result = match cli.command {
        Command::Controller(args) => done(controller_cmd::run(args)),
        Command::Crd { name: None } => {
            print!("{}", lockstep_api::crds_yaml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Crd { name: Some(name) } => match lockstep_api::crds().into_iter().find(|(n, _)| *n == name) {
            Some((_, yaml)) => {
                print!("{yaml}");
                Ok(ExitCode::SUCCESS)
            }
            None => Err(anyhow::anyhow!("no CRD named {name:?}; `lockstep crd` prints them all")),
        },
        Command::Health(args) => done(health_cmd::run(args)),
        Command::Get(args) => cli::get::run(args, cluster),
        Command::Diff(args) => cli::diff::run(args, cluster),
        Command::Sync(args) => cli::sync::run(args, cluster),
        Command::Refresh(args) => cli::refresh::run(args, cluster),
        Command::Rollback(args) => cli::rollback::run(args, cluster),
        Command::Render(args) => cli::render::run(args, cluster),
        Command::Explain(args) => cli::explain::run(args, cluster),
        Command::Tree(args) => cli::tree::run(args, cluster),
        Command::Ui(args) => done(ui_cmd::run(args, cluster)),
        Command::Version(args) => cli::version::run(args, cluster),
        Command::Completion(args) => cli::completion::run::<Cli>(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(error_code)
        }
    }
}
