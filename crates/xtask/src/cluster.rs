//! `cargo xtask cluster up|down`: a local control plane (etcd,
//! kube-apiserver, kube-controller-manager, kube-scheduler) on free loopback
//! ports plus kwok with simulated nodes ([`crate::kwok`]), running as
//! detached daemons that outlive xtask.
//!
//! Cluster `default` keeps its state in target/cluster/ and writes the public
//! contract target/cluster/kubeconfig; cluster NAME uses target/cluster/NAME/.
//! The API server writes an audit log of every write to `audit/` there
//! ([`audit`]); `cluster restart` stops and starts etcd or the API server with
//! the same ports and arguments ([`restart`]), for the chaos scenarios. It also trusts
//! one OIDC issuer on loopback, down until a test serves it ([`oidc`]).

mod audit;
mod kubeconfig;
mod oidc;
mod restart;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};

use crate::Workspace;
use crate::certs::{self, Pki};
use crate::gobuild::{self, Binaries};
use crate::kwok::{self, Kwok};
use crate::process::{self, Daemon};
use kubeconfig::kubeconfig;

/// Name of the cluster whose state lives directly in target/cluster/.
pub const DEFAULT_NAME: &str = "default";
/// How long to wait for the API server's /readyz.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long to wait, after /readyz, for the controller manager to create the
/// `default` ServiceAccount.
const CONTROLLERS_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait, after the controller manager works, for the simulated
/// nodes to be Ready and untainted.
const NODES_TIMEOUT: Duration = Duration::from_secs(60);
/// How often `up` starts afresh when a daemon lost its port to someone else.
const START_ATTEMPTS: u32 = 3;
/// Grace period between SIGTERM and SIGKILL on shutdown.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// Names of the default cluster's own subdirectories, which therefore cannot
/// name another cluster.
const RESERVED_NAMES: &[&str] = &["pki", "etcd", "logs", "audit"];

/// `cargo xtask cluster` subcommands.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Start the cluster (building the binaries if needed); a no-op if it is running.
    Up(ClusterArgs),
    /// Stop the cluster and remove its state; a no-op if it is not running.
    Down(ClusterArgs),
    /// Stop etcd, the API server or both and start them again with the same ports and arguments.
    Restart(restart::RestartArgs),
}

/// Options shared by `up` and `down`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Cluster name; `default` writes target/cluster/kubeconfig, others
    /// target/cluster/NAME/kubeconfig.
    #[arg(long, default_value = DEFAULT_NAME)]
    pub name: String,
}

/// Runs a `cargo xtask cluster` subcommand.
pub fn run(ws: &Workspace, command: ClusterCommand) -> Result<()> {
    match command {
        ClusterCommand::Up(args) => up(ws, &args.name).map(|_| ()),
        ClusterCommand::Down(args) => down(ws, &args.name),
        ClusterCommand::Restart(args) => restart::run(ws, &args),
    }
}

/// A running cluster, as handed to callers such as `cargo xtask test`.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The admin kubeconfig (absolute path).
    pub kubeconfig: PathBuf,
    /// The kubectl binary built with the control plane (absolute path).
    pub kubectl: PathBuf,
}

/// Where a cluster keeps its files.
#[derive(Debug, Clone)]
struct Layout {
    /// Cluster name.
    name: String,
    /// State directory: target/cluster or target/cluster/NAME.
    dir: PathBuf,
    /// The admin kubeconfig (the public contract).
    kubeconfig: PathBuf,
    /// A private copy of the kubeconfig for the controller manager and scheduler.
    components_kubeconfig: PathBuf,
    /// Recorded ports and pids.
    state: PathBuf,
    /// Certificates and keys.
    pki: PathBuf,
    /// etcd's data directory.
    etcd: PathBuf,
    /// Component logs.
    logs: PathBuf,
    /// The API server's audit policy and log.
    audit: PathBuf,
    /// The simulated nodes' manifest, as applied.
    nodes: PathBuf,
    /// Lock serialising `up`/`down` of this cluster; kept outside the state
    /// directory so that removing the state never removes a held lock.
    lock: PathBuf,
}

