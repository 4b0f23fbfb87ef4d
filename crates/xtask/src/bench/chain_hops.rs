//! Scenario 9's arithmetic: what one Application's status says about when it turned Ready and when
//! its sync started, and from that the hop from a dependency turning Ready to its dependent syncing.
//! Pure, so every case is tested; the watch and the API calls are in `chains.rs`.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

/// When one Application did what a chain waits on, on two clocks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timeline {
    /// Receipt of the first watch event showing its `Ready` condition True (seconds on the bench's clock).
    pub ready_seen: Option<f64>,
    /// Receipt of the first watch event showing a sync operation (lockstep records it when the pass ends).
    pub sync_seen: Option<f64>,
    /// Its `Ready` condition's `lastTransitionTime` while True (Unix seconds, 1 s resolution).
    pub ready_since: Option<f64>,
    /// Its `operationState.startedAt` (Unix seconds, 1 s resolution).
    pub sync_started: Option<f64>,
}

impl Timeline {
    /// Notes what one watch event received at `at` shows: only the first Ready and the first sync count.
    pub fn saw(&mut self, status: &Value, at: f64) {
        if self.ready_seen.is_none() && ready_since(status).is_some() {
            self.ready_seen = Some(at);
        }
        if self.sync_seen.is_none() && sync_started(status).is_some() {
            self.sync_seen = Some(at);
        }
    }

    /// Takes the timestamps of the Application's final `status`.
    pub fn stamp(&mut self, status: &Value) {
        self.ready_since = ready_since(status);
        self.sync_started = sync_started(status);
    }
}

/// The `Ready` condition's `lastTransitionTime` when it is True.
pub fn ready_since(status: &Value) -> Option<f64> {
    let conditions = status["conditions"].as_array()?;
    let ready = conditions.iter().find(|c| c["type"] == "Ready" && c["status"] == "True")?;
    unix_seconds(&ready["lastTransitionTime"])
}

/// `operationState.startedAt`, when a sync operation is recorded.
pub fn sync_started(status: &Value) -> Option<f64> {
    unix_seconds(&status["operationState"]["startedAt"])
}

/// An RFC 3339 time as Unix seconds.
fn unix_seconds(time: &Value) -> Option<f64> {
    let at: Timestamp = time.as_str()?.parse().ok()?;
    Some(at.as_millisecond() as f64 / 1000.0)
}

/// One dependency edge of a chain, from the dependency's Ready to the dependent's sync.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Hop {
    /// Both clocks put the dependent's sync after its dependency's Ready, by these seconds.
    Timed {
        /// On the watch: the dependent's sync recorded − the dependency's Ready, both on receipt.
        watched: f64,
        /// From the status: the dependent's `startedAt` − the dependency's Ready `lastTransitionTime`.
        stamped: f64,
    },
    /// The dependent's sync came before its dependency was Ready, on the clock named, by `lead` seconds.
    Early {
        /// `watch` or `status`.
        clock: &'static str,
        /// How much earlier.
        lead: f64,
    },
    /// A time the hop needs was never observed.
    Unseen(&'static str),
}

