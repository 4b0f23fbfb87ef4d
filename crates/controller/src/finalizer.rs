//! Deleting an Application: with the finalizer `resources-finalizer.lockstep.dev` (or Argo CD's
//! `resources-finalizer.argocd.argoproj.io`), the deployed revision's PreDelete hooks run and must
//! succeed first ([`crate::pre_delete`]); then what its inventory lists is deleted, in reverse
//! apply order, one kind group at a time and each group gone before the next, and the PreDelete
//! hook objects last; only objects that still carry the Application's tracking id are touched.
//! Then the finalizer is removed. Without the finalizer the objects stay where they are.
//!
//! A pass never blocks for long: it deletes what it can, and looks again shortly while objects are
//! still going away. Which finalizer and in which order are decided by [`lockstep_policy::deletion`].

use std::time::Duration;

use futures::{StreamExt, stream};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use lockstep_api::conditions::READY;
use lockstep_api::kube_error::message;
use lockstep_api::kube_error::one_line;
use lockstep_api::{Application, FIELD_MANAGER, PreDeleteStatus};
use lockstep_engine::{AppRef, Engine, ResourceKey, inventory};
use lockstep_policy::deletion::{batches, finalizer_of};
use lockstep_policy::sync_policy::hook_run;
use serde_json::json;
use tracing::{info, warn};

use crate::context::Context;
use crate::error::ControllerError;

/// Reason of the Ready condition while the Application's objects are being deleted.
pub const DELETING: &str = "Deleting";
/// Objects deleted at once.
const CONCURRENCY: usize = 16;
/// How soon to look again while objects are going away.
const POLL: Duration = Duration::from_secs(1);
/// How soon to try again after the server refused a deletion.
const RETRY: Duration = Duration::from_secs(10);

/// What became of one object in a deletion pass.
enum Fate {
    /// It is gone, or it is not ours to delete.
    Gone,
    /// It is being deleted.
    Going,
    /// The server refused; the message names the object.
    Refused(String),
}

/// Finalizes a deleted Application: deletes its objects when it carries the finalizer, then
/// removes the finalizer.
pub(crate) async fn finalize(app: &Application, ctx: &Context) -> Result<Action, ControllerError> {
    let Some(finalizer) = finalizer_of(&app.metadata.finalizers.clone().unwrap_or_default()).map(String::from) else {
        ctx.forget(ObjectRef::from_obj(app)).await;
        return Ok(Action::await_change());
    };
    let propagation =
        if finalizer.ends_with("/background") { PropagationPolicy::Background } else { PropagationPolicy::Foreground };
    let owner = AppRef { namespace: app.namespace().unwrap_or_default(), name: app.name_any() };
    let listed = app.status.as_ref().and_then(|s| s.inventory.clone()).unwrap_or_default();
    let total = listed.len();
    let target = match ctx.clusters.resolve(&app.spec.destination).await {
        Ok(target) => target,
        Err(err) => {
            let message = format!("deleting the Application's objects: {}", err.message());
            warn!(app = %owner.name, namespace = %owner.namespace, %message);
            report(app, ctx, &Deletion::refused(&message)).await;
            return Ok(Action::requeue(RETRY));
        }
    };
    // Deletions run as the Application's ServiceAccount, as its applies did.
    // Without its project the right ServiceAccount is unknown: fail closed rather than delete with
    // the controller's own rights.
    let project = match crate::projects::load(&ctx.client, &ctx.lookups, &ctx.config.controller_namespace, app).await {
        Ok(project) => project,
        Err(why) => {
            let message = format!(
                "deleting the Application's objects: {why}; waiting for the project, since its \
                 destinationServiceAccounts decide who may delete (remove the finalizer to leave the objects)"
            );
            warn!(app = %owner.name, namespace = %owner.namespace, %message);
            report(app, ctx, &Deletion::refused(&message)).await;
            return Ok(Action::requeue(RETRY));
        }
    };
    let namespace = lockstep_render::destination_namespace(app);
    let deployer = match crate::identity::deployer_for(app, ctx, &target, &project, &namespace).await {
        Ok((_, deployer)) => deployer,
        Err(message) => {
            report(app, ctx, &Deletion::refused(&format!("deleting the Application's objects: {message}"))).await;
            return Ok(Action::requeue(RETRY));
        }
    };
    let deleter = deployer.as_ref().map_or((&target.client, &target.engine), |d| (&d.client, &d.engine));
    if let Some(later) = crate::pre_delete::hold_for_hooks(app, ctx, &target, &project, deleter.1, &namespace).await {
        return Ok(Action::requeue(later));
    }
    let hooks = pre_delete_hooks(app.status.as_ref().and_then(|s| s.pre_delete.as_ref()));
    for batch in batches(inventory::stale(Some(&listed), &[])).into_iter().chain([hooks]).filter(|b| !b.is_empty()) {
        let pending: Vec<_> = batch.iter().map(|key| delete_one(deleter, key, &owner, &propagation)).collect();
        let fates: Vec<Fate> = stream::iter(pending).buffered(CONCURRENCY).collect().await;
        let refused: Vec<String> =
            fates.iter().filter_map(|f| if let Fate::Refused(why) = f { Some(why.clone()) } else { None }).collect();
        if let Some(first) = refused.first() {
            let message = format!("deleting the Application's objects: {} refused: {first}", refused.len());
            warn!(app = %owner.name, namespace = %owner.namespace, %message);
            report(app, ctx, &Deletion::refused(&message)).await;
            return Ok(Action::requeue(RETRY));
        }
        let going = fates.iter().filter(|f| matches!(f, Fate::Going)).count();
        if going > 0 {
            let kind = batch.first().map(|k| k.kind.clone()).unwrap_or_default();
            let message =
                format!("deleting the Application's {total} objects: waiting for {going} {kind} objects to go");
            report(app, ctx, &Deletion::waiting(&message)).await;
            return Ok(Action::requeue(POLL));
        }
    }
    remove_finalizer(app, ctx, &finalizer).await?;
    ctx.forget(ObjectRef::from_obj(app)).await;
    info!(app = %owner.name, namespace = %owner.namespace, objects = total, "deleted the Application's objects");
    Ok(Action::await_change())
}

