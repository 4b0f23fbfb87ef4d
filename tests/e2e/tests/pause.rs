//! Pausing end to end: `lockstep.dev/paused` on an Application, and on a destination's cluster
//! Secret, stops every write there (no apply, no self-heal, no prune) while fetch, compare and
//! drift reporting go on; the other cluster's Applications keep syncing; unpausing syncs.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, Patch, PatchParams};
use lockstep_api::{Application, PAUSED_ANNOTATION, SyncStatusCode};
use lockstep_e2e::apps::{apply_app, get_app, refresh, wait_app, wait_reason};
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::configmaps::{config_map, value, wait_value};
use lockstep_e2e::remote::RemoteCluster;
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::{Value, json};

fn spec(repo: &GitRepo, path: &str, destination: Value) -> Value {
    json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main", "path": path},
        "destination": destination,
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
    })
}

fn paused(app: &Application) -> bool {
    app.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Paused" && c.status == "True"))
}

/// Sets (or, with `None`, removes) the pause annotation on an Application or a Secret.
async fn annotate(client: &kube::Client, ns: &str, kind: &str, name: &str, value: Option<&str>) -> anyhow::Result<()> {
    let patch = json!({"metadata": {"annotations": {PAUSED_ANNOTATION: value}}});
    let params = PatchParams::default();
    match kind {
        "secret" => {
            drop(Api::<Secret>::namespaced(client.clone(), ns).patch(name, &params, &Patch::Merge(&patch)).await?)
        }
        _ => {
            drop(Api::<Application>::namespaced(client.clone(), ns).patch(name, &params, &Patch::Merge(&patch)).await?)
        }
    }
    Ok(())
}

/// Waits until the Application has compared after the refresh `asked`.
async fn wait_compared(client: &kube::Client, ns: &str, name: &str, asked: &str) -> anyhow::Result<Application> {
    wait_app(client, ns, name, "the refresh seen", |app| {
        app.status.as_ref().is_some_and(|s| s.observed_refresh.as_deref() == Some(asked))
    })
    .await
}

#[tokio::test]
async fn a_paused_application_reports_but_writes_nothing() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-pause-app").await?;
    let repo = GitRepo::new();
    repo.write("app/cm.yaml", &config_map("settings", "1"));
    repo.commit("one");
    let _controller = ControllerProcess::start(&ns.name, &["--resync-period", "1h"])?;
    apply_app(&client, &ns.name, "web", spec(&repo, "app", json!({"namespace": ns.name}))).await?;
    wait_reason(&client, &ns.name, "web", "Succeeded").await?;

    annotate(&client, &ns.name, "application", "web", Some("true")).await?;
    wait_app(&client, &ns.name, "web", "the Paused condition", paused).await?;
    repo.write("app/cm.yaml", &config_map("settings", "2"));
    repo.commit("two, while paused");
    let asked = refresh(&client, &ns.name, "web").await?;
    let app = wait_compared(&client, &ns.name, "web", &asked).await?;
    assert_eq!(app.status.as_ref().map(|s| s.sync.status), Some(SyncStatusCode::OutOfSync), "drift is reported");
    assert_eq!(lockstep_e2e::apps::ready(&app).map(|c| c.reason.as_str()), Some("Paused"));
    assert_eq!(value(&client, &ns.name, "settings").await.as_deref(), Some("1"), "nothing written");

    annotate(&client, &ns.name, "application", "web", None).await?;
    wait_value(&client, &ns.name, "settings", Some("2")).await?;
    let app = wait_reason(&client, &ns.name, "web", "Succeeded").await?;
    assert!(!paused(&app));
    Ok(())
}

#[tokio::test]
async fn a_paused_cluster_stops_writes_to_that_cluster_only() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-pause-cluster").await?;
    let remote = RemoteCluster::up("e2e-remote")?;
    let remote_client = remote.client().await?;
    let kubeconfig = remote.kubeconfig_path().display().to_string();
    kubectl_ok(&["--kubeconfig", &kubeconfig, "create", "namespace", &ns.name], None)?;
    kubectl_ok(&["apply", "-f", "-"], Some(&remote.config_secret(&ns.name, "cluster-east", "east")?))?;
    let repo = GitRepo::new();
    repo.write("east/cm.yaml", &config_map("east", "1"));
    repo.write("local/cm.yaml", &config_map("local", "1"));
    repo.commit("one");
    let _controller =
        ControllerProcess::start(&ns.name, &["--controller-namespace", &ns.name, "--resync-period", "1h"])?;
    apply_app(&client, &ns.name, "east", spec(&repo, "east", json!({"name": "east", "namespace": ns.name}))).await?;
    apply_app(&client, &ns.name, "local", spec(&repo, "local", json!({"namespace": ns.name}))).await?;
    for name in ["east", "local"] {
        wait_reason(&client, &ns.name, name, "Succeeded").await?;
    }

    annotate(&client, &ns.name, "secret", "cluster-east", Some("true")).await?;
    wait_app(&client, &ns.name, "east", "east Paused", paused).await?;
    repo.write("east/cm.yaml", &config_map("east", "2"));
    repo.write("local/cm.yaml", &config_map("local", "2"));
    repo.commit("two");
    let asked = refresh(&client, &ns.name, "east").await?;
    refresh(&client, &ns.name, "local").await?;
    wait_value(&client, &ns.name, "local", Some("2")).await?;
    let east = wait_compared(&client, &ns.name, "east", &asked).await?;
    assert_eq!(east.status.as_ref().map(|s| s.sync.status), Some(SyncStatusCode::OutOfSync));
    assert_eq!(value(&remote_client, &ns.name, "east").await.as_deref(), Some("1"), "the paused cluster is untouched");
    assert!(!paused(&get_app(&client, &ns.name, "local").await?), "the own cluster is not paused");

    // Drift in the paused cluster is reported, not healed.
    let edit = json!({"data": {"value": "by hand"}});
    Api::<ConfigMap>::namespaced(remote_client.clone(), &ns.name)
        .patch("east", &PatchParams::default(), &Patch::Merge(&edit))
        .await?;
    let asked = refresh(&client, &ns.name, "east").await?;
    wait_compared(&client, &ns.name, "east", &asked).await?;
    assert_eq!(value(&remote_client, &ns.name, "east").await.as_deref(), Some("by hand"));

    annotate(&client, &ns.name, "secret", "cluster-east", None).await?;
    wait_value(&remote_client, &ns.name, "east", Some("2")).await?;
    wait_reason(&client, &ns.name, "east", "Succeeded").await?;
    Ok(())
}
