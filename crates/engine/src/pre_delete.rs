//! PreDelete hooks: run when an Application is deleted with its resources finalizer, before any of
//! its objects goes; never in a sync ([`crate::steps::SyncOrder`] leaves them out). Which hooks,
//! in which waves, and where they stand are pure ([`pre_delete_waves`], [`pre_delete_progress`]);
//! [`Engine::run_pre_delete_hooks`] creates each hook once per deletion and reads it back.

use std::collections::BTreeMap;

use lockstep_render::Manifest;
use serde_json::Value;

use crate::annotations::wave;
use crate::engine::Engine;
use crate::hook_run::{background, hook_status};
use crate::hooks::{HookRole, Phase, delete_policy, role};
use crate::key::ResourceKey;
use crate::order::{kind_rank, stage};
use crate::plan::{HookRun, HookStatus};
use crate::tracking::AppRef;

/// Where the PreDelete hooks of a deletion stand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PreDeleteProgress {
    /// Every hook succeeded (or there is none): the Application's objects may be deleted.
    Done,
    /// A hook still runs; what it is waiting for.
    Waiting(String),
    /// A hook failed or could not be created; the deletion waits. The message names the hook.
    Failed(String),
}

/// What running the PreDelete hooks needs from the Application being deleted.
#[derive(Clone, Debug)]
pub struct PreDeleteOptions {
    /// The Application deleted; hook objects are marked with its tracking id.
    pub app: AppRef,
    /// Namespace for namespaced hooks that name none.
    pub default_namespace: String,
    /// Identifies this deletion (the Application's uid): each hook object is created once per
    /// deletion and carries it, so a later pass follows the same object.
    pub deletion_id: String,
    /// Runs recorded by earlier passes of this deletion: a succeeded one is not run again.
    pub hooks_done: Vec<HookRun>,
}

/// The runs of one pass over the PreDelete hooks, and what they mean together.
#[derive(Clone, Debug, PartialEq)]
pub struct PreDeleteRun {
    /// Done, waiting or failed.
    pub progress: PreDeleteProgress,
    /// Each hook's run, in wave order; hooks of a wave after a waiting or failed one are absent.
    pub hooks: Vec<HookRun>,
}

/// The rendered objects that are PreDelete hooks (indexes), grouped by wave, lowest first, each
/// wave in apply order (Namespaces and CRDs first, then kubectl's kind order).
pub fn pre_delete_waves(objects: &[Value]) -> Vec<Vec<usize>> {
    let mut waves: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (index, object) in objects.iter().enumerate() {
        if matches!(role(object), HookRole::Hook(phases) if phases.contains(&Phase::PreDelete)) {
            waves.entry(wave(object)).or_default().push(index);
        }
    }
    waves
        .into_values()
        .map(|mut items| {
            items.sort_by_key(|i| {
                let kind = objects[*i]["kind"].as_str().unwrap_or_default();
                (stage(kind), kind_rank(kind))
            });
            items
        })
        .collect()
}

/// The run an earlier pass recorded for `key`, if it succeeded: such a hook is not run again.
/// Failed and running ones are looked at again (a failed hook deleted by hand runs anew).
pub fn succeeded_before<'a>(key: &ResourceKey, done: &'a [HookRun]) -> Option<&'a HookRun> {
    done.iter().find(|r| r.key == *key && r.phase == Phase::PreDelete && r.status == HookStatus::Succeeded)
}

/// Where the hooks stand together: a failed one fails them (named, with its message), a running one
/// holds them, otherwise they are done.
pub fn pre_delete_progress(runs: &[HookRun]) -> PreDeleteProgress {
    if let Some(failed) = runs.iter().find(|r| r.status == HookStatus::Failed) {
        let why = failed.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
        return PreDeleteProgress::Failed(format!("PreDelete hook {} failed{why}", failed.key));
    }
    if let Some(running) = runs.iter().find(|r| r.status == HookStatus::Running) {
        let why = running.message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default();
        return PreDeleteProgress::Waiting(format!("waiting for PreDelete hook {} to finish{why}", running.key));
    }
    PreDeleteProgress::Done
}

/// The hook-operation marker of this deletion's hook objects.
fn marker(deletion_id: &str) -> String {
    format!("{deletion_id}/{:?}", Phase::PreDelete)
}

