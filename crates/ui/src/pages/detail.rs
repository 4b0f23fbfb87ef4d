//! `/apps/{namespace}/{name}`: one Application: summary, the buttons the user's RBAC allows,
//! the last operation and conditions (kept live, [`live_status`]), the resource tree, each object's sync status with its live state (Secrets masked),
//! Events and the sync history linked to the forge's commit pages.

use axum::extract::{Path, Query};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};
use lockstep_api::{Application, ApplicationStatus, ResourceStatus};
use maud::{Markup, html};
use serde::Deserialize;

use crate::commit_link::commit_url;
use crate::live_tree;
use crate::mask::{mask_secret, without_managed_fields};
use crate::object_tree::TreeNode;
use crate::pages::{PageError, badges, layout, live_status, short};
use crate::server::Caller;
use crate::session::Session;

/// What the page was redirected here after: a fixed set, so a link cannot put words on the page.
#[derive(Deserialize)]
pub(crate) struct Done {
    #[serde(default)]
    done: String,
}

/// GET /apps/{namespace}/{name}.
pub(crate) async fn page(
    Caller(session): Caller,
    Path((namespace, name)): Path<(String, String)>,
    Query(done): Query<Done>,
) -> Result<Markup, PageError> {
    let client = &session.client;
    let app = Api::<Application>::namespaced(client.clone(), &namespace)
        .get(&name)
        .await
        .map_err(|err| PageError::kube(&format!("reading Application {namespace}/{name}"), &err))?;
    let may_patch = crate::auth::may(client, "patch", &namespace, Some(&name)).await;
    let status = app.status.clone().unwrap_or_default();
    let tree = live_tree::collect(client, &status.resources).await.map_err(|err| err.to_string());
    let fields = format!("involvedObject.kind=Application,involvedObject.name={name}");
    let events = Api::<Event>::namespaced(client.clone(), &namespace)
        .list(&ListParams::default().fields(&fields))
        .await
        .map(|list| list.items)
        .map_err(|err| lockstep_api::kube_error::one_line(&err));
    let notice = crate::actions::notice(&done.done);
    let base = format!("/apps/{namespace}/{name}");
    let body = html! {
        div.app-head data-app=(format!("{namespace}/{name}")) {
            h1 { (name) span.ns { " in " (namespace) } }
            span.health { (badges::health(status.health.status)) }
            span.sync { (badges::sync(status.sync.status)) }
            span.revision title=(status.sync.revision.as_deref().unwrap_or_default()) {
                (short(status.sync.revision.as_deref().unwrap_or_default()))
            }
        }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        (summary(&app, &status))
        (actions(&session, &base, &status, may_patch))
        div #live-sections data-live=(format!("{base}/status")) data-live-for=(format!("{namespace}/{name}")) {
            (live_status::sections(&status))
        }
        section aria-labelledby="tree-h" {
            h2 #tree-h { "Resource tree" }
            @match &tree {
                Ok(nodes) if nodes.is_empty() => p { "No managed objects yet." },
                Ok(nodes) => ul.tree #tree { @for node in nodes { (tree_node(&base, node)) } },
                Err(err) => p.error { "The tree could not be read: " (err) },
            }
        }
        (objects(&base, &status.resources))
        section aria-labelledby="events-h" {
            h2 #events-h { "Events" }
            @match &events {
                Ok(events) if events.is_empty() => p { "No Events." },
                Ok(events) => (events_table(events)),
                Err(err) => p.error { "Events could not be read: " (err) },
            }
        }
        (history(&app, &status))
        (badges::templates())
    };
    let stream = format!("/events?namespace={}", crate::pages::list::url_encode(&namespace));
    Ok(layout::page_with_events(&name, Some(&session), Some(&stream), body))
}

