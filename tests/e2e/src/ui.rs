//! The real `lockstep ui` process for UI tests, a browser-like HTTP client of it (cookies by hand,
//! no redirects followed), and ServiceAccount users with Application RBAC and their tokens from the
//! TokenRequest API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, PostParams};
use serde_json::json;

use crate::cluster::{kubeconfig, workspace_root};
use crate::http::free_addr;

/// A `lockstep ui` process on a free loopback port; killed on drop. Its log is kept under
/// `target/e2e-logs/<log_name>.log`.
pub struct UiProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    log: PathBuf,
}

impl UiProcess {
    /// Starts the UI with extra `args` and waits until it answers.
    pub async fn start(log_name: &str, args: &[&str]) -> anyhow::Result<Self> {
        Self::start_on(log_name, free_addr(), args).await
    }

    /// Starts the UI on `addr` (known before it starts, as an OIDC redirect URL needs).
    pub async fn start_on(log_name: &str, addr: SocketAddr, args: &[&str]) -> anyhow::Result<Self> {
        let bin = std::env::var_os("LOCKSTEP_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target/debug/lockstep"));
        let logs = workspace_root().join("target/e2e-logs");
        std::fs::create_dir_all(&logs)?;
        let log = logs.join(format!("{log_name}.log"));
        let file = std::fs::File::create(&log)?;
        let child = Command::new(&bin)
            .args(["ui", "--listen", &addr.to_string(), "--log-format", "text"])
            .args(args)
            .env("KUBECONFIG", kubeconfig())
            .env("RUST_LOG", "info,lockstep_ui=debug")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!("starting {} (build it with `cargo build -p lockstep`): {e}", bin.display())
            })?;
        let ui = Self { child, addr, log };
        let client = reqwest::Client::new();
        crate::wait::wait_for("the UI answers /healthz", Duration::from_secs(30), || {
            let url = ui.url("/healthz");
            let client = client.clone();
            async move { Ok(client.get(url).send().await.ok().filter(|r| r.status().is_success()).map(|_| ())) }
        })
        .await?;
        Ok(ui)
    }

    /// The URL of `path` on this UI.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The UI's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for UiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- lockstep ui log (last lines) ---");
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// An HTTP client that follows no redirects (the tests look at them), over plain HTTP.
pub fn http_client() -> reqwest::Client {
    // reqwest is built without a default TLS provider in this workspace; the UI tests use plain
    // HTTP on loopback, but the client still wants one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client")
}

/// A one-hour token of ServiceAccount `namespace/name`, as `kubectl create token` makes.
pub async fn service_account_token(client: &kube::Client, namespace: &str, name: &str) -> anyhow::Result<String> {
    let request = TokenRequest {
        spec: Some(TokenRequestSpec { expiration_seconds: Some(3600), ..Default::default() }),
        ..Default::default()
    };
    let answer = Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create_token_request(name, &PostParams::default(), &request)
        .await?;
    answer
        .status
        .and_then(|s| s.token)
        .ok_or_else(|| anyhow::anyhow!("the TokenRequest of {namespace}/{name} has no status"))
}

/// A ServiceAccount that may read Applications and view the namespace's objects (the built-in
/// `view` role), or with `patch` also write Applications and edit the objects (`edit`, which a
/// diff's server-side dry run needs); returns a token of it.
pub async fn user(client: &kube::Client, namespace: &str, name: &str, patch: bool) -> anyhow::Result<String> {
    let mut verbs = vec!["get", "list", "watch"];
    if patch {
        verbs.push("patch");
    }
    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": name}}))?;
    Api::<ServiceAccount>::namespaced(client.clone(), namespace).create(&PostParams::default(), &sa).await?;
    let rules = [json!({"apiGroups": ["lockstep.dev"], "resources": ["applications"], "verbs": verbs})];
    let role: Role = serde_json::from_value(json!({"metadata": {"name": name}, "rules": rules}))?;
    Api::<Role>::namespaced(client.clone(), namespace).create(&PostParams::default(), &role).await?;
    let subject = json!([{"kind": "ServiceAccount", "name": name, "namespace": namespace}]);
    let objects = if patch { "edit" } else { "view" };
    let bindings = Api::<RoleBinding>::namespaced(client.clone(), namespace);
    for (binding, role_ref) in [
        (name.to_string(), json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name})),
        (
            format!("{name}-objects"),
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": objects}),
        ),
    ] {
        let binding: RoleBinding =
            serde_json::from_value(json!({"metadata": {"name": binding}, "roleRef": role_ref, "subjects": subject}))?;
        bindings.create(&PostParams::default(), &binding).await?;
    }
    service_account_token(client, namespace, name).await
}
