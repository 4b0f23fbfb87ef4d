//! Watches of the objects Applications manage: one watch per kind in use, shared by all Applications
//! and selecting only objects labelled as managed, so memory follows what lockstep manages rather
//! than the size of the cluster. A change to a managed object triggers its Application. Kinds whose
//! health reads status ([`carries_status`]) are watched whole and each object's status is kept
//! ([`WatchedState`]), so a change of status alone is answered without a read; others are watched
//! by metadata only.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedSender;
use futures::stream::BoxStream;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::discovery::ApiResource;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use lockstep_api::Application;
use lockstep_engine::annotations::{HOOK, HOOK_OPERATION};
use lockstep_engine::tracking::{MANAGED_LABEL, TRACKING_ANNOTATION, owner_of};
use lockstep_engine::{LiveVersions, ResourceKey, WatchedState, WatchedStatus, carries_status};
use tokio::task::JoinHandle;
use tracing::debug;

use crate::owned::{KindId, OwnedIndex, Seen};
use crate::settle::{Settling, settles};

/// The set of running watches and which Application uses which kinds.
pub struct ManagedWatches {
    client: Client,
    /// Only Applications in this namespace are triggered (the controller's `--watch-namespace`).
    app_namespace: Option<String>,
    trigger: UnboundedSender<ObjectRef<Application>>,
    state: Arc<Mutex<WatchState>>,
}

/// How long a reconcile waits for a new watch's initial listing before it goes on regardless.
const WATCH_READY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct WatchState {
    by_app: HashMap<ObjectRef<Application>, HashSet<KindId>>,
    running: HashMap<KindId, RunningWatch>,
    /// Which Application's tracking id each watched object carries.
    owned: OwnedIndex,
}

/// A watch task and whether its initial listing is done.
struct RunningWatch {
    task: JoinHandle<()>,
    ready: tokio::sync::watch::Receiver<bool>,
}

impl ManagedWatches {
    /// Watches that send the Application owning a changed object to `trigger`.
    pub fn new(
        client: Client,
        app_namespace: Option<String>,
        trigger: UnboundedSender<ObjectRef<Application>>,
    ) -> Self {
        Self { client, app_namespace, trigger, state: Arc::default() }
    }

    /// Records the kinds `app` manages now; starts watches for kinds new to the controller and stops
    /// those no Application uses any more. Returns once every watch of `app`'s kinds has listed what
    /// exists (or after a timeout), so a change made after the status is written is always seen as
    /// a change rather than folded into a watch's initial listing.
    pub async fn track(&self, app: ObjectRef<Application>, kinds: Vec<ApiResource>) {
        let mut pending = Vec::new();
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let ids: HashSet<KindId> = kinds.iter().map(kind_id).collect();
            state.by_app.insert(app, ids);
            let in_use: HashSet<KindId> = state.by_app.values().flatten().cloned().collect();
            for resource in kinds {
                let id = kind_id(&resource);
                let running = state.running.entry(id).or_insert_with(|| {
                    debug!(kind = %resource.kind, group = %resource.group, "watching managed objects");
                    let (ready_tx, ready) = tokio::sync::watch::channel(false);
                    let watch = watch_kind(
                        self.client.clone(),
                        resource,
                        self.app_namespace.clone(),
                        Triggers { send: self.trigger.clone(), state: self.state.clone() },
                        ready_tx,
                    );
                    RunningWatch { task: tokio::spawn(watch), ready }
                });
                if !*running.ready.borrow() {
                    pending.push(running.ready.clone());
                }
            }
            let stopped: Vec<KindId> = state.running.keys().filter(|id| !in_use.contains(*id)).cloned().collect();
            for id in stopped {
                if let Some(running) = state.running.remove(&id) {
                    running.task.abort();
                }
                state.owned.forget_kind(&id);
            }
        }
        let all_ready = futures::future::join_all(pending.iter_mut().map(|ready| async move {
            // The guard `wait_for` returns is dropped at once: it must not live across an await.
            let _ = ready.wait_for(|listed| *listed).await.map(drop);
        }));
        let _ = tokio::time::timeout(WATCH_READY_TIMEOUT, all_ready).await;
    }
}

