//! What every reconcile reads besides its Application, kept in reflector stores instead of read per
//! pass: the AppProjects and ConfigMaps of the controller's namespace, and the credential Secrets
//! (by their label) of the namespaces Applications live in. A lookup is answered from a store once
//! its watch has listed; until then, or when a watch cannot run (RBAC that allows reading but not
//! watching), the caller reads directly, as before.

use std::sync::Arc;

use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use lockstep_api::AppProject;

/// The label selector of credential Secrets (Argo CD's two values).
pub(crate) fn credential_selector() -> String {
    format!("{} in (repository,repo-creds)", crate::sources::SECRET_TYPE_LABEL)
}

/// The stores, each fed by its own watch.
pub(crate) struct Lookups {
    projects: Store<AppProject>,
    config_maps: Store<ConfigMap>,
    /// Credential Secrets, with the namespace each store covers (`None`: every namespace).
    secrets: Vec<(Option<String>, Store<Secret>)>,
}

impl Lookups {
    /// Starts the watches. The stream yields once for every change of an AppProject, after the
    /// store holds it, so a reconcile it triggers reads the new project.
    pub(crate) fn start(
        client: &Client,
        controller_namespace: &str,
        watch_namespace: Option<&str>,
    ) -> (Self, impl Stream<Item = ()> + Send + 'static) {
        let (projects, writer) = reflector::store();
        let api: Api<AppProject> = Api::namespaced(client.clone(), controller_namespace);
        let project_changes =
            watcher(api, watcher::Config::default()).default_backoff().reflect(writer).filter_map(|event| async move {
                matches!(event, Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_))).then_some(())
            });
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), controller_namespace);
        let config_maps = spawn_reflector(api, watcher::Config::default());
        let selector = watcher::Config::default().labels(&credential_selector());
        let secrets = match watch_namespace {
            None => vec![(None, spawn_reflector(Api::<Secret>::all(client.clone()), selector))],
            Some(watched) => {
                let mut namespaces = vec![watched.to_string()];
                if watched != controller_namespace {
                    namespaces.push(controller_namespace.to_string());
                }
                namespaces
                    .into_iter()
                    .map(|ns| {
                        let store = spawn_reflector(Api::<Secret>::namespaced(client.clone(), &ns), selector.clone());
                        (Some(ns), store)
                    })
                    .collect()
            }
        };
        (Self { projects, config_maps, secrets }, project_changes)
    }

    /// The AppProject `name` of the controller's namespace (`Some(None)`: there is none); `None`
    /// when the store has not listed yet.
    pub(crate) fn project(&self, namespace: &str, name: &str) -> Option<Option<Arc<AppProject>>> {
        ready(&self.projects).then(|| self.projects.get(&ObjectRef::new(name).within(namespace)))
    }

    /// The ConfigMap `name` of the controller's namespace, as [`Lookups::project`].
    pub(crate) fn config_map(&self, namespace: &str, name: &str) -> Option<Option<Arc<ConfigMap>>> {
        ready(&self.config_maps).then(|| self.config_maps.get(&ObjectRef::new(name).within(namespace)))
    }

    /// The credential Secrets of `namespace`; `None` when no listed store covers it.
    pub(crate) fn credential_secrets(&self, namespace: &str) -> Option<Vec<Arc<Secret>>> {
        let (_, store) = self
            .secrets
            .iter()
            .find(|(scope, store)| scope.as_deref().is_none_or(|s| s == namespace) && ready(store))?;
        Some(store.state_filter(|secret| secret.namespace().as_deref() == Some(namespace)))
    }
}

/// Whether the store's watch has listed once.
fn ready<K: kube::Resource + Clone + 'static>(store: &Store<K>) -> bool
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store.wait_until_ready().now_or_never().is_some_and(|ready| ready.is_ok())
}

/// A store kept by a watch running in its own task for the controller's lifetime.
fn spawn_reflector<K>(api: Api<K>, config: watcher::Config) -> Store<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let (store, writer) = reflector::store();
    let watch = watcher(api, config)
        .default_backoff()
        .modify(|object| object.meta_mut().managed_fields = None)
        .reflect(writer)
        .for_each(|_| std::future::ready(()));
    tokio::spawn(watch);
    store
}