fn summary(app: &Application, status: &ApplicationStatus) -> Markup {
    let sources = app.spec.all_sources();
    let multi = app.spec.is_multi_source();
    let destination = &app.spec.destination;
    let automated = app.spec.sync_policy.as_ref().and_then(|p| p.automated.as_ref());
    html! {
        section aria-labelledby="summary-h" {
            h2 #summary-h { "Summary" }
            dl.summary {
                dt { "Project" } dd { (app.spec.project.as_deref().unwrap_or("default")) }
                @for (index, source) in sources.iter().enumerate() {
                    @let which = if multi { format!(" (source {})", index + 1) } else { String::new() };
                    dt { "Repository" (which) } dd { (source.repo_url) @if let Some(name) = &source.ref_name { " (ref " (name) ")" } }
                    dt { "Path" (which) } dd { (source.path.as_deref().unwrap_or(".")) }
                    dt { "Target revision" (which) } dd { (source.target_revision.as_deref().unwrap_or("HEAD")) }
                    @if multi {
                        dt { "Synced revision" (which) } dd { (revision_link(&source.repo_url, status.sync.revisions.get(index).map(String::as_str).unwrap_or_default())) }
                    }
                }
                dt { "Destination" } dd {
                    (destination.name.as_deref().or(destination.server.as_deref()).unwrap_or("in-cluster"))
                    " / " (destination.namespace.as_deref().unwrap_or("-"))
                }
                @if !multi {
                    @let repo = sources.first().map(|s| s.repo_url.as_str()).unwrap_or_default();
                    dt { "Synced revision" } dd { (revision_link(repo, status.sync.revision.as_deref().unwrap_or_default())) }
                }
                dt { "Automated sync" } dd {
                    @match automated {
                        Some(a) => { "on" @if a.prune { ", prune" } @if a.self_heal { ", self-heal" } },
                        None => "off",
                    }
                }
                @if let Some(rollback) = status.rollback.as_ref().filter(|r| r.active) {
                    dt { "Rollback" } dd { "to history entry " (rollback.id) " (" (short(&rollback.revision)) ")" }
                }
            }
        }
    }
}

fn actions(session: &Session, base: &str, status: &ApplicationStatus, may_patch: bool) -> Markup {
    let rollback_ids: Vec<i64> = status.history.iter().rev().skip(1).map(|h| h.id).collect();
    html! {
        section.actions aria-labelledby="actions-h" {
            h2 #actions-h { "Actions" }
            @if !may_patch {
                p.notice #no-patch { "Your RBAC does not allow patching this Application, so these buttons are disabled." }
            }
            p.notice #action-result role="status" aria-live="polite" hidden {}
            form.inplace method="post" action=(format!("{base}/refresh")) {
                input type="hidden" name="csrf" value=(session.csrf);
                button #refresh type="submit" disabled[!may_patch] { "Refresh" }
            }
            form.inplace method="post" action=(format!("{base}/sync")) {
                input type="hidden" name="csrf" value=(session.csrf);
                label { input type="checkbox" name="prune" value="on"; " Prune" }
                label { input type="checkbox" name="dry_run" value="on"; " Dry run" }
                button #sync type="submit" disabled[!may_patch] { "Sync" }
            }
            form.inplace method="post" action=(format!("{base}/rollback")) {
                input type="hidden" name="csrf" value=(session.csrf);
                label { "History entry "
                    select name="id" disabled[rollback_ids.is_empty()] {
                        @for id in &rollback_ids { option value=(id) { (id) } }
                    }
                }
                button #rollback type="submit" disabled[!may_patch || rollback_ids.is_empty()] { "Rollback" }
            }
        }
    }
}

fn object_link(base: &str, group: &str, version: &str, kind: &str, namespace: Option<&str>, name: &str) -> String {
    let query = serde_urlencoded::to_string([
        ("group", group),
        ("version", version),
        ("kind", kind),
        ("namespace", namespace.unwrap_or_default()),
        ("name", name),
    ])
    .unwrap_or_default();
    format!("{base}/object?{query}")
}

fn tree_node(base: &str, node: &TreeNode) -> Markup {
    let href = object_link(base, &node.group, &node.version, &node.kind, node.namespace.as_deref(), &node.name);
    html! {
        li.node data-kind=(node.kind) data-name=(node.name) {
            span.kind { (node.kind) } " "
            a href=(href) { (node.namespace.as_deref().map(|ns| format!("{ns}/")).unwrap_or_default()) (node.name) }
            " " (badges::health(node.health))
            @if let Some(sync) = node.sync { " " (badges::sync(sync)) }
            @if let Some(message) = node.message.as_deref().filter(|_| node.health != lockstep_api::HealthStatusCode::Healthy) {
                " " span.message { (message) }
            }
            @if !node.children.is_empty() { ul { @for child in &node.children { (tree_node(base, child)) } } }
        }
    }
}

