//! The sync engine end to end: prune, self-heal from watches, shared objects, tracking.

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use lockstep_api::SyncStatusCode;
use lockstep_e2e::apps::{apply_app, get_app, ready, refresh, wait_app, wait_reason};
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::json;

fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n")
}

fn spec(repo: &GitRepo, prune: bool, self_heal: bool) -> serde_json::Value {
    json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main"},
        "syncPolicy": {"automated": {"prune": prune, "selfHeal": self_heal}},
    })
}

async fn value(client: &kube::Client, ns: &str, name: &str) -> Option<String> {
    let cm = Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await.ok()??;
    cm.data?.get("value").cloned()
}

async fn edit(client: &kube::Client, ns: &str, name: &str, to: &str) -> anyhow::Result<()> {
    let patch = json!({"data": {"value": to}});
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

#[tokio::test]
async fn objects_carry_tracking_and_the_inventory_lists_them() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-tracking").await?;
    let repo = GitRepo::new();
    repo.write("a.yaml", &config_map("a", "1"));
    repo.commit("one");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "tracked", spec(&repo, true, false)).await?;
    let app = wait_reason(&client, &ns.name, "tracked", "Succeeded").await?;
    let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns.name).get("a").await?;
    let annotations = cm.metadata.annotations.unwrap_or_default();
    assert_eq!(annotations.get("lockstep.dev/tracking-id"), Some(&format!("{0}/tracked:/ConfigMap:{0}/a", ns.name)));
    assert_eq!(cm.metadata.labels.unwrap_or_default().get("lockstep.dev/managed").map(String::as_str), Some("true"));
    let inventory = app.status.and_then(|s| s.inventory).expect("inventory");
    let expected =
        serde_json::json!({"groups": [{"version": "v1", "kind": "ConfigMap", "namespace": ns.name, "names": ["a"]}]});
    assert_eq!(serde_json::to_value(&inventory)?, expected, "the documented grouped form");
    Ok(())
}

#[tokio::test]
async fn prune_deletes_only_with_prune_and_never_on_an_empty_or_broken_render() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-prune").await?;
    let repo = GitRepo::new();
    repo.write("a.yaml", &config_map("a", "1"));
    repo.write("b.yaml", &config_map("b", "1"));
    repo.write(
        "keep.yaml",
        &config_map("keep", "1")
            .replace("metadata:\n", "metadata:\n  annotations:\n    lockstep.dev/prune: disabled\n"),
    );
    repo.commit("three");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "prune", spec(&repo, false, false)).await?;
    wait_reason(&client, &ns.name, "prune", "Succeeded").await?;

    // Prune off: b leaves git, stays in the cluster, and is reported as awaiting pruning.
    repo.remove("b.yaml");
    repo.commit("drop b");
    refresh(&client, &ns.name, "prune").await?;
    let app = wait_reason(&client, &ns.name, "prune", "OutOfSync").await?;
    assert_eq!(value(&client, &ns.name, "b").await.as_deref(), Some("1"));
    let status = app.status.as_ref().expect("status");
    assert_eq!(status.sync.status, SyncStatusCode::OutOfSync);
    assert!(status.resources.iter().any(|r| r.name == "b" && r.requires_pruning), "{:?}", status.resources);
    assert!(ready(&app).is_some_and(|c| c.message.contains("1 objects left git and await pruning")));

    // A broken render prunes nothing.
    let with_prune = spec(&repo, true, false);
    repo.write("broken.yaml", "kind: [");
    repo.commit("broken");
    apply_app(&client, &ns.name, "prune", with_prune).await?;
    wait_reason(&client, &ns.name, "prune", "RenderFailed").await?;
    assert_eq!(value(&client, &ns.name, "b").await.as_deref(), Some("1"));

    // Prune on, render fixed: b is deleted, `keep` left git too but its annotation protects it.
    repo.remove("broken.yaml");
    repo.remove("keep.yaml");
    repo.commit("fixed, keep removed");
    refresh(&client, &ns.name, "prune").await?;
    wait_for("b pruned", Duration::from_secs(30), || async {
        Ok(value(&client, &ns.name, "b").await.is_none().then_some(()))
    })
    .await?;
    let app = wait_app(&client, &ns.name, "prune", "keep awaiting prune", |app| {
        app.status.as_ref().is_some_and(|s| s.resources.iter().any(|r| r.name == "keep" && r.requires_pruning))
    })
    .await?;
    assert_eq!(value(&client, &ns.name, "keep").await.as_deref(), Some("1"));
    assert_eq!(value(&client, &ns.name, "a").await.as_deref(), Some("1"));
    assert!(!app.status.as_ref().expect("status").resources.iter().any(|r| r.name == "b"));

    // An empty render prunes nothing without allowEmpty.
    repo.remove("a.yaml");
    repo.write("README.md", "nothing to deploy");
    repo.commit("empty");
    refresh(&client, &ns.name, "prune").await?;
    let app = wait_app(&client, &ns.name, "prune", "empty render refused", |app| {
        ready(app).is_some_and(|c| c.message.contains("allowEmpty"))
    })
    .await?;
    assert_eq!(value(&client, &ns.name, "a").await.as_deref(), Some("1"), "{:?}", ready(&app));
    Ok(())
}

