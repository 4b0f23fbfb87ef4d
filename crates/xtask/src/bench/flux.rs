//! The Flux peer: source-controller and kustomize-controller built from their Go modules (pinned
//! in tests/peers/flux, cached by module version), their CRDs from the same modules'
//! `config/crd/bases`, and the two processes run against the bench control plane with the
//! concurrency of Flux's published benchmark, leader election off and artifact storage on loopback.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use kube::api::DynamicObject;
use serde_json::{Value, json};

use super::proc::{Controller, Measured, Usage};
use super::{Env, http};
use crate::Workspace;
use crate::gomodule::GoBuild;
use crate::process;

/// The pinned release of both controllers (tests/peers/flux/go.mod).
pub const VERSION: &str = "v1.9.0";
/// The Go modules whose `config/crd/bases` hold the CRDs.
const MODULES: [&str; 2] = ["github.com/fluxcd/source-controller", "github.com/fluxcd/kustomize-controller"];
/// Main packages built, with the names `go build` gives them and we keep them under.
const PACKAGES: &[(&str, &str, &str)] = &[
    ("github.com/fluxcd/source-controller", "source-controller", "source-controller"),
    ("github.com/fluxcd/kustomize-controller", "kustomize-controller", "kustomize-controller"),
];
/// Concurrency of Flux's published benchmark.
const SOURCE_CONCURRENCY: &str = "--concurrent=10";
const KUSTOMIZE_CONCURRENCY: &str = "--concurrent=20";
/// The Kustomizations' interval: long, so idle costs Flux as little as it can (drift is measured on
/// one Kustomization given [`DRIFT_INTERVAL`]).
pub const INTERVAL: &str = "10m";
/// The retry interval after a failed reconcile.
pub const RETRY_INTERVAL: &str = "10s";
/// The interval of the Kustomization drift is measured on: Flux corrects drift only when its
/// interval comes round, so a short one favours it.
pub const DRIFT_INTERVAL: &str = "30s";
/// The GitRepository's name in each namespace.
pub const SOURCE: &str = "fleet";

/// The built peer: its two binaries and the directories of its CRDs.
#[derive(Debug, Clone)]
pub struct FluxBuild {
    source_controller: PathBuf,
    kustomize_controller: PathBuf,
    crds: Vec<PathBuf>,
}

/// The build of both controllers: once per go.mod, go.sum and Go version, kept in the machine-wide
/// Go build cache.
fn recipe(ws: &Workspace) -> GoBuild {
    let base = ws.target().join("peers").join("flux");
    GoBuild {
        what: "the Flux peer (source-controller and kustomize-controller)",
        cold_build: "about 10 minutes on 2 cores",
        module: ws.root.join("tests").join("peers").join("flux"),
        out_dir: base.join("bin"),
        stamp_path: base.join("stamp"),
        lock_path: base.join("build.lock"),
        ldflags: None,
        goflags: Some("-mod=mod"),
        packages: PACKAGES,
    }
}

/// Builds (or reuses) the peer and finds its CRDs.
pub fn build(ws: &Workspace) -> Result<FluxBuild> {
    let recipe = recipe(ws);
    recipe.ensure().context("building Flux from tests/peers/flux")?;
    let crds = MODULES.iter().map(|module| crd_dir(&recipe.module, module)).collect::<Result<_>>()?;
    let bin = &recipe.out_dir;
    Ok(FluxBuild {
        source_controller: bin.join("source-controller"),
        kustomize_controller: bin.join("kustomize-controller"),
        crds,
    })
}

/// `config/crd/bases` of `module` as the consumer module pins it (downloaded if the module cache
/// lacks it).
fn crd_dir(consumer: &Path, module: &str) -> Result<PathBuf> {
    let out = process::output(
        Command::new("go")
            .current_dir(consumer)
            .env("GOWORK", "off")
            .env("GOFLAGS", "-mod=mod")
            .args(["mod", "download", "-json", module]),
    )
    .with_context(|| format!("finding the module directory of {module}"))?;
    let info: Value =
        serde_json::from_str(&out).with_context(|| format!("reading `go mod download -json {module}`"))?;
    let Some(dir) = info["Dir"].as_str() else { bail!("`go mod download -json {module}` named no directory") };
    let crds = Path::new(dir).join("config").join("crd").join("bases");
    if !crds.is_dir() {
        bail!("{module} has no {}", crds.display());
    }
    Ok(crds)
}

/// Installs the peer's CRDs and waits until the two it uses are established.
pub fn install_crds(env: &Env, build: &FluxBuild) -> Result<()> {
    let kubectl = |args: &[&str]| {
        process::output(Command::new(&env.cluster.kubectl).arg("--kubeconfig").arg(&env.cluster.kubeconfig).args(args))
    };
    for dir in &build.crds {
        let dir = dir.display().to_string();
        kubectl(&["apply", "--server-side", "--force-conflicts", "-f", &dir])
            .with_context(|| format!("installing the Flux CRDs from {dir}"))?;
    }
    for crd in ["crd/gitrepositories.source.toolkit.fluxcd.io", "crd/kustomizations.kustomize.toolkit.fluxcd.io"] {
        kubectl(&["wait", "--for=condition=Established", "--timeout=60s", crd])?;
    }
    Ok(())
}