/// The hop from `dependency` turning Ready to `dependent` syncing.
pub fn hop(dependency: &Timeline, dependent: &Timeline) -> Hop {
    let Some(ready_seen) = dependency.ready_seen else { return Hop::Unseen("the dependency Ready on the watch") };
    let Some(sync_seen) = dependent.sync_seen else { return Hop::Unseen("the dependent's sync on the watch") };
    let Some(ready_since) = dependency.ready_since else { return Hop::Unseen("the dependency's Ready time") };
    let Some(sync_started) = dependent.sync_started else { return Hop::Unseen("the dependent's sync start time") };
    let (watched, stamped) = (sync_seen - ready_seen, sync_started - ready_since);
    if watched < 0.0 {
        Hop::Early { clock: "watch", lead: -watched }
    } else if stamped < 0.0 {
        Hop::Early { clock: "status", lead: -stamped }
    } else {
        Hop::Timed { watched, stamped }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(ready: &str, at: &str, started: Option<&str>) -> Value {
        let mut status = json!({"conditions": [
            {"type": "Reconciling", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "Ready", "status": ready, "lastTransitionTime": at},
        ]});
        if let Some(started) = started {
            status["operationState"] = json!({"phase": "Succeeded", "startedAt": started});
        }
        status
    }

    fn line(ready_seen: f64, sync_seen: f64, ready_since: f64, sync_started: f64) -> Timeline {
        Timeline {
            ready_seen: Some(ready_seen),
            sync_seen: Some(sync_seen),
            ready_since: Some(ready_since),
            sync_started: Some(sync_started),
        }
    }

    #[test]
    fn status_times_need_ready_true_and_an_operation() {
        let ready = status("True", "2026-01-01T00:00:07Z", Some("2026-01-01T00:00:02.5Z"));
        assert_eq!(ready_since(&ready), Some(1_767_225_607.0));
        assert_eq!(sync_started(&ready), Some(1_767_225_602.5));
        let waiting = status("False", "2026-01-01T00:00:07Z", None);
        assert_eq!((ready_since(&waiting), sync_started(&waiting)), (None, None));
        assert_eq!(ready_since(&json!({})), None);
        assert_eq!(ready_since(&status("True", "yesterday", None)), None);
    }

    #[test]
    fn the_watch_keeps_the_first_ready_and_the_first_sync() {
        let mut seen = Timeline::default();
        seen.saw(&status("False", "2026-01-01T00:00:01Z", None), 1.0);
        assert_eq!(seen, Timeline::default());
        seen.saw(&status("False", "2026-01-01T00:00:02Z", Some("2026-01-01T00:00:02Z")), 2.0);
        seen.saw(&status("True", "2026-01-01T00:00:03Z", Some("2026-01-01T00:00:02Z")), 3.0);
        seen.saw(&status("True", "2026-01-01T00:00:03Z", Some("2026-01-01T00:00:02Z")), 4.0);
        assert_eq!((seen.sync_seen, seen.ready_seen), (Some(2.0), Some(3.0)));
        seen.stamp(&status("True", "2026-01-01T00:00:03Z", Some("2026-01-01T00:00:02Z")));
        assert_eq!((seen.sync_started, seen.ready_since), (Some(1_767_225_602.0), Some(1_767_225_603.0)));
    }

    #[test]
    fn a_hop_is_timed_on_both_clocks() {
        let (a, b) = (line(5.0, 1.0, 100.0, 95.0), line(5.4, 5.25, 101.0, 100.0));
        assert_eq!(hop(&a, &b), Hop::Timed { watched: 0.25, stamped: 0.0 });
    }

    #[test]
    fn a_sync_before_the_ready_is_early_on_either_clock() {
        let a = line(5.0, 1.0, 100.0, 95.0);
        assert_eq!(hop(&a, &line(4.5, 4.0, 101.0, 100.0)), Hop::Early { clock: "watch", lead: 1.0 });
        assert_eq!(hop(&a, &line(6.0, 5.5, 101.0, 99.0)), Hop::Early { clock: "status", lead: 1.0 });
    }

    #[test]
    fn a_missing_time_is_named() {
        let (a, b) = (line(5.0, 1.0, 100.0, 95.0), line(6.0, 5.5, 101.0, 100.0));
        let unseen = |a: Timeline, b: Timeline| match hop(&a, &b) {
            Hop::Unseen(what) => what,
            other => panic!("{other:?}"),
        };
        assert!(unseen(Timeline { ready_seen: None, ..a }, b).contains("dependency Ready on the watch"));
        assert!(unseen(a, Timeline { sync_seen: None, ..b }).contains("dependent's sync on the watch"));
        assert!(unseen(Timeline { ready_since: None, ..a }, b).contains("dependency's Ready time"));
        assert!(unseen(a, Timeline { sync_started: None, ..b }).contains("sync start time"));
    }
}