impl Layout {
    /// The layout of cluster `name`, which must be a DNS-label-like name.
    fn new(ws: &Workspace, name: &str) -> Result<Self> {
        validate_name(name)?;
        let base = ws.target().join("cluster");
        let dir = if name == DEFAULT_NAME { base.clone() } else { base.join(name) };
        Ok(Self {
            name: name.to_owned(),
            kubeconfig: dir.join("kubeconfig"),
            components_kubeconfig: dir.join("components.kubeconfig"),
            state: dir.join("state.json"),
            pki: dir.join("pki"),
            etcd: dir.join("etcd"),
            logs: dir.join("logs"),
            audit: dir.join("audit"),
            nodes: dir.join("nodes.yaml"),
            lock: base.join(".locks").join(format!("{name}.lock")),
            dir,
        })
    }

    /// Takes the cluster's lock, held until the returned file is dropped.
    fn lock(&self) -> Result<fs::File> {
        let dir = self.lock.parent().expect("lock file has a parent");
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        gobuild::lock(&self.lock)
    }

    /// Log file of a component.
    fn log(&self, component: &str) -> PathBuf {
        self.logs.join(format!("{component}.log"))
    }

    /// Removes the cluster's state. For `default` only its own entries go,
    /// since the named clusters live in subdirectories of its directory.
    fn remove(&self) -> Result<()> {
        if self.name != DEFAULT_NAME {
            return remove_path(&self.dir);
        }
        for path in [
            &self.kubeconfig,
            &self.components_kubeconfig,
            &self.state,
            &self.pki,
            &self.etcd,
            &self.logs,
            &self.audit,
            &self.nodes,
        ] {
            remove_path(path)?;
        }
        Ok(())
    }
}

/// Removes a file or directory tree if it exists.
fn remove_path(path: &Path) -> Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    result.with_context(|| format!("removing {}", path.display()))
}

/// Accepts lowercase DNS-label-like names that do not clash with the default
/// cluster's own entries.
fn validate_name(name: &str) -> Result<()> {
    let valid_chars = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if name.is_empty() || name.len() > 40 || !valid_chars || name.starts_with('-') || name.ends_with('-') {
        bail!("invalid cluster name {name:?}: use 1-40 of [a-z0-9-], not starting or ending with '-'");
    }
    if RESERVED_NAMES.contains(&name) {
        bail!("invalid cluster name {name:?}: reserved names are {RESERVED_NAMES:?}");
    }
    Ok(())
}

/// The loopback ports a cluster listens on.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Ports {
    etcd_client: u16,
    etcd_peer: u16,
    apiserver: u16,
    controller_manager: u16,
    scheduler: u16,
}

/// One started daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProcessRecord {
    /// Component name (also its log file's stem).
    name: String,
    /// Process id and process group id.
    pid: u32,
    /// Absolute path of the binary, to recognise the process later.
    program: PathBuf,
    /// Its arguments, to start it again the same way (`cluster restart`).
    #[serde(default)]
    args: Vec<String>,
}

/// Contents of state.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    name: String,
    /// Fingerprint of the binaries' build ([`Binaries::fingerprint`]) and of
    /// kwok ([`Kwok::fingerprint`]); a cluster running other ones is restarted.
    #[serde(default)]
    build: String,
    ports: Ports,
    processes: Vec<ProcessRecord>,
}

impl State {
    /// Reads state.json; `None` if absent, or unreadable (treated as stale).
    fn load(layout: &Layout) -> Option<Self> {
        let text = fs::read_to_string(&layout.state).ok()?;
        match serde_json::from_str(&text) {
            Ok(state) => Some(state),
            Err(e) => {
                eprintln!("ignoring unreadable {}: {e}", layout.state.display());
                None
            }
        }
    }

    /// Writes state.json atomically.
    fn save(&self, layout: &Layout) -> Result<()> {
        let tmp = layout.state.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).context("serialising cluster state")?;
        fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &layout.state).with_context(|| format!("writing {}", layout.state.display()))
    }

    /// The recorded daemons, most dependent first (the order to stop them in).
    fn daemons(&self) -> Vec<Daemon<'_>> {
        self.processes.iter().rev().map(|p| Daemon { name: &p.name, pid: p.pid, program: &p.program }).collect()
    }

    /// Stops every recorded daemon that is still running.
    fn stop(&self) {
        process::terminate(&self.daemons(), STOP_GRACE);
    }
}

