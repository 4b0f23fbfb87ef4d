//! Helm charts from the OCI registry (CNCF distribution on loopback, htpasswd auth, TLS from a test
//! CA; charts pushed with the pinned helm) in the forms Argo CD users write and as dependencies of
//! charts from git: a multi-source Application with its chart from the registry and its values from
//! git, re-rendered by a values commit alone, one revision per source; Argo CD's `repoURL` +
//! `chart` forms (`oci://`, and schemeless with an `enableOCI` repository Secret); a git chart
//! whose `oci://` dependency resolves with the registry's credentials, keeps rendering from the
//! cache while the registry is stopped, and whose unresolvable dependency stops the pass with its
//! own reason and nothing applied or pruned.

use std::path::Path;

use lockstep_e2e::apps::{apply_app, ready, refresh, revision, synced_at, wait_app, wait_reason, wait_revisions};
use lockstep_e2e::configmaps::{data, wait_data};
use lockstep_e2e::registry::{REGISTRY_PASSWORD, REGISTRY_USER, Registry};
use lockstep_e2e::secrets::apply_secret;
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::json;

const FAST: &[&str] = &["--fetch-retry-period", "2s", "--resync-period", "20s"];

/// Writes a chart named `name` at `version` whose one ConfigMap `<release>-<name>` holds `.Values.value`.
fn write_chart(dir: &Path, name: &str, version: &str, default: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("templates"))?;
    std::fs::write(dir.join("Chart.yaml"), format!("apiVersion: v2\nname: {name}\nversion: {version}\n"))?;
    std::fs::write(dir.join("values.yaml"), format!("value: {default}\n"))?;
    std::fs::write(
        dir.join("templates/cm.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ .Release.Name }}}}-{name}\ndata:\n  \
             value: {{{{ .Values.value | quote }}}}\n  version: {{{{ .Chart.Version | quote }}}}\n"
        ),
    )?;
    Ok(())
}

