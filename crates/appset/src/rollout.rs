//! `RollingSync`: which Applications the set syncs now, step by step, and where each stands; pure.
//!
//! Generated Applications of a rolling set carry no automated sync policy (as in Argo CD); the set
//! asks each for one sync when its step comes (`lockstep.dev/sync-request`). An Application is
//! `Healthy` once Synced and Healthy, `Progressing` from the set's request until then, and
//! `Waiting` otherwise. The current step is the first with an Application that is not Healthy; of
//! its `Waiting` Applications, as many are synced as `maxUpdate` leaves room for. Later steps wait.
//! The pass that sees the last Application of a step turn Healthy starts the next, so the rollout
//! moves on the Applications' own status events, with no polling.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use lockstep_api::{Application, ApplicationSetApplicationStatus, HealthStatusCode, RollingSyncStep, SyncStatusCode};

use crate::selector;

/// The rollout states, as Argo names them.
pub const WAITING: &str = "Waiting";
/// Synced by the rollout, not yet Healthy.
pub const PROGRESSING: &str = "Progressing";
/// Synced and Healthy.
pub const HEALTHY: &str = "Healthy";

/// What the rollout does this pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rollout {
    /// Applications to ask for a sync now.
    pub sync: Vec<String>,
    /// Every owned Application's place in the rollout, in name order.
    pub statuses: Vec<ApplicationSetApplicationStatus>,
}

/// The step (from 1) the Application's labels select, if any.
fn step_of(steps: &[RollingSyncStep], app: &Application) -> Option<usize> {
    steps
        .iter()
        .position(|step| {
            let selector = k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                match_expressions: Some(step.match_expressions.clone()),
                match_labels: None,
            };
            selector::matches(&selector, app.labels()).unwrap_or(false)
        })
        .map(|index| index + 1)
}

/// How many Applications of a step of `size` may be in progress at once.
fn max_update(step: &RollingSyncStep, size: usize) -> usize {
    match &step.max_update {
        None => size,
        Some(IntOrString::Int(n)) => (*n).max(1) as usize,
        Some(IntOrString::String(text)) => match text.strip_suffix('%').and_then(|p| p.trim().parse::<usize>().ok()) {
            Some(percent) => (size * percent / 100).max(1),
            None => text.trim().parse::<usize>().map_or(size, |n| n.max(1)),
        },
    }
}

fn is_healthy(app: &Application) -> bool {
    app.status
        .as_ref()
        .is_some_and(|s| s.sync.status == SyncStatusCode::Synced && s.health.status == HealthStatusCode::Healthy)
}

