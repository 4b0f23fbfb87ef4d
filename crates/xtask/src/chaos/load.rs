//! The load scenario of `cargo xtask chaos`: many Applications over many repositories, a steady
//! rate of commits, for a long window. It reports the controller's memory (sampled from /proc),
//! the reconcile queue latency (`lockstep_app_reconcile_queue_seconds`, p50/p99 over the window),
//! API requests a minute (the controller's own counter and the API server's), and every error: log
//! lines at WARN and ERROR, failed commits, and Applications not Synced at git's head afterwards.
//! The figures go to `target/chaos/load.json`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use kube::api::{DynamicObject, ListParams};
use serde_json::{Value, json};

use super::load_repos::{Repos, app_name, app_path, repo_of};
use super::scrape::{self, Buckets};
use crate::Workspace;
use crate::bench::gitserver::GitServer;
use crate::bench::proc::Controller;
use crate::bench::{Env, apimetrics, http, k8s, lockstep};
use crate::cluster::Cluster;

const NAMESPACE: &str = "chaos-load";
const QUEUE: &str = "lockstep_app_reconcile_queue_seconds";
const RECONCILE: &str = "lockstep_app_reconcile_duration_seconds";

/// Options of the load scenario (defaults: the full run; `--smoke` shrinks them).
#[derive(Debug, Clone, Default, Args)]
pub struct LoadArgs {
    /// Applications (full 5000, smoke 50).
    #[arg(long)]
    pub load_apps: Option<usize>,
    /// Repositories the Applications are spread over (full 100, smoke 5).
    #[arg(long)]
    pub load_repos: Option<usize>,
    /// Commits a minute, round-robin over the repositories (full 50, smoke 20).
    #[arg(long)]
    pub load_commits_per_minute: Option<u32>,
    /// Length of the commit window in minutes (full 30, smoke 1).
    #[arg(long)]
    pub load_minutes: Option<f64>,
    /// Cargo profile of the controller under load (full `release`, smoke `dev`).
    #[arg(long)]
    pub load_profile: Option<String>,
    /// The controller's `--resync-period` (full: its default, 3m; smoke 30s so the last commits
    /// arrive soon).
    #[arg(long)]
    pub load_resync: Option<String>,
}

/// The sizes of one run.
#[derive(Debug, Clone)]
struct Plan {
    apps: usize,
    repos: usize,
    per_minute: u32,
    window: Duration,
    profile: String,
    resync: Option<String>,
}

impl Plan {
    fn new(args: &LoadArgs, smoke: bool) -> Self {
        fn pick<T>(smoke: bool, full: T, small: T) -> T {
            if smoke { small } else { full }
        }
        let pick_usize = |full, small| pick(smoke, full, small);
        Self {
            apps: args.load_apps.unwrap_or(pick_usize(5000, 50)),
            repos: args.load_repos.unwrap_or(pick_usize(100, 5)).max(1),
            per_minute: args.load_commits_per_minute.unwrap_or(pick(smoke, 50, 20)),
            window: Duration::from_secs_f64(args.load_minutes.unwrap_or(pick(smoke, 30.0, 1.0)) * 60.0),
            profile: args.load_profile.clone().unwrap_or_else(|| pick(smoke, "release", "dev").to_string()),
            resync: args.load_resync.clone().or_else(|| smoke.then(|| "30s".to_string())),
        }
    }
}

/// One scrape of the controller and the API server.
struct Scrape {
    controller: String,
    api: apimetrics::Counts,
}

async fn scrape(cluster: &Cluster, metrics: SocketAddr) -> Result<Scrape> {
    let (code, controller) = http::get(metrics, "/metrics").context("scraping the controller")?;
    if code != 200 {
        bail!("the controller's /metrics answered {code}");
    }
    Ok(Scrape { controller, api: apimetrics::read(cluster)? })
}

