//! `/metrics`, `/healthz` and `/readyz` of a running controller after a sync and after a degraded
//! app, and the Events a sync publishes.

use std::time::Duration;

use lockstep_api::HealthStatusCode;
use lockstep_e2e::apps::{apply_app, event_reasons, wait_app, wait_event_reasons};
use lockstep_e2e::http::{free_addr, get};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::json;

const UNSCHEDULABLE: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: stuck
spec:
  replicas: 1
  progressDeadlineSeconds: 5
  selector:
    matchLabels:
      app: stuck
  template:
    metadata:
      labels:
        app: stuck
    spec:
      nodeSelector:
        lockstep.dev/e2e-no-such-node: \"true\"
      containers:
      - name: main
        image: registry.example/stuck:1
";

fn app_info(ns: &str, name: &str, repo: &GitRepo, sync: &str, health: &str) -> String {
    format!(
        r#"lockstep_app_info{{namespace="{ns}",name="{name}",project="default",repo="{}",dest_server="https://kubernetes.default.svc",dest_namespace="{ns}",sync_status="{sync}",health_status="{health}"}} 1"#,
        repo.url()
    )
}

#[tokio::test]
async fn metrics_describe_synced_and_degraded_apps_and_events_are_published() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-metrics").await?;
    let repo = GitRepo::new();
    repo.write("good/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\ndata:\n  value: \"1\"\n");
    repo.write("bad/stuck.yaml", UNSCHEDULABLE);
    repo.commit("first");
    let addr = free_addr();
    let controller = ControllerProcess::start(&ns.name, &["--metrics-addr", &addr.to_string()])?;
    wait_for("/readyz", Duration::from_secs(60), || async {
        let r = get(addr, "/readyz").await?;
        if r.status == 200 { Ok(Some(())) } else { anyhow::bail!("readyz {}", r.status) }
    })
    .await?;
    assert_eq!(get(addr, "/healthz").await?.status, 200);

    for (name, path) in [("good", "good"), ("bad", "bad")] {
        let spec = json!({
            "source": {"repoURL": repo.url(), "targetRevision": "main", "path": path},
            "destination": {"namespace": ns.name},
            "syncPolicy": {"automated": {"prune": true}},
        });
        apply_app(&client, &ns.name, name, spec).await?;
    }
    wait_app(&client, &ns.name, "good", "Healthy", |a| {
        a.status.as_ref().is_some_and(|s| s.health.status == HealthStatusCode::Healthy)
    })
    .await?;
    wait_app(&client, &ns.name, "bad", "Degraded", |a| {
        a.status.as_ref().is_some_and(|s| s.health.status == HealthStatusCode::Degraded)
    })
    .await?;

    let good = app_info(&ns.name, "good", &repo, "Synced", "Healthy");
    let bad = app_info(&ns.name, "bad", &repo, "Synced", "Degraded");
    let text = wait_for("metrics of both apps", Duration::from_secs(30), || async {
        let text = get(addr, "/metrics").await?.body;
        if text.contains(&good) && text.contains(&bad) && text.contains(r#"phase="Succeeded"} "#) {
            Ok(Some(text))
        } else {
            anyhow::bail!("{text}")
        }
    })
    .await?;
    for needle in [
        format!(r#"lockstep_app_sync_total{{namespace="{}",name="good",phase="Succeeded"}} 1"#, ns.name),
        format!(r#"lockstep_git_requests_total{{repo="{}",request_type="ls-remote",result="success"}}"#, repo.url()),
        format!(r#"lockstep_git_requests_total{{repo="{}",request_type="fetch",result="success"}} 1"#, repo.url()),
        format!(r#"lockstep_git_request_duration_seconds_count{{repo="{}",request_type="fetch"}} 1"#, repo.url()),
        r#"lockstep_kube_requests_total{verb="patch",code="200"}"#.to_string(),
        r#"lockstep_kube_requests_total{verb="watch",code="200"}"#.to_string(),
        "lockstep_app_reconcile_duration_seconds_count ".to_string(),
        r#"lockstep_app_reconciles_total{outcome="Succeeded"}"#.to_string(),
        r#"lockstep_app_reconciles_total{outcome="NotHealthy"}"#.to_string(),
        "lockstep_reconciles_in_flight ".to_string(),
        "lockstep_notifications_queue_depth ".to_string(),
        "lockstep_build_info{version=".to_string(),
        "# TYPE lockstep_app_info gauge".to_string(),
    ] {
        assert!(text.contains(&needle), "missing {needle} in\n{text}");
    }

    // A first sync that ends at once is one Event; reaching Healthy is the status's to show.
    let reasons = wait_event_reasons(&client, &ns.name, "good", &["SyncSucceeded"]).await?;
    assert_eq!(reasons, ["SyncSucceeded"]);
    let reasons = wait_for("HealthChanged to Degraded", Duration::from_secs(30), || async {
        let reasons = event_reasons(&client, &ns.name, "bad").await?;
        if reasons.iter().any(|r| r == "HealthChanged") { Ok(Some(reasons)) } else { anyhow::bail!("{reasons:?}") }
    })
    .await?;
    assert!(reasons.iter().any(|r| r == "SyncSucceeded"), "{reasons:?}");
    assert_eq!(reasons.iter().filter(|r| *r == "HealthChanged").count(), 1, "only to Degraded: {reasons:?}");

    // Every line logged inside a reconcile names the app and its revision.
    let log = strip_ansi(&controller.log());
    let applied: Vec<&str> = log.lines().filter(|l| l.contains(" applied ") || l.ends_with(" applied")).collect();
    assert!(!applied.is_empty(), "no 'applied' line in\n{log}");
    for line in applied {
        assert!(line.contains(&format!("reconcile{{app={}/", ns.name)) && line.contains("revision="), "{line}");
    }
    Ok(())
}

/// The log without terminal colour codes.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The sum of `lockstep_kube_requests_total` for one verb.
fn requests(metrics: &str, verb: &str) -> u64 {
    let prefix = format!("lockstep_kube_requests_total{{verb=\"{verb}\",");
    metrics.lines().filter(|l| l.starts_with(&prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok()).sum()
}

/// Credential Secrets, the known-hosts and mirror ConfigMaps and the AppProject come from watches:
/// once synced, reconciles (here five explicit refreshes, each a full pass with a fetch) list
/// nothing. Before, each pass listed the Secrets of the Application's namespace.
#[tokio::test]
async fn a_reconcile_reads_credentials_and_projects_from_watches_not_per_pass() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-lookups").await?;
    let repo = GitRepo::new();
    repo.write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  value: \"1\"\n");
    repo.commit("one");
    let addr = free_addr();
    let _controller = ControllerProcess::start(&ns.name, &["--metrics-addr", &addr.to_string()])?;
    let spec = json!({"source": {"repoURL": repo.url(), "targetRevision": "main"}, "syncPolicy": {"automated": {}}});
    apply_app(&client, &ns.name, "quiet", spec).await?;
    lockstep_e2e::apps::wait_reason(&client, &ns.name, "quiet", "Succeeded").await?;
    let before = get(addr, "/metrics").await?.body;
    for _ in 0..5 {
        refreshed(&client, &ns.name, "quiet").await?;
    }
    let after = get(addr, "/metrics").await?.body;
    assert_eq!(requests(&after, "list"), requests(&before, "list"), "a pass listed something:\n{after}");
    Ok(())
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 0
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: main
        image: registry.invalid/web:1
";

/// Managed objects found in sync are not read again while their kinds' watches report them
/// unchanged: passes over a converged Application (here five refreshes, each a full pass) make no
/// GET at all. A change to one of them is still read, healed and reported.
#[tokio::test]
async fn a_pass_over_unchanged_objects_reads_none_of_them() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-unread").await?;
    let repo = GitRepo::new();
    repo.write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  value: \"1\"\n");
    repo.write("deployment.yaml", DEPLOYMENT);
    repo.commit("one");
    let addr = free_addr();
    let _controller =
        ControllerProcess::start(&ns.name, &["--metrics-addr", &addr.to_string(), "--leader-elect=false"])?;
    let spec = json!({"source": {"repoURL": repo.url(), "targetRevision": "main"}, "syncPolicy": {"automated": {"selfHeal": true}}});
    apply_app(&client, &ns.name, "still", spec).await?;
    wait_app(&client, &ns.name, "still", "Synced and Healthy", |app| {
        app.status.as_ref().is_some_and(|s| {
            s.sync.status == lockstep_api::SyncStatusCode::Synced && s.health.status == HealthStatusCode::Healthy
        })
    })
    .await?;
    // One more pass, so that every object has been found in sync at the version its watch reports.
    refreshed(&client, &ns.name, "still").await?;
    let before = get(addr, "/metrics").await?.body;
    for _ in 0..5 {
        refreshed(&client, &ns.name, "still").await?;
    }
    let after = get(addr, "/metrics").await?.body;
    assert_eq!(requests(&after, "get"), requests(&before, "get"), "a pass read something:\n{after}");

    // Drift is still seen: the watch reports a new version, the object is read and healed.
    let config_maps = kube::Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(client.clone(), &ns.name);
    let edit = json!({"data": {"value": "by hand"}});
    config_maps.patch("cm", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&edit)).await?;
    wait_for("the edit healed", Duration::from_secs(30), || async {
        let value = config_maps.get("cm").await?.data.and_then(|d| d.get("value").cloned());
        if value.as_deref() == Some("1") { Ok(Some(())) } else { anyhow::bail!("value is {value:?}") }
    })
    .await?;
    let healed = get(addr, "/metrics").await?.body;
    assert!(requests(&healed, "get") > requests(&after, "get"), "the changed object was read");
    Ok(())
}

/// Refreshes the Application and waits until a pass has observed the refresh.
async fn refreshed(client: &kube::Client, namespace: &str, name: &str) -> anyhow::Result<()> {
    let token = lockstep_e2e::apps::refresh(client, namespace, name).await?;
    wait_app(client, namespace, name, "refresh observed", |app| {
        app.status.as_ref().and_then(|s| s.observed_refresh.as_deref()) == Some(token.as_str())
    })
    .await?;
    Ok(())
}
