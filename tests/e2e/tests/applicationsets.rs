//! ApplicationSets on the real control plane: a list set creates, updates and deletes its
//! Applications by policy; bad input (duplicate names, a name taken by a hand-written
//! Application, an unreachable repository) ends in a condition and changes nothing; a git
//! directory set over HTTP follows a push webhook.

use std::net::SocketAddr;
use std::time::Duration;

use kube::api::{Api, ListParams, Patch, PatchParams};
use lockstep_api::{APPLICATION_SET_LABEL, Application, ApplicationSet};
use lockstep_e2e::apps::{TIMEOUT, apply_app, get_app, wait_app};
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::gitserver::HttpGitServer;
use lockstep_e2e::http::{free_addr, request};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::{Value, json};

fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n")
}

async fn apply_set(client: &kube::Client, ns: &str, name: &str, spec: Value) -> anyhow::Result<()> {
    let body = json!({
        "apiVersion": "lockstep.dev/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    });
    let api: Api<ApplicationSet> = Api::namespaced(client.clone(), ns);
    api.patch(name, &PatchParams::apply("e2e-test").force(), &Patch::Apply(&body)).await?;
    Ok(())
}

/// The names of the Applications the set labels as its own, sorted.
async fn generated(client: &kube::Client, ns: &str, set: &str) -> anyhow::Result<Vec<String>> {
    let api: Api<Application> = Api::namespaced(client.clone(), ns);
    let list = api.list(&ListParams::default().labels(&format!("{APPLICATION_SET_LABEL}={set}"))).await?;
    let mut names: Vec<String> = list.items.iter().filter_map(|a| a.metadata.name.clone()).collect();
    names.sort();
    Ok(names)
}

async fn wait_generated(client: &kube::Client, ns: &str, set: &str, want: &[&str]) -> anyhow::Result<()> {
    wait_for(&format!("{set} generates {want:?}"), TIMEOUT, || async {
        let names = generated(client, ns, set).await?;
        if names == want { Ok(Some(())) } else { anyhow::bail!("has {names:?}") }
    })
    .await
}

async fn wait_synced(client: &kube::Client, ns: &str, name: &str) -> anyhow::Result<Application> {
    wait_app(client, ns, name, &format!("{name} Synced and Healthy"), |app| {
        app.status.as_ref().is_some_and(|s| {
            s.sync.status == lockstep_api::SyncStatusCode::Synced
                && s.health.status == lockstep_api::HealthStatusCode::Healthy
        })
    })
    .await
}

/// Waits for the set's condition `type_` to have `status` and a reason and message containing
/// `reason` and `message`; returns the set.
async fn wait_condition(
    client: &kube::Client,
    ns: &str,
    set: &str,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
) -> anyhow::Result<ApplicationSet> {
    let api: Api<ApplicationSet> = Api::namespaced(client.clone(), ns);
    wait_for(&format!("{set} {type_}={status} ({reason}: {message})"), TIMEOUT, || async {
        let found = api.get(set).await?;
        let generation = found.metadata.generation;
        let holds = found.status.as_ref().is_some_and(|s| {
            s.conditions.iter().any(|c| {
                c.type_ == type_
                    && c.status == status
                    && c.reason.contains(reason)
                    && c.message.contains(message)
                    && c.observed_generation == generation
            })
        });
        if holds { Ok(Some(found)) } else { anyhow::bail!("status is {}", serde_json::to_string(&found.status)?) }
    })
    .await
}

/// Runs the `lockstep` CLI against the test cluster in `ns`, without colour; returns stdout.
fn lockstep(ns: &str, args: &[&str]) -> anyhow::Result<String> {
    let bin = std::env::var_os("LOCKSTEP_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| lockstep_e2e::workspace_root().join("target/debug/lockstep"));
    let out = std::process::Command::new(bin)
        .args(args)
        .arg("--kubeconfig")
        .arg(lockstep_e2e::cluster::kubeconfig())
        .args(["-n", ns])
        .env("NO_COLOR", "1")
        .output()?;
    anyhow::ensure!(out.status.success(), "lockstep {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8(out.stdout)?)
}

fn configmap_exists(ns: &str, name: &str) -> bool {
    kubectl_ok(&["get", "configmap", name, "-n", ns], None).is_ok()
}

/// A list set; `v1` templates label each Application with its zone too, later tiers do not.
fn list_set(repo: &GitRepo, ns: &str, elements: Value, policy: &str, tier: &str) -> Value {
    let labels = if tier == "v1" { json!({"tier": tier, "zone": "{{zone}}"}) } else { json!({"tier": tier}) };
    json!({
        "generators": [{"list": {"elements": elements}}],
        "template": {
            "metadata": {"name": "{{name}}-app", "labels": labels},
            "spec": {
                "source": {"repoURL": repo.url(), "targetRevision": "main", "path": "apps/{{name}}"},
                "destination": {"namespace": ns},
                "syncPolicy": {"automated": {"prune": true}}
            }
        },
        "syncPolicy": {"applicationsSync": policy}
    })
}

#[tokio::test]
async fn a_list_set_creates_updates_and_deletes_by_policy_and_bad_input_changes_nothing() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-appset-list").await?;
    let repo = GitRepo::new();
    for name in ["a", "b", "c", "x"] {
        repo.write(&format!("apps/{name}/config.yaml"), &config_map(&format!("{name}-config"), name));
    }
    repo.commit("apps");
    let _controller = ControllerProcess::start(&ns.name, &["--controller-namespace", &ns.name])?;
    let three = json!([{"name": "a", "zone": "ccr"}, {"name": "b", "zone": "513"}, {"name": "c", "zone": "513"}]);
    apply_set(&client, &ns.name, "zones", list_set(&repo, &ns.name, three, "sync", "v1")).await?;
    wait_generated(&client, &ns.name, "zones", &["a-app", "b-app", "c-app"]).await?;
    for name in ["a-app", "b-app", "c-app"] {
        let app = wait_synced(&client, &ns.name, name).await?;
        assert_eq!(app.metadata.labels.as_ref().and_then(|l| l.get("tier")).map(String::as_str), Some("v1"));
        let owner = &app.metadata.owner_references.as_ref().expect("owner reference")[0];
        assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("ApplicationSet", "zones"));
    }
    assert!(configmap_exists(&ns.name, "c-config"));
    wait_condition(&client, &ns.name, "zones", "Ready", "True", "ApplicationSetUpToDate", "").await?;
    wait_for("kubectl get shows 3 Applications, 3 Healthy, Ready", TIMEOUT, || async {
        let table = kubectl_ok(&["get", "applicationsets", "-n", &ns.name, "--no-headers"], None)?;
        let columns: Vec<&str> = table.split_whitespace().collect();
        if columns.get(..4) == Some(&["zones", "3", "3", "True"][..]) { Ok(Some(())) } else { anyhow::bail!("{table}") }
    })
    .await?;
    let listed = lockstep(&ns.name, &["get", "applicationsets"])?;
    let row: Vec<&str> = listed.lines().nth(1).unwrap_or_default().split_whitespace().collect();
    assert_eq!(row.get(..4), Some(&["zones", "3", "3", "True"][..]), "{listed}");
    let shown = lockstep(&ns.name, &["get", "applicationset", "zones"])?;
    for app in ["a-app", "b-app", "c-app"] {
        assert!(shown.lines().any(|l| l.starts_with(app) && l.contains("Synced") && l.contains("Healthy")), "{shown}");
    }

    // create-update: a template change reaches all three.
    let two = json!([{"name": "a", "zone": "ccr"}, {"name": "b", "zone": "513"}]);
    let three = json!([{"name": "a", "zone": "ccr"}, {"name": "b", "zone": "513"}, {"name": "c", "zone": "513"}]);
    apply_set(&client, &ns.name, "zones", list_set(&repo, &ns.name, three.clone(), "create-update", "v2")).await?;
    for name in ["a-app", "b-app", "c-app"] {
        wait_app(&client, &ns.name, name, "tier v2, and the zone label dropped with the template's", |app| {
            let labels = app.metadata.labels.clone().unwrap_or_default();
            labels.get("tier").is_some_and(|t| t == "v2") && !labels.contains_key("zone")
        })
        .await?;
    }
    // create-update never deletes: removing c keeps its Application.
    apply_set(&client, &ns.name, "zones", list_set(&repo, &ns.name, two.clone(), "create-update", "v2")).await?;
    wait_condition(&client, &ns.name, "zones", "ResourcesUpToDate", "True", "ApplicationSetUpToDate", "").await?;
    assert_eq!(generated(&client, &ns.name, "zones").await?, ["a-app", "b-app", "c-app"]);

    // create-delete: c goes, with its objects (the resources finalizer).
    apply_set(&client, &ns.name, "zones", list_set(&repo, &ns.name, two.clone(), "create-delete", "v2")).await?;
    wait_generated(&client, &ns.name, "zones", &["a-app", "b-app"]).await?;
    wait_for("c's ConfigMap pruned with its Application", TIMEOUT, || async {
        if configmap_exists(&ns.name, "c-config") { anyhow::bail!("c-config still exists") } else { Ok(Some(())) }
    })
    .await?;
    assert!(configmap_exists(&ns.name, "a-config"));

    // Two parameter sets naming one Application: a condition, and nothing created or deleted.
    let duplicate = json!([{"name": "a", "zone": "ccr"}, {"name": "a", "zone": "513"}]);
    apply_set(&client, &ns.name, "zones", list_set(&repo, &ns.name, duplicate, "sync", "v3")).await?;
    let set = wait_condition(
        &client,
        &ns.name,
        "zones",
        "ErrorOccurred",
        "True",
        "ApplicationGenerationFromParamsError",
        "both generate Application \"a-app\"",
    )
    .await?;
    assert!(
        set.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "False"))
    );
    assert_eq!(generated(&client, &ns.name, "zones").await?, ["a-app", "b-app"], "b-app is not deleted");
    let a = get_app(&client, &ns.name, "a-app").await?;
    assert_eq!(
        a.metadata.labels.as_ref().and_then(|l| l.get("tier")).map(String::as_str),
        Some("v2"),
        "a-app unchanged"
    );

    // A name a hand-written Application holds: a condition naming it; that Application is left alone.
    apply_app(
        &client,
        &ns.name,
        "x-app",
        json!({"source": {"repoURL": repo.url(), "path": "apps/x"}, "destination": {"namespace": ns.name}}),
    )
    .await?;
    let with_x = json!([{"name": "a", "zone": "ccr"}, {"name": "b", "zone": "513"}, {"name": "x", "zone": "ccr"}]);
    apply_set(&client, &ns.name, "zones", list_set(&repo, &ns.name, with_x, "sync", "v2")).await?;
    wait_condition(
        &client,
        &ns.name,
        "zones",
        "ErrorOccurred",
        "True",
        "CreateApplicationError",
        "\"x-app\" already exists",
    )
    .await?;
    let x = get_app(&client, &ns.name, "x-app").await?;
    assert!(x.metadata.owner_references.is_none(), "the set did not take x-app over");
    assert!(x.metadata.labels.as_ref().is_none_or(|l| !l.contains_key(APPLICATION_SET_LABEL)));

    // create-only: nothing is updated or deleted once created.
    apply_set(
        &client,
        &ns.name,
        "zones",
        list_set(&repo, &ns.name, json!([{"name": "a", "zone": "ccr"}]), "create-only", "v9"),
    )
    .await?;
    wait_condition(&client, &ns.name, "zones", "Ready", "True", "ApplicationSetUpToDate", "").await?;
    assert_eq!(generated(&client, &ns.name, "zones").await?, ["a-app", "b-app"]);
    let a = get_app(&client, &ns.name, "a-app").await?;
    assert_eq!(a.metadata.labels.as_ref().and_then(|l| l.get("tier")).map(String::as_str), Some("v2"));
    let events = kubectl_ok(
        &[
            "get",
            "events",
            "-n",
            &ns.name,
            "--field-selector",
            "involvedObject.name=zones",
            "-o",
            "jsonpath={.items[*].reason}",
        ],
        None,
    )?;
    assert!(events.contains("ApplicationSetChanged") && events.contains("CreateApplicationError"), "{events}");

    // A Go template reading a missing key under missingkey=error, and a name the API would
    // refuse: each a condition naming the parameter set, and no Application created.
    let strict = json!({
        "goTemplate": true,
        "goTemplateOptions": ["missingkey=error"],
        "generators": [{"list": {"elements": [{"name": "s1", "zone": "ccr"}, {"name": "s2"}]}}],
        "template": {
            "metadata": {"name": "{{ .name }}-{{ .zone }}"},
            "spec": {"source": {"repoURL": repo.url(), "path": "apps/a"}, "destination": {"namespace": ns.name}}
        }
    });
    apply_set(&client, &ns.name, "strict", strict).await?;
    wait_condition(
        &client,
        &ns.name,
        "strict",
        "ErrorOccurred",
        "True",
        "ApplicationGenerationFromParamsError",
        "parameter set 1",
    )
    .await?;
    let mut invalid = list_set(&repo, &ns.name, json!([{"name": "Not_A_Name", "zone": "ccr"}]), "sync", "v1");
    invalid["template"]["metadata"]["name"] = json!("{{name}}");
    apply_set(&client, &ns.name, "invalid", invalid).await?;
    wait_condition(
        &client,
        &ns.name,
        "invalid",
        "ResourcesUpToDate",
        "False",
        "ApplicationGenerationFromParamsError",
        "is not a valid name",
    )
    .await?;
    assert!(generated(&client, &ns.name, "strict").await?.is_empty());
    assert!(generated(&client, &ns.name, "invalid").await?.is_empty());
    Ok(())
}

