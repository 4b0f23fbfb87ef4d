//! kstatus's rules for workloads (StatefulSet, Deployment, ReplicaSet, DaemonSet, Pod, Job), branch
//! by branch (sigs.k8s.io/cli-utils `pkg/kstatus/status`), written from
//! the upstream code's logic; each case names the branch it takes. docs/health.md's rule table
//! points at these tests.

mod common;

use common::rule_cases::{check_kstatus, obj};
use jiff::{SignedDuration, Timestamp};
use lockstep_health::{KStatus, kstatus_at};
use serde_json::{Value, json};

#[test]
fn statefulset_conditions() {
    let sts = |spec: Value, status: Value| obj("apps/v1", "StatefulSet", spec, status);
    let full = json!({"replicas": 3, "readyReplicas": 3, "currentReplicas": 3, "updatedReplicas": 3, "currentRevision": "a", "updateRevision": "a"});
    let with = |extra: Value| {
        let mut s = full.clone();
        s.as_object_mut().expect("map").extend(extra.as_object().expect("map").clone());
        s
    };
    check_kstatus(vec![
        (
            "OnDelete",
            sts(json!({"updateStrategy": {"type": "OnDelete"}}), json!({})),
            KStatus::Current,
            "",
            "StatefulSet is using the ondelete update strategy",
        ),
        (
            "spec.replicas defaults to 1",
            sts(json!({}), json!({})),
            KStatus::InProgress,
            "LessReplicas",
            "Replicas: 0/1",
        ),
        (
            "fewer ready",
            sts(json!({"replicas": 3}), with(json!({"readyReplicas": 2}))),
            KStatus::InProgress,
            "LessReady",
            "Ready: 2/3",
        ),
        (
            "extra pods",
            sts(json!({"replicas": 3}), with(json!({"replicas": 4}))),
            KStatus::InProgress,
            "ExtraPods",
            "Pending termination: 1",
        ),
        (
            "partition rolling",
            sts(
                json!({"replicas": 3, "updateStrategy": {"rollingUpdate": {"partition": 1}}}),
                with(json!({"updatedReplicas": 1})),
            ),
            KStatus::InProgress,
            "PartitionRollout",
            "updated: 1/2",
        ),
        (
            "partition done",
            sts(
                json!({"replicas": 3, "updateStrategy": {"rollingUpdate": {"partition": 1}}}),
                with(json!({"updatedReplicas": 2, "currentReplicas": 0})),
            ),
            KStatus::Current,
            "",
            "Partition rollout complete. updated: 2",
        ),
        (
            "fewer current",
            sts(json!({"replicas": 3}), with(json!({"currentReplicas": 1}))),
            KStatus::InProgress,
            "LessCurrent",
            "current: 1/3",
        ),
        (
            "revision mismatch",
            sts(json!({"replicas": 3}), with(json!({"updateRevision": "b"}))),
            KStatus::InProgress,
            "RevisionMismatch",
            "Waiting for updated revision to match current",
        ),
        (
            "all current",
            sts(json!({"replicas": 3}), full.clone()),
            KStatus::Current,
            "",
            "All replicas scheduled as expected. Replicas: 3",
        ),
    ]);
}

