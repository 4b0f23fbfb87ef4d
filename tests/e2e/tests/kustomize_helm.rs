//! Kustomize `helmCharts` against a real Helm HTTP repository (lighttpd, charts packaged with the
//! pinned helm, basic auth): the chart is resolved through the controller's chart cache with the
//! repository's credentials, inflated by the pinned kustomize and helm with Kustomize patches on
//! top, follows a version bump in git, keeps rendering from the cache while the repository is down,
//! and an unresolvable chart ends as a condition naming it with nothing applied or pruned; the same
//! for an `oci://` chart from a real registry, and through the CLI.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, Patch, PatchParams};
use lockstep_api::Application;
use lockstep_e2e::apps::{apply_app, ready, refresh, wait_app, wait_reason};
use lockstep_e2e::helmrepo::{HELM_PASSWORD, HELM_USER, HelmRepoServer};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::{Value, json};

const FAST: &[&str] = &["--fetch-retry-period", "2s", "--resync-period", "30s"];

/// An Argo CD repository Secret for the Helm repository, as Argo CD users have them.
async fn argo_credentials(client: &kube::Client, ns: &str, url: &str) -> anyhow::Result<()> {
    let data: BTreeMap<&str, &str> =
        [("type", "helm"), ("url", url), ("username", HELM_USER), ("password", HELM_PASSWORD)].into_iter().collect();
    let body = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "charts", "labels": {"argocd.argoproj.io/secret-type": "repository"}},
        "stringData": data,
    });
    Api::<Secret>::namespaced(client.clone(), ns)
        .patch("charts", &PatchParams::apply("e2e-test").force(), &Patch::Apply(&body))
        .await?;
    Ok(())
}

/// A kustomization inflating `chart` at `version` from `repo` as release `rel`, with inline
/// values, a plain ConfigMap beside it and a JSON patch on the chart's ConfigMap.
fn kustomization(repo: &str, chart: &str, version: &str, value: &str) -> String {
    format!(
        "resources:\n- extra.yaml\nhelmCharts:\n- name: {chart}\n  repo: {repo}\n  version: \"{version}\"\n  \
         releaseName: rel\n  valuesInline:\n    value: {value}\npatches:\n- target:\n    kind: ConfigMap\n    \
         name: rel-{chart}\n  patch: |-\n    - op: add\n      path: /data/patched\n      value: \"yes\"\n"
    )
}

const EXTRA: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  from: git\n";

fn git_spec(ns: &str, repo: &GitRepo, path: &str) -> Value {
    json!({
        "source": {"repoURL": repo.url(), "path": path},
        "destination": {"namespace": ns},
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
    })
}

fn is_ready(app: &Application) -> bool {
    ready(app).is_some_and(|c| c.status == "True")
}

fn message(app: &Application) -> String {
    ready(app).map(|c| c.message.clone()).unwrap_or_default()
}

async fn configmap_data(client: &kube::Client, ns: &str, name: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let found = Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await?;
    Ok(found.and_then(|cm| cm.data).unwrap_or_default())
}

/// Waits until the ConfigMap holds every `(key, value)` of `want`.
async fn wait_data(client: &kube::Client, ns: &str, name: &str, want: &[(&str, &str)]) -> anyhow::Result<()> {
    wait_for(&format!("ConfigMap {name} with {want:?}"), Duration::from_secs(90), || async {
        let data = configmap_data(client, ns, name).await?;
        if want.iter().all(|(k, v)| data.get(*k).map(String::as_str) == Some(*v)) {
            Ok(Some(()))
        } else {
            anyhow::bail!("data is {data:?}")
        }
    })
    .await
}

/// Waits until the server logged exactly one authenticated (200) download of `archive`.
async fn wait_downloads(server: &HelmRepoServer, archive: &str) -> anyhow::Result<()> {
    wait_for(&format!("one authenticated download of {archive}"), Duration::from_secs(30), || async {
        match server.requests(&format!("/charts/{archive}")) {
            1 => Ok(Some(())),
            n => anyhow::bail!("{n} downloads:\n{}", server.access_log()),
        }
    })
    .await
}

