//! `lockstep tree NAME [-o json]`: the Application's objects and what they own (Deployment →
//! ReplicaSet → Pod, from ownerReferences), with health per node and sync per managed object. The
//! managed objects come from `status.resources`; each is read live, and the kinds objects commonly
//! own are listed in their namespaces (`lockstep_ui::live_tree` reads them, [`object_tree`] prints).

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::cli::object_tree;
use crate::cli::style::Style;
use crate::cli::{Cluster, ClusterArgs, block_on};

/// How `tree` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Indented text.
    #[default]
    Text,
    /// The tree as JSON: nested `children`.
    Json,
}

#[derive(Args)]
pub(crate) struct TreeArgs {
    /// The Application.
    name: String,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

pub(crate) fn run(args: TreeArgs, cluster: &ClusterArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let cluster = Cluster::connect(cluster).await?;
        let app = cluster.app(&args.name).await?;
        let resources = app.status.map(|s| s.resources).unwrap_or_default();
        let tree = lockstep_ui::live_tree::collect(&cluster.client, &resources).await?;
        match args.output {
            Format::Text => print!("{}", object_tree::render(&tree, Style::detect())),
            Format::Json => println!("{}", serde_json::to_string_pretty(&tree)?),
        }
        Ok(ExitCode::SUCCESS)
    })
}
