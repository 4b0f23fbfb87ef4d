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

use crate::Workspace;
use crate::cluster::{self, Cluster, DEFAULT_NAME};
use crate::process::{self, Daemon};

/// How long the example Application may take to become Synced and Healthy.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(180);

/// Where the demo keeps its repository, cache, controller log and pid.
struct DemoLayout {
    dir: PathBuf,
    repo: PathBuf,
    pid: PathBuf,
    log: PathBuf,
}

impl DemoLayout {
    fn new(ws: &Workspace) -> Self {
        let dir = ws.target().join("demo");
        Self { repo: dir.join("repo"), pid: dir.join("controller.pid"), log: dir.join("controller.log"), dir }
    }
}

/// Runs the quickstart.
pub fn run(ws: &Workspace) -> Result<()> {
    let layout = DemoLayout::new(ws);
    let cluster = cluster::up(ws, DEFAULT_NAME)?;
    println!("==> building lockstep");
    process::run(
        Command::new(ws.cargo()).current_dir(&ws.root).args(["build", "-p", "lockstep", "--bin", "lockstep"]),
    )?;
    let lockstep = ws.cargo_target_dir().join("debug").join("lockstep");
    println!("==> installing the CRDs");
    kubectl(
        &cluster,
        &["apply", "--server-side", "--force-conflicts", "-f", &ws.root.join("crds").display().to_string()],
    )?;
    kubectl(&cluster, &["wait", "--for=condition=Established", "--timeout=60s", "crd/applications.lockstep.dev"])?;
    println!("==> creating the demo git repository at {}", layout.repo.display());
    create_repo(ws, &layout)?;
    println!("==> starting the controller (log: {})", layout.log.display());
    start_controller(&layout, &lockstep, &cluster)?;
    println!("==> applying the demo Application");
    let template = fs::read_to_string(ws.root.join("deploy/examples/demo-application.yaml"))
        .context("reading deploy/examples/demo-application.yaml")?;
    let url = format!("file://{}", layout.repo.display());
    let manifest = template.replace("REPO_URL", &url);
    let path = layout.dir.join("application.yaml");
    fs::write(&path, manifest).with_context(|| format!("writing {}", path.display()))?;
    kubectl(&cluster, &["apply", "-f", &path.display().to_string()])?;
    wait_synced_and_healthy(&cluster)?;
    println!("{}", kubectl(&cluster, &["get", "applications", "-A"])?);
    print_next_steps(&cluster, &layout);
    Ok(())
}

/// Stops the demo controller if it runs; called by `cargo xtask cluster down`.
pub fn stop(ws: &Workspace) {
    let layout = DemoLayout::new(ws);
    let Ok(pid) = fs::read_to_string(&layout.pid).map(|p| p.trim().parse::<u32>().unwrap_or(0)) else {
        return;
    };
    let program = ws.cargo_target_dir().join("debug").join("lockstep");
    process::terminate(&[Daemon { name: "lockstep demo controller", pid, program: &program }], Duration::from_secs(5));
    let _ = fs::remove_file(&layout.pid);
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

/// Starts the controller as a daemon unless the one started earlier still runs.
fn start_controller(layout: &DemoLayout, lockstep: &Path, cluster: &Cluster) -> Result<()> {
    if let Ok(pid) = fs::read_to_string(&layout.pid)
        && pid.trim().parse().is_ok_and(|pid| process::is_alive(pid, lockstep))
    {
        println!("    (already running, pid {})", pid.trim());
        return Ok(());
    }
    let mut cmd = Command::new(lockstep);
    cmd.arg("controller")
        .arg("--cache-dir")
        .arg(layout.dir.join("cache"))
        // Only the demo's namespace: tests sharing this control plane run controllers of their own.
        .args(["--watch-namespace", "default", "--log-format", "text", "--resync-period", "1m"])
        .env("KUBECONFIG", &cluster.kubeconfig);
    let child = process::detach(cmd, &layout.log)?;
    fs::write(&layout.pid, child.id().to_string()).with_context(|| format!("writing {}", layout.pid.display()))?;
    Ok(())
}

fn wait_synced_and_healthy(cluster: &Cluster) -> Result<()> {
    let deadline = Instant::now() + CONVERGE_TIMEOUT;
    let mut last = String::new();
    while Instant::now() < deadline {
        let jsonpath = "-o=jsonpath={.status.sync.status}/{.status.health.status}";
        last = kubectl(cluster, &["get", "application", "demo", "-n", "default", jsonpath]).unwrap_or_default();
        println!("    demo: {}", if last.is_empty() { "waiting for status" } else { last.as_str() });
        if last == "Synced/Healthy" {
            return Ok(());
        }
        sleep(Duration::from_secs(2));
    }
    bail!("the demo Application did not become Synced/Healthy within {CONVERGE_TIMEOUT:?} (last: {last})")
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
