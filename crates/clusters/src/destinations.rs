//! Destination clusters: the controller's own, and one per cluster Secret in the controller's
//! namespace. Each cluster has its own client, sync engine (with its discovery cache), Helm
//! capabilities and watches of managed objects, built on first use and rebuilt when its Secret
//! changes. A remote cluster is probed (with a short timeout, the answer cached briefly) before an
//! Application touches it, so an unreachable cluster fails its Applications fast instead of holding
//! workers that Applications of other clusters need.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::channel::mpsc::UnboundedSender;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::config::KubeConfigOptions;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config, ResourceExt};
use lockstep_api::conditions::reason;
use lockstep_api::kube_error::one_line;
use lockstep_api::{Application, ApplicationDestination, IN_CLUSTER_NAME, IN_CLUSTER_SERVER};
use lockstep_engine::{AppRef, Engine};
use tracing::info;

use crate::cluster_secret::{CLUSTER_SECRET_LABEL, ClusterSecret};
use crate::kube_metrics::counted_client;
use crate::watches::ManagedWatches;
use lockstep_engine::Capabilities;
use lockstep_policy::impersonation::ServiceAccount;
use lockstep_policy::project::Cluster;

/// How long connecting to a remote API server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request to a remote API server (not a watch) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the reachability probe of a remote cluster may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a probe's answer is reused.
const PROBE_TTL: Duration = Duration::from_secs(10);
/// How long a reconcile waits for the first listing of cluster Secrets.
const SECRETS_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// One destination cluster and what talks to it.
pub struct ClusterTarget {
    /// Its server and name, for project rules and messages.
    pub identity: Cluster,
    /// Client for applies, dry-runs, reads and discovery.
    pub client: Client,
    /// The sync engine (with the cluster's discovery cache).
    pub engine: Engine,
    /// The cluster's version and API versions, for Helm's `.Capabilities`.
    pub capabilities: Capabilities,
    /// Watches of the objects Applications manage there.
    pub watches: ManagedWatches,
    /// For a remote cluster, the last probe: when, and what it found.
    probe: Option<tokio::sync::Mutex<Option<Probe>>>,
    /// The controller's own client, where Applications live.
    home: Client,
    /// What `client` was built from, to build impersonating clients; `None` when it is unknown.
    config: Option<Config>,
    /// Engines acting as a ServiceAccount, by impersonated user.
    impersonating: tokio::sync::Mutex<HashMap<String, Arc<Deployer>>>,
}

/// When a cluster was probed, and whether it answered (else why not).
type Probe = (Instant, Result<(), String>);

/// A client and engine acting as one ServiceAccount (impersonation) in one cluster.
pub struct Deployer {
    /// The impersonating client.
    pub client: Client,
    /// The engine writing through it.
    pub engine: Engine,
}

/// How to reach one cluster.
struct Connection {
    /// For applies, reads and discovery.
    client: Client,
    /// For watches (no request timeout).
    watch_client: Client,
    /// What `client` was built from.
    config: Option<Config>,
}

impl ClusterTarget {
    fn new(identity: Cluster, connection: Connection, home: Client, watches: WatchSettings, remote: bool) -> Self {
        let Connection { client, watch_client, config } = connection;
        let watches = ManagedWatches::new(watch_client, watches.app_namespace, watches.trigger);
        Self {
            identity,
            engine: Engine::with_home(client.clone(), home.clone()).with_live_versions(watches.live_versions()),
            capabilities: Capabilities::default(),
            watches,
            client,
            probe: remote.then(|| tokio::sync::Mutex::new(None)),
            home,
            config,
            impersonating: Default::default(),
        }
    }

    /// A client and engine of this cluster acting as `account` (built once, then reused).
    pub async fn impersonating(&self, account: &ServiceAccount) -> Result<Arc<Deployer>, String> {
        let user = account.user();
        let mut cached = self.impersonating.lock().await;
        if let Some(deployer) = cached.get(&user) {
            return Ok(deployer.clone());
        }
        let mut config = self
            .config
            .clone()
            .ok_or_else(|| format!("cannot act as {account}: the controller's client configuration is unknown"))?;
        config.auth_info.impersonate = Some(user.clone());
        config.auth_info.impersonate_groups = None;
        let client = counted_client(config).map_err(|e| format!("cannot act as {account}: {}", one_line(&e)))?;
        let engine =
            Engine::with_home(client.clone(), self.home.clone()).with_live_versions(self.watches.live_versions());
        let deployer = Arc::new(Deployer { engine, client });
        cached.insert(user, deployer.clone());
        Ok(deployer)
    }

