//! `cargo xtask bench`: measures lockstep on the local control plane with simulated nodes.
//!
//! Scenarios (see docs/benchmarks.md): 1 the floor (a minimal concurrent server-side-apply client,
//! no controller), 2 webhook to applied, 3 cold convergence, 4 idle cost, 5 drift correction, 6 git
//! soak, 7 the Flux peer, 8 one ApplicationSet generating N Applications, 9 chains of Applications
//! depending on each other, 10 the web UI's list with N Applications, 11 one Application of
//! 10,000 objects. Each reports the median and spread of repeated trials; the Markdown table goes
//! to stdout and `target/bench/latest.md`, the JSON to `target/bench/`.
//!
//! The harness starts its own cluster (`bench`, so other users of the default one neither disturb
//! nor are disturbed), a lighttpd git server and the controllers, and removes what it created.

pub(crate) mod apimetrics;
mod appset;
mod chain_hops;
mod chains;
mod drift;
pub(crate) mod fixtures;
mod fleet;
mod floor;
mod flux;
pub(crate) mod gitserver;
pub(crate) mod http;
mod idle;
mod ingress;
pub(crate) mod k8s;
mod large;
pub(crate) mod lockstep;
pub(crate) mod machine;
mod own_requests;
mod peer;
mod plan;
pub(crate) mod proc;
mod report;
mod soak;
mod stats;
mod ui;
mod webhook;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::Workspace;
use crate::cluster::{self, Cluster};
use gitserver::GitServer;
use plan::Plan;
pub use plan::Scenario;
use report::{Measurement, Report};

/// Options of `cargo xtask bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A tiny run of every scenario's code path (small N, 1–2 trials, debug build); what CI runs
    /// (with `--peer flux`). A peer that cannot be built fails a smoke run.
    #[arg(long)]
    pub smoke: bool,
    /// Also run a peer side by side (`flux`).
    #[arg(long, value_enum)]
    pub peer: Option<peer::Peer>,
    /// Run only these scenarios (comma-separated; default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Scenario>,
    /// App counts for the floor and cold convergence (default 100,500,1000); idle, drift, the
    /// ApplicationSet and the web UI use the largest.
    #[arg(long, value_delimiter = ',')]
    pub sizes: Vec<usize>,
    /// Trials of the floor and of cold convergence per size, and of the web UI (default 3).
    #[arg(long)]
    pub trials: Option<usize>,
    /// Trials of webhook-to-applied and of drift (default 100).
    #[arg(long)]
    pub latency_trials: Option<usize>,
    /// Length of the idle window, seconds (default 300).
    #[arg(long)]
    pub idle_secs: Option<u64>,
    /// Fetch cycles of the git soak (default 1000).
    #[arg(long)]
    pub soak_cycles: Option<usize>,
    /// Objects of scenario 11's single Application (default 10000).
    #[arg(long)]
    pub large_objects: Option<usize>,
    /// Cargo profile lockstep is built with (default: release; dev for --smoke).
    #[arg(long)]
    pub profile: Option<String>,
    /// Measure this lockstep binary instead of building one (e.g. a build of another commit).
    #[arg(long)]
    pub lockstep: Option<PathBuf>,
    /// Name of the cluster to run on (started if needed; `default` shares the test cluster).
    #[arg(long, default_value = "bench")]
    pub cluster: String,
    /// Leave the cluster running afterwards (by default a cluster other than `default` is stopped).
    #[arg(long)]
    pub keep_cluster: bool,
}

impl BenchArgs {
    /// The arguments of `cargo xtask bench --smoke`.
    pub fn smoke() -> Self {
        Self {
            smoke: true,
            peer: Some(peer::Peer::Flux),
            only: Vec::new(),
            sizes: Vec::new(),
            trials: None,
            latency_trials: None,
            idle_secs: None,
            soak_cycles: None,
            large_objects: None,
            profile: None,
            lockstep: None,
            cluster: "bench".into(),
            keep_cluster: false,
        }
    }
}

/// What every scenario needs.
pub struct Env {
    /// The cluster measured on.
    pub cluster: Cluster,
    /// A client for it.
    pub client: kube::Client,
    /// The git server all repositories are served from.
    pub git: GitServer,
    /// This run's scratch directory (logs, caches, working copies).
    pub run_dir: PathBuf,
    /// The lockstep binary under measurement.
    pub lockstep: PathBuf,
    /// The Flux peer, when `--peer flux` was asked for and it built.
    pub flux: Option<flux::FluxBuild>,
}

