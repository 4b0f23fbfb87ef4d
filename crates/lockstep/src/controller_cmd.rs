//! `lockstep controller`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use lockstep_controller::ControllerConfig;

use crate::duration::parse_duration;
use crate::logging::{LogFormat, init_logging};

/// Where a pod's own namespace is mounted in-cluster.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

#[derive(Args)]
pub(crate) struct ControllerArgs {
    /// Directory for the git cache (one bare repository per repo, one snapshot per commit).
    #[arg(long, env = "LOCKSTEP_CACHE_DIR", default_value_os_t = default_cache_dir())]
    cache_dir: PathBuf,
    /// How often every Application is fetched and compared without a trigger (jittered ±10%).
    #[arg(long, value_parser = parse_duration, default_value = "3m")]
    resync_period: Duration,
    /// How soon a failed fetch is retried.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    fetch_retry_period: Duration,
    /// How long a sync operation may wait on waves and hooks before it fails.
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    sync_timeout: Duration,
    /// Watch Applications in this namespace only (default: all namespaces).
    #[arg(long)]
    watch_namespace: Option<String>,
    /// The controller's own namespace; in-cluster the pod's namespace is used.
    #[arg(long, env = "LOCKSTEP_CONTROLLER_NAMESPACE", default_value = "lockstep-system")]
    controller_namespace: String,
    /// How many Applications are reconciled at once.
    #[arg(long, default_value_t = 16)]
    workers: u16,
    /// How long one remote ref listing of a repo serves all its Applications (default: 3/4 of the
    /// resync period, so each resync interval costs one listing per repo).
    #[arg(long, value_parser = parse_duration)]
    ref_listing_ttl: Option<Duration>,
    /// How many repositories are listed or fetched at once.
    #[arg(long, default_value_t = 8)]
    max_concurrent_fetches: usize,
    /// Most bytes of a Helm repository's `index.yaml` read; a larger index fails the Applications
    /// that use it with `ArtifactTooLarge` instead of exhausting memory.
    #[arg(long, default_value_t = lockstep_source::DEFAULT_MAX_INDEX_BYTES)]
    max_helm_index_bytes: u64,
    /// Most bytes of one Helm chart archive downloaded.
    #[arg(long, default_value_t = lockstep_source::DEFAULT_MAX_CHART_BYTES)]
    max_helm_chart_bytes: u64,
    /// How long one listing plus fetch of a repo may take.
    #[arg(long, value_parser = parse_duration, default_value = "2m")]
    fetch_timeout: Duration,
    /// Largest OCI artifact accepted, in bytes: its layer as downloaded, and its files once unpacked.
    #[arg(long, default_value_t = lockstep_source::DEFAULT_MAX_ARTIFACT_BYTES)]
    max_artifact_size: u64,
    /// Default proxy for http(s) git URLs whose credentials name none.
    #[arg(long, env = "HTTPS_PROXY")]
    https_proxy: Option<String>,
    /// Hosts reached without the default proxy (comma-separated, `.domain` suffixes, `*`).
    #[arg(long, env = "NO_PROXY")]
    no_proxy: Option<String>,
    /// The `kustomize` executable that renders Kustomize sources.
    #[arg(long, env = "LOCKSTEP_KUSTOMIZE", default_value = "kustomize")]
    kustomize_path: PathBuf,
    /// The `helm` executable that renders Helm charts.
    #[arg(long, env = "LOCKSTEP_HELM", default_value = "helm")]
    helm_path: PathBuf,
    /// How long one kustomize or helm run may take before it is killed.
    #[arg(long, value_parser = parse_duration, default_value = "90s")]
    render_timeout: Duration,
    /// Most bytes of manifests one render may produce.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    max_render_output: usize,
    /// How many renders run at once.
    #[arg(long, default_value_t = 4)]
    max_concurrent_renders: usize,
    /// Log format: `json`, `text`, or `auto` (text on a terminal, JSON otherwise).
    #[arg(long, value_enum, default_value_t = LogFormat::Auto)]
    log_format: LogFormat,
    /// Elect a leader among replicas through a Lease: only the leader reconciles and writes
    /// (`--leader-elect=false` for a single process that always leads).
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// How long candidates wait without seeing the leader renew before they take the Lease over.
    #[arg(long, value_parser = parse_duration, default_value = "15s")]
    leader_elect_lease_duration: Duration,
    /// How long the leader keeps trying to renew before it stops working (below the lease duration).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    leader_elect_renew_deadline: Duration,
    /// How often candidates try to acquire and the leader renews the Lease.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    leader_elect_retry_period: Duration,
    /// Name of the Lease; with `--shards` above 1, `-shard-I` is appended.
    #[arg(long, default_value = "lockstep-controller")]
    leader_elect_resource_name: String,
    /// Namespace of the Lease (default: the controller's namespace).
    #[arg(long)]
    leader_elect_resource_namespace: Option<String>,
    /// Split Applications over this many shards by a stable hash of namespace/name.
    #[arg(long, env = "LOCKSTEP_SHARDS", default_value_t = 1)]
    shards: u32,
    /// The shard this replica set handles, from 0 to `--shards` minus 1.
    #[arg(long, env = "LOCKSTEP_SHARD", default_value_t = 0)]
    shard: u32,
    /// Serve Prometheus metrics (`/metrics`) and probes (`/healthz`, `/readyz`) on this address.
    #[arg(long, env = "LOCKSTEP_METRICS_ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,
    /// Receive git push webhooks (`POST /api/webhook`) on this address.
    #[arg(long, env = "LOCKSTEP_WEBHOOK_ADDR")]
    webhook_addr: Option<std::net::SocketAddr>,
    /// Deploy every Application as this ServiceAccount (in its destination namespace) unless it or
    /// its project names another: impersonation becomes mandatory.
    #[arg(long, env = "LOCKSTEP_DEFAULT_SERVICE_ACCOUNT")]
    default_service_account: Option<String>,
    /// The web UI's URL (`lockstep ui`, e.g. `https://lockstep.example/`): notification messages
    /// link to each Application's page there.
    #[arg(long, env = "LOCKSTEP_UI_URL", value_parser = parse_ui_url)]
    ui_url: Option<String>,
}

