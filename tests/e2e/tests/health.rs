//! Live health end to end, on kwok's simulated nodes (`cargo xtask cluster up` starts kwok with two
//! fake Nodes): Pods are scheduled and become Running and Ready, Job pods complete, and lockstep's
//! Application health follows its objects as their controllers update them.
//!
//! The controllers run with the default resync period (minutes) and no refresh annotation, except
//! to announce a new git commit: every health change below must come from the controller's watches
//! of the objects it manages, not from a timer.
//!
//! kwok (stage `pod-complete`) completes every Pod owned by a Job successfully; a Pod labelled
//! `pod-container-running-failed.stage.kwok.x-k8s.io: "true"` fails instead (kwok's own chaos stage,
//! tests/kwok/stages/pod-container-running-failed.yaml), which is how a test makes a Job fail.

use std::sync::Mutex;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use lockstep_api::{Application, HealthStatusCode, SyncStatusCode};
use lockstep_e2e::apps::{apply_app, get_app, ready, refresh, wait_app};
use lockstep_e2e::cluster::{kubectl, kubectl_ok};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::json;

/// The label that makes kwok fail a Pod instead of completing it.
const FAIL_LABEL: &str = "pod-container-running-failed.stage.kwok.x-k8s.io";

/// The simulated nodes' label (see crates/xtask/src/kwok.rs).
const KWOK_NODE_LABEL: &str = "type=kwok";

/// An automated Application of `path` in `repo`.
fn automated(repo: &GitRepo, path: &str) -> serde_json::Value {
    json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main", "path": path},
        "syncPolicy": {"automated": {"prune": true}},
    })
}

/// A Deployment of `replicas` Pods. `minReadySeconds` keeps a rollout visibly Progressing for a
/// few seconds after kwok makes the Pods Ready, as slow-starting Pods would on a real cluster.
fn deployment(name: &str, replicas: u32, extra_spec: &str, pod_spec: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
{extra_spec}  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
{pod_spec}      containers:
      - name: main
        image: registry.example/{name}:1
"
    )
}

/// A Job of one Pod that is not retried; `labels` go on its Pod template.
fn job(name: &str, labels: &str) -> String {
    format!(
        "apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
  backoffLimit: 0
  template:
    metadata:
      labels:
        job: {name}
{labels}    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: registry.example/{name}:1
"
    )
}

/// The Application's health code, once it has a status.
fn health(app: &Application) -> Option<HealthStatusCode> {
    app.status.as_ref().map(|s| s.health.status)
}

/// The Application's health message, or "".
fn health_message(app: &Application) -> &str {
    app.status.as_ref().and_then(|s| s.health.message.as_deref()).unwrap_or_default()
}

/// True when the Ready condition is True.
fn is_ready(app: &Application) -> bool {
    ready(app).is_some_and(|c| c.status == "True")
}

/// The synced revision, if any.
fn revision(app: &Application) -> Option<&str> {
    app.status.as_ref().and_then(|s| s.sync.revision.as_deref())
}

/// Waits like [`wait_app`] until `accept` holds, and also returns the sequence of distinct health
/// codes seen on the way among the states `count` selects (polled every 200 ms; the tests keep
/// each state for seconds).
async fn health_sequence(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    what: &str,
    count: impl Fn(&Application) -> bool,
    accept: impl Fn(&Application) -> bool,
) -> anyhow::Result<(Application, Vec<HealthStatusCode>)> {
    let seen = Mutex::new(Vec::new());
    let app = wait_app(client, namespace, name, what, |app| {
        if let Some(code) = health(app).filter(|_| count(app)) {
            let mut seen = seen.lock().expect("health sequence lock");
            if seen.last() != Some(&code) {
                seen.push(code);
            }
        }
        accept(app)
    })
    .await?;
    let seen = seen.into_inner().map_err(|_| anyhow::anyhow!("health sequence lock poisoned"))?;
    Ok((app, seen))
}