    /// Whether the cluster answers; the controller's own cluster always does. `fresh` ignores a
    /// cached answer (after something failed).
    pub async fn reachable(&self, fresh: bool) -> Result<(), String> {
        let Some(probe) = &self.probe else { return Ok(()) };
        let mut last = probe.lock().await;
        if let Some((at, answer)) = last.as_ref()
            && !fresh
            && at.elapsed() < PROBE_TTL
        {
            return answer.clone();
        }
        let answer = match tokio::time::timeout(PROBE_TIMEOUT, self.client.apiserver_version()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(format!(
                "cluster {:?} ({}) is unreachable: {}",
                self.identity.name,
                self.identity.server,
                one_line(&err)
            )),
            Err(_) => Err(format!(
                "cluster {:?} ({}) did not answer within {}s",
                self.identity.name,
                self.identity.server,
                PROBE_TIMEOUT.as_secs()
            )),
        };
        *last = Some((Instant::now(), answer.clone()));
        answer
    }
}

/// Why an Application's destination cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterError {
    /// No cluster Secret names the destination.
    NotFound(String),
    /// The cluster's Secret is broken, or the cluster does not answer.
    Unreachable(String),
}

impl ClusterError {
    /// The Ready condition's reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotFound(_) => reason::CLUSTER_NOT_FOUND,
            Self::Unreachable(_) => reason::CLUSTER_UNREACHABLE,
        }
    }

    /// The Ready condition's message.
    pub fn message(&self) -> String {
        match self {
            Self::NotFound(message) | Self::Unreachable(message) => message.clone(),
        }
    }
}

/// What the watches of every cluster share.
#[derive(Clone)]
struct WatchSettings {
    app_namespace: Option<String>,
    trigger: UnboundedSender<ObjectRef<Application>>,
}

/// Every destination cluster in use.
pub struct Clusters {
    local: Arc<ClusterTarget>,
    /// The controller's own client.
    home: Client,
    secrets: Store<Secret>,
    watches: WatchSettings,
    /// Remote clusters by Secret name, with the Secret's resourceVersion they were built from.
    remote: tokio::sync::Mutex<HashMap<String, (String, Arc<ClusterTarget>)>>,
}

impl Clusters {
    /// The controller's own cluster through `client`, and remote clusters from the cluster Secrets
    /// in `secrets`; managed-object watches of every cluster send to `trigger`.
    /// `config` is what `client` was built from (needed to impersonate in the own cluster).
    pub fn new(
        client: Client,
        config: Option<Config>,
        secrets: Store<Secret>,
        app_namespace: Option<String>,
        trigger: UnboundedSender<ObjectRef<Application>>,
    ) -> Self {
        let watches = WatchSettings { app_namespace, trigger };
        let identity = Cluster { server: IN_CLUSTER_SERVER.into(), name: IN_CLUSTER_NAME.into() };
        let connection = Connection { client: client.clone(), watch_client: client.clone(), config };
        let local = Arc::new(ClusterTarget::new(identity, connection, client.clone(), watches.clone(), false));
        Self { local, home: client, secrets, watches, remote: Default::default() }
    }

    /// The controller's own cluster.
    pub fn local(&self) -> Arc<ClusterTarget> {
        self.local.clone()
    }

    /// The cluster an Application's destination names: its own when it names none, `in-cluster` or
    /// `https://kubernetes.default.svc`; otherwise the cluster Secret whose `name` (or, without a
    /// name, `server`) matches. Whether it answers is [`ClusterTarget::reachable`]'s business.
    pub async fn resolve(&self, destination: &ApplicationDestination) -> Result<Arc<ClusterTarget>, ClusterError> {
        let name = destination.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let server = destination.server.as_deref().map(|s| s.trim().trim_end_matches('/')).filter(|s| !s.is_empty());
        if destination.is_in_cluster() {
            return Ok(self.local());
        }
        let listed = tokio::time::timeout(SECRETS_READY_TIMEOUT, self.secrets.wait_until_ready()).await;
        if !listed.is_ok_and(|ready| ready.is_ok()) {
            return Err(ClusterError::NotFound(
                "the cluster Secrets are not listed yet (may the controller list Secrets in its namespace?)".into(),
            ));
        }
        let secrets = self.secrets.state();
        self.forget_removed(&secrets).await;
        let (secret, parsed) = find(&secrets, name, server)?;
        self.target_for(&secret, parsed).await
    }

