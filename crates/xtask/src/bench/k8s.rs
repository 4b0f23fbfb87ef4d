//! The Kubernetes side of the harness: a client for the bench cluster, namespaces, server-side
//! apply of plain JSON objects, and reading Applications.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt, stream};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};

/// Field manager the harness writes as (the floor client uses its own).
pub const MANAGER: &str = "lockstep-bench";

/// A client for the cluster whose admin kubeconfig is `path`.
pub async fn client(path: &Path) -> Result<Client> {
    let kubeconfig = Kubeconfig::read_from(path).with_context(|| format!("reading {}", path.display()))?;
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .context("loading the bench cluster's kubeconfig")?;
    // The harness itself must not be the bottleneck of what it measures.
    config.read_timeout = Some(Duration::from_secs(120));
    Client::try_from(config).context("building a Kubernetes client")
}

/// The API resource of an object's `apiVersion` and `kind` (plural: lowercase kind + `s`, with
/// the few irregular kinds the harness uses).
pub fn resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let plural = match kind {
        "Ingress" => "ingresses".to_owned(),
        "Kustomization" => "kustomizations".to_owned(),
        "GitRepository" => "gitrepositories".to_owned(),
        _ => format!("{}s", kind.to_lowercase()),
    };
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), &plural)
}

/// The API of `kind` objects in `namespace`.
pub fn api(client: &Client, namespace: &str, api_version: &str, kind: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &resource(api_version, kind))
}

/// The Applications of `namespace`.
pub fn applications(client: &Client, namespace: &str) -> Api<DynamicObject> {
    api(client, namespace, "lockstep.dev/v1alpha1", "Application")
}

/// Server-side applies one object (with `force`) as `manager`.
pub async fn apply(client: &Client, namespace: &str, obj: &Value, manager: &str) -> Result<()> {
    let api_version = obj["apiVersion"].as_str().context("object without apiVersion")?;
    let kind = obj["kind"].as_str().context("object without kind")?;
    let name = obj["metadata"]["name"].as_str().context("object without a name")?;
    api(client, namespace, api_version, kind)
        .patch(name, &PatchParams::apply(manager).force(), &Patch::Apply(obj))
        .await
        .with_context(|| format!("applying {kind} {namespace}/{name}"))?;
    Ok(())
}

/// Applies `objects` with at most `concurrency` requests in flight.
pub async fn apply_all(
    client: &Client,
    namespace: &str,
    objects: &[Value],
    manager: &str,
    concurrency: usize,
) -> Result<()> {
    stream::iter(objects.iter().map(|obj| apply(client, namespace, obj, manager)))
        .buffer_unordered(concurrency)
        .try_collect::<Vec<()>>()
        .await
        .map(drop)
}

/// Creates (or keeps) namespace `name`.
pub async fn create_namespace(client: &Client, name: &str) -> Result<()> {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"lockstep.dev/bench": "true"}}});
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource("v1", "Namespace"));
    api.patch(name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&ns))
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

/// Deletes namespace `name` and waits (up to `timeout`) until it is gone.
pub async fn delete_namespace(client: &Client, name: &str, timeout: Duration) -> Result<()> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource("v1", "Namespace"));
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("deleting namespace {name}")),
    }
    let started = Instant::now();
    while api.get_opt(name).await.with_context(|| format!("reading namespace {name}"))?.is_some() {
        if started.elapsed() > timeout {
            bail!("namespace {name} still exists after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

/// Polls until `n` objects of `api` have each satisfied `ready` at least once; returns the time
/// taken. Once is enough: a controller that re-reconciles an object on its interval marks it not
/// Ready while it does (Flux at N = 1,000 re-reconciles the first Kustomizations before the last
/// are done), so "all ready at the same instant" may never hold although each converged.
pub async fn wait_ready(
    api: &Api<DynamicObject>,
    n: usize,
    timeout: Duration,
    ready: &(dyn Fn(&DynamicObject) -> bool + Sync),
) -> Result<Duration> {
    match wait_each_ready(api, n, timeout, ready).await? {
        Convergence::Done(elapsed) => Ok(elapsed),
        Convergence::GaveUp { ready: count, waiting } => {
            bail!("only {count} of {n} objects were ever ready after {timeout:?}; never ready: {waiting}")
        }
    }
}

/// How a wait for `n` objects ended.
pub enum Convergence {
    /// Each was ready at least once, this long after the wait began.
    Done(Duration),
    /// The timeout passed first: how many had been ready, and a few that never were (with status).
    GaveUp { ready: usize, waiting: String },
}

/// [`wait_ready`], with a timeout as a result rather than an error.
pub async fn wait_each_ready(
    api: &Api<DynamicObject>,
    n: usize,
    timeout: Duration,
    ready: &(dyn Fn(&DynamicObject) -> bool + Sync),
) -> Result<Convergence> {
    let started = Instant::now();
    let poll = if n > 100 { Duration::from_millis(500) } else { Duration::from_millis(100) };
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        let list = api.list(&ListParams::default()).await.context("listing the objects to wait for")?;
        seen.extend(list.items.iter().filter(|o| ready(o)).filter_map(|o| o.metadata.name.clone()));
        if seen.len() >= n {
            return Ok(Convergence::Done(started.elapsed()));
        }
        if started.elapsed() > timeout {
            let waiting: Vec<String> = list
                .items
                .iter()
                .filter(|o| !o.metadata.name.as_ref().is_some_and(|name| seen.contains(name)))
                .take(3)
                .map(|o| format!("{}: {}", o.metadata.name.as_deref().unwrap_or("?"), o.data["status"]))
                .collect();
            return Ok(Convergence::GaveUp { ready: seen.len(), waiting: waiting.join("; ") });
        }
        tokio::time::sleep(poll).await;
    }
}
