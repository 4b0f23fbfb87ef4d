//! Helm repository sources against a real Helm HTTP repository (lighttpd, static `index.yaml` and
//! archives packaged with the pinned helm, basic auth): semver ranges following new versions,
//! outages, one index fetch per interval for many Applications, dependencies of git charts, and
//! bad input each with its own reason.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, Patch, PatchParams};
use lockstep_api::Application;
use lockstep_e2e::apps::{apply_app, ready, refresh, wait_app, wait_reason};
use lockstep_e2e::helmrepo::{HELM_PASSWORD, HELM_USER, HelmRepoServer, write_chart};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::{Value, json};

fn chart_spec(ns: &str, url: &str, chart: &str, revision: &str) -> Value {
    json!({
        "source": {"repoURL": url, "chart": chart, "targetRevision": revision},
        "destination": {"namespace": ns},
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
    })
}

/// A `repository` credential Secret labelled with `label` (lockstep's or Argo CD's).
async fn put_secret_labelled(
    client: &kube::Client,
    ns: &str,
    name: &str,
    label: &str,
    data: &[(&str, &str)],
) -> anyhow::Result<()> {
    let data: BTreeMap<&str, &str> = data.iter().copied().collect();
    let body = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "labels": {label: "repository"}},
        "stringData": data,
    });
    Api::<Secret>::namespaced(client.clone(), ns)
        .patch(name, &PatchParams::apply("e2e-test").force(), &Patch::Apply(&body))
        .await?;
    Ok(())
}

/// A lockstep `repository` credential Secret.
async fn put_secret(client: &kube::Client, ns: &str, name: &str, data: &[(&str, &str)]) -> anyhow::Result<()> {
    put_secret_labelled(client, ns, name, "lockstep.dev/secret-type", data).await
}

async fn credentials_for(client: &kube::Client, ns: &str, name: &str, url: &str) -> anyhow::Result<()> {
    put_secret(
        client,
        ns,
        name,
        &[("type", "helm"), ("url", url), ("username", HELM_USER), ("password", HELM_PASSWORD)],
    )
    .await
}

fn is_ready(app: &Application) -> bool {
    ready(app).is_some_and(|c| c.status == "True")
}

fn revision(app: &Application) -> Option<&str> {
    app.status.as_ref()?.sync.revision.as_deref()
}

fn source_condition(app: &Application) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    app.status.as_ref()?.conditions.iter().find(|c| c.type_ == "SourceAvailable")
}

/// The `version` key of a rendered ConfigMap, once it exists.
async fn configmap_version(client: &kube::Client, ns: &str, name: &str) -> anyhow::Result<Option<String>> {
    let found = Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await?;
    Ok(found.and_then(|cm| cm.data).and_then(|d| d.get("version").cloned()))
}

async fn wait_configmap_version(client: &kube::Client, ns: &str, name: &str, want: &str) -> anyhow::Result<()> {
    wait_for(&format!("ConfigMap {name} at {want}"), Duration::from_secs(60), || async {
        let version = configmap_version(client, ns, name).await?;
        if version.as_deref() == Some(want) { Ok(Some(())) } else { anyhow::bail!("version is {version:?}") }
    })
    .await
}

const FAST: &[&str] = &["--fetch-retry-period", "2s", "--resync-period", "30s"];

