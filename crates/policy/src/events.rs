//! Which Kubernetes Events a reconcile should publish: pure.
//!
//! Reasons (documented in docs/metrics.md): `Applied`, `SyncStarted`, `SyncSucceeded`,
//! `SyncFailed`, `HealthChanged`, `SourceUnavailable`, `SourceRecovered`, `DriftDetected`, and the
//! `Ready` condition's reason whenever that condition changes.

use lockstep_api::conditions::{DRIFTED, READY, SOURCE_AVAILABLE, reason};
use lockstep_api::{ApplicationStatus, HealthStatusCode, OperationPhase};

use crate::status::{drifted_count, short};
use lockstep_engine::Written;

/// One Event to publish on the Application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSpec {
    /// Warning (something needs a person) rather than Normal.
    pub warning: bool,
    /// Machine-readable reason: the Ready condition's reason, or `Applied`.
    pub reason: String,
    /// What happened, for people.
    pub note: String,
}

/// Events published for sync operations, health and source availability.
pub mod event_reason {
    /// A sync operation began.
    pub const SYNC_STARTED: &str = "SyncStarted";
    /// A sync operation ended with every object synced.
    pub const SYNC_SUCCEEDED: &str = "SyncSucceeded";
    /// A sync operation ended in failure or error.
    pub const SYNC_FAILED: &str = "SyncFailed";
    /// The aggregate health changed.
    pub const HEALTH_CHANGED: &str = "HealthChanged";
    /// Every URL of the repository fails; the last good revision is served from the cache.
    pub const SOURCE_UNAVAILABLE: &str = "SourceUnavailable";
    /// The repository answers again.
    pub const SOURCE_RECOVERED: &str = "SourceRecovered";
    /// More objects than before differ from git and are kept so (drift mode `warn`).
    pub const DRIFT_DETECTED: &str = lockstep_api::conditions::DRIFT_DETECTED;
}

/// Events for the change from `previous` to `next`: one when objects were written, one per sync
/// operation start and end, one when health changes, one when the source becomes unavailable or
/// recovers, one when more objects are kept drifted, and one when the Ready condition changed. Unchanged reconciles publish nothing, so
/// repeats cannot flood.
pub fn events_for(previous: Option<&ApplicationStatus>, next: &ApplicationStatus, written: Written) -> Vec<EventSpec> {
    let mut events = operation_events(previous, next);
    events.extend(health_event(previous, next));
    events.extend(source_event(previous, next));
    events.extend(drift_event(previous, next));
    if written.any() {
        let Written { created, updated, pruned } = written;
        let revision = next.sync.revision.as_deref().map(short).unwrap_or("unknown revision");
        events.push(EventSpec {
            warning: false,
            reason: "Applied".into(),
            note: format!(
                "Applied {} objects at {revision} ({created} created, {updated} updated, {pruned} pruned)",
                created + updated + pruned
            ),
        });
    }
    let ready = |s: &ApplicationStatus| s.conditions.iter().find(|c| c.type_ == READY).cloned();
    if let Some(now) = ready(next) {
        let before = previous.and_then(ready);
        let same = before.is_some_and(|b| b.status == now.status && b.reason == now.reason && b.message == now.message);
        let duplicate = events.iter().any(|e| e.reason == now.reason);
        if !same && !duplicate {
            events.push(EventSpec { warning: is_warning(&now.reason, next), reason: now.reason, note: now.message });
        }
    }
    events
}

