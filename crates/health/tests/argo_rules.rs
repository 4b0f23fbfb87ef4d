//! Argo CD's health rules for dispatch and workloads, branch by branch (gitops-engine `pkg/health`, now in argoproj/argo-cd
//! under `gitops-engine/`), written from the upstream code's logic; each case names the branch it
//! takes. docs/health.md's rule table points at these tests.

mod common;

use common::rule_cases::{check_builtin, merged, obj_gen1};
use lockstep_api::HealthStatusCode::{Degraded, Healthy, Progressing, Suspended, Unknown};
use lockstep_health::{assess, builtin, kstatus};
use serde_json::{Value, json};

#[test]
fn get_resource_health() {
    let deleting = |finalizers: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": finalizers}});
    check_builtin(vec![("any kind being deleted", deleting(json!([])), Progressing, Some("Pending deletion"))]);
    // A hook Argo CD still has to observe keeps its own health (here: no rule at all).
    assert_eq!(builtin(&deleting(json!(["argocd.argoproj.io/hook-finalizer"]))), None);
    let hook_pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z",
        "finalizers": ["argocd.argoproj.io/hook-finalizer"]}, "spec": {"restartPolicy": "Never"}, "status": {"phase": "Succeeded"}});
    check_builtin(vec![("deleted hook with finalizer", hook_pod, Healthy, None)]);
    // An unparsable timestamp is no deletion (Go's GetDeletionTimestamp gives nil).
    let bad = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"deletionTimestamp": "soon"}});
    assert_eq!(builtin(&bad), None);
    // Kinds without a built-in rule: none, whatever shares a name with a core kind.
    for (api_version, kind) in [
        ("extensions/v1beta1", "Deployment"),
        ("serving.knative.dev/v1", "Service"),
        ("argoproj.io/v1alpha1", "Application"),
        ("policy/v1", "PodDisruptionBudget"),
        ("v1", "Secret"),
        ("a/b/c", "Pod"),
    ] {
        assert_eq!(builtin(&json!({"apiVersion": api_version, "kind": kind})), None, "{api_version} {kind}");
    }
    // assess falls back on kstatus where there is no rule.
    let cr = json!({"apiVersion": "example.com/v1", "kind": "W", "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "R", "message": "m"}]}});
    assert_eq!(assess(&cr), kstatus(&cr).into());
    assert_eq!(assess(&cr).status, Progressing);
}

#[test]
fn unsupported_versions() {
    for (api_version, kind) in [
        ("apps/v1beta2", "Deployment"),
        ("apps/v1beta1", "StatefulSet"),
        ("apps/v1beta2", "DaemonSet"),
        ("apps/v1beta2", "ReplicaSet"),
        ("v2", "Pod"),
        ("v2", "Service"),
        ("v2", "PersistentVolumeClaim"),
        ("batch/v2", "Job"),
        ("autoscaling/v3", "HorizontalPodAutoscaler"),
        ("apiregistration.k8s.io/v2", "APIService"),
    ] {
        let h = builtin(&json!({"apiVersion": api_version, "kind": kind})).expect("rule");
        assert_eq!(h.status, Unknown, "{api_version} {kind}");
        assert!(h.message.is_some_and(|m| m.contains("GVK")), "{api_version} {kind}");
    }
}

#[test]
fn deployment_health() {
    let dep = |spec: Value, status: Value| obj_gen1("apps/v1", "Deployment", spec, status);
    let done = json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2});
    check_builtin(vec![
        ("paused", dep(json!({"paused": true}), json!({})), Suspended, Some("Deployment is paused")),
        (
            "generation not observed",
            dep(json!({"replicas": 2}), json!({})),
            Progressing,
            Some("Waiting for rollout to finish: observed deployment generation less than desired generation"),
        ),
        (
            "deadline exceeded",
            dep(
                json!({"replicas": 2}),
                merged(
                    &done,
                    json!({"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}),
                ),
            ),
            Degraded,
            Some("Deployment \"x\" exceeded its progress deadline"),
        ),
        (
            "fewer updated",
            dep(json!({"replicas": 3}), done.clone()),
            Progressing,
            Some("Waiting for rollout to finish: 2 out of 3 new replicas have been updated..."),
        ),
        (
            "old replicas",
            dep(json!({"replicas": 2}), merged(&done, json!({"replicas": 3}))),
            Progressing,
            Some("Waiting for rollout to finish: 1 old replicas are pending termination..."),
        ),
        (
            "unavailable",
            dep(json!({"replicas": 2}), merged(&done, json!({"availableReplicas": 1}))),
            Progressing,
            Some("Waiting for rollout to finish: 1 of 2 updated replicas are available..."),
        ),
        ("no spec.replicas: counts only", dep(json!({}), merged(&done, json!({"updatedReplicas": 2}))), Healthy, None),
        ("done", dep(json!({"replicas": 2}), done.clone()), Healthy, None),
    ]);
}

#[test]
fn statefulset_health() {
    let sts = |spec: Value, status: Value| obj_gen1("apps/v1", "StatefulSet", spec, status);
    let base = json!({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 3, "currentReplicas": 3, "currentRevision": "a", "updateRevision": "a"});
    let rolling = |partition: Value| json!({"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}}});
    check_builtin(vec![
        (
            "never observed",
            sts(json!({}), json!({})),
            Progressing,
            Some("Waiting for statefulset spec update to be observed..."),
        ),
        (
            "not ready",
            sts(json!({"replicas": 4}), base.clone()),
            Progressing,
            Some("Waiting for 1 pods to be ready..."),
        ),
        (
            "partition rolling",
            sts(rolling(json!(1)), merged(&base, json!({"updatedReplicas": 1}))),
            Progressing,
            Some("Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated..."),
        ),
        (
            "partition done",
            sts(rolling(json!(1)), base.clone()),
            Healthy,
            Some("partitioned roll out complete: 3 new pods have been updated..."),
        ),
        (
            "rollingUpdate without partition",
            sts(rolling(json!(null)), merged(&base, json!({"updateRevision": "b"}))),
            Healthy,
            None,
        ),
        (
            "OnDelete",
            sts(json!({"updateStrategy": {"type": "OnDelete"}}), merged(&base, json!({"updateRevision": "b"}))),
            Healthy,
            Some("statefulset has 3 ready pods"),
        ),
        (
            "revision mismatch",
            sts(json!({"replicas": 3}), merged(&base, json!({"updateRevision": "b"}))),
            Progressing,
            Some("waiting for statefulset rolling update to complete 3 pods at revision b..."),
        ),
        (
            "done",
            sts(json!({"replicas": 3}), base.clone()),
            Healthy,
            Some("statefulset rolling update complete 3 pods at revision a..."),
        ),
    ]);
}

#[test]
fn daemonset_health() {
    let ds = |spec: Value, status: Value| obj_gen1("apps/v1", "DaemonSet", spec, status);
    let base = json!({"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 2});
    check_builtin(vec![
        (
            "generation not observed",
            ds(json!({}), json!({})),
            Progressing,
            Some("Waiting for rollout to finish: observed daemon set generation less than desired generation"),
        ),
        (
            "OnDelete",
            ds(json!({"updateStrategy": {"type": "OnDelete"}}), merged(&base, json!({"updatedNumberScheduled": 1}))),
            Healthy,
            Some("daemon set 1 out of 2 new pods have been updated"),
        ),
        (
            "fewer updated",
            ds(json!({}), merged(&base, json!({"updatedNumberScheduled": 1}))),
            Progressing,
            Some("Waiting for daemon set \"x\" rollout to finish: 1 out of 2 new pods have been updated..."),
        ),
        (
            "fewer available",
            ds(json!({}), merged(&base, json!({"numberAvailable": 1}))),
            Progressing,
            Some("Waiting for daemon set \"x\" rollout to finish: 1 of 2 updated pods are available..."),
        ),
        ("done", ds(json!({}), base.clone()), Healthy, None),
    ]);
}

#[test]
fn replicaset_health() {
    let rs = |spec: Value, status: Value| obj_gen1("apps/v1", "ReplicaSet", spec, status);
    check_builtin(vec![
        (
            "generation not observed",
            rs(json!({}), json!({})),
            Progressing,
            Some("Waiting for rollout to finish: observed replica set generation less than desired generation"),
        ),
        (
            "replica failure",
            rs(
                json!({"replicas": 2}),
                json!({"observedGeneration": 1, "conditions": [{"type": "ReplicaFailure", "status": "True", "message": "quota"}]}),
            ),
            Degraded,
            Some("quota"),
        ),
        (
            "ReplicaFailure=False",
            rs(
                json!({"replicas": 0}),
                json!({"observedGeneration": 1, "conditions": [{"type": "ReplicaFailure", "status": "False"}]}),
            ),
            Healthy,
            None,
        ),
        (
            "fewer available",
            rs(json!({"replicas": 2}), json!({"observedGeneration": 1, "availableReplicas": 1})),
            Progressing,
            Some("Waiting for rollout to finish: 1 out of 2 new replicas are available..."),
        ),
        ("done", rs(json!({"replicas": 2}), json!({"observedGeneration": 1, "availableReplicas": 2})), Healthy, None),
    ]);
}

#[test]
fn job_health() {
    let job = |spec: Value, conditions: Value| obj_gen1("batch/v1", "Job", spec, json!({"conditions": conditions}));
    check_builtin(vec![
        ("running", job(json!({}), json!([])), Progressing, None),
        (
            "complete",
            job(json!({}), json!([{"type": "Complete", "status": "True", "message": "done"}])),
            Healthy,
            Some("done"),
        ),
        (
            "failed",
            job(json!({}), json!([{"type": "Failed", "status": "True", "message": "backoff"}])),
            Degraded,
            Some("backoff"),
        ),
        (
            "failed beats complete",
            job(
                json!({}),
                json!([{"type": "Complete", "status": "True"}, {"type": "Failed", "status": "True", "message": "f"}]),
            ),
            Degraded,
            Some("f"),
        ),
        (
            "failed beats suspended",
            job(
                json!({"suspend": true}),
                json!([{"type": "Suspended", "status": "True"}, {"type": "Failed", "status": "True"}]),
            ),
            Degraded,
            None,
        ),
        (
            "condition types count, not statuses",
            job(json!({}), json!([{"type": "Complete", "status": "False"}])),
            Healthy,
            None,
        ),
        (
            "suspended",
            job(json!({"suspend": true}), json!([{"type": "Suspended", "status": "True", "message": "Job suspended"}])),
            Suspended,
            Some("Job suspended"),
        ),
        ("suspending: no condition yet", job(json!({"suspend": true}), json!([])), Progressing, None),
        (
            "resuming: condition still True",
            job(
                json!({"suspend": false}),
                json!([{"type": "Suspended", "status": "True", "message": "Job suspended"}]),
            ),
            Suspended,
            None,
        ),
        (
            "resumed: Suspended=False",
            job(json!({}), json!([{"type": "Suspended", "status": "False", "message": "Job resumed"}])),
            Healthy,
            Some("Job resumed"),
        ),
        (
            "last message wins",
            job(
                json!({}),
                json!([{"type": "Suspended", "status": "False", "message": "resumed"}, {"type": "Complete", "status": "True", "message": "done"}]),
            ),
            Healthy,
            Some("done"),
        ),
    ]);
}
