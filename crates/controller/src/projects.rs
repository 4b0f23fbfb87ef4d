//! Looking up an Application's project and checking its rendered objects against it, before anything
//! is applied. The rules themselves are pure, in [`lockstep_policy::project`].

use kube::api::Api;
use kube::{Client, ResourceExt};
use lockstep_api::kube_error::one_line;
use lockstep_api::{AppProject, Application, DEFAULT_PROJECT};
use lockstep_engine::Engine;
use lockstep_render::Manifest;
use serde_json::Value;

use lockstep_policy::project::{Cluster, ObjectKind, Project};

use crate::lookups::Lookups;

/// The project `app` names (`default` when none), read from the controller's namespace. A missing
/// `default` project allows everything; any other missing project, or a failed read, is an error
/// message for the Application's condition.
pub(crate) async fn load(
    client: &Client,
    lookups: &Lookups,
    controller_namespace: &str,
    app: &Application,
) -> Result<Project, String> {
    let name = app.spec.project.as_deref().filter(|p| !p.is_empty()).unwrap_or(DEFAULT_PROJECT);
    let found = match lookups.project(controller_namespace, name) {
        Some(stored) => Ok(stored.map(|p| AppProject::clone(&p))),
        None => Api::<AppProject>::namespaced(client.clone(), controller_namespace).get_opt(name).await,
    };
    match found {
        Ok(Some(project)) => Ok(Project::Rules { name: project.name_any(), spec: Box::new(project.spec) }),
        Ok(None) if name == DEFAULT_PROJECT => Ok(Project::Unrestricted),
        Ok(None) => Err(format!("project {name:?} does not exist in namespace {controller_namespace:?}")),
        Err(err) => Err(format!("reading project {name:?}: {}", one_line(&err))),
    }
}

/// Loads the project of `app` and checks that the Application may use it: its namespace, its
/// repository and its destination (`cluster`, `namespace`).
pub(crate) async fn admit(
    client: &Client,
    lookups: &Lookups,
    controller_namespace: &str,
    app: &Application,
    cluster: &Cluster,
    namespace: &str,
) -> Result<Project, String> {
    let project = load(client, lookups, controller_namespace, app).await?;
    let app_namespace = app.namespace().unwrap_or_default();
    for source in app.spec.all_sources() {
        project.admits(&app_namespace, controller_namespace, &source.repo_url, cluster, namespace)?;
        lockstep_policy::verification::admits(&project, source.verify.as_ref())?;
    }
    Ok(project)
}

/// Checks every rendered object's kind and namespace against the project; the first violation is
/// returned. A kind the cluster does not serve takes its scope from a CRD in the same render; one
/// known nowhere is left to the engine, which rejects it.
pub(crate) async fn check_objects(
    project: &Project,
    cluster: &Cluster,
    engine: &Engine,
    manifests: &[Manifest],
    default_namespace: &str,
) -> Result<(), String> {
    if *project == Project::Unrestricted {
        return Ok(());
    }
    let objects: Vec<&Value> = manifests.iter().map(|m| &m.object).collect();
    for object in &objects {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
        let namespaced = match engine.is_namespaced(api_version, kind).await {
            Some(namespaced) => namespaced,
            None => match lockstep_policy::project::scope_in_render(&objects, group, kind) {
                Some(namespaced) => namespaced,
                None => continue,
            },
        };
        let own = object["metadata"]["namespace"].as_str().filter(|ns| !ns.is_empty());
        let namespace = namespaced.then(|| own.unwrap_or(default_namespace));
        project.allows_object(cluster, &ObjectKind { group, kind, namespace })?;
    }
    Ok(())
}