fn gitlab_push(url: &str, before: &str, after: &str) -> Vec<u8> {
    // Shape from GitLab's "Push events" documentation.
    serde_json::to_vec(&json!({
        "object_kind": "push", "event_name": "push", "before": before, "after": after,
        "ref": "refs/heads/main", "checkout_sha": after, "project_id": 15,
        "project": {"id": 15, "name": "platform", "git_http_url": url, "default_branch": "main",
                    "path_with_namespace": "team/platform"},
        "repository": {"name": "platform", "git_http_url": url},
        "commits": [{"id": after, "message": "add north", "added": ["clusters/north/config.yaml"], "modified": [], "removed": []}],
        "total_commits_count": 1
    }))
    .unwrap_or_default()
}

async fn wait_webhook_ready(addr: SocketAddr) -> anyhow::Result<()> {
    wait_for("webhook server", TIMEOUT, || async {
        let r = request(addr, "POST", "/api/webhook", &[], b"{}").await?;
        Ok(Some(r.status))
    })
    .await
    .map(drop)
}

fn directory_set(url: &str, ns: &str, prefix: &str) -> Value {
    json!({
        "generators": [{"git": {"repoURL": url, "revision": "main", "directories": [{"path": "clusters/*"}, {"path": "clusters/legacy", "exclude": true}]}}],
        "template": {
            "metadata": {"name": format!("{prefix}{{{{path.basename}}}}")},
            "spec": {
                "source": {"repoURL": url, "targetRevision": "main", "path": "{{path}}"},
                "destination": {"namespace": ns},
                "syncPolicy": {"automated": {"prune": true}}
            }
        }
    })
}

