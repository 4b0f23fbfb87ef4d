//! Rendering end to end: Kustomize overlays, Helm charts and directory options, the render cache,
//! and bad input that must end as a condition without touching the cluster.

use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use lockstep_api::{Application, SyncStatusCode};
use lockstep_e2e::apps::{apply_app, ready, refresh, wait_app, wait_reason};
use lockstep_e2e::cluster::{kubectl, workspace_root};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::{Value, json};

/// The shared test data (`LOCKSTEP_SHARED_DIR`, else `../shared` beside the workspace).
fn shared_dir() -> PathBuf {
    std::env::var_os("LOCKSTEP_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("..").join("shared"))
}

/// Copies `from` (relative to shared/manifests) into the repository at `to`.
fn copy_shared(repo: &GitRepo, from: &str, to: &str) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("create directory");
        for entry in std::fs::read_dir(from).expect("read shared directory") {
            let entry = entry.expect("directory entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("file type").is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).expect("copy file");
            }
        }
    }
    copy(&shared_dir().join("manifests").join(from), &repo.path().join(to));
}

fn spec(repo: &GitRepo, path: &str, ns: &str, automated: bool) -> Value {
    let mut spec = json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main", "path": path},
        "destination": {"namespace": ns},
    });
    if automated {
        spec["syncPolicy"] = json!({"automated": {}});
    }
    spec
}

/// Waits until the Application compared `revision` and is Synced.
async fn wait_synced(client: &kube::Client, ns: &str, name: &str, revision: &str) -> anyhow::Result<Application> {
    wait_app(client, ns, name, &format!("Synced at {revision}"), |app| {
        app.status
            .as_ref()
            .is_some_and(|s| s.sync.status == SyncStatusCode::Synced && s.sync.revision.as_deref() == Some(revision))
    })
    .await
}

async fn config_map(client: &kube::Client, ns: &str, name: &str) -> Option<ConfigMap> {
    Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await.ok()?
}

async fn data(client: &kube::Client, ns: &str, name: &str, key: &str) -> Option<String> {
    config_map(client, ns, name).await?.data?.get(key).cloned()
}

fn rendered_lines(log: &str) -> usize {
    log.lines().filter(|l| l.contains("rendered") && !l.contains("cache hit")).count()
}

#[tokio::test]
async fn podinfo_kustomize_and_helm_with_custom_values_follow_a_values_edit() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-render-podinfo").await?;
    let repo = GitRepo::new();
    copy_shared(&repo, "podinfo/kustomize", "podinfo/kustomize");
    copy_shared(&repo, "podinfo/charts/podinfo", "podinfo/chart");
    repo.write("podinfo/chart/values-custom.yaml", "replicaCount: 2\nui:\n  message: from git\n");
    let first = repo.commit("podinfo");
    let _controller = ControllerProcess::start(&ns.name, &[])?;

    let mut kustomized = spec(&repo, "podinfo/kustomize", &ns.name, true);
    kustomized["source"]["kustomize"] = json!({
        "namePrefix": "k-",
        "images": ["ghcr.io/stefanprodan/podinfo=ghcr.io/stefanprodan/podinfo:6.7.0"],
        "commonLabels": {"team": "platform"},
    });
    apply_app(&client, &ns.name, "kustomized", kustomized).await?;
    let mut charted = spec(&repo, "podinfo/chart", &ns.name, true);
    charted["source"]["helm"] = json!({
        "valueFiles": ["values-custom.yaml"],
        "values": "podAnnotations:\n  from-values: \"yes\"\n",
        "parameters": [{"name": "ui.color", "value": "#123456", "forceString": true}],
    });
    apply_app(&client, &ns.name, "charted", charted).await?;

    wait_synced(&client, &ns.name, "kustomized", &first).await?;
    wait_synced(&client, &ns.name, "charted", &first).await?;
    let deployments = Api::<Deployment>::namespaced(client.clone(), &ns.name);
    let k = deployments.get("k-podinfo").await?;
    assert_eq!(k.metadata.labels.as_ref().and_then(|l| l.get("team")).map(String::as_str), Some("platform"));
    let image = k.spec.as_ref().and_then(|s| s.template.spec.as_ref()).map(|p| p.containers[0].image.clone());
    assert_eq!(image.flatten().as_deref(), Some("ghcr.io/stefanprodan/podinfo:6.7.0"));

    // Release name defaults to the Application's name; values files, values and parameters apply.
    let h = deployments.get("charted-podinfo").await?;
    let spec_of = |d: &Deployment| d.spec.clone().expect("deployment spec");
    assert_eq!(spec_of(&h).replicas, Some(2));
    let template = spec_of(&h).template;
    let annotations = template.metadata.and_then(|m| m.annotations).unwrap_or_default();
    assert_eq!(annotations.get("from-values").map(String::as_str), Some("yes"));
    let env = template.spec.expect("pod spec").containers[0].env.clone().unwrap_or_default();
    let env_value = |name: &str| env.iter().find(|e| e.name == name).and_then(|e| e.value.clone());
    assert_eq!(env_value("PODINFO_UI_COLOR").as_deref(), Some("#123456"));
    assert_eq!(env_value("PODINFO_UI_MESSAGE").as_deref(), Some("from git"));

    // A values edit in git reaches the cluster.
    repo.write("podinfo/chart/values-custom.yaml", "replicaCount: 3\nui:\n  message: edited\n");
    let second = repo.commit("more replicas");
    refresh(&client, &ns.name, "charted").await?;
    wait_synced(&client, &ns.name, "charted", &second).await?;
    let h = deployments.get("charted-podinfo").await?;
    assert_eq!(spec_of(&h).replicas, Some(3));
    Ok(())
}