/// The two running controllers.
pub struct Flux {
    /// source-controller.
    pub source: Controller,
    /// kustomize-controller.
    pub kustomize: Controller,
    /// Their health endpoints (`/readyz`).
    health: [SocketAddr; 2],
}

impl Flux {
    /// Starts both controllers for the whole cluster, with storage under the run directory; `label`
    /// names their logs.
    pub fn start(env: &Env, build: &FluxBuild, label: &str) -> Result<Self> {
        let ports = process::free_ports(5)?;
        let addr = |i: usize| format!("127.0.0.1:{}", ports[i]);
        let storage = env.run_dir.join(format!("flux-storage-{label}"));
        std::fs::create_dir_all(&storage).with_context(|| format!("creating {}", storage.display()))?;
        let mut source = Command::new(&build.source_controller);
        source
            .args(["--enable-leader-election=false", "--watch-all-namespaces=true", SOURCE_CONCURRENCY])
            .arg(format!("--storage-path={}", storage.display()))
            .arg(format!("--storage-addr={}", addr(0)))
            .arg(format!("--storage-adv-addr={}", addr(0)))
            .arg(format!("--metrics-addr={}", addr(1)))
            .arg(format!("--health-addr={}", addr(2)))
            .env("KUBECONFIG", &env.cluster.kubeconfig);
        let log = |name: &str| env.run_dir.join(format!("flux-{name}-{label}.log"));
        let source = Controller::start("Flux source-controller", source, &log("source"))?;
        let mut kustomize = Command::new(&build.kustomize_controller);
        kustomize
            .args(["--enable-leader-election=false", "--watch-all-namespaces=true", KUSTOMIZE_CONCURRENCY])
            .arg(format!("--metrics-addr={}", addr(3)))
            .arg(format!("--health-addr={}", addr(4)))
            .env("KUBECONFIG", &env.cluster.kubeconfig);
        let kustomize = Controller::start("Flux kustomize-controller", kustomize, &log("kustomize"))?;
        let health = [SocketAddr::from(([127, 0, 0, 1], ports[2])), SocketAddr::from(([127, 0, 0, 1], ports[4]))];
        Ok(Self { source, kustomize, health })
    }

    /// Waits until both controllers answer `/readyz`, as lockstep's runs wait for its own.
    pub async fn wait_ready(&mut self) -> Result<()> {
        let started = std::time::Instant::now();
        loop {
            self.check_alive()?;
            if self.health.iter().all(|addr| matches!(http::get(*addr, "/readyz"), Ok((200, _)))) {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!("Flux never became ready; logs: {}", self.logs());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Measured for Flux {
    fn check_alive(&mut self) -> Result<()> {
        self.source.check_alive()?;
        self.kustomize.check_alive()
    }

    /// Both processes' use, summed.
    fn usage(&self) -> Result<Usage> {
        let (a, b) = (self.source.usage()?, self.kustomize.usage()?);
        Ok(Usage {
            rss_mib: a.rss_mib + b.rss_mib,
            peak_rss_mib: a.peak_rss_mib + b.peak_rss_mib,
            anon_rss_mib: a.anon_rss_mib + b.anon_rss_mib,
            cpu_secs: a.cpu_secs + b.cpu_secs,
        })
    }

    fn logs(&self) -> String {
        format!("{} and {}", self.source.log.display(), self.kustomize.log.display())
    }
}

/// The GitRepository every Kustomization of a namespace reads: `main` of `url`.
pub fn git_repository(ns: &str, url: &str) -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": SOURCE, "namespace": ns},
        "spec": {"interval": INTERVAL, "url": url, "ref": {"branch": "main"}, "timeout": "60s"},
    })
}

/// A Kustomization applying `path` into `ns` with prune and health checks (`wait`), like an
/// automated, self-healing Application that waits for health.
pub fn kustomization(ns: &str, name: &str, path: &str) -> Value {
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "interval": INTERVAL,
            "retryInterval": RETRY_INTERVAL,
            "timeout": "2m",
            "path": format!("./{path}"),
            "prune": true,
            "wait": true,
            "targetNamespace": ns,
            "sourceRef": {"kind": "GitRepository", "name": SOURCE},
        },
    })
}

/// Ready at `revision` (a commit SHA): Flux records `main@sha1:<sha>` once it applied it and the
/// objects passed their health checks.
pub fn is_ready(kustomization: &DynamicObject, revision: &str) -> bool {
    let status = &kustomization.data["status"];
    let ready = status["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
    ready && status["lastAppliedRevision"].as_str().is_some_and(|r| r.ends_with(revision))
}

/// How often [`super::k8s::wait_ready`]-style loops look at Flux objects.
pub const POLL: Duration = Duration::from_millis(250);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_needs_the_condition_and_the_applied_commit() {
        let mut k: DynamicObject = serde_json::from_value(kustomization("ns", "app-0000", "apps/app-0000")).unwrap();
        assert_eq!(k.data["spec"]["path"], "./apps/app-0000");
        assert!(!is_ready(&k, "abc"));
        k.data["status"] =
            json!({"conditions": [{"type": "Ready", "status": "True"}], "lastAppliedRevision": "main@sha1:abc"});
        assert!(is_ready(&k, "abc") && !is_ready(&k, "def"));
        k.data["status"]["conditions"][0]["status"] = json!("False");
        assert!(!is_ready(&k, "abc"));
    }
}