#[test]
fn deployment_conditions() {
    let dep = |spec: Value, status: Value| obj("apps/v1", "Deployment", spec, status);
    let ok = |extra: Value| {
        let mut s = json!({"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2, "conditions": [
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            {"type": "Available", "status": "True"}]});
        s.as_object_mut().expect("map").extend(extra.as_object().expect("map").clone());
        s
    };
    let spec = json!({"replicas": 2, "progressDeadlineSeconds": 600});
    check_kstatus(vec![
        (
            "deadline exceeded",
            dep(
                spec.clone(),
                ok(
                    json!({"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "too slow"}]}),
                ),
            ),
            KStatus::Failed,
            "ProgressDeadlineExceeded",
            "Progress deadline exceeded",
        ),
        (
            "fewer replicas",
            dep(spec.clone(), ok(json!({"replicas": 1}))),
            KStatus::InProgress,
            "LessReplicas",
            "Replicas: 1/2",
        ),
        (
            "fewer updated",
            dep(spec.clone(), ok(json!({"updatedReplicas": 1}))),
            KStatus::InProgress,
            "LessUpdated",
            "Updated: 1/2",
        ),
        (
            "extra pods",
            dep(spec.clone(), ok(json!({"replicas": 3}))),
            KStatus::InProgress,
            "ExtraPods",
            "Pending termination: 1",
        ),
        (
            "fewer available",
            dep(spec.clone(), ok(json!({"availableReplicas": 1}))),
            KStatus::InProgress,
            "LessAvailable",
            "Available: 1/2",
        ),
        (
            "fewer ready",
            dep(spec.clone(), ok(json!({"readyReplicas": 1}))),
            KStatus::InProgress,
            "LessReady",
            "Ready: 1/2",
        ),
        (
            "new ReplicaSet not available",
            dep(spec.clone(), ok(json!({"conditions": [{"type": "Available", "status": "True"}]}))),
            KStatus::InProgress,
            "ReplicaSetNotAvailable",
            "ReplicaSet not Available",
        ),
        (
            "no deadline: Progressing not needed",
            dep(json!({"replicas": 2}), ok(json!({"conditions": [{"type": "Available", "status": "True"}]}))),
            KStatus::Current,
            "",
            "",
        ),
        (
            "not available",
            dep(
                spec.clone(),
                ok(
                    json!({"conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}),
                ),
            ),
            KStatus::InProgress,
            "DeploymentNotAvailable",
            "Deployment not Available",
        ),
        ("available", dep(spec.clone(), ok(json!({}))), KStatus::Current, "", "Deployment is available. Replicas: 2"),
        ("extensions group", obj("extensions/v1beta1", "Deployment", spec, ok(json!({}))), KStatus::Current, "", ""),
    ]);
}

#[test]
fn replicaset_conditions() {
    let rs = |status: Value| obj("apps/v1", "ReplicaSet", json!({"replicas": 2}), status);
    let full = |extra: Value| {
        let mut s = json!({"replicas": 2, "fullyLabeledReplicas": 2, "availableReplicas": 2, "readyReplicas": 2});
        s.as_object_mut().expect("map").extend(extra.as_object().expect("map").clone());
        s
    };
    check_kstatus(vec![
        (
            "ReplicaFailure=True",
            rs(full(json!({"conditions": [{"type": "ReplicaFailure", "status": "True"}]}))),
            KStatus::InProgress,
            "ReplicaFailure",
            "Replica Failure condition. Check Pods",
        ),
        (
            "ReplicaFailure=False",
            rs(full(json!({"conditions": [{"type": "ReplicaFailure", "status": "False"}]}))),
            KStatus::Current,
            "",
            "",
        ),
        (
            "fewer labelled",
            rs(full(json!({"fullyLabeledReplicas": 1}))),
            KStatus::InProgress,
            "LessLabelled",
            "Labelled: 1/2",
        ),
        (
            "fewer available",
            rs(full(json!({"availableReplicas": 1}))),
            KStatus::InProgress,
            "LessAvailable",
            "Available: 1/2",
        ),
        ("fewer ready", rs(full(json!({"readyReplicas": 1}))), KStatus::InProgress, "LessReady", "Ready: 1/2"),
        ("extra pods", rs(full(json!({"replicas": 3}))), KStatus::InProgress, "ExtraPods", "Pending termination: 1"),
        ("available", rs(full(json!({}))), KStatus::Current, "", "ReplicaSet is available. Replicas: 2"),
    ]);
}

#[test]
fn daemonset_conditions() {
    let ds = |generation: Value, status: Value| json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"generation": generation}, "status": status});
    let full = |extra: Value| {
        let mut s = json!({"observedGeneration": 1, "desiredNumberScheduled": 2, "currentNumberScheduled": 2,
            "updatedNumberScheduled": 2, "numberAvailable": 2, "numberReady": 2});
        s.as_object_mut().expect("map").extend(extra.as_object().expect("map").clone());
        s
    };
    check_kstatus(vec![
        ("no generation", ds(json!(null), json!({})), KStatus::Unknown, "", ""),
        (
            "no observedGeneration",
            ds(json!(1), json!({})),
            KStatus::InProgress,
            "NoObservedGeneration",
            "DaemonSet status.observedGeneration not found",
        ),
        (
            "no desired number",
            ds(json!(1), json!({"observedGeneration": 1})),
            KStatus::InProgress,
            "NoDesiredNumber",
            "Missing .status.desiredNumberScheduled",
        ),
        (
            "fewer current",
            ds(json!(1), full(json!({"currentNumberScheduled": 1}))),
            KStatus::InProgress,
            "LessCurrent",
            "Current: 1/2",
        ),
        (
            "fewer updated",
            ds(json!(1), full(json!({"updatedNumberScheduled": 1}))),
            KStatus::InProgress,
            "LessUpdated",
            "Updated: 1/2",
        ),
        (
            "fewer available",
            ds(json!(1), full(json!({"numberAvailable": 1}))),
            KStatus::InProgress,
            "LessAvailable",
            "Available: 1/2",
        ),
        ("fewer ready", ds(json!(1), full(json!({"numberReady": 1}))), KStatus::InProgress, "LessReady", "Ready: 1/2"),
        (
            "all scheduled",
            ds(json!(1), full(json!({}))),
            KStatus::Current,
            "",
            "All replicas scheduled as expected. Replicas: 2",
        ),
    ]);
    // Without metadata.generation at all (null is a type error in Go's NestedInt64).
    let no_gen = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {}, "status": full(json!({}))});
    check_kstatus(vec![(
        "generation absent",
        no_gen,
        KStatus::InProgress,
        "NoGeneration",
        "DaemonSet metadata.generation not found",
    )]);
}

