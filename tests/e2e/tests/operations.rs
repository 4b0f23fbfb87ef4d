//! Sync operations end to end: waves gated on health, hooks, manual sync requests, retries, and
//! CRDs with their custom resources in one commit. Runs on kwok's simulated nodes.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use lockstep_api::{Application, HookType, OperationPhase, SYNC_REQUEST_ANNOTATION, SyncStatusCode};
use lockstep_e2e::apps::{apply_app, get_app, ready, refresh, wait_app, wait_reason};
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::http::{free_addr, get};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, workspace_root};
use serde_json::json;

/// The label that makes kwok fail a Pod instead of completing it (see tests/kwok/README.md).
const FAIL_LABEL: &str = "pod-container-running-failed.stage.kwok.x-k8s.io";

fn config_map(name: &str, annotations: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  annotations:\n    note: test\n{annotations}data:\n  value: \"1\"\n"
    )
}

fn job(name: &str, annotations: &str, pod_labels: &str, pod_spec: &str) -> String {
    format!(
        "apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  annotations:
    note: test
{annotations}spec:
  backoffLimit: 0
  template:
    metadata:
      labels:
        app: {name}
{pod_labels}    spec:
      restartPolicy: Never
{pod_spec}      containers:
      - name: main
        image: registry.example/{name}:1
"
    )
}

fn automated(repo: &GitRepo) -> serde_json::Value {
    json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main"},
        "syncPolicy": {"automated": {"prune": true}},
    })
}

async fn exists(client: &kube::Client, ns: &str, name: &str) -> bool {
    Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await.ok().flatten().is_some()
}

fn operation_phase(app: &Application) -> Option<OperationPhase> {
    app.status.as_ref()?.operation_state.as_ref().map(|o| o.phase)
}

#[tokio::test]
async fn waves_apply_in_order_and_each_is_healthy_before_the_next() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-waves").await?;
    let repo = GitRepo::new();
    repo.write(
        "first.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: first
  annotations:
    argocd.argoproj.io/sync-wave: \"-1\"
spec:
  replicas: 1
  minReadySeconds: 3
  selector:
    matchLabels: {app: first}
  template:
    metadata:
      labels: {app: first}
    spec:
      containers:
      - name: main
        image: registry.example/first:1
",
    );
    repo.write("second.yaml", &config_map("second", ""));
    repo.commit("two waves");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "waves", automated(&repo)).await?;
    let waiting = wait_reason(&client, &ns.name, "waves", "SyncInProgress").await?;
    assert!(ready(&waiting).is_some_and(|c| c.message.contains("wave -1")), "{:?}", ready(&waiting));
    assert_eq!(operation_phase(&waiting), Some(OperationPhase::Running));
    assert!(!exists(&client, &ns.name, "second").await, "wave 0 waits for wave -1 to be healthy");

    let done = wait_reason(&client, &ns.name, "waves", "Succeeded").await?;
    assert_eq!(operation_phase(&done), Some(OperationPhase::Succeeded));
    let deployment = Api::<Deployment>::namespaced(client.clone(), &ns.name).get("first").await?;
    let available = deployment
        .status
        .and_then(|s| s.conditions)
        .and_then(|c| c.into_iter().find(|c| c.type_ == "Available" && c.status == "True"))
        .and_then(|c| c.last_transition_time)
        .expect("first is Available");
    let second = Api::<ConfigMap>::namespaced(client.clone(), &ns.name).get("second").await?;
    let created = second.metadata.creation_timestamp.expect("created");
    assert!(created.0 >= available.0, "second ({created:?}) created after first was available ({available:?})");
    Ok(())
}

