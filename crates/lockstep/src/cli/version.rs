//! `lockstep version`: the binary's version and, when a cluster answers, the API server's.

use std::process::ExitCode;

use clap::Args;

use crate::cli::{Cluster, ClusterArgs, block_on};

#[derive(Args)]
pub(crate) struct VersionArgs {
    /// Print only the client version; do not contact the cluster.
    #[arg(long)]
    client: bool,
}

pub(crate) fn run(args: VersionArgs, cluster: &ClusterArgs) -> anyhow::Result<ExitCode> {
    println!("lockstep {}", env!("CARGO_PKG_VERSION"));
    if args.client {
        return Ok(ExitCode::SUCCESS);
    }
    let server = block_on(async {
        let cluster = Cluster::connect(cluster).await?;
        Ok(cluster.client.apiserver_version().await?.git_version)
    });
    match server {
        Ok(version) => println!("kubernetes {version}"),
        Err(err) => eprintln!("kubernetes: unknown ({err:#})"),
    }
    Ok(ExitCode::SUCCESS)
}
