//! The control-plane scenarios of `cargo xtask chaos`: etcd and the API server restarted mid-sync
//! (`tests/e2e/tests/chaos_controlplane.rs`) and leader failover under many Applications, checked
//! against the API server's audit log (`tests/e2e/tests/chaos_failover.rs`). Each runs as its own
//! test binary, one after the other: a restart of the API server would disturb anything beside it.

use anyhow::{Context, Result};
use clap::Args;

use crate::Workspace;
use crate::cluster::Cluster;
use crate::process;
use crate::tools::Tools;

/// Options of the control-plane scenarios.
#[derive(Debug, Default, Args)]
pub struct ControlPlaneArgs {
    /// How many times etcd and the API server are restarted (in turn: etcd, the API server, both,
    /// both killed); 3 in the smoke run, 8 in the full one.
    #[arg(long)]
    pub restarts: Option<u32>,
    /// How many Applications the leader failover runs under; 30 in the smoke run, 1,000 in the full one.
    #[arg(long)]
    pub apps: Option<u32>,
}

/// Runs both scenarios and prints their figures.
pub fn run(ws: &Workspace, cluster: &Cluster, tools: &Tools, smoke: bool, args: &ControlPlaneArgs) -> Result<()> {
    let restarts = args.restarts.unwrap_or(if smoke { 3 } else { 8 });
    let apps = args.apps.unwrap_or(if smoke { 30 } else { 1000 });
    let scenarios = [
        ("chaos_controlplane", "LOCKSTEP_CHAOS_RESTARTS", restarts, "controlplane.json"),
        ("chaos_failover", "LOCKSTEP_CHAOS_APPS", apps, "failover.json"),
    ];
    for (test, variable, value, figures) in scenarios {
        let mut cmd = crate::test::e2e_command(ws, cluster, tools)?;
        cmd.args(["test", "-p", "lockstep-e2e", "--test", test, "--", "--ignored", "--nocapture"])
            .env(variable, value.to_string());
        process::run(&mut cmd)?;
        let report = ws.root.join("target/chaos").join(figures);
        let text = std::fs::read_to_string(&report).with_context(|| format!("reading {}", report.display()))?;
        println!("{text}");
    }
    Ok(())
}
