//! One reconcile of one Application: fetch (every source), render, plan/apply, assess, report.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use lockstep_api::conditions::{READY, reason};
use lockstep_api::kube_error::one_line;
use lockstep_api::{
    Application, ApplicationStatus, FIELD_MANAGER, Inventory, REFRESH_ANNOTATION, ROLLBACK_ANNOTATION, RollbackStatus,
    SYNC_REQUEST_ANNOTATION,
};
use lockstep_engine::{AppRef, HookRun, Progress, ResourceKey, SyncOptions, Written, inventory};
use lockstep_render::SourcesRenderError;
use serde_json::json;
use tracing::{info, warn};

use crate::context::Context;
use crate::error::ControllerError;
use crate::fetch::{FetchFailure, Fetched, fetch_all, render_all};
use crate::trigger::jittered;
use lockstep_clusters::{ClusterTarget, Deployer};
use lockstep_policy::events::events_for;
use lockstep_policy::hold::hold;
use lockstep_policy::impersonation::ServiceAccount;
use lockstep_policy::project::Project;
use lockstep_policy::source_status::SourceReport;
use lockstep_policy::status::{Marks, Outcome, changed, next_status};
use lockstep_policy::sync_policy::{self as policy, SyncPass};
use lockstep_policy::validate::invalid_spec;

/// How soon a sync waiting on a wave or hook looks again when no watch event comes first.
const WAITING_POLL: Duration = Duration::from_secs(2);

/// How soon a new operation that was only recorded (its hooks run from the next pass) goes on.
const RECORDED_POLL: Duration = Duration::from_millis(300);

/// Deployed revisions kept in `status.history` unless the spec says otherwise (Argo CD's default).
const DEFAULT_HISTORY: usize = 10;

/// Runs the pipeline for one Application and writes what it found.
pub(crate) async fn reconcile(app: Arc<Application>, ctx: Arc<Context>) -> Result<Action, ControllerError> {
    if app.metadata.deletion_timestamp.is_some() {
        return crate::finalizer::finalize(&app, &ctx).await;
    }
    let pass = pipeline(&app, &ctx).await;
    let outcome = report(&app, &ctx, &pass).await?;
    crate::metrics::metrics().outcome(&outcome);
    let next = pass.look_again.unwrap_or_else(|| next_look(&pass.outcome, &ctx));
    crate::queue_wait::due_in(&app, next);
    Ok(Action::requeue(next))
}

/// Retries a reconcile that failed on the controller's side (not the Application's) with a short delay.
pub(crate) fn error_policy(app: Arc<Application>, error: &ControllerError, _ctx: Arc<Context>) -> Action {
    warn!(app = %app_name(&app), %error, "reconcile failed; retrying");
    crate::metrics::metrics().outcome(crate::metrics::CONTROLLER_ERROR);
    let next = jittered(Duration::from_secs(10));
    crate::queue_wait::due_in(&app, next);
    Action::requeue(next)
}

/// Everything one pass of the pipeline learned, from which the status is built.
struct Pass {
    /// How far the pipeline got and what it found.
    outcome: Outcome,
    /// What the fetch said about the source (`None` when the pass stopped before fetching).
    source: Option<SourceReport>,
    /// Writes the sync made.
    written: Written,
    /// Look again sooner than the resync period (a sync waiting on a wave or hook, a retry due).
    look_again: Option<Duration>,
    /// The rollback in force after this pass; `None` when the pass stopped before knowing (the
    /// status keeps the previous one).
    rollback: Option<Option<RollbackStatus>>,
}

impl From<Outcome> for Pass {
    fn from(outcome: Outcome) -> Self {
        Self { outcome, source: None, written: Written::default(), look_again: None, rollback: None }
    }
}

/// Where, under which project and as whom a revision is synced, as the pipeline resolved it.
struct Destination {
    target: Arc<ClusterTarget>,
    project: Project,
    account: Option<ServiceAccount>,
    deployer: Option<Arc<Deployer>>,
    namespace: String,
}

