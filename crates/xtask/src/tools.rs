//! Builds the rendering tools (kustomize, helm) from the Go module in
//! tests/tools into target/tools/bin/, once: a stamp file records the go.mod,
//! go.sum, Go version and recipe they were built from (the same scheme as the
//! control plane in [`crate::gobuild`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::Workspace;
use crate::gobuild::{fnv1a64, lock};
use crate::process;

/// Main packages built, with the binary name `go build` gives each; versions must match go.mod.
const PACKAGES: &[(&str, &str)] =
    &[("sigs.k8s.io/kustomize/kustomize/v5", "kustomize"), ("helm.sh/helm/v3/cmd/helm", "helm")];

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
}

/// The Go module that pins the rendering tools.
fn module(ws: &Workspace) -> PathBuf {
    ws.root.join("tests").join("tools")
}

/// Returns the tools, building them first unless the stamp shows they were built from the current
/// go.mod, go.sum, Go version and recipe.
pub fn ensure(ws: &Workspace) -> Result<Tools> {
    let module = module(ws);
    let base = ws.target().join("tools");
    let out_dir = base.join("bin");
    let stamp_path = base.join("stamp");
    let go_version = process::output(Command::new("go").arg("version"))
        .context("running `go version`; is Go installed and on PATH?")?;
    let wanted = stamp(&module, go_version.trim())?;
    let tools = Tools { kustomize: out_dir.join("kustomize"), helm: out_dir.join("helm") };
    let up_to_date = |t: &Tools| {
        fs::read_to_string(&stamp_path).is_ok_and(|s| s == wanted) && t.kustomize.is_file() && t.helm.is_file()
    };
    if up_to_date(&tools) {
        return Ok(tools);
    }
    fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let _lock = lock(&base.join("build.lock"))?;
    if up_to_date(&tools) {
        return Ok(tools);
    }
    let _ = fs::remove_file(&stamp_path);
    eprintln!("building kustomize and helm into {} (a cold build takes a few minutes)", out_dir.display());
    let started = Instant::now();
    let mut out_arg = out_dir.clone().into_os_string();
    out_arg.push("/");
    let mut cmd = Command::new("go");
    cmd.current_dir(&module)
        .env("CGO_ENABLED", "0")
        .env("GOWORK", "off")
        .args(["build", "-o"])
        .arg(out_arg)
        .args(["-ldflags", LDFLAGS])
        .args(PACKAGES.iter().map(|(pkg, _)| pkg));
    process::run(&mut cmd).with_context(|| format!("building the Go module {}", module.display()))?;
    if let Some(missing) = [&tools.kustomize, &tools.helm].into_iter().find(|p| !p.is_file()) {
        bail!("go build succeeded but {} is missing", missing.display());
    }
    fs::write(&stamp_path, &wanted).with_context(|| format!("writing {}", stamp_path.display()))?;
    eprintln!("built kustomize and helm in {}", process::secs(started.elapsed()));
    Ok(tools)
}

/// The stamp text: hashes of go.mod and go.sum plus everything else that decides the build output.
fn stamp(module: &Path, go_version: &str) -> Result<String> {
    let mut text = String::new();
    for name in ["go.mod", "go.sum"] {
        let path = module.join(name);
        let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        text.push_str(&format!("{name} fnv1a64:{:016x}\n", fnv1a64(&bytes)));
    }
    text.push_str(&format!("{go_version}\nCGO_ENABLED=0\nldflags {LDFLAGS}\n"));
    for (pkg, bin) in PACKAGES {
        text.push_str(&format!("{pkg} -> {bin}\n"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_names_both_tools_and_the_module_hashes() {
        let ws = Workspace::locate();
        let a = stamp(&module(&ws), "go version go1.26.8").unwrap();
        assert!(a.contains("go.sum fnv1a64:") && a.contains("-> kustomize") && a.contains("-> helm"), "{a}");
        assert_ne!(a, stamp(&module(&ws), "go version go1.26.9").unwrap());
    }

    #[test]
    fn ldflags_versions_match_go_mod() {
        let go_mod = fs::read_to_string(module(&Workspace::locate()).join("go.mod")).unwrap();
        assert!(go_mod.contains("sigs.k8s.io/kustomize/kustomize/v5 v5.8.2"), "{go_mod}");
        assert!(go_mod.contains("helm.sh/helm/v3 v3.22.0"), "{go_mod}");
    }
}