/// Runs the scenario on `cluster` and writes `target/chaos/load.json`.
pub fn run(ws: &Workspace, cluster: &Cluster, args: &LoadArgs, smoke: bool) -> Result<Value> {
    let plan = Plan::new(args, smoke);
    eprintln!("chaos load: {plan:?}");
    let lockstep = lockstep::build(ws, &plan.profile)?;
    crate::bench::install_crds(ws, cluster)?;
    let run_dir = ws.target().join("chaos").join("load-run");
    if run_dir.exists() {
        std::fs::remove_dir_all(&run_dir).with_context(|| format!("removing {}", run_dir.display()))?;
    }
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime.block_on(async {
        let client = k8s::client(&cluster.kubeconfig).await?;
        let git = GitServer::start(&run_dir.join("git"))?;
        let env = Env { cluster: cluster.clone(), client, git, run_dir: run_dir.clone(), lockstep, flux: None };
        k8s::delete_namespace(&env.client, NAMESPACE, Duration::from_secs(900)).await?;
        k8s::create_namespace(&env.client, NAMESPACE).await?;
        let result = measure(&env, &plan).await;
        // The figures are kept before the (long) cleanup of thousands of objects.
        if let Ok(report) = &result {
            let path = ws.target().join("chaos").join("load.json");
            std::fs::write(&path, serde_json::to_string_pretty(report)?)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("chaos load: wrote {}", path.display());
        }
        k8s::delete_namespace(&env.client, NAMESPACE, Duration::from_secs(1800)).await?;
        result
    })?;
    Ok(report)
}

async fn measure(env: &Env, plan: &Plan) -> Result<Value> {
    let repos = Arc::new(Repos::create(&env.git, &env.run_dir.join("work"), plan.repos, plan.apps)?);
    let metrics = lockstep::free_addr()?;
    let mut controller = start_controller(env, plan, metrics)?;
    lockstep::wait_readyz(&mut controller, metrics).await?;
    let apps: Vec<Value> = (0..plan.apps)
        .map(|i| lockstep::application(NAMESPACE, &app_name(i), repos.url(repo_of(i, repos.len())), &app_path(i)))
        .collect();
    let started = Instant::now();
    k8s::apply_all(&env.client, NAMESPACE, &apps, k8s::MANAGER, 32).await?;
    let cold_timeout = Duration::from_secs(600 + plan.apps as u64 / 4);
    wait_synced_at_heads(env, &repos, &mut controller, plan.apps, cold_timeout).await?;
    let cold = started.elapsed();
    let cold_peak = controller.usage()?.peak_rss_mib;
    eprintln!(
        "chaos load: {} Applications Synced in {:.1}s, peak RSS {cold_peak:.1} MiB",
        plan.apps,
        cold.as_secs_f64()
    );

    let load_start = crate::bench::machine::load_average();
    let busy_start = other_busy_processes();
    let before = scrape(&env.cluster, metrics).await?;
    let log_start = std::fs::metadata(&controller.log).map(|m| m.len()).unwrap_or(0);
    let stop = Arc::new(AtomicBool::new(false));
    let committer = repos.start_committing(plan.per_minute, stop.clone());
    let window_start = Instant::now();
    let mut rss = Vec::new();
    let sample_every =
        if plan.window > Duration::from_secs(300) { Duration::from_secs(15) } else { Duration::from_secs(5) };
    let alive = loop {
        let usage = controller.check_alive().and_then(|()| controller.usage());
        match usage {
            Ok(usage) => rss.push(usage.rss_mib),
            Err(err) => break Err(err),
        }
        if window_start.elapsed() >= plan.window {
            break Ok(());
        }
        tokio::time::sleep(sample_every.min(plan.window.saturating_sub(window_start.elapsed()))).await;
    };
    stop.store(true, Ordering::Relaxed);
    let commits = committer.finish();
    alive?;
    let window = window_start.elapsed();
    let load_end = crate::bench::machine::load_average();
    let busy_end = other_busy_processes();
    let after = scrape(&env.cluster, metrics).await?;
    let peak = controller.usage()?.peak_rss_mib;
    // The last commits reach every Application within a resync period (polled; 3 minutes by default).
    let settle_started = Instant::now();
    let settled = wait_synced_at_heads(env, &repos, &mut controller, plan.apps, Duration::from_secs(480)).await;
    let settle = settle_started.elapsed();
    let not_synced = match &settled {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("chaos load: {err:#}");
            not_synced_at_heads(env, &repos).await?.len()
        }
    };
    let log = std::fs::read_to_string(&controller.log).unwrap_or_default();
    let window_log = log.get(usize::try_from(log_start).unwrap_or(0)..).unwrap_or_default();
    let (warnings, errors, top) = log_problems(window_log);
    let (all_warnings, all_errors, _) = log_problems(&log);
    let minutes = window.as_secs_f64() / 60.0;
    let queue = Buckets::read(&after.controller, QUEUE).since(&Buckets::read(&before.controller, QUEUE));
    let reconciles = Buckets::read(&after.controller, RECONCILE).since(&Buckets::read(&before.controller, RECONCILE));
    let counter = |name: &str, filter: &str| {
        (scrape::sum(&after.controller, name, filter) - scrape::sum(&before.controller, name, filter)) / minutes
    };
    let api = apimetrics::delta(&before.api, &after.api);
    let api_total: f64 = api.values().sum();
    let rss_max = rss.iter().copied().fold(0.0, f64::max);
    Ok(json!({
        "scenario": "load",
        "applications": plan.apps, "repositories": plan.repos, "objects": plan.apps * 2,
        "commits_per_minute_asked": plan.per_minute, "window_minutes": minutes, "profile": plan.profile,
        "resync_period": plan.resync.as_deref().unwrap_or("3m (default)"),
        "cold_convergence_seconds": cold.as_secs_f64(), "cold_peak_rss_mib": cold_peak,
        "commits": commits.commits, "commit_failures": commits.failures, "commits_late": commits.late,
        "rss_mib": {"first": rss.first(), "last": rss.last(), "max": rss_max, "samples": rss.len()},
        "peak_rss_mib": peak,
        "queue_latency_seconds": {"observations": queue.count(), "p50": queue.quantile(0.5), "p99": queue.quantile(0.99)},
        "reconcile_seconds": {"count": reconciles.count(), "p50": reconciles.quantile(0.5), "p99": reconciles.quantile(0.99)},
        "reconciles_per_minute": reconciles.count() / minutes,
        "controller_api_requests_per_minute": counter("lockstep_kube_requests_total", ""),
        "controller_api_errors_per_minute": counter("lockstep_kube_requests_total", "code=\"5")
            + counter("lockstep_kube_requests_total", "code=\"error\""),
        "apiserver_requests_per_minute": api_total / minutes,
        "apiserver_requests_per_minute_by_verb": api.iter().map(|(v, n)| (v.clone(), n / minutes)).collect::<BTreeMap<_, _>>(),
        "git_requests_per_minute": counter("lockstep_git_requests_total", ""),
        "git_failures_per_minute": counter("lockstep_git_requests_total", "result=\"failure\""),
        "log_warnings": warnings, "log_errors": errors, "log_top_problems": top,
        "log_warnings_whole_run": all_warnings, "log_errors_whole_run": all_errors,
        "settled_after_window_seconds": settle.as_secs_f64(), "not_synced_at_head": not_synced,
        "machine": {
            "cpus": std::thread::available_parallelism().map(usize::from).unwrap_or(0),
            "load_average_at_window_start": load_start, "load_average_at_window_end": load_end,
            "busy_processes_at_window_start": busy_start, "busy_processes_at_window_end": busy_end,
        },
    }))
}

