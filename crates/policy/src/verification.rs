//! A project's signature requirement (`spec.sourceIntegrity`) against an Application's
//! `spec.source.verify`, and which Secrets and ConfigMaps hold the keys it may trust.

use lockstep_api::{SourceVerify, TrustedKeysRef};

use crate::project::Project;

/// Where trusted keys are read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyObject {
    /// A Secret: namespace and name.
    Secret(String, String),
    /// A ConfigMap: namespace and name.
    ConfigMap(String, String),
}

impl std::fmt::Display for KeyObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(ns, name) => write!(f, "Secret {ns}/{name}"),
            Self::ConfigMap(ns, name) => write!(f, "ConfigMap {ns}/{name}"),
        }
    }
}

/// Whether the project lets an Application with this `verify` in: a project with
/// `sourceIntegrity.required` refuses one that verifies nothing. `Err` names the rule.
pub fn admits(project: &Project, verify: Option<&SourceVerify>) -> Result<(), String> {
    let Project::Rules { name, spec } = project else { return Ok(()) };
    let required = spec.source_integrity.as_ref().is_some_and(|i| i.required);
    if required && verify.is_none() {
        return Err(format!(
            "project {name:?} requires signed sources: set spec.source.verify (spec.sourceIntegrity.required)"
        ));
    }
    Ok(())
}

/// The objects whose keys an Application with `verify` trusts: the project's (in the controller's
/// namespace), plus its own (in its namespace) unless the project requires verification, since
/// whoever may edit the Application could otherwise name keys of their own.
pub fn key_objects(
    project: &Project,
    verify: &SourceVerify,
    app_namespace: &str,
    controller_namespace: &str,
) -> Vec<KeyObject> {
    let integrity = match project {
        Project::Rules { spec, .. } => spec.source_integrity.as_ref(),
        Project::Unrestricted => None,
    };
    let mut objects: Vec<KeyObject> = integrity
        .map(|i| i.keys.iter().flat_map(|r| project_key(r, controller_namespace)).collect())
        .unwrap_or_default();
    if !integrity.is_some_and(|i| i.required) {
        let ns = app_namespace.to_string();
        objects.extend(verify.secret_ref.iter().map(|r| KeyObject::Secret(ns.clone(), r.name.clone())));
        objects.extend(verify.config_map_ref.iter().map(|r| KeyObject::ConfigMap(ns.clone(), r.name.clone())));
    }
    objects
}

fn project_key(reference: &TrustedKeysRef, namespace: &str) -> Vec<KeyObject> {
    let ns = namespace.to_string();
    let secret = reference.secret_ref.iter().map(|r| KeyObject::Secret(ns.clone(), r.name.clone()));
    let config_map = reference.config_map_ref.iter().map(|r| KeyObject::ConfigMap(ns.clone(), r.name.clone()));
    secret.chain(config_map).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::{AppProjectSpec, LocalObjectName, SourceIntegrity};

    fn project(integrity: Option<SourceIntegrity>) -> Project {
        Project::Rules {
            name: "team".into(),
            spec: Box::new(AppProjectSpec { source_integrity: integrity, ..Default::default() }),
        }
    }

    fn name(n: &str) -> Option<LocalObjectName> {
        Some(LocalObjectName { name: n.into() })
    }

    #[test]
    fn a_requiring_project_refuses_applications_that_verify_nothing() {
        let requiring = project(Some(SourceIntegrity { required: true, keys: vec![] }));
        let err = admits(&requiring, None).unwrap_err();
        assert!(err.contains("project \"team\" requires signed sources"), "{err}");
        assert_eq!(admits(&requiring, Some(&SourceVerify::default())), Ok(()));
        assert_eq!(admits(&project(Some(SourceIntegrity::default())), None), Ok(()));
        assert_eq!(admits(&project(None), None), Ok(()));
        assert_eq!(admits(&Project::Unrestricted, None), Ok(()));
    }

    #[test]
    fn own_keys_count_only_when_the_project_does_not_require_verification() {
        let keys = vec![
            TrustedKeysRef { secret_ref: name("release-keys"), config_map_ref: None },
            TrustedKeysRef { secret_ref: None, config_map_ref: name("signers") },
        ];
        let verify =
            SourceVerify { secret_ref: name("mine"), config_map_ref: name("my-signers"), ..Default::default() };
        let project_keys = vec![
            KeyObject::Secret("ctl".into(), "release-keys".into()),
            KeyObject::ConfigMap("ctl".into(), "signers".into()),
        ];

        let required = project(Some(SourceIntegrity { required: true, keys: keys.clone() }));
        assert_eq!(key_objects(&required, &verify, "app", "ctl"), project_keys);

        let optional = project(Some(SourceIntegrity { required: false, keys }));
        let mut both = project_keys.clone();
        both.push(KeyObject::Secret("app".into(), "mine".into()));
        both.push(KeyObject::ConfigMap("app".into(), "my-signers".into()));
        assert_eq!(key_objects(&optional, &verify, "app", "ctl"), both);
        assert_eq!(key_objects(&Project::Unrestricted, &verify, "app", "ctl")[0].to_string(), "Secret app/mine");
    }
}
