//! Builds the tests' OpenID Connect provider (tests/oidc: zitadel/oidc's provider with its
//! example's in-memory storage and login form, over TLS) into target/oidc/bin/, once, stamped like
//! the rendering tools. Dex, the first choice, is not served by the Go module proxy in a version
//! that builds (see tests/oidc/README.md).

use std::path::PathBuf;

use anyhow::Result;

use crate::Workspace;
use crate::gomodule::GoBuild;

/// The one main package: the module's root, kept as `oidc-provider`.
const PACKAGES: &[(&str, &str, &str)] = &[("lockstep.dev/tests/oidc", "oidc", "oidc-provider")];

/// The recipe: the Go module in tests/oidc, built into target/oidc/bin/.
fn recipe(ws: &Workspace) -> GoBuild {
    let base = ws.target().join("oidc");
    GoBuild {
        what: "the OIDC provider",
        cold_build: "a minute",
        module: ws.root.join("tests").join("oidc"),
        out_dir: base.join("bin"),
        stamp_path: base.join("stamp"),
        lock_path: base.join("build.lock"),
        ldflags: None,
        goflags: None,
        packages: PACKAGES,
    }
}

/// The provider's binary, built first unless the stamp shows it current.
pub fn ensure(ws: &Workspace) -> Result<PathBuf> {
    let recipe = recipe(ws);
    recipe.ensure()?;
    Ok(recipe.out_dir.join("oidc-provider"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_names_the_provider_and_the_module_hashes() {
        let ws = Workspace::locate();
        let stamp = recipe(&ws).stamp("go version go1.26.8").unwrap();
        assert!(stamp.contains("go.sum fnv1a64:") && stamp.contains("-> oidc-provider"), "{stamp}");
    }
}
