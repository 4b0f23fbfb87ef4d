//! `cargo xtask image`: the controller image as an OCI image layout and an archive of it, built
//! without a container runtime.
//!
//! Three layers, base first: a distroless-style base (the glibc shared libraries `ldd` names for
//! the binaries, the loader, CA certificates, a `lockstep` user 65532), the pinned kustomize and
//! helm (`cargo xtask tools`), and the release `lockstep` (stripped) with a CycloneDX bill of
//! materials. lockstep is the glibc build, so the allocator tuning of `crates/lockstep/src/allocator.rs`
//! (one malloc arena, periodic `malloc_trim`) that a musl build compiles out stays in.
//!
//! Everything is deterministic: file metadata is fixed, timestamps are the commit's, and JSON is
//! canonical, so one commit built on one host gives one digest.

mod check;
mod layer;
mod layout;
mod rootfs;
mod sbom;
mod verify;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::Value;

pub use check::run as check;

use crate::Workspace;
use crate::process;
use layout::{BuiltLayer, Meta};

/// Options of `cargo xtask image`.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// Cargo profile lockstep is built with (`dev` for a quick look; images ship `release`).
    #[arg(long, default_value = "release")]
    pub profile: String,
    /// Output directory (default: target/image).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Then check the image as the `image` phase of `cargo xtask test` does (needs root; starts
    /// the default local control plane if it is not running).
    #[arg(long)]
    pub check: bool,
}

impl ImageArgs {
    /// What the `image` phase of `cargo xtask test` builds and checks.
    pub fn release() -> Self {
        Self { profile: "release".into(), out: None, check: true }
    }
}

/// What `cargo xtask image` wrote.
#[derive(Debug, Clone)]
pub struct Built {
    /// The OCI image layout directory.
    pub layout: PathBuf,
    /// The archive of the layout.
    pub archive: PathBuf,
    /// The bill of materials beside them.
    pub sbom: PathBuf,
    /// The manifest digest (`sha256:…`), what a registry reports after a push.
    pub digest: String,
    /// Image metadata (version, revision, …).
    pub meta: Meta,
}

/// Runs `cargo xtask image`.
pub fn run(ws: &Workspace, args: &ImageArgs) -> Result<()> {
    if args.check {
        let cluster = crate::cluster::up(ws, crate::cluster::DEFAULT_NAME)?;
        return check(ws, &cluster, args);
    }
    let built = build(ws, args)?;
    println!("layout   {}", built.layout.display());
    println!("archive  {}", built.archive.display());
    println!("sbom     {}", built.sbom.display());
    println!("manifest {}", built.digest);
    Ok(())
}

/// The commit being built: its id, time (RFC 3339) and time in seconds since the epoch.
fn commit(ws: &Workspace) -> Result<(String, String, u64)> {
    let git = |args: &[&str]| process::output(Command::new("git").arg("-C").arg(&ws.root).args(args));
    let revision = git(&["rev-parse", "HEAD"])?.trim().to_owned();
    let created = git(&["show", "-s", "--format=%cI", "HEAD"])?.trim().to_owned();
    let epoch = git(&["show", "-s", "--format=%ct", "HEAD"])?.trim().parse().context("commit time")?;
    if !git(&["status", "--porcelain", "--untracked-files=no"])?.trim().is_empty() {
        eprintln!("image: the work tree has uncommitted changes; the revision label names {revision} all the same");
    }
    Ok((revision, created, epoch))
}

/// `cargo metadata` for this host's target (normal dependencies of every workspace package).
fn cargo_metadata(ws: &Workspace) -> Result<Value> {
    let out = process::output(Command::new(ws.cargo()).current_dir(&ws.root).args([
        "metadata",
        "--format-version",
        "1",
        "--locked",
        "--filter-platform",
        "x86_64-unknown-linux-gnu",
    ]))?;
    serde_json::from_str(&out).context("parsing cargo metadata")
}