fn objects(base: &str, resources: &[ResourceStatus]) -> Markup {
    html! {
        section aria-labelledby="objects-h" {
            h2 #objects-h { "Objects" }
            p.hint { "Each object's sync status as the controller last compared it with git; open one for its live state (Secret values masked). "
                a #diff-link href=(format!("{base}/diff")) { "Diff against git" } " shows what a sync would change, field by field." }
            table.objects { thead { tr { th { "Kind" } th { "Object" } th { "Sync" } th { "Health" } th { "" } } }
                tbody { @for r in resources {
                    tr {
                        td { (r.kind) }
                        td { a href=(object_link(base, &r.group, &r.version, &r.kind, r.namespace.as_deref(), &r.name)) {
                            (r.namespace.as_deref().map(|ns| format!("{ns}/")).unwrap_or_default()) (r.name) } }
                        td { (badges::sync(r.status)) }
                        td { @if let Some(h) = &r.health { (badges::health(h.status)) } }
                        td { @if r.requires_pruning { "left git: pruned by a sync with prune" } }
                    }
                } }
            }
        }
    }
}

fn events_table(events: &[Event]) -> Markup {
    let mut events: Vec<&Event> = events.iter().collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.last_timestamp.as_ref().map(|t| t.0)));
    html! {
        table.events { thead { tr { th { "Type" } th { "Reason" } th { "Message" } th { "Last seen" } th { "Count" } } }
            tbody { @for e in events {
                tr { td { (e.type_.as_deref().unwrap_or_default()) } td { (e.reason.as_deref().unwrap_or_default()) }
                     td { (e.message.as_deref().unwrap_or_default()) }
                     td { (e.last_timestamp.as_ref().map(|t| t.0.to_string()).unwrap_or_default()) }
                     td { (e.count.unwrap_or(1)) } }
            } }
        }
    }
}

fn revision_link(repo_url: &str, revision: &str) -> Markup {
    html! {
        @match commit_url(repo_url, revision) {
            Some(url) => a.commit href=(url) rel="noreferrer" { (short(revision)) },
            None => code title=(revision) { (short(revision)) },
        }
    }
}

fn history(app: &Application, status: &ApplicationStatus) -> Markup {
    html! {
        section aria-labelledby="history-h" {
            h2 #history-h { "Sync history" }
            @if status.history.is_empty() { p { "No syncs yet." } } @else {
                table.history { thead { tr { th { "ID" } th { "Revision" } th { "Deployed" } th { "Initiated by" } } }
                    tbody { @for entry in status.history.iter().rev() {
                        @let primary = app.spec.primary_source().map(|s| s.repo_url.as_str()).unwrap_or_default();
                        @let repo = entry.source.as_ref().map_or(primary, |s| s.repo_url.as_str());
                        tr { td { (entry.id) }
                             td { @if entry.revisions.is_empty() { (revision_link(repo, &entry.revision)) } @else {
                                 @for (index, revision) in entry.revisions.iter().enumerate() {
                                     @if index > 0 { ", " }
                                     @let repo = entry.sources.get(index).or_else(|| app.spec.sources.get(index)).map_or(primary, |s| s.repo_url.as_str());
                                     (revision_link(repo, revision))
                                 }
                             } }
                             td { (entry.deployed_at.0.to_string()) } td { (entry.initiated_by.as_deref().unwrap_or_default()) } }
                    } }
                }
            }
        }
    }
}

/// Which object the object page shows.
#[derive(Deserialize)]
pub(crate) struct ObjectRef {
    #[serde(default)]
    group: String,
    version: String,
    kind: String,
    #[serde(default)]
    namespace: String,
    name: String,
}

/// GET /apps/{namespace}/{name}/object: one live object as YAML, Secret values masked.
pub(crate) async fn object(
    Caller(session): Caller,
    Path((app_namespace, app_name)): Path<(String, String)>,
    Query(target): Query<ObjectRef>,
) -> Result<Markup, PageError> {
    let resource = ResourceStatus {
        group: target.group.clone(),
        version: target.version.clone(),
        kind: target.kind.clone(),
        namespace: Some(target.namespace.clone()).filter(|ns| !ns.is_empty()),
        name: target.name.clone(),
        ..Default::default()
    };
    let live = live_tree::read(&session.client, &resource).await.map_err(|err| match err.source {
        kube::Error::Api(_) => PageError::kube(&err.what, &err.source),
        _ => PageError { status: axum::http::StatusCode::BAD_GATEWAY, message: err.to_string() },
    })?;
    let yaml =
        live.map(|object| serde_yaml_ng::to_string(&mask_secret(without_managed_fields(object))).unwrap_or_default());
    let title = format!("{} {}", target.kind, target.name);
    let body = html! {
        p { a href=(format!("/apps/{app_namespace}/{app_name}")) { "← " (app_name) } }
        h1 { (title) }
        @match yaml {
            Some(yaml) => pre.yaml #live-object { (yaml) },
            None => p { "Not found in the cluster." },
        }
    };
    Ok(layout::page(&title, Some(&session), body))
}
