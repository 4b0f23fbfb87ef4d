//! One pass over one ApplicationSet, reading like the pipeline: generate, fill the template,
//! plan, write, report. The decisions are [`crate::generate`], [`crate::template`],
//! [`crate::set_plan`] and [`crate::status`]; this module only carries them out.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::{Client, Resource, ResourceExt};
use lockstep_api::kube_error::one_line;
use lockstep_api::{
    APPLICATION_SET_LABEL, Application, ApplicationSet, ApplicationSetApplicationStatus, ApplicationSetStatus,
    SYNC_REQUEST_ANNOTATION,
};
use lockstep_lease::{Leadership, Shard};
use serde_json::json;
use tracing::{info, warn};

use crate::error::AppSetError;
use crate::generate::{ClusterInfo, GitTrees, Inputs, generate_all};
use crate::set_plan::{SetPlan, owns, plan};
use crate::status::{Outcome, status};

/// The field manager generated Applications are written with.
pub const FIELD_MANAGER: &str = "lockstep-applicationset";

/// What every pass shares.
pub struct Context {
    /// The controller's client.
    pub client: Client,
    /// Generated Applications (those carrying the set label), from a watch.
    pub apps: Store<Application>,
    /// Cluster Secrets of the controller's namespace, from a watch.
    pub clusters: Store<Secret>,
    /// The shared git cache.
    pub git: Arc<dyn GitTrees>,
    /// Only the leader writes.
    pub leadership: Leadership,
    /// Only the shard that owns a set reconciles it.
    pub shard: Shard,
    /// Who publishes Events.
    pub reporter: Reporter,
}

/// Reconciles one set.
pub async fn reconcile(set: Arc<ApplicationSet>, ctx: Arc<Context>) -> Result<Action, AppSetError> {
    let namespace = set.namespace().unwrap_or_default();
    if !ctx.leadership.is_leading() || !ctx.shard.owns(&namespace, &set.name_any()) {
        return Ok(Action::await_change());
    }
    if set.metadata.deletion_timestamp.is_some() {
        // Garbage collection deletes the Applications through their owner references.
        return Ok(Action::await_change());
    }
    let clusters = cluster_infos(&ctx.clusters);
    let inputs =
        Inputs { namespace: &namespace, clusters: &clusters, git: ctx.git.as_ref(), go_template: set.spec.go_template };
    let existing = owned_apps(&ctx.apps, &set);
    let (outcome, changed) = match generate_all(&set.spec.generators, &inputs).await {
        Err(err) => (Outcome::ParamsFailed(err.to_string()), Vec::new()),
        Ok(generated) => match crate::template::render_all(&set, &generated) {
            Err(err) => (Outcome::TemplateFailed(err.to_string()), Vec::new()),
            Ok(desired) => {
                let plan = plan(&set, desired, &existing);
                execute(&ctx, &set, plan).await
            }
        },
    };
    report(&ctx, &set, &outcome, &changed).await?;
    Ok(requeue(&set))
}