#[tokio::test]
async fn hooks_run_once_per_sync_and_delete_as_their_policy_says() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-hooks").await?;
    let repo = GitRepo::new();
    repo.write("pre.yaml", &job("migrate", "    argocd.argoproj.io/hook: PreSync\n", "", ""));
    repo.write(
        "post.yaml",
        &config_map("notify", "    lockstep.dev/hook: PostSync\n    lockstep.dev/hook-delete-policy: HookSucceeded\n"),
    );
    repo.write("app.yaml", &config_map("app", ""));
    let first = repo.commit("hooks");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "hooks", automated(&repo)).await?;
    let app = wait_reason(&client, &ns.name, "hooks", "Succeeded").await?;
    let op = app.status.as_ref().and_then(|s| s.operation_state.clone()).expect("operation");
    let hooks = op.sync_result.expect("result").hooks;
    let summary: Vec<_> = hooks.iter().map(|h| (h.name.as_str(), h.hook_type, h.hook_phase)).collect();
    assert_eq!(
        summary,
        vec![
            ("migrate", HookType::PreSync, OperationPhase::Succeeded),
            ("notify", HookType::PostSync, OperationPhase::Succeeded)
        ]
    );
    assert!(exists(&client, &ns.name, "app").await);
    assert!(!exists(&client, &ns.name, "notify").await, "HookSucceeded deletes the PostSync hook");
    let job_annotation = |job: k8s_openapi::api::batch::v1::Job| {
        job.metadata.annotations.unwrap_or_default().get("lockstep.dev/hook-operation").cloned().unwrap_or_default()
    };
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(client.clone(), &ns.name);
    let first_run = job_annotation(jobs.get("migrate").await?);
    assert!(first_run.starts_with(&first[..12]), "{first_run}");
    let resources = app.status.as_ref().map(|s| s.resources.iter().map(|r| r.name.clone()).collect::<Vec<_>>());
    assert_eq!(resources, Some(vec!["app".to_string()]), "hooks are not resources");

    // A new commit is a new operation: the PreSync Job runs again (the old one replaced).
    repo.write("app.yaml", &config_map("app", "    changed: \"yes\"\n"));
    let second = repo.commit("change");
    refresh(&client, &ns.name, "hooks").await?;
    wait_app(&client, &ns.name, "hooks", "second sync done", |app| {
        app.status.as_ref().is_some_and(|s| {
            s.operation_state.as_ref().is_some_and(|o| {
                o.phase == OperationPhase::Succeeded && o.sync_result.as_ref().is_some_and(|r| r.revision == second)
            })
        })
    })
    .await?;
    let second_run = job_annotation(jobs.get("migrate").await?);
    assert!(second_run.starts_with(&second[..12]), "{second_run}");
    Ok(())
}

/// With `selfHeal`, every pass may write, but a pass that finds nothing drifted is no sync
/// operation: the PreSync Job is not run again on each resync. Drift is a sync (as Argo CD's
/// self-heal is): its hooks run once more.
#[tokio::test]
async fn self_heal_reruns_hooks_only_when_it_heals_drift() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-heal-hooks").await?;
    let repo = GitRepo::new();
    repo.write("pre.yaml", &job("migrate", "    argocd.argoproj.io/hook: PreSync\n", "", ""));
    repo.write("app.yaml", &config_map("app", ""));
    repo.commit("hooks");
    let _controller = ControllerProcess::start(&ns.name, &["--resync-period", "1s"])?;
    let mut spec = automated(&repo);
    spec["syncPolicy"]["automated"]["selfHeal"] = json!(true);
    apply_app(&client, &ns.name, "heal", spec).await?;
    let synced = wait_reason(&client, &ns.name, "heal", "Succeeded").await?;
    let started =
        |app: &Application| app.status.as_ref().and_then(|s| s.operation_state.as_ref()).map(|o| o.started_at.clone());
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(client.clone(), &ns.name);
    let first = jobs.get("migrate").await?.metadata.uid;
    // Eight resync periods with nothing drifted.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(jobs.get("migrate").await?.metadata.uid, first, "the PreSync Job ran again without drift");
    assert_eq!(started(&get_app(&client, &ns.name, "heal").await?), started(&synced), "no new operation");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    let drift = json!({"data": {"value": "hand-edited"}});
    cms.patch("app", &PatchParams::default(), &Patch::Merge(&drift)).await?;
    let healed = wait_app(&client, &ns.name, "heal", "a new operation healed the drift", |app| {
        started(app) != started(&synced) && operation_phase(app) == Some(OperationPhase::Succeeded)
    })
    .await?;
    let value = cms.get("app").await?.data.and_then(|d| d.get("value").cloned());
    assert_eq!(value.as_deref(), Some("1"));
    assert_ne!(jobs.get("migrate").await?.metadata.uid, first, "healing drift is a sync: its hook runs");
    let hooks = healed.status.and_then(|s| s.operation_state).and_then(|o| o.sync_result).map(|r| r.hooks.len());
    assert_eq!(hooks, Some(1));
    Ok(())
}

