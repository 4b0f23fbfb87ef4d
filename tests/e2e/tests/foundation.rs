//! The first sync, end to end: the lockstep binary against the real control plane.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Event};
use kube::api::{Api, ListParams};
use lockstep_api::{HealthStatusCode, SyncStatusCode};
use lockstep_e2e::apps::{apply_app, get_app, ready, refresh, wait_app, wait_reason};
use lockstep_e2e::cluster::kubectl;
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::json;

fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n")
}

fn automated(repo: &GitRepo, path: &str) -> serde_json::Value {
    json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main", "path": path},
        "syncPolicy": {"automated": {"prune": false, "selfHeal": false}},
    })
}

async fn config_map_value(client: &kube::Client, ns: &str, name: &str) -> Option<String> {
    let cm = Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await.ok()??;
    cm.data?.get("value").cloned()
}

async fn event_reasons(client: &kube::Client, ns: &str, app: &str) -> anyhow::Result<Vec<String>> {
    let events = Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default().fields(&format!("involvedObject.name={app}")))
        .await?;
    Ok(events.items.into_iter().filter_map(|e| e.reason).collect())
}

#[tokio::test]
async fn syncs_a_repo_then_follows_a_new_commit_on_refresh() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-first-sync").await?;
    let repo = GitRepo::new();
    repo.write("app/config.yaml", &format!("{}---\n{}", config_map("first", "1"), config_map("second", "2")));
    repo.write(
        "app/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n",
    );
    repo.write("app/nested/ignored.yaml", &config_map("nested", "x"));
    repo.write("app/README.md", "not a manifest");
    let first = repo.commit("first");
    let _controller = ControllerProcess::start(&ns.name, &[])?;

    let mut spec = automated(&repo, "app");
    spec["destination"] = json!({"namespace": ns.name});
    apply_app(&client, &ns.name, "web", spec).await?;
    let app = wait_app(&client, &ns.name, "web", "Synced and Ready", |app| {
        ready(app).is_some_and(|c| c.status == "True")
    })
    .await?;
    let status = app.status.as_ref().expect("status");
    assert_eq!(status.sync.status, SyncStatusCode::Synced);
    assert_eq!(status.sync.revision.as_deref(), Some(first.as_str()));
    assert_eq!(status.health.status, HealthStatusCode::Healthy);
    assert_eq!(status.observed_generation, app.metadata.generation);
    assert!(status.reconciled_at.is_some());
    let mut names: Vec<_> = status.resources.iter().map(|r| format!("{}/{}", r.kind, r.name)).collect();
    names.sort();
    assert_eq!(names, vec!["ConfigMap/first", "ConfigMap/second", "Service/web"]);
    assert!(status.resources.iter().all(|r| r.namespace.as_deref() == Some(ns.name.as_str())));
    assert_eq!(config_map_value(&client, &ns.name, "first").await.as_deref(), Some("1"));
    assert_eq!(config_map_value(&client, &ns.name, "nested").await, None, "subdirectories need directory.recurse");
    let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns.name).get("first").await?;
    let managers: Vec<_> = cm.metadata.managed_fields.unwrap_or_default().into_iter().filter_map(|m| m.manager).collect();
    assert!(managers.contains(&"lockstep".to_string()), "managers: {managers:?}");

    // kubectl shows SYNC and HEALTH by default, REVISION and the Ready message with -o wide.
    let out = kubectl(&["get", "applications", "-n", &ns.name], None);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.lines().next().is_some_and(|h| h.contains("SYNC") && h.contains("HEALTH") && h.contains("AGE")), "{table}");
    assert!(table.contains("Synced") && table.contains("Healthy"), "{table}");
    let wide = String::from_utf8_lossy(&kubectl(&["get", "lsapp", "-n", &ns.name, "-o", "wide"], None).stdout).into_owned();
    assert!(wide.contains("REVISION") && wide.contains(&first) && wide.contains("Synced to"), "{wide}");

    // A second commit reaches the cluster when the refresh annotation changes.
    repo.write("app/config.yaml", &format!("{}---\n{}", config_map("first", "changed"), config_map("third", "3")));
    let second = repo.commit("second");
    refresh(&client, &ns.name, "web").await?;
    let app = wait_app(&client, &ns.name, "web", "the second commit", |app| {
        app.status.as_ref().is_some_and(|s| s.sync.revision.as_deref() == Some(second.as_str()))
            && ready(app).is_some_and(|c| c.status == "True")
    })
    .await?;
    assert_eq!(config_map_value(&client, &ns.name, "first").await.as_deref(), Some("changed"));
    assert_eq!(config_map_value(&client, &ns.name, "third").await.as_deref(), Some("3"));
    assert_eq!(app.status.as_ref().map(|s| s.resources.len()), Some(3), "only objects rendered at the new commit are listed");
    assert_eq!(config_map_value(&client, &ns.name, "second").await.as_deref(), Some("2"), "nothing is pruned without prune");
    let reasons = event_reasons(&client, &ns.name, "web").await?;
    assert!(reasons.iter().any(|r| r == "Applied") && reasons.iter().any(|r| r == "Succeeded"), "{reasons:?}");
    Ok(())
}