#[tokio::test]
async fn a_range_follows_new_versions_and_rides_out_an_outage() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-helmrepo-range").await?;
    let mut server = HelmRepoServer::start()?;
    server.publish("web", "1.2.3", "a")?;
    server.publish("web", "1.3.0", "b")?;
    // An Argo CD repository Secret, as Argo CD users have them.
    let argo = [("type", "helm"), ("url", &server.url()), ("username", HELM_USER), ("password", HELM_PASSWORD)];
    put_secret_labelled(&client, &ns.name, "charts", "argocd.argoproj.io/secret-type", &argo).await?;
    let mut args = vec!["--controller-namespace", ns.name.as_str()];
    args.extend_from_slice(FAST);
    let controller = ControllerProcess::start(&ns.name, &args)?;

    apply_app(&client, &ns.name, "web", chart_spec(&ns.name, &server.url(), "web", "~1.2")).await?;
    let app =
        wait_app(&client, &ns.name, "web", "Ready at 1.2.3", |a| is_ready(a) && revision(a) == Some("1.2.3")).await?;
    assert_eq!(
        app.status.as_ref().and_then(|s| s.source.as_ref()).and_then(|s| s.fetched_from.clone()).as_deref(),
        Some(server.url().as_str())
    );
    wait_configmap_version(&client, &ns.name, "web-web", "1.2.3").await?;

    // 1.2.4 is published: a refresh picks it up (1.3.0 stays out of the range).
    server.publish("web", "1.2.4", "a")?;
    refresh(&client, &ns.name, "web").await?;
    wait_app(&client, &ns.name, "web", "Ready at 1.2.4", |a| is_ready(a) && revision(a) == Some("1.2.4")).await?;
    wait_configmap_version(&client, &ns.name, "web-web", "1.2.4").await?;

    // The repository goes down: the last good chart keeps being served, nothing is pruned, and a
    // condition says so; drift is still healed against it.
    server.stop();
    refresh(&client, &ns.name, "web").await?;
    let app = wait_app(&client, &ns.name, "web", "SourceUnavailable", |a| {
        source_condition(a).is_some_and(|c| c.reason == "SourceUnavailable")
    })
    .await?;
    assert_eq!(revision(&app), Some("1.2.4"));
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    configmaps
        .patch("web-web", &PatchParams::default(), &Patch::Merge(&json!({"data": {"version": "drifted"}})))
        .await?;
    wait_configmap_version(&client, &ns.name, "web-web", "1.2.4").await?;

    // A restart during the outage still serves it from the on-disk cache.
    let cache = controller.stop();
    let _controller = ControllerProcess::start_with_cache(&ns.name, cache, &args)?;
    refresh(&client, &ns.name, "web").await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    wait_app(&client, &ns.name, "web", "served after a restart", |a| {
        source_condition(a).is_some() && revision(a) == Some("1.2.4") && is_ready(a)
    })
    .await?;
    assert!(configmaps.get_opt("web-web").await?.is_some(), "nothing is pruned during an outage");

    server.resume()?;
    refresh(&client, &ns.name, "web").await?;
    wait_app(&client, &ns.name, "web", "condition cleared", |a| source_condition(a).is_none() && is_ready(a)).await?;
    Ok(())
}

#[tokio::test]
async fn a_hundred_applications_cost_one_index_fetch_and_one_download_per_version() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-helmrepo-many").await?;
    let server = HelmRepoServer::start()?;
    server.publish("web", "1.2.3", "a")?;
    server.publish("web", "1.2.4", "a")?;
    credentials_for(&client, &ns.name, "charts", &server.url()).await?;
    let args = ["--controller-namespace", ns.name.as_str(), "--resync-period", "10m", "--workers", "32"];
    let _controller = ControllerProcess::start(&ns.name, &args)?;
    let total = 100;
    for i in 0..total {
        let version = if i % 2 == 0 { "1.2.3" } else { "~1.2" };
        let mut spec = chart_spec(&ns.name, &server.url(), "web", version);
        spec["syncPolicy"] = json!({});
        apply_app(&client, &ns.name, &format!("app-{i:03}"), spec).await?;
    }
    let apps: Api<Application> = Api::namespaced(client.clone(), &ns.name);
    wait_for("every Application compared", Duration::from_secs(240), || async {
        let list = apps.list(&Default::default()).await?;
        let compared = list.items.iter().filter(|a| matches!(revision(a), Some("1.2.3" | "1.2.4"))).count();
        if compared == total { Ok(Some(())) } else { anyhow::bail!("{compared} of {total} compared") }
    })
    .await?;
    let list = apps.list(&Default::default()).await?;
    for app in &list.items {
        let even =
            app.metadata.name.as_deref().and_then(|n| n.strip_prefix("app-")).and_then(|n| n.parse::<u32>().ok());
        let want = if even.is_some_and(|n| n % 2 == 0) { "1.2.3" } else { "1.2.4" };
        assert_eq!(revision(app), Some(want), "{:?}", app.metadata.name);
    }
    let log = server.access_log();
    assert_eq!(server.index_fetches("/charts/"), 1, "one index fetch for {total} Applications:\n{log}");
    assert_eq!(server.requests("/charts/web-1.2.3.tgz"), 1, "one download of 1.2.3:\n{log}");
    assert_eq!(server.requests("/charts/web-1.2.4.tgz"), 1, "one download of 1.2.4:\n{log}");
    Ok(())
}