/// Carries out the plan; returns how the writes ended and a line per change made.
async fn execute(ctx: &Context, set: &ApplicationSet, plan: SetPlan) -> (Outcome, Vec<String>) {
    if plan.is_empty() {
        return (Outcome::UpToDate, Vec::new());
    }
    let api: Api<Application> = Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    let mut done = Vec::new();
    let mut failed: Option<(&'static str, Vec<String>)> = None;
    let mut fail = |reason: &'static str, line: String| {
        let entry = failed.get_or_insert((reason, Vec::new()));
        entry.1.push(line);
    };
    for app in plan.create {
        // Created by server-side apply, so that the set's one field manager owns every field it
        // writes and a field later dropped from the template is removed. The name is looked up
        // first: an Application the set did not create is never taken over.
        let name = app.name_any();
        let created = match api.get_opt(&name).await {
            Ok(Some(_)) => {
                let why =
                    format!("Application {name:?} already exists and does not belong to this set; it was left alone");
                fail("CreateApplicationError", why);
                continue;
            }
            Ok(None) => {
                api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(apply_body(&app))).await
            }
            Err(err) => Err(err),
        };
        match created {
            Ok(_) => done.push(format!("created Application {name}")),
            Err(err) => fail("CreateApplicationError", format!("creating Application {name:?}: {}", one_line(&err))),
        }
    }
    for (app, why) in plan.update {
        let name = app.name_any();
        let params = PatchParams::apply(FIELD_MANAGER).force();
        match api.patch(&name, &params, &Patch::Apply(apply_body(&app))).await {
            Ok(_) => done.push(format!("updated Application {name} ({why})")),
            Err(err) => fail("UpdateApplicationError", format!("updating Application {name:?}: {}", one_line(&err))),
        }
    }
    for deletion in plan.delete {
        let name = deletion.name;
        if deletion.strip_finalizers {
            let patch = json!({"metadata": {"finalizers": null}});
            if let Err(err) = api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                fail("DeleteApplicationError", format!("preserving the objects of {name:?}: {}", one_line(&err)));
                continue;
            }
        }
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => done.push(format!("deleted Application {name} (no longer generated)")),
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(err) => fail("DeleteApplicationError", format!("deleting Application {name:?}: {}", one_line(&err))),
        }
    }
    let outcome = match failed {
        None => Outcome::UpToDate,
        Some((reason, lines)) => Outcome::WritesFailed { reason, message: lines.join("; ") },
    };
    (outcome, done)
}

/// What server-side apply receives: only the fields the set owns.
fn apply_body(app: &Application) -> serde_json::Value {
    json!({
        "apiVersion": Application::api_version(&()),
        "kind": Application::kind(&()),
        "metadata": {
            "name": app.name_any(),
            "namespace": app.namespace(),
            "labels": app.labels(),
            "annotations": app.annotations(),
            "finalizers": app.finalizers(),
            "ownerReferences": app.owner_references(),
        },
        "spec": app.spec,
    })
}

/// Asks each Application whose step has come for one sync (`RollingSync`); returns where every
/// Application stands, for the status. Nothing is synced while the pass failed.
async fn roll_out(
    ctx: &Context,
    set: &ApplicationSet,
    outcome: &Outcome,
    owned: &[Arc<Application>],
    now: &Time,
    changed: &mut Vec<String>,
) -> Vec<ApplicationSetApplicationStatus> {
    let Some(steps) = set.spec.rolling_steps() else { return Vec::new() };
    let previous = set.status.as_ref().map(|s| s.application_status.as_slice()).unwrap_or_default();
    let mut decision = crate::rollout::rollout(steps, owned, previous, now);
    if !matches!(outcome, Outcome::UpToDate) {
        decision.sync.clear();
    }
    let prune = set.spec.template.spec.sync_policy.as_ref().and_then(|p| p.automated.as_ref()).is_some_and(|a| a.prune);
    let api: Api<Application> = Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    for name in &decision.sync {
        let value = format!("rollout-{}{}", now.0.as_nanosecond(), if prune { ",prune" } else { "" });
        let patch = json!({"metadata": {"annotations": {SYNC_REQUEST_ANNOTATION: value}}});
        match api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => changed.push(format!("rollout: asked Application {name} to sync")),
            Err(err) => {
                warn!(set = %set.name_any(), app = %name, error = %one_line(&err), "asking for a sync");
                if let Some(entry) = decision.statuses.iter_mut().find(|s| &s.application == name) {
                    entry.status = crate::rollout::WAITING.into();
                    entry.message = format!("asking for a sync failed: {}", one_line(&err));
                }
            }
        }
    }
    decision.statuses
}

