//! Reading what the resource tree needs: each managed object of `status.resources` live, and the
//! kinds objects commonly own listed in the namespaces the Application deploys to. Shared by
//! `lockstep tree` and the UI's detail page; every read is made with the client given (in the UI,
//! the signed-in user's).

use std::collections::BTreeSet;

use kube::api::{Api, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use kube::discovery::pinned_kind;
use lockstep_api::ResourceStatus;
use serde_json::Value;

use crate::object_tree::{TreeNode, build};

/// Kinds that objects commonly own, listed in each namespace the Application deploys to:
/// `(group, version, kind)`.
const OWNED_KINDS: [(&str, &str, &str); 5] = [
    ("apps", "v1", "ReplicaSet"),
    ("", "v1", "Pod"),
    ("batch", "v1", "Job"),
    ("apps", "v1", "ControllerRevision"),
    ("discovery.k8s.io", "v1", "EndpointSlice"),
];

/// A read of the tree that failed: which object or list, and the API server's answer.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}", lockstep_api::kube_error::one_line(.source))]
pub struct TreeReadError {
    /// What was being read (`reading Deployment web`, `listing Pod in team`).
    pub what: String,
    /// The client's error.
    pub source: kube::Error,
}

/// The tree of the managed `resources` (those awaiting prune left out), read with `client`.
pub async fn collect(client: &kube::Client, resources: &[ResourceStatus]) -> Result<Vec<TreeNode>, TreeReadError> {
    let mut managed = Vec::new();
    for resource in resources.iter().filter(|r| !r.requires_pruning) {
        let live = read(client, resource).await?;
        managed.push((resource.clone(), live));
    }
    let namespaces: BTreeSet<String> = managed.iter().filter_map(|(r, _)| r.namespace.clone()).collect();
    let mut candidates = Vec::new();
    for namespace in &namespaces {
        for (group, version, kind) in OWNED_KINDS {
            candidates.extend(list(client, &GroupVersionKind::gvk(group, version, kind), namespace).await?);
        }
    }
    Ok(build(&managed, &candidates))
}

/// The live object of a managed resource; `None` when it is gone, its kind is no longer served, or
/// the client may not read it.
pub async fn read(client: &kube::Client, resource: &ResourceStatus) -> Result<Option<Value>, TreeReadError> {
    let gvk = GroupVersionKind::gvk(&resource.group, &resource.version, &resource.kind);
    let Ok((api_resource, _)) = pinned_kind(client, &gvk).await else { return Ok(None) };
    let api: Api<DynamicObject> = match &resource.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &api_resource),
        None => Api::all_with(client.clone(), &api_resource),
    };
    let object = match api.get_opt(&resource.name).await {
        Ok(object) => object,
        Err(kube::Error::Api(status)) if status.code == 403 => None,
        Err(source) => {
            return Err(TreeReadError { what: format!("reading {} {}", resource.kind, resource.name), source });
        }
    };
    // The object read by name carries its apiVersion and kind; an unknown field cannot fail here.
    Ok(object.and_then(|o| serde_json::to_value(o).ok()))
}

/// Every object of one kind in a namespace; nothing when the cluster does not serve the kind or the
/// client may not list it (the tree then shows less, as the user's RBAC allows).
async fn list(client: &kube::Client, gvk: &GroupVersionKind, namespace: &str) -> Result<Vec<Value>, TreeReadError> {
    let Ok((api_resource, _)) = pinned_kind(client, gvk).await else { return Ok(Vec::new()) };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &api_resource);
    let listed = match api.list(&ListParams::default()).await {
        Ok(listed) => listed,
        Err(kube::Error::Api(status)) if status.code == 403 => return Ok(Vec::new()),
        Err(source) => return Err(TreeReadError { what: format!("listing {} in {namespace}", gvk.kind), source }),
    };
    // A list's items carry no apiVersion and kind of their own: they are the list's.
    let api_version = api_resource.api_version.clone();
    Ok(listed
        .items
        .into_iter()
        .filter_map(|mut object| {
            object.types = Some(kube::core::TypeMeta { api_version: api_version.clone(), kind: gvk.kind.clone() });
            serde_json::to_value(object).ok()
        })
        .collect())
}