#[test]
fn pod_conditions() {
    let pod = |status: Value| obj("v1", "Pod", json!({}), status);
    let crash = json!([{"name": "a", "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
        {"name": "b", "state": {"running": {}}}, {"name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
        {"state": {"waiting": {"reason": "CrashLoopBackOff"}}}, {"name": "d"}, {"name": "e", "state": {"waiting": {}}}]);
    check_kstatus(vec![
        ("succeeded", pod(json!({"phase": "Succeeded"})), KStatus::Current, "", "Pod has completed successfully"),
        (
            "failed is current",
            pod(json!({"phase": "Failed"})),
            KStatus::Current,
            "",
            "Pod has completed, but not successfully",
        ),
        (
            "running and ready",
            pod(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})),
            KStatus::Current,
            "",
            "Pod is Ready",
        ),
        (
            "ready beats crash loop",
            pod(
                json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": crash.clone()}),
            ),
            KStatus::Current,
            "",
            "",
        ),
        (
            "crash looping",
            pod(json!({"phase": "Running", "containerStatuses": crash})),
            KStatus::Failed,
            "ContainerCrashLooping",
            "Containers in CrashLoop state: a,c",
        ),
        (
            "running not ready",
            pod(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]})),
            KStatus::InProgress,
            "PodRunningNotReady",
            "Pod is running but is not Ready",
        ),
        ("pending", pod(json!({"phase": "Pending"})), KStatus::InProgress, "PodPending", "Pod is in the Pending phase"),
        (
            "pending, scheduled=False for another reason",
            pod(
                json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulerError"}]}),
            ),
            KStatus::InProgress,
            "PodPending",
            "",
        ),
        (
            "unschedulable, no creation time",
            pod(
                json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}),
            ),
            KStatus::Failed,
            "PodUnschedulable",
            "Pod could not be scheduled",
        ),
        ("no phase", pod(json!({})), KStatus::InProgress, "PodNotObserved", "Pod phase not available"),
        ("unknown phase", pod(json!({"phase": "Weird"})), KStatus::Unknown, "", "unknown phase Weird"),
    ]);
    let now = Timestamp::now();
    let pending_since = |age: i64| {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"creationTimestamp": (now - SignedDuration::from_secs(age)).to_string()},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}})
    };
    assert_eq!(kstatus_at(&pending_since(10), now).status, KStatus::InProgress);
    assert_eq!(kstatus_at(&pending_since(16), now).status, KStatus::Failed);
}

#[test]
fn job_conditions() {
    let job = |spec: Value, status: Value| obj("batch/v1", "Job", spec, status);
    let suspended = json!([{"type": "Suspended", "status": "True"}]);
    check_kstatus(vec![
        (
            "complete",
            job(
                json!({"completions": 3}),
                json!({"succeeded": 3, "conditions": [{"type": "Complete", "status": "True"}]}),
            ),
            KStatus::Current,
            "",
            "Job Completed. succeeded: 3/3",
        ),
        (
            "completions default to parallelism",
            job(json!({"parallelism": 4}), json!({"conditions": [{"type": "Complete", "status": "True"}]})),
            KStatus::Current,
            "",
            "Job Completed. succeeded: 0/4",
        ),
        (
            "failed",
            job(json!({}), json!({"failed": 2, "conditions": [{"type": "Failed", "status": "True"}]})),
            KStatus::Failed,
            "JobFailed",
            "Job Failed. failed: 2/1",
        ),
        (
            "Complete=False is not complete",
            job(json!({}), json!({"conditions": [{"type": "Complete", "status": "False"}]})),
            KStatus::InProgress,
            "JobNotStarted",
            "Job not started",
        ),
        (
            "suspended by spec and condition",
            job(json!({"suspend": true}), json!({"conditions": suspended.clone()})),
            KStatus::Current,
            "",
            "Job is suspended",
        ),
        (
            "resuming: condition still True",
            job(json!({"suspend": false}), json!({"conditions": suspended.clone()})),
            KStatus::InProgress,
            "JobNotStarted",
            "",
        ),
        (
            "resuming and started before",
            job(json!({}), json!({"startTime": "2024-01-01T00:00:00Z", "conditions": suspended})),
            KStatus::Current,
            "",
            "Job in progress. success:0, active: 0, failed: 0",
        ),
        (
            "suspending: no condition yet",
            job(json!({"suspend": true}), json!({})),
            KStatus::InProgress,
            "JobNotStarted",
            "",
        ),
        (
            "resumed: Suspended=False",
            job(
                json!({}),
                json!({"startTime": "t", "active": 1, "conditions": [{"type": "Suspended", "status": "False"}]}),
            ),
            KStatus::Current,
            "",
            "Job in progress. success:0, active: 1, failed: 0",
        ),
        (
            "first true outcome wins",
            job(
                json!({}),
                json!({"conditions": [{"type": "Failed", "status": "True"}, {"type": "Complete", "status": "True"}]}),
            ),
            KStatus::Failed,
            "JobFailed",
            "",
        ),
        (
            "spec.suspend must be a bool",
            job(json!({"suspend": "true"}), json!({"conditions": [{"type": "Suspended", "status": "True"}]})),
            KStatus::InProgress,
            "JobNotStarted",
            "",
        ),
    ]);
}