impl Engine {
    /// Runs (or follows) the PreDelete hooks among `manifests`, wave by wave: each wave must
    /// succeed before the next is created. A failed hook is kept for inspection unless its
    /// delete policy has `HookFailed`; succeeded ones are left for the caller to delete with the
    /// Application's objects (they are this pass's memory of what already ran).
    pub async fn run_pre_delete_hooks(&self, manifests: &[Manifest], options: &PreDeleteOptions) -> PreDeleteRun {
        let objects: Vec<Value> = manifests.iter().map(|m| m.object.clone()).collect();
        let mut hooks = Vec::new();
        for wave in pre_delete_waves(&objects) {
            for index in wave {
                hooks.push(self.run_pre_delete_hook(&manifests[index], options).await);
            }
            if pre_delete_progress(&hooks) != PreDeleteProgress::Done {
                break;
            }
        }
        PreDeleteRun { progress: pre_delete_progress(&hooks), hooks }
    }

    async fn run_pre_delete_hook(&self, manifest: &Manifest, options: &PreDeleteOptions) -> HookRun {
        let failed = |key: ResourceKey, message: String| HookRun {
            key,
            phase: Phase::PreDelete,
            status: HookStatus::Failed,
            message: Some(message),
        };
        let target = match self.prepare_for(manifest, &options.app, &options.default_namespace).await {
            Ok(target) => target,
            Err((key, error)) => return failed(key, error.message),
        };
        if let Some(done) = succeeded_before(&target.key, &options.hooks_done) {
            return done.clone();
        }
        let api = self.api_for(&target.key, &target.kind);
        let live = match self.current_run(&api, &target, &marker(&options.deletion_id)).await {
            Ok(live) => live,
            Err(message) => return failed(target.key, message),
        };
        let health = lockstep_health::assess(&live);
        let status = hook_status(health.status);
        if status == HookStatus::Failed && delete_policy(&target.object).on_failure {
            let _ = api.delete(&target.key.name, &background()).await;
        }
        HookRun { key: target.key, phase: Phase::PreDelete, status, message: health.message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(kind: &str, name: &str, annotations: Value) -> Value {
        json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "annotations": annotations}})
    }

    fn run(name: &str, status: HookStatus, message: Option<&str>) -> HookRun {
        let key = ResourceKey {
            group: "batch".into(),
            version: "v1".into(),
            kind: "Job".into(),
            name: name.into(),
            ..Default::default()
        };
        HookRun { key, phase: Phase::PreDelete, status, message: message.map(String::from) }
    }

    #[test]
    fn only_pre_delete_hooks_run_by_wave_then_kind() {
        let objects = vec![
            obj("ConfigMap", "app", json!({})),
            obj("Job", "backup", json!({"argocd.argoproj.io/hook": "PreDelete"})),
            obj("Job", "migrate", json!({"argocd.argoproj.io/hook": "PreSync"})),
            obj("ConfigMap", "first", json!({"lockstep.dev/hook": "PreDelete", "lockstep.dev/sync-wave": "-1"})),
            obj("ServiceAccount", "runner", json!({"argocd.argoproj.io/hook": "PreSync,PreDelete"})),
            obj("Job", "skipped", json!({"argocd.argoproj.io/hook": "Skip"})),
        ];
        assert_eq!(pre_delete_waves(&objects), vec![vec![3], vec![4, 1]]);
        assert!(pre_delete_waves(&objects[..1]).is_empty());
    }

    #[test]
    fn only_a_succeeded_run_is_remembered() {
        let done = [run("a", HookStatus::Succeeded, None), run("b", HookStatus::Failed, Some("BackoffLimitExceeded"))];
        assert_eq!(succeeded_before(&done[0].key, &done), Some(&done[0]));
        assert_eq!(succeeded_before(&done[1].key, &done), None, "a failed hook is looked at again");
        let mut presync = done[0].clone();
        presync.phase = Phase::PreSync;
        assert_eq!(succeeded_before(&presync.key, std::slice::from_ref(&presync)), None, "another phase's run");
    }

    #[test]
    fn a_failed_hook_blocks_before_a_running_one_waits() {
        assert_eq!(pre_delete_progress(&[]), PreDeleteProgress::Done, "no hooks: nothing to wait for");
        assert_eq!(pre_delete_progress(&[run("a", HookStatus::Succeeded, None)]), PreDeleteProgress::Done);
        let running = run("a", HookStatus::Running, Some("Job has 1 active pod"));
        match pre_delete_progress(std::slice::from_ref(&running)) {
            PreDeleteProgress::Waiting(why) => {
                assert!(why.contains("Job a") && why.contains("1 active pod"), "{why}")
            }
            other => panic!("{other:?}"),
        }
        let failed = run("b", HookStatus::Failed, Some("BackoffLimitExceeded"));
        match pre_delete_progress(&[running, failed]) {
            PreDeleteProgress::Failed(why) => {
                assert_eq!(why, "PreDelete hook Job b failed: BackoffLimitExceeded")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_deletion_marks_its_own_hook_objects() {
        assert_eq!(marker("0b7c"), "0b7c/PreDelete");
    }
}
