//! `lockstep`: the GitOps controller (`lockstep controller`) and the user CLI in one binary.

mod controller_cmd;
mod duration;
mod health_cmd;
mod logging;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// lockstep keeps Kubernetes clusters in step with git.
#[derive(Parser)]
#[command(name = "lockstep", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller (kubeconfig from KUBECONFIG, else in-cluster).
    Controller(controller_cmd::ControllerArgs),
    /// Print the CustomResourceDefinitions lockstep installs.
    Crd,
    /// Print the health of each object in a file, offline.
    Health(health_cmd::HealthArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Controller(args) => controller_cmd::run(args),
        Command::Crd => {
            print!("{}", lockstep_api::crds_yaml());
            Ok(())
        }
        Command::Health(args) => health_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
