//! `cargo xtask demo`: the quickstart. Starts the local control plane, installs the CRDs, creates a
//! git repository from deploy/examples/demo, runs the controller in the background, applies the
//! example Application and waits until it is Synced and Healthy. Everything is left running;
//! `cargo xtask cluster down` stops it all (the demo controller included).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::Workspace;
use crate::cluster::{self, Cluster, DEFAULT_NAME};
use crate::gomodule::fnv1a64;
use crate::process::{self, Daemon};

/// How long the example Application may take to become Synced and Healthy.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(180);
/// How long `--check` waits for a commit to sync and for a deleted object to come back.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(90);
/// The cluster `--check` starts afresh and removes afterwards.
pub const CHECK_CLUSTER: &str = "demo-check";
/// The namespace the controller keeps its Lease in, as `deploy/base` creates it.
const CONTROLLER_NAMESPACE: &str = "lockstep-system";

/// Options of `cargo xtask demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Run the quickstart as a newcomer would, on a fresh control plane with empty state; then
    /// prove that a commit syncs and a deleted object heals, and tear everything down.
    #[arg(long)]
    pub check: bool,
}

/// Where the demo keeps its repository, cache, controller log and pid.
struct DemoLayout {
    dir: PathBuf,
    repo: PathBuf,
    pid: PathBuf,
    log: PathBuf,
}

impl DemoLayout {
    fn new(ws: &Workspace, cluster: &str) -> Self {
        let dir = if cluster == DEFAULT_NAME {
            ws.target().join("demo")
        } else {
            ws.target().join(format!("demo-{cluster}"))
        };
        Self { repo: dir.join("repo"), pid: dir.join("controller.pid"), log: dir.join("controller.log"), dir }
    }
}

/// Runs the quickstart, or with `--check` the newcomer's check of it.
pub fn run(ws: &Workspace, args: &DemoArgs) -> Result<()> {
    crate::prereq::ensure(crate::prereq::Task::Demo)?;
    if args.check {
        return check(ws);
    }
    let layout = DemoLayout::new(ws, DEFAULT_NAME);
    let cluster = quickstart(ws, DEFAULT_NAME, &layout)?;
    println!("{}", kubectl(&cluster, &["get", "applications", "-A"])?);
    print_next_steps(&cluster, &layout);
    Ok(())
}

/// Starts cluster `name`, installs lockstep, creates the repository, starts the controller and applies
/// the demo Application; returns once it is Synced and Healthy.
fn quickstart(ws: &Workspace, name: &str, layout: &DemoLayout) -> Result<Cluster> {
    let cluster = cluster::up(ws, name)?;
    println!("==> building lockstep");
    process::run(
        Command::new(ws.cargo()).current_dir(&ws.root).args(["build", "-p", "lockstep", "--bin", "lockstep"]),
    )?;
    let lockstep = ws.cargo_target_dir().join("debug").join("lockstep");
    println!("==> installing the CRDs and the {CONTROLLER_NAMESPACE} namespace");
    kubectl(
        &cluster,
        &["apply", "--server-side", "--force-conflicts", "-f", &ws.root.join("crds").display().to_string()],
    )?;
    kubectl(&cluster, &["apply", "-f", &ws.root.join("deploy/base/namespace.yaml").display().to_string()])?;
    kubectl(&cluster, &["wait", "--for=condition=Established", "--timeout=60s", "crd/applications.lockstep.dev"])?;
    println!("==> creating the demo git repository at {}", layout.repo.display());
    create_repo(ws, layout)?;
    println!("==> starting the controller (log: {})", layout.log.display());
    start_controller(layout, &lockstep, &cluster)?;
    println!("==> applying the demo Application");
    let template = fs::read_to_string(ws.root.join("deploy/examples/demo-application.yaml"))
        .context("reading deploy/examples/demo-application.yaml")?;
    let url = format!("file://{}", layout.repo.display());
    let manifest = template.replace("REPO_URL", &url);
    let path = layout.dir.join("application.yaml");
    fs::write(&path, manifest).with_context(|| format!("writing {}", path.display()))?;
    kubectl(&cluster, &["apply", "-f", &path.display().to_string()])?;
    wait_synced_and_healthy(&cluster, layout)?;
    Ok(cluster)
}

