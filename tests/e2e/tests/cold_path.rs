//! The cold path's API requests: Applications of the benchmark's shape (a ServiceAccount, a
//! Service, a ConfigMap and a Deployment each, the Deployment at 0 replicas so kwok's Pods are not
//! needed for it to turn Available) converge with at most eight requests of the controller per
//! Application, counted by the controller itself (`lockstep_kube_requests_total`), and no managed
//! object is read once found in sync: a change of its status alone (the Deployment's controller
//! writing progress) is answered from the managed-object watch.
//!
//! What is counted: every request the controller makes while ten Applications are created and
//! converge, except `watch` and `list` (one per watched kind and namespace, shared by all
//! Applications, not per Application). A first Application of the same shape converges before
//! counting starts, so discovery and the start of each kind's watch (shared costs too) are not in
//! the count. What is left per Application is its own: the applies, the finalizer, the status
//! writes, the Events and any read of a managed object.

use std::collections::BTreeMap;
use std::time::Duration;

use lockstep_api::{HealthStatusCode, SyncStatusCode};
use lockstep_e2e::apps::{apply_app, event_reasons, get_app};
use lockstep_e2e::http::{free_addr, get};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::json;

/// Applications counted.
const APPS: u64 = 10;
/// The target: requests of the controller per Application on a cold start: four applies,
/// two status writes (the sync, then Healthy) and one Event make seven; on a loaded machine a
/// Deployment controller's status writes may outlast the settling window
/// (`crates/clusters/src/settle.rs`) and a passing state be written once more.
const PER_APP: u64 = 8;

/// The four objects of one Application, named after it.
fn objects(name: &str) -> String {
    format!(
        "apiVersion: v1
kind: ServiceAccount
metadata:
  name: {name}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  app: {name}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector:
    app: {name}
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 0
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      serviceAccountName: {name}
      containers:
      - name: main
        image: registry.invalid/{name}:1
"
    )
}

/// `lockstep_kube_requests_total` by (verb, code).
fn requests(metrics: &str) -> BTreeMap<(String, String), u64> {
    let mut counts = BTreeMap::new();
    for line in metrics.lines().filter(|l| l.starts_with("lockstep_kube_requests_total{")) {
        let label = |name: &str| {
            let start = line.find(&format!("{name}=\""))? + name.len() + 2;
            line[start..].split('"').next().map(str::to_string)
        };
        let (Some(verb), Some(code), Some(Ok(count))) =
            (label("verb"), label("code"), line.rsplit(' ').next().map(str::parse::<u64>))
        else {
            continue;
        };
        counts.insert((verb, code), count);
    }
    counts
}

/// The requests made between two readings, by (verb, code), without `watch` and `list`.
fn own_requests(before: &str, after: &str) -> BTreeMap<(String, String), u64> {
    let before = requests(before);
    requests(after)
        .into_iter()
        .filter(|((verb, _), _)| verb != "watch" && verb != "list")
        .map(|(key, count)| {
            let made = count - before.get(&key).copied().unwrap_or(0);
            (key, made)
        })
        .filter(|(_, made)| *made > 0)
        .collect()
}

async fn converged(client: &kube::Client, namespace: &str, name: &str) -> anyhow::Result<bool> {
    let app = get_app(client, namespace, name).await?;
    Ok(app.status.as_ref().is_some_and(|s| {
        s.sync.status == SyncStatusCode::Synced
            && s.health.status == HealthStatusCode::Healthy
            && s.operation_state.as_ref().is_some_and(|op| op.phase == lockstep_api::OperationPhase::Succeeded)
    }))
}

async fn create_and_converge(
    client: &kube::Client,
    namespace: &str,
    repo: &GitRepo,
    names: &[String],
) -> anyhow::Result<()> {
    for name in names {
        let spec = json!({
            "source": {"repoURL": repo.url(), "targetRevision": "main", "path": format!("apps/{name}")},
            "destination": {"namespace": namespace},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
        });
        apply_app(client, namespace, name, spec).await?;
    }
    wait_for("every Application Synced and Healthy", Duration::from_secs(120), || async {
        let mut waiting = Vec::new();
        for name in names {
            if !converged(client, namespace, name).await? {
                waiting.push(name.clone());
            }
        }
        if waiting.is_empty() { Ok(Some(())) } else { anyhow::bail!("not converged yet: {waiting:?}") }
    })
    .await
}

/// The metrics once the request counters stop moving (status writes and Events follow the
/// condition a test waits on): two readings three seconds apart agree.
async fn settled_metrics(addr: std::net::SocketAddr) -> anyhow::Result<String> {
    let mut last = get(addr, "/metrics").await?.body;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let now = get(addr, "/metrics").await?.body;
        if requests(&now) == requests(&last) {
            return Ok(now);
        }
        last = now;
    }
    anyhow::bail!("the request counters kept moving for a minute")
}

#[tokio::test]
async fn a_cold_start_costs_at_most_eight_requests_per_application() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-cold-path").await?;
    let repo = GitRepo::new();
    let names: Vec<String> = (0..APPS).map(|i| format!("app-{i}")).collect();
    repo.write("apps/warm/objects.yaml", &objects("warm"));
    for name in &names {
        repo.write(&format!("apps/{name}/objects.yaml"), &objects(name));
    }
    repo.commit("apps");
    let addr = free_addr();
    let _controller =
        ControllerProcess::start(&ns.name, &["--metrics-addr", &addr.to_string(), "--leader-elect=false"])?;
    create_and_converge(&client, &ns.name, &repo, &["warm".to_string()]).await?;
    let before = settled_metrics(addr).await?;

    create_and_converge(&client, &ns.name, &repo, &names).await?;
    let after = settled_metrics(addr).await?;
    let made = own_requests(&before, &after);
    let total: u64 = made.values().sum();
    let breakdown = format!("{APPS} Applications, {total} requests: {made:?}");
    eprintln!("{breakdown}");

    let count = |verb: &str, code: &str| made.get(&(verb.to_string(), code.to_string())).copied().unwrap_or(0);
    assert_eq!(count("get", "404"), 0, "an object that did not exist was read before its create: {breakdown}");
    assert_eq!(count("patch", "201"), 4 * APPS, "one apply creates each object: {breakdown}");
    assert!(count("create", "201") <= APPS, "more than one Event per first sync: {breakdown}");
    assert_eq!(count("get", "200"), 0, "an object found in sync was read again: {breakdown}");
    assert!(total <= PER_APP * APPS, "more than {PER_APP} requests per Application: {breakdown}");

    let reasons = event_reasons(&client, &ns.name, "app-0").await?;
    assert_eq!(reasons, ["SyncSucceeded"], "a first sync's Events");
    Ok(())
}