impl ManagedWatches {
    /// Whether `app`'s kinds have been recorded since this controller started.
    pub fn knows(&self, app: &ObjectRef<Application>) -> bool {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).by_app.contains_key(app)
    }

    /// What the watches saw of each object's version, for the engines of this cluster.
    pub fn live_versions(&self) -> Arc<dyn LiveVersions> {
        Arc::new(WatchedVersions { state: self.state.clone() })
    }

    /// The objects of the watched kinds whose tracking id names `app`, in or out of its inventory.
    pub fn owned_by(&self, app: &lockstep_engine::AppRef) -> Vec<lockstep_engine::ResourceKey> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).owned.owned_by(app)
    }
}

impl Drop for ManagedWatches {
    /// Stops every watch, as when a cluster's Secret changed and its watches are rebuilt.
    fn drop(&mut self) {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for running in state.running.values() {
            running.task.abort();
        }
    }
}

/// The versions the watches saw, shared with the engines.
struct WatchedVersions {
    state: Arc<Mutex<WatchState>>,
}

impl LiveVersions for WatchedVersions {
    fn resource_version(&self, key: &ResourceKey) -> Option<String> {
        let kind = (key.group.clone(), key.version.clone(), key.kind.clone());
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        // A kind's watch stopped or not listed yet knows nothing (its entries are the last listing's).
        let running = state.running.get(&kind)?;
        if !*running.ready.borrow() {
            return None;
        }
        state.owned.resource_version(&kind, key.namespace.as_deref(), &key.name)
    }

    fn status(&self, key: &ResourceKey) -> Option<WatchedStatus> {
        let kind = (key.group.clone(), key.version.clone(), key.kind.clone());
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let running = state.running.get(&kind)?;
        if !*running.ready.borrow() {
            return None;
        }
        state.owned.status(&kind, key.namespace.as_deref(), &key.name)
    }

    fn absent(&self, key: &ResourceKey) -> bool {
        let kind = (key.group.clone(), key.version.clone(), key.kind.clone());
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let listed = state.running.get(&kind).is_some_and(|running| *running.ready.borrow());
        listed && state.owned.absent(&kind, key.namespace.as_deref(), &key.name)
    }
}

fn kind_id(resource: &ApiResource) -> KindId {
    (resource.group.clone(), resource.version.clone(), resource.kind.clone())
}

/// Where a watch sends the Applications to look at again, and which Applications use which kinds.
struct Triggers {
    send: UnboundedSender<ObjectRef<Application>>,
    state: Arc<Mutex<WatchState>>,
}

impl Triggers {
    /// Sends `app`; false once the controller is gone.
    fn send(&self, app: ObjectRef<Application>) -> bool {
        self.send.unbounded_send(app).is_ok()
    }

    /// Whether `app` already uses the kind `id`: it has been reconciled since the watch started.
    fn tracks(&self, app: &ObjectRef<Application>, id: &KindId) -> bool {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.by_app.get(app).is_some_and(|kinds| kinds.contains(id))
    }