#[tokio::test]
async fn a_failed_presync_hook_stops_the_sync_and_runs_syncfail_hooks() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-hook-fail").await?;
    let repo = GitRepo::new();
    repo.write(
        "pre.yaml",
        &job("migrate", "    argocd.argoproj.io/hook: PreSync\n", &format!("        {FAIL_LABEL}: \"true\"\n"), ""),
    );
    repo.write("fail.yaml", &config_map("sync-failed", "    argocd.argoproj.io/hook: SyncFail\n"));
    repo.write("app.yaml", &config_map("app", ""));
    repo.commit("failing hook");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "hookfail", automated(&repo)).await?;
    let app = wait_app(&client, &ns.name, "hookfail", "the sync failed", |app| {
        operation_phase(app) == Some(OperationPhase::Failed)
    })
    .await?;
    let condition = ready(&app).expect("Ready");
    assert_eq!(condition.reason, "SyncFailed");
    assert!(
        condition.message.contains("PreSync hook Job") && condition.message.contains("migrate"),
        "{}",
        condition.message
    );
    assert!(!exists(&client, &ns.name, "app").await, "nothing after a failed PreSync hook is applied");
    assert!(exists(&client, &ns.name, "sync-failed").await, "the SyncFail hook ran");
    Ok(())
}

#[tokio::test]
async fn a_hook_that_never_finishes_fails_the_sync_at_the_timeout() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-hook-timeout").await?;
    let repo = GitRepo::new();
    let unschedulable = "      nodeSelector:\n        lockstep.dev/no-such-node: \"true\"\n";
    repo.write("pre.yaml", &job("stuck", "    lockstep.dev/hook: PreSync\n", "", unschedulable));
    repo.write("app.yaml", &config_map("app", ""));
    repo.commit("stuck hook");
    let _controller = ControllerProcess::start(&ns.name, &["--sync-timeout", "5s"])?;
    apply_app(&client, &ns.name, "stuck", automated(&repo)).await?;
    let app = wait_app(&client, &ns.name, "stuck", "the sync timed out", |app| {
        operation_phase(app) == Some(OperationPhase::Failed)
    })
    .await?;
    assert!(
        ready(&app).is_some_and(|c| c.message.contains("timed out") && c.message.contains("stuck")),
        "{:?}",
        ready(&app)
    );
    assert!(!exists(&client, &ns.name, "app").await);
    Ok(())
}

#[tokio::test]
async fn manual_sync_requests_apply_once_and_may_prune() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-manual-sync").await?;
    let repo = GitRepo::new();
    repo.write("a.yaml", &config_map("a", ""));
    repo.write("b.yaml", &config_map("b", ""));
    let first = repo.commit("one");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "manual", json!({"source": {"repoURL": repo.url()}})).await?;
    wait_reason(&client, &ns.name, "manual", "OutOfSync").await?;
    assert!(!exists(&client, &ns.name, "a").await);

    let request = |value: &str| json!({"metadata": {"annotations": {SYNC_REQUEST_ANNOTATION: value}}});
    let apps: Api<Application> = Api::namespaced(client.clone(), &ns.name);
    apps.patch("manual", &PatchParams::default(), &Patch::Merge(&request("first"))).await?;
    let app = wait_reason(&client, &ns.name, "manual", "Succeeded").await?;
    let op = app.status.as_ref().and_then(|s| s.operation_state.clone()).expect("operation");
    assert_eq!((op.phase, op.sync_request.as_deref()), (OperationPhase::Succeeded, Some("first")));
    assert_eq!(op.sync_result.map(|r| r.revision), Some(first));
    assert!(op.finished_at.is_some());
    assert!(exists(&client, &ns.name, "a").await && exists(&client, &ns.name, "b").await);

    // A new commit is reported, not applied, until asked; the request with prune removes b.
    repo.remove("b.yaml");
    repo.write("c.yaml", &config_map("c", ""));
    repo.commit("two");
    refresh(&client, &ns.name, "manual").await?;
    wait_reason(&client, &ns.name, "manual", "OutOfSync").await?;
    assert!(!exists(&client, &ns.name, "c").await);
    apps.patch("manual", &PatchParams::default(), &Patch::Merge(&request("second,prune"))).await?;
    wait_reason(&client, &ns.name, "manual", "Succeeded").await?;
    assert!(exists(&client, &ns.name, "c").await);
    assert!(!exists(&client, &ns.name, "b").await, "the request asked for prune");
    let history = get_app(&client, &ns.name, "manual").await?.status.map(|s| s.history.len());
    assert_eq!(history, Some(2));
    Ok(())
}

