//! `lockstep tree NAME [-o json]`: the Application's objects and what they own (Deployment →
//! ReplicaSet → Pod, from ownerReferences), with health per node and sync per managed object. The
//! managed objects come from `status.resources`; each is read live, and the kinds objects commonly
//! own are listed in their namespaces ([`object_tree`] hangs them below their owners).

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use kube::discovery::pinned_kind;
use lockstep_api::ResourceStatus;
use serde_json::Value;

use crate::cli::object_tree::{self as object_tree, build};
use crate::cli::style::Style;
use crate::cli::{Cluster, ClusterArgs, block_on};

/// Kinds that objects commonly own, listed in each namespace the Application deploys to:
/// `(group, version, kind)`.
const OWNED_KINDS: [(&str, &str, &str); 5] = [
    ("apps", "v1", "ReplicaSet"),
    ("", "v1", "Pod"),
    ("batch", "v1", "Job"),
    ("apps", "v1", "ControllerRevision"),
    ("discovery.k8s.io", "v1", "EndpointSlice"),
];

/// How `tree` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Indented text.
    #[default]
    Text,
    /// The tree as JSON: nested `children`.
    Json,
}

#[derive(Args)]
pub(crate) struct TreeArgs {
    /// The Application.
    name: String,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

pub(crate) fn run(args: TreeArgs, cluster: &ClusterArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let cluster = Cluster::connect(cluster).await?;
        let app = cluster.app(&args.name).await?;
        let resources = app.status.map(|s| s.resources).unwrap_or_default();
        let mut managed = Vec::new();
        for resource in resources.into_iter().filter(|r| !r.requires_pruning) {
            let live = read(&cluster, &resource).await?;
            managed.push((resource, live));
        }
        let namespaces: BTreeSet<String> = managed.iter().filter_map(|(r, _)| r.namespace.clone()).collect();
        let mut candidates = Vec::new();
        for namespace in &namespaces {
            for (group, version, kind) in OWNED_KINDS {
                candidates.extend(list(&cluster, &GroupVersionKind::gvk(group, version, kind), namespace).await?);
            }
        }
        let tree = build(&managed, &candidates);
        match args.output {
            Format::Text => print!("{}", object_tree::render(&tree, Style::detect())),
            Format::Json => println!("{}", serde_json::to_string_pretty(&tree)?),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The live object of a managed resource; `None` when it is gone or its kind is no longer served.
async fn read(cluster: &Cluster, resource: &ResourceStatus) -> anyhow::Result<Option<Value>> {
    let gvk = GroupVersionKind::gvk(&resource.group, &resource.version, &resource.kind);
    let Ok((api_resource, _)) = pinned_kind(&cluster.client, &gvk).await else { return Ok(None) };
    let api: Api<DynamicObject> = match &resource.namespace {
        Some(ns) => Api::namespaced_with(cluster.client.clone(), ns, &api_resource),
        None => Api::all_with(cluster.client.clone(), &api_resource),
    };
    let object =
        api.get_opt(&resource.name).await.with_context(|| format!("reading {} {}", resource.kind, resource.name))?;
    Ok(object.map(serde_json::to_value).transpose()?)
}

/// Every object of one kind in a namespace; nothing when the cluster does not serve the kind.
async fn list(cluster: &Cluster, gvk: &GroupVersionKind, namespace: &str) -> anyhow::Result<Vec<Value>> {
    let Ok((api_resource, _)) = pinned_kind(&cluster.client, gvk).await else { return Ok(Vec::new()) };
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), namespace, &api_resource);
    let listed =
        api.list(&ListParams::default()).await.with_context(|| format!("listing {} in {namespace}", gvk.kind))?;
    // A list's items carry no apiVersion and kind of their own: they are the list's.
    let api_version = api_resource.api_version.clone();
    listed
        .items
        .into_iter()
        .map(|mut object| {
            object.types = Some(kube::core::TypeMeta { api_version: api_version.clone(), kind: gvk.kind.clone() });
            serde_json::to_value(object).map_err(Into::into)
        })
        .collect()
}
