//! `lockstep sync NAME`: asks for one sync through `lockstep.dev/sync-request` and, with `--wait`,
//! follows `status.operationState` until the operation answering that request finishes. With
//! `--dry-run` it asks nothing: it prints the plan the controller's engine makes for that sync.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use lockstep_api::{ApplicationStatus, OperationPhase, SYNC_REQUEST_ANNOTATION};

use crate::cli::local::{Origin, ToolArgs};
use crate::cli::plan;
use crate::cli::style::{Colour, Style};
use crate::cli::wait::{annotate, token, until};
use crate::cli::{Cluster, ClusterArgs, block_on};
use crate::duration::parse_duration;

#[derive(Args)]
pub(crate) struct SyncArgs {
    /// The Application.
    name: String,
    /// Also delete what left git.
    #[arg(long)]
    prune: bool,
    /// Wait for the sync to finish, printing progress; the exit code says whether it succeeded.
    #[arg(long)]
    wait: bool,
    /// How long to wait.
    #[arg(long, value_parser = parse_duration, default_value = "5m")]
    timeout: Duration,
    /// Print what a sync would do to each object, and why, and write nothing: exit 0 when it would
    /// write nothing, 1 when it would, 2 when an object cannot be synced.
    #[arg(long, conflicts_with = "wait")]
    dry_run: bool,
    #[command(flatten)]
    tools: ToolArgs,
}

pub(crate) fn run(args: SyncArgs, cluster: &ClusterArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let cluster = Cluster::connect(cluster).await?;
        let app = cluster.app(&args.name).await?;
        if args.dry_run {
            let automated = app.spec.sync_policy.as_ref().and_then(|p| p.automated.as_ref());
            let prune = args.prune || automated.is_some_and(|a| a.prune);
            let plan = plan::plan(&cluster, &app, &Origin::Current, &args.tools, prune).await?;
            let shown = plan::show(&plan, Style::detect());
            print!("{}", shown.text);
            return Ok(ExitCode::from(shown.code));
        }
        let request = if args.prune { format!("{},prune", token()) } else { token() };
        annotate(&cluster, &args.name, SYNC_REQUEST_ANNOTATION, &request).await?;
        eprintln!("sync requested ({SYNC_REQUEST_ANNOTATION}={request})");
        if !args.wait {
            return Ok(ExitCode::SUCCESS);
        }
        let style = Style::detect();
        let mut seen: Vec<String> = Vec::new();
        let status = until(&cluster, &args.name, args.timeout, |app| {
            let status = app.status.clone().unwrap_or_default();
            let answering = answers(&status, &request);
            if answering {
                for line in progress(&status) {
                    if !seen.contains(&line) {
                        println!("{line}");
                        seen.push(line);
                    }
                }
            }
            let finished =
                answering && status.operation_state.as_ref().is_some_and(|o| o.phase != OperationPhase::Running);
            finished.then_some(status)
        })
        .await?;
        let Some(op) = status.operation_state else { anyhow::bail!("the operation state vanished") };
        let message = op.message.unwrap_or_default();
        let (word, colour) = match op.phase {
            OperationPhase::Succeeded => ("succeeded", Colour::Green),
            _ => ("failed", Colour::Red),
        };
        println!("{}: {message}", style.paint(&format!("sync {word}"), colour));
        Ok(if op.phase == OperationPhase::Succeeded { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    })
}

/// Whether the status's operation is the one answering `request`.
pub(crate) fn answers(status: &ApplicationStatus, request: &str) -> bool {
    status.operation_state.as_ref().and_then(|o| o.sync_request.as_deref()) == Some(request)
}

/// What to tell about an operation so far: its phase and message, each hook, and each object's
/// sync and health. The caller prints each line once.
pub(crate) fn progress(status: &ApplicationStatus) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(op) = &status.operation_state {
        if let Some(message) = &op.message {
            lines.push(format!("{:?}: {message}", op.phase));
        }
        for hook in op.sync_result.iter().flat_map(|r| &r.hooks) {
            let message = hook.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
            lines.push(format!(
                "  {:?} hook {} {}: {:?}{message}",
                hook.hook_type, hook.kind, hook.name, hook.hook_phase
            ));
        }
    }
    for r in &status.resources {
        let place = r.namespace.as_deref().map(|ns| format!("{ns}/")).unwrap_or_default();
        let health = r.health.as_ref().map(|h| {
            let message = h.message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default();
            format!(" {}{message}", h.status)
        });
        lines.push(format!("  {} {place}{}: {}{}", r.kind, r.name, r.status, health.unwrap_or_default()));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;
    use lockstep_api::{HealthStatus, HealthStatusCode, OperationState, ResourceStatus, SyncStatusCode};

    fn status(request: Option<&str>, phase: OperationPhase) -> ApplicationStatus {
        ApplicationStatus {
            operation_state: Some(OperationState {
                phase,
                message: Some("waiting for wave 1 to be healthy".into()),
                sync_result: None,
                started_at: Time(Timestamp::UNIX_EPOCH),
                finished_at: None,
                retry_count: 0,
                sync_request: request.map(String::from),
            }),
            resources: vec![ResourceStatus {
                version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: Some("prod".into()),
                name: "a".into(),
                status: SyncStatusCode::Synced,
                health: Some(HealthStatus { status: HealthStatusCode::Healthy, message: None }),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn only_the_operation_answering_the_request_counts() {
        assert!(answers(&status(Some("t1"), OperationPhase::Running), "t1"));
        assert!(!answers(&status(Some("t0"), OperationPhase::Succeeded), "t1"));
        assert!(!answers(&status(None, OperationPhase::Succeeded), "t1"));
    }

    #[test]
    fn progress_names_the_phase_and_each_object() {
        let lines = progress(&status(Some("t"), OperationPhase::Running));
        assert_eq!(lines, vec!["Running: waiting for wave 1 to be healthy", "  ConfigMap prod/a: Synced Healthy"]);
    }
}
