//! `lockstep get [NAME]`: a table of Applications, or one Application in detail with its resources,
//! the unhealthy and out-of-sync ones first.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt as _;
use kube::api::{Api, ListParams};
use lockstep_api::{Application, HealthStatusCode, ResourceStatus, SyncStatusCode};

use crate::cli::local::short;
use crate::cli::style::{Colour, Style};
use crate::cli::table::{age, render, truncate};
use crate::cli::{Cluster, ClusterArgs, block_on};

/// How `get` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns.
    #[default]
    Table,
    /// More columns: repository, path, destination, the whole message.
    Wide,
    /// The Application objects as YAML.
    Yaml,
    /// The Application objects as JSON.
    Json,
}

#[derive(Args)]
pub(crate) struct GetArgs {
    /// One Application to show in detail; all of the namespace when absent. `applicationsets`
    /// (or `appsets`) lists ApplicationSets instead, and `applicationset NAME` shows one.
    name: Option<String>,
    /// With `applicationset`: the ApplicationSet to show.
    set_name: Option<String>,
    /// List Applications (or ApplicationSets) of every namespace.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

pub(crate) fn run(args: GetArgs, cluster: &ClusterArgs) -> anyhow::Result<ExitCode> {
    if args.name.as_deref().is_some_and(crate::cli::appset::is_set_word) {
        return crate::cli::appset::get(args.set_name.as_deref(), args.all_namespaces, args.output, cluster);
    }
    if let Some(extra) = &args.set_name {
        anyhow::bail!("unexpected argument {extra:?}: `lockstep get` takes one Application name");
    }
    if args.name.is_some() && args.all_namespaces {
        anyhow::bail!("--all-namespaces lists Applications; it does not go with a NAME");
    }
    block_on(async {
        let cluster = Cluster::connect(cluster).await?;
        let style = Style::detect();
        let now = Timestamp::now().as_second();
        if let Some(name) = &args.name {
            let app = cluster.app(name).await?;
            let text = match args.output {
                Format::Json => serde_json::to_string_pretty(&app)? + "\n",
                Format::Yaml => serde_yaml_ng::to_string(&app)?,
                Format::Table | Format::Wide => detail(&app, now, style),
            };
            print!("{text}");
            return Ok(ExitCode::SUCCESS);
        }
        let api: Api<Application> = if args.all_namespaces { Api::all(cluster.client.clone()) } else { cluster.apps() };
        let mut apps = api.list(&ListParams::default()).await.context("listing Applications")?.items;
        apps.sort_by_key(|a| (a.namespace(), a.name_any()));
        let text = match args.output {
            Format::Json => serde_json::to_string_pretty(&list(&apps))? + "\n",
            Format::Yaml => serde_yaml_ng::to_string(&list(&apps))?,
            format => table(&apps, args.all_namespaces, format == Format::Wide, now, style),
        };
        if apps.is_empty() && matches!(args.output, Format::Table | Format::Wide) {
            eprintln!(
                "No Applications found in {}.",
                if args.all_namespaces { "any namespace" } else { &cluster.namespace }
            );
        } else {
            print!("{text}");
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// A `v1` List of the Applications, as `kubectl get -o json` prints several objects.
fn list(apps: &[Application]) -> serde_json::Value {
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": apps})
}

fn seconds(time: Option<&Time>) -> Option<i64> {
    time.map(|t| t.0.as_second())
}

/// The `Ready` condition's message, which says why an Application is not Synced and Healthy.
fn ready_message(app: &Application) -> String {
    let conditions = app.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    conditions
        .iter()
        .find(|c| c.type_ == lockstep_api::conditions::READY)
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// The list table: name, sync, health, revision, age, message (`wide` adds the source and does not
/// cut the message).
pub(crate) fn table(apps: &[Application], namespaces: bool, wide: bool, now: i64, style: Style) -> String {
    let mut headers = vec!["NAME", "SYNC", "HEALTH", "REVISION", "AGE"];
    if wide {
        headers.extend(["REPO", "PATH", "DESTINATION"]);
    }
    headers.push("MESSAGE");
    if namespaces {
        headers.insert(0, "NAMESPACE");
    }
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|app| {
            let status = app.status.clone().unwrap_or_default();
            let mut row = vec![
                app.name_any(),
                style.sync(status.sync.status),
                style.health(status.health.status),
                status.sync.revision.as_deref().map(short).unwrap_or("-").to_string(),
                seconds(app.metadata.creation_timestamp.as_ref()).map_or("-".into(), |t| age(now - t)),
            ];
            if wide {
                let sources = app.spec.all_sources();
                let more = if sources.len() > 1 { format!(" (+{})", sources.len() - 1) } else { String::new() };
                let first = sources.first();
                row.push(first.map(|s| format!("{}{more}", s.repo_url)).unwrap_or_default());
                row.push(first.and_then(|s| s.path.clone()).filter(|p| !p.is_empty()).unwrap_or_else(|| ".".into()));
                row.push(lockstep_render::destination_namespace(app));
            }
            let message = ready_message(app);
            row.push(if wide { message } else { truncate(&message, 60) });
            if namespaces {
                row.insert(0, app.namespace().unwrap_or_default());
            }
            row
        })
        .collect();
    render(&headers, &rows)
}

/// Resources with problems first: not Healthy (worst first) or not Synced, then the rest; by kind
/// and name within each group.
pub(crate) fn ordered(resources: &[ResourceStatus]) -> Vec<&ResourceStatus> {
    let mut sorted: Vec<&ResourceStatus> = resources.iter().collect();
    sorted.sort_by_key(|r| {
        let health = r.health.as_ref().map(|h| h.status);
        let severity = match health {
            Some(HealthStatusCode::Degraded) => 0,
            Some(HealthStatusCode::Missing) => 1,
            Some(HealthStatusCode::Unknown) => 2,
            Some(HealthStatusCode::Progressing) => 3,
            Some(HealthStatusCode::Suspended) => 4,
            Some(HealthStatusCode::Healthy) | None => 5,
        };
        let fine = severity == 5 && r.status == SyncStatusCode::Synced && !r.requires_pruning;
        (fine, severity, r.status != SyncStatusCode::OutOfSync, r.kind.clone(), r.namespace.clone(), r.name.clone())
    });
    sorted
}

/// One Application in detail: source, destination, conditions, the last operation, and its
/// resources as a tree by namespace.
pub(crate) fn detail(app: &Application, now: i64, style: Style) -> String {
    let status = app.status.clone().unwrap_or_default();
    let mut out = String::new();
    let mut field = |name: &str, value: String| out.push_str(&format!("{:<16}{value}\n", format!("{name}:")));
    field("Name", format!("{}/{}", app.namespace().unwrap_or_default(), app.name_any()));
    let multi = app.spec.is_multi_source();
    for (index, source) in app.spec.all_sources().into_iter().enumerate() {
        let which = if multi { format!(" {}", index + 1) } else { String::new() };
        let reference = source.ref_name.as_ref().map(|r| format!(" (ref {r})")).unwrap_or_default();
        field(&format!("Source{which}"), format!("{}{reference}", source.repo_url));
        field(&format!("Target revision{which}"), source.target_revision.clone().unwrap_or_else(|| "HEAD".into()));
        field(&format!("Path{which}"), source.path.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| ".".into()));
        if let Some(revision) = status.sync.revisions.get(index) {
            field(&format!("Revision{which}"), revision.clone());
        }
    }
    field("Destination", lockstep_render::destination_namespace(app));
    let automated = app.spec.sync_policy.as_ref().and_then(|p| p.automated.as_ref());
    field(
        "Sync policy",
        match automated {
            Some(a) => {
                let options: Vec<&str> = [("prune", a.prune), ("selfHeal", a.self_heal)]
                    .iter()
                    .filter(|(_, on)| *on)
                    .map(|(name, _)| *name)
                    .collect();
                if options.is_empty() { "automated".into() } else { format!("automated ({})", options.join(", ")) }
            }
            None => "manual".into(),
        },
    );
    let revision = status.sync.revision.as_deref().map(|r| format!(" at {}", short(r))).unwrap_or_default();
    field("Sync", format!("{}{revision}", style.sync(status.sync.status)));
    let health_message = status.health.message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default();
    field("Health", format!("{}{health_message}", style.health(status.health.status)));
    if let Some(reconciled) = seconds(status.reconciled_at.as_ref()) {
        field("Reconciled", format!("{} ago", age(now - reconciled)));
    }
    if !status.conditions.is_empty() {
        out.push_str("\nConditions:\n");
        let rows: Vec<Vec<String>> = status
            .conditions
            .iter()
            .map(|c| {
                let colour = if c.status == "True" { Colour::Green } else { Colour::Red };
                vec![
                    c.type_.clone(),
                    style.paint(&c.status, colour),
                    c.reason.clone(),
                    age(now - c.last_transition_time.0.as_second()),
                    c.message.clone(),
                ]
            })
            .collect();
        out.push_str(&indent(&render(&["TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"], &rows)));
    }
    if let Some(op) = &status.operation_state {
        out.push_str("\nLast operation:\n");
        let colour = match op.phase {
            lockstep_api::OperationPhase::Succeeded => Colour::Green,
            lockstep_api::OperationPhase::Running => Colour::Yellow,
            _ => Colour::Red,
        };
        let mut line = style.paint(&format!("{:?}", op.phase), colour);
        if let Some(result) = &op.sync_result {
            line.push_str(&format!(" sync of {}", short(&result.revision)));
        }
        line.push_str(&format!(", started {} ago", age(now - op.started_at.0.as_second())));
        if let Some(finished) = seconds(op.finished_at.as_ref()) {
            line.push_str(&format!(", finished {} ago", age(now - finished)));
        }
        if op.retry_count > 0 {
            line.push_str(&format!(", retry {}", op.retry_count));
        }
        if let Some(request) = &op.sync_request {
            line.push_str(&format!(", requested ({request})"));
        }
        out.push_str(&format!("  {line}\n"));
        if let Some(message) = &op.message {
            out.push_str(&format!("  {message}\n"));
        }
        for hook in op.sync_result.iter().flat_map(|r| &r.hooks) {
            let message = hook.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
            out.push_str(&format!(
                "  {:?} hook {} {}: {:?}{message}\n",
                hook.hook_type, hook.kind, hook.name, hook.hook_phase
            ));
        }
    }
    out.push_str(&resource_tree(&status.resources, style));
    if let Some(summary) = &status.summary.as_ref().filter(|s| s.omitted > 0) {
        out.push_str(&format!("  … and {} more (of {} in all)\n", summary.omitted, summary.total));
    }
    out
}

/// The resources as a tree: namespace, then each object with sync, health and message, problems first.
fn resource_tree(resources: &[ResourceStatus], style: Style) -> String {
    if resources.is_empty() {
        return "\nResources: none\n".into();
    }
    let sorted = ordered(resources);
    let mut namespaces: Vec<Option<String>> = Vec::new();
    for r in &sorted {
        if !namespaces.contains(&r.namespace) {
            namespaces.push(r.namespace.clone());
        }
    }
    let mut rows = Vec::new();
    for namespace in &namespaces {
        rows.push(vec![
            namespace.clone().map_or("(cluster)".into(), |ns| format!("{ns}/")),
            String::new(),
            String::new(),
            String::new(),
        ]);
        let members: Vec<&&ResourceStatus> = sorted.iter().filter(|r| &r.namespace == namespace).collect();
        for (i, r) in members.iter().enumerate() {
            let branch = if i + 1 == members.len() { "└─" } else { "├─" };
            let health = r.health.as_ref();
            let mut sync = style.sync(r.status);
            if r.requires_pruning {
                sync.push_str(" (prune)");
            }
            rows.push(vec![
                format!("{branch} {} {}", r.kind, r.name),
                sync,
                health.map_or("-".into(), |h| style.health(h.status)),
                health.and_then(|h| h.message.clone()).unwrap_or_default(),
            ]);
        }
    }
    format!("\nResources:\n{}", indent(&render(&["OBJECT", "SYNC", "HEALTH", "MESSAGE"], &rows)))
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::{ApplicationSource, ApplicationSpec, ApplicationStatus, HealthStatus, SyncStatus};

    fn resource(name: &str, sync: SyncStatusCode, health: HealthStatusCode, message: Option<&str>) -> ResourceStatus {
        ResourceStatus {
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("prod".into()),
            name: name.into(),
            status: sync,
            health: Some(HealthStatus { status: health, message: message.map(String::from) }),
            ..Default::default()
        }
    }

    fn app() -> Application {
        let mut app = Application::new(
            "web",
            ApplicationSpec {
                source: Some(ApplicationSource {
                    repo_url: "https://git.example/r.git".into(),
                    path: Some("deploy".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        app.metadata.namespace = Some("team".into());
        app.metadata.creation_timestamp = Some(Time(Timestamp::from_second(1000).unwrap()));
        app.status = Some(ApplicationStatus {
            sync: SyncStatus {
                status: SyncStatusCode::OutOfSync,
                revision: Some("0123456789abcdef0123".into()),
                ..Default::default()
            },
            health: HealthStatus { status: HealthStatusCode::Degraded, message: None },
            resources: vec![
                resource("a-fine", SyncStatusCode::Synced, HealthStatusCode::Healthy, None),
                resource("b-drifted", SyncStatusCode::OutOfSync, HealthStatusCode::Healthy, None),
                resource("c-broken", SyncStatusCode::Synced, HealthStatusCode::Degraded, Some("crash loop")),
            ],
            ..Default::default()
        });
        app
    }

    #[test]
    fn problems_come_first() {
        let app = app();
        let names: Vec<&str> =
            ordered(&app.status.as_ref().unwrap().resources).iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, vec!["c-broken", "b-drifted", "a-fine"]);
    }

    #[test]
    fn the_table_shows_sync_health_revision_and_age() {
        let text = table(&[app()], false, false, 1000 + 600, Style::default());
        assert_eq!(
            text,
            "NAME  SYNC       HEALTH    REVISION      AGE  MESSAGE\nweb   OutOfSync  Degraded  0123456789ab  10m\n"
        );
        let wide = table(&[app()], true, true, 1600, Style::default());
        assert!(wide.starts_with("NAMESPACE  NAME"), "{wide}");
        assert!(wide.contains("https://git.example/r.git  deploy  team"), "{wide}");
    }

    #[test]
    fn detail_lists_source_and_resources() {
        let text = detail(&app(), 1600, Style::default());
        assert!(text.contains("Source:         https://git.example/r.git\n"), "{text}");
        assert!(text.contains("Sync policy:    manual\n"), "{text}");
        let broken = text.find("c-broken").unwrap();
        let fine = text.find("a-fine").unwrap();
        assert!(broken < fine, "{text}");
        assert!(text.contains("crash loop"), "{text}");
    }
}
