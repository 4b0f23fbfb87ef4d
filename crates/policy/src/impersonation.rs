//! Which ServiceAccount an Application deploys as: its own `spec.serviceAccountName`, else its
//! project's first matching `destinationServiceAccounts` entry, else the controller's
//! `--default-service-account`, else none (the controller's own identity). Pure.

use std::fmt;

use lockstep_api::ApplicationSpec;

use crate::project::{Cluster, Project};

/// A ServiceAccount to impersonate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServiceAccount {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl ServiceAccount {
    /// The user name Kubernetes gives it, for the `Impersonate-User` header.
    pub fn user(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.namespace, self.name)
    }

    /// `name` in `namespace`, or `other-namespace:name`.
    fn parse(text: &str, namespace: &str) -> Option<Self> {
        let text = text.trim();
        let (namespace, name) = text.split_once(':').unwrap_or((namespace, text));
        (!name.is_empty() && !namespace.is_empty())
            .then(|| Self { namespace: namespace.trim().into(), name: name.trim().into() })
    }
}

impl fmt::Display for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceAccount {}/{}", self.namespace, self.name)
    }
}

/// The ServiceAccount an Application deploying to `namespace` of `cluster` runs as, if any. The
/// Application's own `spec.serviceAccountName` is a name in the destination namespace; project
/// entries and the controller default may name another namespace as `namespace:name`.
pub fn service_account(
    spec: &ApplicationSpec,
    project: &Project,
    cluster: &Cluster,
    namespace: &str,
    controller_default: Option<&str>,
) -> Option<ServiceAccount> {
    if let Some(name) = spec.service_account_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        return Some(ServiceAccount { namespace: namespace.into(), name: name.into() });
    }
    let from_project = match project {
        Project::Rules { spec, .. } => spec
            .destination_service_accounts
            .iter()
            .find(|entry| {
                crate::project::glob_matches(&entry.server, &cluster.server)
                    && entry
                        .namespace
                        .as_deref()
                        .filter(|n| !n.is_empty())
                        .is_none_or(|n| crate::project::glob_matches(n, namespace))
            })
            .and_then(|entry| ServiceAccount::parse(&entry.default_service_account, namespace)),
        Project::Unrestricted => None,
    };
    from_project.or_else(|| controller_default.and_then(|sa| ServiceAccount::parse(sa, namespace)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::{AppProjectSpec, ApplicationDestinationServiceAccount};

    fn cluster() -> Cluster {
        Cluster { server: "https://kubernetes.default.svc".into(), name: "in-cluster".into() }
    }

    fn project() -> Project {
        let entry = |server: &str, namespace: Option<&str>, sa: &str| ApplicationDestinationServiceAccount {
            server: server.into(),
            namespace: namespace.map(String::from),
            default_service_account: sa.into(),
        };
        Project::Rules {
            name: "team".into(),
            spec: Box::new(AppProjectSpec {
                destination_service_accounts: vec![
                    entry("https://kubernetes.default.svc", Some("team-*"), "deployer"),
                    entry("*", None, "lockstep-system:fallback"),
                ],
                ..Default::default()
            }),
        }
    }

    fn sa(namespace: &str, name: &str) -> Option<ServiceAccount> {
        Some(ServiceAccount { namespace: namespace.into(), name: name.into() })
    }

    #[test]
    fn the_application_wins_then_the_project_then_the_controller() {
        let mut spec = ApplicationSpec { service_account_name: Some("mine".into()), ..Default::default() };
        assert_eq!(service_account(&spec, &project(), &cluster(), "team-a", Some("ctl")), sa("team-a", "mine"));
        spec.service_account_name = None;
        assert_eq!(service_account(&spec, &project(), &cluster(), "team-a", Some("ctl")), sa("team-a", "deployer"));
        assert_eq!(
            service_account(&spec, &project(), &cluster(), "other", Some("ctl")),
            sa("lockstep-system", "fallback"),
            "first matching entry, `namespace:name` form"
        );
        assert_eq!(service_account(&spec, &Project::Unrestricted, &cluster(), "web", Some("ctl")), sa("web", "ctl"));
        assert_eq!(service_account(&spec, &Project::Unrestricted, &cluster(), "web", None), None);
    }

    #[test]
    fn users() {
        assert_eq!(sa("web", "deployer").map(|s| s.user()).as_deref(), Some("system:serviceaccount:web:deployer"));
    }
}
