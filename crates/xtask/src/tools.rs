//! Builds the rendering tools (kustomize, helm) from the Go module in
//! tests/tools into target/tools/bin/, once: a stamp file records the go.mod,
//! go.sum, Go version and recipe they were built from (the same scheme as the
//! control plane in [`crate::gobuild`]).

use std::path::PathBuf;

use anyhow::Result;

use crate::Workspace;
use crate::gomodule::GoBuild;

/// Main packages built, with the binary name `go build` gives each (kept as is); versions must
/// match go.mod.
const PACKAGES: &[(&str, &str, &str)] =
    &[("sigs.k8s.io/kustomize/kustomize/v5", "kustomize", "kustomize"), ("helm.sh/helm/v3/cmd/helm", "helm", "helm")];

/// Version strings stamped into the binaries (what `kustomize version` and `helm version` print).
const LDFLAGS: &str =
    "-X sigs.k8s.io/kustomize/api/provenance.version=v5.8.2 -X helm.sh/helm/v3/internal/version.version=v3.22.0";

/// Absolute paths of the built rendering tools.
#[derive(Debug, Clone)]
pub struct Tools {
    /// kustomize.
    pub kustomize: PathBuf,
    /// helm.
    pub helm: PathBuf,
    /// The OIDC provider of the UI's sign-in tests ([`crate::oidc_provider`]).
    pub oidc_provider: PathBuf,
}

/// The Go module that pins the rendering tools.
fn module(ws: &Workspace) -> PathBuf {
    ws.root.join("tests").join("tools")
}

/// The recipe: the Go module in tests/tools, built into target/tools/bin/.
fn recipe(ws: &Workspace) -> GoBuild {
    let base = ws.target().join("tools");
    GoBuild {
        what: "kustomize and helm",
        cold_build: "a few minutes",
        module: module(ws),
        out_dir: base.join("bin"),
        stamp_path: base.join("stamp"),
        lock_path: base.join("build.lock"),
        ldflags: Some(LDFLAGS.to_owned()),
        goflags: None,
        packages: PACKAGES,
    }
}

/// Returns the tools, building them first unless the stamp shows they were built from the current
/// go.mod, go.sum, Go version and recipe.
pub fn ensure(ws: &Workspace) -> Result<Tools> {
    let recipe = recipe(ws);
    recipe.ensure()?;
    let oidc_provider = crate::oidc_provider::ensure(ws)?;
    Ok(Tools { kustomize: recipe.out_dir.join("kustomize"), helm: recipe.out_dir.join("helm"), oidc_provider })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_names_both_tools_and_the_module_hashes() {
        let ws = Workspace::locate();
        let a = recipe(&ws).stamp("go version go1.26.8").unwrap();
        assert!(a.contains("go.sum fnv1a64:") && a.contains("-> kustomize") && a.contains("-> helm"), "{a}");
        assert_ne!(a, recipe(&ws).stamp("go version go1.26.9").unwrap());
    }

    #[test]
    fn ldflags_versions_match_go_mod() {
        let go_mod = std::fs::read_to_string(module(&Workspace::locate()).join("go.mod")).unwrap();
        assert!(go_mod.contains("sigs.k8s.io/kustomize/kustomize/v5 v5.8.2"), "{go_mod}");
        assert!(go_mod.contains("helm.sh/helm/v3 v3.22.0"), "{go_mod}");
    }
}
