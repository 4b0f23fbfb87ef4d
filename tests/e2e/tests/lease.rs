//! A controller whose lease namespace does not exist, as on a fresh control plane: it creates the
//! namespace and leads, or, when RBAC forbids that, says so once in its log and on `/readyz`.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams};
use lockstep_e2e::apps::{apply_app, wait_reason};
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::http::{free_addr, get};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::json;

/// Deletes a namespace the test made the controller use, whether or not the test passed.
struct LeaseNamespace {
    name: String,
}

impl LeaseNamespace {
    async fn absent(client: &kube::Client, name: String) -> anyhow::Result<Self> {
        let api: Api<Namespace> = Api::all(client.clone());
        if api.get_opt(&name).await?.is_some() {
            api.delete(&name, &DeleteParams::default()).await?;
            wait_for("the old lease namespace to go", Duration::from_secs(60), || async {
                Ok(api.get_opt(&name).await?.is_none().then_some(()))
            })
            .await?;
        }
        Ok(Self { name })
    }
}

impl Drop for LeaseNamespace {
    fn drop(&mut self) {
        // kubectl, not the async client: Drop can't wait on the test's runtime.
        let _ = kubectl_ok(&["delete", "namespace", &self.name, "--wait=false", "--ignore-not-found"], None);
    }
}

/// No `Debug` dump of a Kubernetes `Status` reaches the log.
fn assert_readable(log: &str) {
    for needle in ["Status {", "ErrorResponse {", "StatusDetails {"] {
        assert!(!log.contains(needle), "the log holds a Debug dump ({needle}):\n{log}");
    }
}

#[tokio::test]
async fn a_missing_lease_namespace_is_created_and_the_controller_leads() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-lease-create").await?;
    let lease_ns = LeaseNamespace::absent(&client, format!("{}-system", ns.name)).await?;
    let repo = GitRepo::new();
    repo.write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: led\ndata:\n  value: \"1\"\n");
    repo.commit("one");
    let addr = free_addr();
    let controller = ControllerProcess::start(
        &ns.name,
        &["--controller-namespace", &lease_ns.name, "--metrics-addr", &addr.to_string()],
    )?;

    let leases: Api<Lease> = Api::namespaced(client.clone(), &lease_ns.name);
    wait_for("the lease in the created namespace, held by the controller", Duration::from_secs(60), || async {
        let holder = leases.get_opt("lockstep-controller").await?.and_then(|l| l.spec?.holder_identity);
        Ok(holder.filter(|h| h.ends_with(&format!("_{}", controller.pid()))).map(drop))
    })
    .await?;
    wait_for("/readyz", Duration::from_secs(30), || async {
        let r = get(addr, "/readyz").await?;
        Ok((r.status == 200).then_some(()))
    })
    .await?;
    // It leads, so it reconciles.
    let spec = json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main"},
        "syncPolicy": {"automated": {}},
    });
    apply_app(&client, &ns.name, "led", spec).await?;
    wait_reason(&client, &ns.name, "led", "Succeeded").await?;
    let log = controller.log();
    assert!(log.contains("created the missing lease namespace"), "{log}");
    assert_readable(&log);
    Ok(())
}

/// A ClusterRole that reads everything and writes Leases, Events and Applications, but may not
/// create namespaces.
fn restricted_role(name: &str, ns: &str) -> String {
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {name}
rules:
- apiGroups: ['*']
  resources: ['*']
  verbs: [get, list, watch]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [create, update, patch]
- apiGroups: ['', events.k8s.io]
  resources: [events]
  verbs: [create, patch, update]
- apiGroups: [lockstep.dev]
  resources: [applications, applications/status]
  verbs: [patch, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {name}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {name}
subjects:
- kind: ServiceAccount
  name: restricted
  namespace: {ns}
"
    )
}

/// A kubeconfig for the same API server as the admin one, authenticating with `token`.
fn token_kubeconfig(token: &str) -> anyhow::Result<tempfile::NamedTempFile> {
    let server =
        kubectl_ok(&["config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"], None)?;
    let ca = kubectl_ok(
        &["config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}"],
        None,
    )?;
    let file = tempfile::NamedTempFile::new()?;
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: restricted
  user:
    token: {token}
contexts:
- name: restricted
  context:
    cluster: local
    user: restricted
current-context: restricted
"
    );
    std::fs::write(file.path(), text)?;
    Ok(file)
}

#[tokio::test]
async fn a_controller_that_may_not_create_the_lease_namespace_is_not_ready_and_says_why_once() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-lease-forbidden").await?;
    let lease_ns = LeaseNamespace::absent(&client, format!("{}-system", ns.name)).await?;
    let role = format!("{}-restricted", ns.name);
    kubectl_ok(&["create", "serviceaccount", "restricted", "-n", &ns.name], None)?;
    kubectl_ok(&["apply", "-f", "-"], Some(&restricted_role(&role, &ns.name)))?;
    let token = kubectl_ok(&["create", "token", "restricted", "-n", &ns.name, "--duration", "1h"], None)?;
    let kubeconfig = token_kubeconfig(token.trim())?;
    let addr = free_addr();
    let controller = ControllerProcess::start_with_kubeconfig(
        &ns.name,
        kubeconfig.path(),
        &["--controller-namespace", &lease_ns.name, "--metrics-addr", &addr.to_string()],
    )?;

    let body = wait_for("/readyz to name the missing namespace", Duration::from_secs(60), || async {
        let r = get(addr, "/readyz").await?;
        Ok((r.status == 503 && r.body.contains(&lease_ns.name)).then_some(r.body))
    })
    .await;
    let body = body?;
    assert!(body.contains(&format!("kubectl create namespace {}", lease_ns.name)), "{body}");
    assert!(body.contains("--controller-namespace"), "{body}");
    // Several attempts later, the failure is still logged once (the rest are held back).
    tokio::time::sleep(Duration::from_secs(8)).await;
    let log = controller.log();
    let reports = log.lines().filter(|l| l.contains("does not exist and the controller could not create it")).count();
    assert_eq!(reports, 1, "the same failure is logged once per interval:\n{log}");
    assert!(!log.contains("leader election: leading"), "{log}");
    assert_readable(&log);
    assert!(Api::<Namespace>::all(client.clone()).get_opt(&lease_ns.name).await?.is_none());
    kubectl_ok(&["delete", "clusterrole,clusterrolebinding", &role, "--ignore-not-found"], None)?;
    Ok(())
}
