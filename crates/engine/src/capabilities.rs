//! The destination cluster's capabilities (`.Capabilities.KubeVersion`/`APIVersions` for Helm),
//! discovered and cached briefly.

use std::time::{Duration, Instant};

use kube::Client;
use lockstep_api::kube_error::one_line;
use lockstep_render::ClusterCapabilities;
use tokio::sync::Mutex;
use tracing::warn;

/// How long one discovery of the cluster's API versions serves every Helm render.
const CAPABILITIES_TTL: Duration = Duration::from_secs(60);

/// Discovered capabilities, refreshed at most once per [`CAPABILITIES_TTL`].
#[derive(Default)]
pub struct Capabilities {
    cached: Mutex<Option<(Instant, ClusterCapabilities)>>,
}

impl Capabilities {
    /// The cluster's capabilities; on a discovery failure the last known ones (or none) are used.
    pub async fn get(&self, client: &Client) -> ClusterCapabilities {
        let mut cached = self.cached.lock().await;
        if let Some((at, caps)) = cached.as_ref()
            && at.elapsed() < CAPABILITIES_TTL
        {
            return caps.clone();
        }
        match discover(client).await {
            Ok(caps) => {
                *cached = Some((Instant::now(), caps.clone()));
                caps
            }
            Err(err) => {
                warn!(err = %one_line(&err), "discovering the cluster's API versions failed");
                cached.as_ref().map(|(_, c)| c.clone()).unwrap_or_default()
            }
        }
    }
}

/// Asks the cluster for its version and every API version it serves.
pub async fn discover(client: &Client) -> Result<ClusterCapabilities, kube::Error> {
    let version = client.apiserver_version().await?;
    let discovery = kube::Discovery::new(client.clone()).run_aggregated().await?;
    let mut api_versions = Vec::new();
    for group in discovery.groups() {
        for version in group.versions() {
            let api_version =
                if group.name().is_empty() { version.to_string() } else { format!("{}/{version}", group.name()) };
            for (resource, _) in group.versioned_resources(version) {
                api_versions.push(format!("{api_version}/{}", resource.kind));
            }
            api_versions.push(api_version);
        }
    }
    api_versions.sort();
    api_versions.dedup();
    Ok(ClusterCapabilities { kube_version: Some(version.git_version), api_versions })
}
