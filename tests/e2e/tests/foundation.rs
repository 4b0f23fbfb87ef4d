//! The first sync, end to end: the lockstep binary against the real control plane.

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use lockstep_api::{HealthStatusCode, SyncStatusCode};
use lockstep_e2e::apps::{
    apply_app, event_reasons, get_app, ready, refresh, wait_app, wait_event_reasons, wait_reason,
};
use lockstep_e2e::cluster::kubectl;
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::json;

fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n")
}

fn automated(repo: &GitRepo, path: &str) -> serde_json::Value {
    json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main", "path": path},
        "syncPolicy": {"automated": {"prune": true, "selfHeal": false}},
    })
}

async fn config_map_value(client: &kube::Client, ns: &str, name: &str) -> Option<String> {
    let cm = Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await.ok()??;
    cm.data?.get("value").cloned()
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
    let app =
        wait_app(&client, &ns.name, "web", "Synced and Ready", |app| ready(app).is_some_and(|c| c.status == "True"))
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
    let managers: Vec<_> =
        cm.metadata.managed_fields.unwrap_or_default().into_iter().filter_map(|m| m.manager).collect();
    assert!(managers.contains(&"lockstep".to_string()), "managers: {managers:?}");

    // kubectl shows SYNC and HEALTH by default, REVISION and the Ready message with -o wide.
    let out = kubectl(&["get", "applications", "-n", &ns.name], None);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.lines().next().is_some_and(|h| h.contains("SYNC") && h.contains("HEALTH") && h.contains("AGE")),
        "{table}"
    );
    assert!(table.contains("Synced") && table.contains("Healthy"), "{table}");
    let wide =
        String::from_utf8_lossy(&kubectl(&["get", "lsapp", "-n", &ns.name, "-o", "wide"], None).stdout).into_owned();
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
    assert_eq!(
        app.status.as_ref().map(|s| s.resources.len()),
        Some(3),
        "only objects rendered at the new commit are listed"
    );
    assert_eq!(config_map_value(&client, &ns.name, "second").await, None, "what left git is pruned");
    let history: Vec<_> =
        app.status.as_ref().map(|s| s.history.iter().map(|h| h.revision.clone()).collect()).unwrap_or_default();
    assert_eq!(history, vec![first.clone(), second.clone()]);
    let reasons = wait_event_reasons(&client, &ns.name, "web", &["SyncSucceeded"]).await?;
    assert!(!reasons.iter().any(|r| r == "SyncStarted" || r == "Applied"), "one Event per sync: {reasons:?}");
    Ok(())
}

#[tokio::test]
async fn recurse_reads_subdirectories_and_objects_keep_their_own_namespace() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-recurse").await?;
    let other = TestNamespace::create(&client, "e2e-recurse-other").await?;
    let repo = GitRepo::new();
    repo.write("top.yaml", &config_map("top", "t"));
    repo.write("deep/er/nested.yml", &config_map("nested", "n"));
    repo.write(
        "elsewhere.json",
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "placed", "namespace": other.name}, "data": {"value": "p"}}).to_string(),
    );
    repo.commit("tree");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    let mut spec = automated(&repo, "");
    spec["source"]["directory"] = json!({"recurse": true});
    apply_app(&client, &ns.name, "tree", spec).await?;
    wait_reason(&client, &ns.name, "tree", "Succeeded").await?;
    // Without destination.namespace, objects naming none go to the Application's namespace.
    assert_eq!(config_map_value(&client, &ns.name, "top").await.as_deref(), Some("t"));
    assert_eq!(config_map_value(&client, &ns.name, "nested").await.as_deref(), Some("n"));
    assert_eq!(config_map_value(&client, &other.name, "placed").await.as_deref(), Some("p"));
    Ok(())
}

#[tokio::test]
async fn broken_yaml_is_named_and_nothing_from_that_revision_is_applied() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-broken-yaml").await?;
    let repo = GitRepo::new();
    repo.write("app/a.yaml", &config_map("a", "1"));
    repo.commit("good");
    let mut controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "broken", automated(&repo, "app")).await?;
    wait_reason(&client, &ns.name, "broken", "Succeeded").await?;

    repo.write("app/a.yaml", &config_map("a", "2"));
    repo.write("app/b.yaml", &config_map("b", "new"));
    repo.write("app/z-broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: z\ndata:\n  key: [unclosed\n");
    let bad = repo.commit("broken");
    refresh(&client, &ns.name, "broken").await?;
    let app = wait_reason(&client, &ns.name, "broken", "RenderFailed").await?;
    let condition = ready(&app).expect("Ready");
    assert_eq!(condition.status, "False");
    assert!(condition.message.contains("app/z-broken.yaml:"), "names file and line: {}", condition.message);
    assert!(condition.message.contains(&bad[..12]), "names the revision: {}", condition.message);
    assert_eq!(app.status.as_ref().map(|s| s.sync.status), Some(SyncStatusCode::Unknown));
    assert_eq!(
        config_map_value(&client, &ns.name, "a").await.as_deref(),
        Some("1"),
        "the good file of a broken commit is not applied"
    );
    assert_eq!(config_map_value(&client, &ns.name, "b").await, None);
    wait_event_reasons(&client, &ns.name, "broken", &["RenderFailed"]).await?;
    assert!(controller.is_running(), "the controller must not crash");

    // Fixing the file recovers.
    repo.remove("app/z-broken.yaml");
    repo.commit("fixed");
    refresh(&client, &ns.name, "broken").await?;
    wait_reason(&client, &ns.name, "broken", "Succeeded").await?;
    assert_eq!(config_map_value(&client, &ns.name, "b").await.as_deref(), Some("new"));
    Ok(())
}

