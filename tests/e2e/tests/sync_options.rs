//! Sync options end to end: ignoreDifferences, Replace for immutable fields, taking over objects
//! kubectl created, the resources finalizer, and a bounded status for 5,000 objects.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use lockstep_api::Application;
use lockstep_e2e::apps::{apply_app, get_app, ready, refresh, wait_app, wait_reason};
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::{Value, json};

fn config_map(name: &str, data: &[(&str, &str)]) -> String {
    let mut text = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n");
    for (k, v) in data {
        text.push_str(&format!("  {k}: \"{v}\"\n"));
    }
    text
}

fn spec(repo: &GitRepo, extra: Value) -> Value {
    let mut spec = json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main"},
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    spec
}

async fn data(client: &kube::Client, ns: &str, name: &str) -> Option<std::collections::BTreeMap<String, String>> {
    Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await.ok()??.data
}

async fn value(client: &kube::Client, ns: &str, name: &str, key: &str) -> Option<String> {
    data(client, ns, name).await?.get(key).cloned()
}

async fn wait_value(client: &kube::Client, ns: &str, name: &str, key: &str, want: &str) -> anyhow::Result<()> {
    wait_for(&format!("{name}.{key} = {want}"), Duration::from_secs(30), || async {
        let now = value(client, ns, name, key).await;
        if now.as_deref() == Some(want) { Ok(Some(())) } else { anyhow::bail!("{name}.{key} is {now:?}") }
    })
    .await
}

#[tokio::test]
async fn ignored_differences_are_neither_reported_nor_overwritten() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-ignore").await?;
    let repo = GitRepo::new();
    repo.write("pointer.yaml", &config_map("pointer", &[("a", "git"), ("b", "git")]));
    repo.write("manager.yaml", &config_map("manager", &[("x", "git")]));
    repo.commit("one");
    let _controller = ControllerProcess::start(&ns.name, &["--resync-period", "1h"])?;
    let ignore = json!({"ignoreDifferences": [
        {"group": "", "kind": "ConfigMap", "name": "pointer", "jsonPointers": ["/data/a"]},
        {"kind": "ConfigMap", "name": "manager", "managedFieldsManagers": ["e2e-other"]},
    ]});
    apply_app(&client, &ns.name, "ignore", spec(&repo, ignore)).await?;
    wait_reason(&client, &ns.name, "ignore", "Succeeded").await?;
    assert_eq!(value(&client, &ns.name, "pointer", "a").await.as_deref(), Some("git"), "created as git says");

    // Another field manager takes /data/x with a forced apply: a conflicting manager lockstep must
    // not fight, because the Application ignores that manager's fields.
    let other =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "manager"}, "data": {"x": "theirs"}});
    Api::<ConfigMap>::namespaced(client.clone(), &ns.name)
        .patch("manager", &PatchParams::apply("e2e-other").force(), &Patch::Apply(&other))
        .await?;
    // A hand edit of an ignored field and of a watched one: the watch triggers self-heal, which
    // restores b and leaves a.
    let edit = json!({"data": {"a": "by hand", "b": "by hand"}});
    Api::<ConfigMap>::namespaced(client.clone(), &ns.name)
        .patch("pointer", &PatchParams::default(), &Patch::Merge(&edit))
        .await?;
    wait_value(&client, &ns.name, "pointer", "b", "git").await?;
    refresh(&client, &ns.name, "ignore").await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let app = wait_reason(&client, &ns.name, "ignore", "Succeeded").await?;
    assert_eq!(value(&client, &ns.name, "pointer", "a").await.as_deref(), Some("by hand"), "{:?}", ready(&app));
    assert_eq!(value(&client, &ns.name, "manager", "x").await.as_deref(), Some("theirs"));
    assert_eq!(app.status.as_ref().map(|s| s.sync.status.to_string()).as_deref(), Some("Synced"));

    // An unsupported jq expression is refused up front, naming the field.
    let bad = json!({"ignoreDifferences": [{"kind": "ConfigMap", "jqPathExpressions": [".data | keys"]}]});
    apply_app(&client, &ns.name, "ignore", spec(&repo, bad)).await?;
    let app = wait_reason(&client, &ns.name, "ignore", "InvalidSpec").await?;
    assert!(ready(&app).is_some_and(|c| c.message.contains("jqPathExpressions")), "{:?}", ready(&app));
    Ok(())
}

