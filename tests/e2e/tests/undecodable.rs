//! An Application the controller cannot decode (here a status timestamp the API server's format
//! check accepts but RFC 3339 does not) is left out with a condition and an Event; the other
//! Applications keep syncing, and the broken one recovers once fixed.

use lockstep_e2e::apps::{apply_app, refresh, wait_event_reasons, wait_reason};
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::{Value, json};
use std::time::Duration;

fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n")
}

fn set_history(ns: &str, deployed_at: &str) -> anyhow::Result<()> {
    let patch = json!({"status": {"history": [{"id": 0, "revision": "0", "deployedAt": deployed_at}]}});
    kubectl_ok(
        &[
            "patch",
            "applications.lockstep.dev",
            "broken",
            "-n",
            ns,
            "--subresource=status",
            "--type",
            "merge",
            "-p",
            &patch.to_string(),
        ],
        None,
    )?;
    Ok(())
}

fn ready_of(ns: &str, name: &str) -> anyhow::Result<Value> {
    let text = kubectl_ok(&["get", "applications.lockstep.dev", name, "-n", ns, "-o", "json"], None)?;
    let app: Value = serde_json::from_str(&text)?;
    let conditions = app["status"]["conditions"].as_array().cloned().unwrap_or_default();
    Ok(conditions.into_iter().find(|c| c["type"] == "Ready").unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_undecodable_application_is_reported_and_does_not_stall_the_others() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-undecodable").await?;
    let repo = GitRepo::new();
    repo.write("good/cm.yaml", &config_map("good", "1"));
    repo.write("broken/cm.yaml", &config_map("broken", "1"));
    repo.commit("one");
    let spec = |path: &str| {
        json!({
            "source": {"repoURL": repo.url(), "targetRevision": "main", "path": path},
            "syncPolicy": {"automated": {"prune": true}},
        })
    };
    apply_app(&client, &ns.name, "broken", spec("broken")).await?;
    set_history(&ns.name, "2026-12-03T13:00:00x5Z")?;
    let _controller = ControllerProcess::start(&ns.name, &["--resync-period", "5s"])?;
    apply_app(&client, &ns.name, "good", spec("good")).await?;
    wait_reason(&client, &ns.name, "good", "Succeeded").await?;

    let condition = wait_for("the broken Application's condition", Duration::from_secs(60), || async {
        let ready = ready_of(&ns.name, "broken")?;
        if ready["reason"] == "InvalidSpec" { Ok(Some(ready)) } else { anyhow::bail!("Ready is {ready}") }
    })
    .await?;
    let message = condition["message"].as_str().unwrap_or_default();
    assert!(message.contains("cannot read this Application") && message.contains("--subresource=status"), "{message}");
    wait_event_reasons(&client, &ns.name, "broken", &["InvalidSpec"]).await?;
    let broken_cm = kubectl_ok(&["get", "configmaps", "-n", &ns.name, "-o", "name"], None)?;
    assert!(!broken_cm.contains("configmap/broken"), "nothing is synced for it: {broken_cm}");

    // The watch is not stalled: a new commit reaches the good Application.
    repo.write("good/cm.yaml", &config_map("good", "2"));
    let second = repo.commit("two");
    refresh(&client, &ns.name, "good").await?;
    wait_for("good at the new commit", Duration::from_secs(60), || async {
        let value = kubectl_ok(&["get", "configmap", "good", "-n", &ns.name, "-o", "jsonpath={.data.value}"], None)?;
        if value.trim() == "2" { Ok(Some(())) } else { anyhow::bail!("value {value}") }
    })
    .await?;

    // Fixed, it is read again and syncs.
    set_history(&ns.name, "2026-12-03T13:00:00Z")?;
    let fixed = wait_reason(&client, &ns.name, "broken", "Succeeded").await?;
    assert_eq!(fixed.status.and_then(|s| s.sync.revision), Some(second));
    Ok(())
}