/// `SyncStarted` for an operation not seen before; `SyncSucceeded`/`SyncFailed` when it ends.
fn operation_events(previous: Option<&ApplicationStatus>, next: &ApplicationStatus) -> Vec<EventSpec> {
    let Some(op) = next.operation_state.as_ref() else { return Vec::new() };
    let before = previous.and_then(|p| p.operation_state.as_ref());
    let new_operation = before.is_none_or(|b| b.started_at != op.started_at || b.sync_request != op.sync_request);
    let revision =
        op.sync_result.as_ref().map(|r| short(&r.revision).to_string()).unwrap_or_else(|| "unknown revision".into());
    let mut events = Vec::new();
    if new_operation {
        events.push(EventSpec {
            warning: false,
            reason: event_reason::SYNC_STARTED.into(),
            note: format!("Sync of {revision} started"),
        });
    }
    let ended_now = new_operation || before.is_some_and(|b| b.phase != op.phase);
    let message = op.message.clone().unwrap_or_default();
    match op.phase {
        OperationPhase::Succeeded if ended_now => events.push(EventSpec {
            warning: false,
            reason: event_reason::SYNC_SUCCEEDED.into(),
            note: format!("Sync of {revision} succeeded: {message}"),
        }),
        OperationPhase::Failed | OperationPhase::Error if ended_now => events.push(EventSpec {
            warning: true,
            reason: event_reason::SYNC_FAILED.into(),
            note: format!("Sync of {revision} failed: {message}"),
        }),
        _ => {}
    }
    events
}

/// `HealthChanged` when the aggregate health moves (not to Unknown before any comparison).
fn health_event(previous: Option<&ApplicationStatus>, next: &ApplicationStatus) -> Option<EventSpec> {
    let before = previous.map_or(HealthStatusCode::Unknown, |p| p.health.status);
    let now = next.health.status;
    if before == now || (previous.is_none() && now == HealthStatusCode::Unknown) {
        return None;
    }
    let detail = next.health.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
    Some(EventSpec {
        warning: now == HealthStatusCode::Degraded,
        reason: event_reason::HEALTH_CHANGED.into(),
        note: format!("Health changed from {before:?} to {now:?}{detail}"),
    })
}

/// `SourceUnavailable` when the `SourceAvailable` condition turns False; `SourceRecovered` when it
/// goes away or turns True again.
fn source_event(previous: Option<&ApplicationStatus>, next: &ApplicationStatus) -> Option<EventSpec> {
    let unavailable = |s: &ApplicationStatus| {
        s.conditions.iter().find(|c| c.type_ == SOURCE_AVAILABLE && c.status == "False").map(|c| c.message.clone())
    };
    match (previous.and_then(unavailable), unavailable(next)) {
        (None, Some(message)) => {
            Some(EventSpec { warning: true, reason: event_reason::SOURCE_UNAVAILABLE.into(), note: message })
        }
        (Some(_), None) => Some(EventSpec {
            warning: false,
            reason: event_reason::SOURCE_RECOVERED.into(),
            note: "The repository answers again".into(),
        }),
        _ => None,
    }
}

/// `DriftDetected` (a Warning) when drift mode `warn` keeps more objects drifted than before, with
/// the `Drifted` condition's message (which names them).
fn drift_event(previous: Option<&ApplicationStatus>, next: &ApplicationStatus) -> Option<EventSpec> {
    if drifted_count(next) <= previous.map_or(0, drifted_count) {
        return None;
    }
    let message = next.conditions.iter().find(|c| c.type_ == DRIFTED).map(|c| c.message.clone())?;
    Some(EventSpec { warning: true, reason: event_reason::DRIFT_DETECTED.into(), note: message })
}

