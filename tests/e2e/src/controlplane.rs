//! Faults of the control plane itself, for the chaos scenarios: restarting etcd or the API server
//! (`cargo xtask cluster restart`), reading the API server's audit log of writes, and counting the
//! controller's API requests from its metrics.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::cluster::{kubeconfig, workspace_root};

/// The test cluster's name, from where its kubeconfig lives (target/cluster/kubeconfig is
/// `default`, target/cluster/NAME/kubeconfig is NAME).
fn cluster_name() -> String {
    let config = kubeconfig();
    let dir = config.parent().and_then(|d| d.file_name()).and_then(|n| n.to_str()).unwrap_or("cluster");
    if dir == "cluster" { "default".to_string() } else { dir.to_string() }
}

/// Runs `cargo xtask cluster restart --component <component>` (with `--kill`: SIGKILL, a crash) on
/// the test cluster; returns once the API server is ready again, with how long that took.
pub fn restart(component: &str, kill: bool) -> anyhow::Result<Duration> {
    let mut command = match std::env::var_os("LOCKSTEP_XTASK") {
        Some(path) => Command::new(path),
        None => {
            let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
            cargo.args(["run", "--quiet", "--package", "xtask", "--"]);
            cargo
        }
    };
    command.args(["cluster", "restart", "--name", &cluster_name(), "--component", component]);
    if kill {
        command.arg("--kill");
    }
    let started = Instant::now();
    let out = command.current_dir(workspace_root()).output().context("running xtask cluster restart")?;
    if !out.status.success() {
        bail!(
            "xtask cluster restart --component {component}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(started.elapsed())
}

/// One write the API server audited (Metadata level, stage ResponseComplete).
#[derive(Clone, Debug)]
pub struct AuditedWrite {
    /// `create`, `update`, `patch`, `delete`.
    pub verb: String,
    /// The client's User-Agent (lockstep's names its holder identity).
    pub user_agent: String,
    /// Resource (plural), e.g. `configmaps`, `applications`.
    pub resource: String,
    /// Subresource, e.g. `status`; empty for the object itself.
    pub subresource: String,
    /// Namespace of the object.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
    /// HTTP status code of the response.
    pub code: u16,
    /// When the API server received the request.
    pub received: Timestamp,
    /// When it answered.
    pub completed: Timestamp,
}

/// Every write the API server audited to objects of `namespace`, in the order they completed. The
/// audit log is in the cluster's directory (`audit/audit*.log`, rotated files included).
pub fn audited_writes(namespace: &str) -> anyhow::Result<Vec<AuditedWrite>> {
    let dir = kubeconfig().parent().map(|d| d.join("audit")).unwrap_or_else(|| PathBuf::from("audit"));
    let mut writes = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !(name.starts_with("audit") && name.ends_with(".log")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        for line in text.lines() {
            let Ok(event) = serde_json::from_str::<Value>(line) else { continue };
            let object = &event["objectRef"];
            if event["stage"] != "ResponseComplete" || object["namespace"] != namespace {
                continue;
            }
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            let time = |v: &Value| v.as_str().unwrap_or_default().parse::<Timestamp>();
            writes.push(AuditedWrite {
                verb: text(&event["verb"]),
                user_agent: text(&event["userAgent"]),
                resource: text(&object["resource"]),
                subresource: text(&object["subresource"]),
                namespace: text(&object["namespace"]),
                name: text(&object["name"]),
                code: event["responseStatus"]["code"].as_u64().and_then(|c| u16::try_from(c).ok()).unwrap_or(0),
                received: time(&event["requestReceivedTimestamp"]).context("requestReceivedTimestamp")?,
                completed: time(&event["stageTimestamp"]).context("stageTimestamp")?,
            });
        }
    }
    writes.sort_by_key(|w| w.completed);
    Ok(writes)
}

/// The controller's API requests of `verb` that reached the API server so far
/// (`lockstep_kube_requests_total`, every status code but `error`), read from its metrics endpoint.
pub async fn kube_requests(metrics: SocketAddr, verb: &str) -> anyhow::Result<u64> {
    let response = crate::http::get(metrics, "/metrics").await?;
    if response.status != 200 {
        bail!("/metrics answered {}", response.status);
    }
    let label = format!("verb=\"{verb}\"");
    Ok(response
        .body
        .lines()
        // Attempts that never reached the API server (refused while it restarts) cost it nothing.
        .filter(|l| {
            l.starts_with("lockstep_kube_requests_total{") && l.contains(&label) && !l.contains("code=\"error\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum())
}
