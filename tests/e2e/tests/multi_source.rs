//! Multi-source Applications (`spec.sources`) end to end, with the real HTTP git server: a Helm
//! chart from one repository and its values from another (`ref: values`), one revision per source
//! in the status, a values commit alone re-rendering and syncing, bad input ending as a condition
//! with nothing pruned, and the CRD refusing `source` together with `sources`.
//!
//! The same with the chart from the OCI registry is in oci_charts.rs.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use lockstep_e2e::apps::{apply_app, ready, refresh, wait_app, wait_reason, wait_revisions};
use lockstep_e2e::gitserver::HttpGitServer;
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::{Value, json};

const CHART: &str = "apiVersion: v2\nname: greeter\nversion: 0.1.0\n";
const TEMPLATE: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-greeting\ndata:\n  \
                        greeting: {{ .Values.greeting | quote }}\n";
const EXTRA: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  from: values-repo\n";

fn multi_spec(server: &HttpGitServer, ns: &str, value_file: &str) -> Value {
    json!({
        "sources": [
            {"repoURL": server.url("chart"), "targetRevision": "main", "path": "chart",
             "helm": {"releaseName": "web", "valueFiles": ["values.yaml", value_file]}},
            {"repoURL": server.url("values"), "targetRevision": "main", "ref": "values"},
            {"repoURL": server.url("values"), "targetRevision": "main", "path": "extra"},
        ],
        "destination": {"namespace": ns},
        "syncPolicy": {"automated": {"prune": true}},
    })
}

async fn data(client: &kube::Client, ns: &str, name: &str, key: &str) -> Option<String> {
    let map = Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await.ok()??;
    map.data?.get(key).cloned()
}

#[tokio::test]
async fn a_chart_from_one_repository_with_values_from_another_follows_a_values_commit() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-multi-source").await?;
    let server = HttpGitServer::start()?;
    let chart = GitRepo::new();
    chart.write("chart/Chart.yaml", CHART);
    chart.write("chart/values.yaml", "greeting: chart default\n");
    chart.write("chart/templates/greeting.yaml", TEMPLATE);
    let chart_commit = chart.commit("chart");
    server.publish("chart", &chart)?;
    let values = GitRepo::new();
    values.write("envs/prod.yaml", "greeting: hello from the values repository\n");
    values.write("extra/extra.yaml", EXTRA);
    let values_commit = values.commit("values");
    server.publish("values", &values)?;
    let _controller = ControllerProcess::start(&ns.name, &[])?;

    apply_app(&client, &ns.name, "web", multi_spec(&server, &ns.name, "$values/envs/prod.yaml")).await?;
    let app = wait_revisions(&client, &ns.name, "web", &[&chart_commit, &values_commit, &values_commit]).await?;
    let status = app.status.as_ref().expect("status");
    assert_eq!(
        status.sync.revision.as_deref(),
        Some(format!("{chart_commit},{values_commit},{values_commit}").as_str())
    );
    let synced = status.operation_state.as_ref().and_then(|o| o.sync_result.as_ref()).expect("sync result");
    assert_eq!(synced.revisions, [chart_commit.clone(), values_commit.clone(), values_commit.clone()]);
    assert_eq!(synced.sources.len(), 3);
    assert_eq!(status.history.last().map(|h| h.revisions.len()), Some(3));
    assert_eq!(
        data(&client, &ns.name, "web-greeting", "greeting").await.as_deref(),
        Some("hello from the values repository")
    );
    assert_eq!(data(&client, &ns.name, "extra", "from").await.as_deref(), Some("values-repo"));

    // A commit to the values repository alone re-renders the chart and syncs it.
    values.write("envs/prod.yaml", "greeting: a values commit alone\n");
    let values_next = values.commit("new greeting");
    server.publish("values", &values)?;
    refresh(&client, &ns.name, "web").await?;
    let app = wait_revisions(&client, &ns.name, "web", &[&chart_commit, &values_next, &values_next]).await?;
    assert_eq!(data(&client, &ns.name, "web-greeting", "greeting").await.as_deref(), Some("a values commit alone"));
    let history = &app.status.as_ref().expect("status").history;
    assert_eq!(history.len(), 2, "each deployed combination of revisions is a history entry");

    // A `$values` reference to a source that does not exist: its own reason, nothing pruned.
    apply_app(&client, &ns.name, "web", multi_spec(&server, &ns.name, "$config/envs/prod.yaml")).await?;
    let app = wait_reason(&client, &ns.name, "web", "ValuesRefNotFound").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("$config") && message.contains("spec.sources[0]"), "{message}");
    assert_eq!(data(&client, &ns.name, "web-greeting", "greeting").await.as_deref(), Some("a values commit alone"));
    assert_eq!(data(&client, &ns.name, "extra", "from").await.as_deref(), Some("values-repo"));

    // Two sources rendering the same object: a clear condition, nothing applied or pruned.
    let mut repeated = multi_spec(&server, &ns.name, "$values/envs/prod.yaml");
    repeated["sources"].as_array_mut().expect("sources").push(json!(
        {"repoURL": server.url("values"), "targetRevision": "main", "path": "extra"}
    ));
    apply_app(&client, &ns.name, "web", repeated).await?;
    let app = wait_reason(&client, &ns.name, "web", "RepeatedResource").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("ConfigMap") && message.contains("/extra"), "{message}");
    assert_eq!(data(&client, &ns.name, "web-greeting", "greeting").await.as_deref(), Some("a values commit alone"));
    Ok(())
}

