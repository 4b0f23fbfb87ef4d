//! Which Kubernetes Events a reconcile should publish: pure.

use lockstep_api::ApplicationStatus;
use lockstep_api::conditions::{READY, reason};

use crate::status::short;
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

/// Events for the change from `previous` to `next`: one when objects were written, and one when the
/// Ready condition changed. Unchanged reconciles publish nothing, so repeats cannot flood.
pub fn events_for(previous: Option<&ApplicationStatus>, next: &ApplicationStatus, written: Written) -> Vec<EventSpec> {
    let mut events = Vec::new();
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
        if !same {
            events.push(EventSpec { warning: is_warning(&now.reason, next), reason: now.reason, note: now.message });
        }
    }
    events
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
}