/// Starts cluster `name` unless it is already running and ready; returns
/// once the API server is ready and the controller manager works.
pub fn up(ws: &Workspace, name: &str) -> Result<Cluster> {
    let started = Instant::now();
    let layout = Layout::new(ws, name)?;
    let _lock = layout.lock()?;
    let bins = gobuild::ensure(ws)?;
    let kwok = kwok::ensure(ws)?;
    let build = format!("{}-{}-{}-{}", bins.fingerprint, kwok.fingerprint, audit::LAYOUT, oidc::LAYOUT);
    let cluster = Cluster { kubeconfig: layout.kubeconfig.clone(), kubectl: bins.kubectl.clone() };

    if let Some(state) = State::load(&layout) {
        let all_alive = state.daemons().iter().all(|d| process::is_alive(d.pid, d.program));
        let same_build = state.build == build;
        if same_build && all_alive && layout.kubeconfig.is_file() && readyz(&cluster) {
            println!("cluster `{name}` is already running; kubeconfig: {}", layout.kubeconfig.display());
            return Ok(cluster);
        }
        eprintln!("cluster `{name}`: cleaning up stale state");
        state.stop();
    }
    layout.remove()?;

    for attempt in 1..=START_ATTEMPTS {
        match start(&layout, &bins, &kwok, &build, &cluster) {
            Ok(()) => break,
            Err(e) if attempt < START_ATTEMPTS && format!("{e:#}").contains("address already in use") => {
                eprintln!("cluster `{name}`: a port was taken meanwhile; retrying with new ports\n{e:#}");
                layout.remove()?;
            }
            Err(e) => return Err(e),
        }
    }
    println!(
        "cluster `{name}` is up ({}); kubeconfig: {}",
        process::secs(started.elapsed()),
        layout.kubeconfig.display()
    );
    Ok(cluster)
}

/// Stops cluster `name` and removes its state. Idempotent.
pub fn down(ws: &Workspace, name: &str) -> Result<()> {
    crate::demo::stop(ws, name);
    let layout = Layout::new(ws, name)?;
    let _lock = layout.lock()?;
    match State::load(&layout) {
        Some(state) => {
            state.stop();
            layout.remove()?;
            println!("cluster `{name}` is down");
        }
        None => {
            layout.remove()?;
            println!("cluster `{name}` was not running; nothing to stop");
        }
    }
    Ok(())
}

