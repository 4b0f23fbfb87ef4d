use std::path::PathBuf;
use std::time::Duration;

/// Settings of one controller process, from the command line.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// Where git repositories and commit snapshots are cached.
    pub cache_dir: PathBuf,
    /// How often every Application is fetched and compared even when nothing triggered it.
    pub resync_period: Duration,
    /// How long a sync operation may wait on waves and hooks before it fails.
    pub sync_timeout: Duration,
    /// How soon a failed fetch is retried.
    pub fetch_retry_period: Duration,
    /// Watch Applications in this namespace only; `None` for all namespaces.
    pub watch_namespace: Option<String>,
    /// The controller's own namespace, for shared Secrets, ConfigMaps and Leases.
    pub controller_namespace: String,
    /// How many Applications are reconciled at once.
    pub workers: u16,
    /// Rendering: tool paths, timeout, output cap, concurrency and the render cache.
    pub render: lockstep_render::RendererConfig,
    /// Git transport settings: listing TTL, fetch limits and the default proxy.
    pub source: lockstep_source::CacheOptions,
    /// Helm repository settings: index TTL, size caps of indexes and chart archives, proxies.
    pub helm_repos: lockstep_source::HelmRepoOptions,
    /// OCI sources: the artifact size cap and the bound on one look at a registry.
    pub oci: lockstep_source::OciOptions,
    /// Leader election among replicas; `None` runs without it (this process always leads).
    pub leader_election: Option<lockstep_lease::LeaseSettings>,
    /// Where `/metrics`, `/healthz` and `/readyz` are served; `None` for nowhere.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Where push webhooks are received (`/api/webhook`); `None` for nowhere.
    pub webhook_addr: Option<std::net::SocketAddr>,
    /// The ServiceAccount (in the destination namespace) Applications deploy as when neither they
    /// nor their project name one; setting it makes impersonation mandatory.
    pub default_service_account: Option<String>,
    /// Which share of the Applications this process handles.
    pub shard: lockstep_lease::shard::Shard,
    /// The web UI's base URL; notification messages link to each Application's page there.
    pub ui_url: Option<String>,
}
