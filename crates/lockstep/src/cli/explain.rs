//! `lockstep explain NAME`: why an Application is OutOfSync or not Healthy, and what the controller
//! does next. The reasoning is the pure [`explain`]; the command gathers the status and a fresh
//! compare of the current revision.

use std::process::ExitCode;

use clap::Args;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt as _;
use lockstep_api::conditions::{READY, SOURCE_AVAILABLE, reason};
use lockstep_api::{Application, HealthStatusCode, OperationPhase, SyncStatusCode};
use lockstep_engine::{Change, ObjectPreview};
use serde_json::Value;

use crate::cli::diff::preview;
use crate::cli::fields::{changed_paths, is_secret};
use crate::cli::local::{Origin, ToolArgs};
use crate::cli::table::age;
use crate::cli::{Cluster, ClusterArgs, block_on};

/// Most drifted fields listed per object.
const MAX_FIELDS: usize = 20;

#[derive(Args)]
pub(crate) struct ExplainArgs {
    /// The Application.
    name: String,
    #[command(flatten)]
    tools: ToolArgs,
}

pub(crate) fn run(args: ExplainArgs, cluster: &ClusterArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let cluster = Cluster::connect(cluster).await?;
        let app = cluster.app(&args.name).await?;
        let compared = preview(&cluster, &app, &Origin::Current, &args.tools).await.map_err(|e| format!("{e:#}"));
        let compared = compared.as_deref().map_err(String::as_str);
        for line in explain(&app, compared, Timestamp::now().as_second()) {
            println!("{line}");
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The explanation, line by line: the verdict, the failing conditions, the drifted fields per
/// object (from `compared`, a fresh compare of the current revision, or why it could not run), the
/// unhealthy objects, and what the controller does next.
pub(crate) fn explain(app: &Application, compared: Result<&[ObjectPreview], &str>, now: i64) -> Vec<String> {
    let status = app.status.clone().unwrap_or_default();
    let name = format!("{}/{}", app.namespace().unwrap_or_default(), app.name_any());
    let mut lines = vec![format!("Application {name} is {} and {}.", status.sync.status, status.health.status)];

    for condition in status.conditions.iter().filter(|c| c.status != "True") {
        let since = age(now - condition.last_transition_time.0.as_second());
        lines.push(format!(
            "Condition {} is {} ({}) for {since}: {}",
            condition.type_, condition.status, condition.reason, condition.message
        ));
    }

    match compared {
        Ok(previews) => {
            let drift: Vec<&ObjectPreview> = previews.iter().filter(|p| p.change != Change::Unchanged).collect();
            if !drift.is_empty() {
                lines.push(String::new());
                lines.push("Differences from git:".into());
            }
            for p in drift {
                match p.change {
                    Change::Create => lines.push(format!("  {}: missing from the cluster; a sync creates it", p.key)),
                    Change::Prune => lines.push(format!("  {}: left git; a sync with prune deletes it", p.key)),
                    Change::Replace => lines.push(format!(
                        "  {}: an immutable field changed; a sync deletes and recreates it (Replace=true)",
                        p.key
                    )),
                    Change::Failed => lines.push(format!(
                        "  {}: cannot be applied: {}",
                        p.key,
                        p.error.as_deref().unwrap_or("unknown error")
                    )),
                    Change::Update => {
                        lines.push(format!("  {}: drifted", p.key));
                        lines.extend(drifted_fields(p).into_iter().map(|f| format!("    {f}")));
                        lines.extend(changed_by(p));
                    }
                    Change::Drifted => {
                        lines.push(format!("  {}: drifted, kept so (drift: warn); a sync leaves it", p.key));
                        lines.extend(drifted_fields(p).into_iter().map(|f| format!("    {f}")));
                        lines.extend(changed_by(p));
                    }
                    Change::Unchanged => {}
                }
            }
        }
        Err(error) => lines.push(format!("Could not compare with git now: {error}")),
    }

    let unhealthy: Vec<String> = status
        .resources
        .iter()
        .filter_map(|r| {
            let health = r.health.as_ref()?;
            (health.status != HealthStatusCode::Healthy).then(|| {
                let place = r.namespace.as_deref().map(|ns| format!("{ns}/")).unwrap_or_default();
                let message = health.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
                format!("  {} {place}{} is {}{message}", r.kind, r.name, health.status)
            })
        })
        .collect();
    if !unhealthy.is_empty() {
        lines.push(String::new());
        lines.push("Not healthy:".into());
        lines.extend(unhealthy);
    }

    lines.push(String::new());
    lines.push(format!("Next: {}", next_step(app, now)));
    lines
}

/// Who else wrote the drifted object, from its `managedFields`.
fn changed_by(preview: &ObjectPreview) -> Option<String> {
    (!preview.managers.is_empty()).then(|| format!("    written by: {}", preview.managers.join(", ")))
}

/// `path: live → git` for each drifted field (values masked in Secrets), at most [`MAX_FIELDS`].
fn drifted_fields(preview: &ObjectPreview) -> Vec<String> {
    let (Some(live), Some(git)) = (&preview.live, &preview.predicted) else { return Vec::new() };
    let secret = is_secret(live) || is_secret(git);
    let mut out: Vec<String> = changed_paths(live, git)
        .into_iter()
        .map(|path| {
            let value = |object: &Value| lookup(object, &path).map_or("(absent)".to_string(), |v| show(v, secret));
            format!("{path}: {} → {}", value(live), value(git))
        })
        .collect();
    if out.len() > MAX_FIELDS {
        let more = out.len() - MAX_FIELDS;
        out.truncate(MAX_FIELDS);
        out.push(format!("… and {more} more fields (see `lockstep diff`)"));
    }
    out
}

/// Follows a path as [`changed_paths`] writes it.
fn lookup<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = object;
    let mut rest = path;
    while !rest.is_empty() {
        rest = rest.strip_prefix('.').unwrap_or(rest);
        if let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']')?;
            let token = &inner[..end];
            current = match token.parse::<usize>() {
                Ok(index) => current.get(index)?,
                Err(_) => current.get(serde_json::from_str::<String>(token).ok()?)?,
            };
            rest = &inner[end + 1..];
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            current = current.get(&rest[..end])?;
            rest = &rest[end..];
        }
    }
    Some(current)
}