#[tokio::test]
async fn helm_charts_follow_git_and_render_from_the_cache_while_the_repository_is_down() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-kustomize-helm").await?;
    let mut server = HelmRepoServer::start()?;
    server.publish("web", "1.0.0", "chart-default")?;
    server.publish("web", "1.1.0", "chart-default")?;
    argo_credentials(&client, &ns.name, &server.url()).await?;
    let mut args = vec!["--controller-namespace", ns.name.as_str()];
    args.extend_from_slice(FAST);
    let controller = ControllerProcess::start(&ns.name, &args)?;

    let repo = GitRepo::new();
    repo.write("app/kustomization.yaml", &kustomization(&server.url(), "web", "1.0.0", "first"));
    repo.write("app/extra.yaml", EXTRA);
    repo.commit("helmCharts web 1.0.0");
    // The Application's own Kustomize options are laid over it too.
    let mut spec = git_spec(&ns.name, &repo, "app");
    spec["source"]["kustomize"] = json!({"commonAnnotations": {"team": "platform"}});
    apply_app(&client, &ns.name, "web", spec).await?;
    wait_app(&client, &ns.name, "web", "Ready", is_ready).await?;
    // The chart's object, with the inline values and the kustomization's patch on top.
    wait_data(&client, &ns.name, "rel-web", &[("version", "1.0.0"), ("value", "first"), ("patched", "yes")]).await?;
    let chart_cm = Api::<ConfigMap>::namespaced(client.clone(), &ns.name).get("rel-web").await?;
    assert_eq!(chart_cm.metadata.annotations.unwrap_or_default().get("team").map(String::as_str), Some("platform"));
    wait_data(&client, &ns.name, "extra", &[("from", "git")]).await?;
    // The archive came from the repository behind basic auth (only the Secret's credentials open it).
    // (lighttpd writes its access log lazily.)
    wait_downloads(&server, "web-1.0.0.tgz").await?;
    assert!(!server.access_log().contains("web-1.1.0.tgz"), "only the version asked for is fetched");

    // A version bump in git syncs the new version.
    repo.write("app/kustomization.yaml", &kustomization(&server.url(), "web", "1.1.0", "first"));
    repo.commit("web 1.1.0");
    refresh(&client, &ns.name, "web").await?;
    wait_data(&client, &ns.name, "rel-web", &[("version", "1.1.0"), ("value", "first"), ("patched", "yes")]).await?;
    wait_downloads(&server, "web-1.1.0.tgz").await?;

    // The repository goes down: a new commit changing the inline values still renders, from the
    // cached chart, and nothing is pruned.
    server.stop();
    repo.write("app/kustomization.yaml", &kustomization(&server.url(), "web", "1.1.0", "second"));
    let head = repo.commit("values while the repository is down");
    refresh(&client, &ns.name, "web").await?;
    wait_data(&client, &ns.name, "rel-web", &[("version", "1.1.0"), ("value", "second"), ("patched", "yes")]).await?;
    let app = wait_app(&client, &ns.name, "web", "Ready at the new commit", |a| {
        is_ready(a) && a.status.as_ref().and_then(|s| s.sync.revision.as_deref()) == Some(head.as_str())
    })
    .await?;
    assert!(is_ready(&app));
    assert_eq!(configmap_data(&client, &ns.name, "extra").await?.get("from").map(String::as_str), Some("git"));

    let log = controller.log();
    assert!(!log.contains(HELM_PASSWORD), "the password leaked into the log");
    Ok(())
}

