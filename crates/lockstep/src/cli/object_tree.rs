//! The resource tree of an Application as `lockstep tree` prints it; the tree itself is built by
//! [`lockstep_ui::object_tree`], shared with the UI's detail page. Pure.

use lockstep_api::HealthStatusCode;
use lockstep_ui::object_tree::TreeNode;

use crate::cli::style::Style;

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
    use lockstep_api::{HealthStatus, ResourceStatus, SyncStatusCode};
    use lockstep_ui::object_tree::build;
    use serde_json::{Value, json};

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
}