/// Generates the PKI, starts the daemons, creates the simulated nodes and
/// waits until they work. On failure, stops whatever was started and keeps
/// the logs.
fn start(layout: &Layout, bins: &Binaries, kwok: &Kwok, build: &str, cluster: &Cluster) -> Result<()> {
    for dir in [&layout.dir, &layout.pki, &layout.etcd, &layout.logs, &layout.audit] {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    audit::write_policy(layout)?;
    // etcd warns about a data directory others can read.
    fs::set_permissions(&layout.etcd, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", layout.etcd.display()))?;
    let [etcd_client, etcd_peer, apiserver, controller_manager, scheduler, oidc_port] =
        <[u16; 6]>::try_from(process::free_ports(6)?).expect("asked for six ports");
    let ports = Ports { etcd_client, etcd_peer, apiserver, controller_manager, scheduler };
    let pki =
        certs::generate(&layout.pki).with_context(|| format!("generating certificates in {}", layout.pki.display()))?;
    oidc::write(layout, &pki, oidc_port)?;
    let kubeconfig = kubeconfig(&layout.name, ports.apiserver, &pki);
    for path in [&layout.kubeconfig, &layout.components_kubeconfig] {
        fs::write(path, &kubeconfig).with_context(|| format!("writing {}", path.display()))?;
    }

    let mut state = State { name: layout.name.clone(), build: build.to_owned(), ports, processes: Vec::new() };
    state.save(layout)?;
    let mut children = Vec::new();
    let mut daemons = commands(layout, bins, kwok, &pki, state.ports);
    let components = daemons.split_off(API_SERVER_DAEMONS);
    let result = spawn_all(layout, daemons, &mut state, &mut children)
        .and_then(|()| poll(layout, &mut children, READY_TIMEOUT, "kube-apiserver", "/readyz", || readyz(cluster)))
        .and_then(|()| spawn_all(layout, components, &mut state, &mut children))
        .and_then(|()| wait_until_working(layout, cluster, &mut children));
    if let Err(e) = result {
        state.stop();
        return Err(e)
            .with_context(|| format!("starting cluster `{}` (logs in {})", layout.name, layout.logs.display()));
    }
    // The daemons keep running after we exit; dropping a Child does not kill it.
    Ok(())
}

/// How many daemons of [`commands`] come before the API server is ready: etcd
/// and the API server. The controller manager exits at once if it cannot read
/// the request-header CA from the API server, so the rest start after /readyz.
const API_SERVER_DAEMONS: usize = 2;

/// Client rate limit of the controller manager (requests/s).
const COMPONENT_QPS: u32 = 400;

/// The daemons' command lines, in start order.
fn commands(
    layout: &Layout,
    bins: &Binaries,
    kwok: &Kwok,
    pki: &Pki,
    ports: Ports,
) -> Vec<(&'static str, PathBuf, Vec<String>)> {
    let path = |p: &Path| p.display().to_string();
    let etcd_client = format!("http://127.0.0.1:{}", ports.etcd_client);
    let etcd_peer = format!("http://127.0.0.1:{}", ports.etcd_peer);
    let components_kubeconfig = path(&layout.components_kubeconfig);
    vec![
        (
            "etcd",
            bins.etcd.clone(),
            vec![
                "--name=lockstep".to_owned(),
                format!("--data-dir={}", path(&layout.etcd)),
                format!("--listen-client-urls={etcd_client}"),
                format!("--advertise-client-urls={etcd_client}"),
                format!("--listen-peer-urls={etcd_peer}"),
                format!("--initial-advertise-peer-urls={etcd_peer}"),
                format!("--initial-cluster=lockstep={etcd_peer}"),
                "--unsafe-no-fsync=true".to_owned(),
            ],
        ),
        (
            "kube-apiserver",
            bins.kube_apiserver.clone(),
            vec![
                format!("--etcd-servers={etcd_client}"),
                format!("--secure-port={}", ports.apiserver),
                "--bind-address=127.0.0.1".to_owned(),
                "--advertise-address=127.0.0.1".to_owned(),
                format!("--cert-dir={}", path(&layout.pki.join("apiserver"))),
                format!("--tls-cert-file={}", path(&pki.apiserver_cert)),
                format!("--tls-private-key-file={}", path(&pki.apiserver_key)),
                format!("--client-ca-file={}", path(&pki.ca_cert)),
                "--authorization-mode=RBAC".to_owned(),
                "--service-cluster-ip-range=10.0.0.0/24".to_owned(),
                // The `kubernetes` Endpoints cannot hold the loopback advertise
                // address (validation rejects it), so do not keep retrying.
                "--endpoint-reconciler-type=none".to_owned(),
                "--allow-privileged=true".to_owned(),
                "--service-account-issuer=https://kubernetes.default.svc".to_owned(),
                format!("--service-account-key-file={}", path(&pki.sa_pub)),
                format!("--service-account-signing-key-file={}", path(&pki.sa_key)),
            ]
            .into_iter()
            .chain(audit::apiserver_args(layout))
            .chain(oidc::apiserver_args(layout))
            .collect(),
        ),
        (
            "kube-controller-manager",
            bins.kube_controller_manager.clone(),
            vec![
                format!("--kubeconfig={components_kubeconfig}"),
                format!("--authentication-kubeconfig={components_kubeconfig}"),
                format!("--authorization-kubeconfig={components_kubeconfig}"),
                format!("--root-ca-file={}", path(&pki.ca_cert)),
                format!("--service-account-private-key-file={}", path(&pki.sa_key)),
                "--use-service-account-credentials=false".to_owned(),
                "--leader-elect=false".to_owned(),
                "--bind-address=127.0.0.1".to_owned(),
                format!("--secure-port={}", ports.controller_manager),
                "--controllers=*".to_owned(),
                // The default client (20 requests/s) makes the Deployment
                // controller, not the API server, the limit of every
                // benchmark and test that creates many Deployments.
                format!("--kube-api-qps={COMPONENT_QPS}"),
                format!("--kube-api-burst={}", 2 * COMPONENT_QPS),
            ],
        ),
        (
            "kube-scheduler",
            bins.kube_scheduler.clone(),
            vec![
                format!("--kubeconfig={components_kubeconfig}"),
                format!("--authentication-kubeconfig={components_kubeconfig}"),
                format!("--authorization-kubeconfig={components_kubeconfig}"),
                "--leader-elect=false".to_owned(),
                "--bind-address=127.0.0.1".to_owned(),
                format!("--secure-port={}", ports.scheduler),
            ],
        ),
        ("kwok", kwok.binary.clone(), kwok::args(kwok, &layout.components_kubeconfig)),
    ]
}

/// Starts `daemons`, recording each in the state file as soon as it runs.
fn spawn_all(
    layout: &Layout,
    daemons: Vec<(&'static str, PathBuf, Vec<String>)>,
    state: &mut State,
    children: &mut Vec<(&'static str, Child)>,
) -> Result<()> {
    for (name, program, args) in daemons {
        let child =
            process::spawn_detached(&program, &args, &layout.log(name)).with_context(|| format!("starting {name}"))?;
        state.processes.push(ProcessRecord { name: name.to_owned(), pid: child.id(), program, args });
        children.push((name, child));
        state.save(layout)?;
    }
    Ok(())
}

/// Waits for the `default` ServiceAccount (proof that the controller manager
/// works), then creates the simulated nodes and waits until kwok made them
/// Ready, failing early if a daemon exits.
fn wait_until_working(layout: &Layout, cluster: &Cluster, children: &mut [(&'static str, Child)]) -> Result<()> {
    poll(
        layout,
        children,
        CONTROLLERS_TIMEOUT,
        "kube-controller-manager",
        "the `default` ServiceAccount in namespace `default`",
        || kubectl(cluster, &["get", "serviceaccount", "default", "--namespace=default", "-o", "name"]).is_ok(),
    )?;
    fs::write(&layout.nodes, kwok::nodes_manifest()).with_context(|| format!("writing {}", layout.nodes.display()))?;
    let manifest = layout.nodes.display().to_string();
    kubectl(cluster, &["apply", "-f", &manifest]).context("creating the simulated nodes")?;
    poll(layout, children, NODES_TIMEOUT, "kwok", "the simulated nodes to be Ready and untainted", || {
        kubectl(cluster, kwok::NODES_QUERY).is_ok_and(|out| kwok::nodes_ready(&out))
    })
}

/// Polls `ready` until it holds, `timeout` passes (reporting the log of
/// `culprit`), or a daemon exits (reporting its log).
fn poll(
    layout: &Layout,
    children: &mut [(&'static str, Child)],
    timeout: Duration,
    culprit: &str,
    what: &str,
    mut ready: impl FnMut() -> bool,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        for (name, child) in children.iter_mut() {
            let exited = child.try_wait().with_context(|| format!("checking on {name} (pid {})", child.id()))?;
            if let Some(status) = exited {
                let log = layout.log(name);
                return Err(anyhow!(
                    "{name} exited during startup with {status}; last lines of {}:\n{}",
                    log.display(),
                    process::tail(&log, 40)
                ));
            }
        }
        if ready() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let log = layout.log(culprit);
            bail!(
                "timed out after {} waiting for {what}; last lines of {}:\n{}",
                process::secs(timeout),
                log.display(),
                process::tail(&log, 40)
            );
        }
        sleep(Duration::from_millis(250));
    }
}

/// True if the API server answers `ok` on /readyz.
fn readyz(cluster: &Cluster) -> bool {
    kubectl(cluster, &["get", "--raw=/readyz"]).is_ok_and(|out| out.trim() == "ok")
}

/// Runs kubectl against the cluster with a short request timeout.
fn kubectl(cluster: &Cluster, args: &[&str]) -> Result<String> {
    let mut cmd = Command::new(&cluster.kubectl);
    cmd.arg("--kubeconfig").arg(&cluster.kubeconfig).arg("--request-timeout=5s").args(args);
    process::output(&mut cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for ok in ["default", "remote", "a", "remote-2"] {
            validate_name(ok).unwrap();
        }
        for bad in ["", "-a", "a-", "A", "a/b", "..", "pki", "etcd", "logs", "audit", "a_b"] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn layouts_nest_named_clusters_under_default() {
        let ws = Workspace { root: PathBuf::from("/ws") };
        let default = Layout::new(&ws, "default").unwrap();
        assert_eq!(default.kubeconfig, Path::new("/ws/target/cluster/kubeconfig"));
        let remote = Layout::new(&ws, "remote").unwrap();
        assert_eq!(remote.kubeconfig, Path::new("/ws/target/cluster/remote/kubeconfig"));
        assert_eq!(remote.lock, Path::new("/ws/target/cluster/.locks/remote.lock"));
    }
}
