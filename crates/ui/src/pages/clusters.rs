//! `/clusters`: the destination clusters, read-only: the controller's own and one per cluster
//! Secret the user may list (label `lockstep.dev/secret-type=cluster`), with the connection the
//! Applications deploying to each report. Only the Secrets' name, server, namespaces, project and
//! `clusterResources` keys are read into the page; their credentials never are.

use axum::extract::Query;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use maud::{Markup, html};
use serde::Deserialize;

use crate::cluster_rows::{ClusterRow, Connection, in_cluster_row, secret_row};
use crate::pages::{PageError, layout};
use crate::server::Caller;

/// The label selecting cluster Secrets.
const CLUSTER_SECRETS: &str = "lockstep.dev/secret-type=cluster";

/// The page's query: namespaces to read cluster Secrets from when the user may not list Secrets in
/// all of them (`?namespace=lockstep-system`).
#[derive(Deserialize, Default)]
pub(crate) struct ClustersQuery {
    #[serde(default)]
    namespace: String,
}

/// Whose Secrets could be read.
enum Reach {
    All,
    Named { refused: Vec<String> },
}

/// The cluster Secrets of every namespace when the user may list them, else of each namespace named.
async fn cluster_secrets(client: &kube::Client, named: &[String]) -> Result<(Vec<Secret>, Reach), PageError> {
    let params = ListParams::default().labels(CLUSTER_SECRETS);
    match Api::<Secret>::all(client.clone()).list(&params).await {
        Ok(list) => return Ok((list.items, Reach::All)),
        Err(kube::Error::Api(status)) if status.code == 403 => {}
        Err(err) => return Err(PageError::kube("listing cluster Secrets", &err)),
    }
    let mut secrets = Vec::new();
    let mut refused = Vec::new();
    for namespace in named {
        match Api::<Secret>::namespaced(client.clone(), namespace).list(&params).await {
            Ok(list) => secrets.extend(list.items),
            Err(kube::Error::Api(status)) if status.code == 403 => refused.push(namespace.clone()),
            Err(err) => return Err(PageError::kube(&format!("listing cluster Secrets in {namespace}"), &err)),
        }
    }
    Ok((secrets, Reach::Named { refused }))
}

fn connection_cell(connection: &Connection) -> Markup {
    match connection {
        Connection::Unknown => html! { span.connection.unknown { "Unknown" } },
        Connection::Reachable { applications } => html! {
            span.connection.reachable title=(format!("{applications} Application(s) deploy here")) { "Reachable" }
        },
        Connection::Unreachable { application, message } => html! {
            span.connection.unreachable title=(message) { "Unreachable" } " (" (application) ")"
        },
    }
}

fn row(cluster: &ClusterRow) -> Markup {
    html! {
        tr data-cluster=(cluster.name) {
            td.name { (cluster.name) }
            td { code { (cluster.server) } }
            td { @if cluster.namespaces.is_empty() { "all" } @else { (cluster.namespaces.join(", ")) } }
            td { (cluster.project.as_deref().unwrap_or("")) }
            td { @match cluster.cluster_resources { Some(true) => "yes", Some(false) => "no", None => "" } }
            td.connection-state { (connection_cell(&cluster.connection)) }
            td { @if cluster.secret.is_empty() { "(the controller's own)" } @else { (cluster.secret) } }
        }
    }
}

/// GET /clusters.
pub(crate) async fn page(Caller(session): Caller, Query(query): Query<ClustersQuery>) -> Result<Markup, PageError> {
    let named: Vec<String> =
        query.namespace.split(',').map(str::trim).filter(|n| !n.is_empty()).map(String::from).collect();
    let (secrets, reach) = cluster_secrets(&session.client, &named).await?;
    let (apps, _) = crate::pages::list::list(&session.client, &named).await?;
    let mut rows = vec![in_cluster_row(&apps)];
    let mut unreadable = Vec::new();
    for secret in &secrets {
        match secret_row(secret, &apps) {
            Some(row) => rows.push(row),
            None => unreadable.push(secret.metadata.name.clone().unwrap_or_default()),
        }
    }
    rows[1..].sort_by(|a, b| a.name.cmp(&b.name));
    let body = html! {
        h1 { "Clusters" }
        @if let Reach::Named { refused } = &reach {
            p.notice role="status" {
                "You may not list Secrets in all namespaces, so only the cluster Secrets of the namespaces named in "
                code { "?namespace=" } " are shown."
                @if !refused.is_empty() { " Refused: " (refused.join(", ")) "." }
            }
        }
        table.clusters {
            thead { tr { th { "Name" } th { "Server" } th { "Namespaces" } th { "Project" } th { "Cluster-scoped" }
                         th { "Connection" } th { "Secret" } } }
            tbody { @for cluster in &rows { (row(cluster)) } }
        }
        @if !unreadable.is_empty() {
            p.notice role="status" { "Cluster Secrets naming no server: " (unreadable.join(", ")) }
        }
        p.hint { "Connection: as the last reconcile of the Applications you can see that deploy to the cluster reported it." }
    };
    Ok(layout::page("Clusters", Some(&session), body))
}
