//! The plan of a sync, made by the controller's own engine against the cluster, and its text for
//! `lockstep sync --dry-run`: per step (hook phase or wave), each object with its action and why.

use kube::ResourceExt as _;
use lockstep_api::Application;
use lockstep_engine::{AppRef, Engine, Planned, PlannedObject, SyncOptions, SyncPlan};

use crate::cli::Cluster;
use crate::cli::diff::{EXIT_DIFFERS, EXIT_ERROR};
use crate::cli::local::{self, Origin, ToolArgs};
use crate::cli::style::{Colour, Style};

/// Renders `app` from `origin` and plans a sync of it against the cluster, writing nothing;
/// `prune` plans deletion of what left git.
pub(crate) async fn plan(
    cluster: &Cluster,
    app: &Application,
    origin: &Origin,
    tools: &ToolArgs,
    prune: bool,
) -> anyhow::Result<SyncPlan> {
    if !app.spec.destination.is_in_cluster() {
        anyhow::bail!(
            "{} deploys to cluster {:?}; comparing with a remote destination cluster is not supported by the CLI yet \
             (its status, written by the controller, shows what differs)",
            app.name_any(),
            app.spec.destination.name.as_deref().or(app.spec.destination.server.as_deref()).unwrap_or_default()
        );
    }
    let snapshots = local::snapshots(app, origin, tools).await?;
    let manifests = local::render(app, &snapshots, tools, Some(&cluster.client)).await?;
    let engine = Engine::new(cluster.client.clone());
    Ok(engine.plan(&manifests, &sync_options(app, prune)).await)
}

/// The options a plan of `app` is made with: the controller's, for a new operation, writing nothing.
pub(crate) fn sync_options(app: &Application, prune: bool) -> SyncOptions {
    let policy = app.spec.sync_policy.as_ref();
    let automated = policy.and_then(|p| p.automated.as_ref());
    SyncOptions {
        app: AppRef { namespace: app.namespace().unwrap_or_default(), name: app.name_any() },
        default_namespace: lockstep_render::destination_namespace(app),
        apply: false,
        heal_only: false,
        operation_recorded: false,
        prune,
        allow_empty: automated.is_some_and(|a| a.allow_empty),
        previous: app.status.as_ref().and_then(|s| s.inventory.clone()),
        operation_id: String::new(),
        hooks_done: Vec::new(),
        timed_out: false,
        ignore_differences: app.spec.ignore_differences.clone(),
        sync_options: policy.map(|p| p.sync_options.clone()).unwrap_or_default(),
        drift: policy.and_then(|p| p.drift).unwrap_or_default(),
        previous_objects: Default::default(),
    }
}

/// A plan's text and exit code: 0 when a sync would write nothing, 1 when it would, 2 when an
/// object cannot be synced.
pub(crate) struct PlanText {
    /// The lines to print.
    pub text: String,
    /// The exit code.
    pub code: u8,
}

/// One line of a plan: an object, what a sync does to it and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub action: Planned,
    pub object: String,
    pub reason: String,
    /// The object cannot be synced as git says.
    pub failed: bool,
}

/// A plan as titled sections of lines, in order: each step (hooks by phase, resources by wave),
/// SyncFail hooks, then what left git.
pub(crate) fn sections(plan: &SyncPlan) -> Vec<(String, Vec<Line>)> {
    let lines = |objects: &[PlannedObject]| -> Vec<Line> {
        objects
            .iter()
            .map(|o| Line {
                action: o.action,
                object: o.key.to_string(),
                reason: o.reason.clone(),
                failed: o.error().is_some(),
            })
            .collect()
    };
    let mut sections = Vec::new();
    for step in &plan.steps {
        let title = if step.hooks { format!("{:?} hooks", step.phase) } else { format!("wave {}", step.wave) };
        sections.push((title, lines(&step.objects)));
    }
    for step in &plan.on_failure {
        sections.push((format!("{:?} hooks, if the sync fails", step.phase), lines(&step.objects)));
    }
    sections.push(("left git".to_string(), lines(&plan.prune)));
    sections.retain(|(_, lines)| !lines.is_empty());
    sections
}

/// The text of a plan: each section with its lines, the prune block if any, then the counts.
pub(crate) fn show(plan: &SyncPlan, style: Style) -> PlanText {
    let summary = plan.summary();
    let writes = summary.create + summary.update + summary.replace + summary.prune > 0;
    let footer = format!("plan: {summary}");
    text(&sections(plan), plan.prune_blocked.as_deref(), writes, &footer, style)
}

fn text(
    sections: &[(String, Vec<Line>)],
    prune_blocked: Option<&str>,
    writes: bool,
    footer: &str,
    style: Style,
) -> PlanText {
    let mut text = String::new();
    for (title, lines) in sections {
        text.push_str(&format!("{}\n", style.paint(title, Colour::Cyan)));
        for line in lines {
            let colour = match line.action {
                Planned::Create => Colour::Green,
                Planned::Update | Planned::Replace => Colour::Yellow,
                Planned::Prune => Colour::Red,
                Planned::Skip if line.failed => Colour::Red,
                Planned::Unchanged | Planned::Skip => Colour::Dim,
            };
            let word = style.paint(&format!("{:<9}", line.action.word()), colour);
            text.push_str(&format!("  {word} {}: {}\n", line.object, line.reason));
        }
    }
    if let Some(why) = prune_blocked {
        text.push_str(&format!("prune blocked: {why}\n"));
    }
    text.push_str(&format!("{footer}\n"));
    let failed = sections.iter().flat_map(|(_, lines)| lines).any(|l| l.failed);
    let code = if failed {
        EXIT_ERROR
    } else if writes {
        EXIT_DIFFERS
    } else {
        0
    };
    PlanText { text, code }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(action: Planned, object: &str, reason: &str, failed: bool) -> Line {
        Line { action, object: object.into(), reason: reason.into(), failed }
    }

    #[test]
    fn a_plan_lists_each_step_then_the_counts() {
        let sections = vec![
            (
                "PreSync hooks".to_string(),
                vec![line(Planned::Create, "Job web/migrate", "PreSync hook: runs once per sync operation", false)],
            ),
            (
                "wave 0".to_string(),
                vec![
                    line(Planned::Unchanged, "ConfigMap web/a", "matches the live object", false),
                    line(Planned::Update, "Deployment web/web", "differs from the live object", false),
                ],
            ),
        ];
        let shown = text(&sections, None, true, "plan: 1 to create, 1 to update", Style::default());
        assert_eq!(
            shown.text,
            "PreSync hooks\n  create    Job web/migrate: PreSync hook: runs once per sync operation\n\
             wave 0\n  unchanged ConfigMap web/a: matches the live object\n\
             \x20 update    Deployment web/web: differs from the live object\nplan: 1 to create, 1 to update\n"
        );
        assert_eq!(shown.code, EXIT_DIFFERS);
    }

    #[test]
    fn nothing_to_write_exits_zero_and_a_failure_two() {
        let same = vec![(
            "wave 0".to_string(),
            vec![line(Planned::Unchanged, "ConfigMap web/a", "matches the live object", false)],
        )];
        assert_eq!(text(&same, None, false, "plan", Style::default()).code, 0);
        let blocked = text(&same, Some("git renders no objects"), false, "plan", Style::default());
        assert!(blocked.text.contains("prune blocked: git renders no objects"), "{}", blocked.text);
        let refused =
            vec![("wave 0".to_string(), vec![line(Planned::Skip, "ConfigMap web/a", "spec: Invalid value", true)])];
        assert_eq!(text(&refused, None, true, "plan", Style::default()).code, EXIT_ERROR);
    }
}