async fn pipeline(app: &Application, ctx: &Context) -> Pass {
    if let Some(message) = invalid_spec(&app.spec) {
        return Outcome::Stopped { reason: reason::INVALID_SPEC, message, revision: None }.into();
    }
    if let Err(err) = lockstep_render::check_value_refs(&app.spec.all_sources()) {
        return Outcome::Stopped { reason: err.error.reason().as_str(), message: err.to_string(), revision: None }
            .into();
    }
    let target = match ctx.clusters.resolve(&app.spec.destination).await {
        Ok(target) => target,
        Err(err) => return Outcome::Stopped { reason: err.reason(), message: err.message(), revision: None }.into(),
    };
    let cluster = &target.identity;
    let controller_namespace = &ctx.config.controller_namespace;
    let namespace = lockstep_render::destination_namespace(app);
    let project =
        match crate::projects::admit(&ctx.client, &ctx.lookups, controller_namespace, app, cluster, &namespace).await {
            Ok(project) => project,
            Err(message) => {
                return Outcome::Stopped { reason: reason::PROJECT_VIOLATION, message, revision: None }.into();
            }
        };
    if let Err(message) = target.reachable(false).await {
        return Outcome::Stopped { reason: reason::CLUSTER_UNREACHABLE, message, revision: None }.into();
    }
    let (account, deployer) = match crate::identity::deployer_for(app, ctx, &target, &project, &namespace).await {
        Ok(identity) => identity,
        Err(message) => return Outcome::Stopped { reason: reason::FORBIDDEN, message, revision: None }.into(),
    };
    let fetched = match fetch_all(app, ctx, Some(&project)).await {
        Ok(fetched) => fetched,
        Err(err) => return fetch_failure(err).into(),
    };
    let source = crate::fetch::report_of(app, &fetched);
    let destination = Destination { target, project, account, deployer, namespace };
    let mut pass = match rollback_of(app, &fetched.revision) {
        Err(message) => {
            let revision = Some(fetched.revision);
            Outcome::Stopped { reason: reason::INVALID_SPEC, message, revision }.into()
        }
        Ok(Some(rollback)) if rollback.active => {
            let mut pass = sync_rollback(app, ctx, &destination, &rollback).await;
            pass.rollback = Some(Some(rollback));
            pass
        }
        Ok(rollback) => {
            let mut pass = sync_revision(app, ctx, &destination, fetched, None).await;
            pass.rollback = Some(rollback);
            pass
        }
    };
    pass.source = Some(source);
    pass
}

/// The rollback in force, from the `lockstep.dev/rollback` annotation, the status and the revision
/// git's target resolved to (which ends a rollback asked to last until a new commit). A
/// multi-source Application cannot be rolled back yet: asking for it is an invalid spec.
fn rollback_of(app: &Application, head: &str) -> Result<Option<RollbackStatus>, String> {
    let status = app.status.as_ref();
    let annotation = app.annotations().get(ROLLBACK_ANNOTATION).map(String::as_str);
    if app.spec.is_multi_source() && annotation.is_some_and(|a| !a.trim().is_empty()) {
        return Err(format!("{ROLLBACK_ANNOTATION}: rollback of a multi-source Application is not supported"));
    }
    lockstep_policy::rollback::rollback(
        annotation,
        status.and_then(|s| s.rollback.as_ref()),
        status.map(|s| s.history.as_slice()).unwrap_or_default(),
        &app.spec.source.clone().unwrap_or_default(),
        head,
        &Time(Timestamp::now()),
    )
}

/// Syncs a rollback's history entry instead of git's target: its source, pinned to its commit
/// (served from the cache when the repository is unreachable), through the same pipeline, asked
/// for once as a sync request so that automation and self-heal then keep it in place.
async fn sync_rollback(app: &Application, ctx: &Context, destination: &Destination, rollback: &RollbackStatus) -> Pass {
    let mut pinned = app.clone();
    pinned.spec.source = Some(lockstep_policy::rollback::pinned_source(rollback));
    let fetched = match fetch_all(&pinned, ctx, None).await {
        Ok(fetched) => fetched,
        Err(err) => return fetch_failure(err).into(),
    };
    let mut effective = app.clone();
    effective.spec.source = Some(rollback.source.clone());
    let request = lockstep_policy::rollback::sync_request(rollback);
    sync_revision(&effective, ctx, destination, fetched, Some(request)).await
}