/// Runs the benchmark; see the module documentation.
pub fn run(ws: &Workspace, args: &BenchArgs) -> Result<()> {
    let plan = Plan::from_args(args);
    let mut machine = machine::Machine::detect(ws);
    let mut notes = plan.notes();
    let lockstep = match &args.lockstep {
        Some(bin) => {
            notes.push(format!("lockstep binary given: {} (not built by the harness)", bin.display()));
            std::fs::canonicalize(bin).with_context(|| format!("finding {}", bin.display()))?
        }
        None => lockstep::build(ws, &plan.profile)?,
    };
    let flux = match args.peer.map(|p| peer::prepare(ws, p)) {
        Some(Ok(build)) => {
            notes.push(format!(
                "peer: Flux source-controller and kustomize-controller {} (tests/peers/flux); Kustomization interval {}, \
                 retryInterval {}, wait (health checks) on, prune on; drift measured on one Kustomization with interval {}",
                flux::VERSION,
                flux::INTERVAL,
                flux::RETRY_INTERVAL,
                flux::DRIFT_INTERVAL
            ));
            Some(build)
        }
        Some(Err(why)) if args.smoke => return Err(why.context("the smoke run's peer could not be built")),
        Some(Err(why)) => {
            let why = format!("{why:#}");
            eprintln!("bench: the peer cannot run: {why}");
            notes.push(format!("peer: {why}"));
            None
        }
        None => None,
    };
    let cluster = cluster::up(ws, &args.cluster)?;
    install_crds(ws, &cluster)?;
    // One working directory per cluster, so runs on different clusters do not wipe each other's.
    let run_dir = ws.target().join("bench").join(format!("run-{}", args.cluster));
    if run_dir.exists() {
        std::fs::remove_dir_all(&run_dir).with_context(|| format!("removing {}", run_dir.display()))?;
    }
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let mut measurements: Vec<Measurement> = Vec::new();
    let result = runtime.block_on(async {
        let client = k8s::client(&cluster.kubeconfig).await?;
        let git = GitServer::start(&run_dir.join("git"))?;
        let env = Env { cluster: cluster.clone(), client, git, run_dir: run_dir.clone(), lockstep, flux };
        if let Some(build) = &env.flux {
            flux::install_crds(&env, build)?;
        }
        scenarios(&env, &plan, &mut measurements).await
    });
    if args.cluster != cluster::DEFAULT_NAME
        && !args.keep_cluster
        && let Err(e) = cluster::down(ws, &args.cluster)
    {
        eprintln!("bench: stopping cluster {}: {e:#}", args.cluster);
    }
    machine.load_end = machine::load_average();
    if let Err(e) = &result {
        notes.push(format!("the run stopped early: {e:#}"));
    }
    let report = Report { mode: plan.mode.clone(), machine, settings: plan.settings(), measurements, notes };
    println!("{}", report.markdown());
    let path = report.write(&ws.target().join("bench"))?;
    eprintln!("bench: wrote {} and {}", path.display(), ws.target().join("bench").join("latest.md").display());
    result
}

/// Installs lockstep's CRDs (from crds/) and waits until the Application CRD is established.
pub(crate) fn install_crds(ws: &Workspace, cluster: &Cluster) -> Result<()> {
    let kubectl = |args: &[&str]| {
        crate::process::output(
            std::process::Command::new(&cluster.kubectl).arg("--kubeconfig").arg(&cluster.kubeconfig).args(args),
        )
    };
    let crds = ws.root.join("crds").display().to_string();
    kubectl(&["apply", "--server-side", "--force-conflicts", "-f", &crds]).context("installing the CRDs")?;
    kubectl(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/applications.lockstep.dev",
        "crd/applicationsets.lockstep.dev",
    ])?;
    Ok(())
}

/// Runs the selected scenarios in order, appending their figures to `out`.
async fn scenarios(env: &Env, plan: &Plan, out: &mut Vec<Measurement>) -> Result<()> {
    if plan.runs(Scenario::Floor) {
        floor::run(env, plan, out).await.context("scenario 1 (floor)")?;
    }
    if plan.runs(Scenario::Webhook) {
        webhook::run(env, plan, out).await.context("scenario 2 (webhook to applied)")?;
    }
    if plan.runs(Scenario::Cold) || plan.runs(Scenario::Idle) || plan.runs(Scenario::Drift) {
        fleet::run(env, plan, out).await.context("scenarios 3–5 (cold convergence, idle, drift)")?;
    }
    if plan.runs(Scenario::Soak) {
        soak::run(env, plan, out).await.context("scenario 6 (git soak)")?;
    }
    if plan.runs(Scenario::Appset) {
        appset::run(env, plan, out).await.context("scenario 8 (ApplicationSet)")?;
    }
    if plan.runs(Scenario::Chains) {
        chains::run(env, plan, out).await.context("scenario 9 (dependency chains)")?;
    }
    if plan.runs(Scenario::Ui) {
        ui::run(env, plan, out).await.context("scenario 10 (web UI list)")?;
    }
    if plan.runs(Scenario::Large) {
        large::run(env, plan, out).await.context("scenario 11 (one large app)")?;
    }
    Ok(())
}