#[tokio::test]
async fn a_failing_sync_is_retried_and_a_new_commit_supersedes_the_retry() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-retry").await?;
    let repo = GitRepo::new();
    repo.write(
        "bad.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n  - port: 700000\n",
    );
    repo.commit("bad");
    let _controller = ControllerProcess::start(&ns.name, &["--resync-period", "1h"])?;
    let mut spec = automated(&repo);
    spec["syncPolicy"]["retry"] = json!({"limit": 3, "backoff": {"duration": "1s", "factor": 1, "maxDuration": "1s"}});
    apply_app(&client, &ns.name, "retry", spec.clone()).await?;
    let app = wait_app(&client, &ns.name, "retry", "retries used up", |app| {
        app.status.as_ref().and_then(|s| s.operation_state.as_ref()).is_some_and(|o| o.retry_count == 3)
    })
    .await?;
    assert_eq!(operation_phase(&app), Some(OperationPhase::Failed));

    // Long backoff now; a fixed commit does not wait for it.
    spec["syncPolicy"]["retry"] = json!({"limit": 5, "backoff": {"duration": "1h"}});
    apply_app(&client, &ns.name, "retry", spec).await?;
    repo.write("bad.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n  - port: 7000\n");
    let fixed = repo.commit("fixed");
    refresh(&client, &ns.name, "retry").await?;
    let app = wait_reason(&client, &ns.name, "retry", "Succeeded").await?;
    assert_eq!(app.status.as_ref().and_then(|s| s.sync.revision.clone()), Some(fixed));
    Ok(())
}

/// Self-heal does not bypass the retry policy: a revision the API server rejects is attempted once
/// plus `retry.limit` times, however short the resync period.
#[tokio::test]
async fn self_heal_of_a_failing_revision_makes_exactly_limit_plus_one_attempts() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-heal-retry").await?;
    let repo = GitRepo::new();
    repo.write(
        "bad.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n  - port: 700000\n",
    );
    repo.commit("bad");
    let addr = free_addr();
    let _controller =
        ControllerProcess::start(&ns.name, &["--resync-period", "2s", "--metrics-addr", &addr.to_string()])?;
    let mut spec = automated(&repo);
    spec["syncPolicy"]["automated"]["selfHeal"] = json!(true);
    spec["syncPolicy"]["retry"] = json!({"limit": 2, "backoff": {"duration": "1s", "factor": 1, "maxDuration": "1s"}});
    apply_app(&client, &ns.name, "heal", spec).await?;
    wait_app(&client, &ns.name, "heal", "retries used up", |app| {
        app.status.as_ref().and_then(|s| s.operation_state.as_ref()).is_some_and(|o| o.retry_count == 2)
    })
    .await?;
    // Ten resync periods more: nothing else may be attempted.
    tokio::time::sleep(Duration::from_secs(20)).await;
    let failed = format!(r#"lockstep_app_sync_total{{namespace="{}",name="heal",phase="Failed"}} "#, ns.name);
    let metrics = get(addr, "/metrics").await?.body;
    let attempts: Vec<&str> = metrics.lines().filter(|l| l.starts_with(&failed)).collect();
    assert_eq!(attempts, vec![format!("{failed}3")], "in\n{metrics}");
    let app = get_app(&client, &ns.name, "heal").await?;
    assert_eq!(operation_phase(&app), Some(OperationPhase::Failed));
    Ok(())
}

/// A sync the API server fails with 5xx (here: a validating webhook that cannot be called, so
/// every write of the Application's ConfigMaps answers 500) says nothing about the revision: the
/// operation stays Running with `ClusterUnreachable`, and once the API server answers again the
/// same commit syncs, with no `syncPolicy.retry` and no new commit.
#[tokio::test]
async fn a_sync_the_api_server_fails_with_5xx_carries_on_when_it_answers_again() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-api-5xx").await?;
    let repo = GitRepo::new();
    let labelled = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labels:\n    e2e-fault: \"on\"\ndata:\n  value: \"{value}\"\n"
        )
    };
    repo.write("cm.yaml", &labelled("1"));
    repo.commit("one");
    let _controller = ControllerProcess::start(&ns.name, &["--fetch-retry-period", "2s"])?;
    apply_app(&client, &ns.name, "outage", automated(&repo)).await?;
    wait_reason(&client, &ns.name, "outage", "Succeeded").await?;
    // Nothing listens on port 1: the API server cannot call the webhook and, failurePolicy Fail,
    // answers 500 InternalError to every write (dry-run or not) of the labelled ConfigMaps.
    let webhook = format!("e2e-fault-{}", ns.name);
    let config = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": webhook},
        "webhooks": [{
            "name": "fault.e2e.lockstep.dev",
            "clientConfig": {"url": "https://127.0.0.1:1/validate"},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"]}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns.name}},
            "objectSelector": {"matchLabels": {"e2e-fault": "on"}},
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 2,
        }],
    });
    kubectl_ok(&["apply", "-f", "-"], Some(&config.to_string()))?;
    repo.write("cm.yaml", &labelled("2"));
    let head = repo.commit("two");
    refresh(&client, &ns.name, "outage").await?;
    let interrupted = wait_reason(&client, &ns.name, "outage", "ClusterUnreachable").await;
    let removed = kubectl_ok(&["delete", "validatingwebhookconfiguration", &webhook], None);
    let interrupted = interrupted?;
    removed?;
    let message = ready(&interrupted).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("failed calling webhook"), "the server's words are kept: {message}");
    assert_eq!(operation_phase(&interrupted), Some(OperationPhase::Running), "not Failed: {message}");
    let synced = wait_app(&client, &ns.name, "outage", "synced at the new commit", |app| {
        app.status.as_ref().is_some_and(|s| {
            s.sync.status == SyncStatusCode::Synced && s.sync.revision.as_deref() == Some(head.as_str())
        }) && operation_phase(app) == Some(OperationPhase::Succeeded)
    })
    .await?;
    assert_eq!(synced.status.as_ref().and_then(|s| s.operation_state.as_ref()).map(|o| o.retry_count), Some(0));
    let live = Api::<ConfigMap>::namespaced(client.clone(), &ns.name).get("cm").await?;
    assert_eq!(live.data.and_then(|d| d.get("value").cloned()).as_deref(), Some("2"));
    Ok(())
}