fn show(value: &Value, secret: bool) -> String {
    if secret {
        return "***".into();
    }
    let text = value.to_string();
    if text.chars().count() > 80 { format!("{}…", text.chars().take(79).collect::<String>()) } else { text }
}

/// What the controller does next, judged from the status and the spec.
fn next_step(app: &Application, now: i64) -> String {
    let status = app.status.clone().unwrap_or_default();
    let name = app.name_any();
    let automated = app.spec.sync_policy.as_ref().and_then(|p| p.automated.as_ref());
    let ready = status.conditions.iter().find(|c| c.type_ == READY);
    if let Some(source) = status.conditions.iter().find(|c| c.type_ == SOURCE_AVAILABLE && c.status == "False") {
        return format!(
            "the source is unavailable since {} ({} ago); the controller serves the last good revision and retries the fetch",
            source.last_transition_time.0,
            age(now - source.last_transition_time.0.as_second())
        );
    }
    if let Some(ready) = ready.filter(|c| c.status != "True") {
        match ready.reason.as_str() {
            reason::NOT_A_REPOSITORY => {
                return format!(
                    "nothing until spec.source.repoURL names a git repository ({}); the controller looks again at \
                     the next resync",
                    ready.reason
                );
            }
            reason::INVALID_SPEC | reason::REVISION_NOT_FOUND | reason::PATH_NOT_FOUND | reason::RENDER_FAILED => {
                return format!(
                    "nothing until git or the spec changes ({}): fix it and the controller picks it up",
                    ready.reason
                );
            }
            reason::PROJECT_VIOLATION => {
                return "nothing is applied until the AppProject, git or the spec allows it; a change to the AppProject \
                        is picked up at once"
                    .into();
            }
            reason::CLUSTER_NOT_FOUND | reason::CLUSTER_UNREACHABLE => {
                return format!(
                    "nothing is applied while the destination cluster is missing or unreachable ({}); the controller \
                     looks again shortly and at once when a cluster Secret changes",
                    ready.reason
                );
            }
            reason::FORBIDDEN => {
                return "nothing more is applied until RBAC allows it (see the message); the controller retries shortly"
                    .into();
            }
            why if reason::retried_soon(why) => {
                return format!("the fetch failed ({why}); the controller retries it shortly");
            }
            _ => {}
        }
    }
    if let Some(op) = &status.operation_state {
        match op.phase {
            OperationPhase::Running => {
                return format!("the sync operation continues: {}", op.message.as_deref().unwrap_or("running"));
            }
            OperationPhase::Failed | OperationPhase::Error if status.sync.status != SyncStatusCode::Synced => {
                if let Some(delay) = lockstep_policy::sync_policy::retry_delay(&app.spec, op) {
                    let finished = op.finished_at.as_ref().map_or(now, |f| f.0.as_second());
                    let at = finished + i64::try_from(delay.as_secs()).unwrap_or(0);
                    let when = Timestamp::from_second(at).map(|t| t.to_string()).unwrap_or_default();
                    let wait = if at > now { format!("in {}", age(at - now)) } else { "now".into() };
                    return format!("retry {} of the failed sync at {when} ({wait})", op.retry_count + 1);
                }
                return format!(
                    "no retry is left; fix git or the cluster, then `lockstep sync {name}`{}",
                    retry_hint(app)
                );
            }
            _ => {}
        }
    }
    match (status.sync.status, automated) {
        (SyncStatusCode::OutOfSync, None) => {
            format!("nothing: automated sync is off; `lockstep sync {name}` applies git")
        }
        (SyncStatusCode::OutOfSync, Some(a)) if !a.self_heal => format!(
            "nothing until git changes: this revision was synced and selfHeal is off; `lockstep sync {name}` corrects the drift"
        ),
        (SyncStatusCode::OutOfSync, Some(_)) => "the controller syncs on its next pass".into(),
        (SyncStatusCode::Synced, _) if status.health.status != HealthStatusCode::Healthy => {
            "nothing to apply; waiting for the objects to become healthy".into()
        }
        (SyncStatusCode::Synced, _) => "nothing: the Application is in step with git".into(),
        (SyncStatusCode::Unknown, _) => "the controller compares on its next pass".into(),
    }
}