#[tokio::test]
async fn crd_directories_with_include_and_exclude() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-render-crds").await?;
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    let names = [
        "certificates.cert-manager.io",
        "certificaterequests.cert-manager.io",
        "issuers.cert-manager.io",
        "clusterissuers.cert-manager.io",
        "challenges.acme.cert-manager.io",
        "orders.acme.cert-manager.io",
        "servicemonitors.monitoring.coreos.com",
        "podmonitors.monitoring.coreos.com",
        "prometheuses.monitoring.coreos.com",
    ];
    // Cluster-scoped leftovers of an earlier run would belong to that run's Application.
    kubectl(&[&["delete", "crd", "--ignore-not-found", "--wait=true"][..], &names[..]].concat(), None);
    let repo = GitRepo::new();
    copy_shared(&repo, "cert-manager-crds/deploy/crds", "cert-manager");
    copy_shared(&repo, "prometheus-operator-crds/example/prometheus-operator-crd", "prometheus");
    let commit = repo.commit("crds");
    let _controller = ControllerProcess::start(&ns.name, &[])?;

    let mut cert_manager = spec(&repo, "cert-manager", &ns.name, true);
    cert_manager["source"]["directory"] = json!({"exclude": "{*issuers.yaml,acme.*}"});
    apply_app(&client, &ns.name, "cert-manager", cert_manager).await?;
    let mut prometheus = spec(&repo, "prometheus", &ns.name, true);
    prometheus["source"]["directory"] = json!({"include": "{*servicemonitors.yaml,*podmonitors.yaml,*prometheuses.yaml}", "exclude": "*prometheuses.yaml"});
    apply_app(&client, &ns.name, "prometheus", prometheus).await?;

    let app = wait_synced(&client, &ns.name, "cert-manager", &commit).await?;
    let mut listed: Vec<_> = app.status.expect("status").resources.into_iter().map(|r| r.name).collect();
    listed.sort();
    assert_eq!(listed, vec!["certificaterequests.cert-manager.io", "certificates.cert-manager.io"]);
    let app = wait_synced(&client, &ns.name, "prometheus", &commit).await?;
    let mut listed: Vec<_> = app.status.expect("status").resources.into_iter().map(|r| r.name).collect();
    listed.sort();
    assert_eq!(listed, vec!["podmonitors.monitoring.coreos.com", "servicemonitors.monitoring.coreos.com"]);
    for (name, present) in names.iter().zip([true, true, false, false, false, false, true, true, false]) {
        assert_eq!(crds.get_opt(name).await?.is_some(), present, "{name}");
    }
    // The largest CRDs are applied server-side when included.
    let mut issuers = spec(&repo, "cert-manager", &ns.name, true);
    issuers["source"]["directory"] = json!({"include": "*issuers.yaml"});
    apply_app(&client, &ns.name, "issuers", issuers).await?;
    wait_synced(&client, &ns.name, "issuers", &commit).await?;
    assert!(crds.get_opt("clusterissuers.cert-manager.io").await?.is_some());
    Ok(())
}

