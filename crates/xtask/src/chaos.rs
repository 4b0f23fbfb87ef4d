//! `cargo xtask chaos`: fault scenarios against the real control plane, with their figures.
//! SIGKILL of the controller at random moments while it syncs and prunes a 300-object Application
//! (`tests/e2e/tests/chaos.rs`), then the control-plane scenarios ([`controlplane`]: etcd and API
//! server restarts, leader failover under load). The smoke run (small numbers) is a CI phase; the
//! full run is what docs/reliability.md reports.

use anyhow::{Context, Result};
use clap::Args;

use crate::Workspace;
use crate::cluster::{self, Cluster, DEFAULT_NAME};
use crate::process;
use crate::tools::Tools;

mod controlplane;

/// Options of `cargo xtask chaos`.
#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// Small numbers (3 kills, 3 control-plane restarts, 30 Applications in the failover): the CI phase.
    #[arg(long)]
    pub smoke: bool,
    /// How many times the controller is killed (overrides the default of the run).
    #[arg(long)]
    pub kills: Option<u32>,
    /// The control-plane scenarios' options.
    #[command(flatten)]
    pub controlplane: controlplane::ControlPlaneArgs,
}

impl ChaosArgs {
    /// What the CI phase runs.
    pub fn smoke() -> Self {
        Self { smoke: true, kills: None, controlplane: Default::default() }
    }

    fn kills(&self) -> u32 {
        self.kills.unwrap_or(if self.smoke { 3 } else { 100 })
    }
}

/// Starts what the scenarios need (packages, the default cluster, `lockstep`, the tools), then runs them.
pub fn run(ws: &Workspace, args: &ChaosArgs) -> Result<()> {
    crate::prereq::ensure(crate::prereq::Task::Test)?;
    let cluster = cluster::up(ws, DEFAULT_NAME)?;
    process::run(
        std::process::Command::new(ws.cargo())
            .current_dir(&ws.root)
            .args(["build", "-p", "lockstep", "--bin", "lockstep"]),
    )?;
    let tools = crate::tools::ensure(ws)?;
    run_on(ws, &cluster, &tools, args)
}

/// Runs the scenarios on a running cluster and prints their figures.
pub fn run_on(ws: &Workspace, cluster: &Cluster, tools: &Tools, args: &ChaosArgs) -> Result<()> {
    let mut cmd = crate::test::e2e_command(ws, cluster, tools)?;
    cmd.args(["test", "-p", "lockstep-e2e", "--test", "chaos", "--", "--ignored", "--nocapture"])
        .env("LOCKSTEP_CHAOS_KILLS", args.kills().to_string());
    process::run(&mut cmd)?;
    let report = ws.root.join("target/chaos/sigkill.json");
    let text = std::fs::read_to_string(&report).with_context(|| format!("reading {}", report.display()))?;
    println!("{text}");
    controlplane::run(ws, cluster, tools, args.smoke, &args.controlplane)
}
