//! Which Kubernetes Events a reconcile should publish: pure.
//!
//! Reasons (documented in docs/metrics.md): `SyncStarted`, `SyncSucceeded`, `SyncFailed`,
//! `Applied`, `HealthChanged`, `SourceUnavailable`, `SourceRecovered`, `DriftDetected`, and the
//! `Ready` condition's reason when no other Event of the pass already tells it.
//!
//! A successful first sync publishes one Event (`SyncSucceeded`, with what was applied), as Flux's
//! kustomize-controller publishes one change set: what a person reads in `kubectl describe`, not
//! every step. Health Events are kept for the changes that need a person: to Degraded or Missing,
//! and back from them; the way to Healthy through Progressing is the status's to show.

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
    /// A sync operation began and did not end in the same pass (waves, hooks).
    pub const SYNC_STARTED: &str = "SyncStarted";
    /// A sync operation ended with every object synced.
    pub const SYNC_SUCCEEDED: &str = "SyncSucceeded";
    /// A sync operation ended in failure or error.
    pub const SYNC_FAILED: &str = "SyncFailed";
    /// Objects were written by a pass that ended no operation (a wave of a running one, a heal).
    pub const APPLIED: &str = "Applied";
    /// The aggregate health turned Degraded or Missing, or left them.
    pub const HEALTH_CHANGED: &str = "HealthChanged";
    /// Every URL of the repository fails; the last good revision is served from the cache.
    pub const SOURCE_UNAVAILABLE: &str = "SourceUnavailable";
    /// The repository answers again.
    pub const SOURCE_RECOVERED: &str = "SourceRecovered";
    /// More objects than before differ from git and are kept so (drift mode `warn`).
    pub const DRIFT_DETECTED: &str = lockstep_api::conditions::DRIFT_DETECTED;
}

/// Events for the change from `previous` to `next`: the end of a sync operation (carrying what the
/// pass wrote), its start when it does not end in the same pass, `Applied` for writes no operation
/// end reports, health changes that matter ([`health_change_matters`]), the source becoming
/// unavailable or recovering, more objects kept drifted, and a `Ready` condition change no other
/// Event tells. Unchanged reconciles publish nothing, so repeats cannot flood.
pub fn events_for(previous: Option<&ApplicationStatus>, next: &ApplicationStatus, written: Written) -> Vec<EventSpec> {
    let applied = written.any().then(|| applied_summary(written));
    let mut events = operation_events(previous, next, applied.as_deref());
    let reported = events.iter().any(|e| e.reason != event_reason::SYNC_STARTED);
    events.extend(health_event(previous, next));
    events.extend(source_event(previous, next));
    events.extend(drift_event(previous, next));
    if let Some(summary) = applied.filter(|_| !reported) {
        let revision = next.sync.revision.as_deref().map(short).unwrap_or("unknown revision");
        events.push(EventSpec {
            warning: false,
            reason: event_reason::APPLIED.into(),
            note: format!("{summary} at {revision}"),
        });
    }
    let ready = |s: &ApplicationStatus| s.conditions.iter().find(|c| c.type_ == READY).cloned();
    if let Some(now) = ready(next) {
        let before = previous.and_then(ready);
        let same = before
            .as_ref()
            .is_some_and(|b| b.status == now.status && b.reason == now.reason && b.message == now.message);
        if !same && !told_by(&now.reason, before.as_ref().map(|b| b.reason.as_str()), &events) {
            events.push(EventSpec { warning: is_warning(&now.reason, next), reason: now.reason, note: now.message });
        }
    }
    events
}

/// What a pass wrote, for people: "Applied 4 objects (4 created, 0 updated, 0 pruned)".
fn applied_summary(written: Written) -> String {
    let Written { created, updated, pruned } = written;
    format!("Applied {} objects ({created} created, {updated} updated, {pruned} pruned)", created + updated + pruned)
}

/// Pure: whether the `Ready` condition's new reason `now` (after `before`) is already told by
/// `events` of the same pass, or is progress the status alone shows. `NotHealthy` is told by the
/// health Events when it matters; `Succeeded` is published only on recovery from a failure that
/// no sync or health Event of the pass reports; any other reason once, whoever publishes it.
pub fn told_by(now: &str, before: Option<&str>, events: &[EventSpec]) -> bool {
    let published = |reason: &str| events.iter().any(|e| e.reason == reason);
    match now {
        reason::NOT_HEALTHY => true,
        reason::SUCCEEDED => {
            let recovery = before.is_some_and(|b| {
                !matches!(b, reason::SUCCEEDED | reason::NOT_HEALTHY | reason::SYNC_IN_PROGRESS | reason::OUT_OF_SYNC)
            });
            !recovery || published(event_reason::SYNC_SUCCEEDED) || published(event_reason::HEALTH_CHANGED)
        }
        reason::SYNC_IN_PROGRESS => published(event_reason::SYNC_STARTED),
        other => published(other),
    }
}

