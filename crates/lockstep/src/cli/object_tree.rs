//! The resource tree of an Application, as `lockstep tree` shows it: each object it manages, and
//! below it what that object owns (Deployment → ReplicaSet → Pod) by `metadata.ownerReferences`,
//! each node with its health, and the managed ones with their sync status. Pure.

use std::collections::{HashMap, HashSet};

use lockstep_api::{HealthStatusCode, ResourceStatus, SyncStatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::cli::style::Style;

/// How deep ownership is followed below a managed object (a Deployment's Pods are two levels down).
const MAX_DEPTH: usize = 6;

/// One object of the tree.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TreeNode {
    /// API group; empty for the core group.
    pub group: String,
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
pub(crate) fn build(resources: &[(ResourceStatus, Option<Value>)], candidates: &[Value]) -> Vec<TreeNode> {
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
            TreeNode {
                group: api_version.rsplit_once('/').map_or("", |(group, _)| group).to_string(),
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

/// The tree as indented text, one object a line: `Kind namespace/name  Sync  Health  message`.
pub(crate) fn render(nodes: &[TreeNode], style: Style) -> String {
    let mut out = String::new();
    for node in nodes {
        line(node, "", "", style, &mut out);
    }
    out
}

fn line(node: &TreeNode, lead: &str, branch: &str, style: Style, out: &mut String) {
    let place = node.namespace.as_deref().map(|ns| format!("{ns}/")).unwrap_or_default();
    let sync = node.sync.map(|s| format!("  {}", style.sync(s))).unwrap_or_default();
    let message = node.message.as_deref().filter(|_| node.health != HealthStatusCode::Healthy);
    let message = message.map(|m| format!("  {m}")).unwrap_or_default();
    out.push_str(&format!(
        "{lead}{branch}{} {place}{}{sync}  {}{message}\n",
        node.kind,
        node.name,
        style.health(node.health)
    ));
    let below = format!(
        "{lead}{}",
        if branch.starts_with('├') {
            "│  "
        } else if branch.is_empty() {
            ""
        } else {
            "   "
        }
    );
    for (i, child) in node.children.iter().enumerate() {
        let last = i + 1 == node.children.len();
        line(child, &below, if last { "└─ " } else { "├─ " }, style, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::HealthStatus;
    use serde_json::json;

    fn live(kind: &str, api_version: &str, name: &str, uid: &str, owner: Option<&str>) -> Value {
        let owners: Vec<Value> =
            owner.map(|o| json!({"uid": o, "kind": "X", "name": "x", "apiVersion": "v1"})).into_iter().collect();
        json!({"apiVersion": api_version, "kind": kind,
               "metadata": {"name": name, "namespace": "team", "uid": uid, "ownerReferences": owners}})
    }

    fn managed(kind: &str, group: &str, name: &str) -> ResourceStatus {
        ResourceStatus {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            namespace: Some("team".into()),
            name: name.into(),
            status: SyncStatusCode::Synced,
            health: Some(HealthStatus { status: HealthStatusCode::Healthy, message: None }),
            requires_pruning: false,
        }
    }

    fn tree() -> Vec<TreeNode> {
        let deployment = live("Deployment", "apps/v1", "web", "d1", None);
        let candidates = [
            live("ReplicaSet", "apps/v1", "web-2", "r2", Some("d1")),
            live("ReplicaSet", "apps/v1", "web-1", "r1", Some("d1")),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1-a", "namespace": "team", "uid": "p1",
                   "ownerReferences": [{"uid": "r1"}]}, "status": {"phase": "Pending"}}),
            live("Pod", "v1", "stranger", "p9", Some("elsewhere")),
        ];
        let resources =
            [(managed("Deployment", "apps", "web"), Some(deployment)), (managed("ConfigMap", "", "settings"), None)];
        build(&resources, &candidates)
    }

    #[test]
    fn owners_hold_what_they_own_and_strangers_are_left_out() {
        let tree = tree();
        assert_eq!(tree.len(), 2);
        let deployment = &tree[0];
        assert_eq!((deployment.kind.as_str(), deployment.sync), ("Deployment", Some(SyncStatusCode::Synced)));
        let sets: Vec<_> = deployment.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(sets, ["web-1", "web-2"], "sorted by kind and name");
        let pod = &deployment.children[0].children[0];
        assert_eq!((pod.kind.as_str(), pod.group.as_str(), pod.sync), ("Pod", "", None));
        assert_eq!(pod.health, HealthStatusCode::Progressing, "a Pending Pod is assessed like any live object");
        assert!(tree[1].children.is_empty());
    }

    #[test]
    fn text_and_json_show_the_same_tree() {
        let text = render(&tree(), Style::default());
        assert_eq!(
            text.lines().map(str::trim_end).collect::<Vec<_>>()[..4],
            [
                "Deployment team/web  Synced  Healthy",
                "├─ ReplicaSet team/web-1  Healthy",
                "│  └─ Pod team/web-1-a  Progressing",
                "└─ ReplicaSet team/web-2  Healthy",
            ][..],
            "{text}"
        );
        let json = serde_json::to_value(tree()).unwrap();
        assert_eq!(json[0]["children"][0]["children"][0]["kind"], "Pod");
        assert_eq!(json[0]["sync"], "Synced");
        assert!(json[0]["children"][0].get("sync").is_none());
    }

    #[test]
    fn an_ownership_loop_ends() {
        let a = live("Thing", "x/v1", "a", "ua", Some("ub"));
        let b = live("Thing", "x/v1", "b", "ub", Some("ua"));
        let root = live("Thing", "x/v1", "root", "root", None);
        let first = live("Thing", "x/v1", "first", "ub2", Some("root"));
        let tree = build(&[(managed("Thing", "x", "root"), Some(root))], &[a, b, first]);
        assert_eq!(tree[0].children.len(), 1);
    }
}
