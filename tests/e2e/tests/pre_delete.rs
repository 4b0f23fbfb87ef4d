//! PreDelete hooks end to end: never part of a sync; when an Application with the resources
//! finalizer is deleted they run first, and a failing one keeps everything in place. Runs on
//! kwok's simulated nodes (a Job's Pod completes, or fails with the label below).

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use lockstep_api::{Application, HookType, OperationPhase};
use lockstep_e2e::apps::{apply_app, ready, wait_app, wait_event_reasons, wait_reason};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::json;

/// The label that makes kwok fail a Pod instead of completing it (see tests/kwok/README.md).
const FAIL_LABEL: &str = "pod-container-running-failed.stage.kwok.x-k8s.io";
/// A finalizer of the test's own that holds the ConfigMap once its deletion has started.
const HOLD: &str = "e2e.lockstep.dev/hold";

fn config_map(name: &str, finalizers: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{finalizers}data:\n  value: \"1\"\n")
}

fn pre_delete_job(name: &str, pod_labels: &str) -> String {
    format!(
        "apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  annotations:
    argocd.argoproj.io/hook: PreDelete
spec:
  backoffLimit: 0
  template:
    metadata:
      labels:
        app: {name}
{pod_labels}    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: registry.example/{name}:1
"
    )
}

/// Creates the Application with the resources finalizer and waits until it synced.
async fn synced_app(client: &kube::Client, ns: &str, name: &str, repo: &GitRepo) -> anyhow::Result<Application> {
    let spec = json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main"},
        "syncPolicy": {"automated": {"prune": true}},
    });
    apply_app(client, ns, name, spec).await?;
    let finalizer = json!({"metadata": {"finalizers": ["resources-finalizer.lockstep.dev"]}});
    Api::<Application>::namespaced(client.clone(), ns)
        .patch(name, &PatchParams::default(), &Patch::Merge(&finalizer))
        .await?;
    wait_reason(client, ns, name, "Succeeded").await
}

fn pre_delete_phase(app: &Application) -> Option<OperationPhase> {
    app.status.as_ref()?.pre_delete.as_ref().map(|p| p.phase)
}

#[tokio::test]
async fn pre_delete_hooks_run_before_the_objects_are_deleted() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-predelete").await?;
    let repo = GitRepo::new();
    repo.write("app.yaml", &config_map("app", &format!("  finalizers:\n  - {HOLD}\n")));
    repo.write("backup.yaml", &pre_delete_job("backup", ""));
    repo.commit("a PreDelete hook");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    let app = synced_app(&client, &ns.name, "predelete", &repo).await?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns.name);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    assert!(jobs.get_opt("backup").await?.is_none(), "a sync never runs a PreDelete hook");
    let resources = app.status.as_ref().map(|s| s.resources.iter().map(|r| r.name.clone()).collect::<Vec<_>>());
    assert_eq!(resources, Some(vec!["app".to_string()]), "a PreDelete hook is no resource");
    let hooks = app.status.as_ref().and_then(|s| s.operation_state.clone()).and_then(|o| o.sync_result);
    assert!(hooks.is_some_and(|r| r.hooks.is_empty()), "nor a hook of the sync");

    let apps = Api::<Application>::namespaced(client.clone(), &ns.name);
    apps.delete("predelete", &DeleteParams::default()).await?;
    // The ConfigMap's own finalizer holds it once its deletion started, so the order can be read.
    let deleted_at = wait_for("the ConfigMap's deletion started", Duration::from_secs(60), || async {
        let live = config_maps.get("app").await?;
        Ok(live.metadata.deletion_timestamp)
    })
    .await?;
    let job = jobs.get("backup").await?;
    let completed = job.status.as_ref().and_then(|s| s.completion_time.clone()).expect("the hook Job completed");
    assert!(completed.0 <= deleted_at.0, "hook completed at {completed:?}, ConfigMap deleted at {deleted_at:?}");
    let marker = job.metadata.annotations.unwrap_or_default().get("lockstep.dev/hook-operation").cloned();
    assert!(marker.as_deref().is_some_and(|m| m.ends_with("/PreDelete")), "{marker:?}");
    let deleting = apps.get("predelete").await?;
    assert_eq!(pre_delete_phase(&deleting), Some(OperationPhase::Succeeded));
    let recorded = deleting.status.and_then(|s| s.pre_delete).map(|p| p.hooks).unwrap_or_default();
    let summary: Vec<_> = recorded.iter().map(|h| (h.name.as_str(), h.hook_type, h.hook_phase)).collect();
    assert_eq!(summary, vec![("backup", HookType::PreDelete, OperationPhase::Succeeded)]);

    let release = json!({"metadata": {"finalizers": null}});
    config_maps.patch("app", &PatchParams::default(), &Patch::Merge(&release)).await?;
    wait_for("the Application gone", Duration::from_secs(60), || async {
        match apps.get_opt("predelete").await? {
            None => Ok(Some(())),
            Some(app) => anyhow::bail!("still there: {:?}", ready(&app)),
        }
    })
    .await?;
    assert!(config_maps.get_opt("app").await?.is_none());
    assert!(jobs.get_opt("backup").await?.is_none(), "the hook object does not outlive the Application");
    Ok(())
}

#[tokio::test]
async fn a_failed_pre_delete_hook_blocks_the_deletion() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-predelete-fail").await?;
    let repo = GitRepo::new();
    repo.write("app.yaml", &config_map("app", ""));
    repo.write("backup.yaml", &pre_delete_job("backup", &format!("        {FAIL_LABEL}: \"true\"\n")));
    repo.commit("a failing PreDelete hook");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    synced_app(&client, &ns.name, "blocked", &repo).await?;
    let apps = Api::<Application>::namespaced(client.clone(), &ns.name);
    apps.delete("blocked", &DeleteParams::default()).await?;

    let blocked = wait_reason(&client, &ns.name, "blocked", "PreDeleteHookFailed").await?;
    let condition = ready(&blocked).expect("Ready");
    assert_eq!(condition.status, "False");
    assert!(
        condition.message.contains("PreDelete hook Job") && condition.message.contains("backup"),
        "{}",
        condition.message
    );
    assert_eq!(pre_delete_phase(&blocked), Some(OperationPhase::Failed));
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    // Still blocked a while later: nothing of the Application is deleted.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let kept = config_maps.get("app").await?;
    assert!(kept.metadata.deletion_timestamp.is_none(), "the ConfigMap is not deleted");
    let still = wait_app(&client, &ns.name, "blocked", "still blocked", |app| {
        ready(app).is_some_and(|c| c.reason == "PreDeleteHookFailed")
    })
    .await?;
    assert!(still.metadata.deletion_timestamp.is_some());
    wait_event_reasons(&client, &ns.name, "blocked", &["PreDeleteHookFailed"]).await?;

    // Removing the finalizer by hand lets the Application go and leaves its objects.
    let release = json!({"metadata": {"finalizers": null}});
    apps.patch("blocked", &PatchParams::default(), &Patch::Merge(&release)).await?;
    wait_for("the Application gone", Duration::from_secs(30), || async {
        Ok(apps.get_opt("blocked").await?.is_none().then_some(()))
    })
    .await?;
    assert!(config_maps.get_opt("app").await?.is_some(), "left in place");
    Ok(())
}