/// `lockstep controller` for the load namespace as the benchmarks start it (defaults, JSON log, no
/// leader election), with the plan's resync period.
fn start_controller(env: &Env, plan: &Plan, metrics: SocketAddr) -> Result<Controller> {
    let cache = env.run_dir.join("cache");
    let mut cmd = std::process::Command::new(&env.lockstep);
    cmd.arg("controller")
        .args(["--watch-namespace", NAMESPACE, "--controller-namespace", NAMESPACE, "--leader-elect=false"])
        .args(["--log-format", "json", "--metrics-addr", &metrics.to_string()])
        .arg("--cache-dir")
        .arg(&cache)
        .env("KUBECONFIG", &env.cluster.kubeconfig)
        .env("RUST_LOG", "info");
    if let Some(resync) = &plan.resync {
        cmd.args(["--resync-period", resync]);
    }
    Controller::start("lockstep controller", cmd, &env.run_dir.join("lockstep.log"))
}

/// Applications not Synced at their repository's head commit.
async fn not_synced_at_heads(env: &Env, repos: &Repos) -> Result<Vec<String>> {
    let heads = repos.heads_by_url();
    let list = k8s::applications(&env.client, NAMESPACE).list(&ListParams::default()).await?;
    Ok(list.items.iter().filter(|app| !synced_at(app, &heads)).filter_map(|a| a.metadata.name.clone()).collect())
}

