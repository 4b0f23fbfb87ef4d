//! kube-runtime wiring of the ApplicationSet controller, run inside `lockstep controller`.
//!
//! A set is reconciled when it changes, when one of its Applications changes (their health and
//! sync feed its status), when a cluster Secret changes (the clusters generator), when a push
//! webhook names a repository it reads, when this replica gains leadership, and on its git
//! generators' requeue period. Generated Applications are watched by the set label only, so
//! hand-written ones cost this controller nothing.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use kube::runtime::controller::{Config, Controller};
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client};
use lockstep_api::{APPLICATION_SET_LABEL, Application, ApplicationSet};
use lockstep_lease::{Leadership, Shard};
use tracing::{info, warn};

use crate::generate::GitTrees;
use crate::reconciler::{Context, error_policy, reconcile};

/// Passes that a burst of Application status changes triggers are merged over this long.
const DEBOUNCE: Duration = Duration::from_millis(500);
/// Sets reconciled at once.
const CONCURRENCY: u16 = 4;

/// What the controller process hands the ApplicationSet controller.
pub struct Wiring {
    /// The namespace watched (`None` for all).
    pub watch_namespace: Option<String>,
    /// Where cluster Secrets live.
    pub controller_namespace: String,
    /// Only the leader writes.
    pub leadership: Leadership,
    /// Only the owning shard reconciles a set.
    pub shard: Shard,
    /// The shared git cache.
    pub git: Arc<dyn GitTrees>,
    /// Who publishes Events.
    pub reporter: Reporter,
    /// Sets to reconcile now (push webhooks).
    pub refresh: futures::channel::mpsc::UnboundedReceiver<ObjectRef<ApplicationSet>>,
    /// Sent (or dropped) when the process shuts down.
    pub shutdown: futures::channel::oneshot::Receiver<()>,
}

/// The sets' cache (for webhooks, which ask which sets read a repository) and the controller
/// future, which runs until shutdown.
pub fn start(client: Client, wiring: Wiring) -> (Store<ApplicationSet>, impl Future<Output = ()> + Send + 'static) {
    let (set_store, set_writer) = reflector::store();
    let reader = set_store.clone();
    let running = async move {
        let (sets, apps): (Api<ApplicationSet>, Api<Application>) = match &wiring.watch_namespace {
            Some(ns) => (Api::namespaced(client.clone(), ns), Api::namespaced(client.clone(), ns)),
            None => (Api::all(client.clone()), Api::all(client.clone())),
        };
        let set_events =
            watcher(sets, watcher::Config::default()).default_backoff().reflect(set_writer).applied_objects();
        let (app_store, app_writer) = reflector::store();
        let app_events = watcher(apps, watcher::Config::default().labels(APPLICATION_SET_LABEL))
            .default_backoff()
            .reflect(app_writer)
            .touched_objects();
        let (clusters, cluster_changes) =
            lockstep_clusters::watch_secrets(client.clone(), &wiring.controller_namespace);
        let gained = wiring.leadership.gained();
        let context = Arc::new(Context {
            client,
            apps: app_store,
            clusters,
            git: wiring.git,
            leadership: wiring.leadership.clone(),
            shard: wiring.shard,
            reporter: wiring.reporter,
        });
        info!("watching ApplicationSets");
        Controller::for_stream(set_events, reader)
            .with_config(Config::default().concurrency(CONCURRENCY).debounce(DEBOUNCE))
            .owns_stream(app_events)
            .reconcile_on(wiring.refresh)
            .reconcile_all_on(cluster_changes)
            .reconcile_all_on(gained)
            .graceful_shutdown_on(wiring.shutdown.map(drop))
            .run(reconcile, error_policy, context)
            .for_each(|result| async move {
                if let Err(err) = result {
                    warn!(%err, "ApplicationSet controller");
                }
            })
            .await;
    };
    (set_store, running)
}

/// The sets whose git generators read a repository a push names, for the webhook.
pub fn concerned_sets<'a>(
    sets: &'a [Arc<ApplicationSet>],
) -> impl Iterator<Item = (String, Option<String>, Arc<ApplicationSet>)> + 'a {
    sets.iter().flat_map(|set| {
        crate::generate::git_sources(&set.spec.generators)
            .into_iter()
            .map(move |(repo, revision)| (repo, revision, set.clone()))
    })
}
