//! Whether the controller is alive in the sense `/healthz` reports to the kubelet: its reconcile loop
//! makes progress while it has work, and its Application watch is not failing without end. A process
//! that answers HTTP but does neither is restarted rather than left looking healthy.
//!
//! [`lockstep_policy::liveness::verdict`] is the pure rule; [`Liveness`] records the facts it reads.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use lockstep_policy::liveness::Facts;

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