/// Renders the fetched revision (every source of it), checks it against the project, then compares and (as the sync
/// policy and the gates decide) applies and prunes it. `request` stands in for the sync-request
/// annotation (a rollback's).
async fn sync_revision(
    app: &Application,
    ctx: &Context,
    destination: &Destination,
    fetched: Fetched,
    request: Option<String>,
) -> Pass {
    let Destination { target, project, account, deployer, namespace } = destination;
    let cluster = &target.identity;
    let revision = fetched.revision.clone();
    crate::instrument::record_revision(app, &revision);
    let manifests = match render_all(ctx, target, app, &fetched).await {
        Ok(rendered) => rendered.manifests,
        Err(err) => return render_failure(err, &revision).into(),
    };
    let checked = crate::projects::check_objects(project, cluster, &target.engine, &manifests, namespace).await;
    if let Err(message) = checked {
        let revision = Some(revision);
        return Outcome::Stopped { reason: reason::PROJECT_VIOLATION, message, revision }.into();
    }
    let last_operation = app.status.as_ref().and_then(|s| s.operation_state.as_ref());
    let sync_request =
        request.as_deref().or_else(|| app.annotations().get(SYNC_REQUEST_ANNOTATION).map(String::as_str));
    let now = Time(Timestamp::now());
    let listed = app.status.as_ref().and_then(|s| s.inventory.clone()).unwrap_or_default();
    if !target.watches.knows(&ObjectRef::from_obj(app)) {
        // First pass since start: watch the inventory's kinds and git's before comparing, so that
        // objects carrying this Application's tracking id outside the inventory are found in this
        // pass, and objects no watch holds are created without a read first.
        let rendered = manifests.iter().map(|m| ResourceKey::of(&m.object));
        let kinds = inventory::of(inventory::keys(&listed).chain(rendered));
        watch_managed_kinds(app, ctx, target, &kinds, &[]).await;
    }
    let spec_changed = app.metadata.generation != app.status.as_ref().and_then(|s| s.observed_generation);
    let mut decision = policy::decide(&app.spec, sync_request, last_operation, &revision, spec_changed, &now);
    let gates = match crate::gates::gates(app, ctx, target, project, namespace, now.0).await {
        Ok(gates) => gates,
        Err(message) => {
            let revision = Some(revision);
            return Outcome::Stopped { reason: reason::PROJECT_VIOLATION, message, revision }.into();
        }
    };
    let held = hold(&mut decision, &gates);
    if let Some(held) = &held {
        crate::metrics::metrics().held(held.reason);
    }
    let automated = app.spec.sync_policy.as_ref().and_then(|p| p.automated.as_ref());
    let elapsed = now.0.as_second() - decision.started_at.0.as_second();
    let options = SyncOptions {
        app: app_ref(app),
        default_namespace: lockstep_render::destination_namespace(app),
        apply: decision.apply,
        heal_only: decision.heal_only,
        operation_recorded: decision.continuing,
        prune: decision.prune,
        allow_empty: automated.is_some_and(|a| a.allow_empty),
        previous: inventory::with_found(
            app.status.as_ref().and_then(|s| s.inventory.as_ref()),
            target.watches.owned_by(&app_ref(app)),
        ),
        operation_id: decision.operation_id(&revision),
        hooks_done: decision.hooks_done.iter().map(policy::hook_run).collect(),
        timed_out: elapsed > i64::try_from(ctx.config.sync_timeout.as_secs()).unwrap_or(i64::MAX),
        ignore_differences: app.spec.ignore_differences.clone(),
        sync_options: app.spec.sync_policy.as_ref().map(|p| p.sync_options.clone()).unwrap_or_default(),
        drift: app.spec.sync_policy.as_ref().and_then(|p| p.drift).unwrap_or_default(),
        previous_objects: crate::drift::previous_objects(app, ctx, target, &manifests, &revision).await,
    };
    let engine = deployer.as_ref().map_or(&target.engine, |d| &d.engine);
    let result = engine.sync(&manifests, &options).await;
    let failed = matches!(result.progress, Progress::Failed(_)) || result.resources.iter().any(|r| r.error.is_some());
    if failed && let Err(message) = target.reachable(true).await {
        let revision = Some(revision);
        return Outcome::Stopped { reason: reason::CLUSTER_UNREACHABLE, message, revision }.into();
    }
    if let Some(denied) = lockstep_policy::outcome::denial(&result) {
        let who = account.as_ref().map_or_else(|| "the controller".to_string(), ToString::to_string);
        let message = format!("as {who}: {denied}");
        return Outcome::Stopped { reason: reason::FORBIDDEN, message, revision: Some(revision) }.into();
    }
    crate::metrics::metrics().drifted(&app_ref(app), &result.drifted());
    let written = result.written();
    if written.any() {
        let Written { created, updated, pruned } = written;
        info!(app = %app_name(app), %revision, created, updated, pruned, "applied");
    }
    let pass = SyncPass {
        spec: &app.spec,
        revision: &revision,
        written,
        progress: &result.progress,
        hooks: &result.hooks,
        now: Time(Timestamp::now()),
    };
    let operation = policy::record(&decision, pass, last_operation);
    let look_again = match (&result.progress, decision.apply) {
        (Progress::Waiting(_), true) if !decision.continuing => Some(RECORDED_POLL),
        (Progress::Waiting(_), true) => Some(WAITING_POLL),
        (Progress::Failed(why), true) if why.is_transient() => Some(jittered(ctx.config.fetch_retry_period)),
        _ => decision.retry_in.or_else(|| operation.as_ref().and_then(|op| policy::retry_delay(&app.spec, op))),
    };
    let look_again = match held.as_ref().and_then(|h| h.until) {
        Some(until) => Some(until_then(until).min(look_again.unwrap_or(Duration::MAX))),
        None => look_again,
    };
    let managed = inventory::managed(&result, &options.app, options.previous.as_ref());
    watch_managed_kinds(app, ctx, target, &managed, &result.hooks).await;
    let outcome = Outcome::Compared {
        revision,
        inventory: managed,
        prune_blocked: result.prune_blocked.clone(),
        progress: if decision.apply { result.progress.clone() } else { Progress::Complete },
        drifted: result.drifted(),
        resources: lockstep_policy::outcome::assessed(result),
        automated: automated.is_some(),
        operation: operation.map(Box::new),
        history_limit: app.spec.revision_history_limit.and_then(|l| usize::try_from(l).ok()).unwrap_or(DEFAULT_HISTORY),
        held: held.map(Box::new),
    };
    Pass { outcome, source: None, written, look_again, rollback: None }
}