fn is_warning(why: &str, status: &ApplicationStatus) -> bool {
    match why {
        reason::SUCCEEDED | reason::OUT_OF_SYNC => false,
        reason::NOT_HEALTHY => status.health.status == lockstep_api::HealthStatusCode::Degraded,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use k8s_openapi::jiff::Timestamp;

    fn status(ready: &str, why: &str, message: &str) -> ApplicationStatus {
        ApplicationStatus {
            conditions: vec![Condition {
                type_: READY.into(),
                status: ready.into(),
                reason: why.into(),
                message: message.into(),
                last_transition_time: Time(Timestamp::UNIX_EPOCH),
                observed_generation: None,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn unchanged_status_publishes_nothing() {
        let s = status("True", "Succeeded", "ok");
        assert!(events_for(Some(&s), &s, Written::default()).is_empty());
    }

    fn operation(phase: OperationPhase, started: i64) -> lockstep_api::OperationState {
        lockstep_api::OperationState {
            phase,
            message: Some("done".into()),
            sync_result: Some(lockstep_api::SyncOperationResult {
                revision: "0123456789abcdef".into(),
                source: Default::default(),
                sources: vec![],
                revisions: vec![],
                hooks: vec![],
            }),
            started_at: Time(Timestamp::from_second(started).unwrap()),
            finished_at: None,
            retry_count: 0,
            sync_request: None,
        }
    }

    fn reasons(events: &[EventSpec]) -> Vec<&str> {
        events.iter().map(|e| e.reason.as_str()).collect()
    }

    #[test]
    fn operations_health_and_source_transitions() {
        let mut before = status("False", "SyncInProgress", "waiting");
        before.operation_state = Some(operation(OperationPhase::Running, 10));
        let mut after = before.clone();
        assert!(events_for(Some(&before), &after, Written::default()).is_empty());
        after.operation_state = Some(operation(OperationPhase::Failed, 10));
        after.health.status = HealthStatusCode::Degraded;
        let events = events_for(Some(&before), &after, Written::default());
        assert_eq!(reasons(&events), ["SyncFailed", "HealthChanged"]);
        assert!(events.iter().all(|e| e.warning));
        assert!(events[1].note.contains("from Unknown to Degraded"), "{}", events[1].note);
        let mut next = after.clone();
        next.operation_state = Some(operation(OperationPhase::Succeeded, 20));
        assert_eq!(reasons(&events_for(Some(&after), &next, Written::default())), ["SyncStarted", "SyncSucceeded"]);
        let mut down = next.clone();
        down.conditions.push(Condition {
            type_: SOURCE_AVAILABLE.into(),
            status: "False".into(),
            reason: "SourceUnavailable".into(),
            message: "git.example.com does not answer".into(),
            last_transition_time: Time(Timestamp::UNIX_EPOCH),
            observed_generation: None,
        });
        assert_eq!(reasons(&events_for(Some(&next), &down, Written::default())), ["SourceUnavailable"]);
        assert_eq!(reasons(&events_for(Some(&down), &next, Written::default())), ["SourceRecovered"]);
    }

    #[test]
    fn writes_and_transitions_are_published() {
        let before = status("True", "Succeeded", "ok");
        let after = status("False", "RenderFailed", "a.yaml:1: bad");
        let events = events_for(Some(&before), &after, Written { created: 1, updated: 2, pruned: 0 });
        assert_eq!(events.len(), 2);
        assert_eq!((events[0].reason.as_str(), events[0].warning), ("Applied", false));
        assert!(events[0].note.contains("3 objects"));
        assert_eq!((events[1].reason.as_str(), events[1].warning), ("RenderFailed", true));
        assert_eq!(events[1].note, "a.yaml:1: bad");
    }

    fn drifted(count: usize) -> ApplicationStatus {
        let mut s = status("True", "Succeeded", "ok");
        s.conditions.push(Condition {
            type_: DRIFTED.into(),
            status: "True".into(),
            reason: "DriftDetected".into(),
            message: format!("{count} objects differ from git and are kept so (drift: warn): ConfigMap ns/a"),
            last_transition_time: Time(Timestamp::UNIX_EPOCH),
            observed_generation: None,
        });
        s
    }

    #[test]
    fn drift_detected_is_a_warning_when_more_objects_are_kept_drifted() {
        let clean = status("True", "Succeeded", "ok");
        let events = events_for(Some(&clean), &drifted(1), Written::default());
        assert_eq!(reasons(&events), ["DriftDetected"]);
        assert!(events[0].warning && events[0].note.contains("ConfigMap ns/a"), "{:?}", events[0]);
        assert!(reasons(&events_for(None, &drifted(2), Written::default())).contains(&"DriftDetected"));
        assert_eq!(reasons(&events_for(Some(&drifted(1)), &drifted(3), Written::default())), ["DriftDetected"]);
        assert!(events_for(Some(&drifted(3)), &drifted(3), Written::default()).is_empty(), "unchanged: no repeat");
        assert!(events_for(Some(&drifted(3)), &drifted(1), Written::default()).is_empty(), "fewer: no warning");
        assert!(events_for(Some(&drifted(1)), &clean, Written::default()).is_empty());
    }
}