/// Deletes one object if it is still this Application's (its uid pinned, so a replacement created
/// meanwhile is not touched).
async fn delete_one(
    (client, engine): (&Client, &Engine),
    key: &ResourceKey,
    owner: &AppRef,
    propagation: &PropagationPolicy,
) -> Fate {
    let Some(resource) = engine.resource_of(key).await else { return Fate::Gone };
    let api: Api<DynamicObject> = match &key.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let live = match api.get_opt(&key.name).await {
        Ok(Some(live)) => live,
        Ok(None) => return Fate::Gone,
        Err(err) => return Fate::Refused(format!("{key}: {}", message(&err))),
    };
    let ours = live.annotations().get(lockstep_engine::tracking::TRACKING_ANNOTATION) == Some(&owner.tracking_id(key));
    if !ours {
        return Fate::Gone;
    }
    if live.metadata.deletion_timestamp.is_some() {
        return Fate::Going;
    }
    let params = DeleteParams {
        propagation_policy: Some(propagation.clone()),
        preconditions: Some(Preconditions { uid: live.metadata.uid.clone(), resource_version: None }),
        ..Default::default()
    };
    match api.delete(&key.name, &params).await {
        Ok(_) => Fate::Going,
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Fate::Going,
        Err(err) => Fate::Refused(format!("{key}: {}", message(&err))),
    }
}

/// Removes the finalizer, pinned to the resourceVersion read, so a concurrent change is not lost.
async fn remove_finalizer(app: &Application, ctx: &Context, finalizer: &str) -> Result<(), ControllerError> {
    let remaining: Vec<String> =
        app.metadata.finalizers.clone().unwrap_or_default().into_iter().filter(|f| f != finalizer).collect();
    let patch = json!({"metadata": {"resourceVersion": app.resource_version(), "finalizers": remaining}});
    let api: Api<Application> = Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
    match api.patch(&app.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(ControllerError::WriteStatus {
            app: format!("{}/{}", app.namespace().unwrap_or_default(), app.name_any()),
            source,
        }),
    }
}

