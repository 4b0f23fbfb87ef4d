//! `/`: the Application list across the namespaces the user may list, filtered by the query string,
//! with badges the page script keeps current from the event stream.

use axum::extract::Query;
use kube::ResourceExt as _;
use kube::api::{Api, ListParams};
use lockstep_api::Application;
use maud::{Markup, html};

use crate::filter::ListFilter;
use crate::pages::{PageError, badges, layout, short};
use crate::server::Caller;

/// Where the Applications came from.
pub(crate) enum Reach {
    /// All namespaces.
    AllNamespaces,
    /// Only the namespaces named, since listing all was forbidden; with those also refused.
    Named { namespaces: Vec<String>, refused: Vec<String> },
}

/// GET /: the list.
pub(crate) async fn page(Caller(session): Caller, Query(filter): Query<ListFilter>) -> Result<Markup, PageError> {
    let (mut apps, reach) = list(&session.client, &filter.namespaces()).await?;
    apps.retain(|app| filter.matches(app));
    apps.sort_by_key(|app| (app.namespace().unwrap_or_default(), app.name_any()));
    let events = format!("/events?{}", filter.query());
    let body = html! {
        h1 { "Applications" }
        (reach_notice(&reach))
        (filter_form(&filter))
        p.count { "Shown: " span #shown-count { (apps.len()) } }
        table.apps #apps data-live {
            thead { tr {
                th scope="col" { "Name" } th scope="col" { "Namespace" } th scope="col" { "Project" }
                th scope="col" { "Source" } th scope="col" { "Destination" } th scope="col" { "Revision" }
                th scope="col" { "Health" } th scope="col" { "Sync" }
            } }
            tbody { @for app in &apps { (row(app)) } }
        }
        (badges::templates())
    };
    Ok(layout::page_with_events("Applications", Some(&session), Some(&events), body))
}

/// The Applications of every namespace when the user may list them all, else of each namespace
/// named (those refused are reported, not fatal).
pub(crate) async fn list(client: &kube::Client, named: &[String]) -> Result<(Vec<Application>, Reach), PageError> {
    match Api::<Application>::all(client.clone()).list(&ListParams::default()).await {
        Ok(list) => return Ok((list.items, Reach::AllNamespaces)),
        Err(kube::Error::Api(status)) if status.code == 403 => {}
        Err(err) => return Err(PageError::kube("listing Applications", &err)),
    }
    let mut apps = Vec::new();
    let mut refused = Vec::new();
    for namespace in named {
        match Api::<Application>::namespaced(client.clone(), namespace).list(&ListParams::default()).await {
            Ok(list) => apps.extend(list.items),
            Err(kube::Error::Api(status)) if status.code == 403 => refused.push(namespace.clone()),
            Err(err) => return Err(PageError::kube(&format!("listing Applications in {namespace}"), &err)),
        }
    }
    Ok((apps, Reach::Named { namespaces: named.to_vec(), refused }))
}

fn reach_notice(reach: &Reach) -> Markup {
    html! {
        @if let Reach::Named { namespaces, refused } = reach {
            div.notice role="status" {
                p { "You may not list Applications in all namespaces, so only the namespaces named in the filter are shown." }
                @if namespaces.is_empty() {
                    p { "Name one or more namespaces (comma-separated) in the Namespace filter." }
                }
                @if !refused.is_empty() {
                    p { "Not allowed to list Applications in: " (refused.join(", ")) }
                }
            }
        }
    }
}

fn filter_form(filter: &ListFilter) -> Markup {
    let text = |name: &str, label: &str, value: &str, placeholder: &str| {
        html! {
            label { span { (label) } input type="text" name=(name) value=(value) placeholder=(placeholder); }
        }
    };
    html! {
        form.filters method="get" action="/" role="search" {
            label.search { span { "Search" } input type="search" name="q" value=(filter.q) placeholder="name, repository or path"; }
            (text("project", "Project", &filter.project, "default"))
            (text("namespace", "Namespace", &filter.namespace, "ns1,ns2"))
            (text("cluster", "Cluster", &filter.cluster, "server URL or name"))
            label { span { "Health" }
                select name="health" {
                    option value="" { "any" }
                    @for code in badges::HEALTH_CODES {
                        option value=(code.to_string()) selected[filter.health == code.to_string()] { (code.to_string()) }
                    }
                }
            }
            label { span { "Sync" }
                select name="sync" {
                    option value="" { "any" }
                    @for code in badges::SYNC_CODES {
                        option value=(code.to_string()) selected[filter.sync == code.to_string()] { (code.to_string()) }
                    }
                }
            }
            (text("labels", "Labels", &filter.labels, "team=a,tier"))
            button type="submit" { "Filter" }
            a.clear href="/" { "Clear" }
        }
    }
}

/// One Application's row of the list: the page renders it, and the event stream carries it for an
/// Application the page does not show yet.
pub(crate) fn row(app: &Application) -> Markup {
    let namespace = app.namespace().unwrap_or_default();
    let name = app.name_any();
    let status = app.status.clone().unwrap_or_default();
    let source = app.spec.primary_source().cloned().unwrap_or_default();
    let more = app.spec.all_sources().len().saturating_sub(1);
    let destination = &app.spec.destination;
    let cluster =
        destination.name.clone().or_else(|| destination.server.clone()).unwrap_or_else(|| "in-cluster".into());
    let revision = status.sync.revision.as_deref().unwrap_or_default();
    let shown = if status.sync.revisions.is_empty() {
        short(revision).to_string()
    } else {
        status.sync.revisions.iter().map(|r| short(r)).collect::<Vec<_>>().join(",")
    };
    html! {
        tr data-app=(format!("{namespace}/{name}")) {
            td.name { a href=(format!("/apps/{namespace}/{name}")) { (name) } }
            td { (namespace) }
            td { (app.spec.project.as_deref().unwrap_or("default")) }
            td.source {
                span.repo { (source.repo_url) }
                @if let Some(path) = &source.path { " " span.path { (path) } }
                " @ " span.target { (source.target_revision.as_deref().unwrap_or("HEAD")) }
                @if more > 0 { " " span.more { "+" (more) " more" } }
            }
            td { (cluster) " / " (destination.namespace.as_deref().unwrap_or("-")) }
            td.revision title=(revision) { (shown) }
            td.health { (badges::health(status.health.status)) }
            td.sync { (badges::sync(status.sync.status)) }
        }
    }
}

/// `value` percent-encoded for a query string.
pub(crate) fn url_encode(value: &str) -> String {
    serde_urlencoded::to_string([("v", value)]).map(|s| s[2..].to_string()).unwrap_or_default()
}
