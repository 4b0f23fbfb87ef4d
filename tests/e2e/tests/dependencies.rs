//! `spec.dependsOn` end to end: a chain A ← B ← C syncs in order, each as soon as its dependency
//! turns Ready (event-driven: the resync period is an hour); a cycle and a missing dependency are
//! named on the Ready condition; deleting a dependency deletes nothing of its dependents.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams};
use lockstep_api::{Application, HealthStatusCode, SyncStatusCode};
use lockstep_e2e::apps::{apply_app, get_app, ready, wait_app, wait_reason};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::{Value, json};

fn config_map(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"1\"\n")
}

/// A Deployment kwok makes Ready at once, held Progressing by `minReadySeconds` for a while after.
fn slow_deployment(name: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  minReadySeconds: 10\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: main\n        image: registry.example/{name}:1\n"
    )
}

fn spec(repo: &GitRepo, path: &str, depends_on: &[&str]) -> Value {
    let deps: Vec<Value> = depends_on.iter().map(|d| json!({"name": d})).collect();
    json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main", "path": path},
        "dependsOn": deps,
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
    })
}

async fn exists(client: &kube::Client, ns: &str, name: &str) -> bool {
    Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await.ok().flatten().is_some()
}

fn is_ready(app: &Application) -> bool {
    ready(app).is_some_and(|c| c.status == "True")
}

/// When the Application's last operation started (its sync of the current revision).
fn sync_started(app: &Application) -> Option<k8s_openapi::jiff::Timestamp> {
    Some(app.status.as_ref()?.operation_state.as_ref()?.started_at.0)
}

/// When the Ready condition last turned True.
fn ready_since(app: &Application) -> Option<k8s_openapi::jiff::Timestamp> {
    ready(app).filter(|c| c.status == "True").map(|c| c.last_transition_time.0)
}

#[tokio::test]
async fn a_chain_syncs_in_order_as_each_dependency_turns_ready() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-deps-chain").await?;
    let repo = GitRepo::new();
    repo.write("a/deploy.yaml", &slow_deployment("storage"));
    repo.write("b/cm.yaml", &config_map("registry"));
    repo.write("c/cm.yaml", &config_map("openstack"));
    repo.commit("three layers");
    let _controller = ControllerProcess::start(&ns.name, &["--resync-period", "1h"])?;
    apply_app(&client, &ns.name, "c", spec(&repo, "c", &["b"])).await?;
    apply_app(&client, &ns.name, "b", spec(&repo, "b", &["a"])).await?;
    apply_app(&client, &ns.name, "a", spec(&repo, "a", &[])).await?;

    // A is synced but Progressing; B and C wait and apply nothing, and say why.
    wait_app(&client, &ns.name, "a", "a Synced and Progressing", |app| {
        app.status.as_ref().is_some_and(|s| {
            s.sync.status == SyncStatusCode::Synced && s.health.status == HealthStatusCode::Progressing
        })
    })
    .await?;
    let b = wait_reason(&client, &ns.name, "b", "DependencyNotReady").await?;
    let message = ready(&b).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains(&format!("{}/a", ns.name)), "B names what it waits for: {message}");
    let c = wait_reason(&client, &ns.name, "c", "DependencyNotReady").await?;
    assert!(ready(&c).is_some_and(|c| c.message.contains("/b")), "C waits for B");
    assert!(!exists(&client, &ns.name, "registry").await, "B applied nothing while A is Progressing");
    assert!(!exists(&client, &ns.name, "openstack").await, "C applied nothing");
    assert_eq!(b.status.as_ref().map(|s| s.sync.status), Some(SyncStatusCode::OutOfSync), "B reports its drift");

    // A turns Healthy; B then C follow, each starting after its dependency turned Ready.
    let a = wait_app(&client, &ns.name, "a", "a Ready", is_ready).await?;
    let b = wait_app(&client, &ns.name, "b", "b Ready", is_ready).await?;
    let c = wait_app(&client, &ns.name, "c", "c Ready", is_ready).await?;
    let (a_ready, b_started) = (ready_since(&a).expect("a Ready"), sync_started(&b).expect("b synced"));
    let (b_ready, c_started) = (ready_since(&b).expect("b Ready"), sync_started(&c).expect("c synced"));
    assert!(b_started >= a_ready, "B started {b_started} before A was Ready at {a_ready}");
    assert!(c_started >= b_ready, "C started {c_started} before B was Ready at {b_ready}");
    assert!(exists(&client, &ns.name, "registry").await && exists(&client, &ns.name, "openstack").await);

    // Deleting a dependency does not cascade: B keeps its objects and names the missing dependency.
    Api::<Application>::namespaced(client.clone(), &ns.name).delete("a", &DeleteParams::default()).await?;
    let b = wait_reason(&client, &ns.name, "b", "DependencyNotReady").await?;
    assert!(ready(&b).is_some_and(|c| c.message.contains("not found")), "{:?}", ready(&b));
    assert!(exists(&client, &ns.name, "registry").await, "B's objects stay");
    let deployments = Api::<Deployment>::namespaced(client.clone(), &ns.name);
    assert!(deployments.get_opt("storage").await?.is_some(), "A had no finalizer: its objects stay too");
    Ok(())
}

#[tokio::test]
async fn a_cycle_and_a_missing_dependency_are_named() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-deps-cycle").await?;
    let repo = GitRepo::new();
    for dir in ["x", "y", "z"] {
        repo.write(&format!("{dir}/cm.yaml"), &config_map(&format!("cm-{dir}")));
    }
    repo.commit("three");
    let _controller = ControllerProcess::start(&ns.name, &["--resync-period", "1h"])?;
    apply_app(&client, &ns.name, "x", spec(&repo, "x", &["y"])).await?;
    apply_app(&client, &ns.name, "y", spec(&repo, "y", &["x"])).await?;
    apply_app(&client, &ns.name, "z", spec(&repo, "z", &["nowhere"])).await?;
    for name in ["x", "y"] {
        let app = wait_reason(&client, &ns.name, name, "DependencyNotReady").await?;
        let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
        assert!(message.contains("cycle") && message.contains("/x") && message.contains("/y"), "{message}");
    }
    let z = wait_reason(&client, &ns.name, "z", "DependencyNotReady").await?;
    let message = ready(&z).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains(&format!("{}/nowhere", ns.name)) && message.contains("not found"), "{message}");
    for name in ["cm-x", "cm-y", "cm-z"] {
        assert!(!exists(&client, &ns.name, name).await, "{name} was not applied");
    }

    // The missing dependency appears (with nothing to deploy but a ConfigMap): z follows it.
    apply_app(&client, &ns.name, "nowhere", spec(&repo, "x", &[])).await?;
    wait_app(&client, &ns.name, "z", "z Ready once its dependency exists", is_ready).await?;
    assert!(exists(&client, &ns.name, "cm-z").await);
    let y = get_app(&client, &ns.name, "y").await?;
    assert_eq!(ready(&y).map(|c| c.reason.as_str()), Some("DependencyNotReady"), "the cycle still holds");
    Ok(())
}