    /// Why the destination's cluster is paused, when its cluster Secret carries `lockstep.dev/paused`
    /// (or Argo CD's `argocd.argoproj.io/skip-reconcile`) set to `true`; read from the watch's store.
    pub fn paused(&self, destination: &ApplicationDestination) -> Option<String> {
        let name = destination.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let server = destination.server.as_deref().map(|s| s.trim().trim_end_matches('/')).filter(|s| !s.is_empty());
        let secrets = self.secrets.state();
        let secret = secrets.iter().find(|secret| {
            crate::cluster_secret::parse(secret).is_ok_and(|parsed| match name {
                Some(name) => parsed.name == name,
                None => {
                    server.is_some_and(|s| parsed.server == s)
                        || (destination.is_in_cluster() && parsed.name == IN_CLUSTER_NAME)
                }
            })
        })?;
        let key = lockstep_policy::hold::pause_annotation(secret.metadata.annotations.as_ref())?;
        Some(format!("paused: the cluster Secret {:?} has {key}=true", secret.name_any()))
    }

    /// Drops the targets of cluster Secrets that no longer exist (stopping their watches once no
    /// reconcile holds them).
    async fn forget_removed(&self, secrets: &[Arc<Secret>]) {
        let names: std::collections::HashSet<String> = secrets.iter().map(|s| s.name_any()).collect();
        self.remote.lock().await.retain(|name, _| names.contains(name));
    }

