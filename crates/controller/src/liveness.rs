//! Whether the controller is alive in the sense `/healthz` reports to the kubelet: its reconcile loop
//! makes progress while it has work, and its Application watch is not failing without end. A process
//! that answers HTTP but does neither is restarted rather than left looking healthy.
//!
//! [`verdict`] is the pure rule; [`Liveness`] records the facts it reads.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long the Application watch may fail without one successful event before the process counts
/// as dead (the watcher retries with backoff meanwhile).
pub(crate) const WATCH_FAILING_LIMIT: Duration = Duration::from_secs(300);

/// What the rule reads, in milliseconds since the process started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Facts {
    /// Now.
    pub now: u64,
    /// Reconciles running now.
    pub in_flight: i64,
    /// When a reconcile last finished (or started, if none has finished since), 0 if never.
    pub last_progress: u64,
    /// Since when the Application watch has failed without a success in between; `None` if it works.
    pub watch_failing_since: Option<u64>,
}

/// `Ok` while alive; otherwise why not. `stuck_after` is the longest a reconcile may legitimately
/// take (sync timeout plus fetch and render timeouts, with a margin).
pub(crate) fn verdict(facts: Facts, stuck_after: Duration) -> Result<(), String> {
    let stuck_ms = u64::try_from(stuck_after.as_millis()).unwrap_or(u64::MAX);
    if facts.in_flight > 0 && facts.now.saturating_sub(facts.last_progress) > stuck_ms {
        return Err(format!(
            "{} reconcile(s) in flight and none finished for {}s (bound {}s)",
            facts.in_flight,
            facts.now.saturating_sub(facts.last_progress) / 1000,
            stuck_after.as_secs()
        ));
    }
    let watch_limit = u64::try_from(WATCH_FAILING_LIMIT.as_millis()).unwrap_or(u64::MAX);
    if let Some(since) = facts.watch_failing_since
        && facts.now.saturating_sub(since) > watch_limit
    {
        return Err(format!(
            "the Application watch has failed for {}s without a successful event",
            facts.now.saturating_sub(since) / 1000
        ));
    }
    Ok(())
}

/// The facts, recorded lock-free by the reconcile timer and the watch stream.
#[derive(Debug)]
pub(crate) struct Liveness {
    started: Instant,
    in_flight: AtomicI64,
    last_progress: AtomicU64,
    /// 0 when the watch works; else 1 + the millisecond it started failing.
    watch_failing_since: AtomicU64,
}

/// The process-wide liveness record.
pub(crate) fn liveness() -> &'static Liveness {
    static LIVENESS: OnceLock<Liveness> = OnceLock::new();
    LIVENESS.get_or_init(Liveness::new)
}

impl Liveness {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            in_flight: AtomicI64::new(0),
            last_progress: AtomicU64::new(0),
            watch_failing_since: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A reconcile starts; a start after an idle spell counts as progress, so the clock of a stuck
    /// reconcile runs from when work last moved.
    pub(crate) fn reconcile_started(&self) {
        if self.in_flight.fetch_add(1, Ordering::Relaxed) == 0 {
            self.last_progress.store(self.now(), Ordering::Relaxed);
        }
    }

    /// A reconcile finished (or was abandoned).
    pub(crate) fn reconcile_finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.last_progress.store(self.now(), Ordering::Relaxed);
    }

    /// The Application watch yielded an event (`ok`) or an error.
    pub(crate) fn watch_result(&self, ok: bool) {
        if ok {
            self.watch_failing_since.store(0, Ordering::Relaxed);
        } else {
            let now = self.now().saturating_add(1);
            let _ = self.watch_failing_since.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    /// The facts as of now.
    pub(crate) fn facts(&self) -> Facts {
        let failing = self.watch_failing_since.load(Ordering::Relaxed);
        Facts {
            now: self.now(),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            last_progress: self.last_progress.load(Ordering::Relaxed),
            watch_failing_since: failing.checked_sub(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Duration = Duration::from_secs(60);

    fn facts(now: u64, in_flight: i64, last_progress: u64, failing: Option<u64>) -> Facts {
        Facts { now, in_flight, last_progress, watch_failing_since: failing }
    }

    #[test]
    fn idle_is_alive_however_long() {
        assert_eq!(verdict(facts(10_000_000, 0, 0, None), BOUND), Ok(()));
    }

    #[test]
    fn work_in_flight_without_progress_past_the_bound_is_dead() {
        assert_eq!(verdict(facts(60_000, 2, 0, None), BOUND), Ok(()));
        let err = verdict(facts(60_001, 2, 0, None), BOUND).unwrap_err();
        assert!(err.contains("2 reconcile(s) in flight"), "{err}");
        // Progress resets the clock.
        assert_eq!(verdict(facts(100_000, 2, 50_000, None), BOUND), Ok(()));
    }

    #[test]
    fn a_watch_failing_past_its_limit_is_dead() {
        let limit = WATCH_FAILING_LIMIT.as_millis() as u64;
        assert_eq!(verdict(facts(limit + 1_000, 0, 0, Some(1_000)), BOUND), Ok(()));
        let err = verdict(facts(limit + 1_001, 0, 0, Some(1_000)), BOUND).unwrap_err();
        assert!(err.contains("Application watch"), "{err}");
    }

    #[test]
    fn the_record_tracks_reconciles_and_watch_failures() {
        let record = Liveness::new();
        record.reconcile_started();
        record.reconcile_started();
        assert_eq!(record.facts().in_flight, 2);
        record.reconcile_finished();
        assert_eq!(record.facts().in_flight, 1);
        record.watch_result(false);
        let since = record.facts().watch_failing_since;
        assert!(since.is_some());
        // A second failure keeps the first time.
        record.watch_result(false);
        assert_eq!(record.facts().watch_failing_since, since);
        record.watch_result(true);
        assert_eq!(record.facts().watch_failing_since, None);
    }
}