/// A health sequence without its leading `Unknown`/`Missing` entries (a status written before the
/// objects were applied and assessed).
fn settled(seen: &[HealthStatusCode]) -> &[HealthStatusCode] {
    let start = seen.iter().position(|c| !matches!(c, HealthStatusCode::Unknown | HealthStatusCode::Missing));
    &seen[start.unwrap_or(seen.len())..]
}

/// Asserts that every Pod labelled `app=NAME` runs, Ready, on a simulated node; returns how many.
async fn running_pods_on_kwok_nodes(client: &kube::Client, namespace: &str, name: &str) -> anyhow::Result<usize> {
    let nodes = kubectl_ok(&["get", "nodes", "--selector", KWOK_NODE_LABEL, "-o", "name"], None)?;
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(&format!("app={name}")))
        .await?;
    for pod in &pods.items {
        let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
        let status = pod.status.as_ref();
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default();
        assert!(
            nodes.lines().any(|n| n == format!("node/{node}")),
            "pod {pod_name} is on {node:?}, not a kwok node ({nodes})"
        );
        assert_eq!(status.and_then(|s| s.phase.as_deref()), Some("Running"), "pod {pod_name}");
        let pod_ready = status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        assert!(pod_ready, "pod {pod_name} is not Ready");
    }
    Ok(pods.items.len())
}

#[tokio::test]
async fn a_deployment_goes_progressing_then_healthy_and_kubectl_wait_sees_ready() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-health-rollout").await?;
    let repo = GitRepo::new();
    repo.write("app/web.yaml", &deployment("web", 2, "  minReadySeconds: 4\n", ""));
    let first = repo.commit("web");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "web", automated(&repo, "app")).await?;

    // `kubectl wait --for=condition=Ready` blocks until lockstep reports Synced and Healthy.
    let namespace = ns.name.clone();
    let waiter = tokio::task::spawn_blocking(move || {
        kubectl(&["wait", "--for=condition=Ready", "application/web", "-n", &namespace, "--timeout=60s"], None)
    });
    let (app, seen) = health_sequence(
        &client,
        &ns.name,
        "web",
        "Healthy",
        |_| true,
        |app| health(app) == Some(HealthStatusCode::Healthy),
    )
    .await?;
    assert_eq!(settled(&seen), [HealthStatusCode::Progressing, HealthStatusCode::Healthy], "health went {seen:?}");
    let status = app.status.as_ref().expect("status");
    assert_eq!(status.sync.status, SyncStatusCode::Synced);
    assert_eq!(revision(&app), Some(first.as_str()));

    let out = waiter.await?;
    assert!(out.status.success(), "kubectl wait: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("condition met"), "{}", String::from_utf8_lossy(&out.stdout));
    let app = get_app(&client, &ns.name, "web").await?;
    assert!(is_ready(&app), "Ready: {:?}", ready(&app));
    assert_eq!(health(&app), Some(HealthStatusCode::Healthy));
    assert_eq!(running_pods_on_kwok_nodes(&client, &ns.name, "web").await?, 2);
    Ok(())
}

#[tokio::test]
async fn a_deployment_that_cannot_be_scheduled_passes_its_deadline_and_is_degraded() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-health-deadline").await?;
    let repo = GitRepo::new();
    let unschedulable = "      nodeSelector:\n        lockstep.dev/e2e-no-such-node: \"true\"\n";
    repo.write("app/stuck.yaml", &deployment("stuck", 1, "  progressDeadlineSeconds: 5\n", unschedulable));
    repo.commit("stuck");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "stuck", automated(&repo, "app")).await?;

    let (app, seen) = health_sequence(
        &client,
        &ns.name,
        "stuck",
        "Degraded",
        |_| true,
        |app| health(app) == Some(HealthStatusCode::Degraded),
    )
    .await?;
    assert_eq!(settled(&seen), [HealthStatusCode::Progressing, HealthStatusCode::Degraded], "health went {seen:?}");
    let message = health_message(&app);
    assert!(message.contains(&format!("Deployment {}/stuck", ns.name)), "names the Deployment: {message}");
    assert!(message.contains("exceeded its progress deadline"), "{message}");
    let condition = ready(&app).expect("Ready");
    assert_eq!(condition.status, "False");
    assert_eq!(condition.reason, "NotHealthy");
    assert!(condition.message.contains(&format!("Deployment {}/stuck", ns.name)), "{}", condition.message);
    assert_eq!(app.status.as_ref().map(|s| s.sync.status), Some(SyncStatusCode::Synced));

    // The Pod really is unschedulable: the scheduler found no node for it.
    let pods =
        Api::<Pod>::namespaced(client.clone(), &ns.name).list(&ListParams::default().labels("app=stuck")).await?;
    assert_eq!(pods.items.len(), 1);
    let pod = &pods.items[0];
    assert_eq!(pod.spec.as_ref().and_then(|s| s.node_name.as_deref()), None);
    let scheduled = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"));
    assert_eq!(scheduled.and_then(|c| c.reason.as_deref()), Some("Unschedulable"), "{scheduled:?}");
    Ok(())
}