    /// The cached target of a cluster Secret, rebuilt when the Secret changed.
    async fn target_for(&self, secret: &Secret, parsed: ClusterSecret) -> Result<Arc<ClusterTarget>, ClusterError> {
        let key = secret.name_any();
        let version = secret.resource_version().unwrap_or_default();
        let mut remote = self.remote.lock().await;
        if let Some((built_from, target)) = remote.get(&key)
            && *built_from == version
        {
            return Ok(target.clone());
        }
        let unreachable = |e: String| ClusterError::Unreachable(format!("cluster Secret {key:?}: {e}"));
        let config = Config::from_custom_kubeconfig(parsed.kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let watch_client = counted_client(config.clone()).map_err(|e| unreachable(one_line(&e)))?;
        let mut config = config;
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        config.read_timeout = Some(REQUEST_TIMEOUT);
        config.write_timeout = Some(REQUEST_TIMEOUT);
        let client = counted_client(config.clone()).map_err(|e| unreachable(one_line(&e)))?;
        let identity = Cluster { server: parsed.server, name: parsed.name };
        info!(cluster = %identity.name, server = %identity.server, "connecting to cluster");
        let connection = Connection { client, watch_client, config: Some(config) };
        let target = Arc::new(ClusterTarget::new(identity, connection, self.home.clone(), self.watches.clone(), true));
        // Replacing the entry drops the old target once no reconcile holds it, which stops its watches.
        remote.insert(key, (version, target.clone()));
        Ok(target)
    }

    /// Records that `app` manages `kinds` in `target` and nothing in any other cluster.
    pub async fn track(
        &self,
        app: ObjectRef<Application>,
        target: &ClusterTarget,
        kinds: Vec<kube::discovery::ApiResource>,
    ) {
        for other in self.all().await.iter().filter(|o| !std::ptr::eq(o.as_ref(), target)) {
            other.watches.track(app.clone(), Vec::new()).await;
        }
        target.watches.track(app, kinds).await;
    }

    /// Records that `app` manages nothing in any cluster (it is gone).
    pub async fn forget(&self, app: ObjectRef<Application>) {
        let gone = AppRef { namespace: app.namespace.clone().unwrap_or_default(), name: app.name.clone() };
        for target in self.all().await {
            target.watches.track(app.clone(), Vec::new()).await;
            target.engine.forget_application(&gone);
            for deployer in target.impersonating.lock().await.values() {
                deployer.engine.forget_application(&gone);
            }
        }
    }

    async fn all(&self) -> Vec<Arc<ClusterTarget>> {
        let remote = self.remote.lock().await;
        std::iter::once(self.local.clone()).chain(remote.values().map(|(_, t)| t.clone())).collect()
    }
}

/// The cluster Secret a destination names: by `name` when it has one (its `server`, if also given,
/// must agree), else by `server`.
fn find(
    secrets: &[Arc<Secret>],
    name: Option<&str>,
    server: Option<&str>,
) -> Result<(Secret, ClusterSecret), ClusterError> {
    let mut broken = Vec::new();
    let mut found = None;
    for secret in secrets {
        match crate::cluster_secret::parse(secret) {
            Ok(parsed) => {
                let matches = match name {
                    Some(name) => parsed.name == name,
                    None => server.is_some_and(|s| parsed.server == s),
                };
                if matches && found.is_none() {
                    found = Some((secret.as_ref().clone(), parsed));
                }
            }
            Err(why) => broken.push(why),
        }
    }
    let wanted = name.map_or_else(|| format!("server {:?}", server.unwrap_or_default()), |n| format!("name {n:?}"));
    match found {
        Some((_, parsed)) if name.is_some() && server.is_some_and(|s| s != parsed.server) => {
            Err(ClusterError::NotFound(format!(
                "spec.destination names cluster {:?} with server {:?}, but its Secret says {:?}",
                parsed.name,
                server.unwrap_or_default(),
                parsed.server
            )))
        }
        Some(found) => Ok(found),
        None => {
            let also = broken.first().map(|b| format!(" ({} unreadable: {b})", broken.len())).unwrap_or_default();
            Err(ClusterError::NotFound(format!(
                "no cluster Secret (label {}={}) has {wanted}{also}",
                CLUSTER_SECRET_LABEL.0, CLUSTER_SECRET_LABEL.1
            )))
        }
    }
}

/// Watches the cluster Secrets of the controller's namespace into a store; the stream (which must
/// be polled for the store to fill) fires on every change after the initial listing, so that every
/// Application is looked at again when a cluster is added, changed or removed.
pub fn watch_secrets(client: Client, namespace: &str) -> (Store<Secret>, impl Stream<Item = ()> + Send + 'static) {
    let api: Api<Secret> = Api::namespaced(client, namespace);
    let (store, writer) = reflector::store();
    let selector = format!("{}={}", CLUSTER_SECRET_LABEL.0, CLUSTER_SECRET_LABEL.1);
    let changes = watcher(api, watcher::Config::default().labels(&selector))
        .default_backoff()
        .reflect(writer)
        .filter_map(|event| async move {
            matches!(event, Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_))).then_some(())
        });
    (store, changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(name: &str, cluster: &str, server: &str) -> Arc<Secret> {
        let data = [("name", cluster), ("server", server), ("config", "{}")];
        Arc::new(Secret {
            metadata: kube::api::ObjectMeta { name: Some(name.into()), ..Default::default() },
            data: Some(data.iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect()),
            ..Default::default()
        })
    }

    #[test]
    fn finds_a_cluster_by_name_or_server() {
        let secrets = [secret("a", "east", "https://east:6443"), secret("b", "west", "https://west:6443/")];
        assert_eq!(find(&secrets, Some("west"), None).unwrap().1.server, "https://west:6443");
        assert_eq!(find(&secrets, None, Some("https://east:6443")).unwrap().1.name, "east");
        let missing = find(&secrets, Some("north"), None).unwrap_err();
        assert!(matches!(&missing, ClusterError::NotFound(m) if m.contains("name \"north\"")), "{missing:?}");
        let disagree = find(&secrets, Some("east"), Some("https://west:6443")).unwrap_err();
        assert!(disagree.message().contains("its Secret says"));
    }

    #[test]
    fn an_unreadable_secret_is_named_when_nothing_matches() {
        let mut broken = secret("c", "north", "https://north");
        Arc::make_mut(&mut broken).data = None;
        let err = find(&[broken], Some("north"), None).unwrap_err();
        assert!(err.message().contains("unreadable") && err.message().contains("\"c\""), "{}", err.message());
    }
}
