//! Whether the controller is alive in the sense `/healthz` reports to the kubelet: its reconcile loop
//! makes progress while it has work, and its Application watch is not failing without end. Pure: the
//! controller records the facts.

use std::time::Duration;

/// How long the Application watch may fail without one successful event before the process counts
/// as dead (the watcher retries with backoff meanwhile).
pub const WATCH_FAILING_LIMIT: Duration = Duration::from_secs(300);

/// What the rule reads, in milliseconds since the process started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facts {
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
pub fn verdict(facts: Facts, stuck_after: Duration) -> Result<(), String> {
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
}
