//! PreDelete hooks of a deleted Application: before its resources finalizer deletes anything, the
//! deployed revision is fetched and rendered again and its PreDelete hooks run
//! ([`Engine::run_pre_delete_hooks`]); the deletion goes on only once every one has succeeded.
//!
//! Each pass's runs are written to `status.preDelete` before the finalizer goes on, so a restart
//! does not run a succeeded hook again; `Succeeded` there lets later passes skip the fetch. A
//! source that cannot be fetched or rendered, or a hook that fails, holds the deletion (and says
//! so on the Ready condition): the hooks are never skipped silently. Removing the finalizer by hand
//! deletes the Application without them (and leaves its objects).

use std::time::Duration;

use kube::ResourceExt;
use lockstep_api::{Application, ApplicationSpec, OperationPhase, PreDeleteStatus};
use lockstep_clusters::ClusterTarget;
use lockstep_engine::{AppRef, Engine, HookRun, PreDeleteOptions, PreDeleteProgress};
use lockstep_policy::project::Project;
use lockstep_policy::sync_policy::{hook_result, hook_run};
use tracing::{info, warn};

use crate::context::Context;
use crate::finalizer::{DELETING, Deletion, report};

/// Reason of the Ready condition while a PreDelete hook has failed and the deletion waits.
pub(crate) const PRE_DELETE_HOOK_FAILED: &str = "PreDeleteHookFailed";
/// How soon to look again while a hook runs (its object's changes trigger a pass sooner when its
/// kind is watched).
const WAITING: Duration = Duration::from_secs(2);
/// How soon to look again after the hooks' record was written, so the next pass reads it.
const RECORDED: Duration = Duration::from_secs(1);
/// How soon to look again after a hook failed: a failed hook object deleted meanwhile (by hand, or
/// by its `HookFailed` delete policy) runs anew.
const FAILED: Duration = Duration::from_secs(30);
/// How soon to try again when the revision's hooks cannot be known (fetch, render, project).
const UNKNOWN: Duration = Duration::from_secs(10);

/// Holds the deletion until the PreDelete hooks of the deployed revision have succeeded: `None`
/// when the finalizer may delete the Application's objects, else when to look again.
pub(crate) async fn hold_for_hooks(
    app: &Application,
    ctx: &Context,
    target: &ClusterTarget,
    project: &Project,
    engine: &Engine,
    namespace: &str,
) -> Option<Duration> {
    let recorded = app.status.as_ref().and_then(|s| s.pre_delete.as_ref());
    if recorded.is_some_and(|r| r.phase == OperationPhase::Succeeded) {
        return None;
    }
    let mut deployed = app.clone();
    deployed.spec = deployed_spec(app);
    let manifests = match hooks_of(&deployed, ctx, target, project, engine, namespace).await {
        Ok(manifests) => manifests,
        Err(why) => {
            let message = format!(
                "deleting the Application's objects: its PreDelete hooks cannot be run: {why}; \
                 retrying (remove the finalizer to delete the Application without them, leaving its objects)"
            );
            warn!(app = %app.name_any(), namespace = %app.namespace().unwrap_or_default(), %message);
            report(
                app,
                ctx,
                &Deletion { reason: DELETING, message: &message, warning: Some("DeletionFailed"), pre_delete: None },
            )
            .await;
            return Some(UNKNOWN);
        }
    };
    let options = PreDeleteOptions {
        app: AppRef { namespace: app.namespace().unwrap_or_default(), name: app.name_any() },
        default_namespace: namespace.to_string(),
        deletion_id: app.uid().unwrap_or_default(),
        hooks_done: recorded.map(|r| r.hooks.iter().map(hook_run).collect()).unwrap_or_default(),
    };
    if manifests.hooks.is_empty() && recorded.is_none() {
        // No PreDelete hooks: nothing to run or record, the deletion goes on at once.
        return None;
    }
    let run = engine.run_pre_delete_hooks(&manifests.hooks, &options).await;
    let record = record(&run.progress, &run.hooks, &manifests.revision);
    let verdict = verdict(&run.progress);
    if run.progress == PreDeleteProgress::Done && !run.hooks.is_empty() {
        let (name, namespace) = (app.name_any(), app.namespace().unwrap_or_default());
        info!(app = %name, %namespace, hooks = run.hooks.len(), "PreDelete hooks succeeded");
    }
    let deletion = Deletion {
        reason: verdict.reason,
        message: &verdict.message,
        warning: verdict.warning,
        pre_delete: Some(&record),
    };
    if !report(app, ctx, &deletion).await && run.progress == PreDeleteProgress::Done {
        // Nothing is deleted before the hooks' success is on record.
        return Some(UNKNOWN);
    }
    Some(verdict.look_again)
}