#[tokio::test]
async fn git_charts_resolve_their_dependencies_from_the_repository() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-helmrepo-deps").await?;
    let server = HelmRepoServer::start()?;
    server.publish("lib", "0.4.1", "from-lib")?;
    credentials_for(&client, &ns.name, "charts", &server.url()).await?;
    let mut args = vec!["--controller-namespace", ns.name.as_str()];
    args.extend_from_slice(FAST);
    let _controller = ControllerProcess::start(&ns.name, &args)?;

    let repo = GitRepo::new();
    let umbrella = |dependency: &str, version: &str| {
        format!(
            "apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n- name: {dependency}\n  version: \"{version}\"\n  \
             repository: {}\n",
            server.url()
        )
    };
    repo.write("good/Chart.yaml", &umbrella("lib", "~0.4"));
    repo.write("bad/Chart.yaml", &umbrella("no-such-chart", "1.0.0"));
    repo.commit("charts");
    let git_spec = |path: &str| {
        json!({
            "source": {"repoURL": repo.url(), "path": path},
            "destination": {"namespace": ns.name},
            "syncPolicy": {"automated": {"prune": true}},
        })
    };
    apply_app(&client, &ns.name, "good", git_spec("good")).await?;
    wait_app(&client, &ns.name, "good", "Ready", is_ready).await?;
    wait_configmap_version(&client, &ns.name, "good-lib", "0.4.1").await?;

    apply_app(&client, &ns.name, "bad", git_spec("bad")).await?;
    let app = wait_reason(&client, &ns.name, "bad", "DependencyNotResolved").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("no-such-chart"), "{message}");

    // The dependency is offline once fetched: the repository goes down, a new commit of the
    // umbrella still renders from the cache.
    drop(server);
    repo.write("good/values.yaml", "lib:\n  value: changed\n");
    repo.commit("values");
    refresh(&client, &ns.name, "good").await?;
    wait_for("the new commit rendered with the cached dependency", Duration::from_secs(60), || async {
        let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns.name).get("good-lib").await?;
        let value = cm.data.and_then(|d| d.get("value").cloned());
        if value.as_deref() == Some("changed") { Ok(Some(())) } else { anyhow::bail!("value is {value:?}") }
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn bad_input_has_its_own_reason_and_prunes_nothing() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-helmrepo-bad").await?;
    let server = HelmRepoServer::start()?;
    server.publish("web", "1.2.3", "a")?;
    credentials_for(&client, &ns.name, "charts", &server.url()).await?;
    put_secret(
        &client,
        &ns.name,
        "wrong",
        &[("type", "helm"), ("url", &server.mirror_url()), ("username", HELM_USER), ("password", "not-the-password")],
    )
    .await?;
    let mut args = vec!["--controller-namespace", ns.name.as_str()];
    args.extend_from_slice(FAST);
    let controller = ControllerProcess::start(&ns.name, &args)?;

    // A deployed Application whose spec turns bad keeps its objects.
    apply_app(&client, &ns.name, "web", chart_spec(&ns.name, &server.url(), "web", "1.2.3")).await?;
    wait_app(&client, &ns.name, "web", "Ready", is_ready).await?;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    for (revision, reason) in [("~5.0", "NoMatchingVersion"), ("9.9.9", "RevisionNotFound")] {
        apply_app(&client, &ns.name, "web", chart_spec(&ns.name, &server.url(), "web", revision)).await?;
        let app = wait_reason(&client, &ns.name, "web", reason).await?;
        let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
        assert!(message.contains("1.2.3"), "the message lists the versions: {message}");
        assert!(configmaps.get_opt("web-web").await?.is_some(), "nothing pruned on {reason}");
    }
    apply_app(&client, &ns.name, "web", chart_spec(&ns.name, &server.url(), "nope", "1.2.3")).await?;
    wait_reason(&client, &ns.name, "web", "ChartNotFound").await?;
    assert!(configmaps.get_opt("web-web").await?.is_some(), "nothing pruned on ChartNotFound");

    apply_app(&client, &ns.name, "wrong-password", chart_spec(&ns.name, &server.mirror_url(), "web", "1.2.3")).await?;
    let app = wait_reason(&client, &ns.name, "wrong-password", "AuthenticationFailed").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(!message.contains("not-the-password") && !message.contains(HELM_PASSWORD), "{message}");

    // A tampered archive fails its digest.
    let work = tempfile::tempdir()?;
    server.publish("tampered", "1.0.0", "a")?;
    let archive = server.charts_dir().join("tampered-1.0.0.tgz");
    let other = write_chart(work.path(), "tampered", "1.0.0", "evil")?;
    std::process::Command::new(lockstep_e2e::helmrepo::helm())
        .arg("package")
        .arg(&other)
        .arg("--destination")
        .arg(work.path())
        .output()?;
    std::fs::copy(work.path().join("tampered-1.0.0.tgz"), &archive)?;
    apply_app(&client, &ns.name, "tampered", chart_spec(&ns.name, &server.url(), "tampered", "1.0.0")).await?;
    let app = wait_reason(&client, &ns.name, "tampered", "InvalidArtifact").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("digest"), "{message}");
    assert!(configmaps.get_opt("tampered-tampered").await?.is_none());

    // An archive with a symlink out of the chart is refused before anything is unpacked there.
    let evil = work.path().join("evil");
    std::fs::create_dir_all(&evil)?;
    std::fs::write(evil.join("Chart.yaml"), "apiVersion: v2\nname: evil\nversion: 1.0.0\n")?;
    std::os::unix::fs::symlink("/etc", evil.join("templates"))?;
    let packed = std::process::Command::new("tar")
        .arg("czf")
        .arg(server.charts_dir().join("evil-1.0.0.tgz"))
        .arg("-C")
        .arg(work.path())
        .arg("evil")
        .status()?;
    assert!(packed.success());
    server.write_index("apiVersion: v1\nentries:\n  evil:\n  - version: 1.0.0\n    urls: [evil-1.0.0.tgz]\n")?;
    apply_app(&client, &ns.name, "evil", chart_spec(&ns.name, &server.url(), "evil", "1.0.0")).await?;
    refresh(&client, &ns.name, "evil").await?;
    let app = wait_reason(&client, &ns.name, "evil", "InvalidArtifact").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("Symlink"), "{message}");

    let log = controller.log();
    assert!(!log.contains(HELM_PASSWORD) && !log.contains("not-the-password"), "a password leaked into the log");
    Ok(())
}

