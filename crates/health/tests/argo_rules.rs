//! Argo CD's health rules branch by branch (gitops-engine `pkg/health`, now in argoproj/argo-cd
//! under `gitops-engine/`), written from the upstream code's logic; each case names the branch it
//! takes. docs/health.md's rule table points at these tests.

use lockstep_api::HealthStatusCode::{self, Degraded, Healthy, Progressing, Suspended, Unknown};
use lockstep_health::{assess, builtin, ignored, kstatus};
use serde_json::{Value, json};

/// A description, the object, and the expected code and message (`None`: any message).
type Case = (&'static str, Value, HealthStatusCode, Option<&'static str>);

fn check(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for (what, obj, status, message) in cases {
        match builtin(&obj) {
            None => failures.push(format!("{what}: no built-in rule")),
            Some(got) => {
                let msg_ok = message.is_none_or(|m| got.message.as_deref().unwrap_or("") == m);
                if got.status != status || !msg_ok {
                    failures.push(format!("{what}: expected {status} {message:?}, got {got:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn obj(api_version: &str, kind: &str, spec: Value, status: Value) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "generation": 1}, "spec": spec, "status": status})
}

fn merged(base: &Value, extra: Value) -> Value {
    let mut out = base.clone();
    if let (Some(map), Value::Object(extra)) = (out.as_object_mut(), extra) {
        map.extend(extra);
    }
    out
}

#[test]
fn get_resource_health() {
    let deleting = |finalizers: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": finalizers}});
    check(vec![("any kind being deleted", deleting(json!([])), Progressing, Some("Pending deletion"))]);
    // A hook Argo CD still has to observe keeps its own health (here: no rule at all).
    assert_eq!(builtin(&deleting(json!(["argocd.argoproj.io/hook-finalizer"]))), None);
    let hook_pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z",
        "finalizers": ["argocd.argoproj.io/hook-finalizer"]}, "spec": {"restartPolicy": "Never"}, "status": {"phase": "Succeeded"}});
    check(vec![("deleted hook with finalizer", hook_pod, Healthy, None)]);
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
    let dep = |spec: Value, status: Value| obj("apps/v1", "Deployment", spec, status);
    let done = json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2});
    check(vec![
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
    let sts = |spec: Value, status: Value| obj("apps/v1", "StatefulSet", spec, status);
    let base = json!({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 3, "currentReplicas": 3, "currentRevision": "a", "updateRevision": "a"});
    let rolling = |partition: Value| json!({"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}}});
    check(vec![
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
    let ds = |spec: Value, status: Value| obj("apps/v1", "DaemonSet", spec, status);
    let base = json!({"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 2});
    check(vec![
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
    let rs = |spec: Value, status: Value| obj("apps/v1", "ReplicaSet", spec, status);
    check(vec![
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
fn pod_health() {
    let pod = |annotations: Value, policy: &str, status: Value| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"annotations": annotations}, "spec": {"restartPolicy": policy}, "status": status});
    let none = json!({});
    let ignore = json!({"argocd.argoproj.io/ignore-restart-policy": "true"});
    let waiting = |reason: &str| json!({"phase": "Running", "containerStatuses": [{"name": "a", "state": {"waiting": {"reason": reason, "message": reason}}}]});
    let ready = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
    check(vec![
        ("Err* waiting", pod(none.clone(), "Always", waiting("ErrImagePull")), Degraded, Some("ErrImagePull")),
        ("*Error waiting", pod(none.clone(), "Always", waiting("CreateContainerConfigError")), Degraded, None),
        ("*BackOff waiting", pod(none.clone(), "Always", waiting("ImagePullBackOff")), Degraded, None),
        ("other waiting reason", pod(none.clone(), "Always", waiting("ContainerCreating")), Progressing, None),
        (
            "waiting errors joined",
            pod(
                none.clone(),
                "Always",
                json!({"phase": "Pending", "containerStatuses": [
            {"state": {"waiting": {"reason": "ErrA", "message": "a"}}}, {"state": {"waiting": {"reason": "BBackOff", "message": "b"}}}]}),
            ),
            Degraded,
            Some("a, b"),
        ),
        ("Never pods skip waiting errors", pod(none.clone(), "Never", waiting("ImagePullBackOff")), Progressing, None),
        (
            "ignore-restart-policy counts waiting errors",
            pod(ignore.clone(), "Never", waiting("CrashLoopBackOff")),
            Degraded,
            None,
        ),
        ("pending", pod(none.clone(), "Always", json!({"phase": "Pending", "message": "m"})), Progressing, Some("m")),
        ("succeeded", pod(none.clone(), "Never", json!({"phase": "Succeeded"})), Healthy, None),
        (
            "failed with pod message",
            pod(none.clone(), "Never", json!({"phase": "Failed", "message": "evicted"})),
            Degraded,
            Some("evicted"),
        ),
        (
            "failed init container message",
            pod(
                none.clone(),
                "Never",
                json!({"phase": "Failed", "initContainerStatuses": [{"name": "i", "state": {"terminated": {"message": "init broke"}}}],
            "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 1}}}]}),
            ),
            Degraded,
            Some("init broke"),
        ),
        (
            "failed OOMKilled",
            pod(
                none.clone(),
                "Never",
                json!({"phase": "Failed", "containerStatuses": [{"name": "a", "state": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}),
            ),
            Degraded,
            Some("OOMKilled"),
        ),
        (
            "failed exit code",
            pod(
                none.clone(),
                "Never",
                json!({"phase": "Failed", "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 3}}}]}),
            ),
            Degraded,
            Some("container \"a\" failed with exit code 3"),
        ),
        (
            "failed, no detail",
            pod(
                none.clone(),
                "Never",
                json!({"phase": "Failed", "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 0}}}]}),
            ),
            Degraded,
            None,
        ),
        ("running ready", pod(none.clone(), "Always", ready.clone()), Healthy, None),
        (
            "running, restarted",
            pod(
                none.clone(),
                "Always",
                json!({"phase": "Running", "containerStatuses": [{"name": "a", "lastState": {"terminated": {"exitCode": 1}}}]}),
            ),
            Degraded,
            None,
        ),
        ("running, starting", pod(none.clone(), "Always", json!({"phase": "Running"})), Progressing, None),
        ("running OnFailure", pod(none.clone(), "OnFailure", ready.clone()), Progressing, None),
        ("running Never", pod(none.clone(), "Never", ready.clone()), Progressing, None),
        ("running Never, ignore-restart-policy", pod(ignore.clone(), "Never", ready.clone()), Healthy, None),
        (
            "ignore-restart-policy not on hooks",
            pod(
                json!({"argocd.argoproj.io/ignore-restart-policy": "true", "argocd.argoproj.io/hook": "PostSync"}),
                "Never",
                ready.clone(),
            ),
            Progressing,
            None,
        ),
        (
            "a Skip hook is no hook",
            pod(
                json!({"argocd.argoproj.io/ignore-restart-policy": "true", "argocd.argoproj.io/hook": "Skip"}),
                "Never",
                ready.clone(),
            ),
            Healthy,
            None,
        ),
        (
            "Skip with another type is a hook",
            pod(
                json!({"argocd.argoproj.io/ignore-restart-policy": "true", "argocd.argoproj.io/hook": "Skip,PreSync"}),
                "Never",
                ready.clone(),
            ),
            Progressing,
            None,
        ),
        (
            "Helm hook",
            pod(
                json!({"argocd.argoproj.io/ignore-restart-policy": "true", "helm.sh/hook": "post-install"}),
                "Never",
                ready.clone(),
            ),
            Progressing,
            None,
        ),
        (
            "Helm crd-install is no hook",
            pod(
                json!({"argocd.argoproj.io/ignore-restart-policy": "true", "helm.sh/hook": "crd-install"}),
                "Never",
                ready.clone(),
            ),
            Healthy,
            None,
        ),
        (
            "ignore-restart-policy must be \"true\"",
            pod(json!({"argocd.argoproj.io/ignore-restart-policy": "yes"}), "Never", ready.clone()),
            Progressing,
            None,
        ),
        ("running, no policy", pod(none.clone(), "", ready.clone()), Unknown, None),
        (
            "unknown phase",
            pod(none.clone(), "Always", json!({"phase": "Unknown", "message": "lost"})),
            Unknown,
            Some("lost"),
        ),
    ]);
}

#[test]
fn service_ingress_pvc_health() {
    let lb = |status: Value| obj("v1", "Service", json!({"type": "LoadBalancer"}), status);
    let ingress = |api_version: &str, status: Value| obj(api_version, "Ingress", json!({}), status);
    let pvc = |phase: Value| obj("v1", "PersistentVolumeClaim", json!({}), json!({"phase": phase}));
    check(vec![
        ("ClusterIP", obj("v1", "Service", json!({}), json!({})), Healthy, None),
        ("LoadBalancer pending", lb(json!({})), Progressing, None),
        ("LoadBalancer empty list", lb(json!({"loadBalancer": {"ingress": []}})), Progressing, None),
        ("LoadBalancer assigned", lb(json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}})), Healthy, None),
        ("Ingress pending", ingress("networking.k8s.io/v1", json!({})), Progressing, None),
        (
            "Ingress assigned",
            ingress("networking.k8s.io/v1", json!({"loadBalancer": {"ingress": [{}]}})),
            Healthy,
            None,
        ),
        (
            "extensions Ingress",
            ingress("extensions/v1beta1", json!({"loadBalancer": {"ingress": [{}]}})),
            Healthy,
            None,
        ),
        (
            "malformed Ingress status reads as none",
            ingress("networking.k8s.io/v1", json!({"loadBalancer": "x"})),
            Progressing,
            None,
        ),
        ("PVC bound", pvc(json!("Bound")), Healthy, None),
        ("PVC pending", pvc(json!("Pending")), Progressing, None),
        ("PVC lost", pvc(json!("Lost")), Degraded, None),
        ("PVC no phase", pvc(json!(null)), Unknown, None),
    ]);
}

#[test]
fn job_health() {
    let job = |spec: Value, conditions: Value| obj("batch/v1", "Job", spec, json!({"conditions": conditions}));
    check(vec![
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

#[test]
fn hpa_health() {
    let v2 = |conditions: Value| {
        obj("autoscaling/v2", "HorizontalPodAutoscaler", json!({}), json!({"conditions": conditions}))
    };
    let v1 = |annotation: Option<&str>| {
        let annotations = annotation.map_or(json!({}), |a| json!({"autoscaling.alpha.kubernetes.io/conditions": a}));
        json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"annotations": annotations}})
    };
    let mut cases: Vec<Case> = ["FailedGetScale", "FailedUpdateScale"]
        .iter()
        .map(|r| {
            (
                "AbleToScale failure",
                v2(json!([{"type": "AbleToScale", "status": "False", "reason": r, "message": "m"}])),
                Degraded,
                Some("m"),
            )
        })
        .collect();
    for r in [
        "FailedGetResourceMetric",
        "FailedGetObjectMetric",
        "FailedGetPodsMetric",
        "FailedGetExternalMetric",
        "FailedComputeMetricsReplicas",
        "InvalidSelector",
    ] {
        cases.push((
            "ScalingActive failure",
            v2(json!([{"type": "ScalingActive", "status": "False", "reason": r}])),
            Degraded,
            None,
        ));
    }
    cases.extend([
        (
            "failure reason on another type",
            v2(json!([{"type": "ScalingLimited", "status": "False", "reason": "FailedGetScale"}])),
            Progressing,
            Some("Waiting to Autoscale"),
        ),
        (
            "AbleToScale=True",
            v2(json!([{"type": "AbleToScale", "status": "True", "message": "ok"}])),
            Healthy,
            Some("ok"),
        ),
        (
            "ScalingLimited=True",
            v2(json!([{"type": "ScalingLimited", "status": "True", "reason": "TooFewReplicas"}])),
            Healthy,
            None,
        ),
        (
            "AbleToScale=False, no failure",
            v2(json!([{"type": "AbleToScale", "status": "False", "reason": "BackoffBoth"}])),
            Progressing,
            Some("Waiting to Autoscale"),
        ),
        ("no conditions", v2(json!([])), Progressing, Some("Waiting to Autoscale")),
        (
            "v2beta2 (older gitops-engine)",
            obj(
                "autoscaling/v2beta2",
                "HorizontalPodAutoscaler",
                json!({}),
                json!({"conditions": [{"type": "AbleToScale", "status": "True"}]}),
            ),
            Healthy,
            None,
        ),
        ("v1 without annotation", v1(None), Progressing, Some("Waiting to Autoscale")),
        ("v1 empty list", v1(Some("[]")), Progressing, Some("Waiting to Autoscale")),
        ("v1 null", v1(Some("null")), Progressing, Some("Waiting to Autoscale")),
        (
            "v1 degraded",
            v1(Some(r#"[{"type":"ScalingActive","status":"False","reason":"FailedGetObjectMetric","message":"no"}]"#)),
            Degraded,
            Some("no"),
        ),
        ("v1 healthy", v1(Some(r#"[{"type":"AbleToScale","status":"True","message":"yes"}]"#)), Healthy, Some("yes")),
        ("v1 bad JSON", v1(Some("[")), Unknown, None),
    ]);
    check(cases);
}

#[test]
fn apiservice_and_workflow_health() {
    let api = |version: &str, conditions: Value| {
        obj(&format!("apiregistration.k8s.io/{version}"), "APIService", json!({}), json!({"conditions": conditions}))
    };
    let wf = |status: Value| json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "status": status});
    check(vec![
        (
            "available",
            api(
                "v1",
                json!([{"type": "Available", "status": "True", "reason": "Passed", "message": "all checks passed"}]),
            ),
            Healthy,
            Some("Passed: all checks passed"),
        ),
        (
            "unavailable",
            api(
                "v1beta1",
                json!([{"type": "Available", "status": "False", "reason": "MissingEndpoints", "message": "none"}]),
            ),
            Progressing,
            Some("MissingEndpoints: none"),
        ),
        ("not processed", api("v1", json!([])), Progressing, Some("Waiting to be processed")),
        ("workflow no phase", wf(json!({})), Progressing, None),
        ("workflow running", wf(json!({"phase": "Running", "message": "m"})), Progressing, Some("m")),
        ("workflow succeeded", wf(json!({"phase": "Succeeded"})), Healthy, None),
        ("workflow failed", wf(json!({"phase": "Failed"})), Degraded, None),
        ("workflow error", wf(json!({"phase": "Error"})), Degraded, None),
        ("workflow other phase", wf(json!({"phase": "Skipped"})), Unknown, None),
        ("workflow phase of the wrong type", wf(json!({"phase": 3, "message": []})), Progressing, None),
    ]);
}

#[test]
fn ignore_healthcheck() {
    let with = |annotations: Value| json!({"metadata": {"annotations": annotations}});
    assert!(ignored(&with(json!({"argocd.argoproj.io/ignore-healthcheck": "true"}))));
    assert!(ignored(&with(json!({"lockstep.dev/ignore-healthcheck": "true"}))));
    assert!(!ignored(&with(json!({"argocd.argoproj.io/ignore-healthcheck": "True"}))));
    assert!(!ignored(&with(json!({"argocd.argoproj.io/ignore-healthcheck": "true", "other": 1}))));
    assert!(!ignored(&json!({})));
}