/// The PreDelete hooks of a revision and the revision they were rendered at.
struct Hooks {
    hooks: Vec<lockstep_render::Manifest>,
    revision: String,
}

/// The rendered objects of `deployed` that are PreDelete hooks, checked against the project;
/// why they cannot be known otherwise.
async fn hooks_of(
    deployed: &Application,
    ctx: &Context,
    target: &ClusterTarget,
    project: &Project,
    engine: &Engine,
    namespace: &str,
) -> Result<Hooks, String> {
    let targets: Vec<_> =
        deployed.spec.all_sources().iter().map(|s| s.target_revision.as_deref().unwrap_or("HEAD")).collect();
    let fetched = crate::fetch::fetch_all(deployed, ctx, None)
        .await
        .map_err(|e| format!("fetching {}: {e}", targets.join(",")))?;
    let rendered = crate::fetch::render_all(ctx, target, deployed, &fetched)
        .await
        .map_err(|e| format!("rendering {}: {e}", lockstep_policy::status::short(&fetched.revision)))?;
    let objects: Vec<_> = rendered.manifests.iter().map(|m| m.object.clone()).collect();
    let hooks: Vec<_> = lockstep_engine::pre_delete::pre_delete_waves(&objects)
        .into_iter()
        .flatten()
        .map(|i| rendered.manifests[i].clone())
        .collect();
    crate::projects::check_objects(project, &target.identity, engine, &hooks, namespace).await?;
    Ok(Hooks { hooks, revision: fetched.revision })
}

/// The spec with the sources the Application's objects were deployed from, each pinned to its
/// revision: the last sync operation's, else the spec's at the compared revision, else the spec as
/// it stands (nothing was ever compared).
pub(crate) fn deployed_spec(app: &Application) -> ApplicationSpec {
    let status = app.status.as_ref();
    let synced = status.and_then(|s| s.operation_state.as_ref()).and_then(|o| o.sync_result.as_ref());
    if let Some(synced) = synced {
        return lockstep_policy::multi_source::pinned(&app.spec, &synced.synced_sources(), &synced.revision);
    }
    match status.and_then(|s| s.sync.revision.as_deref()) {
        Some(revision) => lockstep_policy::multi_source::pinned(&app.spec, &[], revision),
        None => app.spec.clone(),
    }
}

/// What `status.preDelete` records after one pass.
pub(crate) fn record(progress: &PreDeleteProgress, hooks: &[HookRun], revision: &str) -> PreDeleteStatus {
    let (phase, message) = match progress {
        PreDeleteProgress::Done if hooks.is_empty() => (OperationPhase::Succeeded, "no PreDelete hooks".to_string()),
        PreDeleteProgress::Done => (OperationPhase::Succeeded, "every PreDelete hook succeeded".to_string()),
        PreDeleteProgress::Waiting(why) => (OperationPhase::Running, why.clone()),
        PreDeleteProgress::Failed(why) => (OperationPhase::Failed, why.clone()),
    };
    PreDeleteStatus {
        phase,
        message: Some(message),
        revision: (!revision.is_empty()).then(|| revision.to_string()),
        hooks: hooks.iter().map(hook_result).collect(),
    }
}

/// What the Application says after one pass over its PreDelete hooks, and when to look again.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// The Ready condition's reason.
    pub reason: &'static str,
    /// Its message.
    pub message: String,
    /// A Warning Event's reason, when the deletion is blocked.
    pub warning: Option<&'static str>,
    /// When to look again.
    pub look_again: Duration,
}