#[tokio::test]
async fn missing_repo_revision_and_path_each_get_a_clear_reason() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-bad-source").await?;
    let repo = GitRepo::new();
    repo.write("app/a.yaml", &config_map("a", "1"));
    repo.commit("one");
    let mut controller = ControllerProcess::start(&ns.name, &[])?;

    apply_app(
        &client,
        &ns.name,
        "no-repo",
        json!({"source": {"repoURL": "file:///nonexistent/lockstep/repo.git", "path": "app"}}),
    )
    .await?;
    let mut spec = automated(&repo, "app");
    spec["source"]["targetRevision"] = json!("no-such-branch");
    apply_app(&client, &ns.name, "no-revision", spec).await?;
    apply_app(&client, &ns.name, "no-path", automated(&repo, "not/here")).await?;

    let app = wait_reason(&client, &ns.name, "no-repo", "NotARepository").await?;
    assert!(
        ready(&app).is_some_and(|c| c.message.contains("file:///nonexistent/lockstep/repo.git")),
        "{:?}",
        ready(&app)
    );
    let app = wait_reason(&client, &ns.name, "no-revision", "RevisionNotFound").await?;
    assert!(ready(&app).is_some_and(|c| c.message.contains("\"no-such-branch\"")), "{:?}", ready(&app));
    let app = wait_reason(&client, &ns.name, "no-path", "PathNotFound").await?;
    assert!(ready(&app).is_some_and(|c| c.message.contains("\"not/here\"")), "{:?}", ready(&app));
    for (name, reason) in
        [("no-repo", "NotARepository"), ("no-revision", "RevisionNotFound"), ("no-path", "PathNotFound")]
    {
        wait_event_reasons(&client, &ns.name, name, &[reason]).await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for name in ["no-repo", "no-revision", "no-path"] {
        let reasons = event_reasons(&client, &ns.name, name).await?;
        assert_eq!(reasons.len(), 1, "{name}: one Warning Event, not a storm: {reasons:?}");
    }
    assert!(controller.is_running());
    Ok(())
}

#[tokio::test]
async fn rejected_objects_are_named_and_the_rest_still_apply() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-rejected").await?;
    let repo = GitRepo::new();
    repo.write("app/good.yaml", &config_map("good", "1"));
    repo.write("app/unknown.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n");
    repo.write(
        "app/invalid.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad-port\nspec:\n  ports:\n  - port: 700000\n",
    );
    repo.commit("mixed");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "mixed", automated(&repo, "app")).await?;
    let app = wait_reason(&client, &ns.name, "mixed", "SyncFailed").await?;
    let message = &ready(&app).expect("Ready").message;
    assert!(message.starts_with("2 of 3 objects failed"), "{message}");
    assert!(message.contains("Widget") && message.contains("example.com/v1"), "names the unknown kind: {message}");
    assert!(
        message.contains(&format!("Service {}/bad-port", ns.name)) && message.contains("700000"),
        "names the object and the server's message: {message}"
    );
    assert_eq!(config_map_value(&client, &ns.name, "good").await.as_deref(), Some("1"));
    let status = app.status.as_ref().expect("status");
    assert_eq!(status.sync.status, SyncStatusCode::OutOfSync);
    wait_event_reasons(&client, &ns.name, "mixed", &["SyncFailed"]).await?;
    Ok(())
}

#[tokio::test]
async fn the_schema_rejects_what_it_can_and_the_controller_flags_the_rest_once() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-invalid-spec").await?;
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    let app = |spec: &str| {
        format!(
            "apiVersion: lockstep.dev/v1alpha1\nkind: Application\nmetadata:\n  name: x\n  namespace: {}\nspec:\n{spec}",
            ns.name
        )
    };
    for (case, spec) in [
        ("empty repoURL", "  source:\n    repoURL: \"\"\n"),
        ("missing source", "  destination:\n    namespace: x\n"),
        ("wrong type", "  source:\n    repoURL: file:///x\n  syncPolicy:\n    automated:\n      prune: sometimes\n"),
    ] {
        let out = kubectl(&["apply", "-f", "-"], Some(&app(spec)));
        assert!(!out.status.success(), "{case} must be rejected by the schema");
    }
    let out = kubectl(
        &["apply", "--server-side", "-f", "-"],
        Some(&format!(
            "apiVersion: lockstep.dev/v1alpha1\nkind: Application\nmetadata:\n  name: x\n  namespace: {}\nstatus:\n  sync:\n    status: Sideways\n",
            ns.name
        )),
    );
    assert!(!out.status.success(), "enum values are checked");

    apply_app(&client, &ns.name, "escapes", json!({"source": {"repoURL": "file:///x", "path": "../../etc"}})).await?;
    let app = wait_reason(&client, &ns.name, "escapes", "InvalidSpec").await?;
    assert!(ready(&app).is_some_and(|c| c.message.contains("spec.source.path")), "{:?}", ready(&app));
    // No retry storm: the status and Events stay as they are.
    let version = app.metadata.resource_version.clone();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(get_app(&client, &ns.name, "escapes").await?.metadata.resource_version, version);
    assert_eq!(event_reasons(&client, &ns.name, "escapes").await?, vec!["InvalidSpec".to_string()]);
    Ok(())
}

