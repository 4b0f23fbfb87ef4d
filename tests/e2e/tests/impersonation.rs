//! Impersonation end to end: an Application naming a ServiceAccount (itself, or through its
//! project's `destinationServiceAccounts`) applies as that ServiceAccount; without RBAC it gets a
//! `Forbidden` condition naming the verb and resource, and granting a Role makes it sync.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use lockstep_e2e::apps::{apply_app, ready, wait_app, wait_reason};
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::json;

fn config_map(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"1\"\n")
}

fn grant(ns: &str, account: &str) -> anyhow::Result<()> {
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": format!("{account}-configmaps"), "namespace": ns},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}],
    });
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": format!("{account}-configmaps"), "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": format!("{account}-configmaps")},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": ns}],
    });
    kubectl_ok(&["apply", "-f", "-"], Some(&role.to_string()))?;
    kubectl_ok(&["apply", "-f", "-"], Some(&binding.to_string()))?;
    Ok(())
}

#[tokio::test]
async fn applies_as_the_service_account_and_names_what_rbac_denies() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-impersonation").await?;
    for account in ["deployer", "project-deployer"] {
        kubectl_ok(&["create", "serviceaccount", account, "-n", &ns.name], None)?;
    }
    let repo = GitRepo::new();
    repo.write("own/cm.yaml", &config_map("own"));
    repo.write("project/cm.yaml", &config_map("from-project"));
    repo.commit("two apps");
    // The default project allows everything and names a ServiceAccount for this namespace.
    let project = json!({
        "apiVersion": "lockstep.dev/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "default", "namespace": ns.name},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            "destinationServiceAccounts": [{"server": "*", "namespace": ns.name, "defaultServiceAccount": "project-deployer"}],
        },
    });
    kubectl_ok(&["apply", "-f", "-"], Some(&project.to_string()))?;
    let _controller =
        ControllerProcess::start(&ns.name, &["--controller-namespace", &ns.name, "--fetch-retry-period", "3s"])?;
    let spec = |path: &str| {
        json!({
            "source": {"repoURL": repo.url(), "targetRevision": "main", "path": path},
            "destination": {"namespace": ns.name},
            "syncPolicy": {"automated": {"prune": true}},
        })
    };
    let mut own = spec("own");
    own["serviceAccountName"] = json!("deployer");
    apply_app(&client, &ns.name, "own", own).await?;
    apply_app(&client, &ns.name, "from-project", spec("project")).await?;

    let message = |a: &lockstep_api::Application| ready(a).map(|c| c.message.clone()).unwrap_or_default();
    for (app, account) in [("own", "deployer"), ("from-project", "project-deployer")] {
        let denied = wait_reason(&client, &ns.name, app, "Forbidden").await?;
        let text = message(&denied);
        assert!(text.contains(&format!("system:serviceaccount:{}:{account}", ns.name)), "{text}");
        // The object is absent from the ConfigMaps' watch, so the apply comes first (no read).
        let named =
            ["get", "patch"].iter().any(|verb| text.contains(&format!("cannot {verb} resource \"configmaps\"")));
        assert!(named, "names the verb and resource: {text}");
    }
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    assert!(configmaps.get_opt("own").await?.is_none(), "nothing is applied as the controller");

    grant(&ns.name, "deployer")?;
    wait_app(&client, &ns.name, "own", "Synced and Ready once granted", |a| {
        ready(a).is_some_and(|c| c.status == "True")
    })
    .await?;
    let written = configmaps.get("own").await?;
    let managers: Vec<String> =
        written.metadata.managed_fields.unwrap_or_default().into_iter().filter_map(|m| m.manager).collect();
    assert!(managers.contains(&"lockstep".to_string()), "{managers:?}");
    let still = wait_reason(&client, &ns.name, "from-project", "Forbidden").await?;
    assert!(message(&still).contains("project-deployer"));
    grant(&ns.name, "project-deployer")?;
    wait_app(&client, &ns.name, "from-project", "Synced and Ready once granted", |a| {
        ready(a).is_some_and(|c| c.status == "True")
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_controller_wide_default_makes_impersonation_mandatory() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-impersonation-default").await?;
    let repo = GitRepo::new();
    repo.write("app/cm.yaml", &config_map("plain"));
    repo.commit("one app");
    let _controller = ControllerProcess::start(
        &ns.name,
        &["--controller-namespace", &ns.name, "--default-service-account", "restricted", "--fetch-retry-period", "3s"],
    )?;
    let spec = json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main", "path": "app"},
        "destination": {"namespace": ns.name},
        "syncPolicy": {"automated": {}},
    });
    apply_app(&client, &ns.name, "plain", spec).await?;
    let denied = wait_reason(&client, &ns.name, "plain", "Forbidden").await?;
    let text = ready(&denied).map(|c| c.message.clone()).unwrap_or_default();
    assert!(text.contains(&format!("system:serviceaccount:{}:restricted", ns.name)), "{text}");
    kubectl_ok(&["create", "serviceaccount", "restricted", "-n", &ns.name], None)?;
    grant(&ns.name, "restricted")?;
    wait_app(&client, &ns.name, "plain", "Synced and Ready once granted", |a| {
        ready(a).is_some_and(|c| c.status == "True")
    })
    .await?;
    Ok(())
}