/// The quickstart on a fresh cluster, then a commit and a deletion; always tears down.
pub fn check(ws: &Workspace) -> Result<()> {
    let started = Instant::now();
    let layout = DemoLayout::new(ws, CHECK_CLUSTER);
    // A fresh control plane with empty state, and no repository or cache from an earlier check.
    stop_controller(ws, &layout);
    cluster::down(ws, CHECK_CLUSTER)?;
    if layout.dir.exists() {
        fs::remove_dir_all(&layout.dir).with_context(|| format!("removing {}", layout.dir.display()))?;
    }
    let result = quickstart(ws, CHECK_CLUSTER, &layout).and_then(|cluster| commit_and_heal(&cluster, &layout));
    if result.is_err() {
        print_log_tail(&layout);
    }
    stop_controller(ws, &layout);
    let down = cluster::down(ws, CHECK_CLUSTER);
    result?;
    down?;
    println!("demo check passed in {}", process::secs(started.elapsed()));
    Ok(())
}

/// What a newcomer tries next: a commit reaches the cluster, and a deleted object comes back.
fn commit_and_heal(cluster: &Cluster, layout: &DemoLayout) -> Result<()> {
    println!("==> committing a change and asking for a refresh");
    let config = layout.repo.join("demo").join("config.yaml");
    let text = fs::read_to_string(&config).with_context(|| format!("reading {}", config.display()))?;
    fs::write(&config, text.replace("hello from git", "hello again"))
        .with_context(|| format!("writing {}", config.display()))?;
    git(&layout.repo, &["commit", "-q", "-am", "change the greeting"])?;
    let head = process::output(Command::new("git").current_dir(&layout.repo).args(["rev-parse", "HEAD"]))?;
    let head = head.trim();
    let stamp = format!("lockstep.dev/refresh=check-{}", std::process::id());
    kubectl(cluster, &["annotate", "application", "demo", "-n", "default", &stamp, "--overwrite"])?;
    wait_for(layout, "the commit to sync", || {
        let status = kubectl(cluster, &["get", "application", "demo", "-n", "default", STATUS_JSONPATH])?;
        let message = kubectl(cluster, &["get", "configmap", "greeting", "-n", "demo", "-o=jsonpath={.data.message}"])?;
        Ok((status == format!("Synced/Healthy/{head}") && message == "hello again").then_some(()).ok_or(status))
    })?;
    println!("==> deleting a managed object");
    kubectl(cluster, &["delete", "configmap", "greeting", "-n", "demo", "--wait=true"])?;
    wait_for(layout, "the deleted ConfigMap to be recreated", || {
        let found = kubectl(cluster, &["get", "configmap", "greeting", "-n", "demo", "-o=jsonpath={.data.message}"]);
        Ok(found.as_deref().is_ok_and(|m| m == "hello again").then_some(()).ok_or_else(|| "not yet".to_owned()))
    })
}

/// `sync/health/revision` of the demo Application.
const STATUS_JSONPATH: &str = "-o=jsonpath={.status.sync.status}/{.status.health.status}/{.status.sync.revision}";

/// Polls `probe` every second until it returns `Ok(Ok(()))`; `Ok(Err(last))` keeps waiting.
fn wait_for(
    layout: &DemoLayout,
    what: &str,
    probe: impl Fn() -> Result<std::result::Result<(), String>>,
) -> Result<()> {
    let deadline = Instant::now() + CHANGE_TIMEOUT;
    let mut last = String::new();
    while Instant::now() < deadline {
        match probe() {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(seen)) => last = seen,
            Err(e) => last = format!("{e:#}"),
        }
        sleep(Duration::from_secs(1));
    }
    bail!(
        "timed out after {CHANGE_TIMEOUT:?} waiting for {what} (last: {last}); controller log: {}",
        layout.log.display()
    )
}

