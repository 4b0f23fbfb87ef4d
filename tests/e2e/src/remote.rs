//! A second control plane, started as a remote destination cluster with
//! `cargo xtask cluster up --name NAME` (the xtask binary in `LOCKSTEP_XTASK` when `cargo xtask test`
//! runs the tests, else `cargo xtask`). Stopped when dropped.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::json;

use crate::cluster::workspace_root;

/// A named local control plane other than the test cluster.
pub struct RemoteCluster {
    /// Its name (`target/cluster/<name>/`).
    pub name: String,
}

impl RemoteCluster {
    /// Starts the cluster (or finds it running); idempotent.
    pub fn up(name: &str) -> anyhow::Result<Self> {
        xtask(&["cluster", "up", "--name", name])?;
        Ok(Self { name: name.to_string() })
    }

    /// Stops the cluster and removes its state; a later [`RemoteCluster::up`] gets new ports and
    /// certificates.
    pub fn down(&self) -> anyhow::Result<()> {
        xtask(&["cluster", "down", "--name", &self.name])
    }

    /// Its kubeconfig file.
    pub fn kubeconfig_path(&self) -> PathBuf {
        workspace_root().join("target/cluster").join(&self.name).join("kubeconfig")
    }

    /// Its kubeconfig, as text.
    pub fn kubeconfig(&self) -> anyhow::Result<String> {
        let path = self.kubeconfig_path();
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    }

    /// A client for it.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig_path())?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// A cluster Secret (JSON manifest) in `namespace` naming this cluster `cluster_name`, in Argo CD's
    /// `config` form (`tlsClientConfig` with the CA, client certificate and key of its kubeconfig).
    pub fn config_secret(&self, namespace: &str, secret_name: &str, cluster_name: &str) -> anyhow::Result<String> {
        let kubeconfig: serde_yaml_ng::Value = serde_yaml_ng::from_str(&self.kubeconfig()?)?;
        let field = |value: &serde_yaml_ng::Value, key: &str| value[key].as_str().map(String::from);
        let cluster = &kubeconfig["clusters"][0]["cluster"];
        let user = &kubeconfig["users"][0]["user"];
        let server = field(cluster, "server").context("kubeconfig has no server")?;
        let config = json!({
            "tlsClientConfig": {
                "caData": field(cluster, "certificate-authority-data"),
                "certData": field(user, "client-certificate-data"),
                "keyData": field(user, "client-key-data"),
            }
        });
        let data = json!({"name": cluster_name, "server": server, "config": config.to_string()});
        Ok(secret(namespace, secret_name, data))
    }

    /// A cluster Secret (JSON manifest) in `namespace` holding this cluster's whole kubeconfig, named
    /// `cluster_name`.
    pub fn kubeconfig_secret(&self, namespace: &str, secret_name: &str, cluster_name: &str) -> anyhow::Result<String> {
        let data = json!({"name": cluster_name, "kubeconfig": self.kubeconfig()?});
        Ok(secret(namespace, secret_name, data))
    }
}

impl Drop for RemoteCluster {
    fn drop(&mut self) {
        if std::env::var_os("LOCKSTEP_E2E_KEEP").is_none() {
            let _ = self.down();
        }
    }
}

fn secret(namespace: &str, name: &str, string_data: serde_json::Value) -> String {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {"lockstep.dev/secret-type": "cluster"}},
        "stringData": string_data,
    })
    .to_string()
}

/// Runs an xtask subcommand and fails with its output unless it succeeds.
fn xtask(args: &[&str]) -> anyhow::Result<()> {
    let mut command = match std::env::var_os("LOCKSTEP_XTASK") {
        Some(path) => Command::new(path),
        None => {
            let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
            cargo.args(["run", "--quiet", "--package", "xtask", "--"]);
            cargo
        }
    };
    let out = command.args(args).current_dir(workspace_root()).output().context("running xtask")?;
    if !out.status.success() {
        bail!(
            "xtask {}: {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