#[tokio::test]
async fn an_immutable_change_fails_clearly_and_replace_recreates() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-immutable").await?;
    let repo = GitRepo::new();
    let frozen = |v: &str| format!("{}immutable: true\n", config_map("frozen", &[("v", v)]));
    repo.write("frozen.yaml", &frozen("1"));
    repo.commit("one");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "immutable", spec(&repo, json!({}))).await?;
    wait_reason(&client, &ns.name, "immutable", "Succeeded").await?;
    let api = Api::<ConfigMap>::namespaced(client.clone(), &ns.name);
    let first_uid = api.get("frozen").await?.metadata.uid;

    repo.write("frozen.yaml", &frozen("2"));
    repo.commit("two");
    refresh(&client, &ns.name, "immutable").await?;
    let app = wait_reason(&client, &ns.name, "immutable", "SyncFailed").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("ConfigMap") && message.contains("frozen"), "names the object: {message}");
    assert!(message.contains("data") && message.contains("immutable"), "names the field: {message}");
    assert!(message.contains("Replace=true"), "hints at the option: {message}");
    assert_eq!(value(&client, &ns.name, "frozen", "v").await.as_deref(), Some("1"));

    let replace =
        json!({"syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["Replace=true"]}});
    apply_app(&client, &ns.name, "immutable", spec(&repo, replace)).await?;
    wait_reason(&client, &ns.name, "immutable", "Succeeded").await?;
    let replaced = api.get("frozen").await?;
    assert_eq!(replaced.data.and_then(|d| d.get("v").cloned()).as_deref(), Some("2"));
    assert_ne!(replaced.metadata.uid, first_uid, "deleted and recreated");
    Ok(())
}

#[tokio::test]
async fn objects_created_by_kubectl_apply_are_taken_over() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-adopt").await?;
    let before = config_map("legacy", &[("kept", "1"), ("dropped", "1")]);
    kubectl_ok(&["apply", "-n", &ns.name, "-f", "-"], Some(&before))?;
    let api = Api::<ConfigMap>::namespaced(client.clone(), &ns.name);
    let created = api.get("legacy").await?;
    assert!(
        created
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("kubectl.kubernetes.io/last-applied-configuration")
    );

    let repo = GitRepo::new();
    repo.write("legacy.yaml", &config_map("legacy", &[("kept", "2")]));
    repo.commit("git drops a key");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "adopt", spec(&repo, json!({}))).await?;
    wait_reason(&client, &ns.name, "adopt", "Succeeded").await?;
    let adopted = api.get("legacy").await?;
    let data = adopted.data.clone().unwrap_or_default();
    assert_eq!(data.get("kept").map(String::as_str), Some("2"));
    assert!(!data.contains_key("dropped"), "a field removed from git is removed: {data:?}");
    assert!(
        !adopted
            .metadata
            .annotations
            .clone()
            .unwrap_or_default()
            .contains_key("kubectl.kubernetes.io/last-applied-configuration")
    );
    let managers: Vec<(String, String)> = adopted
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m.manager.unwrap_or_default(), m.operation.unwrap_or_default()))
        .collect();
    assert!(!managers.iter().any(|(m, _)| m == "kubectl-client-side-apply"), "{managers:?}");
    assert!(managers.contains(&("lockstep".into(), "Apply".into())), "{managers:?}");
    Ok(())
}

#[tokio::test]
async fn the_finalizer_deletes_managed_objects_and_without_it_they_stay() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-finalizer").await?;
    let with = GitRepo::new();
    with.write("svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n");
    with.write("a.yaml", &config_map("a", &[("v", "1")]));
    with.write("b.yaml", &config_map("b", &[("v", "1")]));
    with.commit("one");
    let without = GitRepo::new();
    without.write("kept.yaml", &config_map("kept", &[("v", "1")]));
    without.commit("one");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    let apps = Api::<Application>::namespaced(client.clone(), &ns.name);
    apply_app(&client, &ns.name, "with", spec(&with, json!({}))).await?;
    let finalizer = json!({"metadata": {"finalizers": ["resources-finalizer.lockstep.dev"]}});
    apps.patch("with", &PatchParams::default(), &Patch::Merge(&finalizer)).await?;
    apply_app(&client, &ns.name, "without", spec(&without, json!({}))).await?;
    wait_reason(&client, &ns.name, "with", "Succeeded").await?;
    wait_reason(&client, &ns.name, "without", "Succeeded").await?;

    apps.delete("with", &DeleteParams::default()).await?;
    apps.delete("without", &DeleteParams::default()).await?;
    wait_for("Application with the finalizer gone", Duration::from_secs(60), || async {
        match apps.get_opt("with").await? {
            None => Ok(Some(())),
            Some(app) => anyhow::bail!("still there: {:?}", ready(&app)),
        }
    })
    .await?;
    assert_eq!(data(&client, &ns.name, "a").await, None);
    assert_eq!(data(&client, &ns.name, "b").await, None);
    let services = kubectl_ok(&["get", "services", "-n", &ns.name, "-o", "name"], None)?;
    assert!(!services.contains("service/web"), "{services}");
    wait_for("Application without the finalizer gone", Duration::from_secs(30), || async {
        Ok(apps.get_opt("without").await?.is_none().then_some(()))
    })
    .await?;
    assert_eq!(value(&client, &ns.name, "kept", "v").await.as_deref(), Some("1"), "left in place");
    Ok(())
}