#[tokio::test]
async fn a_failing_job_is_degraded_and_a_completed_one_healthy() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-health-jobs").await?;
    let repo = GitRepo::new();
    repo.write("passes/job.yaml", &job("passes", ""));
    repo.write("fails/job.yaml", &job("fails", &format!("        {FAIL_LABEL}: \"true\"\n")));
    repo.commit("jobs");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "passes", automated(&repo, "passes")).await?;
    apply_app(&client, &ns.name, "fails", automated(&repo, "fails")).await?;

    let app =
        wait_app(&client, &ns.name, "fails", "Degraded", |app| health(app) == Some(HealthStatusCode::Degraded)).await?;
    let message = health_message(&app);
    assert!(message.contains(&format!("Job {}/fails", ns.name)), "names the Job: {message}");
    assert!(message.contains("backoff limit"), "gives the Job's reason: {message}");
    assert!(!is_ready(&app));
    let job_status = kubectl_ok(&["get", "job", "fails", "-n", &ns.name, "-o", "jsonpath={.status.failed}"], None)?;
    assert_eq!(job_status, "1", "kwok failed the Job's one Pod");

    let app = wait_app(&client, &ns.name, "passes", "Healthy and Ready", |app| {
        health(app) == Some(HealthStatusCode::Healthy) && is_ready(app)
    })
    .await?;
    assert_eq!(app.status.as_ref().map(|s| s.sync.status), Some(SyncStatusCode::Synced));
    let succeeded = kubectl_ok(&["get", "job", "passes", "-n", &ns.name, "-o", "jsonpath={.status.succeeded}"], None)?;
    assert_eq!(succeeded, "1", "kwok completed the Job's Pod");
    Ok(())
}

#[tokio::test]
async fn scaling_a_deployment_in_git_shows_progressing_then_healthy() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-health-scale").await?;
    let repo = GitRepo::new();
    repo.write("app/web.yaml", &deployment("web", 1, "  minReadySeconds: 4\n", ""));
    repo.commit("one replica");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "web", automated(&repo, "app")).await?;
    wait_app(&client, &ns.name, "web", "Healthy and Ready", is_ready).await?;
    assert_eq!(running_pods_on_kwok_nodes(&client, &ns.name, "web").await?, 1);

    repo.write("app/web.yaml", &deployment("web", 3, "  minReadySeconds: 4\n", ""));
    let scaled = repo.commit("three replicas");
    // A new commit needs a trigger (or the resync period); the rest must follow from the watches.
    refresh(&client, &ns.name, "web").await?;
    let at_scaled = |app: &Application| revision(app) == Some(scaled.as_str());
    let (app, seen) = health_sequence(&client, &ns.name, "web", "Healthy at the new commit", at_scaled, |app| {
        at_scaled(app) && health(app) == Some(HealthStatusCode::Healthy) && is_ready(app)
    })
    .await?;
    assert_eq!(
        seen,
        vec![HealthStatusCode::Progressing, HealthStatusCode::Healthy],
        "health at the new commit went {seen:?}"
    );
    assert_eq!(app.status.as_ref().map(|s| s.sync.status), Some(SyncStatusCode::Synced));
    assert_eq!(running_pods_on_kwok_nodes(&client, &ns.name, "web").await?, 3);
    Ok(())
}

