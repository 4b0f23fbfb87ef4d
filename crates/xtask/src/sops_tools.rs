//! Builds the tools the SOPS decryption tests encrypt with (`sops`, `age-keygen`) from the Go module
//! in tests/sops into target/sops-tools/bin/, once, the way [`crate::tools`] builds kustomize and helm.

use std::path::PathBuf;

use anyhow::Result;

use crate::Workspace;
use crate::gomodule::GoBuild;

/// Main packages built, with the binary name `go build` gives each; versions are go.mod's.
const PACKAGES: &[(&str, &str, &str)] = &[
    ("github.com/getsops/sops/v3/cmd/sops", "sops", "sops"),
    ("filippo.io/age/cmd/age-keygen", "age-keygen", "age-keygen"),
];

/// Absolute paths of the built SOPS tools.
#[derive(Debug, Clone)]
pub struct SopsTools {
    /// sops.
    pub sops: PathBuf,
    /// age-keygen.
    pub age_keygen: PathBuf,
}

fn recipe(ws: &Workspace) -> GoBuild {
    let base = ws.target().join("sops-tools");
    GoBuild {
        what: "sops and age-keygen",
        cold_build: "a few minutes",
        module: ws.root.join("tests").join("sops"),
        out_dir: base.join("bin"),
        stamp_path: base.join("stamp"),
        lock_path: base.join("build.lock"),
        ldflags: None,
        goflags: None,
        packages: PACKAGES,
    }
}

/// Returns the tools, building them first unless the stamp shows they are current.
pub fn ensure(ws: &Workspace) -> Result<SopsTools> {
    let recipe = recipe(ws);
    recipe.ensure()?;
    Ok(SopsTools { sops: recipe.out_dir.join("sops"), age_keygen: recipe.out_dir.join("age-keygen") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_names_both_tools_and_go_mod_pins_them() {
        let ws = Workspace::locate();
        let stamp = recipe(&ws).stamp("go version go1.26.8").unwrap();
        assert!(stamp.contains("-> sops") && stamp.contains("-> age-keygen"), "{stamp}");
        let go_mod = std::fs::read_to_string(ws.root.join("tests/sops/go.mod")).unwrap();
        assert!(go_mod.contains("github.com/getsops/sops/v3 v3.13.3") && go_mod.contains("filippo.io/age v1.3.2"));
    }
}
