//! CRD types of `lockstep.dev/v1alpha1` and the names (annotations, conditions, field manager) that form
//! lockstep's public contract. Nothing here does I/O.

mod application;
mod application_set;
mod application_status;
pub mod conditions;
mod decryption;
mod inventory;
pub mod kube_error;
mod project;
pub mod stable_hash;
mod verification;

pub use application::*;
pub use application_set::*;
pub use application_status::*;
pub use decryption::*;
pub use inventory::*;
pub use project::*;
pub use verification::*;

use kube::CustomResourceExt;

/// API group of every lockstep resource.
pub const GROUP: &str = "lockstep.dev";
/// Field manager lockstep applies with; ownership of fields in managedFields is recorded under it.
pub const FIELD_MANAGER: &str = "lockstep";
/// Changing this annotation's value asks for an immediate fetch and compare.
pub const REFRESH_ANNOTATION: &str = "lockstep.dev/refresh";
/// Changing this annotation's value asks for one sync; a value ending in `,prune` also prunes.
pub const SYNC_REQUEST_ANNOTATION: &str = "lockstep.dev/sync-request";
/// Asks for a rollback to a `status.history` entry: `<id>` (empty: the entry before the deployed
/// one), optionally `,until=commit` to end it at the next new commit; a new value starts a new
/// rollback, removing the annotation resumes automated sync (`lockstep rollback`).
pub const ROLLBACK_ANNOTATION: &str = "lockstep.dev/rollback";
/// `"true"` on an Application or on a destination's cluster Secret: nothing is written (no apply,
/// prune or hook); fetch, compare, drift and health reporting go on.
pub const PAUSED_ANNOTATION: &str = "lockstep.dev/paused";
/// Argo CD's name for the same pause, honoured so migrated Applications and cluster Secrets keep it.
pub const ARGO_SKIP_RECONCILE_ANNOTATION: &str = "argocd.argoproj.io/skip-reconcile";
/// On an Application, makes its deletion delete what it manages first.
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.lockstep.dev";

/// The CustomResourceDefinitions lockstep installs: each one's name (`crds/<name>.yaml`) and YAML
/// document (starting with `---`).
pub fn crds() -> Vec<(String, String)> {
    [Application::crd(), ApplicationSet::crd(), AppProject::crd()]
        .iter()
        .map(|crd| {
            // Serialising a CRD built from our own types cannot fail: every map key is a string.
            let body = serde_yaml_ng::to_string(crd).unwrap_or_default();
            (crd.metadata.name.clone().unwrap_or_default(), format!("---\n{body}"))
        })
        .collect()
}

/// The CustomResourceDefinitions lockstep installs, as one multi-document YAML text.
pub fn crds_yaml() -> String {
    crds().into_iter().map(|(_, yaml)| yaml).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn crd_is_namespaced_with_short_name_and_status() {
        let crd = Application::crd();
        assert_eq!(crd.spec.group, GROUP);
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.names.short_names.as_deref(), Some(&["lsapp".to_string()][..]));
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert!(version.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some());
    }

    #[test]
    fn crds_yaml_parses_back() {
        let text = crds_yaml();
        assert!(text.starts_with("---\n"));
        let names: Vec<serde_json::Value> = serde_yaml_ng::Deserializer::from_str(&text)
            .map(|doc| serde_json::Value::deserialize(doc).unwrap()["metadata"]["name"].clone())
            .collect();
        assert_eq!(names, ["applications.lockstep.dev", "applicationsets.lockstep.dev", "appprojects.lockstep.dev"]);
    }

    #[test]
    fn the_own_cluster_by_default_by_name_or_by_server() {
        let dest = |name: Option<&str>, server: Option<&str>| ApplicationDestination {
            name: name.map(String::from),
            server: server.map(String::from),
            ..Default::default()
        };
        assert!(dest(None, None).is_in_cluster());
        assert!(dest(Some("in-cluster"), None).is_in_cluster());
        assert!(dest(None, Some("https://kubernetes.default.svc/")).is_in_cluster());
        assert!(!dest(Some("east"), None).is_in_cluster());
        assert!(!dest(None, Some("https://10.0.0.1:6443")).is_in_cluster());
    }

    #[test]
    fn every_crd_is_named_and_namespaced() {
        let names: Vec<String> = crds().into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["applications.lockstep.dev", "applicationsets.lockstep.dev", "appprojects.lockstep.dev"]);
        assert_eq!(AppProject::crd().spec.scope, "Namespaced");
    }
}
