//! lockstep as the system under measurement: its release build, its controller process and its
//! Applications.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use kube::api::DynamicObject;
use serde_json::{Value, json};

use super::proc::Controller;
use super::{Env, http};
use crate::Workspace;
use crate::process;

/// Builds `lockstep` with cargo `profile` (`release` or `dev`) and returns the binary's path.
pub fn build(ws: &Workspace, profile: &str) -> Result<PathBuf> {
    process::run(Command::new(ws.cargo()).current_dir(&ws.root).args([
        "build",
        "--quiet",
        "--profile",
        profile,
        "-p",
        "lockstep",
        "--bin",
        "lockstep",
    ]))
    .context("building lockstep")?;
    let dir = if profile == "dev" { "debug" } else { profile };
    let bin = ws.cargo_target_dir().join(dir).join("lockstep");
    if !bin.is_file() {
        bail!("cargo built lockstep but {} is missing", bin.display());
    }
    Ok(bin)
}

/// Where a controller listens besides the API: the push webhook endpoint, if any.
#[derive(Debug, Clone, Copy, Default)]
pub struct Listen {
    /// `--webhook-addr`.
    pub webhook: Option<SocketAddr>,
    /// `--metrics-addr` (also serves `/readyz`).
    pub metrics: Option<SocketAddr>,
}

/// Waits until the controller's `/readyz` on `addr` answers 200.
pub async fn wait_readyz(controller: &mut Controller, addr: SocketAddr) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        controller.check_alive()?;
        if matches!(http::get(addr, "/readyz"), Ok((200, _))) {
            return Ok(());
        }
        if started.elapsed() > std::time::Duration::from_secs(120) {
            bail!("the controller never became ready; log: {}", controller.log.display());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A free loopback address for a controller to listen on.
pub fn free_addr() -> Result<SocketAddr> {
    let port = *process::free_ports(1)?.first().context("no free port")?;
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Starts `lockstep controller` for namespace `ns` with default tuning, a fresh cache and no leader
/// election; `label` names its cache directory and log.
pub fn start(env: &Env, ns: &str, label: &str, listen: Listen) -> Result<Controller> {
    let cache = env.run_dir.join(format!("cache-{label}"));
    if cache.exists() {
        std::fs::remove_dir_all(&cache).with_context(|| format!("removing {}", cache.display()))?;
    }
    let mut cmd = Command::new(&env.lockstep);
    cmd.arg("controller")
        .args(["--watch-namespace", ns, "--controller-namespace", ns, "--leader-elect=false", "--log-format", "json"])
        .arg("--cache-dir")
        .arg(&cache)
        .env("KUBECONFIG", &env.cluster.kubeconfig)
        .env("RUST_LOG", "info");
    if let Some(addr) = listen.webhook {
        cmd.args(["--webhook-addr", &addr.to_string()]);
    }
    if let Some(addr) = listen.metrics {
        cmd.args(["--metrics-addr", &addr.to_string()]);
    }
    Controller::start("lockstep controller", cmd, &env.run_dir.join(format!("lockstep-{label}.log")))
}

/// An automated (prune, self-heal) Application deploying `path` of `url`'s `main` into `ns`.
pub fn application(ns: &str, name: &str, url: &str, path: &str) -> Value {
    json!({
        "apiVersion": "lockstep.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "source": {"repoURL": url, "targetRevision": "main", "path": path},
            "destination": {"namespace": ns},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
        },
    })
}

/// Synced and Healthy (at `revision`, when given).
pub fn is_ready(app: &DynamicObject, revision: Option<&str>) -> bool {
    let status = &app.data["status"];
    status["sync"]["status"] == "Synced"
        && status["health"]["status"] == "Healthy"
        && revision.is_none_or(|r| status["sync"]["revision"] == r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_needs_synced_healthy_and_revision() {
        let mut app: DynamicObject = serde_json::from_value(application("ns", "a", "http://x", "p")).unwrap();
        assert!(!is_ready(&app, None));
        app.data["status"] = json!({"sync": {"status": "Synced", "revision": "abc"}, "health": {"status": "Healthy"}});
        assert!(is_ready(&app, None) && is_ready(&app, Some("abc")) && !is_ready(&app, Some("def")));
    }
}