#[tokio::test]
async fn an_index_over_the_cap_fails_without_reading_it_all() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-helmrepo-cap").await?;
    let server = HelmRepoServer::start()?;
    server.publish("web", "1.2.3", "a")?;
    credentials_for(&client, &ns.name, "charts", &server.url()).await?;
    let mut args = vec!["--controller-namespace", ns.name.as_str(), "--max-helm-index-bytes", "200"];
    args.extend_from_slice(FAST);
    let _controller = ControllerProcess::start(&ns.name, &args)?;
    apply_app(&client, &ns.name, "web", chart_spec(&ns.name, &server.url(), "web", "1.2.3")).await?;
    let app = wait_reason(&client, &ns.name, "web", "ArtifactTooLarge").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("200-byte cap"), "{message}");
    Ok(())
}

#[tokio::test]
async fn mirrors_and_an_authenticating_proxy_serve_a_repository_that_is_down() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-helmrepo-mirror").await?;
    let server = HelmRepoServer::start()?;
    server.publish("web", "1.2.3", "a")?;
    let proxy = lockstep_e2e::gitserver::ProxyServer::start("proxyuser", "proxy-pass")?;
    // The canonical repository does not answer; the mirror map sends it to the mirror, reached
    // through the proxy with the mirror's own credentials.
    let canonical = format!("http://127.0.0.1:{}/stable", lockstep_e2e::gitserver::free_port());
    let mirrors = format!("- source: {canonical}\n  mirrors: [{}]\n", server.mirror_url());
    let body = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "lockstep-source-mirrors"},
        "data": {"mirrors.yaml": mirrors},
    });
    Api::<ConfigMap>::namespaced(client.clone(), &ns.name)
        .patch("lockstep-source-mirrors", &PatchParams::apply("e2e-test").force(), &Patch::Apply(&body))
        .await?;
    let mirror = server.mirror_url();
    let wrong = proxy.url_with("proxyuser", "wrong-proxy-pass");
    let data = [("url", mirror.as_str()), ("username", HELM_USER), ("password", HELM_PASSWORD), ("proxy", &wrong)];
    put_secret(&client, &ns.name, "mirror", &data).await?;
    let mut args = vec!["--controller-namespace", ns.name.as_str()];
    args.extend_from_slice(FAST);
    let controller = ControllerProcess::start(&ns.name, &args)?;
    apply_app(&client, &ns.name, "web", chart_spec(&ns.name, &canonical, "web", "~1.2")).await?;
    let app = wait_reason(&client, &ns.name, "web", "ProxyAuthenticationFailed").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(!message.contains("wrong-proxy-pass"), "{message}");

    let right = proxy.url_with("proxyuser", "proxy-pass");
    let data = [("url", mirror.as_str()), ("username", HELM_USER), ("password", HELM_PASSWORD), ("proxy", &right)];
    put_secret(&client, &ns.name, "mirror", &data).await?;
    let app =
        wait_app(&client, &ns.name, "web", "Ready from the mirror", |a| is_ready(a) && revision(a) == Some("1.2.3"))
            .await?;
    let fetched_from = app.status.as_ref().and_then(|s| s.source.as_ref()).and_then(|s| s.fetched_from.clone());
    assert_eq!(fetched_from.as_deref(), Some(server.mirror_url().as_str()));
    assert!(proxy.requests() >= 2, "the index and the archive went through the proxy");
    assert_eq!(server.index_fetches("/charts/"), 0, "only the mirror path was used");
    assert!(server.index_fetches("/mirror/") >= 1);
    let log = controller.log();
    assert!(!log.contains("proxy-pass") && !log.contains(HELM_PASSWORD), "a password leaked into the log");
    Ok(())
}