#[tokio::test]
async fn a_chart_from_the_registry_with_values_from_git_follows_a_values_commit() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-oci-multi").await?;
    let registry = Registry::start()?;
    let charts = tempfile::tempdir()?;
    write_chart(&charts.path().join("greeter"), "greeter", "0.1.0", "chart default")?;
    let digest = registry.push_chart(&charts.path().join("greeter"), "charts")?;
    apply_secret(&client, &ns.name, registry.docker_config_secret(REGISTRY_USER, REGISTRY_PASSWORD)).await?;
    let values = GitRepo::new();
    values.write("envs/prod.yaml", "value: from the values repository\n");
    let values_commit = values.commit("values");
    let _controller = ControllerProcess::start(&ns.name, FAST)?;

    // Argo CD's form: the repository in repoURL, the chart's name in `chart`.
    let spec = json!({
        "sources": [
            {"repoURL": format!("oci://{}/charts", registry.host()), "chart": "greeter", "targetRevision": "0.1.0",
             "helm": {"releaseName": "web", "valueFiles": ["$values/envs/prod.yaml"]}},
            {"repoURL": values.url(), "targetRevision": "main", "ref": "values"},
        ],
        "destination": {"namespace": ns.name},
        "syncPolicy": {"automated": {"prune": true}},
    });
    apply_app(&client, &ns.name, "web", spec).await?;
    let chart_revision = format!("0.1.0@{digest}");
    let app = wait_revisions(&client, &ns.name, "web", &[&chart_revision, &values_commit]).await?;
    assert_eq!(revision(&app), format!("{chart_revision},{values_commit}"));
    assert_eq!(data(&client, &ns.name, "web-greeter", "value").await.as_deref(), Some("from the values repository"));

    // A commit to the values repository alone re-renders the chart from the cache and syncs it.
    values.write("envs/prod.yaml", "value: a values commit alone\n");
    let values_next = values.commit("new value");
    refresh(&client, &ns.name, "web").await?;
    let app = wait_revisions(&client, &ns.name, "web", &[&chart_revision, &values_next]).await?;
    assert_eq!(data(&client, &ns.name, "web-greeter", "value").await.as_deref(), Some("a values commit alone"));
    assert_eq!(app.status.as_ref().map(|s| s.history.len()), Some(2), "each combination of revisions is history");
    let layer_gets = registry.gets("/v2/charts/greeter/blobs/");
    assert_eq!(layer_gets, 1, "the chart is downloaded once:\n{}", registry.log());

    // Argo CD's schemeless form: a repository Secret in Argo CD's format with enableOCI.
    apply_secret(
        &client,
        &ns.name,
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "argo-helm-oci", "labels": {"argocd.argoproj.io/secret-type": "repository"}},
            "stringData": {"type": "helm", "enableOCI": "true", "url": format!("{}/charts", registry.host()),
                           "username": REGISTRY_USER, "password": REGISTRY_PASSWORD, "caData": registry.ca.ca_pem},
        }),
    )
    .await?;
    let schemeless = |repo: String| {
        json!({
            "source": {"repoURL": repo, "chart": "greeter", "targetRevision": "~0.1",
                       "helm": {"valuesObject": {"value": "schemeless"}}},
            "destination": {"namespace": ns.name},
            "syncPolicy": {"automated": {"prune": true}},
        })
    };
    apply_app(&client, &ns.name, "argo", schemeless(format!("{}/charts", registry.host()))).await?;
    wait_app(&client, &ns.name, "argo", "synced by range", |app| synced_at(app, &chart_revision)).await?;
    assert_eq!(data(&client, &ns.name, "argo-greeter", "value").await.as_deref(), Some("schemeless"));

    // Without a Secret saying enableOCI, a schemeless repoURL is refused with what to write.
    apply_app(&client, &ns.name, "unmarked", schemeless(format!("{}/other", registry.host()))).await?;
    let app = wait_app(&client, &ns.name, "unmarked", "a condition", |app| {
        ready(app).is_some_and(|c| c.status == "False" && c.message.contains("enableOCI"))
    })
    .await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains(&format!("oci://{}/other", registry.host())), "{message}");
    assert_eq!(data(&client, &ns.name, "unmarked-greeter", "value").await, None);
    Ok(())
}

