//! Built-in per-kind health rules, after Argo CD's gitops-engine `pkg/health`.
//!
//! Dispatch is by API group and kind; each rule then checks the version it understands and
//! answers `Unknown` for others, as upstream does.

mod apiservice;
mod application;
mod cronjob;
mod daemonset;
mod deployment;
mod hpa;
mod ingress;
mod job;
mod pod;
mod pvc;
mod replicaset;
mod service;
mod statefulset;
mod workflow;

use lockstep_api::HealthStatusCode;
use serde_json::Value;

use crate::Health;
use crate::hook::has_hook_finalizer;
use crate::json::{Res, go_deleting, gvk};

/// A rule: the object and its API version in, health (or why it could not be judged) out.
type Rule = fn(&Value, &str) -> Res<Health>;

/// The built-in rule's verdict, or `None` when no built-in rule covers this kind.
///
/// Any object being deleted is Progressing ("Pending deletion") whatever its kind, as in Argo CD,
/// unless it carries Argo CD's hook finalizer (a hook still to be observed keeps its own health).
pub fn builtin(object: &Value) -> Option<Health> {
    if go_deleting(object) && !has_hook_finalizer(object) {
        return Some(Health::new(HealthStatusCode::Progressing, "Pending deletion"));
    }
    let (group, version, kind) = gvk(object);
    let rule = rule_for(group, kind)?;
    Some(rule(object, version).unwrap_or_else(|err| Health::new(HealthStatusCode::Unknown, err)))
}

fn rule_for(group: &str, kind: &str) -> Option<Rule> {
    let rule: Rule = match (group, kind) {
        ("apps", "Deployment") => deployment::health,
        ("apps", "StatefulSet") => statefulset::health,
        ("apps", "ReplicaSet") => replicaset::health,
        ("apps", "DaemonSet") => daemonset::health,
        ("extensions" | "networking.k8s.io", "Ingress") => ingress::health,
        ("argoproj.io", "Workflow") => workflow::health,
        ("apiregistration.k8s.io", "APIService") => apiservice::health,
        ("", "Service") => service::health,
        ("", "PersistentVolumeClaim") => pvc::health,
        ("", "Pod") => pod::health,
        ("batch", "Job") => job::health,
        ("batch", "CronJob") => cronjob::health,
        ("autoscaling", "HorizontalPodAutoscaler") => hpa::health,
        ("lockstep.dev", "Application") => application::health,
        _ => return None,
    };
    Some(rule)
}

/// The error upstream gives for a version its rule does not know.
fn unsupported(kind: &str, group: &str, version: &str) -> String {
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    format!("unsupported {kind} GVK: {gv}, Kind={kind}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn no_rule_for_unknown_kinds() {
        assert_eq!(builtin(&json!({"apiVersion": "v1", "kind": "ConfigMap"})), None);
        assert_eq!(builtin(&json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application"})), None);
        assert_eq!(builtin(&json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service"})), None);
    }

    #[test]
    fn deletion_wins() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}});
        let h = builtin(&obj).expect("rule");
        assert_eq!(h.status, HealthStatusCode::Progressing);
        assert_eq!(h.message.as_deref(), Some("Pending deletion"));
    }

    #[test]
    fn unknown_version_is_unknown() {
        let h = builtin(&json!({"apiVersion": "apps/v1beta2", "kind": "Deployment"})).expect("rule");
        assert_eq!(h.status, HealthStatusCode::Unknown);
        assert!(h.message.is_some_and(|m| m.contains("unsupported Deployment GVK")));
    }
}