#[tokio::test]
async fn thirty_thousand_objects_fit_in_one_application() -> anyhow::Result<()> {
    // Past the 1.5 MiB object limit that one inventory entry per object reached at about 26,000.
    many_objects(30_000, false).await
}

#[tokio::test]
async fn one_drifted_object_among_two_thousand_is_listed_first() -> anyhow::Result<()> {
    many_objects(2_000, true).await
}

/// An Application of `objects` ConfigMaps syncs with a small status; with `drift`, one object
/// changed by hand is then listed first among the 500 `status.resources` shows.
async fn many_objects(objects: i64, drift: bool) -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, &format!("e2e-{objects}")).await?;
    let repo = GitRepo::new();
    let mut all = String::new();
    for i in 0..objects {
        all.push_str("---\n");
        all.push_str(&config_map(&format!("cm-{i:05}"), &[("index", &i.to_string())]));
    }
    repo.write("many.yaml", &all);
    repo.commit(&format!("{objects} ConfigMaps"));
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    let started = Instant::now();
    apply_app(&client, &ns.name, "many", spec(&repo, json!({}))).await?;
    let app = wait_for("every object synced", Duration::from_secs(1200), || async {
        let app = get_app(&client, &ns.name, "many").await?;
        if ready(&app).is_some_and(|c| c.reason == "Succeeded") {
            Ok(Some(app))
        } else {
            anyhow::bail!("{:?}", ready(&app))
        }
    })
    .await?;
    let took = started.elapsed();
    let size = serde_json::to_vec(&app)?.len();
    let inventory_size = serde_json::to_vec(&app.status.as_ref().and_then(|s| s.inventory.as_ref()))?.len();
    eprintln!("{objects} ConfigMaps synced in {took:?}; Application is {size} bytes, its inventory {inventory_size}");
    assert!(size < 1024 * 1024, "Application is {size} bytes, within reach of the 1.5 MiB limit");
    let status = app.status.as_ref().expect("status");
    let summary = status.summary.as_ref().expect("summary");
    assert_eq!((summary.total, summary.synced, summary.healthy), (objects, objects, objects));
    assert_eq!(status.resources.len(), 500);
    assert_eq!(summary.omitted, objects - 500);
    assert_eq!(status.inventory.as_ref().map(|i| i.len()), Some(objects as usize));

    if !drift {
        return Ok(());
    }
    // One drifted object among many is listed first.
    let edit = json!({"data": {"index": "drift"}});
    let manual = json!({"syncPolicy": {"automated": null}});
    apply_app(&client, &ns.name, "many", spec(&repo, manual)).await?;
    wait_app(&client, &ns.name, "many", "automation off", |app| {
        app.status
            .as_ref()
            .and_then(|s| s.conditions.first())
            .is_some_and(|c| c.observed_generation == app.metadata.generation)
    })
    .await?;
    Api::<ConfigMap>::namespaced(client.clone(), &ns.name)
        .patch("cm-01321", &PatchParams::default(), &Patch::Merge(&edit))
        .await?;
    refresh(&client, &ns.name, "many").await?;
    let app = wait_for("the drift listed first", Duration::from_secs(600), || async {
        let app = get_app(&client, &ns.name, "many").await?;
        let first = app.status.as_ref().and_then(|s| s.resources.first()).map(|r| r.name.clone());
        if first.as_deref() == Some("cm-01321") { Ok(Some(app)) } else { anyhow::bail!("first is {first:?}") }
    })
    .await?;
    assert_eq!(app.status.as_ref().and_then(|s| s.summary.as_ref()).map(|s| s.out_of_sync), Some(1));
    Ok(())
}