#[tokio::test]
async fn a_source_that_fails_to_fetch_stops_the_pass_and_prunes_nothing() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-multi-source-fail").await?;
    let mut server = HttpGitServer::start()?;
    let chart = GitRepo::new();
    chart.write("chart/Chart.yaml", CHART);
    chart.write("chart/values.yaml", "greeting: chart default\n");
    chart.write("chart/templates/greeting.yaml", TEMPLATE);
    chart.commit("chart");
    server.publish("chart", &chart)?;
    let values = GitRepo::new();
    values.write("envs/prod.yaml", "greeting: before\n");
    values.write("extra/extra.yaml", EXTRA);
    values.commit("values");
    server.publish("values", &values)?;
    let _controller = ControllerProcess::start(&ns.name, &[])?;
    apply_app(&client, &ns.name, "web", multi_spec(&server, &ns.name, "$values/envs/prod.yaml")).await?;
    wait_reason(&client, &ns.name, "web", "Succeeded").await?;

    // The values source now names a branch that does not exist: the pass stops before apply.
    let mut broken = multi_spec(&server, &ns.name, "$values/envs/prod.yaml");
    broken["sources"][1]["targetRevision"] = json!("no-such-branch");
    apply_app(&client, &ns.name, "web", broken).await?;
    let app = wait_reason(&client, &ns.name, "web", "RevisionNotFound").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.starts_with("spec.sources[1] ("), "the failing source is named: {message}");
    assert_eq!(data(&client, &ns.name, "web-greeting", "greeting").await.as_deref(), Some("before"));
    assert_eq!(data(&client, &ns.name, "extra", "from").await.as_deref(), Some("values-repo"));

    // An outage: every source keeps its last good revision from the cache, nothing is pruned, and
    // SourceAvailable says which source fails.
    let good = multi_spec(&server, &ns.name, "$values/envs/prod.yaml");
    apply_app(&client, &ns.name, "web", good).await?;
    let before = wait_reason(&client, &ns.name, "web", "Succeeded").await?;
    let revisions = before.status.as_ref().map(|s| s.sync.revisions.clone()).unwrap_or_default();
    server.stop();
    refresh(&client, &ns.name, "web").await?;
    let app = wait_app(&client, &ns.name, "web", "SourceAvailable=False", |app| {
        app.status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "SourceAvailable" && c.status == "False"))
    })
    .await?;
    let status = app.status.as_ref().expect("status");
    let outage = status.conditions.iter().find(|c| c.type_ == "SourceAvailable").expect("condition");
    assert!(outage.message.contains("spec.sources["), "{}", outage.message);
    assert_eq!(status.sync.revisions, revisions, "the last good revisions are kept");
    assert_eq!(data(&client, &ns.name, "web-greeting", "greeting").await.as_deref(), Some("before"));
    assert_eq!(data(&client, &ns.name, "extra", "from").await.as_deref(), Some("values-repo"));
    Ok(())
}

