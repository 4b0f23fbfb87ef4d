//! Applications that do not decode as lockstep's types (a CRD older or newer than the controller,
//! a status written by hand): each is taken out of the watch, reported on its own Ready condition
//! and in a Warning Event, and the other Applications go on. Without this, one such object fails
//! every listing and stalls the controller (kube-rs's `DeserializeGuard`, as Stackable uses it).

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::{DeserializeGuard, error_boundary::InvalidObject};
use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::runtime::watcher::Event;
use lockstep_api::Application;
use lockstep_api::conditions::{READY, reason};
use lockstep_api::kube_error::one_line;
use serde_json::json;
use tracing::warn;

use crate::context::Context;

/// The watch event to pass on, and the object to report, for one event of the guarded watch.
/// An undecodable object that was applied or deleted leaves the cache (a stub carrying its
/// metadata is deleted), so its last decodable version is not reconciled in its place.
pub(crate) fn split(
    event: Event<DeserializeGuard<Application>>,
) -> (Option<Event<Application>>, Option<InvalidObject>) {
    match event {
        Event::Init => (Some(Event::Init), None),
        Event::InitDone => (Some(Event::InitDone), None),
        Event::InitApply(DeserializeGuard(Ok(app))) => (Some(Event::InitApply(app)), None),
        Event::Apply(DeserializeGuard(Ok(app))) => (Some(Event::Apply(app)), None),
        Event::Delete(DeserializeGuard(Ok(app))) => (Some(Event::Delete(app)), None),
        Event::InitApply(DeserializeGuard(Err(bad))) => (None, Some(bad)),
        Event::Apply(DeserializeGuard(Err(bad))) => (Some(Event::Delete(stub(&bad))), Some(bad)),
        Event::Delete(DeserializeGuard(Err(bad))) => (Some(Event::Delete(stub(&bad))), None),
    }
}

fn stub(bad: &InvalidObject) -> Application {
    let mut app = Application::new(bad.metadata.name.as_deref().unwrap_or_default(), Default::default());
    app.metadata = bad.metadata.clone();
    app
}

/// Undecodable Applications waiting to be reported, and what was last reported per Application
/// (`namespace/name` → uid and error), so that the status write a report makes, which the watch
/// sees again, is not reported once more. Only the leader reports; what a follower saw waits here
/// until it leads.
#[derive(Default)]
pub(crate) struct Reported(Mutex<State>);

#[derive(Default)]
struct State {
    pending: HashMap<String, InvalidObject>,
    done: HashMap<String, (Option<String>, String)>,
}

fn key_of(namespace: Option<&str>, name: Option<&str>) -> String {
    format!("{}/{}", namespace.unwrap_or_default(), name.unwrap_or_default())
}

impl Reported {
    /// Records an undecodable object, unless this object and error were reported already.
    pub(crate) fn note(&self, bad: InvalidObject) {
        let key = key_of(bad.metadata.namespace.as_deref(), bad.metadata.name.as_deref());
        let seen = (bad.metadata.uid.clone(), bad.error.clone());
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if state.done.get(&key) != Some(&seen) {
            state.pending.insert(key, bad);
        }
    }

    /// The Application decodes again (or is gone): a later breakage is reported anew.
    pub(crate) fn fixed(&self, namespace: Option<&str>, name: &str) {
        let key = key_of(namespace, Some(name));
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        state.pending.remove(&key);
        state.done.remove(&key);
    }

    /// Takes what waits to be reported, marking it reported.
    fn take(&self) -> Vec<InvalidObject> {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let pending: Vec<InvalidObject> = state.pending.drain().map(|(_, bad)| bad).collect();
        for bad in &pending {
            let key = key_of(bad.metadata.namespace.as_deref(), bad.metadata.name.as_deref());
            state.done.insert(key, (bad.metadata.uid.clone(), bad.error.clone()));
        }
        pending
    }
}