/// Writes the status when it changed, and an Event per change made and per failure.
async fn report(ctx: &Context, set: &ApplicationSet, outcome: &Outcome, changed: &[String]) -> Result<(), AppSetError> {
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let owned = owned_apps(&ctx.apps, set);
    let mut changed = changed.to_vec();
    let rollout = roll_out(ctx, set, outcome, &owned, &now, &mut changed).await;
    let next = status(set, outcome, &owned, rollout, &now);
    if set.status.as_ref() != Some(&next) {
        write_status(ctx, set, &next).await?;
    }
    let recorder = Recorder::new(ctx.client.clone(), ctx.reporter.clone());
    let reference = set.object_ref(&());
    let mut events: Vec<Event> = changed
        .iter()
        .map(|line| Event {
            type_: EventType::Normal,
            reason: "ApplicationSetChanged".into(),
            note: Some(line.clone()),
            action: "Generate".into(),
            secondary: None,
        })
        .collect();
    let was_failing = set.status.as_ref().and_then(|s| s.conditions.iter().find(|c| c.type_ == crate::status::READY));
    let new_failure = !matches!(outcome, Outcome::UpToDate)
        && was_failing.is_none_or(|c| c.status != "False" || c.message != outcome.message());
    if new_failure {
        events.push(Event {
            type_: EventType::Warning,
            reason: outcome.reason().into(),
            note: Some(outcome.message()),
            action: "Generate".into(),
            secondary: None,
        });
    }
    for line in &changed {
        info!(set = %set.name_any(), namespace = set.namespace().unwrap_or_default(), "{line}");
    }
    for event in events {
        if let Err(err) = recorder.publish(&event, &reference).await {
            warn!(set = %set.name_any(), error = %one_line(&err), "publishing an Event");
        }
    }
    Ok(())
}

async fn write_status(ctx: &Context, set: &ApplicationSet, next: &ApplicationSetStatus) -> Result<(), AppSetError> {
    let api: Api<ApplicationSet> = Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    let patch = json!({"status": next});
    api.patch_status(&set.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|err| AppSetError::Status { set: set.name_any(), message: one_line(&err) })?;
    Ok(())
}

/// The Applications in the set's namespace that carry its label and its owner reference.
fn owned_apps(apps: &Store<Application>, set: &ApplicationSet) -> Vec<Arc<Application>> {
    let namespace = set.namespace();
    let name = set.name_any();
    apps.state()
        .into_iter()
        .filter(|app| app.namespace() == namespace && app.labels().get(APPLICATION_SET_LABEL) == Some(&name))
        .filter(|app| owns(set, app))
        .collect()
}

/// The local cluster, then every cluster Secret (an unreadable one marked so).
fn cluster_infos(secrets: &Store<Secret>) -> Vec<ClusterInfo> {
    let mut clusters = vec![ClusterInfo {
        name: "in-cluster".into(),
        server: "https://kubernetes.default.svc".into(),
        ..Default::default()
    }];
    let mut remote: Vec<ClusterInfo> = secrets
        .state()
        .iter()
        .map(|secret| {
            let project =
                secret.data.as_ref().and_then(|d| d.get("project")).map(|p| String::from_utf8_lossy(&p.0).into_owned());
            let labels = Some(secret.labels().clone());
            let annotations = secret.annotations().clone();
            match lockstep_clusters::cluster_secret::parse(secret) {
                Ok(parsed) => ClusterInfo {
                    name: parsed.name,
                    server: parsed.server,
                    labels,
                    annotations,
                    project,
                    unreadable: None,
                },
                Err(why) => ClusterInfo {
                    name: secret.name_any(),
                    labels,
                    annotations,
                    unreadable: Some(why),
                    ..Default::default()
                },
            }
        })
        .collect();
    remote.sort_by(|a, b| a.name.cmp(&b.name));
    clusters.extend(remote);
    clusters
}

/// Sets with a git generator look again every three minutes (Argo's default) or as their
/// generators ask; the others change only when the set, its Applications or a cluster do.
fn requeue(set: &ApplicationSet) -> Action {
    match crate::generate::requeue_seconds(&set.spec.generators) {
        Some(seconds) => Action::requeue(Duration::from_secs(seconds)),
        None => Action::await_change(),
    }
}

/// Retries a failed pass (a status write the API server refused) after a short wait.
pub fn error_policy(set: Arc<ApplicationSet>, err: &AppSetError, _ctx: Arc<Context>) -> Action {
    warn!(set = %set.name_any(), error = %err, "ApplicationSet pass failed");
    Action::requeue(Duration::from_secs(10))
}
