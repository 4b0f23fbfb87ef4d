//! The controller's JSON logs (`--log-format json`), as a log pipeline reads them: one JSON object a
//! line, with a level, a target, a message, and the reconcile span naming the Application and its
//! revision; Kubernetes errors as reason and message, never a `Debug` dump.

use std::time::Duration;

use lockstep_e2e::apps::{apply_app, wait_reason};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::{Value, json};

#[tokio::test]
async fn json_logs_have_one_object_a_line_with_level_target_message_and_the_reconcile_span() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-logs-json").await?;
    let repo = GitRepo::new();
    repo.write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: logged\ndata:\n  value: \"1\"\n");
    // The API server rejects this one, so the log carries a Kubernetes error too.
    repo.write(
        "bad.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad-port\nspec:\n  ports:\n  - port: 700000\n",
    );
    repo.commit("one");
    let controller = ControllerProcess::start(&ns.name, &["--log-format", "json"])?;
    let spec = json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main"},
        "syncPolicy": {"automated": {}},
    });
    apply_app(&client, &ns.name, "logged", spec).await?;
    wait_reason(&client, &ns.name, "logged", "SyncFailed").await?;
    let app = format!("{}/logged", ns.name);
    let lines = wait_for("a log line of the reconcile span", Duration::from_secs(30), || async {
        let log = controller.log();
        let lines: Vec<Value> =
            log.lines().filter(|l| !l.trim().is_empty()).map(serde_json::from_str).collect::<Result<_, _>>()?;
        let spanned = lines.iter().any(|l| l["span"]["name"] == "reconcile" && l["span"]["app"] == app.as_str());
        Ok(spanned.then_some(lines))
    })
    .await?;
    assert!(lines.len() > 3, "{lines:?}");
    for line in &lines {
        for field in ["timestamp", "level", "target"] {
            assert!(line[field].is_string(), "{field} missing: {line}");
        }
        assert!(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&line["level"].as_str().unwrap_or("")), "{line}");
        assert!(line["fields"]["message"].is_string(), "no message: {line}");
    }
    let reconcile = lines.iter().find(|l| l["span"]["name"] == "reconcile" && l["span"]["app"] == app.as_str());
    let revision = reconcile.and_then(|l| l["span"]["revision"].as_str()).unwrap_or_default();
    assert!(revision.is_empty() || revision.len() == 40, "revision in the span: {revision:?}");
    let text = controller.log();
    for dump in ["Status {", "ErrorResponse {", "StatusDetails {"] {
        assert!(!text.contains(dump), "a Debug dump ({dump}) in the log:\n{text}");
    }
    Ok(())
}
