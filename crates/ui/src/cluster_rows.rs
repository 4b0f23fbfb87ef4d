//! The clusters page's rows, pure: what a cluster Secret says about its cluster (name, server,
//! namespaces, project, whether it may hold cluster-scoped objects) and what the Applications
//! deploying to it say about its connection. The Secret's credentials (`config`, a kubeconfig's
//! users) are never read into a row.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use lockstep_api::{Application, IN_CLUSTER_NAME, IN_CLUSTER_SERVER};

/// One destination cluster as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterRow {
    /// The cluster's name (`name`, else the Secret's name).
    pub name: String,
    /// `namespace/name` of its Secret; empty for the controller's own cluster.
    pub secret: String,
    /// The API server URL.
    pub server: String,
    /// The namespaces it is limited to; empty for all.
    pub namespaces: Vec<String>,
    /// Whether it may hold cluster-scoped objects (`clusterResources`), when the Secret says.
    pub cluster_resources: Option<bool>,
    /// The project it belongs to, when the Secret names one.
    pub project: Option<String>,
    /// What the Applications deploying to it report.
    pub connection: Connection,
}

/// A cluster's connection, as the last reconcile of the Applications deploying to it saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Connection {
    /// No Application the user can see deploys to it (or none has been reconciled yet).
    Unknown,
    /// At least one Application deploying to it reports it unreachable.
    Unreachable {
        /// `namespace/name` of that Application.
        application: String,
        /// Its condition's message.
        message: String,
    },
    /// Reconciled Applications deploy to it and none reports it unreachable.
    Reachable {
        /// How many.
        applications: usize,
    },
}

/// The row of a cluster Secret; `None` when it names no server (neither `server` nor a kubeconfig
/// with one).
pub fn secret_row(secret: &Secret, apps: &[Application]) -> Option<ClusterRow> {
    let data: BTreeMap<&str, String> = secret
        .data
        .iter()
        .flatten()
        .filter(|(k, _)| matches!(k.as_str(), "name" | "server" | "namespaces" | "clusterResources" | "project"))
        .map(|(k, v)| (k.as_str(), String::from_utf8_lossy(&v.0).trim().to_owned()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let secret_name = secret.metadata.name.clone().unwrap_or_default();
    let name = data.get("name").cloned().unwrap_or_else(|| secret_name.clone());
    let server = match data.get("server") {
        Some(server) => server.clone(),
        None => kubeconfig_server(secret)?,
    };
    let server = server.trim_end_matches('/').to_owned();
    let namespaces = data
        .get("namespaces")
        .map(|n| n.split(',').map(str::trim).filter(|n| !n.is_empty()).map(String::from).collect())
        .unwrap_or_default();
    let cluster_resources = data.get("clusterResources").map(|v| v.eq_ignore_ascii_case("true"));
    let connection = connection(&name, &server, apps);
    Some(ClusterRow {
        secret: format!("{}/{secret_name}", secret.metadata.namespace.clone().unwrap_or_default()),
        name,
        server,
        namespaces,
        cluster_resources,
        project: data.get("project").cloned(),
        connection,
    })
}

/// The controller's own cluster, which needs no Secret.
pub fn in_cluster_row(apps: &[Application]) -> ClusterRow {
    ClusterRow {
        name: IN_CLUSTER_NAME.into(),
        secret: String::new(),
        server: IN_CLUSTER_SERVER.into(),
        namespaces: Vec::new(),
        cluster_resources: Some(true),
        project: None,
        connection: connection(IN_CLUSTER_NAME, IN_CLUSTER_SERVER, apps),
    }
}

/// The server of a `kubeconfig` key's current context (its cluster entry only; users are not read).
fn kubeconfig_server(secret: &Secret) -> Option<String> {
    let text = secret.data.as_ref()?.get("kubeconfig")?;
    let config: serde_yaml_ng::Value = serde_yaml_ng::from_slice(&text.0).ok()?;
    let current = config.get("current-context")?.as_str()?;
    let context = config
        .get("contexts")?
        .as_sequence()?
        .iter()
        .find(|c| c.get("name").and_then(|n| n.as_str()) == Some(current))?;
    let cluster_name = context.get("context")?.get("cluster")?.as_str()?;
    let cluster = config
        .get("clusters")?
        .as_sequence()?
        .iter()
        .find(|c| c.get("name").and_then(|n| n.as_str()) == Some(cluster_name))?;
    Some(cluster.get("cluster")?.get("server")?.as_str()?.to_owned())
}

/// Whether `app` deploys to the cluster `name` at `server`.
fn deploys_to(app: &Application, name: &str, server: &str) -> bool {
    let destination = &app.spec.destination;
    match (&destination.name, &destination.server) {
        (Some(n), _) if !n.is_empty() => n == name,
        (_, Some(s)) => s.trim_end_matches('/') == server,
        _ => name == IN_CLUSTER_NAME,
    }
}

/// The connection as the Applications deploying to the cluster report it.
pub fn connection(name: &str, server: &str, apps: &[Application]) -> Connection {
    let mut count = 0;
    for app in apps.iter().filter(|app| deploys_to(app, name, server)) {
        let conditions = app.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
        if conditions.is_empty() {
            // Not reconciled yet: it says nothing about the cluster.
            continue;
        }
        count += 1;
        if let Some(condition) = conditions
            .iter()
            .find(|c| c.reason == lockstep_api::conditions::reason::CLUSTER_UNREACHABLE && c.status == "False")
        {
            return Connection::Unreachable {
                application: format!(
                    "{}/{}",
                    app.metadata.namespace.clone().unwrap_or_default(),
                    app.metadata.name.clone().unwrap_or_default()
                ),
                message: condition.message.clone(),
            };
        }
    }
    if count == 0 { Connection::Unknown } else { Connection::Reachable { applications: count } }
}

#[cfg(test)]
#[path = "cluster_rows_tests.rs"]
mod tests;
