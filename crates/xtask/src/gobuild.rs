//! Builds the control plane binaries from the Go module in tests/controlplane,
//! once: a stamp file records what go.mod, go.sum, Go version and build recipe
//! the binaries in target/controlplane/bin/ were built from.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::Workspace;
use crate::gomodule::{GoBuild, fnv1a64};
// The cluster takes its own lock with the same helper.
pub use crate::gomodule::lock;

/// Kubernetes version stamped into the binaries (must match go.mod).
const GIT_VERSION: &str = "v1.36.3";
/// Major part of [`GIT_VERSION`].
const GIT_MAJOR: &str = "1";
/// Minor part of [`GIT_VERSION`].
const GIT_MINOR: &str = "36";

/// Main packages built, with the name `go build` gives each binary and the
/// name we keep it under.
const PACKAGES: &[(&str, &str, &str)] = &[
    ("go.etcd.io/etcd/server/v3", "server", "etcd"),
    ("k8s.io/kubernetes/cmd/kube-apiserver", "kube-apiserver", "kube-apiserver"),
    ("k8s.io/kubernetes/cmd/kube-controller-manager", "kube-controller-manager", "kube-controller-manager"),
    ("k8s.io/kubernetes/cmd/kube-scheduler", "kube-scheduler", "kube-scheduler"),
    ("k8s.io/kubernetes/cmd/kubectl", "kubectl", "kubectl"),
];

/// Absolute paths of the built control plane binaries.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// etcd server.
    pub etcd: PathBuf,
    /// kube-apiserver.
    pub kube_apiserver: PathBuf,
    /// kube-controller-manager.
    pub kube_controller_manager: PathBuf,
    /// kube-scheduler.
    pub kube_scheduler: PathBuf,
    /// kubectl.
    pub kubectl: PathBuf,
    /// Identifies the build (a hash of the stamp).
    pub fingerprint: String,
}

impl Binaries {
    /// The binaries' paths in `dir` (whether or not they exist), built as
    /// `stamp` describes.
    fn in_dir(dir: &Path, stamp: &str) -> Self {
        Self {
            fingerprint: format!("{:016x}", fnv1a64(stamp.as_bytes())),
            etcd: dir.join("etcd"),
            kube_apiserver: dir.join("kube-apiserver"),
            kube_controller_manager: dir.join("kube-controller-manager"),
            kube_scheduler: dir.join("kube-scheduler"),
            kubectl: dir.join("kubectl"),
        }
    }
}

/// Directory the binaries are built into.
pub fn bin_dir(ws: &Workspace) -> PathBuf {
    ws.target().join("controlplane").join("bin")
}

/// The `-ldflags` value that stamps the Kubernetes version.
fn ldflags() -> String {
    format!(
        "-X k8s.io/component-base/version.gitVersion={GIT_VERSION} \
         -X k8s.io/component-base/version.gitMajor={GIT_MAJOR} \
         -X k8s.io/component-base/version.gitMinor={GIT_MINOR}"
    )
}

/// The recipe: the Go module in tests/controlplane, built into [`bin_dir`].
fn recipe(ws: &Workspace) -> GoBuild {
    let base = ws.target().join("controlplane");
    GoBuild {
        what: "the control plane binaries",
        cold_build: "several minutes",
        module: ws.controlplane_module(),
        out_dir: bin_dir(ws),
        stamp_path: base.join("stamp"),
        lock_path: base.join("build.lock"),
        ldflags: Some(ldflags()),
        goflags: None,
        packages: PACKAGES,
    }
}

/// Returns the binaries, building them first unless the stamp shows they were
/// built from the current go.mod, go.sum, Go version and recipe.
pub fn ensure(ws: &Workspace) -> Result<Binaries> {
    let stamp = recipe(ws).ensure()?;
    Ok(Binaries::in_dir(&bin_dir(ws), &stamp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_changes_with_go_sum() {
        let ws = Workspace::locate();
        let a = recipe(&ws).stamp("go version go1.26.8").unwrap();
        let b = recipe(&ws).stamp("go version go1.26.9").unwrap();
        assert_ne!(a, b);
        assert!(a.contains("go.sum fnv1a64:"));
    }
}
