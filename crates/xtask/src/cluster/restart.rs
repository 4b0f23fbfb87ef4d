//! `cargo xtask cluster restart`: stops etcd, the API server or both and starts them again with the
//! ports and arguments they were started with (kept in state.json), as a rolling restart or a crash
//! of the control plane would. Returns once the API server answers /readyz again.

use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use super::{DEFAULT_NAME, Layout, READY_TIMEOUT, STOP_GRACE, State, poll, readyz};
use crate::Workspace;
use crate::process::{self, Daemon};

/// What `cluster restart` stops and starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Component {
    /// etcd alone: the API server stays up and fails its requests meanwhile.
    Etcd,
    /// The API server alone: clients lose their connections and watches.
    KubeApiserver,
    /// Both: the API server and etcd stop together and start again, etcd first.
    Both,
}

impl Component {
    /// The daemons' names in state.json, in start order.
    fn ports(self, ports: &super::Ports) -> Vec<u16> {
        match self {
            Self::Etcd => vec![ports.etcd_client, ports.etcd_peer],
            Self::KubeApiserver => vec![ports.apiserver],
            Self::Both => vec![ports.etcd_client, ports.etcd_peer, ports.apiserver],
        }
    }

    fn daemons(self) -> &'static [&'static str] {
        match self {
            Self::Etcd => &["etcd"],
            Self::KubeApiserver => &["kube-apiserver"],
            Self::Both => &["etcd", "kube-apiserver"],
        }
    }
}

/// Options of `cargo xtask cluster restart`.
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Cluster name.
    #[arg(long, default_value = DEFAULT_NAME)]
    pub name: String,
    /// What to restart.
    #[arg(long, value_enum)]
    pub component: Component,
    /// Kill (SIGKILL) at once instead of stopping (SIGTERM, then SIGKILL after 3 s, as `down` does): a crash.
    #[arg(long)]
    pub kill: bool,
    /// Seconds to stay down between the stop and the start.
    #[arg(long, default_value_t = 0.0)]
    pub down_seconds: f64,
}

/// Restarts the component and waits until the API server is ready; prints how long it was down.
pub fn run(ws: &Workspace, args: &RestartArgs) -> Result<()> {
    let started = Instant::now();
    let layout = Layout::new(ws, &args.name)?;
    let _lock = layout.lock()?;
    let Some(mut state) = State::load(&layout) else {
        bail!("cluster `{}` is not running (no {})", args.name, layout.state.display());
    };
    let names = args.component.daemons();
    let mut records = Vec::new();
    for name in names {
        let Some(index) = state.processes.iter().position(|p| p.name == *name) else {
            bail!("cluster `{}` has no {name} in {}", args.name, layout.state.display());
        };
        let record = &state.processes[index];
        if record.args.is_empty() {
            bail!("{} predates `cluster restart` (no arguments recorded): run `cluster down` and `up`", name);
        }
        if !process::is_alive(record.pid, &record.program) {
            bail!("{name} (pid {}) is not running", record.pid);
        }
        records.push(index);
    }
    // kubectl is built with the control plane, beside its daemons.
    let kubectl = state.processes[records[0]].program.with_file_name("kubectl");
    let cluster = super::Cluster { kubeconfig: layout.kubeconfig.clone(), kubectl };

    // Most dependent first: the API server before etcd.
    let daemons: Vec<Daemon<'_>> = records
        .iter()
        .rev()
        .map(|&i| {
            let p = &state.processes[i];
            Daemon { name: &p.name, pid: p.pid, program: &p.program }
        })
        .collect();
    let grace = if args.kill { Duration::ZERO } else { STOP_GRACE };
    process::terminate(&daemons, grace);
    if let Some(alive) = daemons.iter().find(|d| process::is_alive(d.pid, d.program)) {
        bail!("{} (pid {}) did not stop", alive.name, alive.pid);
    }
    let stopped = started.elapsed();
    let down_since = Instant::now();
    sleep(Duration::from_secs_f64(args.down_seconds.max(0.0)));
    // A killed daemon's listening sockets can outlive it briefly; starting before they close fails
    // with "address already in use".
    for port in args.component.ports(&state.ports) {
        wait_until_free(port)?;
    }

    let mut children = Vec::new();
    for (&name, &index) in names.iter().zip(&records) {
        let record = &mut state.processes[index];
        let child = process::spawn_detached(&record.program, &record.args, &layout.log(name))
            .with_context(|| format!("starting {name} again"))?;
        record.pid = child.id();
        children.push((name, child));
        state.save(&layout)?;
    }
    poll(&layout, &mut children, READY_TIMEOUT, "kube-apiserver", "/readyz after the restart", || readyz(&cluster))?;
    println!(
        "cluster `{}`: restarted {} (stopped in {}, down for {})",
        args.name,
        names.join(" and "),
        process::secs(stopped),
        process::secs(down_since.elapsed())
    );
    Ok(())
}

/// Waits (up to 30 s) until nothing listens on `port` of 127.0.0.1.
fn wait_until_free(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("port {port} is still in use 30 s after its daemon stopped");
        }
        sleep(Duration::from_millis(100));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_start_etcd_before_the_api_server() {
        assert_eq!(Component::Both.daemons(), ["etcd", "kube-apiserver"]);
        assert_eq!(Component::KubeApiserver.daemons(), ["kube-apiserver"]);
    }

    #[test]
    fn a_state_file_without_arguments_still_loads() {
        let old = r#"{"name":"default","build":"x","ports":{"etcd_client":1,"etcd_peer":2,"apiserver":3,
            "controller_manager":4,"scheduler":5},"processes":[{"name":"etcd","pid":7,"program":"/bin/etcd"}]}"#;
        let state: State = serde_json::from_str(old).unwrap();
        assert!(state.processes[0].args.is_empty(), "restart refuses it rather than starting etcd bare");
    }
}
