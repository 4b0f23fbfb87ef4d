//! `/applicationsets` and `/projects`: read-only lists across the namespaces the user may list.

use kube::ResourceExt as _;
use kube::api::{Api, ListParams};
use lockstep_api::{AppProject, ApplicationSet, ApplicationSetGenerator};
use maud::{Markup, html};
use serde::de::DeserializeOwned;

use crate::pages::{PageError, layout};
use crate::server::Caller;

/// The objects of every namespace, or `None` when the user may not list them cluster-wide.
async fn list_all<K>(client: &kube::Client, what: &str) -> Result<Option<Vec<K>>, PageError>
where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    match Api::<K>::all(client.clone()).list(&ListParams::default()).await {
        Ok(list) => Ok(Some(list.items)),
        Err(kube::Error::Api(status)) if status.code == 403 => Ok(None),
        Err(err) => Err(PageError::kube(&format!("listing {what}"), &err)),
    }
}

fn refused(what: &str) -> Markup {
    html! { p.notice role="status" { "You may not list " (what) " in all namespaces." } }
}

/// The generator kinds of an ApplicationSet, as one word each.
fn generator_kinds(generators: &[ApplicationSetGenerator]) -> String {
    let kinds: Vec<&str> = generators
        .iter()
        .map(|g| {
            if g.list.is_some() {
                "list"
            } else if g.clusters.is_some() {
                "clusters"
            } else if g.git.is_some() {
                "git"
            } else if g.matrix.is_some() {
                "matrix"
            } else if g.merge.is_some() {
                "merge"
            } else {
                "other"
            }
        })
        .collect();
    kinds.join(", ")
}

/// GET /applicationsets.
pub(crate) async fn application_sets(Caller(session): Caller) -> Result<Markup, PageError> {
    let sets = list_all::<ApplicationSet>(&session.client, "ApplicationSets").await?;
    let body = html! {
        h1 { "ApplicationSets" }
        @match &sets {
            None => (refused("ApplicationSets")),
            Some(sets) => table.sets {
                thead { tr { th { "Name" } th { "Namespace" } th { "Generators" } th { "Applications" } th { "Status" } } }
                tbody { @for set in sets {
                    @let status = set.status.clone().unwrap_or_default();
                    tr { td { (set.name_any()) } td { (set.namespace().unwrap_or_default()) }
                         td { (generator_kinds(&set.spec.generators)) } td { (status.resources.len()) }
                         td { @for c in &status.conditions { span.condition title=(c.message) { (c.type_) "=" (c.status) } " " } } }
                } }
            },
        }
    };
    Ok(layout::page("ApplicationSets", Some(&session), body))
}

/// GET /projects.
pub(crate) async fn projects(Caller(session): Caller) -> Result<Markup, PageError> {
    let projects = list_all::<AppProject>(&session.client, "AppProjects").await?;
    let body = html! {
        h1 { "Projects" }
        @match &projects {
            None => (refused("AppProjects")),
            Some(projects) => table.projects {
                thead { tr { th { "Name" } th { "Namespace" } th { "Description" } th { "Source repositories" } th { "Destinations" } } }
                tbody { @for project in projects {
                    tr { td { (project.name_any()) } td { (project.namespace().unwrap_or_default()) }
                         td { (project.spec.description.as_deref().unwrap_or_default()) }
                         td { (project.spec.source_repos.join(", ")) }
                         td { @for d in &project.spec.destinations {
                             span.destination { (d.name.as_deref().or(d.server.as_deref()).unwrap_or("*")) " / " (d.namespace.as_deref().unwrap_or("*")) } " "
                         } } }
                } }
            },
        }
    };
    Ok(layout::page("Projects", Some(&session), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_are_named_by_kind() {
        let generators: Vec<ApplicationSetGenerator> = serde_json::from_value(serde_json::json!([
            {"list": {"elements": []}},
            {"git": {"repoURL": "https://git.example/a", "revision": "main", "directories": [{"path": "apps/*"}]}}
        ]))
        .unwrap();
        assert_eq!(generator_kinds(&generators), "list, git");
    }
}