fn retry_hint(app: &Application) -> String {
    match app.spec.sync_policy.as_ref().and_then(|p| p.retry.as_ref()) {
        Some(_) => String::new(),
        None => " (set spec.syncPolicy.retry to retry failed syncs)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use lockstep_api::{
        ApplicationSpec, ApplicationStatus, Backoff, HealthStatus, OperationState, ResourceStatus, RetryStrategy,
        SyncPolicy, SyncStatus,
    };
    use lockstep_engine::ResourceKey;
    use serde_json::json;

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(second).unwrap())
    }

    fn app(status: ApplicationStatus, policy: Option<SyncPolicy>) -> Application {
        let mut app = Application::new("web", ApplicationSpec { sync_policy: policy, ..Default::default() });
        app.metadata.namespace = Some("team".into());
        app.status = Some(status);
        app
    }

    fn condition(type_: &str, status: &str, reason: &str, message: &str, since: i64) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            last_transition_time: at(since),
            observed_generation: None,
        }
    }

    #[test]
    fn names_the_drifted_field_and_the_manual_sync() {
        let status = ApplicationStatus {
            sync: SyncStatus { status: SyncStatusCode::OutOfSync, ..Default::default() },
            conditions: vec![condition(READY, "False", reason::OUT_OF_SYNC, "1 object differs", 0)],
            ..Default::default()
        };
        let key = ResourceKey {
            group: "apps".into(),
            version: "v1".into(),
            kind: "Deployment".into(),
            namespace: Some("team".into()),
            name: "web".into(),
        };
        let previews = [ObjectPreview {
            key,
            change: Change::Update,
            live: Some(json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [{"image": "nginx:2"}]}}}})),
            predicted: Some(
                json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [{"image": "nginx:1"}]}}}}),
            ),
            error: None,
            managers: vec!["kubectl-edit (Update, 2026-12-05T10:00:00Z)".into()],
        }];
        let text = explain(&app(status, None), Ok(&previews), 60).join("\n");
        assert!(text.contains("Condition Ready is False (OutOfSync) for 60s: 1 object differs"), "{text}");
        assert!(
            text.contains(
                "  Deployment team/web: drifted\n    spec.template.spec.containers[0].image: \"nginx:2\" → \"nginx:1\"\n    written by: kubectl-edit (Update, 2026-12-05T10:00:00Z)"
            ),
            "{text}"
        );
        assert!(text.contains("Next: nothing: automated sync is off; `lockstep sync web` applies git"), "{text}");
    }

    #[test]
    fn failed_syncs_say_when_they_retry_and_secrets_stay_masked() {
        let policy = SyncPolicy {
            automated: Some(Default::default()),
            retry: Some(RetryStrategy {
                limit: 3,
                backoff: Some(Backoff { duration: Some("10s".into()), factor: Some(2), max_duration: None }),
            }),
            ..Default::default()
        };
        let status = ApplicationStatus {
            sync: SyncStatus { status: SyncStatusCode::OutOfSync, ..Default::default() },
            health: HealthStatus { status: HealthStatusCode::Degraded, message: None },
            operation_state: Some(OperationState {
                phase: OperationPhase::Failed,
                message: Some("rejected".into()),
                sync_result: None,
                started_at: at(90),
                finished_at: Some(at(100)),
                retry_count: 0,
                sync_request: None,
            }),
            resources: vec![ResourceStatus {
                version: "v1".into(),
                kind: "Pod".into(),
                name: "p".into(),
                namespace: Some("team".into()),
                health: Some(HealthStatus {
                    status: HealthStatusCode::Degraded,
                    message: Some("CrashLoopBackOff".into()),
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let secret = |v: &str| json!({"apiVersion": "v1", "kind": "Secret", "data": {"p": v}});
        let previews = [ObjectPreview {
            key: ResourceKey { version: "v1".into(), kind: "Secret".into(), name: "s".into(), ..Default::default() },
            change: Change::Update,
            live: Some(secret("b2xk")),
            predicted: Some(secret("bmV3")),
            error: None,
            managers: Vec::new(),
        }];
        let text = explain(&app(status, Some(policy)), Ok(&previews), 105).join("\n");
        assert!(text.contains("    data.p: *** → ***"), "{text}");
        assert!(!text.contains("b2xk"), "{text}");
        assert!(text.contains("  Pod team/p is Degraded: CrashLoopBackOff"), "{text}");
        assert!(text.contains("Next: retry 1 of the failed sync at 1970-01-01T00:01:50Z (in 5s)"), "{text}");
    }

    #[test]
    fn waiting_operations_and_unavailable_sources() {
        let status = ApplicationStatus {
            operation_state: Some(OperationState {
                phase: OperationPhase::Running,
                message: Some("waiting for wave 2 to be healthy: Deployment team/db is Progressing".into()),
                sync_result: None,
                started_at: at(0),
                finished_at: None,
                retry_count: 0,
                sync_request: None,
            }),
            ..Default::default()
        };
        let text = explain(&app(status, None), Err("offline"), 10).join("\n");
        assert!(text.contains("Could not compare with git now: offline"), "{text}");
        assert!(text.contains("Next: the sync operation continues: waiting for wave 2"), "{text}");
        let down = ApplicationStatus {
            conditions: vec![condition(SOURCE_AVAILABLE, "False", reason::SOURCE_UNAVAILABLE, "connection refused", 0)],
            ..Default::default()
        };
        let text = explain(&app(down, None), Ok(&[]), 120).join("\n");
        assert!(text.contains("Next: the source is unavailable since 1970-01-01T00:00:00Z (2m ago)"), "{text}");
    }

    #[test]
    fn paths_are_followed_back() {
        let object = json!({"metadata": {"labels": {"a.b/c": "x"}}, "list": [{"v": 1}]});
        assert_eq!(lookup(&object, r#"metadata.labels["a.b/c"]"#), Some(&json!("x")));
        assert_eq!(lookup(&object, "list[0].v"), Some(&json!(1)));
        assert_eq!(lookup(&object, "missing"), None);
    }
}