/// Stops the demo controller if it runs; called by `cargo xtask cluster down`.
pub fn stop(ws: &Workspace, cluster: &str) {
    stop_controller(ws, &DemoLayout::new(ws, cluster));
}

fn stop_controller(ws: &Workspace, layout: &DemoLayout) {
    let Some(record) = ControllerRecord::load(layout) else { return };
    let program = ws.cargo_target_dir().join("debug").join("lockstep");
    process::terminate(
        &[Daemon { name: "lockstep demo controller", pid: record.pid, program: &program }],
        Duration::from_secs(5),
    );
    let _ = fs::remove_file(&layout.pid);
}

/// The running demo controller: its pid, and which control plane it was started against (a
/// fingerprint of the kubeconfig, which changes whenever the cluster is started afresh).
#[derive(Debug, PartialEq, Eq)]
struct ControllerRecord {
    pid: u32,
    cluster: String,
}

impl ControllerRecord {
    fn load(layout: &DemoLayout) -> Option<Self> {
        Self::parse(&fs::read_to_string(&layout.pid).ok()?)
    }

    fn parse(text: &str) -> Option<Self> {
        let mut words = text.split_whitespace();
        let pid = words.next()?.parse().ok()?;
        Some(Self { pid, cluster: words.next().unwrap_or_default().to_owned() })
    }

    fn render(&self) -> String {
        format!("{} {}\n", self.pid, self.cluster)
    }
}

/// A fingerprint of the cluster's kubeconfig: a controller started against another one is stale.
fn cluster_fingerprint(cluster: &Cluster) -> Result<String> {
    let bytes = fs::read(&cluster.kubeconfig).with_context(|| format!("reading {}", cluster.kubeconfig.display()))?;
    Ok(format!("{:016x}", fnv1a64(&bytes)))
}

/// Creates the repository once; a rerun keeps it (and any commits made to it).
fn create_repo(ws: &Workspace, layout: &DemoLayout) -> Result<()> {
    if layout.repo.join(".git").is_dir() {
        println!("    (kept the existing repository)");
        return Ok(());
    }
    let target = layout.repo.join("demo");
    fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    let examples = ws.root.join("deploy/examples/demo");
    for entry in fs::read_dir(&examples).with_context(|| format!("reading {}", examples.display()))? {
        let path = entry?.path();
        if let Some(name) = path.file_name() {
            fs::copy(&path, target.join(name)).with_context(|| format!("copying {}", path.display()))?;
        }
    }
    git(&layout.repo, &["init", "-q", "-b", "main"])?;
    git(&layout.repo, &["add", "-A"])?;
    git(&layout.repo, &["commit", "-q", "-m", "demo: initial manifests"])?;
    Ok(())
}

fn git(repo: &Path, args: &[&str]) -> Result<()> {
    process::run(
        Command::new("git")
            .current_dir(repo)
            .args(["-c", "user.name=lockstep demo", "-c", "user.email=demo@lockstep.dev", "-c", "commit.gpgsign=false"])
            .args(args),
    )
}

/// Starts the controller as a daemon unless the one started earlier still runs against this
/// cluster; one left from an earlier cluster is stopped first.
fn start_controller(layout: &DemoLayout, lockstep: &Path, cluster: &Cluster) -> Result<()> {
    let fingerprint = cluster_fingerprint(cluster)?;
    if let Some(record) = ControllerRecord::load(layout)
        && process::is_alive(record.pid, lockstep)
    {
        if record.cluster == fingerprint {
            println!("    (already running, pid {})", record.pid);
            return Ok(());
        }
        println!("    (stopping controller {} left from an earlier control plane)", record.pid);
        process::terminate(
            &[Daemon { name: "lockstep demo controller", pid: record.pid, program: lockstep }],
            Duration::from_secs(5),
        );
    }
    let mut cmd = Command::new(lockstep);
    cmd.arg("controller")
        .arg("--cache-dir")
        .arg(layout.dir.join("cache"))
        // Only the demo's namespace: tests sharing this control plane run controllers of their own.
        .args(["--watch-namespace", "default", "--log-format", "text", "--resync-period", "1m"])
        .args(["--controller-namespace", CONTROLLER_NAMESPACE])
        .env("KUBECONFIG", &cluster.kubeconfig);
    let child = process::detach(cmd, &layout.log)?;
    let record = ControllerRecord { pid: child.id(), cluster: fingerprint };
    fs::write(&layout.pid, record.render()).with_context(|| format!("writing {}", layout.pid.display()))?;
    Ok(())
}

