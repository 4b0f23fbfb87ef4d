//! `cargo xtask`: developer and CI tasks for the lockstep workspace.
//!
//! * `cargo xtask cluster up [--name NAME]` builds (once) and starts a local
//!   Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
//!   kube-scheduler) on loopback, with kwok simulating nodes, and writes its
//!   admin kubeconfig.
//! * `cargo xtask cluster down [--name NAME]` stops it and removes its state.
//! * `cargo xtask test [--no-lint] [--down] [--no-demo] [--no-bench] [--no-image] [-- ARGS]` is the
//!   one command CI runs: prerequisites, lint, cluster up, build the controller, `cargo test
//!   --workspace`, the fuzz and chaos smoke runs, the image check, `cargo xtask demo --check`, then
//!   `cargo xtask bench --smoke`.
//! * `cargo xtask tools` builds (once) the pinned kustomize and helm.
//! * `cargo xtask demo [--check]` is the quickstart: everything above plus the controller and an
//!   example; `--check` runs it on a fresh cluster, proves a commit syncs and drift heals, and tears down.
//! * `cargo xtask bench [--smoke] [--peer flux]` measures lockstep on its own local control plane
//!   (docs/benchmarks.md).
//! * `cargo xtask image [--profile P] [--out DIR] [--check]` builds the controller image without a
//!   container runtime: an OCI image layout, its archive and a CycloneDX bill of materials in
//!   target/image/ (docs/install.md); `--check` then runs it as the `image` test phase does.

mod bench;
mod certs;
mod chaos;
mod cluster;
mod demo;
mod fuzz;
mod gobuild;
mod gomodule;
mod image;
mod kwok;
mod oidc_provider;
mod prereq;
mod process;
mod registry;
mod sops_tools;
mod test;
mod tools;

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Command line of `cargo xtask`.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", about = "Developer and CI tasks for lockstep")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The top-level tasks; add new ones as variants here.
#[derive(Debug, Subcommand)]
enum Command {
    /// Manage a local Kubernetes control plane built from tests/controlplane.
    Cluster {
        #[command(subcommand)]
        action: cluster::ClusterCommand,
    },
    /// Lint, start the cluster, build the controller and run the whole test suite.
    Test(test::TestArgs),
    /// Build (once) the pinned kustomize and helm from tests/tools into target/tools/bin/, the tests'
    /// OIDC provider from tests/oidc, sops and age-keygen from tests/sops, and the test OCI registry
    /// from tests/registry.
    Tools,
    /// The quickstart: control plane, CRDs, a git repository, the controller and an example Application.
    Demo(demo::DemoArgs),
    /// Benchmarks on a local control plane with simulated nodes (docs/benchmarks.md).
    Bench(bench::BenchArgs),
    /// Mutation fuzzing of the parsers of untrusted input (tests/fuzz).
    Fuzz(fuzz::FuzzArgs),
    /// Fault scenarios against the real control plane (docs/reliability.md).
    Chaos(chaos::ChaosArgs),
    /// The controller image as an OCI image layout and archive, without a container runtime
    /// (docs/install.md).
    Image(image::ImageArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let ws = Workspace::locate();
    match cli.command {
        Command::Cluster { action } => cluster::run(&ws, action),
        Command::Test(args) => test::run(&ws, &args),
        Command::Tools => tools::ensure(&ws).and_then(|t| {
            let sops = sops_tools::ensure(&ws)?;
            let registry = registry::ensure(&ws)?;
            for path in [&t.kustomize, &t.helm, &t.oidc_provider, &sops.sops, &sops.age_keygen, &registry] {
                println!("{}", path.display());
            }
            Ok(())
        }),
        Command::Demo(args) => demo::run(&ws, &args),
        Command::Bench(args) => prereq::ensure(prereq::Task::Test).and_then(|()| bench::run(&ws, &args)),
        Command::Fuzz(args) => fuzz::run(&ws, &args),
        Command::Chaos(args) => chaos::run(&ws, &args),
        Command::Image(args) => image::run(&ws, &args),
    }
}

/// Well-known locations inside the workspace.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The workspace root (the directory holding the root `Cargo.toml`).
    pub root: PathBuf,
}

impl Workspace {
    /// Finds the workspace root from this crate's manifest directory.
    pub fn locate() -> Self {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest.ancestors().nth(2).unwrap_or(manifest).to_path_buf();
        Self { root }
    }

    /// `target/` of the workspace.
    pub fn target(&self) -> PathBuf {
        self.root.join("target")
    }

    /// The Go module that pins the control plane binaries.
    pub fn controlplane_module(&self) -> PathBuf {
        self.root.join("tests").join("controlplane")
    }

    /// The directory shared between developers, beside the workspace root.
    pub fn shared_dir(&self) -> PathBuf {
        match self.root.parent() {
            Some(parent) => parent.join("shared"),
            None => self.root.join("..").join("shared"),
        }
    }

    /// Cargo's target directory for Rust builds: `CARGO_TARGET_DIR` if set
    /// (relative to the root), else `target/`.
    pub fn cargo_target_dir(&self) -> PathBuf {
        match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => self.root.join(dir),
            _ => self.target(),
        }
    }

    /// The cargo executable that runs us (falls back to `cargo` on `PATH`).
    pub fn cargo(&self) -> PathBuf {
        std::env::var_os("CARGO").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("cargo"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn test_passes_trailing_args_verbatim() {
        let cli = Cli::try_parse_from(["xtask", "test", "--no-lint", "--", "FILTER", "--", "--nocapture"]).unwrap();
        let Command::Test(args) = cli.command else { panic!("not the test command") };
        assert!(args.no_lint);
        assert!(!args.down && !args.no_bench && !args.no_demo && !args.no_image);
        assert_eq!(args.cargo_test_args, ["FILTER", "--", "--nocapture"]);
    }

    #[test]
    fn bench_smoke_matches_its_command_line() {
        let cli = Cli::try_parse_from(["xtask", "bench", "--smoke", "--peer", "flux"]).unwrap();
        let Command::Bench(args) = cli.command else { panic!("not the bench command") };
        let smoke = bench::BenchArgs::smoke();
        assert_eq!(format!("{args:?}"), format!("{smoke:?}"));
    }

    #[test]
    fn image_builds_release_into_target_by_default() {
        let cli = Cli::try_parse_from(["xtask", "image"]).unwrap();
        let Command::Image(args) = cli.command else { panic!("not the image command") };
        assert_eq!((args.profile.as_str(), args.out, args.check), ("release", None, false));
        let phase = image::ImageArgs::release();
        assert_eq!((phase.profile.as_str(), phase.check), ("release", true));
    }

    #[test]
    fn cluster_name_defaults_to_default() {
        let cli = Cli::try_parse_from(["xtask", "cluster", "up"]).unwrap();
        let Command::Cluster { action: cluster::ClusterCommand::Up(args) } = cli.command else {
            panic!("not cluster up")
        };
        assert_eq!(args.name, cluster::DEFAULT_NAME);
    }

    #[test]
    fn shared_dir_is_beside_the_workspace() {
        let ws = Workspace { root: PathBuf::from("/work/main") };
        assert_eq!(ws.shared_dir(), Path::new("/work/shared"));
    }
}
