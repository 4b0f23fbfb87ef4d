//! Keeps the controller's memory flat over a long run by limiting glibc's malloc arenas.
//!
//! glibc gives each thread that allocates concurrently an arena of its own (up to 8 per core)
//! and returns little of them to the system. The controller's git fetches and renders run on
//! short-lived blocking threads, so with the default the resident set crept up by megabytes over
//! a thousand fetch cycles while the live heap stayed at about 2 MiB (see docs/benchmarks.md).
//! One arena, with glibc's per-thread caches in front of it, kept it flatter; what was left was
//! freed memory the allocator kept after peaks (live heap ≈ 2 MiB after 1,000 cycles, peak 4.7 MiB),
//! so free pages are also handed back to the system every few seconds.

use std::time::Duration;

/// The arena limit for the controller; `MALLOC_ARENA_MAX` in the environment overrides it.
const ARENAS: i32 = 1;

/// Limits malloc arenas unless the operator set `MALLOC_ARENA_MAX`; call before any thread starts.
pub(crate) fn limit_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of the C allocator; it is called before any other
    // thread exists and has no memory-safety preconditions.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS);
    }
}

/// How often free memory is handed back to the system.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Starts a thread that returns the allocator's free pages to the system every [`TRIM_EVERY`], so
/// the resident set follows the live heap rather than its peaks (a cold start, a large render).
pub(crate) fn trim_periodically() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let spawned = std::thread::Builder::new().name("malloc-trim".into()).spawn(|| {
            loop {
                std::thread::sleep(TRIM_EVERY);
                // SAFETY: malloc_trim only releases free memory of the C allocator; it has no
                // memory-safety preconditions and is thread-safe.
                unsafe {
                    libc::malloc_trim(0);
                }
            }
        });
        if let Err(err) = spawned {
            tracing::warn!(%err, "not trimming free memory: the thread could not start");
        }
    }
}