/// Deletes a test CRD (cluster-scoped, so not removed with the test's namespace) on drop.
struct CrdGuard(String);

impl Drop for CrdGuard {
    fn drop(&mut self) {
        if std::env::var_os("LOCKSTEP_E2E_KEEP").is_none() {
            let _ = kubectl(&["delete", "crd", &self.0, "--wait=false"], None);
        }
    }
}

#[tokio::test]
async fn a_custom_resource_follows_its_own_reconciling_ready_and_stalled_conditions() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-health-cr").await?;
    // A group of its own per run: the CRD outlives the namespace, and another run's Application
    // would otherwise find it managed by someone else.
    let group = format!("h{:08x}.e2e.lockstep.dev", rand::random::<u32>());
    let crd = format!("widgets.{group}");
    let _crd_guard = CrdGuard(crd.clone());
    let repo = GitRepo::new();
    repo.write(
        "app/crd.yaml",
        &format!(
            "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {crd}
spec:
  group: {group}
  scope: Namespaced
  names:
    kind: Widget
    listKind: WidgetList
    plural: widgets
    singular: widget
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {{}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-preserve-unknown-fields: true
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"
        ),
    );
    // The file sorts before the CRD's: the engine, not the file order, puts the CRD first.
    repo.write(
        "app/a-widget.yaml",
        &format!("apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: gear\nspec:\n  teeth: 12\n"),
    );
    repo.commit("widget");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "widget", automated(&repo, "app")).await?;
    wait_app(&client, &ns.name, "widget", "Synced", |app| {
        app.status.as_ref().is_some_and(|s| s.sync.status == SyncStatusCode::Synced)
    })
    .await?;

    // Play the Widget's controller: write its status as a controller following the standard
    // conditions would, and check that the Application follows each step.
    let widget = format!("{crd}/gear");
    let set_status = |status: serde_json::Value| {
        let patch = json!({"status": status}).to_string();
        kubectl_ok(&["patch", &widget, "-n", &ns.name, "--subresource=status", "--type=merge", "-p", &patch], None)
    };
    let named = format!("Widget {}/gear", ns.name);

    set_status(json!({"observedGeneration": 1, "conditions": [
        {"type": "Reconciling", "status": "True", "reason": "Provisioning", "message": "cutting teeth"},
        {"type": "Ready", "status": "False", "reason": "Provisioning", "message": "cutting teeth"},
    ]}))?;
    let app =
        wait_app(&client, &ns.name, "widget", "Progressing", |app| health(app) == Some(HealthStatusCode::Progressing))
            .await?;
    assert!(health_message(&app).contains(&named), "names the Widget: {}", health_message(&app));
    assert!(!is_ready(&app));

    set_status(json!({"observedGeneration": 1, "conditions": [
        {"type": "Ready", "status": "True", "reason": "Succeeded", "message": "all teeth cut"},
    ]}))?;
    let app = wait_app(&client, &ns.name, "widget", "Healthy and Ready", |app| {
        health(app) == Some(HealthStatusCode::Healthy) && is_ready(app)
    })
    .await?;
    assert_eq!(app.status.as_ref().map(|s| s.sync.status), Some(SyncStatusCode::Synced));

    set_status(json!({"observedGeneration": 1, "conditions": [
        {"type": "Ready", "status": "False", "reason": "QuotaExceeded", "message": "out of steel"},
        {"type": "Stalled", "status": "True", "reason": "QuotaExceeded", "message": "out of steel"},
    ]}))?;
    let app = wait_app(&client, &ns.name, "widget", "Degraded", |app| health(app) == Some(HealthStatusCode::Degraded))
        .await?;
    let message = health_message(&app);
    assert!(message.contains(&named) && message.contains("out of steel"), "names the Widget and why: {message}");
    let condition = ready(&app).expect("Ready");
    assert_eq!((condition.status.as_str(), condition.reason.as_str()), ("False", "NotHealthy"));
    Ok(())
}
