//! Running hooks: each hook object is created once per sync operation and followed to completion.

use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PropagationPolicy};
use lockstep_api::{FIELD_MANAGER, HealthStatusCode};
use serde_json::Value;

use crate::annotations::{HOOK_OPERATION, annotation};
use crate::engine::{Engine, SyncOptions, Target};
use crate::gates::hooks_progress;
use crate::hooks::{Phase, delete_policy};
use crate::key::ResourceKey;
use crate::plan::{HookRun, HookStatus, Progress, SyncResult};
use crate::sync_plan::{Origin, PlannedObject, PlannedStep};

/// How long a previous run's hook object may take to disappear before it is replaced.
const DELETE_TIMEOUT: Duration = Duration::from_secs(30);

impl Engine {
    /// Runs (or follows) the hooks of one step and records them; a running or failed hook holds the
    /// operation at this step.
    pub(crate) async fn run_hook_step(&self, step: &PlannedStep, options: &SyncOptions, result: &mut SyncResult) {
        let mut runs = Vec::with_capacity(step.objects.len());
        for planned in &step.objects {
            runs.push(self.run_hook(planned, step.phase, options, &result.hooks).await);
        }
        for run in &runs {
            match result.hooks.iter_mut().find(|h| h.key == run.key && h.phase == run.phase) {
                Some(existing) => *existing = run.clone(),
                None => result.hooks.push(run.clone()),
            }
        }
        let progress = hooks_progress(step.phase, &runs);
        if step.phase != Phase::SyncFail && result.progress == Progress::Complete {
            result.progress = progress;
        }
    }

    async fn run_hook(
        &self,
        planned: &PlannedObject,
        phase: Phase,
        options: &SyncOptions,
        done: &[HookRun],
    ) -> HookRun {
        let target = match &planned.origin {
            Origin::Hook { target: Some(target), .. } => target,
            _ => {
                let why = planned.error().map_or_else(|| planned.reason.clone(), |e| e.message.clone());
                return failed(planned.key.clone(), phase, why);
            }
        };
        let finished = done.iter().find(|r| r.key == target.key && r.phase == phase && r.status != HookStatus::Running);
        if let Some(finished) = finished {
            return finished.clone();
        }
        let marker = format!("{}/{phase:?}", options.operation_id);
        let api = self.api_for(&target.key, &target.kind);
        let live = match self.current_run(&api, target, &marker).await {
            Ok(live) => live,
            Err(message) => return failed(target.key.clone(), phase, message),
        };
        let health = lockstep_health::assess(&live);
        let status = hook_status(health.status);
        let policy = delete_policy(&target.object);
        if (status == HookStatus::Succeeded && policy.on_success) || (status == HookStatus::Failed && policy.on_failure)
        {
            let _ = api.delete(&target.key.name, &background()).await;
        }
        HookRun { key: target.key.clone(), phase, status, message: health.message }
    }

    /// The hook object of this operation: the live one if this operation created it, else a new one
    /// (after deleting the previous run's).
    pub(crate) async fn current_run(
        &self,
        api: &Api<DynamicObject>,
        target: &Target,
        marker: &str,
    ) -> Result<Value, String> {
        let live = api.get_opt(&target.key.name).await.map_err(message)?;
        if let Some(live) = live.map(serde_json::to_value).transpose().map_err(|e| e.to_string())? {
            if annotation(&live, &[HOOK_OPERATION]) == Some(marker) {
                return Ok(live);
            }
            self.delete_and_wait(api, &target.key).await?;
        }
        let mut object = target.object.clone();
        if let Some(annotations) = object["metadata"]["annotations"].as_object_mut() {
            annotations.insert(HOOK_OPERATION.into(), Value::String(marker.into()));
        }
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let applied = api.patch(&target.key.name, &params, &Patch::Apply(&object)).await.map_err(message)?;
        serde_json::to_value(applied).map_err(|e| e.to_string())
    }

    async fn delete_and_wait(&self, api: &Api<DynamicObject>, key: &ResourceKey) -> Result<(), String> {
        match api.delete(&key.name, &background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
            Err(err) => return Err(message(err)),
        }
        let deadline = Instant::now() + DELETE_TIMEOUT;
        while api.get_opt(&key.name).await.map_err(message)?.is_some() {
            if Instant::now() > deadline {
                return Err(format!("previous run of {key} still exists after {}s", DELETE_TIMEOUT.as_secs()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }
}

/// Where a hook run stands from its object's health: a Job that completed or a Pod that succeeded
/// (or any other kind once Healthy) succeeded, a Degraded one failed, anything else still runs.
pub(crate) fn hook_status(health: HealthStatusCode) -> HookStatus {
    match health {
        HealthStatusCode::Healthy => HookStatus::Succeeded,
        HealthStatusCode::Degraded => HookStatus::Failed,
        _ => HookStatus::Running,
    }
}

/// The server's own words for a failed request, without the client's wrapping.
fn message(err: kube::Error) -> String {
    lockstep_api::kube_error::message(&err)
}

fn failed(key: ResourceKey, phase: Phase, message: String) -> HookRun {
    HookRun { key, phase, status: HookStatus::Failed, message: Some(message) }
}

pub(crate) fn background() -> DeleteParams {
    DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_succeeds_when_healthy_and_fails_when_degraded() {
        assert_eq!(hook_status(HealthStatusCode::Healthy), HookStatus::Succeeded);
        assert_eq!(hook_status(HealthStatusCode::Degraded), HookStatus::Failed);
        for running in [HealthStatusCode::Progressing, HealthStatusCode::Missing, HealthStatusCode::Unknown] {
            assert_eq!(hook_status(running), HookStatus::Running);
        }
    }
}