#[tokio::test]
async fn a_git_directory_set_follows_a_push_and_an_unreachable_repository_deletes_nothing() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-appset-git").await?;
    let server = HttpGitServer::start()?;
    let repo = GitRepo::new();
    for name in ["east", "west", "legacy"] {
        repo.write(&format!("clusters/{name}/config.yaml"), &config_map(&format!("{name}-config"), name));
    }
    let first = repo.commit("two clusters and a legacy one");
    server.publish("platform", &repo)?;
    let url = server.url("platform");
    let yaml = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: lockstep-webhook\n  namespace: {}\nstringData:\n  gitlab: gl-token\n",
        ns.name
    );
    kubectl_ok(&["apply", "-f", "-"], Some(&yaml))?;
    let webhook = free_addr();
    let _controller = ControllerProcess::start(
        &ns.name,
        &["--resync-period", "30m", "--controller-namespace", &ns.name, "--webhook-addr", &webhook.to_string()],
    )?;
    apply_set(&client, &ns.name, "clusters", directory_set(&url, &ns.name, "")).await?;
    wait_generated(&client, &ns.name, "clusters", &["east", "west"]).await?;
    wait_synced(&client, &ns.name, "east").await?;
    wait_synced(&client, &ns.name, "west").await?;
    assert!(!configmap_exists(&ns.name, "legacy-config"), "the excluded directory generates nothing");
    wait_webhook_ready(webhook).await?;

    // A commit adds a directory; the push webhook (not the 180 s requeue) brings its Application.
    repo.write("clusters/north/config.yaml", &config_map("north-config", "north"));
    let second = repo.commit("north");
    server.publish("platform", &repo)?;
    let headers =
        [("Content-Type", "application/json"), ("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "gl-token")];
    let answer = request(webhook, "POST", "/api/webhook", &headers, &gitlab_push(&url, &first, &second)).await?;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains(&format!("{}/clusters", ns.name)), "the push names the set: {}", answer.body);
    wait_generated(&client, &ns.name, "clusters", &["east", "north", "west"]).await?;
    wait_synced(&client, &ns.name, "north").await?;

    // The repository becomes unreachable for this set: a condition, and none of its Applications go.
    apply_set(&client, &ns.name, "clusters", directory_set("http://127.0.0.1:9/gone.git", &ns.name, "")).await?;
    wait_condition(
        &client,
        &ns.name,
        "clusters",
        "ErrorOccurred",
        "True",
        "ApplicationParamsGenerationError",
        "gone.git",
    )
    .await?;
    let set = wait_condition(
        &client,
        &ns.name,
        "clusters",
        "ParametersGenerated",
        "False",
        "ApplicationParamsGenerationError",
        "kept",
    )
    .await?;
    assert_eq!(set.status.as_ref().and_then(|s| s.resources_count), Some(3));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(generated(&client, &ns.name, "clusters").await?, ["east", "north", "west"]);
    assert!(configmap_exists(&ns.name, "north-config"));

    // With git served again the set is Ready; a second set over the same repository shares its cache.
    apply_set(&client, &ns.name, "clusters", directory_set(&url, &ns.name, "")).await?;
    wait_condition(&client, &ns.name, "clusters", "Ready", "True", "ApplicationSetUpToDate", "").await?;
    apply_set(&client, &ns.name, "mirror", directory_set(&url, &ns.name, "copy-")).await?;
    wait_generated(&client, &ns.name, "mirror", &["copy-east", "copy-north", "copy-west"]).await?;
    Ok(())
}