/// The PreDelete hook objects a deletion ran (deleted after the inventory, whatever their delete
/// policy: no later run would ever replace them).
fn pre_delete_hooks(recorded: Option<&PreDeleteStatus>) -> Vec<ResourceKey> {
    recorded.map(|r| r.hooks.iter().map(|h| hook_run(h).key).collect()).unwrap_or_default()
}

/// What a deletion pass says on the Application's Ready condition.
pub(crate) struct Deletion<'a> {
    /// The condition's reason.
    pub reason: &'a str,
    /// Its message.
    pub message: &'a str,
    /// A Warning Event's reason, when the deletion is refused or blocked.
    pub warning: Option<&'a str>,
    /// The PreDelete hooks' record to write; `None` keeps the status's.
    pub pre_delete: Option<&'a PreDeleteStatus>,
}

impl<'a> Deletion<'a> {
    /// The server or the setup refused part of the deletion.
    fn refused(message: &'a str) -> Self {
        Self { reason: DELETING, message, warning: Some("DeletionFailed"), pre_delete: None }
    }

    /// The deletion waits for objects to go.
    fn waiting(message: &'a str) -> Self {
        Self { reason: DELETING, message, warning: None, pre_delete: None }
    }
}

/// Says on the Application's Ready condition (and, for a warning, in an Event) what the deletion
/// waits for; whether the status now says so (written, or already so). Failing to report does not
/// stop the deletion.
pub(crate) async fn report(app: &Application, ctx: &Context, deletion: &Deletion<'_>) -> bool {
    let Deletion { reason, message, warning, pre_delete } = *deletion;
    let previous = app.status.as_ref().and_then(|s| s.conditions.iter().find(|c| c.type_ == READY));
    let recorded = app.status.as_ref().and_then(|s| s.pre_delete.as_ref());
    if previous.is_some_and(|c| c.reason == reason && c.message == message)
        && pre_delete.is_none_or(|p| Some(p) == recorded)
    {
        return true;
    }
    let now = Time(Timestamp::now());
    let condition = Condition {
        type_: READY.into(),
        status: "False".into(),
        reason: reason.into(),
        message: message.into(),
        last_transition_time: previous
            .filter(|c| c.status == "False")
            .map(|c| c.last_transition_time.clone())
            .unwrap_or(now),
        observed_generation: app.metadata.generation,
    };
    let mut status = app.status.clone().unwrap_or_default();
    status.conditions.retain(|c| c.type_ != READY);
    status.conditions.push(condition);
    if let Some(pre_delete) = pre_delete {
        status.pre_delete = Some(pre_delete.clone());
    }
    let body = json!({"apiVersion": Application::api_version(&()), "kind": Application::kind(&()), "status": status});
    let api: Api<Application> = Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
    let written =
        api.patch_status(&app.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body)).await;
    if let Err(err) = &written {
        warn!(app = %app.name_any(), err = %one_line(err), "writing deletion status failed");
    }
    if let Some(reason) = warning {
        let event = Event {
            type_: EventType::Warning,
            reason: reason.into(),
            note: Some(message.chars().take(1000).collect()),
            action: "Delete".into(),
            secondary: None,
        };
        if let Err(err) = ctx.recorder.publish(&event, &app.object_ref(&())).await {
            warn!(app = %app.name_any(), err = %one_line(&err), "publishing event failed");
        }
    }
    written.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::{HookResult, HookType, OperationPhase};

    #[test]
    fn the_hooks_that_ran_are_deleted_too() {
        assert!(pre_delete_hooks(None).is_empty(), "no PreDelete hooks ran");
        let ran = HookResult {
            group: "batch".into(),
            version: "v1".into(),
            kind: "Job".into(),
            namespace: Some("web".into()),
            name: "backup".into(),
            hook_type: HookType::PreDelete,
            hook_phase: OperationPhase::Succeeded,
            message: None,
        };
        let recorded =
            PreDeleteStatus { phase: OperationPhase::Succeeded, message: None, revision: None, hooks: vec![ran] };
        let keys = pre_delete_hooks(Some(&recorded));
        assert_eq!(keys.iter().map(ToString::to_string).collect::<Vec<_>>(), vec!["Job web/backup".to_string()]);
    }
}