#[tokio::test]
async fn without_automated_sync_drift_is_reported_and_nothing_applied() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-manual").await?;
    let repo = GitRepo::new();
    repo.write("a.yaml", &config_map("a", "1"));
    repo.commit("one");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "manual", json!({"source": {"repoURL": repo.url()}})).await?;
    let app = wait_reason(&client, &ns.name, "manual", "OutOfSync").await?;
    let status = app.status.as_ref().expect("status");
    assert_eq!(status.sync.status, SyncStatusCode::OutOfSync);
    assert_eq!(status.resources[0].health.as_ref().map(|h| h.status), Some(HealthStatusCode::Missing));
    assert_eq!(config_map_value(&client, &ns.name, "a").await, None);
    Ok(())
}

#[tokio::test]
async fn a_reconcile_that_changes_nothing_writes_nothing() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-noop").await?;
    let repo = GitRepo::new();
    repo.write("a.yaml", &config_map("a", "1"));
    repo.commit("one");
    let controller = ControllerProcess::start(&ns.name, &["--resync-period", "1s"])?;
    apply_app(&client, &ns.name, "quiet", automated(&repo, "")).await?;
    let app = wait_reason(&client, &ns.name, "quiet", "Succeeded").await?;
    let cm_version = Api::<ConfigMap>::namespaced(client.clone(), &ns.name).get("a").await?.metadata.resource_version;
    let app_version = app.metadata.resource_version.clone();
    // A refresh is acknowledged once (status.observedRefresh); after that, several resyncs (every
    // second) write neither the Application nor the object again.
    let token = refresh(&client, &ns.name, "quiet").await?;
    let acknowledged = wait_app(&client, &ns.name, "quiet", "the refresh acknowledged", |app| {
        app.status.as_ref().and_then(|s| s.observed_refresh.as_deref()) == Some(token.as_str())
    })
    .await?;
    let after_refresh = acknowledged.metadata.resource_version;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(get_app(&client, &ns.name, "quiet").await?.metadata.resource_version, after_refresh);
    assert_ne!(after_refresh, app_version, "the refresh itself is a write by the test");
    assert_eq!(
        Api::<ConfigMap>::namespaced(client.clone(), &ns.name).get("a").await?.metadata.resource_version,
        cm_version
    );
    assert!(controller.log().matches("applied").count() <= 1, "applied once: {}", controller.log());
    Ok(())
}

#[tokio::test]
async fn the_resync_period_picks_up_new_commits_without_a_trigger() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-resync").await?;
    let repo = GitRepo::new();
    repo.write("a.yaml", &config_map("a", "1"));
    repo.commit("one");
    let _controller = ControllerProcess::start(&ns.name, &["--resync-period", "2s"])?;
    apply_app(&client, &ns.name, "resync", automated(&repo, "")).await?;
    wait_reason(&client, &ns.name, "resync", "Succeeded").await?;
    repo.write("a.yaml", &config_map("a", "2"));
    let second = repo.commit("two");
    wait_app(&client, &ns.name, "resync", "the new commit", |app| {
        app.status.as_ref().is_some_and(|s| s.sync.revision.as_deref() == Some(second.as_str()))
    })
    .await?;
    assert_eq!(config_map_value(&client, &ns.name, "a").await.as_deref(), Some("2"));
    Ok(())
}

#[tokio::test]
async fn an_argo_cd_application_moves_over_by_changing_its_api_version() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-argo").await?;
    let repo = GitRepo::new();
    repo.write("guestbook/cm.yaml", &config_map("guestbook", "argo"));
    let sha = repo.commit("one");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    // An Application as Argo CD's documentation writes it, with only the apiVersion changed.
    let manifest = format!(
        "apiVersion: lockstep.dev/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: {ns}
  finalizers:
  - resources-finalizer.argocd.argoproj.io
spec:
  project: default
  source:
    repoURL: {url}
    targetRevision: HEAD
    path: guestbook
  destination:
    server: https://kubernetes.default.svc
    namespace: {ns}
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
",
        ns = ns.name,
        url = repo.url()
    );
    let out = kubectl(&["apply", "-f", "-"], Some(&manifest));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let app = wait_reason(&client, &ns.name, "guestbook", "Succeeded").await?;
    assert_eq!(app.status.and_then(|s| s.sync.revision), Some(sha));
    assert_eq!(config_map_value(&client, &ns.name, "guestbook").await.as_deref(), Some("argo"));
    Ok(())
}
