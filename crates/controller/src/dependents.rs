//! Triggers an Application's dependents the moment its readiness as a dependency changes, so a
//! chain `A ← B ← C` advances on status events, with no polling and no requeue interval.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::channel::mpsc::UnboundedSender;
use kube::runtime::reflector::{ObjectRef, Store};
use lockstep_api::Application;
use lockstep_engine::AppRef;
use lockstep_policy::dependencies::{DependencyView, dependents};

/// Remembers each Application's readiness as a dependency and, when it flips (or the Application
/// goes away), asks for a reconcile of every Application that depends on it.
pub(crate) struct Dependents {
    ready: Mutex<HashMap<AppRef, bool>>,
    apps: Store<Application>,
    trigger: UnboundedSender<ObjectRef<Application>>,
}

impl Dependents {
    pub(crate) fn new(apps: Store<Application>, trigger: UnboundedSender<ObjectRef<Application>>) -> Self {
        Self { ready: Mutex::default(), apps, trigger }
    }

    /// An Application was added or changed (status writes included).
    pub(crate) fn changed(&self, app: &Application) {
        let view = DependencyView::of(app);
        let ready = view.is_ready();
        let before = self.ready.lock().unwrap_or_else(|p| p.into_inner()).insert(view.key.clone(), ready);
        // First sight (the watch's listing) needs no trigger: every Application is reconciled then.
        if before.is_some_and(|was| was != ready) {
            self.trigger_dependents_of(&view.key);
        }
    }

    /// An Application was deleted: its dependents now miss it.
    pub(crate) fn deleted(&self, app: &Application) {
        let key = DependencyView::of(app).key;
        self.ready.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        self.trigger_dependents_of(&key);
    }

    fn trigger_dependents_of(&self, key: &AppRef) {
        let views = self
            .apps
            .state()
            .into_iter()
            .filter(|app| !app.spec.depends_on.is_empty())
            .map(|app| DependencyView::of(&app))
            .collect::<Vec<_>>();
        for dependent in dependents(key, views) {
            let _ = self.trigger.unbounded_send(ObjectRef::new(&dependent.name).within(&dependent.namespace));
        }
    }
}