#[tokio::test]
async fn kustomize_overlay_with_a_component_and_a_json_patch() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-render-kustomize").await?;
    let repo = GitRepo::new();
    repo.write("base/kustomization.yaml", "resources:\n- config.yaml\n");
    repo.write(
        "base/config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  level: info\n",
    );
    repo.write("overlay/kustomization.yaml", "resources:\n- ../base\ncommonAnnotations:\n  overlay: \"yes\"\n");
    repo.write(
        "components/audit/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n- audit.yaml\n",
    );
    repo.write(
        "components/audit/audit.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: audit\ndata:\n  enabled: \"true\"\n",
    );
    repo.write("overlay/patches/level.yaml", "- op: replace\n  path: /data/level\n  value: debug\n");
    let commit = repo.commit("overlay");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    let mut app = spec(&repo, "overlay", &ns.name, true);
    app["source"]["kustomize"] = json!({
        "nameSuffix": "-v1",
        "commonAnnotations": {"owner": "lockstep"},
        "components": ["../components/audit"],
        "patches": [
            {"path": "patches/level.yaml", "target": {"kind": "ConfigMap", "name": "settings"}},
            {"patch": "- op: add\n  path: /data/added\n  value: inline\n", "target": {"kind": "ConfigMap", "name": "settings"}},
        ],
    });
    apply_app(&client, &ns.name, "overlay", app).await?;
    wait_synced(&client, &ns.name, "overlay", &commit).await?;
    let settings = config_map(&client, &ns.name, "settings-v1").await.expect("settings-v1 exists");
    let data = settings.data.clone().unwrap_or_default();
    assert_eq!(data.get("level").map(String::as_str), Some("debug"), "{data:?}");
    assert_eq!(data.get("added").map(String::as_str), Some("inline"), "{data:?}");
    let annotations = settings.metadata.annotations.unwrap_or_default();
    assert_eq!(annotations.get("overlay").map(String::as_str), Some("yes"));
    assert_eq!(annotations.get("owner").map(String::as_str), Some("lockstep"));
    assert!(config_map(&client, &ns.name, "audit-v1").await.is_some(), "the component's object is there");
    Ok(())
}

#[tokio::test]
async fn helm_chart_with_a_local_dependency_and_cluster_capabilities() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-render-helm").await?;
    let repo = GitRepo::new();
    repo.write(
        "charts/app/Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 0.1.0\nkubeVersion: \">=1.30.0-0\"\ndependencies:\n- name: lib\n  version: 0.1.0\n  repository: file://../lib\n",
    );
    repo.write("charts/app/values.yaml", "greeting: hello\nlib:\n  flavour: vanilla\n");
    repo.write(
        "charts/app/templates/caps.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-caps\n  namespace: {{ .Release.Namespace }}\ndata:\n  \
         deployments: {{ .Capabilities.APIVersions.Has \"apps/v1/Deployment\" | quote }}\n  \
         fake: {{ .Capabilities.APIVersions.Has \"fake.example.com/v1\" | quote }}\n  \
         crd: {{ .Capabilities.APIVersions.Has \"apiextensions.k8s.io/v1/CustomResourceDefinition\" | quote }}\n  \
         kube: {{ .Capabilities.KubeVersion.Version | quote }}\n  greeting: {{ .Values.greeting | quote }}\n",
    );
    repo.write("charts/lib/Chart.yaml", "apiVersion: v2\nname: lib\nversion: 0.1.0\n");
    repo.write(
        "charts/lib/templates/lib.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-lib\ndata:\n  flavour: {{ .Values.flavour | quote }}\n",
    );
    let commit = repo.commit("chart");
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    // Detected as Helm from Chart.yaml; no helm block at all.
    apply_app(&client, &ns.name, "detected", spec(&repo, "charts/app", &ns.name, true)).await?;
    let mut explicit = spec(&repo, "charts/app", &ns.name, true);
    explicit["source"]["helm"] = json!({
        "releaseName": "pinned",
        "valuesObject": {"greeting": "object wins", "lib": {"flavour": "chocolate"}},
        "values": "greeting: string loses\n",
        "apiVersions": ["fake.example.com/v1"],
        "kubeVersion": "v1.31.0",
    });
    apply_app(&client, &ns.name, "explicit", explicit).await?;
    wait_synced(&client, &ns.name, "detected", &commit).await?;
    wait_synced(&client, &ns.name, "explicit", &commit).await?;

    let version = client.apiserver_version().await?.git_version;
    assert_eq!(data(&client, &ns.name, "detected-caps", "deployments").await.as_deref(), Some("true"));
    assert_eq!(data(&client, &ns.name, "detected-caps", "crd").await.as_deref(), Some("true"));
    assert_eq!(data(&client, &ns.name, "detected-caps", "fake").await.as_deref(), Some("false"));
    assert_eq!(data(&client, &ns.name, "detected-caps", "kube").await, Some(version));
    assert_eq!(data(&client, &ns.name, "detected-lib", "flavour").await.as_deref(), Some("vanilla"));

    assert_eq!(data(&client, &ns.name, "pinned-caps", "fake").await.as_deref(), Some("true"));
    assert_eq!(data(&client, &ns.name, "pinned-caps", "kube").await.as_deref(), Some("v1.31.0"));
    assert_eq!(data(&client, &ns.name, "pinned-caps", "greeting").await.as_deref(), Some("object wins"));
    assert_eq!(data(&client, &ns.name, "pinned-lib", "flavour").await.as_deref(), Some("chocolate"));
    assert!(!repo.path().join("charts/app/charts").exists(), "the dependency was not built into the repository");
    Ok(())
}

