//! Drift modes end to end: under `drift: warn` a hand edit stays (selfHeal or not), is reported by
//! the `Drifted` condition, a `DriftDetected` Event and `lockstep_drift_objects`, and survives the
//! next commit, which applies only what git changed; the `on-drift-detected` notification reaches a
//! Slack stand-in; `lockstep explain` names who changed it; an object annotated
//! `lockstep.dev/drift: ignore` is left alone after creation.

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use lockstep_api::Application;
use lockstep_e2e::apps::{apply_app, event_reasons, refresh, wait_app};
use lockstep_e2e::chat::ChatServer;
use lockstep_e2e::cli::lockstep;
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::http::{free_addr, get};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::json;

fn settings(a: &str, b: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"{a}\"\n  b: \"{b}\"\n")
}

fn seeded(value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: seeded\n  annotations:\n    lockstep.dev/drift: ignore\ndata:\n  value: \"{value}\"\n"
    )
}

async fn data(client: &kube::Client, ns: &str, name: &str, key: &str) -> Option<String> {
    Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await.ok()??.data?.get(key).cloned()
}

fn drifted(app: &Application) -> Option<String> {
    let status = app.status.as_ref()?;
    status.conditions.iter().find(|c| c.type_ == "Drifted" && c.status == "True").map(|c| c.message.clone())
}

#[tokio::test]
async fn warn_reports_drift_keeps_it_across_commits_and_ignore_leaves_objects_alone() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-drift").await?;
    let repo = GitRepo::new();
    repo.write("settings.yaml", &settings("1", "1"));
    repo.write("seeded.yaml", &seeded("from git"));
    repo.commit("one");
    let chat = ChatServer::start("unused", "unused", "unused").await?;
    let notifications = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lockstep-notifications\n  namespace: {ns}\ndata:\n  service.slack: |\n    webhookUrl: {url}/services/T000/B000/XXXX\n",
        ns = ns.name,
        url = chat.url()
    );
    kubectl_ok(&["apply", "-f", "-"], Some(&notifications))?;
    let addr = free_addr().to_string();
    let args = ["--controller-namespace", &ns.name, "--resync-period", "1h", "--metrics-addr", &addr];
    let _controller = ControllerProcess::start(&ns.name, &args)?;
    let spec = json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main"},
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "drift": "warn"},
    });
    apply_app(&client, &ns.name, "web", spec).await?;
    let subscribe = "notifications.lockstep.dev/subscribe.on-drift-detected.slack=#ops";
    kubectl_ok(&["annotate", "application", "web", "-n", &ns.name, subscribe], None)?;
    wait_app(&client, &ns.name, "web", "Synced", |app| {
        app.status.as_ref().is_some_and(|s| s.sync.status == lockstep_api::SyncStatusCode::Synced)
    })
    .await?;
    assert_eq!(data(&client, &ns.name, "seeded", "value").await.as_deref(), Some("from git"), "created");

    // A hand edit (kubectl edit's field manager) is reported, not overwritten, although selfHeal is on.
    let configmaps = Api::<ConfigMap>::namespaced(client.clone(), &ns.name);
    let edit = PatchParams { field_manager: Some("kubectl-edit".into()), ..Default::default() };
    configmaps.patch("settings", &edit, &Patch::Merge(&json!({"data": {"b": "by hand"}}))).await?;
    configmaps.patch("seeded", &edit, &Patch::Merge(&json!({"data": {"value": "by hand"}}))).await?;
    let app = wait_app(&client, &ns.name, "web", "the Drifted condition", |app| drifted(app).is_some()).await?;
    let message = drifted(&app).unwrap_or_default();
    assert!(message.contains("ConfigMap") && message.contains("settings"), "{message}");
    assert!(!message.contains("seeded"), "ignore is not reported as drift: {message}");
    assert_eq!(data(&client, &ns.name, "settings", "b").await.as_deref(), Some("by hand"));
    wait_for("the DriftDetected Event", Duration::from_secs(30), || async {
        let reasons = event_reasons(&client, &ns.name, "web").await?;
        Ok(reasons.iter().any(|r| r == "DriftDetected").then_some(()))
    })
    .await?;
    wait_for("the on-drift-detected notification", Duration::from_secs(60), || async {
        let got = chat.accepted();
        let drift =
            got.iter().any(|r| r.service == "slack" && r.text().contains("Drift Detected") && r.text().contains("web"));
        if drift {
            Ok(Some(()))
        } else {
            anyhow::bail!("received {:?}", got.iter().map(|r| r.text()).collect::<Vec<_>>())
        }
    })
    .await?;
    let series = format!(r#"lockstep_drift_objects{{namespace="{}",name="web",kind="ConfigMap"}} 1"#, ns.name);
    wait_for("lockstep_drift_objects", Duration::from_secs(30), || async {
        let body = get(addr.parse()?, "/metrics").await?.body;
        if body.contains(&series) { Ok(Some(())) } else { anyhow::bail!("no {series}") }
    })
    .await?;

    // `lockstep explain` names the drifted object and who changed it.
    let out = lockstep(&ns.name, &["explain", "web"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("settings") && text.contains("kubectl-edit"), "{text}");

    // A commit changes `a` (and the ignored object): `a` follows git, the drifted `b` stays.
    repo.write("settings.yaml", &settings("2", "1"));
    repo.write("seeded.yaml", &seeded("from git, again"));
    repo.commit("two");
    refresh(&client, &ns.name, "web").await?;
    wait_for("a = 2", Duration::from_secs(60), || async {
        let a = data(&client, &ns.name, "settings", "a").await;
        if a.as_deref() == Some("2") { Ok(Some(())) } else { anyhow::bail!("a is {a:?}") }
    })
    .await?;
    assert_eq!(data(&client, &ns.name, "settings", "b").await.as_deref(), Some("by hand"), "the drift survives");
    assert_eq!(data(&client, &ns.name, "seeded", "value").await.as_deref(), Some("by hand"), "ignore: left alone");
    // The status of the pass that applied the commit may not be written yet when `a` is 2.
    let deployed = |app: &lockstep_api::Application| app.status.as_ref().is_some_and(|s| s.history.len() == 2);
    wait_app(&client, &ns.name, "web", "the commit deployed, still Drifted", |app| {
        deployed(app) && drifted(app).is_some()
    })
    .await?;
    Ok(())
}
