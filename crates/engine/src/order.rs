//! Apply order: pure.
//!
//! Namespaces and CRDs form the first stage, so that objects inside them can be dry-run and applied in
//! the second; within a stage, kinds go in the order kubectl and Argo CD use.

/// Kinds in the order they are applied; unlisted kinds go after workloads and before webhooks.
const KIND_ORDER: &[&str] = &[
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// Kinds applied last, after everything they could intercept exists.
const LAST_KINDS: &[&str] = &["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

/// The stage an object of `kind` belongs to: 0 for Namespaces and CRDs, 1 for the rest.
pub fn stage(kind: &str) -> u8 {
    u8::from(!matches!(kind, "Namespace" | "CustomResourceDefinition"))
}

/// Sort rank of a kind within its stage.
pub fn kind_rank(kind: &str) -> usize {
    if let Some(i) = LAST_KINDS.iter().position(|k| *k == kind) {
        return KIND_ORDER.len() + 1 + i;
    }
    KIND_ORDER.iter().position(|k| *k == kind).unwrap_or(KIND_ORDER.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_and_crds_come_first() {
        assert_eq!(stage("Namespace"), 0);
        assert_eq!(stage("CustomResourceDefinition"), 0);
        assert_eq!(stage("ConfigMap"), 1);
    }

    #[test]
    fn kinds_rank_as_kubectl_orders_them() {
        let mut kinds =
            vec!["ValidatingWebhookConfiguration", "Widget", "Deployment", "Service", "ConfigMap", "Namespace"];
        kinds.sort_by_key(|k| kind_rank(k));
        assert_eq!(
            kinds,
            vec!["Namespace", "ConfigMap", "Service", "Deployment", "Widget", "ValidatingWebhookConfiguration"]
        );
    }
}
