//! Remote destination clusters end to end: a second control plane (`cargo xtask cluster up --name`)
//! registered with cluster Secrets in both Argo CD forms (`config` and `kubeconfig`). Applications
//! deploy there and heal drift there; when it goes down its Applications turn `ClusterUnreachable`
//! while an Application of the controller's own cluster keeps syncing; when it comes back (with new
//! ports and certificates, so its Secrets change) they recover without a restart.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams};
use lockstep_e2e::apps::{apply_app, ready, refresh, wait_app, wait_reason};
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::remote::RemoteCluster;
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::{Value, json};

fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n")
}

fn app(repo: &GitRepo, path: &str, destination: Value) -> Value {
    json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main", "path": path},
        "destination": destination,
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
    })
}

async fn value(client: &kube::Client, ns: &str, name: &str) -> Option<String> {
    Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await.ok()??.data?.get("value").cloned()
}

fn register(remote: &RemoteCluster, ns: &str) -> anyhow::Result<()> {
    kubectl_ok(&["apply", "-f", "-"], Some(&remote.config_secret(ns, "cluster-east", "east")?))?;
    kubectl_ok(&["apply", "-f", "-"], Some(&remote.kubeconfig_secret(ns, "cluster-east-kc", "east-kc")?))?;
    Ok(())
}

fn is_ready(a: &lockstep_api::Application) -> bool {
    ready(a).is_some_and(|c| c.status == "True")
}

#[tokio::test]
async fn deploys_to_a_remote_cluster_and_survives_its_outage() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-clusters").await?;
    let remote = RemoteCluster::up("e2e-remote")?;
    let remote_client = remote.client().await?;
    let remote_ns = ns.name.clone();
    kubectl_ok(
        &["--kubeconfig", &remote.kubeconfig_path().display().to_string(), "create", "namespace", &remote_ns],
        None,
    )?;

    let repo = GitRepo::new();
    repo.write("east/cm.yaml", &config_map("east", "1"));
    repo.write("east-kc/cm.yaml", &config_map("east-kc", "1"));
    repo.write("local/cm.yaml", &config_map("local", "1"));
    repo.commit("three apps");
    register(&remote, &ns.name)?;
    let _controller = ControllerProcess::start(
        &ns.name,
        &["--controller-namespace", &ns.name, "--resync-period", "10s", "--fetch-retry-period", "3s"],
    )?;

    apply_app(&client, &ns.name, "east", app(&repo, "east", json!({"name": "east", "namespace": remote_ns}))).await?;
    apply_app(&client, &ns.name, "east-kc", app(&repo, "east-kc", json!({"name": "east-kc", "namespace": remote_ns})))
        .await?;
    apply_app(&client, &ns.name, "local", app(&repo, "local", json!({"namespace": ns.name}))).await?;
    for name in ["east", "east-kc", "local"] {
        wait_app(&client, &ns.name, name, "Synced and Ready", is_ready).await?;
    }
    assert_eq!(value(&remote_client, &remote_ns, "east").await.as_deref(), Some("1"));
    assert_eq!(value(&remote_client, &remote_ns, "east-kc").await.as_deref(), Some("1"));
    assert_eq!(value(&client, &ns.name, "east").await, None, "nothing of a remote Application lands locally");
    assert_eq!(value(&client, &ns.name, "local").await.as_deref(), Some("1"));

    // Drift in the remote cluster is seen by that cluster's watches and healed.
    Api::<ConfigMap>::namespaced(remote_client.clone(), &remote_ns).delete("east", &DeleteParams::default()).await?;
    wait_for("the remote ConfigMap to be recreated", Duration::from_secs(30), || async {
        Ok(value(&remote_client, &remote_ns, "east").await.map(drop))
    })
    .await?;

    // The remote cluster goes away: its Applications say so, the local one keeps syncing.
    remote.down()?;
    let down = wait_reason(&client, &ns.name, "east", "ClusterUnreachable").await?;
    let message = ready(&down).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("east"), "{message}");
    wait_reason(&client, &ns.name, "east-kc", "ClusterUnreachable").await?;
    repo.write("local/cm.yaml", &config_map("local", "2"));
    repo.commit("local change during the outage");
    let started = Instant::now();
    refresh(&client, &ns.name, "local").await?;
    wait_for("the local Application to sync during the outage", Duration::from_secs(30), || async {
        Ok((value(&client, &ns.name, "local").await.as_deref() == Some("2")).then_some(()))
    })
    .await?;
    assert!(started.elapsed() < Duration::from_secs(15), "local sync took {:?}", started.elapsed());

    // It comes back with new ports and certificates: updating its Secrets is enough.
    let remote = RemoteCluster::up("e2e-remote")?;
    let remote_client = remote.client().await?;
    kubectl_ok(
        &["--kubeconfig", &remote.kubeconfig_path().display().to_string(), "create", "namespace", &remote_ns],
        None,
    )?;
    register(&remote, &ns.name)?;
    for name in ["east", "east-kc"] {
        wait_app(&client, &ns.name, name, "Synced and Ready after the outage", is_ready).await?;
    }
    assert_eq!(value(&remote_client, &remote_ns, "east").await.as_deref(), Some("1"));

    // The resources finalizer deletes what the Application manages in the remote cluster.
    let finalizer = json!({"metadata": {"finalizers": ["resources-finalizer.lockstep.dev"]}});
    kubectl_ok(
        &["patch", "application", "east", "-n", &ns.name, "--type", "merge", "-p", &finalizer.to_string()],
        None,
    )?;
    kubectl_ok(&["delete", "application", "east", "-n", &ns.name, "--wait=false"], None)?;
    wait_for("the remote ConfigMap to be deleted with its Application", Duration::from_secs(30), || async {
        Ok(value(&remote_client, &remote_ns, "east").await.is_none().then_some(()))
    })
    .await?;
    assert_eq!(value(&remote_client, &remote_ns, "east-kc").await.as_deref(), Some("1"));
    Ok(())
}

#[tokio::test]
async fn an_unknown_cluster_is_named() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-no-cluster").await?;
    let repo = GitRepo::new();
    repo.write("app/cm.yaml", &config_map("x", "1"));
    repo.commit("one");
    let _controller = ControllerProcess::start(&ns.name, &["--controller-namespace", &ns.name])?;
    apply_app(&client, &ns.name, "nowhere", app(&repo, "app", json!({"name": "north", "namespace": ns.name}))).await?;
    let app = wait_reason(&client, &ns.name, "nowhere", "ClusterNotFound").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("name \"north\""), "{message}");
    Ok(())
}
