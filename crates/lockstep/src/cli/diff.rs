//! `lockstep diff NAME`: what a sync would change in the cluster, by the controller's own
//! server-side dry-run. Exit 0 when nothing differs, 1 when something does, 2 on error.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use kube::ResourceExt as _;
use lockstep_api::Application;
use lockstep_engine::{Change, ObjectPreview, previews};

use crate::cli::fields::mask_secrets;
use crate::cli::local::{Origin, ToolArgs};
use crate::cli::plan;
use crate::cli::style::{Colour, Style};
use crate::cli::textdiff::{unified, yaml};
use crate::cli::{Cluster, ClusterArgs, block_on};

/// Exit code when something differs.
pub(crate) const EXIT_DIFFERS: u8 = 1;
/// Exit code on an error (also used for objects the server rejects).
pub(crate) const EXIT_ERROR: u8 = 2;

#[derive(Args)]
pub(crate) struct DiffArgs {
    /// The Application (optional with `-f`).
    #[arg(required_unless_present = "file")]
    name: Option<String>,
    /// Render from this local checkout of the Application's repository (spec.source.path is read
    /// inside it), such as a merge request's working tree.
    #[arg(long, conflicts_with = "revision")]
    path: Option<PathBuf>,
    /// Render this branch, tag or commit of the Application's repository (a chart version or range
    /// for a chart from a Helm repository).
    #[arg(long)]
    revision: Option<String>,
    /// Render from this Helm repository instead of the Application's source (with `--chart`).
    #[arg(long, requires = "chart", conflicts_with = "path")]
    repo: Option<String>,
    /// Render this chart of the Helm repository (`--repo`, else the Application's `repoURL`).
    #[arg(long, conflicts_with = "path")]
    chart: Option<String>,
    /// Read the Application from this file instead of the cluster (it need not exist there yet).
    #[arg(short = 'f', long = "filename")]
    file: Option<PathBuf>,
    /// Show what a sync with prune would delete even when the Application does not prune.
    #[arg(long)]
    prune: bool,
    #[command(flatten)]
    tools: ToolArgs,
}

pub(crate) fn run(args: DiffArgs, cluster: &ClusterArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let cluster = Cluster::connect(cluster).await?;
        let mut app = application(&cluster, args.name.as_deref(), args.file.as_deref()).await?;
        if args.repo.is_some() || args.chart.is_some() {
            anyhow::ensure!(
                !app.spec.is_multi_source(),
                "--repo and --chart replace the one source of a single-source Application"
            );
            let source = app.spec.source.get_or_insert_with(Default::default);
            if let Some(repo) = &args.repo {
                source.repo_url = repo.clone();
            }
            if let Some(chart) = &args.chart {
                source.chart = Some(chart.clone());
            }
        }
        let origin = Origin::of(args.path.clone(), args.revision.clone());
        let previews = preview(&cluster, &app, &origin, &args.tools).await?;
        let automated_prune = app.spec.sync_policy.as_ref().and_then(|p| p.automated.as_ref()).is_some_and(|a| a.prune);
        let report = report(&previews, args.prune || automated_prune, Style::detect());
        print!("{}", report.text);
        Ok(ExitCode::from(report.exit_code()))
    })
}

/// The Application from `-f` (its status, for the inventory, from the cluster when it is there),
/// else from the cluster.
pub(crate) async fn application(
    cluster: &Cluster,
    name: Option<&str>,
    file: Option<&std::path::Path>,
) -> anyhow::Result<Application> {
    let Some(file) = file else {
        let name = name.ok_or_else(|| anyhow::anyhow!("name an Application or give -f FILE"))?;
        return cluster.app(name).await;
    };
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut app: Application =
        serde_yaml_ng::from_str(&text).with_context(|| format!("{} is not an Application", file.display()))?;
    if let Some(name) = name {
        anyhow::ensure!(app.name_any() == name, "{} holds Application {}, not {name}", file.display(), app.name_any());
    }
    if app.metadata.namespace.as_deref().is_none_or(str::is_empty) {
        app.metadata.namespace = Some(cluster.namespace.clone());
    }
    let namespace = app.namespace().unwrap_or_default();
    let api: kube::Api<Application> = kube::Api::namespaced(cluster.client.clone(), &namespace);
    if let Some(live) = api.get_opt(&app.name_any()).await.context("reading the Application from the cluster")? {
        app.status = live.status;
    }
    Ok(app)
}

/// Renders `app` from `origin` and compares every object with the cluster as a sync would.
pub(crate) async fn preview(
    cluster: &Cluster,
    app: &Application,
    origin: &Origin,
    tools: &ToolArgs,
) -> anyhow::Result<Vec<ObjectPreview>> {
    let prune = app.spec.sync_policy.as_ref().and_then(|p| p.automated.as_ref()).is_some_and(|a| a.prune);
    let plan = plan::plan(cluster, app, origin, tools, prune).await?;
    Ok(previews(&plan, &app.spec.ignore_differences))
}

/// What a diff found, and its text.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Report {
    /// The text to print.
    pub text: String,
    /// Objects created, changed or pruned.
    pub differences: usize,
    /// Objects that cannot be compared or applied.
    pub failures: usize,
    /// Objects that differ from git and that a sync keeps so (drift mode `warn`).
    pub kept: usize,
}

impl Report {
    /// 0 when nothing differs, 1 when something does, 2 when an object failed.
    pub fn exit_code(&self) -> u8 {
        if self.failures > 0 {
            EXIT_ERROR
        } else if self.differences > 0 {
            EXIT_DIFFERS
        } else {
            0
        }
    }
}

