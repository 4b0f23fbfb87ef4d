//! Running the `lockstep` CLI against the test control plane.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::cluster::{kubeconfig, workspace_root};

/// The `lockstep` binary under test: `LOCKSTEP_BIN`, else the debug build.
pub fn lockstep_bin() -> PathBuf {
    std::env::var_os("LOCKSTEP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/debug/lockstep"))
}

/// Runs `lockstep ARGS --kubeconfig … -n NS`, without colour.
pub fn lockstep(ns: &str, args: &[&str]) -> Output {
    Command::new(lockstep_bin())
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig())
        .args(["-n", ns])
        .env("NO_COLOR", "1")
        .env("LOCKSTEP_CLI_CACHE_DIR", std::env::temp_dir().join(format!("lockstep-cli-e2e-{ns}")))
        .output()
        .expect("the lockstep binary runs (cargo build -p lockstep)")
}

/// Runs the CLI and fails with its output unless it exits 0; returns its stdout.
pub fn lockstep_ok(ns: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = lockstep(ns, args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        anyhow::bail!("lockstep {args:?} failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(stdout)
}