#[tokio::test]
async fn a_matrix_of_clusters_and_git_files_sends_each_application_to_its_cluster() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-appset-matrix").await?;
    let remote = lockstep_e2e::remote::RemoteCluster::up("e2e-appset-remote")?;
    let remote_client = remote.client().await?;
    let remote_kubeconfig = remote.kubeconfig_path().display().to_string();
    kubectl_ok(&["--kubeconfig", &remote_kubeconfig, "create", "namespace", &ns.name], None)?;
    kubectl_ok(&["apply", "-f", "-"], Some(&remote.config_secret(&ns.name, "cluster-east", "east")?))?;
    let repo = GitRepo::new();
    repo.write("clusters/in-cluster/config.json", r#"{"tier": "core"}"#);
    repo.write("clusters/east/config.json", r#"{"tier": "edge"}"#);
    repo.write("guestbook/config.yaml", &config_map("guestbook", "1"));
    repo.commit("two clusters");
    let _controller = ControllerProcess::start(&ns.name, &["--controller-namespace", &ns.name])?;
    let spec = json!({
        "generators": [{"matrix": {"generators": [
            {"clusters": {}},
            {"git": {"repoURL": repo.url(), "revision": "main", "files": [{"path": "clusters/{{name}}/config.json"}]}}
        ]}}],
        "template": {
            "metadata": {"name": "{{nameNormalized}}-guestbook", "labels": {"tier": "{{tier}}"}},
            "spec": {
                "source": {"repoURL": repo.url(), "targetRevision": "main", "path": "guestbook"},
                "destination": {"server": "{{server}}", "namespace": ns.name},
                "syncPolicy": {"automated": {"prune": true}}
            }
        }
    });
    apply_set(&client, &ns.name, "guestbooks", spec).await?;
    wait_generated(&client, &ns.name, "guestbooks", &["east-guestbook", "in-cluster-guestbook"]).await?;
    let east = wait_synced(&client, &ns.name, "east-guestbook").await?;
    assert_eq!(east.metadata.labels.as_ref().and_then(|l| l.get("tier")).map(String::as_str), Some("edge"));
    assert!(east.spec.destination.server.as_deref().is_some_and(|s| s.starts_with("https://127.0.0.1")));
    wait_synced(&client, &ns.name, "in-cluster-guestbook").await?;
    let remote_map =
        Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(remote_client, &ns.name).get_opt("guestbook").await?;
    assert!(remote_map.is_some(), "east's guestbook is in the second control plane");
    assert!(configmap_exists(&ns.name, "guestbook"), "in-cluster's guestbook is in the local one");

    // A cluster Secret going away means its Application is no longer generated: the set deletes
    // it (the default policy, `sync`). Its resources finalizer then waits, since the cluster that
    // holds its objects can no longer be reached; nothing else is touched.
    kubectl_ok(&["delete", "secret", "cluster-east", "-n", &ns.name], None)?;
    wait_app(&client, &ns.name, "east-guestbook", "east-guestbook deleted", |app| {
        app.metadata.deletion_timestamp.is_some()
    })
    .await?;
    let local = get_app(&client, &ns.name, "in-cluster-guestbook").await?;
    assert!(local.metadata.deletion_timestamp.is_none());
    let api: Api<Application> = Api::namespaced(client.clone(), &ns.name);
    let patch = json!({"metadata": {"finalizers": null}});
    api.patch("east-guestbook", &PatchParams::default(), &Patch::Merge(&patch)).await?;
    wait_generated(&client, &ns.name, "guestbooks", &["in-cluster-guestbook"]).await?;
    Ok(())
}

fn slow_deployment(name: &str) -> String {
    // minReadySeconds keeps the rollout Progressing for a while after kwok makes the Pod Ready.
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  minReadySeconds: 12\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: main\n        image: registry.example/{name}:1\n"
    )
}