fn synced_at(app: &DynamicObject, heads: &BTreeMap<String, String>) -> bool {
    let url = app.data["spec"]["source"]["repoURL"].as_str().unwrap_or_default();
    let status = &app.data["status"]["sync"];
    status["status"] == "Synced" && heads.get(url).is_some_and(|head| status["revision"] == head.as_str())
}

/// Polls (every 5 s: a list of thousands of Applications is not free) until all `n` are Synced at
/// their repository's head.
async fn wait_synced_at_heads(
    env: &Env,
    repos: &Repos,
    controller: &mut Controller,
    n: usize,
    timeout: Duration,
) -> Result<()> {
    let started = Instant::now();
    loop {
        controller.check_alive()?;
        let heads = repos.heads_by_url();
        let list = k8s::applications(&env.client, NAMESPACE).list(&ListParams::default()).await?;
        let synced = list.items.iter().filter(|app| synced_at(app, &heads)).count();
        if synced >= n {
            return Ok(());
        }
        let behind: Vec<String> =
            list.items.iter().filter(|app| !synced_at(app, &heads)).filter_map(|a| a.metadata.name.clone()).collect();
        if started.elapsed() > timeout {
            let some: Vec<&String> = behind.iter().take(5).collect();
            bail!("{} of {n} Applications not Synced at git's head after {timeout:?}: {some:?}", behind.len());
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// What else keeps the machine busy: the eight processes with the highest CPU share (`ps`: CPU time
/// over each one's lifetime) and their commands, so a reader can tell what shared the cores.
fn other_busy_processes() -> Vec<String> {
    let out = std::process::Command::new("ps").args(["-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"]).output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).lines().take(8).map(|l| l.trim().to_string()).collect())
        .unwrap_or_default()
}

/// WARN and ERROR lines of a JSON log, and the five most frequent messages among them.
fn log_problems(log: &str) -> (usize, usize, Vec<Value>) {
    let (mut warnings, mut errors) = (0, 0);
    let mut messages: BTreeMap<String, usize> = BTreeMap::new();
    for line in log.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else { continue };
        match entry["level"].as_str() {
            Some("WARN") => warnings += 1,
            Some("ERROR") => errors += 1,
            _ => continue,
        }
        let message = entry["fields"]["message"].as_str().unwrap_or_default();
        let detail = entry["fields"]["error"].as_str().or(entry["fields"]["err"].as_str()).unwrap_or_default();
        let key: String =
            format!("{} {message}: {detail}", entry["level"].as_str().unwrap_or_default()).chars().take(200).collect();
        *messages.entry(key).or_default() += 1;
    }
    let mut top: Vec<(String, usize)> = messages.into_iter().collect();
    top.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    (warnings, errors, top.into_iter().take(5).map(|(m, n)| json!({"message": m, "count": n})).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke_is_small_and_full_is_the_issue_s_size() {
        let full = Plan::new(&LoadArgs::default(), false);
        assert_eq!((full.apps, full.repos, full.per_minute, full.window.as_secs()), (5000, 100, 50, 1800));
        let smoke = Plan::new(&LoadArgs::default(), true);
        assert!(smoke.apps <= 50 && smoke.window <= Duration::from_secs(120) && smoke.profile == "dev");
        let scaled = Plan::new(&LoadArgs { load_apps: Some(2000), ..Default::default() }, false);
        assert_eq!(scaled.apps, 2000);
    }

    #[test]
    fn log_problems_count_levels_and_group_messages() {
        let log = [
            r#"{"level":"INFO","fields":{"message":"fetched"}}"#,
            r#"{"level":"WARN","fields":{"message":"reconcile failed; retrying","error":"conflict"}}"#,
            r#"{"level":"WARN","fields":{"message":"reconcile failed; retrying","error":"conflict"}}"#,
            r#"{"level":"ERROR","fields":{"message":"boom"}}"#,
            "not json",
        ]
        .join("\n");
        let (warnings, errors, top) = log_problems(&log);
        assert_eq!((warnings, errors), (2, 1));
        assert_eq!(top[0]["count"], 2);
        assert_eq!(top[0]["message"], "WARN reconcile failed; retrying: conflict");
    }
}
