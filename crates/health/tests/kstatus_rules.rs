//! kstatus's generic rules and simple kinds, branch by branch (sigs.k8s.io/cli-utils `pkg/kstatus/status`), written from
//! the upstream code's logic; each case names the branch it takes. docs/health.md's rule table
//! points at these tests.

mod common;

use common::rule_cases::{check_kstatus, conds, obj};
use lockstep_health::KStatus;
use serde_json::{Value, json};

#[test]
fn generic_properties() {
    let cr = |meta: Value, status: Value| json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta, "status": status});
    check_kstatus(vec![
        (
            "deletionTimestamp set",
            cr(json!({"deletionTimestamp": "2024-01-01T00:00:00Z"}), json!({})),
            KStatus::Terminating,
            "",
            "Resource scheduled for deletion",
        ),
        (
            "empty deletionTimestamp is not deletion",
            cr(json!({"deletionTimestamp": ""}), json!({})),
            KStatus::Current,
            "",
            "Resource is current",
        ),
        (
            "generation not observed",
            cr(json!({"generation": 2}), json!({"observedGeneration": 1})),
            KStatus::InProgress,
            "LatestGenerationNotObserved",
            "Widget generation is 2, but latest observed generation is 1",
        ),
        (
            "observed ahead is also a mismatch",
            cr(json!({"generation": 1}), json!({"observedGeneration": 2})),
            KStatus::InProgress,
            "LatestGenerationNotObserved",
            "",
        ),
        ("generation without observedGeneration", cr(json!({"generation": 2}), json!({})), KStatus::Current, "", ""),
        (
            "observedGeneration without generation",
            cr(json!({}), json!({"observedGeneration": 2})),
            KStatus::Current,
            "",
            "",
        ),
        (
            "Reconciling=True",
            cr(
                json!({}),
                conds(json!([{"type": "Reconciling", "status": "True", "reason": "Working", "message": "busy"}])),
            ),
            KStatus::InProgress,
            "Working",
            "busy",
        ),
        (
            "Stalled=True",
            cr(json!({}), conds(json!([{"type": "Stalled", "status": "True", "reason": "Stuck", "message": "stuck"}]))),
            KStatus::Failed,
            "Stuck",
            "stuck",
        ),
        (
            "Reconciling=False is normal",
            cr(json!({}), conds(json!([{"type": "Reconciling", "status": "False"}]))),
            KStatus::Current,
            "",
            "",
        ),
        (
            "first abnormal condition wins",
            cr(
                json!({}),
                conds(
                    json!([{"type": "Stalled", "status": "True", "reason": "A"}, {"type": "Reconciling", "status": "True", "reason": "B"}]),
                ),
            ),
            KStatus::Failed,
            "A",
            "",
        ),
        (
            "generation before conditions",
            cr(
                json!({"generation": 2}),
                json!({"observedGeneration": 1, "conditions": [{"type": "Stalled", "status": "True"}]}),
            ),
            KStatus::InProgress,
            "LatestGenerationNotObserved",
            "",
        ),
        (
            "generic rules apply to core kinds",
            obj("v1", "ConfigMap", json!({}), conds(json!([{"type": "Stalled", "status": "True", "reason": "S"}]))),
            KStatus::Failed,
            "S",
            "",
        ),
    ]);
}

#[test]
fn generic_ready_condition() {
    let cr = |conditions: Value| obj("example.com/v1", "Widget", json!({}), conds(conditions));
    check_kstatus(vec![
        ("Ready=True", cr(json!([{"type": "Ready", "status": "True"}])), KStatus::Current, "", "Resource is Ready"),
        (
            "Ready=False",
            cr(json!([{"type": "Ready", "status": "False", "reason": "Down", "message": "down"}])),
            KStatus::InProgress,
            "Down",
            "down",
        ),
        (
            "Ready=Unknown",
            cr(json!([{"type": "Ready", "status": "Unknown", "reason": "Probing", "message": "?"}])),
            KStatus::InProgress,
            "Probing",
            "?",
        ),
        ("Ready=False without reason", cr(json!([{"type": "Ready", "status": "False"}])), KStatus::InProgress, "", ""),
        (
            "odd Ready status is skipped",
            cr(json!([{"type": "Ready", "status": "Maybe"}, {"type": "Ready", "status": "False", "reason": "Second"}])),
            KStatus::InProgress,
            "Second",
            "",
        ),
        (
            "only the odd Ready status",
            cr(json!([{"type": "Ready", "status": "yes"}])),
            KStatus::Current,
            "",
            "Resource is current",
        ),
        (
            "other types ignored",
            cr(json!([{"type": "Available", "status": "False"}])),
            KStatus::Current,
            "",
            "Resource is current",
        ),
        ("no conditions", cr(json!(null)), KStatus::Current, "", "Resource is current"),
        (
            "Stalled before Ready",
            cr(json!([{"type": "Ready", "status": "True"}, {"type": "Stalled", "status": "True", "reason": "S"}])),
            KStatus::Failed,
            "S",
            "",
        ),
        (
            "legacy kinds ignore Ready",
            obj("v1", "Service", json!({}), conds(json!([{"type": "Ready", "status": "False"}]))),
            KStatus::Current,
            "",
            "Service is ready",
        ),
        (
            "the group makes a kind legacy",
            obj(
                "serving.knative.dev/v1",
                "Service",
                json!({}),
                conds(json!([{"type": "Ready", "status": "False", "reason": "RevisionFailed"}])),
            ),
            KStatus::InProgress,
            "RevisionFailed",
            "",
        ),
        (
            "apps/v1beta1 Deployment is legacy too",
            obj("apps/v1beta1", "Deployment", json!({"replicas": 0}), json!({})),
            KStatus::InProgress,
            "DeploymentNotAvailable",
            "",
        ),
        (
            "malformed apiVersion has no kind",
            obj("a/b/c", "Pod", json!({}), conds(json!([{"type": "Ready", "status": "False", "reason": "R"}]))),
            KStatus::InProgress,
            "R",
            "",
        ),
    ]);
}

