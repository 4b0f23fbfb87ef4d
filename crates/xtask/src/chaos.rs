//! `cargo xtask chaos`: fault scenarios against the real control plane, with their figures.
//! Scenarios: SIGKILL of the controller at random moments while it syncs and prunes a 300-object
//! Application (`tests/e2e/tests/chaos.rs`); git server faults through a fault-injecting proxy
//! (`tests/e2e/tests/chaos_git.rs`); the control plane's faults ([`controlplane`]: etcd and API
//! server restarts, leader failover under load); and load, thousands of Applications under a steady
//! stream of commits ([`load`]). The smoke run (3 kills, every git fault, 3 restarts, a failover of
//! 30 Applications, 50 Applications for a minute) is a CI phase; the full run is what
//! docs/reliability.md reports.

mod controlplane;
mod load;
mod load_repos;
mod scrape;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use crate::Workspace;
use crate::cluster::{self, Cluster, DEFAULT_NAME};
use crate::process;
use crate::tools::Tools;

/// A scenario `--scenario` can select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// SIGKILL of the controller during sync and prune.
    Sigkill,
    /// Git server faults: trickled, hung and corrupt responses, a force-push, a deleted tag.
    GitFaults,
    /// etcd and API server restarts mid-sync, and leader failover checked against the audit log.
    ControlPlane,
    /// Thousands of Applications and a steady stream of commits.
    Load,
}

/// Options of `cargo xtask chaos`.
#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// Small numbers (3 kills, 3 control-plane restarts, 30 Applications in the failover, a short
    /// load run): the CI phase.
    #[arg(long)]
    pub smoke: bool,
    /// How many times the controller is killed (overrides the default of the run).
    #[arg(long)]
    pub kills: Option<u32>,
    /// Run only these scenarios (comma-separated; default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub scenario: Vec<Scenario>,
    /// The control-plane scenarios' options.
    #[command(flatten)]
    pub controlplane: controlplane::ControlPlaneArgs,
    /// Sizes of the load scenario.
    #[command(flatten)]
    pub load: load::LoadArgs,
}

impl ChaosArgs {
    /// What the CI phase runs.
    pub fn smoke() -> Self {
        Self {
            smoke: true,
            kills: None,
            scenario: Vec::new(),
            controlplane: Default::default(),
            load: load::LoadArgs::default(),
        }
    }

    fn kills(&self) -> u32 {
        self.kills.unwrap_or(if self.smoke { 3 } else { 100 })
    }

    fn runs(&self, scenario: Scenario) -> bool {
        self.scenario.is_empty() || self.scenario.contains(&scenario)
    }
}

/// Starts what the scenarios need (packages, the default cluster, `lockstep`, the tools), then runs them.
pub fn run(ws: &Workspace, args: &ChaosArgs) -> Result<()> {
    crate::prereq::ensure(crate::prereq::Task::Test)?;
    let cluster = cluster::up(ws, DEFAULT_NAME)?;
    if !args.runs(Scenario::Sigkill) && !args.runs(Scenario::GitFaults) && !args.runs(Scenario::ControlPlane) {
        // The load scenario builds the controller it measures and renders nothing.
        return run_load(ws, &cluster, args);
    }
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
    if args.runs(Scenario::Sigkill) {
        let mut cmd = crate::test::e2e_command(ws, cluster, tools)?;
        cmd.args(["test", "-p", "lockstep-e2e", "--test", "chaos", "--", "--ignored", "--nocapture"])
            .env("LOCKSTEP_CHAOS_KILLS", args.kills().to_string());
        process::run(&mut cmd)?;
        print_report(ws, "sigkill.json")?;
    }
    if args.runs(Scenario::GitFaults) {
        let mut cmd = crate::test::e2e_command(ws, cluster, tools)?;
        cmd.args(["test", "-p", "lockstep-e2e", "--test", "chaos_git", "--", "--ignored", "--nocapture"]);
        process::run(&mut cmd)?;
        print_report(ws, "git-faults.json")?;
    }
    if args.runs(Scenario::ControlPlane) {
        controlplane::run(ws, cluster, tools, args.smoke, &args.controlplane)?;
    }
    if args.runs(Scenario::Load) {
        run_load(ws, cluster, args)?;
    }
    Ok(())
}

fn run_load(ws: &Workspace, cluster: &Cluster, args: &ChaosArgs) -> Result<()> {
    let report = load::run(ws, cluster, &args.load, args.smoke)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn print_report(ws: &Workspace, name: &str) -> Result<()> {
    let report = ws.root.join("target/chaos").join(name);
    let text = std::fs::read_to_string(&report).with_context(|| format!("reading {}", report.display()))?;
    println!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_runs_unless_some_are_named() {
        let mut args = ChaosArgs::smoke();
        assert!(args.runs(Scenario::Sigkill) && args.runs(Scenario::Load));
        args.scenario = vec![Scenario::Load];
        assert!(args.runs(Scenario::Load) && !args.runs(Scenario::GitFaults));
    }
}