#[tokio::test]
async fn fifty_applications_on_one_commit_render_once_and_a_restart_renders_nothing() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-render-cache").await?;
    let repo = GitRepo::new();
    repo.write("app/kustomization.yaml", "resources:\n- config.yaml\n");
    repo.write("app/config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  a: b\n");
    let commit = repo.commit("one commit");
    let controller = ControllerProcess::start(&ns.name, &[])?;
    let names: Vec<String> = (0..50).map(|i| format!("app-{i:02}")).collect();
    for name in &names {
        // Not automated: every Application compares the same render; none applies.
        let mut app = spec(&repo, "app", &ns.name, false);
        app["source"]["kustomize"] = json!({"namePrefix": "same-"});
        apply_app(&client, &ns.name, name, app).await?;
    }
    for name in &names {
        wait_reason(&client, &ns.name, name, "OutOfSync").await?;
    }
    let app = lockstep_e2e::apps::get_app(&client, &ns.name, "app-49").await?;
    assert_eq!(app.status.as_ref().and_then(|s| s.sync.revision.as_deref()), Some(commit.as_str()));
    assert_eq!(rendered_lines(&controller.log()), 1, "one render for 50 Applications:\n{}", controller.log());

    // A resync with nothing changed renders nothing; neither does a restart over the same cache.
    refresh(&client, &ns.name, "app-00").await?;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(rendered_lines(&controller.log()), 1);
    let cache = controller.stop();
    let restarted = ControllerProcess::start_with_cache(&ns.name, cache, &[])?;
    refresh(&client, &ns.name, "app-00").await?;
    wait_app(&client, &ns.name, "app-00", "a reconcile after the restart", |app| {
        ready(app).is_some_and(|c| c.reason == "OutOfSync")
    })
    .await?;
    lockstep_e2e::wait_for("the restarted controller to compare", lockstep_e2e::apps::TIMEOUT, || async {
        Ok(restarted.log().contains("render cache hit").then_some(()))
    })
    .await?;
    assert_eq!(rendered_lines(&restarted.log()), 0, "{}", restarted.log());
    Ok(())
}

/// Creates the failing Application and waits for its condition; returns the Ready message.
async fn expect_failure(
    client: &kube::Client,
    ns: &str,
    name: &str,
    spec: Value,
    reason: &str,
) -> anyhow::Result<String> {
    apply_app(client, ns, name, spec).await?;
    let app = wait_reason(client, ns, name, reason).await?;
    Ok(ready(&app).map(|c| c.message.clone()).unwrap_or_default())
}

