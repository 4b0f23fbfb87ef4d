//! `cargo xtask test`: the one command CI runs. Checks (and as root installs) the Debian packages
//! and components it needs, lints, starts the default cluster, builds the controller, runs
//! `cargo test --workspace` against the cluster, the fuzz and chaos smoke runs, the image check
//! (`cargo xtask image`, run from the unpacked image), checks the quickstart on a fresh cluster
//! (`cargo xtask demo --check`), then a smoke run of the benchmark harness (`cargo xtask bench --smoke`).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use crate::Workspace;
use crate::cluster::{self, DEFAULT_NAME};
use crate::process;

/// Options of `cargo xtask test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Skip `cargo fmt --check` and `cargo clippy -D warnings`.
    #[arg(long)]
    pub no_lint: bool,
    /// Stop the cluster afterwards (by default it is left running).
    #[arg(long)]
    pub down: bool,
    /// Skip the benchmark smoke run after the tests.
    #[arg(long)]
    pub no_bench: bool,
    /// Skip the quickstart check (`cargo xtask demo --check`) after the tests.
    #[arg(long)]
    pub no_demo: bool,
    /// Skip the image check (`cargo xtask image`, then its binaries run from the unpacked image).
    #[arg(long)]
    pub no_image: bool,
    /// Passed to `cargo test --workspace` verbatim, e.g. `-- FILTER -- --nocapture`.
    #[arg(last = true)]
    pub cargo_test_args: Vec<String>,
}

/// Runs the whole pipeline; fails if any phase fails.
pub fn run(ws: &Workspace, args: &TestArgs) -> Result<()> {
    let started = Instant::now();
    let result = phases(ws, args);
    if args.down {
        let down = phase("cluster down", || cluster::down(ws, DEFAULT_NAME));
        if result.is_ok() {
            down?;
        } else if let Err(e) = down {
            eprintln!("also failed to stop the cluster: {e:#}");
        }
    }
    match &result {
        Ok(()) => eprintln!("xtask test: all phases passed in {}", process::secs(started.elapsed())),
        Err(_) => eprintln!("xtask test: failed after {}", process::secs(started.elapsed())),
    }
    result
}

/// The phases, in order, stopping at the first failure.
fn phases(ws: &Workspace, args: &TestArgs) -> Result<()> {
    let cargo = ws.cargo();
    phase("prerequisites", || {
        crate::prereq::ensure(crate::prereq::Task::Test)?;
        if args.no_lint { Ok(()) } else { crate::prereq::ensure_lint_components(&cargo) }
    })?;
    if !args.no_lint {
        phase("fmt", || process::run(cargo_cmd(ws, &cargo).args(["fmt", "--all", "--", "--check"])))?;
        phase("clippy", || {
            process::run(cargo_cmd(ws, &cargo).args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))
        })?;
    }
    let cluster = phase("cluster up", || cluster::up(ws, DEFAULT_NAME))?;
    phase("build lockstep", || {
        process::run(cargo_cmd(ws, &cargo).args(["build", "-p", "lockstep", "--bin", "lockstep"]))
    })?;
    let tools = phase("tools", || crate::tools::ensure(ws))?;
    phase("cargo test", || {
        let mut cmd = e2e_command(ws, &cluster, &tools)?;
        process::run(cmd.args(["test", "--workspace", "--exclude", "lockstep-fuzz"]).args(&args.cargo_test_args))
    })?;
    phase("fuzz smoke", || crate::fuzz::run(ws, &crate::fuzz::FuzzArgs::smoke()))?;
    phase("chaos smoke", || crate::chaos::run_on(ws, &cluster, &tools, &crate::chaos::ChaosArgs::smoke()))?;
    if !args.no_image {
        // The release build, the image read back from its archive and run from its root file system.
        phase("image", || crate::image::check(ws, &cluster, &crate::image::ImageArgs::release()))?;
    }
    if !args.no_demo {
        // The README's quickstart as a newcomer runs it, on a fresh control plane with empty state.
        phase("demo check", || crate::demo::check(ws))?;
    }
    if !args.no_bench {
        // Exercises every benchmark scenario's code path on its own small cluster; no thresholds.
        phase("bench smoke", || crate::bench::run(ws, &crate::bench::BenchArgs::smoke()))?;
    }
    Ok(())
}

/// `cargo` from the workspace root with what the end-to-end tests read from the environment: the
/// cluster, the `lockstep` binary, kubectl, the shared test data, the rendering tools and the SOPS
/// tools the decryption tests encrypt with.
pub fn e2e_command(ws: &Workspace, cluster: &cluster::Cluster, tools: &crate::tools::Tools) -> Result<Command> {
    let sops = crate::sops_tools::ensure(ws)?;
    let mut cmd = cargo_cmd(ws, &ws.cargo());
    cmd.env("KUBECONFIG", &cluster.kubeconfig)
        .env("LOCKSTEP_BIN", ws.cargo_target_dir().join("debug").join("lockstep"))
        .env("LOCKSTEP_KUBECTL", &cluster.kubectl)
        .env("LOCKSTEP_SHARED_DIR", ws.shared_dir())
        .env("LOCKSTEP_KUSTOMIZE", &tools.kustomize)
        .env("LOCKSTEP_HELM", &tools.helm)
        .env("LOCKSTEP_OIDC_PROVIDER", &tools.oidc_provider)
        .env("LOCKSTEP_SOPS", &sops.sops)
        .env("LOCKSTEP_AGE_KEYGEN", &sops.age_keygen)
        .env("LOCKSTEP_REGISTRY", crate::registry::ensure(ws)?)
        .env("LOCKSTEP_XTASK", std::env::current_exe()?);
    Ok(cmd)
}

/// A cargo command run from the workspace root.
fn cargo_cmd(ws: &Workspace, cargo: &Path) -> Command {
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&ws.root);
    cmd
}

/// Runs one named phase, printing its outcome and elapsed time.
fn phase<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    eprintln!("==> {name}");
    let started = Instant::now();
    let result = f().with_context(|| format!("phase `{name}` failed"));
    let outcome = if result.is_ok() { "ok" } else { "FAILED" };
    eprintln!("<== {name}: {outcome} in {}", process::secs(started.elapsed()));
    result
}