#[test]
fn always_ready_kinds() {
    check_kstatus(
        ["Secret", "ConfigMap"]
            .iter()
            .map(|k| {
                ("always ready", obj("v1", k, json!({}), json!({})), KStatus::Current, "", "Resource is always ready")
            })
            .chain([
                (
                    "CronJob",
                    obj("batch/v1", "CronJob", json!({"suspend": true}), json!({})),
                    KStatus::Current,
                    "",
                    "Resource is always ready",
                ),
                (
                    "PodDisruptionBudget",
                    obj("policy/v1", "PodDisruptionBudget", json!({}), json!({})),
                    KStatus::Current,
                    "",
                    "AllowedDisruptions has been computed.",
                ),
            ])
            .collect(),
    );
}

#[test]
fn pvc_and_service_and_pdb() {
    check_kstatus(vec![
        (
            "PVC bound",
            obj("v1", "PersistentVolumeClaim", json!({}), json!({"phase": "Bound"})),
            KStatus::Current,
            "",
            "PVC is Bound",
        ),
        (
            "PVC pending",
            obj("v1", "PersistentVolumeClaim", json!({}), json!({"phase": "Pending"})),
            KStatus::InProgress,
            "NotBound",
            "PVC is not Bound. phase: Pending",
        ),
        (
            "PVC without phase",
            obj("v1", "PersistentVolumeClaim", json!({}), json!({})),
            KStatus::InProgress,
            "NotBound",
            "PVC is not Bound. phase: unknown",
        ),
        (
            "LoadBalancer without clusterIP",
            obj("v1", "Service", json!({"type": "LoadBalancer"}), json!({})),
            KStatus::InProgress,
            "NoIPAssigned",
            "ClusterIP not set. Service type: LoadBalancer",
        ),
        (
            "LoadBalancer with clusterIP",
            obj("v1", "Service", json!({"type": "LoadBalancer", "clusterIP": "10.0.0.1"}), json!({})),
            KStatus::Current,
            "",
            "Service is ready",
        ),
        ("ClusterIP without IP", obj("v1", "Service", json!({}), json!({})), KStatus::Current, "", "Service is ready"),
    ]);
}

#[test]
fn crd_conditions() {
    let crd = |list: Value| obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", json!({}), conds(list));
    check_kstatus(vec![
        (
            "names rejected",
            crd(json!([{"type": "NamesAccepted", "status": "False", "reason": "NameConflict", "message": "taken"}])),
            KStatus::Failed,
            "NameConflict",
            "taken",
        ),
        (
            "not established",
            crd(json!([{"type": "Established", "status": "False", "reason": "Broken", "message": "no"}])),
            KStatus::Failed,
            "Broken",
            "no",
        ),
        (
            "installing",
            crd(json!([{"type": "Established", "status": "False", "reason": "Installing"}])),
            KStatus::InProgress,
            "Installing",
            "Install in progress",
        ),
        (
            "established",
            crd(json!([{"type": "Established", "status": "True"}])),
            KStatus::Current,
            "",
            "CRD is established",
        ),
        (
            "names rejected after established",
            crd(
                json!([{"type": "Established", "status": "True"}, {"type": "NamesAccepted", "status": "False", "reason": "N"}]),
            ),
            KStatus::Current,
            "",
            "",
        ),
        ("no conditions", crd(json!([])), KStatus::InProgress, "Installing", "Install in progress"),
    ]);
}

#[test]
fn objects_missing_normal_fields_still_get_a_status() {
    check_kstatus(vec![
        (
            "no metadata at all",
            json!({"apiVersion": "example.com/v1", "kind": "Widget"}),
            KStatus::Current,
            "",
            "Resource is current",
        ),
        (
            "no name",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "ns"}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}),
            KStatus::Current,
            "",
            "Pod is Ready",
        ),
        ("no apiVersion", json!({"kind": "Service"}), KStatus::Current, "", "Service is ready"),
        ("empty object", json!({}), KStatus::Current, "", "Resource is current"),
        (
            "no name, Ready=False",
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "R"}]}}),
            KStatus::InProgress,
            "R",
            "",
        ),
    ]);
}