#[tokio::test]
async fn an_unresolvable_chart_has_its_own_reason_and_prunes_nothing() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-kustomize-helm-bad").await?;
    let server = HelmRepoServer::start()?;
    server.publish("web", "1.0.0", "chart-default")?;
    argo_credentials(&client, &ns.name, &server.url()).await?;
    let mut args = vec!["--controller-namespace", ns.name.as_str()];
    args.extend_from_slice(FAST);
    let _controller = ControllerProcess::start(&ns.name, &args)?;

    let repo = GitRepo::new();
    repo.write("app/kustomization.yaml", &kustomization(&server.url(), "web", "1.0.0", "first"));
    repo.write("app/extra.yaml", EXTRA);
    repo.write("missing/kustomization.yaml", &kustomization(&server.url(), "no-such-chart", "1.0.0", "x"));
    repo.write("missing/extra.yaml", &EXTRA.replace("name: extra", "name: missing-extra"));
    repo.write("noauth/kustomization.yaml", &kustomization(&server.mirror_url(), "web", "1.0.0", "x"));
    repo.write("noauth/extra.yaml", &EXTRA.replace("name: extra", "name: noauth-extra"));
    let down = format!("http://127.0.0.1:{}/charts", lockstep_e2e::gitserver::free_port());
    repo.write("down/kustomization.yaml", &kustomization(&down, "web", "1.0.0", "x"));
    repo.write("down/extra.yaml", &EXTRA.replace("name: extra", "name: down-extra"));
    repo.write("oci/kustomization.yaml", &kustomization("oci://127.0.0.1:1/charts", "web", "1.0.0", "x"));
    repo.write("oci/extra.yaml", &EXTRA.replace("name: extra", "name: oci-extra"));
    repo.commit("charts");

    // An unknown chart: nothing of the kustomization is applied, not even its plain resources.
    apply_app(&client, &ns.name, "missing", git_spec(&ns.name, &repo, "missing")).await?;
    let app = wait_reason(&client, &ns.name, "missing", "DependencyNotResolved").await?;
    let text = message(&app);
    assert!(text.contains("no-such-chart") && text.contains("missing/kustomization.yaml"), "{text}");
    assert!(configmap_data(&client, &ns.name, "missing-extra").await?.is_empty(), "nothing applied");

    // A repository no Secret opens, and one that is down with nothing cached.
    for (name, want) in [("noauth", "authentication"), ("down", "127.0.0.1")] {
        apply_app(&client, &ns.name, name, git_spec(&ns.name, &repo, name)).await?;
        let app = wait_reason(&client, &ns.name, name, "DependencyNotResolved").await?;
        let text = message(&app);
        assert!(text.contains(want) && text.contains("\"web\" \"1.0.0\""), "{name}: {text}");
        assert!(!text.contains(HELM_PASSWORD), "{text}");
        let extra = format!("{name}-extra");
        assert!(configmap_data(&client, &ns.name, &extra).await?.is_empty(), "nothing applied");
    }

    // An oci:// registry that is down, with nothing cached.
    apply_app(&client, &ns.name, "oci", git_spec(&ns.name, &repo, "oci")).await?;
    let app = wait_reason(&client, &ns.name, "oci", "DependencyNotResolved").await?;
    assert!(message(&app).contains("oci://"), "{}", message(&app));
    assert!(configmap_data(&client, &ns.name, "oci-extra").await?.is_empty(), "nothing applied");

    // A deployed Application whose chart version does not exist keeps its objects.
    apply_app(&client, &ns.name, "web", git_spec(&ns.name, &repo, "app")).await?;
    wait_app(&client, &ns.name, "web", "Ready", is_ready).await?;
    wait_data(&client, &ns.name, "rel-web", &[("version", "1.0.0")]).await?;
    repo.write("app/kustomization.yaml", &kustomization(&server.url(), "web", "9.9.9", "first"));
    repo.commit("a version the repository does not have");
    refresh(&client, &ns.name, "web").await?;
    let app = wait_reason(&client, &ns.name, "web", "DependencyNotResolved").await?;
    let text = message(&app);
    assert!(text.contains("\"web\"") && text.contains("9.9.9") && text.contains("1.0.0"), "{text}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(configmap_data(&client, &ns.name, "rel-web").await?.get("version").map(String::as_str), Some("1.0.0"));
    assert!(!configmap_data(&client, &ns.name, "extra").await?.is_empty(), "nothing is pruned");
    Ok(())
}

