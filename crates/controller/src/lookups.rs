//! What every reconcile reads besides its Application, kept in reflector stores instead of read per
//! pass: the AppProjects and ConfigMaps of the controller's namespace, the credential Secrets (by
//! their label) of the namespaces Applications live in, and the two Secrets of the controller's
//! namespace it reads by name (the notification and the webhook Secret, each watched by name). A lookup is answered from a store once
//! its watch has listed; until then, or when a watch cannot run (RBAC that allows reading but not
//! watching), the caller reads directly, as before.

use std::sync::Arc;

use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use lockstep_api::AppProject;

/// The label selectors of credential Secrets (Argo CD's two values): lockstep's own label, and
/// Argo CD's (`argocd.argoproj.io/secret-type`), so Argo CD's repository Secrets work unchanged.
pub(crate) fn credential_selectors() -> [String; 2] {
    [crate::sources::SECRET_TYPE_LABEL, crate::sources::ARGO_SECRET_TYPE_LABEL]
        .map(|label| format!("{label} in (repository,repo-creds)"))
}

/// The stores, each fed by its own watch.
pub(crate) struct Lookups {
    projects: Store<AppProject>,
    config_maps: Store<ConfigMap>,
    /// Credential Secrets, with the namespace each store covers (`None`: every namespace) and the
    /// index of its selector in [`credential_selectors`].
    secrets: Vec<(Option<String>, usize, Store<Secret>)>,
    /// Secrets of the controller's namespace read by name, each with its own name-scoped watch.
    named_secrets: Vec<(&'static str, Store<Secret>)>,
}

/// The Secrets of the controller's namespace the controller reads by name.
pub(crate) const NAMED_SECRETS: [&str; 2] = [lockstep_notify::config::CONFIG_NAME, crate::webhook::WEBHOOK_SECRET];

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
        let scopes = match watch_namespace {
            None => vec![None],
            Some(watched) if watched == controller_namespace => vec![Some(watched.to_string())],
            Some(watched) => vec![Some(watched.to_string()), Some(controller_namespace.to_string())],
        };
        let mut secrets = Vec::new();
        for (index, selector) in credential_selectors().iter().enumerate() {
            for scope in &scopes {
                let api = match scope {
                    None => Api::<Secret>::all(client.clone()),
                    Some(ns) => Api::<Secret>::namespaced(client.clone(), ns),
                };
                let store = spawn_reflector(api, watcher::Config::default().labels(selector));
                secrets.push((scope.clone(), index, store));
            }
        }
        let named_secrets = NAMED_SECRETS
            .into_iter()
            .map(|name| {
                let api = Api::<Secret>::namespaced(client.clone(), controller_namespace);
                (name, spawn_reflector(api, watcher::Config::default().fields(&format!("metadata.name={name}"))))
            })
            .collect();
        (Self { projects, config_maps, secrets, named_secrets }, project_changes)
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

    /// The Secret `name` (one of [`NAMED_SECRETS`]) of the controller's namespace, as
    /// [`Lookups::project`]; `None` also for a name that is not watched.
    pub(crate) fn named_secret(&self, namespace: &str, name: &str) -> Option<Option<Arc<Secret>>> {
        let (_, store) = self.named_secrets.iter().find(|(watched, store)| *watched == name && ready(store))?;
        Some(store.get(&ObjectRef::new(name).within(namespace)))
    }

    /// The credential Secrets of `namespace` under either label; `None` unless a listed store of
    /// each selector covers it.
    pub(crate) fn credential_secrets(&self, namespace: &str) -> Option<Vec<Arc<Secret>>> {
        let mut found = Vec::new();
        for index in 0..credential_selectors().len() {
            let (_, _, store) = self.secrets.iter().find(|(scope, selector, store)| {
                *selector == index && scope.as_deref().is_none_or(|s| s == namespace) && ready(store)
            })?;
            found.extend(store.state_filter(|secret| secret.namespace().as_deref() == Some(namespace)));
        }
        Some(found)
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

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector::store::Writer;

    fn secret(name: &str, password: &str) -> Secret {
        let mut secret = Secret::default();
        secret.metadata.name = Some(name.into());
        secret.metadata.namespace = Some("team".into());
        secret.string_data = Some([("password".to_string(), password.to_string())].into());
        secret
    }

    fn listed(writer: &mut Writer<Secret>, objects: Vec<Secret>) {
        writer.apply_watcher_event(&watcher::Event::Init);
        for object in objects {
            writer.apply_watcher_event(&watcher::Event::InitApply(object));
        }
        writer.apply_watcher_event(&watcher::Event::InitDone);
    }

    fn lookups(secrets: Store<Secret>, argo: Store<Secret>) -> Lookups {
        let (projects, _) = reflector::store();
        let (config_maps, _) = reflector::store();
        let (named, _) = reflector::store();
        let secrets = vec![(None, 0, secrets), (None, 1, argo)];
        Lookups { projects, config_maps, secrets, named_secrets: vec![("x", named)] }
    }

    fn passwords(lookups: &Lookups) -> Option<Vec<String>> {
        let secrets = lookups.credential_secrets("team")?;
        Some(secrets.iter().filter_map(|s| s.string_data.as_ref()?.get("password").cloned()).collect())
    }

    #[test]
    fn a_changed_or_deleted_secret_is_seen_by_the_next_lookup() {
        let (store, mut writer) = reflector::store();
        let (argo, mut argo_writer) = reflector::store();
        let lookups = lookups(store, argo);
        assert_eq!(passwords(&lookups), None, "before the watch has listed, the caller reads directly");
        listed(&mut writer, vec![secret("creds", "old")]);
        assert_eq!(passwords(&lookups), None, "nor before both watches have");
        listed(&mut argo_writer, vec![]);
        assert_eq!(passwords(&lookups), Some(vec!["old".to_string()]));
        writer.apply_watcher_event(&watcher::Event::Apply(secret("creds", "new")));
        assert_eq!(passwords(&lookups), Some(vec!["new".to_string()]), "a rotated password is used at once");
        writer.apply_watcher_event(&watcher::Event::Delete(secret("creds", "new")));
        assert_eq!(passwords(&lookups), Some(vec![]), "a deleted Secret is gone at once");
        assert_eq!(lookups.named_secret("team", "other"), None, "a name that is not watched is read directly");
        argo_writer.apply_watcher_event(&watcher::Event::Apply(secret("argo", "from-argo")));
        assert_eq!(passwords(&lookups), Some(vec!["from-argo".to_string()]), "Argo CD's Secrets are read too");
    }
}
