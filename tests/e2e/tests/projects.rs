//! Projects end to end: an AppProject in the controller's namespace denies a repository, a
//! destination and a cluster-scoped kind, each with a `ProjectViolation` condition naming the rule,
//! while an allowed Application syncs; changing the project takes effect without a restart.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use lockstep_e2e::apps::{apply_app, ready, wait_app, wait_reason};
use lockstep_e2e::cluster::{kubectl, kubectl_ok};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::{Value, json};

fn config_map(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"1\"\n")
}

fn app(repo: &str, path: &str, namespace: &str) -> Value {
    json!({
        "project": "team",
        "source": {"repoURL": repo, "targetRevision": "main", "path": path},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        "syncPolicy": {"automated": {"prune": true}},
    })
}

fn apply_project(ns: &str, spec: Value) -> anyhow::Result<()> {
    let project = json!({
        "apiVersion": "lockstep.dev/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "team", "namespace": ns},
        "spec": spec,
    });
    kubectl_ok(&["apply", "--server-side", "--force-conflicts", "-f", "-"], Some(&project.to_string()))?;
    Ok(())
}

async fn exists(client: &kube::Client, ns: &str, name: &str) -> bool {
    Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await.ok().flatten().is_some()
}

#[tokio::test]
async fn project_rules_deny_repos_destinations_and_kinds() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-projects").await?;
    let cluster_role = format!("{}-reader", ns.name);
    let repo = GitRepo::new();
    repo.write("plain/cm.yaml", &config_map("allowed"));
    repo.write("elsewhere/cm.yaml", &config_map("elsewhere"));
    repo.write(
        "rbac/all.yaml",
        &format!(
            "{}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {cluster_role}\nrules: []\n",
            config_map("with-rbac")
        ),
    );
    repo.commit("apps");
    let other = GitRepo::new();
    other.write("plain/cm.yaml", &config_map("foreign"));
    other.commit("foreign");
    let project = json!({
        "sourceRepos": [repo.url()],
        "destinations": [{"server": "https://kubernetes.default.svc", "namespace": ns.name}],
    });
    apply_project(&ns.name, project.clone())?;
    let _controller = ControllerProcess::start(&ns.name, &["--controller-namespace", &ns.name])?;

    apply_app(&client, &ns.name, "allowed", app(&repo.url(), "plain", &ns.name)).await?;
    apply_app(&client, &ns.name, "foreign-repo", app(&other.url(), "plain", &ns.name)).await?;
    apply_app(&client, &ns.name, "foreign-dest", app(&repo.url(), "elsewhere", "default")).await?;
    apply_app(&client, &ns.name, "cluster-kind", app(&repo.url(), "rbac", &ns.name)).await?;
    let mut missing = app(&repo.url(), "plain", &ns.name);
    missing["project"] = json!("nope");
    apply_app(&client, &ns.name, "no-project", missing).await?;

    wait_app(&client, &ns.name, "allowed", "Synced and Ready", |a| ready(a).is_some_and(|c| c.status == "True"))
        .await?;
    assert!(exists(&client, &ns.name, "allowed").await);

    let message = |a: &lockstep_api::Application| ready(a).map(|c| c.message.clone()).unwrap_or_default();
    let denied = wait_reason(&client, &ns.name, "foreign-repo", "ProjectViolation").await?;
    assert!(message(&denied).contains("spec.sourceRepos"), "{}", message(&denied));
    let denied = wait_reason(&client, &ns.name, "foreign-dest", "ProjectViolation").await?;
    assert!(message(&denied).contains("spec.destinations"), "{}", message(&denied));
    assert!(!exists(&client, "default", "elsewhere").await);
    let denied = wait_reason(&client, &ns.name, "cluster-kind", "ProjectViolation").await?;
    let text = message(&denied);
    assert!(
        text.contains("rbac.authorization.k8s.io/ClusterRole") && text.contains("clusterResourceWhitelist"),
        "{text}"
    );
    assert!(!exists(&client, &ns.name, "with-rbac").await, "a denied kind stops the whole sync: nothing is applied");
    let denied = wait_reason(&client, &ns.name, "no-project", "ProjectViolation").await?;
    assert!(message(&denied).contains("does not exist"), "{}", message(&denied));

    // Whitelisting the kind takes effect at once, without a refresh or restart.
    let mut widened = project;
    widened["clusterResourceWhitelist"] = json!([{"group": "rbac.authorization.k8s.io", "kind": "ClusterRole"}]);
    apply_project(&ns.name, widened)?;
    let result = wait_app(&client, &ns.name, "cluster-kind", "Synced and Ready after whitelisting", |a| {
        ready(a).is_some_and(|c| c.status == "True")
    })
    .await;
    let _ = kubectl(&["delete", "clusterrole", &cluster_role, "--ignore-not-found"], None);
    result?;
    assert!(exists(&client, &ns.name, "with-rbac").await);
    Ok(())
}

