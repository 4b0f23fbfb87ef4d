//! Reaching the control plane that `cargo xtask cluster up` started.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use anyhow::{Context, bail};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root exists")
}

/// The kubeconfig of the test control plane: `KUBECONFIG` as set by `cargo xtask test`, else the
/// default cluster's.
pub fn kubeconfig() -> PathBuf {
    std::env::var_os("KUBECONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/cluster/kubeconfig"))
}

/// The kubectl built with the control plane, or `LOCKSTEP_KUBECTL`.
pub fn kubectl_path() -> PathBuf {
    std::env::var_os("LOCKSTEP_KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/controlplane/bin/kubectl"))
}

/// Runs kubectl against the test control plane and returns its output, whatever the exit code.
pub fn kubectl(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(kubectl_path())
        .arg("--kubeconfig")
        .arg(kubeconfig())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl runs (build it with `cargo xtask cluster up`)");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin is piped").write_all(input.as_bytes()).expect("kubectl reads stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("kubectl finishes")
}

/// Runs kubectl and fails with its stderr unless it succeeds; returns stdout.
pub fn kubectl_ok(args: &[&str], stdin: Option<&str>) -> anyhow::Result<String> {
    let out = kubectl(args, stdin);
    if !out.status.success() {
        bail!("kubectl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A client for the test control plane, with lockstep's CRDs installed from `crds/`.
pub async fn client() -> anyhow::Result<kube::Client> {
    static CRDS: OnceLock<Result<(), String>> = OnceLock::new();
    let installed = CRDS.get_or_init(|| {
        let crds = workspace_root().join("crds");
        kubectl_ok(&["apply", "--server-side", "--force-conflicts", "-f", &crds.display().to_string()], None)
            .and_then(|_| {
                kubectl_ok(
                    &[
                        "wait",
                        "--for=condition=Established",
                        "--timeout=60s",
                        "crd",
                        "applications.lockstep.dev",
                        "appprojects.lockstep.dev",
                    ],
                    None,
                )
            })
            .map(drop)
            .map_err(|e| e.to_string())
    });
    if let Err(err) = installed {
        bail!("installing CRDs: {err}");
    }
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig())
            .context("reading the test kubeconfig (run `cargo xtask cluster up`)")?,
        &Default::default(),
    )
    .await?;
    Ok(kube::Client::try_from(config)?)
}
