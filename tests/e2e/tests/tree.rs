//! `lockstep tree` end to end: a Deployment's ReplicaSet and Pods (kwok runs them) hang below it,
//! each with its health, beside the other managed objects with their sync status; `-o json` holds
//! the same tree.

use lockstep_e2e::apps::{apply_app, wait_reason};
use lockstep_e2e::cli::lockstep_ok;
use lockstep_e2e::configmaps::config_map;
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::{Value, json};

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: main\n        image: registry.example/web:1\n";

#[tokio::test]
async fn the_tree_shows_what_each_managed_object_owns() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-tree").await?;
    let repo = GitRepo::new();
    repo.write("deploy.yaml", DEPLOYMENT);
    repo.write("cm.yaml", &config_map("settings", "1"));
    repo.commit("web");
    let _controller = ControllerProcess::start(&ns.name, &["--resync-period", "1h"])?;
    let spec = json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main"},
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
    });
    apply_app(&client, &ns.name, "web", spec).await?;
    wait_reason(&client, &ns.name, "web", "Succeeded").await?;

    let text = lockstep_ok(&ns.name, &["tree", "web"])?;
    let lines: Vec<&str> = text.lines().collect();
    let deployment = lines.iter().position(|l| l.starts_with("Deployment ")).expect("a Deployment line");
    assert!(lines[deployment].contains("Synced") && lines[deployment].contains("Healthy"), "{text}");
    assert!(lines[deployment + 1].contains("─ ReplicaSet ") && lines[deployment + 1].contains("Healthy"), "{text}");
    let pods = lines.iter().filter(|l| l.contains("└─ Pod ") || l.contains("├─ Pod ")).count();
    assert_eq!(pods, 2, "both Pods below the ReplicaSet: {text}");
    assert!(lines.iter().any(|l| l.starts_with("ConfigMap ") && l.contains("settings") && l.contains("Synced")));

    let json: Value = serde_json::from_str(&lockstep_ok(&ns.name, &["tree", "web", "-o", "json"])?)?;
    let deployment = json.as_array().and_then(|n| n.iter().find(|n| n["kind"] == "Deployment")).expect("Deployment");
    assert_eq!(deployment["sync"], "Synced");
    let replica_set = &deployment["children"][0];
    assert_eq!((replica_set["kind"].as_str(), replica_set.get("sync")), (Some("ReplicaSet"), None));
    let pods = replica_set["children"].as_array().map(Vec::len);
    assert_eq!(pods, Some(2));
    assert_eq!(replica_set["children"][0]["health"], "Healthy");
    Ok(())
}
