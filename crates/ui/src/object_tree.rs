//! The resource tree of an Application, as `lockstep tree` and the UI's detail page show it: each
//! object it manages, and below it what that object owns (Deployment → ReplicaSet → Pod) by
//! `metadata.ownerReferences`, each node with its health, the managed ones with their sync status. Pure.

use std::collections::{HashMap, HashSet};

use lockstep_api::{HealthStatusCode, ResourceStatus, SyncStatusCode};
use serde::Serialize;
use serde_json::Value;

/// How deep ownership is followed below a managed object (a Deployment's Pods are two levels down).
const MAX_DEPTH: usize = 6;

/// One object of the tree.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeNode {
    /// API group; empty for the core group.
    pub group: String,
    /// API version within the group (`v1`).
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace; `None` for cluster-scoped objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Sync status, for the objects the Application manages (what it owns has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncStatusCode>,
    /// Health code.
    pub health: HealthStatusCode,
    /// Why, when not Healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What this object owns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<TreeNode>,
}

/// The tree: one root per managed object (`resources`, each with its live object when it exists),
/// with the `candidates` (live objects that may be owned, such as the namespace's ReplicaSets and
/// Pods) hung below their owners by uid. A candidate owned by nothing in the tree is left out.
pub fn build(resources: &[(ResourceStatus, Option<Value>)], candidates: &[Value]) -> Vec<TreeNode> {
    let mut owned: HashMap<&str, Vec<&Value>> = HashMap::new();
    for candidate in candidates {
        for owner in candidate["metadata"]["ownerReferences"].as_array().map(Vec::as_slice).unwrap_or_default() {
            if let Some(uid) = owner["uid"].as_str() {
                owned.entry(uid).or_default().push(candidate);
            }
        }
    }
    let mut seen = HashSet::new();
    resources
        .iter()
        .map(|(resource, live)| {
            let health = resource.health.clone().unwrap_or_default();
            let children = live.as_ref().map(|l| children_of(l, &owned, &mut seen, 1)).unwrap_or_default();
            TreeNode {
                group: resource.group.clone(),
                version: resource.version.clone(),
                kind: resource.kind.clone(),
                namespace: resource.namespace.clone(),
                name: resource.name.clone(),
                sync: Some(resource.status),
                health: health.status,
                message: health.message,
                children,
            }
        })
        .collect()
}

fn children_of<'a>(
    owner: &Value,
    owned: &HashMap<&str, Vec<&'a Value>>,
    seen: &mut HashSet<&'a str>,
    depth: usize,
) -> Vec<TreeNode> {
    let Some(uid) = owner["metadata"]["uid"].as_str() else { return Vec::new() };
    if depth > MAX_DEPTH {
        return Vec::new();
    }
    let fresh: Vec<&'a Value> = owned
        .get(uid)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .copied()
        .filter(|child| child["metadata"]["uid"].as_str().is_some_and(|uid| seen.insert(uid)))
        .collect();
    let mut children: Vec<TreeNode> = fresh
        .into_iter()
        .map(|child| {
            let health = lockstep_health::assess(child);
            let api_version = child["apiVersion"].as_str().unwrap_or_default();
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            TreeNode {
                group: group.to_string(),
                version: version.to_string(),
                kind: child["kind"].as_str().unwrap_or_default().to_string(),
                namespace: child["metadata"]["namespace"].as_str().map(String::from),
                name: child["metadata"]["name"].as_str().unwrap_or_default().to_string(),
                sync: None,
                health: health.status,
                message: health.message,
                children: children_of(child, owned, seen, depth + 1),
            }
        })
        .collect();
    children.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    children
}

#[cfg(test)]
#[path = "object_tree_tests.rs"]
mod tests;
