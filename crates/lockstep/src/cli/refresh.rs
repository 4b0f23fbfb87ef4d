//! `lockstep refresh NAME`: asks for a fetch and compare now through `lockstep.dev/refresh`; with
//! `--wait`, until the controller reports `status.observedRefresh` equal to the value written.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use lockstep_api::REFRESH_ANNOTATION;

use crate::cli::style::Style;
use crate::cli::wait::{annotate, token, until};
use crate::cli::{Cluster, ClusterArgs, block_on};
use crate::duration::parse_duration;

#[derive(Args)]
pub(crate) struct RefreshArgs {
    /// The Application.
    name: String,
    /// Wait until the controller has fetched and compared, then print the sync and health.
    #[arg(long)]
    wait: bool,
    /// How long to wait.
    #[arg(long, value_parser = parse_duration, default_value = "2m")]
    timeout: Duration,
}

pub(crate) fn run(args: RefreshArgs, cluster: &ClusterArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let cluster = Cluster::connect(cluster).await?;
        cluster.app(&args.name).await?;
        let value = token();
        annotate(&cluster, &args.name, REFRESH_ANNOTATION, &value).await?;
        eprintln!("refresh requested ({REFRESH_ANNOTATION}={value})");
        if !args.wait {
            return Ok(ExitCode::SUCCESS);
        }
        let status = until(&cluster, &args.name, args.timeout, |app| {
            app.status.clone().filter(|s| s.observed_refresh.as_deref() == Some(value.as_str()))
        })
        .await?;
        let style = Style::detect();
        let revision = status.sync.revision.as_deref().map(|r| format!(" at {}", crate::cli::local::short(r)));
        println!(
            "{} {}{}",
            style.sync(status.sync.status),
            style.health(status.health.status),
            revision.unwrap_or_default()
        );
        Ok(ExitCode::SUCCESS)
    })
}
