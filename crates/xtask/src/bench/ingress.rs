//! A stand-in ingress controller: the bench cluster has none, and an Ingress is Healthy only once
//! a controller has published a load-balancer address. Like kwok for Pods, this watch gives every
//! Ingress of a namespace `127.0.0.1` as soon as it appears; it writes nothing at idle.

use futures::StreamExt;
use k8s_openapi::api::networking::v1::Ingress;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use tokio::task::JoinHandle;

/// The running watch; aborted on drop.
pub struct IngressAddresser {
    task: JoinHandle<()>,
}

impl IngressAddresser {
    /// Starts watching the Ingresses of `namespace`.
    pub fn start(client: &Client, namespace: &str) -> Self {
        let api: Api<Ingress> = Api::namespaced(client.clone(), namespace);
        let task = tokio::spawn(async move {
            let status = json!({"status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}});
            let mut events =
                watcher(api.clone(), watcher::Config::default()).default_backoff().applied_objects().boxed();
            while let Some(event) = events.next().await {
                let Ok(ingress) = event else { continue };
                let published = ingress
                    .status
                    .as_ref()
                    .and_then(|s| s.load_balancer.as_ref())
                    .and_then(|lb| lb.ingress.as_ref())
                    .is_some_and(|list| !list.is_empty());
                if published {
                    continue;
                }
                let Some(name) = ingress.metadata.name.as_deref() else { continue };
                if let Err(e) = api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await {
                    eprintln!("bench: publishing the address of Ingress {name} failed: {e}");
                }
            }
        });
        Self { task }
    }
}

impl Drop for IngressAddresser {
    fn drop(&mut self) {
        self.task.abort();
    }
}
