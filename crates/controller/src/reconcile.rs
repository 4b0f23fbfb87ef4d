//! One reconcile of one Application: fetch, render, plan/apply, assess, report.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use lockstep_api::conditions::reason;
use lockstep_api::{Application, ApplicationStatus, FIELD_MANAGER, HealthStatusCode};
use lockstep_engine::{SyncOptions, SyncResult};
use lockstep_health::Health;
use lockstep_render::{DirectoryOptions, Manifest, RenderError, render_directory, resolve_source_path};
use lockstep_source::{Snapshot, SourceError, SourceRequest};
use serde_json::json;
use tracing::{info, warn};

use crate::context::Context;
use crate::error::ControllerError;
use crate::events::events_for;
use crate::status::{AssessedResource, Outcome, changed, next_status};
use crate::trigger::jittered;
use crate::validate::invalid_spec;

/// Runs the pipeline for one Application and writes what it found.
pub(crate) async fn reconcile(app: Arc<Application>, ctx: Arc<Context>) -> Result<Action, ControllerError> {
    let (outcome, written) = pipeline(&app, &ctx).await;
    report(&app, &ctx, &outcome, written).await?;
    Ok(Action::requeue(next_look(&outcome, &ctx)))
}

/// Retries a reconcile that failed on the controller's side (not the Application's) with a short delay.
pub(crate) fn error_policy(app: Arc<Application>, error: &ControllerError, _ctx: Arc<Context>) -> Action {
    warn!(app = %app_name(&app), %error, "reconcile failed; retrying");
    Action::requeue(jittered(Duration::from_secs(10)))
}

async fn pipeline(app: &Application, ctx: &Context) -> (Outcome, (usize, usize)) {
    if let Some(message) = invalid_spec(&app.spec) {
        return (Outcome::Stopped { reason: reason::INVALID_SPEC, message, revision: None }, (0, 0));
    }
    let snapshot = match fetch(app, ctx).await {
        Ok(snapshot) => snapshot,
        Err(err) => return (fetch_failure(err), (0, 0)),
    };
    let manifests = match render(app, &snapshot) {
        Ok(manifests) => manifests,
        Err(err) => return (render_failure(err, &snapshot), (0, 0)),
    };
    let automated = app.spec.sync_policy.as_ref().is_some_and(|p| p.automated.is_some());
    let options = SyncOptions { default_namespace: destination_namespace(app), apply: automated };
    let result = ctx.engine.sync(&manifests, &options).await;
    let written = result.written();
    if written != (0, 0) {
        info!(app = %app_name(app), revision = %snapshot.revision, created = written.0, updated = written.1, "applied");
    }
    let outcome = Outcome::Compared { revision: snapshot.revision, resources: assess(result), automated };
    (outcome, written)
}

async fn fetch(app: &Application, ctx: &Context) -> Result<Snapshot, SourceError> {
    let request = SourceRequest {
        repo_url: app.spec.source.repo_url.trim().to_string(),
        target_revision: app.spec.source.target_revision.clone(),
    };
    ctx.source.snapshot(&request).await
}

fn fetch_failure(err: SourceError) -> Outcome {
    let why = match err {
        SourceError::RevisionNotFound { .. } => reason::REVISION_NOT_FOUND,
        SourceError::Unreachable { .. } | SourceError::Cache { .. } => reason::FETCH_FAILED,
    };
    Outcome::Stopped { reason: why, message: err.to_string(), revision: None }
}

fn render(app: &Application, snapshot: &Snapshot) -> Result<Vec<Manifest>, RenderError> {
    let source = &app.spec.source;
    let dir = resolve_source_path(&snapshot.root, source.path.as_deref())?;
    let options = DirectoryOptions { recurse: source.directory.as_ref().is_some_and(|d| d.recurse) };
    render_directory(&snapshot.root, &dir, &options)
}

fn render_failure(err: RenderError, snapshot: &Snapshot) -> Outcome {
    let why = match err {
        RenderError::PathNotFound { .. } => reason::PATH_NOT_FOUND,
        RenderError::PathOutsideRepository { .. } => reason::INVALID_SPEC,
        _ => reason::RENDER_FAILED,
    };
    let message = format!("{err} (revision {})", crate::status::short(&snapshot.revision));
    Outcome::Stopped { reason: why, message, revision: Some(snapshot.revision.clone()) }
}

/// Health of every object after sync; an object that does not exist is Missing.
fn assess(result: SyncResult) -> Vec<AssessedResource> {
    result
        .resources
        .into_iter()
        .map(|r| {
            let (health, ignore_health) = match &r.live {
                Some(live) => (lockstep_health::assess(live), lockstep_health::ignored(live)),
                None => (Health { status: HealthStatusCode::Missing, message: None }, false),
            };
            AssessedResource { key: r.key, sync: r.status, error: r.error, health, ignore_health }
        })
        .collect()
}

/// Writes the status if it changed and publishes the Events that change deserves.
async fn report(app: &Application, ctx: &Context, outcome: &Outcome, written: (usize, usize)) -> Result<(), ControllerError> {
    let now = Time(Timestamp::now());
    let previous = app.status.as_ref();
    let mut status = next_status(previous, app.metadata.generation, outcome, &now);
    if !changed(previous, &status) {
        return Ok(());
    }
    status.reconciled_at = Some(now);
    write_status(app, ctx, &status).await?;
    for event in events_for(previous, &status, written) {
        let event = Event {
            type_: if event.warning { EventType::Warning } else { EventType::Normal },
            reason: event.reason,
            note: Some(event.note),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(err) = ctx.recorder.publish(&event, &app.object_ref(&())).await {
            warn!(app = %app_name(app), %err, "publishing event failed");
        }
    }
    Ok(())
}

async fn write_status(app: &Application, ctx: &Context, status: &ApplicationStatus) -> Result<(), ControllerError> {
    let api: Api<Application> = Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
    let body = json!({
        "apiVersion": Application::api_version(&()),
        "kind": Application::kind(&()),
        "status": status,
    });
    api.patch_status(&app.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body))
        .await
        .map(drop)
        .map_err(|source| ControllerError::WriteStatus { app: app_name(app), source })
}

/// Failed fetches are retried soon; everything else waits for the resync period or a trigger.
fn next_look(outcome: &Outcome, ctx: &Context) -> Duration {
    match outcome {
        Outcome::Stopped { reason: reason::FETCH_FAILED, .. } => jittered(ctx.config.fetch_retry_period),
        _ => jittered(ctx.config.resync_period),
    }
}

/// Where namespaced objects without a namespace go: the destination namespace, else the Application's own.
fn destination_namespace(app: &Application) -> String {
    app.spec
        .destination
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .or_else(|| app.namespace())
        .unwrap_or_else(|| "default".into())
}

fn app_name(app: &Application) -> String {
    format!("{}/{}", app.namespace().unwrap_or_default(), app.name_any())
}