#[tokio::test]
async fn cert_manager_crds_and_their_custom_resources_sync_in_one_commit() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-crds").await?;
    let repo = GitRepo::new();
    let shared = std::env::var_os("LOCKSTEP_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"));
    let crds = shared.join("manifests/cert-manager-crds/deploy/crds");
    for entry in std::fs::read_dir(&crds)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            repo.write(&format!("crds/{name}"), &std::fs::read_to_string(&path)?);
        }
    }
    repo.write(
        "issuer.yaml",
        "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata:\n  name: selfsigned\nspec:\n  selfSigned: {}\n",
    );
    repo.commit("cert-manager CRDs and an Issuer");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    let mut spec = automated(&repo);
    spec["source"]["directory"] = json!({"recurse": true});
    // The CRDs are cluster-wide: another test's Application may still own them while its namespace
    // is being deleted, so retry until they are orphaned and adopted.
    spec["syncPolicy"]["retry"] = json!({"limit": 30, "backoff": {"duration": "2s", "factor": 1}});
    apply_app(&client, &ns.name, "certs", spec).await?;
    let app = wait_app(&client, &ns.name, "certs", "synced", |app| {
        app.status.as_ref().is_some_and(|s| s.sync.status == SyncStatusCode::Synced)
    })
    .await?;
    assert_eq!(app.status.as_ref().map(|s| s.resources.len()), Some(7));
    let issuer = kubectl_ok(&["get", "issuers.cert-manager.io", "selfsigned", "-n", &ns.name, "-o", "name"], None)?;
    assert_eq!(issuer.trim(), "issuer.cert-manager.io/selfsigned");
    Ok(())
}

#[tokio::test]
async fn a_crd_that_never_becomes_established_is_named_and_nothing_after_it_applies() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-crd-stuck").await?;
    let group = format!("g{:08x}.e2e.lockstep.dev", rand::random::<u32>());
    let crd = |plural: &str| {
        format!(
            "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: {plural}, singular: {singular}, kind: Foo, listKind: FooList}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}
",
            singular = plural.trim_end_matches('s'),
        )
    };
    // The kind Foo is taken in this group already, so the CRD in git is never Established.
    kubectl_ok(&["apply", "-f", "-"], Some(&crd("foos")))?;
    let repo = GitRepo::new();
    repo.write("crd.yaml", &crd("bars"));
    repo.write("after.yaml", &config_map("after", ""));
    repo.commit("conflicting CRD");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "stuck", automated(&repo)).await?;
    let app = wait_app(&client, &ns.name, "stuck", "the sync failed", |app| {
        operation_phase(app) == Some(OperationPhase::Failed)
    })
    .await?;
    let condition = ready(&app).expect("Ready");
    assert_eq!(condition.reason, "SyncFailed");
    assert!(
        condition.message.contains(&format!("CustomResourceDefinition bars.{group}"))
            && condition.message.contains("not Established"),
        "{}",
        condition.message
    );
    assert!(!exists(&client, &ns.name, "after").await, "nothing after the CRD's step is applied");
    kubectl_ok(&["delete", "crd", &format!("foos.{group}"), &format!("bars.{group}"), "--ignore-not-found"], None)?;
    Ok(())
}
