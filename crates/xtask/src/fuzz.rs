//! `cargo xtask fuzz`: the mutation fuzz targets of `tests/fuzz` (manifests, webhook payloads,
//! live objects, revisions) with a chosen budget and seed. The smoke run, a CI phase, uses the
//! fixed per-target seeds, so it is repeatable; a longer run picks a random seed and prints it.

use std::process::Command;

use anyhow::Result;
use clap::Args;

use crate::Workspace;
use crate::process;

/// Options of `cargo xtask fuzz`.
#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// The CI budget: the targets' default iterations and fixed seeds.
    #[arg(long)]
    pub smoke: bool,
    /// Mutated inputs per target.
    #[arg(long, default_value_t = 200_000)]
    pub iterations: u64,
    /// Seed of the mutations (default: random, printed).
    #[arg(long)]
    pub seed: Option<u64>,
}

impl FuzzArgs {
    /// What the CI phase runs.
    pub fn smoke() -> Self {
        Self { smoke: true, iterations: 0, seed: None }
    }
}

/// Runs the fuzz targets (optimised, since a long run is CPU-bound).
pub fn run(ws: &Workspace, args: &FuzzArgs) -> Result<()> {
    let mut cmd = Command::new(ws.cargo());
    cmd.current_dir(&ws.root).args(["test", "-p", "lockstep-fuzz"]);
    if !args.smoke {
        let seed = args.seed.unwrap_or_else(random_seed);
        eprintln!("fuzzing with seed {seed:#x}, {} inputs per target", args.iterations);
        cmd.args(["--release"])
            .env("LOCKSTEP_FUZZ_ITERATIONS", args.iterations.to_string())
            .env("LOCKSTEP_FUZZ_SEED", seed.to_string());
    }
    process::run(&mut cmd)
}

fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(1);
    u64::try_from(nanos % u128::from(u64::MAX)).unwrap_or(1) ^ u64::from(std::process::id())
}
