//! Whether a sync operation may go past a step: pure, over the step's outcomes and hook runs.

use lockstep_api::HealthStatusCode;

use crate::error::{Fault, ObjectError};
use crate::hooks::Phase;
use crate::key::ResourceKey;
use crate::plan::{HookRun, HookStatus, Progress, ResourceResult};

/// After the resources of one step: failed objects fail the operation; at a `gate` (the end of a
/// wave), every object must be Healthy (Degraded fails, anything else waits).
pub fn step_progress(wave: i32, gate: bool, outcomes: &[ResourceResult]) -> Progress {
    let failed: Vec<(&ResourceKey, &ObjectError)> =
        outcomes.iter().filter_map(|r| r.error.as_ref().map(|e| (&r.key, e))).collect();
    if let Some(fault) = Fault::of_all(failed.iter().map(|(_, e)| e.fault)) {
        let message = failed.iter().map(|(key, e)| format!("{key}: {e}")).collect::<Vec<_>>().join("; ");
        return Progress::Failed(ObjectError { fault, message });
    }
    if !gate {
        return Progress::Complete;
    }
    let worst = outcomes
        .iter()
        .filter(|r| !r.live.as_ref().is_some_and(lockstep_health::ignored))
        .map(|r| {
            let status = r.health.as_ref().map_or(HealthStatusCode::Missing, |h| h.status);
            (status, r.key.to_string(), r.health.as_ref().and_then(|h| h.message.clone()))
        })
        .max_by_key(|(status, _, _)| *status);
    match worst {
        Some((HealthStatusCode::Degraded, key, message)) => Progress::Failed(ObjectError::refused(format!(
            "wave {wave}: {key} is Degraded{}",
            message.map(|m| format!(": {m}")).unwrap_or_default()
        ))),
        Some((status, key, _)) if status != HealthStatusCode::Healthy => {
            Progress::Waiting(format!("waiting for wave {wave} to be healthy: {key} is {status}"))
        }
        _ => Progress::Complete,
    }
}

/// After the hooks of one step: a failed hook fails the operation, a running one holds it.
pub fn hooks_progress(phase: Phase, runs: &[HookRun]) -> Progress {
    if let Some(failed) = runs.iter().find(|r| r.status == HookStatus::Failed) {
        let why = failed.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
        return Progress::Failed(ObjectError::refused(format!("{phase:?} hook {} failed{why}", failed.key)));
    }
    if let Some(running) = runs.iter().find(|r| r.status == HookStatus::Running) {
        return Progress::Waiting(format!("waiting for {phase:?} hook {} to finish", running.key));
    }
    Progress::Complete
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Observation};
    use serde_json::json;

    fn key(name: &str) -> ResourceKey {
        ResourceKey {
            group: "apps".into(),
            version: "v1".into(),
            kind: "Deployment".into(),
            name: name.into(),
            ..Default::default()
        }
    }

    fn deployment(name: &str, ready: bool) -> ResourceResult {
        let status = if ready {
            json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1, "readyReplicas": 1})
        } else {
            json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 0})
        };
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "generation": 1}, "spec": {"replicas": 1}, "status": status});
        ResourceResult::written(key(name), Action::Create, live)
    }

    #[test]
    fn a_gate_waits_for_every_object_to_be_healthy() {
        let healthy = [deployment("a", true)];
        assert_eq!(step_progress(0, true, &healthy), Progress::Complete);
        let progressing = [deployment("a", true), deployment("b", false)];
        match step_progress(3, true, &progressing) {
            Progress::Waiting(why) => {
                assert!(why.contains("wave 3") && why.contains("Deployment b is Progressing"), "{why}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(step_progress(3, false, &progressing), Progress::Complete, "no gate inside a wave");
    }

    #[test]
    fn a_failed_object_fails_the_step_with_its_fault() {
        let unavailable = ObjectError { fault: Fault::Unavailable, message: "503".into() };
        let failed = [deployment("a", true), ResourceResult::observed(key("b"), Observation::Rejected(unavailable))];
        match step_progress(0, false, &failed) {
            Progress::Failed(error) => {
                assert_eq!((error.fault, error.message.contains("Deployment b: 503")), (Fault::Unavailable, true))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hooks_fail_before_they_wait() {
        let run = |name: &str, status| HookRun { key: key(name), phase: Phase::PreSync, status, message: None };
        assert_eq!(hooks_progress(Phase::PreSync, &[run("a", HookStatus::Succeeded)]), Progress::Complete);
        let mixed = [run("a", HookStatus::Running), run("b", HookStatus::Failed)];
        assert!(matches!(hooks_progress(Phase::PreSync, &mixed), Progress::Failed(_)));
        assert!(matches!(hooks_progress(Phase::PreSync, &mixed[..1]), Progress::Waiting(_)));
    }
}