#[tokio::test]
async fn a_git_chart_resolves_its_oci_dependency_and_keeps_rendering_while_the_registry_is_down() -> anyhow::Result<()>
{
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-oci-deps").await?;
    let mut registry = Registry::start()?;
    let charts = tempfile::tempdir()?;
    write_chart(&charts.path().join("lib"), "lib", "1.2.3", "from-lib")?;
    registry.push_chart(&charts.path().join("lib"), "deps")?;
    write_chart(&charts.path().join("lib"), "lib", "1.2.4+build.7", "from-lib")?;
    registry.push_chart(&charts.path().join("lib"), "deps")?;
    apply_secret(&client, &ns.name, registry.docker_config_secret(REGISTRY_USER, REGISTRY_PASSWORD)).await?;
    let controller = ControllerProcess::start(&ns.name, FAST)?;

    let repository = format!("oci://{}/deps", registry.host());
    let umbrella = |dependency: &str, version: &str| {
        format!(
            "apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n- name: {dependency}\n  \
             version: \"{version}\"\n  repository: {repository}\n"
        )
    };
    let own = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: own\ndata:\n  value: {{ .Values.own | quote }}\n";
    let repo = GitRepo::new();
    repo.write("app/Chart.yaml", &umbrella("lib", "~1.2"));
    repo.write("app/values.yaml", "own: first\nlib:\n  value: first\n");
    repo.write("app/templates/own.yaml", own);
    repo.commit("umbrella");
    let spec = json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main", "path": "app", "helm": {"releaseName": "web"}},
        "destination": {"namespace": ns.name},
        "syncPolicy": {"automated": {"prune": true}},
    });
    apply_app(&client, &ns.name, "web", spec).await?;
    wait_data(&client, &ns.name, "web-lib", "value", "first").await?;
    assert_eq!(
        data(&client, &ns.name, "web-lib", "version").await.as_deref(),
        Some("1.2.4+build.7"),
        "the range picks the highest tag, read with Helm's _ for +"
    );
    // Objects of one wave are applied concurrently: the umbrella's own ConfigMap may land after.
    wait_data(&client, &ns.name, "own", "value", "first").await?;

    // The registry stops: a new commit still renders, its dependency read from the cache.
    registry.stop();
    repo.write("app/values.yaml", "own: second\nlib:\n  value: second\n");
    let offline = repo.commit("values while the registry is down");
    refresh(&client, &ns.name, "web").await?;
    wait_app(&client, &ns.name, "web", "synced offline", |app| synced_at(app, &offline)).await?;
    wait_data(&client, &ns.name, "web-lib", "value", "second").await?;
    assert_eq!(data(&client, &ns.name, "own", "value").await.as_deref(), Some("second"));
    assert!(
        controller.log().contains("the dependency is read from the cache"),
        "the outage path (last good chart from the cache) was not taken"
    );

    // A dependency that cannot be resolved: its own reason, naming chart, version and repository;
    // nothing of the commit applied, nothing pruned.
    registry.resume()?;
    repo.write("app/Chart.yaml", &umbrella("lib", "~3.0"));
    repo.write("app/values.yaml", "own: third\nlib:\n  value: third\n");
    repo.commit("a version the registry does not have");
    refresh(&client, &ns.name, "web").await?;
    let app = wait_reason(&client, &ns.name, "web", "DependencyNotResolved").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    let named = ["lib", "~3.0", &format!("{}/deps", registry.host()), "1.2.3"];
    assert!(named.iter().all(|part| message.contains(part)), "chart, version, repository, tags: {message}");
    assert!(!message.contains(REGISTRY_PASSWORD), "{message}");
    assert_eq!(data(&client, &ns.name, "own", "value").await.as_deref(), Some("second"));
    assert_eq!(data(&client, &ns.name, "web-lib", "value").await.as_deref(), Some("second"));

    // A chart the registry does not hold at all.
    repo.write("app/Chart.yaml", &umbrella("no-such-chart", "1.0.0"));
    repo.commit("an unknown chart");
    refresh(&client, &ns.name, "web").await?;
    wait_app(&client, &ns.name, "web", "the unknown chart named", |app| {
        ready(app).is_some_and(|c| c.reason == "DependencyNotResolved" && c.message.contains("no-such-chart"))
    })
    .await?;
    assert_eq!(data(&client, &ns.name, "own", "value").await.as_deref(), Some("second"));
    assert_eq!(data(&client, &ns.name, "web-lib", "value").await.as_deref(), Some("second"));

    // A repository Secret for the dependency's repository with a wrong password: the registry's
    // refusal, no password in the message.
    registry.push_chart(&charts.path().join("lib"), "private")?;
    let private = format!("oci://{}/private", registry.host());
    apply_secret(&client, &ns.name, registry.repository_secret("private-wrong", &private, "wrong-password")).await?;
    repo.write("app/Chart.yaml", &umbrella("lib", "1.2.3").replace(&repository, &private));
    repo.commit("a registry path whose Secret has the wrong password");
    refresh(&client, &ns.name, "web").await?;
    let app = wait_app(&client, &ns.name, "web", "the refused credentials named", |app| {
        ready(app).is_some_and(|c| c.reason == "DependencyNotResolved" && c.message.contains("/private"))
    })
    .await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("credentials") && !message.contains("wrong-password"), "{message}");
    assert_eq!(data(&client, &ns.name, "web-lib", "value").await.as_deref(), Some("second"));
    Ok(())
}
