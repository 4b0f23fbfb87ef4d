//! A small mutation fuzzer for the parsers that read untrusted input. Each target starts from a
//! corpus kept in the repository (`tests/fuzz/corpus/<target>/`), runs every seed unchanged (so
//! a crash once found stays a regression test), then runs mutated seeds: bit flips, byte
//! insertions and deletions, repeated and spliced ranges, and tokens that matter to YAML and JSON.
//! Runs are deterministic for a given seed; `LOCKSTEP_FUZZ_ITERATIONS` and `LOCKSTEP_FUZZ_SEED`
//! (set by `cargo xtask fuzz`) choose the budget and the seed. A panic fails the test and writes
//! the input to `target/fuzz-crashes/`, to be added to the corpus once fixed.

mod mutate;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

pub use mutate::{Rng, mutate};

/// Iterations per target when `LOCKSTEP_FUZZ_ITERATIONS` is unset: a smoke run of a few seconds.
pub const SMOKE_ITERATIONS: u64 = 20_000;

/// The seed files of `target`, sorted by name.
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| Some((e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).ok()?)))
                .collect()
        })
        .unwrap_or_default();
    seeds.sort();
    seeds
}

/// What a fuzz run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Inputs tried, seeds included.
    pub inputs: u64,
    /// Inputs the target accepted (returned `true`), to show the mutations reach past the first check.
    pub accepted: u64,
}

/// Runs `target` on every seed of `name`'s corpus and then on mutated seeds. `target` returns
/// whether it accepted the input; it must never panic. Panics on the first input that panics it,
/// after saving that input.
pub fn run(name: &str, target: impl Fn(&[u8]) -> bool) -> Report {
    let seeds = corpus(name);
    assert!(!seeds.is_empty(), "no corpus for fuzz target {name}");
    let iterations = env_u64("LOCKSTEP_FUZZ_ITERATIONS").unwrap_or(SMOKE_ITERATIONS);
    let seed = env_u64("LOCKSTEP_FUZZ_SEED").unwrap_or(0x5eed_u64 ^ fnv(name.as_bytes()));
    let mut rng = Rng::new(seed);
    let mut report = Report::default();
    let mut attempt = |input: &[u8], label: &str| {
        report.inputs += 1;
        match catch_unwind(AssertUnwindSafe(|| target(input))) {
            Ok(accepted) => report.accepted += u64::from(accepted),
            Err(_) => {
                let saved = save_crash(name, input);
                panic!("fuzz target {name} panicked on {label} (seed {seed:#x}); input saved to {}", saved.display());
            }
        }
    };
    for (file, bytes) in &seeds {
        attempt(bytes, &format!("corpus file {file}"));
    }
    let pool: Vec<&[u8]> = seeds.iter().map(|(_, b)| b.as_slice()).collect();
    for i in 0..iterations {
        let input = mutate(&mut rng, &pool);
        attempt(&input, &format!("mutation {i}"));
    }
    report
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    let value = value.trim();
    match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => value.parse().ok(),
    }
}

/// FNV-1a, to give each target its own default seed.
fn fnv(bytes: &[u8]) -> u64 {
    let mut hasher = fnv::FnvHasher::default();
    std::hash::Hasher::write(&mut hasher, bytes);
    std::hash::Hasher::finish(&hasher)
}

fn save_crash(name: &str, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-crashes");
    let path = dir.join(format!("{name}-{:016x}", fnv(input)));
    let _ = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, input));
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_target_is_reported_with_its_input_saved() {
        let caught =
            catch_unwind(|| run("revisions", |input| if input.contains(&b'~') { panic!("tilde") } else { true }));
        let message = caught.expect_err("the corpus has a ~ range");
        let text = message.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.contains("fuzz target revisions panicked on corpus file"), "{text}");
    }

    #[test]
    fn runs_are_deterministic_per_seed() {
        let inputs = |seed| {
            let mut rng = Rng::new(seed);
            let pool: Vec<&[u8]> = vec![b"apiVersion: v1\nkind: ConfigMap\n"];
            (0..50).map(|_| mutate(&mut rng, &pool)).collect::<Vec<_>>()
        };
        assert_eq!(inputs(7), inputs(7));
        assert_ne!(inputs(7), inputs(8));
    }
}
