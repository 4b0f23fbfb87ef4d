//! Builds the OCI registry the end-to-end tests push charts and artifacts to (the CNCF
//! distribution registry) from the Go module in tests/registry into target/tools/registry/bin/,
//! once, stamped and cached machine-wide like the rendering tools ([`crate::tools`]).

use std::path::PathBuf;

use anyhow::Result;

use crate::Workspace;
use crate::gomodule::GoBuild;

/// The main package built and the binary name it keeps; the version is go.mod's.
const PACKAGES: &[(&str, &str, &str)] =
    &[("github.com/distribution/distribution/v3/cmd/registry", "registry", "registry")];

/// The Go module that pins the registry.
fn module(ws: &Workspace) -> PathBuf {
    ws.root.join("tests").join("registry")
}

fn recipe(ws: &Workspace) -> GoBuild {
    let base = ws.target().join("tools").join("registry");
    GoBuild {
        what: "the OCI registry (distribution)",
        cold_build: "a few minutes",
        module: module(ws),
        out_dir: base.join("bin"),
        stamp_path: base.join("stamp"),
        lock_path: base.join("build.lock"),
        ldflags: None,
        goflags: None,
        packages: PACKAGES,
    }
}

/// The registry binary, built first unless its stamp matches go.mod, go.sum, Go and the recipe.
pub fn ensure(ws: &Workspace) -> Result<PathBuf> {
    let recipe = recipe(ws);
    recipe.ensure()?;
    Ok(recipe.out_dir.join("registry"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_names_the_registry_and_go_mod_pins_it() {
        let ws = Workspace::locate();
        let stamp = recipe(&ws).stamp("go version go1.26.8").unwrap();
        assert!(stamp.contains("-> registry") && stamp.contains("go.sum fnv1a64:"), "{stamp}");
        let go_mod = std::fs::read_to_string(module(&ws).join("go.mod")).unwrap();
        assert!(go_mod.contains("github.com/distribution/distribution/v3 v3.1.2"), "{go_mod}");
    }
}
