use super::*;
use serde_json::json;

/// Git's object, marked as lockstep applies it: it sets the label `app`, the managed label and the
/// tracking annotation.
fn git() -> Value {
    json!({"metadata": {"name": "web", "labels": {"app": "web", "lockstep.dev/managed": "true"},
        "annotations": {"lockstep.dev/tracking-id": "team/web:apps/Deployment:team/web"}},
        "spec": {"replicas": 0}})
}

/// The Deployment as found in sync: what the apply answered, before its controller wrote anything.
fn remembered() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "team", "uid": "u1", "resourceVersion": "10", "generation": 1,
            "creationTimestamp": "2026-12-06T11:00:00Z",
            "labels": {"app": "web", "lockstep.dev/managed": "true"},
            "annotations": {"lockstep.dev/tracking-id": "team/web:apps/Deployment:team/web"}},
        "spec": {"replicas": 0}, "status": {}})
}

/// Kube-controller-manager's status of a Deployment at 0 replicas.
fn available() -> Value {
    json!({"observedGeneration": 1, "conditions": [
        {"type": "Available", "status": "True", "lastUpdateTime": "2026-12-06T11:00:01Z",
            "lastTransitionTime": "2026-12-06T11:00:01Z", "reason": "MinimumReplicasAvailable",
            "message": "Deployment has minimum availability."},
        {"type": "Progressing", "status": "True", "lastUpdateTime": "2026-12-06T11:00:01Z",
            "lastTransitionTime": "2026-12-06T11:00:01Z", "reason": "NewReplicaSetAvailable",
            "message": "ReplicaSet \"web-5d4f8c7b9\" has successfully progressed."}]})
}

/// The object as its watch sees it later: `edit` changes its metadata; its status is `available()`.
fn watched(rv: &str, edit: impl FnOnce(&mut Value)) -> WatchedStatus {
    let mut live = remembered();
    live["metadata"]["resourceVersion"] = json!(rv);
    live["metadata"]["managedFields"] = json!([{"manager": "kube-controller-manager"}]);
    edit(&mut live["metadata"]);
    let state = WatchedState::of(&live["metadata"], Some(&available())).expect("has a generation");
    WatchedStatus { resource_version: rv.into(), state }
}

#[test]
fn kinds_whose_health_reads_status_keep_it() {
    for (group, kind) in [
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("networking.k8s.io", "Ingress"),
        ("", "Service"),
        ("", "PersistentVolumeClaim"),
        ("", "Pod"),
        ("batch", "Job"),
        ("argoproj.io", "Rollout"),
        ("example.com", "Widget"),
    ] {
        assert!(carries_status(group, kind), "{group}/{kind}");
    }
    for (group, kind) in [
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("rbac.authorization.k8s.io", "Role"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("apps", "ControllerRevision"),
    ] {
        assert!(!carries_status(group, kind), "{group}/{kind}");
    }
}

#[test]
fn objects_without_generation_or_being_deleted_are_not_kept() {
    let service = json!({"uid": "u2", "resourceVersion": "3"});
    assert_eq!(WatchedState::of(&service, Some(&json!({"loadBalancer": {}}))), None, "no generation");
    let mut deleting = remembered()["metadata"].clone();
    deleting["deletionTimestamp"] = json!("2026-12-06T11:00:05Z");
    assert_eq!(WatchedState::of(&deleting, None), None);
    let kept = WatchedState::of(&remembered()["metadata"], Some(&json!(null))).expect("kept");
    assert_eq!(kept.status, None, "a null status is none");
}

#[test]
fn a_status_change_and_others_marks_are_answered_from_the_watch() {
    assert!(answers(&remembered(), &git(), &watched("11", |_| {}).state));
    let revised = watched("12", |m| {
        m["annotations"]["deployment.kubernetes.io/revision"] = json!("1");
        m["labels"]["pod-template-hash"] = json!("5d4f8c7b9");
    });
    assert!(answers(&remembered(), &git(), &revised.state), "the Deployment controller's marks");
}

/// A change to an object's metadata.
type Edit = Box<dyn FnOnce(&mut Value)>;

#[test]
fn spec_metadata_and_identity_changes_are_read() {
    let cases: [(&str, Edit); 6] = [
        ("spec changed", Box::new(|m| m["generation"] = json!(2))),
        ("a label git sets edited", Box::new(|m| m["labels"]["app"] = json!("other"))),
        ("a label git sets removed", Box::new(|m| _ = m["labels"].as_object_mut().map(|l| l.remove("app")))),
        ("taken by another Application", Box::new(|m| m["annotations"]["lockstep.dev/tracking-id"] = json!("x"))),
        ("recreated", Box::new(|m| m["uid"] = json!("u9"))),
        ("owned", Box::new(|m| m["ownerReferences"] = json!([{"uid": "o1"}]))),
    ];
    for (case, edit) in cases {
        let state = watched("13", edit);
        assert!(!answers(&remembered(), &git(), &state.state), "{case}");
        assert_eq!(merged(remembered(), &git(), &state), None, "{case}");
    }
    let mut deleting = remembered();
    deleting["metadata"]["deletionTimestamp"] = json!("2026-12-06T11:00:05Z");
    assert!(!answers(&deleting, &git(), &watched("11", |_| {}).state), "remembered while deleting");
}

#[test]
fn the_merged_copy_has_the_watched_status_and_version_and_the_remembered_rest() {
    let live = merged(remembered(), &git(), &watched("11", |_| {})).expect("answered");
    assert_eq!(live["status"], available());
    assert_eq!(live["metadata"]["resourceVersion"], "11");
    assert_eq!(live["spec"], remembered()["spec"]);
    assert_eq!(live["metadata"]["labels"], remembered()["metadata"]["labels"]);
    let mut without = watched("14", |_| {});
    without.state.status = None;
    let live = merged(remembered(), &git(), &without).expect("answered");
    assert_eq!(live.get("status"), None, "a status removed is removed");
}

/// What the watches keep per object of the benchmark's shape (a Deployment at 0 replicas, a
/// ServiceAccount, a headless Service and an Ingress per Application): 1,000 Applications.
#[test]
fn the_status_kept_for_a_thousand_applications_is_small() {
    let ingress_metadata = json!({"name": "web", "namespace": "team", "uid": "u3", "resourceVersion": "20",
        "generation": 1, "creationTimestamp": "2026-12-06T11:00:00Z",
        "labels": {"lockstep.dev/managed": "true"},
        "annotations": {"lockstep.dev/tracking-id": "team/web:networking.k8s.io/Ingress:team/web"}});
    let ingress_status = json!({"loadBalancer": {"ingress": [{"ip": "10.96.0.10"}]}});
    let service = json!({"name": "web", "namespace": "team", "uid": "u4", "resourceVersion": "21"});
    let mut bytes = 0;
    let mut objects = 0;
    for _ in 0..1_000 {
        let deployment = watched("30", |m| m["annotations"]["deployment.kubernetes.io/revision"] = json!("1"));
        let kept = [
            Some(deployment.state),
            WatchedState::of(&ingress_metadata, Some(&ingress_status)),
            WatchedState::of(&service, Some(&json!({"loadBalancer": {}}))),
        ];
        bytes += kept.iter().flatten().map(WatchedState::bytes).sum::<usize>();
        // The ServiceAccount's kind keeps no status: watched by metadata only.
        objects += 4;
    }
    let per_object = bytes / objects;
    eprintln!("status kept for {objects} objects: {bytes} bytes, {per_object} per object");
    assert!(per_object < 256, "{per_object} bytes per object");
}