/// Reports every undecodable Application noted since the last call.
pub(crate) async fn report_pending(ctx: &Context) {
    for bad in ctx.undecodable.take() {
        report(ctx, bad).await;
    }
}

/// The message a user reads on the Application.
pub(crate) fn message(error: &str) -> String {
    format!(
        "lockstep cannot read this Application ({error}); nothing is synced or pruned for it until it \
         is fixed: correct its spec, or its status with `kubectl edit --subresource=status`"
    )
}

/// Sets the Ready condition and publishes a Warning Event on the undecodable object.
async fn report(ctx: &Context, bad: InvalidObject) {
    let name = bad.metadata.name.clone().unwrap_or_default();
    let namespace = bad.metadata.namespace.clone().unwrap_or_default();
    let message = message(&bad.error);
    warn!(app = %name, %namespace, error = %bad.error, "an Application does not decode; leaving it out");
    let condition = Condition {
        type_: READY.into(),
        status: "False".into(),
        reason: reason::INVALID_SPEC.into(),
        message: message.clone(),
        last_transition_time: Time(Timestamp::now()),
        observed_generation: bad.metadata.generation,
    };
    let resource = ApiResource::erase::<Application>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &namespace, &resource);
    let patch = json!({"status": {"conditions": [condition]}});
    if let Err(err) = api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
        warn!(app = %name, %namespace, err = %one_line(&err), "writing the condition of an undecodable Application failed");
    }
    let reference = ObjectReference {
        api_version: Some(Application::api_version(&()).into_owned()),
        kind: Some(Application::kind(&()).into_owned()),
        name: Some(name.clone()),
        namespace: Some(namespace),
        uid: bad.metadata.uid.clone(),
        ..Default::default()
    };
    let event = KubeEvent {
        type_: EventType::Warning,
        reason: reason::INVALID_SPEC.into(),
        note: Some(message.chars().take(1000).collect()),
        action: "Read".into(),
        secondary: None,
    };
    if let Err(err) = ctx.recorder.publish(&event, &reference).await {
        warn!(app = %name, err = %one_line(&err), "publishing event failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::ResourceExt;
    use kube::api::ObjectMeta;

    fn bad(error: &str) -> InvalidObject {
        let metadata = ObjectMeta {
            name: Some("broken".into()),
            namespace: Some("team".into()),
            uid: Some("u1".into()),
            ..Default::default()
        };
        InvalidObject { error: error.into(), metadata }
    }

    #[test]
    fn undecodable_objects_leave_the_watch_and_are_reported_once() {
        let (passed, reported) = split(Event::InitApply(DeserializeGuard(Err(bad("e")))));
        assert!(passed.is_none() && reported.is_some(), "a listing leaves it out");
        let (passed, reported) = split(Event::Apply(DeserializeGuard(Err(bad("e")))));
        let Some(Event::Delete(stub)) = passed else { panic!("an update to undecodable drops the cached copy") };
        assert_eq!((stub.name_any(), stub.namespace()), ("broken".to_string(), Some("team".into())));
        assert!(reported.is_some());
        let (passed, reported) = split(Event::Delete(DeserializeGuard(Err(bad("e")))));
        assert!(matches!(passed, Some(Event::Delete(_))) && reported.is_none());
        let good = Application::new("fine", Default::default());
        let (passed, reported) = split(Event::Apply(DeserializeGuard(Ok(good))));
        assert!(matches!(passed, Some(Event::Apply(app)) if app.name_any() == "fine") && reported.is_none());

        let reported = Reported::default();
        reported.note(bad("e"));
        assert_eq!(reported.take().len(), 1);
        reported.note(bad("e"));
        assert!(reported.take().is_empty(), "our own status write comes back as the same error");
        reported.note(bad("another"));
        assert_eq!(reported.take().len(), 1, "a new error is reported");
        reported.fixed(Some("team"), "broken");
        reported.note(bad("another"));
        assert_eq!(reported.take().len(), 1, "broken again after a fix");
        assert!(message("x").contains("kubectl edit --subresource=status"));
    }
}
