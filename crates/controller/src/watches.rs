//! Watches of the objects Applications manage: one metadata-only watch per kind in use, shared by all
//! Applications and selecting only objects labelled as managed, so memory follows what lockstep manages
//! rather than the size of the cluster. A change to a managed object triggers its Application.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedSender;
use kube::Client;
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::discovery::ApiResource;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use lockstep_api::Application;
use lockstep_engine::tracking::{MANAGED_LABEL, TRACKING_ANNOTATION, owner_of};
use tokio::task::JoinHandle;
use tracing::debug;

/// Identity of a watched kind: group, version, kind.
type KindId = (String, String, String);

/// The set of running watches and which Application uses which kinds.
pub(crate) struct ManagedWatches {
    client: Client,
    /// Only Applications in this namespace are triggered (the controller's `--watch-namespace`).
    app_namespace: Option<String>,
    trigger: UnboundedSender<ObjectRef<Application>>,
    state: Mutex<WatchState>,
}

#[derive(Default)]
struct WatchState {
    by_app: HashMap<ObjectRef<Application>, HashSet<KindId>>,
    running: HashMap<KindId, JoinHandle<()>>,
}

impl ManagedWatches {
    /// Watches that send the Application owning a changed object to `trigger`.
    pub(crate) fn new(
        client: Client,
        app_namespace: Option<String>,
        trigger: UnboundedSender<ObjectRef<Application>>,
    ) -> Self {
        Self { client, app_namespace, trigger, state: Mutex::new(WatchState::default()) }
    }

    /// Records the kinds `app` manages now; starts watches for kinds new to the controller and stops
    /// those no Application uses any more.
    pub(crate) fn track(&self, app: ObjectRef<Application>, kinds: Vec<ApiResource>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let ids: HashSet<KindId> = kinds.iter().map(kind_id).collect();
        state.by_app.insert(app, ids);
        let in_use: HashSet<KindId> = state.by_app.values().flatten().cloned().collect();
        for resource in kinds {
            let id = kind_id(&resource);
            if let std::collections::hash_map::Entry::Vacant(slot) = state.running.entry(id) {
                debug!(kind = %resource.kind, group = %resource.group, "watching managed objects");
                let watch = watch_kind(self.client.clone(), resource, self.app_namespace.clone(), self.trigger.clone());
                slot.insert(tokio::spawn(watch));
            }
        }
        state.running.retain(|id, handle| {
            let keep = in_use.contains(id);
            if !keep {
                handle.abort();
            }
            keep
        });
    }
}

fn kind_id(resource: &ApiResource) -> KindId {
    (resource.group.clone(), resource.version.clone(), resource.kind.clone())
}

/// Streams metadata changes of managed objects of one kind; each change (not the initial listing)
/// triggers the owning Application.
async fn watch_kind(
    client: Client,
    resource: ApiResource,
    app_namespace: Option<String>,
    trigger: UnboundedSender<ObjectRef<Application>>,
) {
    let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client, &resource);
    let config = watcher::Config::default().labels(&format!("{MANAGED_LABEL}=true"));
    let mut events = watcher(api, config).default_backoff().boxed();
    while let Some(event) = events.next().await {
        let object = match event {
            Ok(watcher::Event::Apply(object) | watcher::Event::Delete(object)) => object,
            Ok(_) | Err(_) => continue,
        };
        let owner =
            object.metadata.annotations.as_ref().and_then(|a| a.get(TRACKING_ANNOTATION)).and_then(|id| owner_of(id));
        let owner = owner.filter(|o| app_namespace.as_ref().is_none_or(|ns| *ns == o.namespace));
        if let Some(owner) = owner
            && trigger.unbounded_send(ObjectRef::new(&owner.name).within(&owner.namespace)).is_err()
        {
            return;
        }
    }
}
