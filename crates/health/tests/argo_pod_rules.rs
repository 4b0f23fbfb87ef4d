//! Argo CD's health rules for Pods, Services, Ingresses, PVCs, HPAs, APIServices, Workflows and
//! the ignore annotation, branch by branch (gitops-engine `pkg/health`, now in argoproj/argo-cd
//! under `gitops-engine/`), written from the upstream code's logic; each case names the branch it
//! takes. docs/health.md's rule table points at these tests.

mod common;

use common::rule_cases::{ArgoCase, check_builtin, obj_gen1};
use lockstep_api::HealthStatusCode::{Degraded, Healthy, Progressing, Unknown};
use lockstep_health::ignored;
use serde_json::{Value, json};

#[test]
fn pod_health() {
    let pod = |annotations: Value, policy: &str, status: Value| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"annotations": annotations}, "spec": {"restartPolicy": policy}, "status": status});
    let none = json!({});
    let ignore = json!({"argocd.argoproj.io/ignore-restart-policy": "true"});
    let waiting = |reason: &str| json!({"phase": "Running", "containerStatuses": [{"name": "a", "state": {"waiting": {"reason": reason, "message": reason}}}]});
    let ready = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
    check_builtin(vec![
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
    let lb = |status: Value| obj_gen1("v1", "Service", json!({"type": "LoadBalancer"}), status);
    let ingress = |api_version: &str, status: Value| obj_gen1(api_version, "Ingress", json!({}), status);
    let pvc = |phase: Value| obj_gen1("v1", "PersistentVolumeClaim", json!({}), json!({"phase": phase}));
    check_builtin(vec![
        ("ClusterIP", obj_gen1("v1", "Service", json!({}), json!({})), Healthy, None),
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
fn hpa_health() {
    let v2 = |conditions: Value| {
        obj_gen1("autoscaling/v2", "HorizontalPodAutoscaler", json!({}), json!({"conditions": conditions}))
    };
    let v1 = |annotation: Option<&str>| {
        let annotations = annotation.map_or(json!({}), |a| json!({"autoscaling.alpha.kubernetes.io/conditions": a}));
        json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"annotations": annotations}})
    };
    let mut cases: Vec<ArgoCase> = ["FailedGetScale", "FailedUpdateScale"]
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
            obj_gen1(
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
    check_builtin(cases);
}

#[test]
fn apiservice_and_workflow_health() {
    let api = |version: &str, conditions: Value| {
        obj_gen1(
            &format!("apiregistration.k8s.io/{version}"),
            "APIService",
            json!({}),
            json!({"conditions": conditions}),
        )
    };
    let wf = |status: Value| json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "status": status});
    check_builtin(vec![
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