#[tokio::test]
async fn self_heal_corrects_edits_and_deletions_from_the_watch() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-self-heal").await?;
    let repo = GitRepo::new();
    repo.write("a.yaml", &config_map("a", "git"));
    repo.commit("one");
    // A long resync period: only the watch can bring the correction within the test's wait.
    let _controller = ControllerProcess::start(&ns.name, &["--resync-period", "1h"])?;
    apply_app(&client, &ns.name, "heal", spec(&repo, true, true)).await?;
    wait_reason(&client, &ns.name, "heal", "Succeeded").await?;

    edit(&client, &ns.name, "a", "edited by hand").await?;
    wait_for("the edit undone", Duration::from_secs(15), || async {
        Ok((value(&client, &ns.name, "a").await.as_deref() == Some("git")).then_some(()))
    })
    .await?;
    kubectl_ok(&["delete", "configmap", "a", "-n", &ns.name], None)?;
    wait_for("the deleted object recreated", Duration::from_secs(15), || async {
        Ok((value(&client, &ns.name, "a").await.as_deref() == Some("git")).then_some(()))
    })
    .await?;
    let app = get_app(&client, &ns.name, "heal").await?;
    assert!(ready(&app).is_some_and(|c| c.status == "True"));
    Ok(())
}

#[tokio::test]
async fn without_self_heal_drift_is_reported_not_corrected() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-drift").await?;
    let repo = GitRepo::new();
    repo.write("a.yaml", &config_map("a", "git"));
    repo.commit("one");
    let _controller = ControllerProcess::start(&ns.name, &["--resync-period", "1h"])?;
    apply_app(&client, &ns.name, "drift", spec(&repo, true, false)).await?;
    wait_reason(&client, &ns.name, "drift", "Succeeded").await?;
    edit(&client, &ns.name, "a", "edited by hand").await?;
    let app = wait_reason(&client, &ns.name, "drift", "OutOfSync").await?;
    assert_eq!(app.status.as_ref().map(|s| s.sync.status), Some(SyncStatusCode::OutOfSync));
    assert_eq!(value(&client, &ns.name, "a").await.as_deref(), Some("edited by hand"));
    // A new commit is synced, and that overwrites the drift.
    repo.write("b.yaml", &config_map("b", "new"));
    repo.commit("two");
    refresh(&client, &ns.name, "drift").await?;
    wait_reason(&client, &ns.name, "drift", "Succeeded").await?;
    assert_eq!(value(&client, &ns.name, "a").await.as_deref(), Some("git"));
    Ok(())
}

#[tokio::test]
async fn an_object_of_another_application_is_not_taken_over() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-shared").await?;
    let repo = GitRepo::new();
    repo.write("shared.yaml", &config_map("shared", "first"));
    repo.commit("one");
    let other = GitRepo::new();
    other.write("shared.yaml", &config_map("shared", "second"));
    other.write("mine.yaml", &config_map("mine", "second"));
    other.commit("one");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "first", spec(&repo, true, true)).await?;
    wait_reason(&client, &ns.name, "first", "Succeeded").await?;
    apply_app(&client, &ns.name, "second", spec(&other, true, true)).await?;
    let app = wait_reason(&client, &ns.name, "second", "SharedResource").await?;
    assert!(
        ready(&app).is_some_and(|c| c.message.contains(&format!("already managed by Application {}/first", ns.name))),
        "{:?}",
        ready(&app)
    );
    assert_eq!(value(&client, &ns.name, "shared").await.as_deref(), Some("first"));
    assert_eq!(value(&client, &ns.name, "mine").await.as_deref(), Some("second"), "the rest still syncs");

    // Deleting the second Application (no finalizer) leaves the first one's object alone.
    Api::<lockstep_api::Application>::namespaced(client.clone(), &ns.name)
        .delete("second", &DeleteParams::default())
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(value(&client, &ns.name, "shared").await.as_deref(), Some("first"));
    Ok(())
}

