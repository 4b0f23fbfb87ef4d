//! Keeps the controller's memory flat over a long run by limiting glibc's malloc arenas.
//!
//! glibc gives each thread that allocates concurrently an arena of its own (up to 8 per core)
//! and returns little of them to the system. The controller's git fetches and renders run on
//! short-lived blocking threads, so with the default the resident set crept up by megabytes over
//! a thousand fetch cycles while the live heap stayed at about 2 MiB (see docs/benchmarks.md).
//! One arena, with glibc's per-thread caches in front of it, kept it flat.

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
