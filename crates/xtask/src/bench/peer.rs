//! Scenario 7, the peer: Flux's source-controller and kustomize-controller, built from their Go
//! modules (pinned in tests/peers/flux) through the Go module proxy.
//!
//! On this workplace's module proxy the build cannot succeed (docs/benchmarks.md says exactly
//! why), so `--peer flux` runs the real build, and the report carries its failure verbatim. The
//! side-by-side runner is written only once a build has succeeded somewhere it can be tested.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;

use crate::Workspace;

/// A peer that `--peer` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Peer {
    /// Flux's source-controller and kustomize-controller.
    Flux,
}

/// The Go toolchain the pinned Flux modules require (`go >= 1.27.0`), fetched by the go command
/// through the module proxy.
const GOTOOLCHAIN: &str = "go1.27.3";

/// Builds the peer's binaries; fails with the build's own diagnosis.
pub fn prepare(ws: &Workspace, peer: Peer) -> Result<PathBuf> {
    match peer {
        Peer::Flux => build_flux(ws),
    }
}

/// `go build` of both controllers into target/peers/flux/bin/.
fn build_flux(ws: &Workspace) -> Result<PathBuf> {
    let module = ws.root.join("tests").join("peers").join("flux");
    let bin = ws.target().join("peers").join("flux").join("bin");
    std::fs::create_dir_all(&bin).with_context(|| format!("creating {}", bin.display()))?;
    let mut out_arg = bin.clone().into_os_string();
    out_arg.push("/");
    eprintln!("bench: building Flux from {} (GOTOOLCHAIN={GOTOOLCHAIN})", module.display());
    let output = Command::new("go")
        .current_dir(&module)
        .env("GOTOOLCHAIN", GOTOOLCHAIN)
        .env("GOWORK", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("CGO_ENABLED", "0")
        .args(["build", "-o"])
        .arg(out_arg)
        .args(["github.com/fluxcd/source-controller", "github.com/fluxcd/kustomize-controller"])
        .output()
        .context("running go build for Flux")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!("Flux could not be built here: `go build` in tests/peers/flux failed: {}", diagnosis(&stderr));
    }
    bail!(
        "Flux built into {}, but the side-by-side runner is not written yet: no build had ever succeeded where it \
         could be tested (see docs/benchmarks.md)",
        bin.display()
    )
}

/// The lines of a failed build that say why: modules the proxy refused or packages not found.
fn diagnosis(stderr: &str) -> String {
    let mut reasons: Vec<String> = stderr
        .lines()
        .filter(|l| l.contains("403 Forbidden") || l.contains("404 Not Found") || l.contains("cannot find module"))
        .map(|l| l.trim().to_owned())
        .collect();
    reasons.sort();
    reasons.dedup();
    if reasons.is_empty() {
        return stderr.lines().rev().take(5).collect::<Vec<_>>().join(" / ");
    }
    reasons.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnosis_keeps_refusals_once() {
        let stderr = "go: downloading x\n\tgithub.com/a: reading https://proxy/a.zip: 403 Forbidden\n\
                      \tgithub.com/a: reading https://proxy/a.zip: 403 Forbidden\nother\n";
        assert_eq!(diagnosis(stderr), "github.com/a: reading https://proxy/a.zip: 403 Forbidden");
        assert_eq!(diagnosis("a\nb"), "b / a");
    }
}