#[tokio::test]
async fn the_crd_refuses_source_together_with_sources_and_neither() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-multi-source-crd").await?;
    let source = json!({"repoURL": "https://git.example/a.git", "path": "."});
    let both = json!({"source": source, "sources": [source], "destination": {"namespace": ns.name}});
    let err = apply_app(&client, &ns.name, "both", both).await.expect_err("both refused");
    assert!(err.to_string().contains("exactly one of spec.source and spec.sources"), "{err}");
    let neither = json!({"destination": {"namespace": ns.name}});
    let err = apply_app(&client, &ns.name, "neither", neither).await.expect_err("neither refused");
    assert!(err.to_string().contains("exactly one of spec.source and spec.sources"), "{err}");
    apply_app(&client, &ns.name, "multi", json!({"sources": [source], "destination": {"namespace": ns.name}})).await?;
    apply_app(&client, &ns.name, "single", json!({"source": source, "destination": {"namespace": ns.name}})).await?;
    Ok(())
}

#[tokio::test]
async fn a_push_to_the_values_repository_refreshes_the_application() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-multi-source-push").await?;
    let server = HttpGitServer::start()?;
    let chart = GitRepo::new();
    chart.write("chart/Chart.yaml", CHART);
    chart.write("chart/values.yaml", "greeting: chart default\n");
    chart.write("chart/templates/greeting.yaml", TEMPLATE);
    let chart_commit = chart.commit("chart");
    server.publish("chart", &chart)?;
    let values = GitRepo::new();
    values.write("envs/prod.yaml", "greeting: before the push\n");
    values.write("extra/extra.yaml", EXTRA);
    let first = values.commit("values");
    server.publish("values", &values)?;
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: lockstep-webhook\n  namespace: {}\nstringData:\n  gitlab: gl-token\n",
        ns.name
    );
    lockstep_e2e::cluster::kubectl_ok(&["apply", "-f", "-"], Some(&secret))?;
    let webhook = lockstep_e2e::http::free_addr();
    let _controller = ControllerProcess::start(
        &ns.name,
        &["--resync-period", "30m", "--controller-namespace", &ns.name, "--webhook-addr", &webhook.to_string()],
    )?;
    apply_app(&client, &ns.name, "web", multi_spec(&server, &ns.name, "$values/envs/prod.yaml")).await?;
    wait_revisions(&client, &ns.name, "web", &[&chart_commit, &first, &first]).await?;

    values.write("envs/prod.yaml", "greeting: after the push\n");
    let second = values.commit("values");
    server.publish("values", &values)?;
    // GitLab's push event, naming the values repository only.
    let body = serde_json::to_vec(&json!({
        "object_kind": "push", "event_name": "push", "before": first, "after": second,
        "ref": "refs/heads/main", "checkout_sha": second,
        "project": {"git_http_url": server.url("values"), "default_branch": "main"},
        "repository": {"git_http_url": server.url("values")},
    }))?;
    let headers =
        [("Content-Type", "application/json"), ("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "gl-token")];
    lockstep_e2e::wait_for("the webhook accepts the push", std::time::Duration::from_secs(60), || async {
        let response = lockstep_e2e::http::request(webhook, "POST", "/api/webhook", &headers, &body).await?;
        Ok((response.status / 100 == 2).then_some(()))
    })
    .await?;
    wait_revisions(&client, &ns.name, "web", &[&chart_commit, &second, &second]).await?;
    assert_eq!(data(&client, &ns.name, "web-greeting", "greeting").await.as_deref(), Some("after the push"));
    Ok(())
}