/// Objects found in sync skip the dry-run while unchanged (engine `verified.rs`); for a kind with a
/// generation, an edit that leaves the generation alone (labels) must still count as a change, and
/// so must one that bumps it (spec), after the controller manager's status updates were seen.
#[tokio::test]
async fn self_heal_sees_metadata_and_spec_edits_of_kinds_with_a_generation() -> anyhow::Result<()> {
    use k8s_openapi::api::apps::v1::Deployment;
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-heal-generation").await?;
    let repo = GitRepo::new();
    repo.write(
        "web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    tier: web\nspec:\n  replicas: 0\n  \
         selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    \
         spec:\n      containers:\n      - name: web\n        image: registry.example/web:1\n",
    );
    repo.commit("one");
    let _controller = ControllerProcess::start(&ns.name, &["--resync-period", "1h"])?;
    apply_app(&client, &ns.name, "gen", spec(&repo, true, true)).await?;
    wait_app(&client, &ns.name, "gen", "Synced and Healthy", |app| ready(app).is_some_and(|c| c.status == "True"))
        .await?;
    let deployments = Api::<Deployment>::namespaced(client.clone(), &ns.name);
    let tier = |d: &Deployment| d.metadata.labels.as_ref().and_then(|l| l.get("tier").cloned());
    let replicas = |d: &Deployment| d.spec.as_ref().and_then(|s| s.replicas);

    let before = deployments.get("web").await?;
    let patch = json!({"metadata": {"labels": {"tier": "edited"}}});
    let edited = deployments.patch("web", &PatchParams::default(), &Patch::Merge(&patch)).await?;
    assert_eq!(edited.metadata.generation, before.metadata.generation, "a label edit keeps the generation");
    wait_for("the label edit undone", Duration::from_secs(15), || async {
        Ok((tier(&deployments.get("web").await?).as_deref() == Some("web")).then_some(()))
    })
    .await?;

    let patch = json!({"spec": {"replicas": 2}});
    deployments.patch("web", &PatchParams::default(), &Patch::Merge(&patch)).await?;
    wait_for("the spec edit undone", Duration::from_secs(15), || async {
        Ok((replicas(&deployments.get("web").await?) == Some(0)).then_some(()))
    })
    .await?;
    Ok(())
}

/// An inventory that lost entries (an old status, a restore, a hand edit) heals: objects carrying
/// the Application's tracking id outside the inventory are found through the managed-object
/// watches and pruned once they leave git, never leaked.
#[tokio::test]
async fn objects_missing_from_the_inventory_are_found_by_tracking_and_pruned() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-orphans").await?;
    let repo = GitRepo::new();
    for name in ["a", "b", "c"] {
        repo.write(&format!("{name}.yaml"), &config_map(name, "1"));
    }
    repo.commit("three");
    let controller = ControllerProcess::start(&ns.name, &["--resync-period", "5s"])?;
    apply_app(&client, &ns.name, "orphans", spec(&repo, true, false)).await?;
    wait_reason(&client, &ns.name, "orphans", "Succeeded").await?;
    let cache = controller.stop();

    // With the controller down: the inventory forgets b and c, and git drops them.
    let a_only = json!({"status": {"inventory": {
        "groups": [{"version": "v1", "kind": "ConfigMap", "namespace": ns.name, "names": ["a"]}]
    }}});
    kubectl_ok(
        &[
            "patch",
            "applications.lockstep.dev",
            "orphans",
            "-n",
            &ns.name,
            "--subresource=status",
            "--type",
            "merge",
            "-p",
            &a_only.to_string(),
        ],
        None,
    )?;
    repo.remove("b.yaml");
    repo.remove("c.yaml");
    repo.commit("only a");
    let _controller = ControllerProcess::start_with_cache(&ns.name, cache, &["--resync-period", "5s"])?;
    wait_for("b and c pruned", Duration::from_secs(90), || async {
        let (b, c) = (value(&client, &ns.name, "b").await, value(&client, &ns.name, "c").await);
        if b.is_none() && c.is_none() { Ok(Some(())) } else { anyhow::bail!("still there: b {b:?}, c {c:?}") }
    })
    .await?;
    assert_eq!(value(&client, &ns.name, "a").await.as_deref(), Some("1"), "what git still has is kept");
    let app = get_app(&client, &ns.name, "orphans").await?;
    let entries = app.status.and_then(|s| s.inventory).map(|i| i.len());
    assert_eq!(entries, Some(1));
    Ok(())
}