#[tokio::test]
async fn the_cli_renders_helm_charts_without_a_cluster() -> anyhow::Result<()> {
    let server = HelmRepoServer::start()?;
    server.publish("web", "1.0.0", "chart-default")?;
    server.publish("web", "1.1.0", "chart-default")?;
    let dir = tempfile::tempdir()?;
    let app = dir.path().join("app");
    std::fs::create_dir_all(&app)?;
    // The CLI has no credential Secrets: the user writes them into the URL.
    let url = server.url().replace("http://", &format!("http://{HELM_USER}:{HELM_PASSWORD}@"));
    std::fs::write(app.join("kustomization.yaml"), kustomization(&url, "web", "^1.0", "from-cli"))?;
    std::fs::write(app.join("extra.yaml"), EXTRA)?;
    let cache = dir.path().join("cache");
    let out = std::process::Command::new(lockstep_e2e::cli::lockstep_bin())
        .args(["render", "--path"])
        .arg(&app)
        .args(["--kubeconfig", "/nonexistent"])
        .env("LOCKSTEP_CLI_CACHE_DIR", &cache)
        .env("LOCKSTEP_HELM", lockstep_e2e::helmrepo::helm())
        .env("LOCKSTEP_KUSTOMIZE", lockstep_e2e::controller::tool_path("LOCKSTEP_KUSTOMIZE", "kustomize"))
        .output()?;
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}{}", String::from_utf8_lossy(&out.stderr));
    for want in ["name: rel-web", "version: 1.1.0", "value: from-cli", "patched: yes", "name: extra"] {
        assert!(printed.contains(want), "{want} in:\n{printed}");
    }
    assert!(!app.join("charts").exists(), "the user's directory is not written");
    Ok(())
}

#[tokio::test]
async fn helm_charts_from_an_oci_registry_use_its_credentials_and_its_cache() -> anyhow::Result<()> {
    use lockstep_e2e::registry::{REGISTRY_PASSWORD, REGISTRY_USER, Registry};
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-kustomize-helm-oci").await?;
    let mut registry = Registry::start()?;
    let work = tempfile::tempdir()?;
    let chart = lockstep_e2e::helmrepo::write_chart(work.path(), "web", "2.0.0", "chart-default")?;
    registry.push_chart(&chart, "charts")?;
    let repo_url = format!("oci://{}/charts", registry.host());
    let body = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "registry", "labels": {"lockstep.dev/secret-type": "repository"}},
        "stringData": {"url": repo_url, "username": REGISTRY_USER, "password": REGISTRY_PASSWORD,
                       "caData": registry.ca.ca_pem},
    });
    Api::<Secret>::namespaced(client.clone(), &ns.name)
        .patch("registry", &PatchParams::apply("e2e-test").force(), &Patch::Apply(&body))
        .await?;
    let mut args = vec!["--controller-namespace", ns.name.as_str()];
    args.extend_from_slice(FAST);
    let _controller = ControllerProcess::start(&ns.name, &args)?;

    let repo = GitRepo::new();
    repo.write("app/kustomization.yaml", &kustomization(&repo_url, "web", "2.0.0", "from-oci"));
    repo.write("app/extra.yaml", EXTRA);
    repo.commit("an oci:// chart");
    apply_app(&client, &ns.name, "web", git_spec(&ns.name, &repo, "app")).await?;
    wait_app(&client, &ns.name, "web", "Ready", is_ready).await?;
    wait_data(&client, &ns.name, "rel-web", &[("version", "2.0.0"), ("value", "from-oci"), ("patched", "yes")]).await?;
    assert!(registry.gets("/v2/charts/web/blobs/") >= 1, "the chart came from the registry:\n{}", registry.log());

    // The registry goes down: a new commit still renders from the cached chart.
    registry.stop();
    repo.write("app/kustomization.yaml", &kustomization(&repo_url, "web", "2.0.0", "while-down"));
    repo.commit("values while the registry is down");
    refresh(&client, &ns.name, "web").await?;
    wait_data(&client, &ns.name, "rel-web", &[("version", "2.0.0"), ("value", "while-down")]).await?;
    assert!(!configmap_data(&client, &ns.name, "extra").await?.is_empty(), "nothing is pruned");
    Ok(())
}