    /// Keeps the owned-object index in step with the watch of kind `id`.
    fn index(&self, id: &KindId, event: &Result<watcher::Event<Observed>, watcher::Error>) {
        let Ok(event) = event else { return };
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let seen = |object: &'_ Observed| {
            let annotations = object.metadata.annotations.as_ref();
            let hook = annotations
                .is_some_and(|a| HOOK.iter().any(|name| a.contains_key(*name)) || a.contains_key(HOOK_OPERATION));
            (
                object.metadata.namespace.clone(),
                object.metadata.name.clone().unwrap_or_default(),
                annotations.and_then(|a| a.get(TRACKING_ANNOTATION)).cloned(),
                hook,
                object.metadata.resource_version.clone(),
            )
        };
        match event {
            watcher::Event::Init => state.owned.relist_started(id),
            watcher::Event::InitDone => state.owned.relist_done(id),
            watcher::Event::InitApply(object) | watcher::Event::Apply(object) => {
                let listing = matches!(event, watcher::Event::InitApply(_));
                let (namespace, name, tracking_id, hook, resource_version) = seen(object);
                let seen = Seen {
                    namespace: namespace.as_deref(),
                    name: &name,
                    tracking_id: tracking_id.as_deref(),
                    hook,
                    resource_version: resource_version.as_deref(),
                    state: object.state.clone(),
                };
                state.owned.applied(id, seen, listing);
            }
            watcher::Event::Delete(object) => {
                state.owned.deleted(
                    id,
                    object.metadata.namespace.as_deref(),
                    object.metadata.name.as_deref().unwrap_or_default(),
                );
            }
        }
    }

    /// Every Application using the kind `id`.
    fn users(&self, id: &KindId) -> Vec<ObjectRef<Application>> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.by_app.iter().filter(|(_, kinds)| kinds.contains(id)).map(|(app, _)| app.clone()).collect()
    }
}

/// What one event of a kind's watch means for the Applications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reaction {
    /// A change: look at the owner again.
    Owner,
    /// Part of a listing: look at the owner again only if it already uses the kind (a reconcile
    /// that stopped waiting for the listing may have missed a change folded into it).
    OwnerIfTracked,
    /// A new listing after the watch was lost: what changed or was deleted meanwhile is unknown,
    /// so every Application using the kind is looked at again.
    Everyone,
    /// The listing is complete.
    Listed,
    Nothing,
}

/// Pure: the reaction to a watch event; `listed_before` tells a relisting from the first listing.
fn reaction<K>(event: &Result<watcher::Event<K>, watcher::Error>, listed_before: bool) -> Reaction {
    match event {
        Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => Reaction::Owner,
        Ok(watcher::Event::InitApply(_)) => Reaction::OwnerIfTracked,
        Ok(watcher::Event::Init) if listed_before => Reaction::Everyone,
        Ok(watcher::Event::InitDone) => Reaction::Listed,
        Ok(watcher::Event::Init) | Err(_) => Reaction::Nothing,
    }
}

/// One watched object: its metadata, and for kinds that [`carries_status`] what is kept of the rest.
struct Observed {
    metadata: ObjectMeta,
    state: Option<WatchedState>,
}

/// The events of the watch of `resource`'s managed objects: whole objects for kinds whose health
/// reads status (only their status is kept), metadata only for the others.
fn observed_events(
    client: Client,
    resource: &ApiResource,
    config: watcher::Config,
) -> BoxStream<'static, Result<watcher::Event<Observed>, watcher::Error>> {
    if carries_status(&resource.group, &resource.kind) {
        let api: Api<DynamicObject> = Api::all_with(client, resource);
        let observed = |object: DynamicObject| {
            let metadata = serde_json::to_value(&object.metadata).unwrap_or_default();
            let state = WatchedState::of(&metadata, object.data.get("status"));
            Observed { metadata: object.metadata, state }
        };
        watcher(api, config).default_backoff().map(move |event| event.map(|e| map_event(e, observed))).boxed()
    } else {
        let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client, resource);
        let observed = |object: PartialObjectMeta<DynamicObject>| Observed { metadata: object.metadata, state: None };
        watcher(api, config).default_backoff().map(move |event| event.map(|e| map_event(e, observed))).boxed()
    }
}

fn map_event<K, T>(event: watcher::Event<K>, convert: impl FnOnce(K) -> T) -> watcher::Event<T> {
    match event {
        watcher::Event::Apply(object) => watcher::Event::Apply(convert(object)),
        watcher::Event::Delete(object) => watcher::Event::Delete(convert(object)),
        watcher::Event::InitApply(object) => watcher::Event::InitApply(convert(object)),
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitDone => watcher::Event::InitDone,
    }
}