/// One section per object that would change (created with its YAML, changed with a unified diff,
/// pruned only when `show_prune`), failures with their messages, then a summary line. Secret values
/// are masked. Unchanged objects are left out.
pub(crate) fn report(previews: &[ObjectPreview], show_prune: bool, style: Style) -> Report {
    let mut report = Report::default();
    let (mut created, mut changed, mut pruned) = (0, 0, 0);
    for preview in previews {
        let key = &preview.key;
        let label = match &key.namespace {
            Some(ns) => format!("{}/{ns}/{}", key.kind, key.name),
            None => format!("{}/{}", key.kind, key.name),
        };
        let (word, colour) = match preview.change {
            Change::Unchanged => continue,
            Change::Prune if !show_prune => continue,
            Change::Create => ("created", Colour::Green),
            Change::Update => ("changed", Colour::Yellow),
            Change::Replace => ("replaced", Colour::Yellow),
            Change::Prune => ("pruned", Colour::Red),
            Change::Failed => ("failed", Colour::Red),
            Change::Drifted => ("drifted", Colour::Yellow),
        };
        match preview.change {
            Change::Create => created += 1,
            Change::Update | Change::Replace => changed += 1,
            Change::Prune => pruned += 1,
            Change::Drifted => report.kept += 1,
            _ => report.failures += 1,
        }
        let message = preview.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
        report.text.push_str(&format!("{} {key}{message}\n", style.paint(&format!("{word:<8}"), colour)));
        if preview.change == Change::Failed {
            continue;
        }
        let after = if preview.change == Change::Prune { None } else { preview.predicted.as_ref() };
        let (before, after) = mask_secrets(preview.live.as_ref(), after);
        report.text.push_str(&unified(&yaml(before.as_ref()), &yaml(after.as_ref()), &label, style));
    }
    report.differences = created + changed + pruned;
    let summary = if report.differences + report.failures + report.kept == 0 {
        "no differences".to_string()
    } else {
        let mut parts = vec![format!("{created} created"), format!("{changed} changed")];
        if show_prune {
            parts.push(format!("{pruned} pruned"));
        }
        if report.failures > 0 {
            parts.push(format!("{} failed", report.failures));
        }
        if report.kept > 0 {
            parts.push(format!("{} drifted and kept (drift: warn)", report.kept));
        }
        parts.join(", ")
    };
    report.text.push_str(&format!("{summary}\n"));
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_engine::ResourceKey;
    use serde_json::json;

    fn key(kind: &str, name: &str) -> ResourceKey {
        ResourceKey {
            version: "v1".into(),
            kind: kind.into(),
            namespace: Some("ns".into()),
            name: name.into(),
            ..Default::default()
        }
    }

    fn preview(
        kind: &str,
        name: &str,
        change: Change,
        live: Option<serde_json::Value>,
        predicted: Option<serde_json::Value>,
    ) -> ObjectPreview {
        ObjectPreview { key: key(kind, name), change, live, predicted, error: None, managers: Vec::new() }
    }

    #[test]
    fn nothing_to_show_exits_zero() {
        let same = json!({"data": {"a": "1"}});
        let report = report(
            &[preview("ConfigMap", "a", Change::Unchanged, Some(same.clone()), Some(same))],
            false,
            Style::default(),
        );
        assert_eq!((report.text.as_str(), report.exit_code()), ("no differences\n", 0));
    }

    #[test]
    fn changes_are_diffed_and_unchanged_objects_omitted() {
        let previews = [
            preview("ConfigMap", "same", Change::Unchanged, Some(json!({})), Some(json!({}))),
            preview(
                "ConfigMap",
                "a",
                Change::Update,
                Some(json!({"data": {"k": "1"}})),
                Some(json!({"data": {"k": "2"}})),
            ),
            preview("ConfigMap", "new", Change::Create, None, Some(json!({"data": {"k": "1"}}))),
            preview("ConfigMap", "old", Change::Prune, Some(json!({"data": {"k": "1"}})), None),
        ];
        let report = report(&previews, false, Style::default());
        assert_eq!(report.exit_code(), 1);
        assert!(!report.text.contains("same") && !report.text.contains("old"), "{}", report.text);
        assert!(report.text.contains("changed  ConfigMap ns/a\n--- live/ConfigMap/ns/a\n"), "{}", report.text);
        assert!(report.text.contains("-  k: '1'\n+  k: '2'\n"), "{}", report.text);
        assert!(report.text.contains("created  ConfigMap ns/new\n"), "{}", report.text);
        assert!(report.text.ends_with("1 created, 1 changed\n"), "{}", report.text);
        let with_prune = super::report(&previews, true, Style::default());
        assert!(with_prune.text.contains("pruned   ConfigMap ns/old\n"), "{}", with_prune.text);
        assert!(with_prune.text.ends_with("1 created, 1 changed, 1 pruned\n"));
    }

    #[test]
    fn secrets_are_masked_and_failures_exit_two() {
        let secret = |v: &str| json!({"apiVersion": "v1", "kind": "Secret", "data": {"password": v}});
        let mut failed = preview("ConfigMap", "bad", Change::Failed, None, None);
        failed.error = Some("field not declared in schema".into());
        let previews = [preview("Secret", "s", Change::Update, Some(secret("b2xk")), Some(secret("bmV3"))), failed];
        let report = report(&previews, false, Style::default());
        assert!(!report.text.contains("b2xk") && !report.text.contains("bmV3"), "{}", report.text);
        assert!(report.text.contains("-  password: '*** (before)'\n+  password: '*** (after)'\n"), "{}", report.text);
        assert!(report.text.contains("failed   ConfigMap ns/bad: field not declared in schema\n"));
        assert_eq!(report.exit_code(), 2);
    }
}