#[tokio::test]
async fn bad_input_ends_as_a_condition_and_changes_nothing() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-render-bad").await?;
    let good = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: should-not-exist\ndata:\n  a: b\n";
    let repo = GitRepo::new();
    repo.write("kustomize-error/kustomization.yaml", "resources:\n- good.yaml\n- missing.yaml\n");
    repo.write("kustomize-error/good.yaml", good);
    repo.write(
        "remote/kustomization.yaml",
        "resources:\n- good.yaml\n- https://github.com/example/app//deploy?ref=v1\n",
    );
    repo.write("remote/good.yaml", good);
    repo.write("helm-error/Chart.yaml", "apiVersion: v2\nname: broken\nversion: 0.1.0\n");
    repo.write("helm-error/templates/good.yaml", good);
    repo.write("helm-error/templates/fail.yaml", "{{ fail \"the chart refuses: replicas must be set\" }}\n");
    repo.write("chart/Chart.yaml", "apiVersion: v2\nname: fine\nversion: 0.1.0\n");
    repo.write("chart/templates/good.yaml", good);
    repo.write("remote-chart/Chart.yaml", "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  repository: https://charts.example.com\n");
    repo.write("remote-chart/templates/good.yaml", good);
    let commit = repo.commit("bad input");
    let controller = ControllerProcess::start(&ns.name, &[])?;

    let message =
        expect_failure(&client, &ns.name, "kustomize", spec(&repo, "kustomize-error", &ns.name, true), "RenderFailed")
            .await?;
    assert!(message.starts_with("kustomize failed:") && message.contains("missing.yaml"), "{message}");
    assert!(message.contains(&commit[..7]), "names the revision: {message}");
    let message =
        expect_failure(&client, &ns.name, "remote", spec(&repo, "remote", &ns.name, true), "RenderFailed").await?;
    assert!(message.contains("remote base") && message.contains("remote/kustomization.yaml"), "{message}");
    let message =
        expect_failure(&client, &ns.name, "helm", spec(&repo, "helm-error", &ns.name, true), "RenderFailed").await?;
    assert!(message.starts_with("helm failed:") && message.contains("replicas must be set"), "{message}");
    let mut missing = spec(&repo, "chart", &ns.name, true);
    missing["source"]["helm"] = json!({"valueFiles": ["values-prod.yaml"]});
    let message = expect_failure(&client, &ns.name, "missing-values", missing, "RenderFailed").await?;
    assert!(message.contains("values file chart/values-prod.yaml does not exist"), "{message}");
    // A dependency from a Helm repository that cannot be reached is resolved by the controller,
    // and fails with its own reason naming it (helm_repo.rs covers the repositories that answer).
    let remote = spec(&repo, "remote-chart", &ns.name, true);
    let message = expect_failure(&client, &ns.name, "remote-chart", remote, "DependencyNotResolved").await?;
    assert!(message.contains("\"redis\"") && message.contains("charts.example.com"), "{message}");
    let message =
        expect_failure(&client, &ns.name, "escape", spec(&repo, "../..", &ns.name, true), "InvalidSpec").await?;
    assert!(message.contains("../.."), "{message}");
    // ignoreMissingValueFiles turns the missing file into a working render.
    let mut ignored = spec(&repo, "chart", &ns.name, false);
    ignored["source"]["helm"] = json!({"valueFiles": ["values-prod.yaml"], "ignoreMissingValueFiles": true});
    expect_failure(&client, &ns.name, "ignored", ignored, "OutOfSync").await?;

    // A symlink out of the repository refuses the whole commit, before any tool runs.
    let linked = GitRepo::new();
    linked.write("app/good.yaml", good);
    std::os::unix::fs::symlink("/etc/passwd", linked.path().join("app/passwd.yaml"))?;
    linked.commit("symlink");
    let message =
        expect_failure(&client, &ns.name, "symlink", spec(&linked, "app", &ns.name, true), "RenderFailed").await?;
    assert!(message.contains("symlink app/passwd.yaml points outside the repository"), "{message}");

    // The timeout and the output cap, with a controller whose limits are tight.
    let tight_ns = TestNamespace::create(&client, "e2e-render-limits").await?;
    let _tight = ControllerProcess::start(&tight_ns.name, &["--render-timeout", "1ms"])?;
    let message =
        expect_failure(&client, &tight_ns.name, "slow", spec(&repo, "chart", &tight_ns.name, true), "RenderFailed")
            .await?;
    assert!(message.contains("helm timed out"), "{message}");
    let capped_ns = TestNamespace::create(&client, "e2e-render-cap").await?;
    let _capped = ControllerProcess::start(&capped_ns.name, &["--max-render-output", "64"])?;
    let message =
        expect_failure(&client, &capped_ns.name, "big", spec(&repo, "chart", &capped_ns.name, true), "RenderFailed")
            .await?;
    assert!(message.contains("output exceeds the 64-byte cap"), "{message}");

    for namespace in [&ns.name, &tight_ns.name, &capped_ns.name] {
        let cms = Api::<ConfigMap>::namespaced(client.clone(), namespace).list(&ListParams::default()).await?;
        let names: Vec<_> =
            cms.items.iter().filter_map(|c| c.metadata.name.clone()).filter(|n| n != "kube-root-ca.crt").collect();
        assert!(names.is_empty(), "nothing was applied in {namespace}: {names:?}");
    }
    assert!(!controller.log().contains("panicked"), "{}", controller.log());
    Ok(())
}