/// Deleting an Application whose project cannot be read waits, with a condition and a Warning
/// Event, instead of deleting with the controller's own rights; it proceeds once the project is back.
#[tokio::test]
async fn deletion_fails_closed_while_the_project_is_missing() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-project-gone").await?;
    let repo = GitRepo::new();
    repo.write("plain/cm.yaml", &config_map("held"));
    repo.commit("one");
    let project = json!({
        "sourceRepos": ["*"],
        "destinations": [{"server": "*", "namespace": "*"}],
    });
    apply_project(&ns.name, project.clone())?;
    let _controller = ControllerProcess::start(&ns.name, &["--controller-namespace", &ns.name])?;
    let mut spec = app(&repo.url(), "plain", &ns.name);
    spec["syncPolicy"] = json!({"automated": {}});
    apply_app(&client, &ns.name, "held", spec).await?;
    let finalizer = json!({"metadata": {"finalizers": ["resources-finalizer.lockstep.dev"]}});
    kubectl_ok(
        &[
            "patch",
            "applications.lockstep.dev",
            "held",
            "-n",
            &ns.name,
            "--type",
            "merge",
            "-p",
            &finalizer.to_string(),
        ],
        None,
    )?;
    wait_reason(&client, &ns.name, "held", "Succeeded").await?;

    kubectl_ok(&["delete", "appprojects.lockstep.dev", "team", "-n", &ns.name, "--wait=false"], None)?;
    kubectl_ok(&["delete", "applications.lockstep.dev", "held", "-n", &ns.name, "--wait=false"], None)?;
    let waiting = wait_app(&client, &ns.name, "held", "deletion waiting for the project", |a| {
        ready(a).is_some_and(|c| c.message.contains("waiting for the project") && c.message.contains("\"team\""))
    })
    .await?;
    assert!(waiting.metadata.deletion_timestamp.is_some());
    assert!(exists(&client, &ns.name, "held").await, "nothing is deleted with the controller's rights");
    // The Event follows the status write that showed the condition.
    lockstep_e2e::wait_for("a DeletionFailed Event", std::time::Duration::from_secs(30), || async {
        let reasons = lockstep_e2e::apps::event_reasons(&client, &ns.name, "held").await?;
        if reasons.iter().any(|r| r == "DeletionFailed") { Ok(Some(())) } else { anyhow::bail!("{reasons:?}") }
    })
    .await?;

    apply_project(&ns.name, project)?;
    lockstep_e2e::wait_for("Application gone", std::time::Duration::from_secs(90), || async {
        let apps = Api::<lockstep_api::Application>::namespaced(client.clone(), &ns.name);
        Ok(apps.get_opt("held").await?.is_none().then_some(()))
    })
    .await?;
    assert!(!exists(&client, &ns.name, "held").await, "deleted once the project could be read");
    Ok(())
}