/// A failed hook blocks the deletion (and says which), a running one holds it briefly, and success
/// is recorded before the next pass deletes the objects.
pub(crate) fn verdict(progress: &PreDeleteProgress) -> Verdict {
    match progress {
        PreDeleteProgress::Done => Verdict {
            reason: DELETING,
            message: "deleting the Application's objects: the PreDelete hooks succeeded".into(),
            warning: None,
            look_again: RECORDED,
        },
        PreDeleteProgress::Waiting(why) => Verdict {
            reason: DELETING,
            message: format!("deleting the Application's objects: {why}"),
            warning: None,
            look_again: WAITING,
        },
        PreDeleteProgress::Failed(why) => Verdict {
            reason: PRE_DELETE_HOOK_FAILED,
            message: format!(
                "{why}; the Application's objects are not deleted (delete the hook object to run it again, \
                 or remove the finalizer to delete the Application without deleting its objects)"
            ),
            warning: Some(PRE_DELETE_HOOK_FAILED),
            look_again: FAILED,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::{ApplicationSource, OperationState, SyncOperationResult};
    use lockstep_engine::{HookStatus, Phase, ResourceKey};
    use serde_json::json;

    fn app(status: serde_json::Value) -> Application {
        serde_json::from_value(json!({
            "apiVersion": "lockstep.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"source": {"repoURL": "https://git.example/now", "targetRevision": "main", "path": "now"},
                     "destination": {"namespace": "web"}},
            "status": status,
        }))
        .unwrap()
    }

    fn job(status: HookStatus) -> HookRun {
        let key = ResourceKey {
            group: "batch".into(),
            version: "v1".into(),
            kind: "Job".into(),
            name: "backup".into(),
            namespace: Some("web".into()),
        };
        HookRun { key, phase: Phase::PreDelete, status, message: None }
    }

    #[test]
    fn the_deployed_revision_is_the_last_operations() {
        let mut synced = app(json!({"sync": {"status": "Synced", "revision": "c2"}}));
        let then = ApplicationSource { path: Some("then".into()), ..synced.spec.source.clone().unwrap() };
        let operation: OperationState = serde_json::from_value(json!({
            "phase": "Succeeded", "startedAt": "2026-01-01T00:00:00Z",
            "syncResult": {"revision": "c1", "source": then},
        }))
        .unwrap();
        assert!(matches!(operation.sync_result, Some(SyncOperationResult { .. })));
        synced.status.as_mut().unwrap().operation_state = Some(operation);
        let deployed = deployed_spec(&synced).source.unwrap();
        assert_eq!((deployed.target_revision.as_deref(), deployed.path.as_deref()), (Some("c1"), Some("then")));

        let compared = deployed_spec(&app(json!({"sync": {"status": "OutOfSync", "revision": "c2"}}))).source.unwrap();
        assert_eq!((compared.target_revision.as_deref(), compared.path.as_deref()), (Some("c2"), Some("now")));

        let never = deployed_spec(&app(json!({}))).source.unwrap();
        assert_eq!(never.target_revision.as_deref(), Some("main"), "nothing compared: the spec's target");
    }

    #[test]
    fn the_record_says_whether_the_objects_may_go() {
        let none = record(&PreDeleteProgress::Done, &[], "c1");
        assert_eq!(
            (none.phase, none.hooks.len(), none.revision.as_deref()),
            (OperationPhase::Succeeded, 0, Some("c1"))
        );
        let done = record(&PreDeleteProgress::Done, &[job(HookStatus::Succeeded)], "c1");
        assert_eq!(done.phase, OperationPhase::Succeeded);
        assert_eq!(hook_run(&done.hooks[0]), job(HookStatus::Succeeded), "recorded runs read back as they ran");
        let running = record(&PreDeleteProgress::Waiting("waiting".into()), &[job(HookStatus::Running)], "");
        assert_eq!((running.phase, running.revision), (OperationPhase::Running, None));
        let failed = record(
            &PreDeleteProgress::Failed("PreDelete hook Job web/backup failed".into()),
            &[job(HookStatus::Failed)],
            "c1",
        );
        assert_eq!(failed.phase, OperationPhase::Failed);
    }

    #[test]
    fn a_failed_hook_blocks_and_warns_a_running_one_holds() {
        let failed =
            verdict(&PreDeleteProgress::Failed("PreDelete hook Job web/backup failed: BackoffLimitExceeded".into()));
        assert_eq!(
            (failed.reason, failed.warning, failed.look_again),
            (PRE_DELETE_HOOK_FAILED, Some(PRE_DELETE_HOOK_FAILED), FAILED)
        );
        assert!(
            failed.message.starts_with("PreDelete hook Job web/backup failed")
                && failed.message.contains("not deleted"),
            "{}",
            failed.message
        );
        let waiting =
            verdict(&PreDeleteProgress::Waiting("waiting for PreDelete hook Job web/backup to finish".into()));
        assert_eq!((waiting.reason, waiting.warning, waiting.look_again), (DELETING, None, WAITING));
        assert!(waiting.message.contains("Job web/backup"));
        let done = verdict(&PreDeleteProgress::Done);
        assert_eq!((done.reason, done.warning, done.look_again), (DELETING, None, RECORDED));
    }
}