/// An `http` or `https` URL with a host and no query or fragment, since templates append paths.
fn parse_ui_url(value: &str) -> Result<String, String> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| format!("{value:?} is not an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{value:?} names no host"));
    }
    if rest.contains(['?', '#']) || rest.contains(char::is_whitespace) {
        return Err(format!("{value:?} has a query, fragment or space: give the UI's base URL"));
    }
    Ok(value.to_string())
}

/// This process's identity in leader election: the pod name (or host name) and the process id, so
/// two processes on one host never share it.
fn identity() -> String {
    let host = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_string()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "lockstep".into());
    format!("{host}_{}", std::process::id())
}

fn default_cache_dir() -> PathBuf {
    std::env::temp_dir().join("lockstep-cache")
}

pub(crate) fn run(args: ControllerArgs) -> anyhow::Result<()> {
    crate::allocator::limit_arenas();
    init_logging(args.log_format);
    crate::allocator::trim_periodically();
    let controller_namespace = std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
        .map(|ns| ns.trim().to_string())
        .unwrap_or(args.controller_namespace);
    let render = lockstep_render::RendererConfig {
        kustomize: args.kustomize_path,
        helm: args.helm_path,
        limits: lockstep_render::Limits { timeout: args.render_timeout, max_output: args.max_render_output },
        max_concurrent: args.max_concurrent_renders,
        cache_dir: Some(args.cache_dir.join("renders")),
        ..Default::default()
    };
    let shard = lockstep_lease::shard::Shard::new(args.shard, args.shards).context("--shard and --shards")?;
    let identity = identity();
    let leader_election = if args.leader_elect {
        let settings = lockstep_lease::LeaseSettings {
            namespace: args.leader_elect_resource_namespace.unwrap_or_else(|| controller_namespace.clone()),
            name: lockstep_lease::LeaseSettings::lease_name(&args.leader_elect_resource_name, shard),
            identity: identity.clone(),
            lease_duration: args.leader_elect_lease_duration,
            renew_deadline: args.leader_elect_renew_deadline,
            retry_period: args.leader_elect_retry_period,
        };
        settings.validate().context("leader election settings")?;
        Some(settings)
    } else {
        None
    };
    let source = lockstep_source::CacheOptions {
        listing_ttl: args.ref_listing_ttl.unwrap_or(args.resync_period * 3 / 4),
        max_concurrent_fetches: args.max_concurrent_fetches,
        fetch_timeout: args.fetch_timeout,
        default_proxy: args.https_proxy.or_else(|| std::env::var("https_proxy").ok()).filter(|p| !p.is_empty()),
        default_no_proxy: args.no_proxy.or_else(|| std::env::var("no_proxy").ok()).filter(|p| !p.is_empty()),
        snapshot_retention: lockstep_source::SnapshotRetention::default(),
    };
    let helm_repos = lockstep_source::HelmRepoOptions {
        max_index_bytes: args.max_helm_index_bytes,
        max_chart_bytes: args.max_helm_chart_bytes,
        ..lockstep_source::HelmRepoOptions::from_cache_options(&source)
    };
    let config = ControllerConfig {
        leader_election,
        shard,
        metrics_addr: args.metrics_addr,
        webhook_addr: args.webhook_addr,
        default_service_account: args.default_service_account.filter(|sa| !sa.is_empty()),
        ui_url: args.ui_url,
        render,
        cache_dir: args.cache_dir,
        resync_period: args.resync_period,
        fetch_retry_period: args.fetch_retry_period,
        sync_timeout: args.sync_timeout,
        watch_namespace: args.watch_namespace,
        controller_namespace,
        workers: args.workers,
        source,
        helm_repos,
        oci: lockstep_source::OciOptions {
            max_artifact_bytes: args.max_artifact_size,
            fetch_timeout: args.fetch_timeout,
        },
    };
    // Reconcile futures (every source kind, verification, render, sync) are deep: 8 MiB worker
    // stacks instead of tokio's 2 MiB keep a debug build from overflowing them.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 << 20)
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let client = lockstep_controller::instrumented_client(&identity)
            .await
            .context("connecting to the cluster (KUBECONFIG or in-cluster)")?;
        lockstep_controller::run(client, config).await.context("controller")
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_ui_url_is_an_http_base_url() {
        for good in ["https://lockstep.example/", "http://127.0.0.1:8080", "https://ops.example/lockstep"] {
            assert_eq!(super::parse_ui_url(good).as_deref(), Ok(good));
        }
        for bad in ["lockstep.example", "ftp://x", "https://", "https:///apps", "https://x/?a=1", "https://x/#top"] {
            assert!(super::parse_ui_url(bad).is_err(), "{bad}");
        }
    }
}
