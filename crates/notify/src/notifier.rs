//! The notifier: every poll, for each Application in the cache that subscribes to something, works
//! out which notices are due ([`crate::compose`]), records them in the
//! `notifications.lockstep.dev/state` annotation (a merge patch conditional on the
//! resourceVersion, so two replicas or a restart can never send one notice twice), and only then
//! queues the messages. Runs only while this replica leads.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use lockstep_api::Application;
use lockstep_api::kube_error::one_line;
use serde_json::json;
use tracing::{debug, info, warn};

use crate::config::{CONFIG_NAME, STATE_ANNOTATION};
use crate::deliver::{OutboxOptions, Report};
use crate::{NotifyConfig, Outbox, compose};

/// How often the notifier looks at every Application.
const POLL: Duration = Duration::from_secs(2);

/// The `lockstep-notifications` ConfigMap and Secret, each `None` when absent.
pub type Configuration = (Option<ConfigMap>, Option<Secret>);

/// What the notifier asks of the process it runs in.
pub struct Wiring {
    /// Whether this replica leads (only the leader notifies).
    pub is_leading: Arc<dyn Fn() -> bool + Send + Sync>,
    /// Counts each delivery by service and result.
    pub delivered: Report,
    /// Reports how many notifications wait for delivery.
    pub queue_depth: Arc<dyn Fn(usize) + Send + Sync>,
    /// The configuration from the process's watch-fed caches; `None` until those have listed,
    /// when it is read directly.
    pub cached: Arc<dyn Fn() -> Option<Configuration> + Send + Sync>,
    /// The web UI's base URL (`--ui-url`), for links in messages.
    pub ui_url: Option<String>,
}

/// Runs the notifier until the process ends: `client` reads the configuration in `namespace` and
/// records notices on Applications; `apps` is the controller's cache of them.
pub async fn run(client: Client, namespace: String, apps: Store<Application>, wiring: Wiring) {
    let outbox = Outbox::start(OutboxOptions::default(), wiring.delivered.clone());
    let mut progressing: HashMap<String, Instant> = HashMap::new();
    let mut last_error = String::new();
    loop {
        tokio::time::sleep(POLL).await;
        (wiring.queue_depth)(outbox.depth());
        if !(wiring.is_leading)() {
            continue;
        }
        let found = match (wiring.cached)() {
            Some(cached) => Ok(cached),
            None => read(&client, &namespace).await,
        };
        let config = match found.and_then(|(map, secret)| config_of(map, secret)) {
            Ok(Some(config)) => NotifyConfig { ui_url: wiring.ui_url.clone(), ..config },
            Ok(None) => continue,
            Err(err) => {
                if err != last_error {
                    warn!(%err, "notification configuration");
                    last_error = err;
                }
                continue;
            }
        };
        last_error.clear();
        let apps = apps.state();
        let known: std::collections::HashSet<String> =
            apps.iter().map(|a| format!("{}/{}", a.namespace().unwrap_or_default(), a.name_any())).collect();
        progressing.retain(|key, _| known.contains(key));
        for app in apps {
            let key = format!("{}/{}", app.namespace().unwrap_or_default(), app.name_any());
            let progressing_for = match app.status.as_ref().map(|s| s.health.status) {
                Some(lockstep_api::HealthStatusCode::Progressing) => {
                    progressing.entry(key.clone()).or_insert_with(Instant::now).elapsed()
                }
                _ => {
                    progressing.remove(&key);
                    Duration::ZERO
                }
            };
            if let Err(err) = notify_app(&client, &config, &outbox, &app, progressing_for).await {
                debug!(app = %key, %err, "notification state not recorded; retrying next poll");
            }
        }
    }
}

/// Reads the ConfigMap and Secret `lockstep-notifications` from the API server.
async fn read(client: &Client, namespace: &str) -> Result<(Option<ConfigMap>, Option<Secret>), String> {
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let map =
        maps.get_opt(CONFIG_NAME).await.map_err(|e| format!("reading ConfigMap {CONFIG_NAME}: {}", one_line(&e)))?;
    if map.is_none() {
        return Ok((None, None));
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret =
        secrets.get_opt(CONFIG_NAME).await.map_err(|e| format!("reading Secret {CONFIG_NAME}: {}", one_line(&e)))?;
    Ok((map, secret))
}

/// The configuration the ConfigMap and Secret hold; `None` without a ConfigMap.
fn config_of(map: Option<ConfigMap>, secret: Option<Secret>) -> Result<Option<NotifyConfig>, String> {
    let Some(map) = map else { return Ok(None) };
    let secret_data: BTreeMap<String, String> = secret
        .and_then(|s| s.data)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
        .collect();
    NotifyConfig::parse(&map.data.unwrap_or_default(), &secret_data).map(Some).map_err(|e| e.to_string())
}

async fn notify_app(
    client: &Client,
    config: &NotifyConfig,
    outbox: &Outbox,
    app: &Application,
    progressing_for: Duration,
) -> Result<(), kube::Error> {
    let Some(composed) = compose(config, app, progressing_for) else { return Ok(()) };
    let name = format!("{}/{}", app.namespace().unwrap_or_default(), app.name_any());
    for service in &composed.unknown_services {
        warn!(app = %name, %service, "subscription names a service the ConfigMap does not define");
    }
    // Record first, conditional on the version we evaluated: a conflict means someone else (or a
    // newer status) got there first, and the next poll decides again.
    let api: Api<Application> = Api::namespaced(client.clone(), &app.namespace().unwrap_or_default());
    let patch = json!({"metadata": {
        "resourceVersion": app.resource_version(),
        "annotations": {STATE_ANNOTATION: serde_json::to_string(&composed.record).unwrap_or_default()},
    }});
    api.patch(&app.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
    for delivery in composed.deliveries {
        info!(app = %name, service = %delivery.service, "notifying");
        outbox.enqueue(delivery);
    }
    Ok(())
}