/// Streams changes of managed objects of one kind; each change triggers the owning
/// Application, a listing only what it may have hidden (see [`reaction`]).
async fn watch_kind(
    client: Client,
    resource: ApiResource,
    app_namespace: Option<String>,
    triggers: Triggers,
    ready: tokio::sync::watch::Sender<bool>,
) {
    let id = kind_id(&resource);
    let config = watcher::Config::default().labels(&format!("{MANAGED_LABEL}=true"));
    let mut events = observed_events(client, &resource, config);
    let mut listed_before = false;
    // Each object's generation when last seen, to tell creations and status changes from drift.
    let mut generations: HashMap<(Option<String>, String), Option<i64>> = HashMap::new();
    let settling = Settling::default();
    while let Some(event) = events.next().await {
        triggers.index(&id, &event);
        let settling_change = match &event {
            Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                let name = (object.metadata.namespace.clone(), object.metadata.name.clone().unwrap_or_default());
                let now = object.metadata.generation;
                settles(generations.insert(name, now), now)
            }
            Ok(watcher::Event::Delete(object)) => {
                generations
                    .remove(&(object.metadata.namespace.clone(), object.metadata.name.clone().unwrap_or_default()));
                false
            }
            _ => false,
        };
        let reaction = reaction(&event, listed_before);
        match reaction {
            Reaction::Owner | Reaction::OwnerIfTracked => {}
            Reaction::Everyone => {
                debug!(kind = %resource.kind, group = %resource.group, "watch relisting: looking at its users again");
                if !triggers.users(&id).into_iter().all(|app| triggers.send(app)) {
                    return;
                }
                continue;
            }
            Reaction::Listed => {
                listed_before = true;
                ready.send_replace(true);
                continue;
            }
            Reaction::Nothing => continue,
        }
        let Ok(watcher::Event::Apply(object) | watcher::Event::Delete(object) | watcher::Event::InitApply(object)) =
            event
        else {
            continue;
        };
        let owner =
            object.metadata.annotations.as_ref().and_then(|a| a.get(TRACKING_ANNOTATION)).and_then(|id| owner_of(id));
        let owner = owner.filter(|o| app_namespace.as_ref().is_none_or(|ns| *ns == o.namespace));
        let Some(owner) = owner else { continue };
        let app = ObjectRef::new(&owner.name).within(&owner.namespace);
        let wanted = reaction == Reaction::Owner || triggers.tracks(&app, &id);
        if wanted && reaction == Reaction::Owner && settling_change {
            settling.later(app, triggers.send.clone());
        } else if wanted && !triggers.send(app) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Event = Result<watcher::Event<()>, watcher::Error>;

    #[test]
    fn changes_trigger_owners_and_listings_only_what_may_have_been_missed() {
        let event = |e: watcher::Event<()>| -> Event { Ok(e) };
        assert_eq!(reaction(&event(watcher::Event::Apply(())), false), Reaction::Owner);
        assert_eq!(reaction(&event(watcher::Event::Delete(())), true), Reaction::Owner);
        assert_eq!(reaction(&event(watcher::Event::Init), false), Reaction::Nothing);
        assert_eq!(reaction(&event(watcher::Event::InitApply(())), false), Reaction::OwnerIfTracked);
        assert_eq!(reaction(&event(watcher::Event::InitDone), false), Reaction::Listed);
        // A relisting after the watch was lost: deletions meanwhile are invisible, so all users.
        assert_eq!(reaction(&event(watcher::Event::Init), true), Reaction::Everyone);
        assert_eq!(reaction(&event(watcher::Event::InitApply(())), true), Reaction::OwnerIfTracked);
        let error: Event = Err(watcher::Error::NoResourceVersion);
        assert_eq!(reaction(&error, true), Reaction::Nothing);
    }
}
