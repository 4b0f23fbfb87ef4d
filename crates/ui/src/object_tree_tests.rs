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
    assert_eq!((pod.kind.as_str(), pod.group.as_str(), pod.version.as_str(), pod.sync), ("Pod", "", "v1", None));
    assert_eq!((deployment.children[0].group.as_str(), deployment.children[0].version.as_str()), ("apps", "v1"));
    assert_eq!(pod.health, HealthStatusCode::Progressing, "a Pending Pod is assessed like any live object");
    assert!(tree[1].children.is_empty());
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