#[tokio::test]
async fn https_with_a_private_ca_and_a_client_certificate() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-helmrepo-tls").await?;
    let server = HelmRepoServer::start()?;
    server.publish("web", "1.2.3", "a")?;
    let url = server.https_url();
    let basic = [("url", url.as_str()), ("username", HELM_USER), ("password", HELM_PASSWORD)];
    let mut with_ca = basic.to_vec();
    with_ca.push(("caData", &server.ca.ca_pem));
    put_secret(&client, &ns.name, "tls", &with_ca).await?;
    let mut args = vec!["--controller-namespace", ns.name.as_str()];
    args.extend_from_slice(FAST);
    let _controller = ControllerProcess::start(&ns.name, &args)?;

    // The server requires a client certificate: without one the handshake fails.
    apply_app(&client, &ns.name, "web", chart_spec(&ns.name, &url, "web", "1.2.3")).await?;
    wait_reason(&client, &ns.name, "web", "TLSFailed").await?;

    let mut full = with_ca.clone();
    full.extend([("tlsClientCertData", server.client_cert.as_str()), ("tlsClientCertKey", &server.client_key)]);
    put_secret(&client, &ns.name, "tls", &full).await?;
    wait_app(&client, &ns.name, "web", "Ready over mutual TLS", |a| is_ready(a) && revision(a) == Some("1.2.3"))
        .await?;

    // Without caData the server's certificate is not trusted.
    let mut no_ca = basic.to_vec();
    no_ca.extend([("tlsClientCertData", server.client_cert.as_str()), ("tlsClientCertKey", &server.client_key)]);
    // (Deleted first: server-side apply of stringData would keep the old caData key.)
    Api::<Secret>::namespaced(client.clone(), &ns.name).delete("tls", &Default::default()).await?;
    put_secret(&client, &ns.name, "tls", &no_ca).await?;
    apply_app(&client, &ns.name, "web", chart_spec(&ns.name, &url, "web", "~1.2")).await?;
    refresh(&client, &ns.name, "web").await?;
    let app = wait_reason(&client, &ns.name, "web", "TLSFailed").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("certificate"), "{message}");
    Ok(())
}