/// How long until `until` (a sync window's end), at least a second so a clock step cannot spin.
fn until_then(until: Timestamp) -> Duration {
    let seconds = until.as_second() - Timestamp::now().as_second();
    Duration::from_secs(u64::try_from(seconds).unwrap_or(0).max(1))
}

/// Makes sure every kind the Application manages is watched, so drift and health changes trigger it.
async fn watch_managed_kinds(
    app: &Application,
    ctx: &Context,
    target: &ClusterTarget,
    managed: &Inventory,
    hooks: &[HookRun],
) {
    let mut kinds = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let keys = inventory::keys(managed).chain(hooks.iter().map(|h| h.key.clone()));
    for key in keys {
        if seen.insert((key.group.clone(), key.version.clone(), key.kind.clone()))
            && let Some(resource) = target.engine.resource_of(&key).await
        {
            kinds.push(resource);
        }
    }
    ctx.clusters.track(ObjectRef::from_obj(app), target, kinds).await;
}

fn fetch_failure(err: FetchFailure) -> Outcome {
    Outcome::Stopped { reason: err.error.reason().as_str(), message: err.to_string(), revision: None }
}

fn render_failure(err: SourcesRenderError, revision: &str) -> Outcome {
    let why = err.error.reason().as_str();
    let shown: Vec<&str> = revision.split(',').map(lockstep_policy::status::short).collect();
    let message = format!("{err} (revision {})", shown.join(","));
    Outcome::Stopped { reason: why, message, revision: Some(revision.to_string()) }
}

/// Writes the status if it changed and publishes the Events that change deserves; returns the
/// reason of the `Ready` condition.
async fn report(app: &Application, ctx: &Context, pass: &Pass) -> Result<String, ControllerError> {
    let now = Time(Timestamp::now());
    let previous = app.status.as_ref();
    let mut status = next_status(previous, app.metadata.generation, &pass.outcome, &now);
    lockstep_policy::multi_source::fill_revisions(&app.spec, &mut status);
    lockstep_policy::source_status::apply(previous, pass.source.as_ref(), &mut status, &now);
    let rollback = pass.rollback.clone().unwrap_or_else(|| previous.and_then(|p| p.rollback.clone()));
    let marks = Marks { paused: crate::gates::paused(app, ctx), rollback };
    lockstep_policy::status::mark(&mut status, previous, &marks, &now);
    status.observed_refresh = app.annotations().get(REFRESH_ANNOTATION).cloned();
    let ready = status.conditions.iter().find(|c| c.type_ == READY).map(|c| c.reason.clone()).unwrap_or_default();
    let key = (app.namespace().unwrap_or_default(), app.name_any());
    let cached = app.metadata.resource_version.as_deref();
    if !changed(previous, &status) || ctx.written.already_written(&key, cached, &status) {
        return Ok(ready);
    }
    status.reconciled_at = Some(now);
    write_status(app, ctx, &status).await?;
    ctx.written.record(key, app.metadata.resource_version.clone(), &status);
    for event in events_for(previous, &status, pass.written) {
        let event = Event {
            type_: if event.warning { EventType::Warning } else { EventType::Normal },
            reason: event.reason,
            note: Some(event.note),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(err) = ctx.recorder.publish(&event, &app.object_ref(&())).await {
            warn!(app = %app_name(app), err = %one_line(&err), "publishing event failed");
        }
    }
    Ok(ready)
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

/// Failures that may clear by themselves are retried soon; everything else waits for the resync
/// period or a trigger.
fn next_look(outcome: &Outcome, ctx: &Context) -> Duration {
    match outcome {
        Outcome::Stopped { reason: why, .. } if reason::retried_soon(why) => jittered(ctx.config.fetch_retry_period),
        _ => jittered(ctx.config.resync_period),
    }
}

fn app_ref(app: &Application) -> AppRef {
    AppRef { namespace: app.namespace().unwrap_or_default(), name: app.name_any() }
}

fn app_name(app: &Application) -> String {
    format!("{}/{}", app.namespace().unwrap_or_default(), app.name_any())
}