#[tokio::test]
async fn rolling_sync_starts_step_two_only_when_step_one_is_healthy() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-appset-rolling").await?;
    let repo = GitRepo::new();
    repo.write("apps/ccr/deploy.yaml", &slow_deployment("compute-ccr"));
    repo.write("apps/513/deploy.yaml", &slow_deployment("compute-513"));
    repo.commit("two zones");
    let _controller = ControllerProcess::start(&ns.name, &["--controller-namespace", &ns.name])?;
    let spec = json!({
        "generators": [{"list": {"elements": [{"zone": "ccr"}, {"zone": "513"}]}}],
        "strategy": {"type": "RollingSync", "rollingSync": {"steps": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["ccr"]}]},
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["513"]}]}
        ]}},
        "template": {
            "metadata": {"name": "compute-{{zone}}", "labels": {"zone": "{{zone}}"}},
            "spec": {
                "source": {"repoURL": repo.url(), "targetRevision": "main", "path": "apps/{{zone}}"},
                "destination": {"namespace": ns.name},
                "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}
            }
        }
    });
    apply_set(&client, &ns.name, "compute", spec).await?;
    wait_generated(&client, &ns.name, "compute", &["compute-513", "compute-ccr"]).await?;
    let ccr = get_app(&client, &ns.name, "compute-ccr").await?;
    assert!(
        ccr.spec.sync_policy.as_ref().is_some_and(|p| p.automated.is_none()),
        "the rollout, not automated sync, decides when an Application syncs"
    );

    // Step one syncs and is Progressing (minReadySeconds); step two has not been asked to sync.
    wait_app(&client, &ns.name, "compute-ccr", "compute-ccr synced and Progressing", |app| {
        app.status.as_ref().is_some_and(|s| {
            s.sync.status == lockstep_api::SyncStatusCode::Synced
                && s.health.status == lockstep_api::HealthStatusCode::Progressing
        })
    })
    .await?;
    let api: Api<ApplicationSet> = Api::namespaced(client.clone(), &ns.name);
    let entry = |set: &ApplicationSet, name: &str| {
        let entries = set.status.as_ref().map(|s| s.application_status.as_slice()).unwrap_or_default();
        entries.iter().find(|e| e.application == name).map(|e| (e.step.clone(), e.status.clone()))
    };
    wait_for("the rollout status: step 1 Progressing, step 2 Waiting", TIMEOUT, || async {
        let set = api.get("compute").await?;
        let (ccr, z513) = (entry(&set, "compute-ccr"), entry(&set, "compute-513"));
        if ccr == Some(("1".into(), "Progressing".into())) && z513 == Some(("2".into(), "Waiting".into())) {
            Ok(Some(()))
        } else {
            anyhow::bail!("compute-ccr {ccr:?}, compute-513 {z513:?}")
        }
    })
    .await?;
    let z513 = get_app(&client, &ns.name, "compute-513").await?;
    assert!(z513.status.as_ref().is_none_or(|s| s.operation_state.is_none()), "step two waits: {:?}", z513.status);
    assert!(!kubectl_ok(&["get", "deployments", "-n", &ns.name, "-o", "name"], None)?.contains("compute-513"));

    // Once step one is Healthy, step two syncs by itself (the Applications' status drives it).
    wait_synced(&client, &ns.name, "compute-513").await?;
    let set = api.get("compute").await?;
    let entries = set.status.map(|s| s.application_status).unwrap_or_default();
    let healthy_at = |name: &str| {
        entries
            .iter()
            .find(|e| e.application == name && e.status == "Healthy")
            .and_then(|e| e.last_transition_time.clone())
    };
    let z513 = get_app(&client, &ns.name, "compute-513").await?;
    let started = z513.status.and_then(|s| s.operation_state).map(|o| o.started_at);
    let ccr_healthy = healthy_at("compute-ccr").expect("step one recorded Healthy");
    assert!(
        started.as_ref().is_some_and(|s| s.0 >= ccr_healthy.0),
        "step two started at {started:?}, step one Healthy at {ccr_healthy:?}"
    );
    Ok(())
}