/// The rollout over `apps` (the set's owned Applications), continuing from `previous`.
pub fn rollout(
    steps: &[RollingSyncStep],
    apps: &[Arc<Application>],
    previous: &[ApplicationSetApplicationStatus],
    now: &Time,
) -> Rollout {
    let before: BTreeMap<&str, &ApplicationSetApplicationStatus> =
        previous.iter().map(|s| (s.application.as_str(), s)).collect();
    let mut apps: Vec<&Arc<Application>> = apps.iter().collect();
    apps.sort_by_key(|app| app.name_any());
    // Each Application's step and state before this pass's decisions.
    let mut entries: Vec<(String, Option<usize>, &'static str)> = apps
        .iter()
        .map(|app| {
            let name = app.name_any();
            let was = before.get(name.as_str()).map(|s| s.status.as_str());
            let state = if is_healthy(app) {
                HEALTHY
            } else if was == Some(PROGRESSING) {
                PROGRESSING
            } else {
                WAITING
            };
            (name, step_of(steps, app), state)
        })
        .collect();
    let current =
        entries.iter().filter(|(_, step, state)| step.is_some() && *state != HEALTHY).filter_map(|e| e.1).min();
    let mut sync = Vec::new();
    if let Some(current) = current {
        let size = entries.iter().filter(|e| e.1 == Some(current)).count();
        let room = max_update(&steps[current - 1], size)
            .saturating_sub(entries.iter().filter(|e| e.1 == Some(current) && e.2 == PROGRESSING).count());
        for entry in entries.iter_mut().filter(|e| e.1 == Some(current) && e.2 == WAITING).take(room) {
            entry.2 = PROGRESSING;
            sync.push(entry.0.clone());
        }
    }
    let statuses = entries
        .into_iter()
        .map(|(name, step, state)| {
            let message = match (step, state) {
                (None, _) => "no step of the rollout selects this Application; it is not synced".to_string(),
                (Some(_), HEALTHY) => "Synced and Healthy".to_string(),
                (Some(_), PROGRESSING) if sync.contains(&name) => "sync requested by the rollout".to_string(),
                (Some(_), PROGRESSING) => "synced by the rollout; waiting for it to be Healthy".to_string(),
                (Some(step), _) if current.is_some_and(|c| step > c) => {
                    format!("waiting for step {} to be Healthy", current.unwrap_or(step))
                }
                (Some(_), _) => "waiting for room in its step (maxUpdate)".to_string(),
            };
            let previous = before.get(name.as_str());
            let since = previous
                .filter(|p| p.status == state)
                .and_then(|p| p.last_transition_time.clone())
                .unwrap_or_else(|| now.clone());
            ApplicationSetApplicationStatus {
                application: name,
                status: state.to_string(),
                step: step.map(|s| s.to_string()).unwrap_or_default(),
                message,
                last_transition_time: Some(since),
            }
        })
        .collect();
    Rollout { sync, statuses }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use kube::api::ObjectMeta;
    use lockstep_api::{ApplicationStatus, HealthStatus, SyncStatus};

    fn step(zone: &str, max_update: Option<IntOrString>) -> RollingSyncStep {
        RollingSyncStep {
            match_expressions: vec![LabelSelectorRequirement {
                key: "zone".into(),
                operator: "In".into(),
                values: Some(vec![zone.into()]),
            }],
            max_update,
        }
    }

    fn app(name: &str, zone: &str, sync: SyncStatusCode, health: HealthStatusCode) -> Arc<Application> {
        Arc::new(Application {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some([("zone".to_string(), zone.to_string())].into()),
                ..Default::default()
            },
            spec: Default::default(),
            status: Some(ApplicationStatus {
                sync: SyncStatus { status: sync, ..Default::default() },
                health: HealthStatus { status: health, message: None },
                ..Default::default()
            }),
        })
    }

    fn time(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).unwrap())
    }

    fn states(rollout: &Rollout) -> Vec<(&str, &str)> {
        rollout.statuses.iter().map(|s| (s.application.as_str(), s.status.as_str())).collect()
    }

    use HealthStatusCode::{Healthy, Progressing};
    use SyncStatusCode::{OutOfSync, Synced};

    #[test]
    fn the_first_step_syncs_and_the_second_waits_until_it_is_healthy() {
        let steps = [step("ccr", None), step("513", None)];
        let out_of_sync = [
            app("ccr-a", "ccr", OutOfSync, Healthy),
            app("ccr-b", "ccr", OutOfSync, Healthy),
            app("z513-a", "513", OutOfSync, Healthy),
        ];
        let first = rollout(&steps, &out_of_sync, &[], &time(1));
        assert_eq!(first.sync, ["ccr-a", "ccr-b"]);
        assert_eq!(states(&first), [("ccr-a", PROGRESSING), ("ccr-b", PROGRESSING), ("z513-a", WAITING)]);
        assert_eq!(first.statuses[2].message, "waiting for step 1 to be Healthy");

        let one_done = [
            app("ccr-a", "ccr", Synced, Healthy),
            app("ccr-b", "ccr", Synced, Progressing),
            app("z513-a", "513", OutOfSync, Healthy),
        ];
        let second = rollout(&steps, &one_done, &first.statuses, &time(2));
        assert!(second.sync.is_empty(), "step 2 waits while step 1 is Progressing");
        assert_eq!(states(&second), [("ccr-a", HEALTHY), ("ccr-b", PROGRESSING), ("z513-a", WAITING)]);
        assert_eq!(second.statuses[1].last_transition_time, Some(time(1)), "still Progressing since 1");

        let step_one_done = [
            app("ccr-a", "ccr", Synced, Healthy),
            app("ccr-b", "ccr", Synced, Healthy),
            app("z513-a", "513", OutOfSync, Healthy),
        ];
        let third = rollout(&steps, &step_one_done, &second.statuses, &time(3));
        assert_eq!(third.sync, ["z513-a"]);
        let again = rollout(&steps, &step_one_done, &third.statuses, &time(4));
        assert!(again.sync.is_empty(), "a requested sync is not asked for twice");
    }

    #[test]
    fn max_update_limits_a_step_and_unselected_applications_are_left_alone() {
        let steps = [step("ccr", Some(IntOrString::String("50%".into())))];
        let apps = [
            app("a", "ccr", OutOfSync, Healthy),
            app("b", "ccr", OutOfSync, Healthy),
            app("c", "ccr", OutOfSync, Healthy),
            app("d", "ccr", OutOfSync, Healthy),
            app("x", "gpu", OutOfSync, Healthy),
        ];
        let first = rollout(&steps, &apps, &[], &time(1));
        assert_eq!(first.sync, ["a", "b"]);
        assert_eq!(first.statuses[2].message, "waiting for room in its step (maxUpdate)");
        assert_eq!((first.statuses[4].step.as_str(), first.statuses[4].status.as_str()), ("", WAITING));
        let next = rollout(&steps, &apps, &first.statuses, &time(2));
        assert!(next.sync.is_empty(), "two are still in progress");
        assert_eq!(max_update(&step("z", Some(IntOrString::Int(0))), 4), 1);
        assert_eq!(max_update(&step("z", Some(IntOrString::String("10%".into()))), 4), 1);
    }
}