fn wait_synced_and_healthy(cluster: &Cluster, layout: &DemoLayout) -> Result<()> {
    let deadline = Instant::now() + CONVERGE_TIMEOUT;
    let mut last = String::new();
    while Instant::now() < deadline {
        let jsonpath = "-o=jsonpath={.status.sync.status}/{.status.health.status}";
        let seen = kubectl(cluster, &["get", "application", "demo", "-n", "default", jsonpath]).unwrap_or_default();
        if seen != last {
            println!("    demo: {}", if seen.is_empty() { "waiting for status" } else { seen.as_str() });
            last = seen;
        }
        if last == "Synced/Healthy" {
            return Ok(());
        }
        sleep(Duration::from_secs(1));
    }
    print_log_tail(layout);
    bail!(
        "the demo Application did not become Synced/Healthy within {CONVERGE_TIMEOUT:?} (last: {last}); controller log: {}",
        layout.log.display()
    )
}

/// Prints the end of the controller's log, where the reason for a failure is.
fn print_log_tail(layout: &DemoLayout) {
    let Ok(text) = fs::read_to_string(&layout.log) else { return };
    let lines: Vec<&str> = text.lines().collect();
    eprintln!("--- last lines of {} ---", layout.log.display());
    for line in &lines[lines.len().saturating_sub(20)..] {
        eprintln!("{line}");
    }
}

fn kubectl(cluster: &Cluster, args: &[&str]) -> Result<String> {
    process::output(Command::new(&cluster.kubectl).arg("--kubeconfig").arg(&cluster.kubeconfig).args(args))
}

fn print_next_steps(cluster: &Cluster, layout: &DemoLayout) {
    let kubectl = format!("{} --kubeconfig {}", cluster.kubectl.display(), cluster.kubeconfig.display());
    println!(
        "
The demo is running. Try a change in git:

  cd {repo}
  sed -i 's/hello from git/hello again/' demo/config.yaml
  git commit -qam 'change the greeting'
  {kubectl} annotate application demo -n default lockstep.dev/refresh=\"$(date +%s)\" --overwrite
  {kubectl} get applications -n default -o wide --watch

Without the annotation the change arrives within the resync period (1 minute here).
Drift is healed too: {kubectl} -n demo delete configmap greeting
Controller log: {log}
Stop everything: cargo xtask cluster down",
        repo = layout.repo.display(),
        log = layout.log.display(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_record_round_trips_and_reads_the_old_format() {
        let record = ControllerRecord { pid: 42, cluster: "00ff".into() };
        assert_eq!(ControllerRecord::parse(&record.render()), Some(record));
        // Written by earlier versions: a bare pid, matching no cluster.
        assert_eq!(ControllerRecord::parse("17\n"), Some(ControllerRecord { pid: 17, cluster: String::new() }));
        assert_eq!(ControllerRecord::parse("garbage"), None);
    }

    #[test]
    fn each_cluster_has_its_own_demo_directory() {
        let ws = Workspace { root: PathBuf::from("/w") };
        assert_eq!(DemoLayout::new(&ws, DEFAULT_NAME).dir, Path::new("/w/target/demo"));
        assert_eq!(DemoLayout::new(&ws, CHECK_CLUSTER).dir, Path::new("/w/target/demo-demo-check"));
    }
}