/// Builds the image into `args.out` (default target/image).
pub fn build(ws: &Workspace, args: &ImageArgs) -> Result<Built> {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        bail!("cargo xtask image builds a linux/amd64 image and must run on linux/amd64");
    }
    let started = Instant::now();
    let out = args.out.clone().unwrap_or_else(|| ws.target().join("image"));
    let (revision, created, epoch) = commit(ws)?;
    let metadata = cargo_metadata(ws)?;
    let (cargo_graph, lockstep_purl) = sbom::from_cargo_metadata(&metadata, "lockstep")?;
    let version = cargo_graph.components[&lockstep_purl].version.clone();
    let source = metadata["packages"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "lockstep"))
        .and_then(|p| p["repository"].as_str())
        .unwrap_or("https://lockstep.dev/lockstep")
        .to_owned();

    let binary = crate::bench::lockstep::build(ws, &args.profile)?;
    let tools = crate::tools::ensure(ws)?;
    let work = out.join("work");
    fs::create_dir_all(&work)?;
    let lockstep = rootfs::stripped(&binary, &work.join("lockstep"))?;

    let mut libs = BTreeSet::new();
    for bin in [&lockstep, &tools.kustomize, &tools.helm] {
        libs.extend(rootfs::shared_objects(bin)?);
    }
    let ca_bundle = Path::new(rootfs::CA_BUNDLE);
    if !ca_bundle.is_file() {
        bail!("{} is missing: install the Debian package ca-certificates", ca_bundle.display());
    }

    let mut graph = cargo_graph;
    let mut contains = vec![lockstep_purl];
    for (name, path) in [("kustomize", &tools.kustomize), ("helm", &tools.helm)] {
        let text = process::output(Command::new("go").args(["version", "-m"]).arg(path))?;
        let (go, purl) = sbom::from_go_version(name, &text)?;
        graph.merge(go);
        contains.push(purl);
    }
    for (package, version, arch) in rootfs::debian_packages(&libs)? {
        let component = sbom::debian_component(&package, &version, &arch);
        contains.push(component.purl.clone());
        graph.components.insert(component.purl.clone(), component);
    }
    let subject = sbom::Subject {
        name: "lockstep".into(),
        version: version.clone(),
        revision: revision.clone(),
        created: created.clone(),
        contains,
    };
    let mut sbom_json = serde_json::to_vec_pretty(&sbom::document(&subject, &graph))?;
    sbom_json.push(b'\n');

    let layout_dir = out.join("layout");
    if layout_dir.exists() {
        fs::remove_dir_all(&layout_dir).with_context(|| format!("removing the old {}", layout_dir.display()))?;
    }
    let blobs = layout_dir.join("blobs").join("sha256");
    let layers = [
        ("base: glibc shared libraries, loader, CA certificates, user 65532", rootfs::base(&libs, ca_bundle)),
        ("kustomize and helm from tests/tools", rootfs::tools(&tools.kustomize, &tools.helm)),
        ("lockstep and its bill of materials", rootfs::lockstep(&lockstep, sbom_json.clone())),
    ]
    .into_iter()
    .map(|(what, entries)| Ok(BuiltLayer { blob: layer::write(&entries, epoch, &blobs)?, created_by: what.into() }))
    .collect::<Result<Vec<_>>>()?;

    let meta = Meta {
        title: "lockstep".into(),
        version: version.clone(),
        revision,
        source,
        created,
        env: rootfs::env(),
        entrypoint: vec![format!("{}/lockstep", rootfs::BIN_DIR)],
        cmd: vec!["controller".into()],
    };
    let manifest = layout::write(&layout_dir, &meta, &layers)?;
    let archive = out.join(format!("lockstep-{version}.tar"));
    layout::archive(&layout_dir, &archive, epoch)?;
    let sbom_path = out.join(format!("lockstep-{version}.cdx.json"));
    fs::write(&sbom_path, &sbom_json)?;
    let digest = manifest.digest().to_string();
    fs::write(out.join(format!("lockstep-{version}.digest")), format!("{digest}\n"))?;
    eprintln!(
        "image: lockstep {version} ({} components in the bill of materials, {} shared objects) in {}",
        graph.components.len(),
        libs.len(),
        process::secs(started.elapsed())
    );
    Ok(Built { layout: layout_dir, archive, sbom: sbom_path, digest, meta })
}