/// `SyncSucceeded`/`SyncFailed` when an operation ends (with `applied`, what this pass wrote);
/// `SyncStarted` for an operation not seen before that is still running.
fn operation_events(
    previous: Option<&ApplicationStatus>,
    next: &ApplicationStatus,
    applied: Option<&str>,
) -> Vec<EventSpec> {
    let Some(op) = next.operation_state.as_ref() else { return Vec::new() };
    let before = previous.and_then(|p| p.operation_state.as_ref());
    let new_operation = before.is_none_or(|b| b.started_at != op.started_at || b.sync_request != op.sync_request);
    let revision =
        op.sync_result.as_ref().map(|r| short(&r.revision).to_string()).unwrap_or_else(|| "unknown revision".into());
    let ended_now = new_operation || before.is_some_and(|b| b.phase != op.phase);
    let message = op.message.clone().unwrap_or_default();
    let applied = applied.map(|a| format!(". {a}")).unwrap_or_default();
    let event = match op.phase {
        OperationPhase::Succeeded if ended_now => EventSpec {
            warning: false,
            reason: event_reason::SYNC_SUCCEEDED.into(),
            note: format!("Sync of {revision} succeeded: {message}{applied}"),
        },
        OperationPhase::Failed | OperationPhase::Error if ended_now => EventSpec {
            warning: true,
            reason: event_reason::SYNC_FAILED.into(),
            note: format!("Sync of {revision} failed: {message}{applied}"),
        },
        OperationPhase::Running if new_operation => EventSpec {
            warning: false,
            reason: event_reason::SYNC_STARTED.into(),
            note: format!("Sync of {revision} started"),
        },
        _ => return Vec::new(),
    };
    vec![event]
}

/// Pure: whether a move of the aggregate health from `before` to `now` is worth an Event: to
/// Degraded or Missing, or away from them. Progressing, Suspended and reaching Healthy from them
/// are the status's to show.
pub fn health_change_matters(before: HealthStatusCode, now: HealthStatusCode) -> bool {
    let needs_a_person = |h| matches!(h, HealthStatusCode::Degraded | HealthStatusCode::Missing);
    before != now && (needs_a_person(now) || needs_a_person(before))
}

/// `HealthChanged` when the aggregate health moves in a way that matters ([`health_change_matters`]).
fn health_event(previous: Option<&ApplicationStatus>, next: &ApplicationStatus) -> Option<EventSpec> {
    let before = previous.map_or(HealthStatusCode::Unknown, |p| p.health.status);
    let now = next.health.status;
    if !health_change_matters(before, now) {
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
        assert_eq!(reasons(&events_for(Some(&after), &next, Written::default())), ["SyncSucceeded"]);
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

    /// The statuses of a first sync of a Deployment: written (Progressing), then Healthy.
    fn first_sync() -> (ApplicationStatus, ApplicationStatus) {
        let mut synced = status("False", "NotHealthy", "Deployment web is Progressing");
        synced.operation_state = Some(operation(OperationPhase::Succeeded, 10));
        synced.health.status = HealthStatusCode::Progressing;
        let mut healthy = synced.clone();
        healthy.conditions = status("True", "Succeeded", "ok").conditions;
        healthy.health.status = HealthStatusCode::Healthy;
        (synced, healthy)
    }

    #[test]
    fn a_first_sync_publishes_one_event_carrying_what_it_applied() {
        let (synced, healthy) = first_sync();
        let events = events_for(None, &synced, Written { created: 4, updated: 0, pruned: 0 });
        assert_eq!(reasons(&events), ["SyncSucceeded"]);
        assert!(events[0].note.contains("Applied 4 objects (4 created, 0 updated, 0 pruned)"), "{}", events[0].note);
        assert!(events_for(Some(&synced), &healthy, Written::default()).is_empty(), "reaching Healthy is the status's");
    }

    #[test]
    fn a_running_sync_is_announced_and_its_writes_counted_until_it_ends() {
        let mut running = status("False", "SyncInProgress", "waiting for wave 1");
        running.operation_state = Some(operation(OperationPhase::Running, 10));
        let written = Written { created: 2, updated: 0, pruned: 0 };
        assert_eq!(reasons(&events_for(None, &running, written)), ["SyncStarted", "Applied"]);
        let mut wave = running.clone();
        wave.conditions = status("False", "SyncInProgress", "waiting for wave 2").conditions;
        let events = events_for(Some(&running), &wave, written);
        assert_eq!(reasons(&events), ["Applied", "SyncInProgress"], "a new wait is told once");
        let mut done = wave.clone();
        done.conditions = status("True", "Succeeded", "ok").conditions;
        done.operation_state = Some(operation(OperationPhase::Succeeded, 10));
        assert_eq!(reasons(&events_for(Some(&wave), &done, written)), ["SyncSucceeded"]);
    }

    #[test]
    fn health_events_are_for_what_needs_a_person() {
        use HealthStatusCode::{Degraded, Healthy, Missing, Progressing, Suspended, Unknown};
        for (before, now) in [(Healthy, Degraded), (Progressing, Degraded), (Degraded, Healthy), (Healthy, Missing)] {
            assert!(health_change_matters(before, now), "{before:?} -> {now:?}");
        }
        assert!(health_change_matters(Missing, Progressing), "recovery from Missing");
        for (before, now) in
            [(Unknown, Progressing), (Progressing, Healthy), (Healthy, Progressing), (Healthy, Suspended)]
        {
            assert!(!health_change_matters(before, now), "{before:?} -> {now:?}");
        }
        assert!(!health_change_matters(Degraded, Degraded));
    }

    #[test]
    fn succeeded_is_published_on_recovery_from_a_failure_only() {
        assert!(!told_by("Succeeded", Some("RenderFailed"), &[]));
        assert!(told_by("Succeeded", Some("NotHealthy"), &[]), "health reached: the status shows it");
        assert!(told_by("Succeeded", None, &[]), "a first sync: its SyncSucceeded tells it");
        let synced = EventSpec { warning: false, reason: "SyncSucceeded".into(), note: String::new() };
        assert!(told_by("Succeeded", Some("SyncFailed"), std::slice::from_ref(&synced)));
        assert!(told_by("NotHealthy", Some("Succeeded"), &[]));
        assert!(!told_by("RenderFailed", Some("Succeeded"), &[]));
        let before = status("False", "RenderFailed", "a.yaml:1: bad");
        let fixed = status("True", "Succeeded", "ok");
        assert_eq!(reasons(&events_for(Some(&before), &fixed, Written::default())), ["Succeeded"]);
    }
}
