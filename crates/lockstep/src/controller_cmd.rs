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
    /// How long one listing plus fetch of a repo may take.
    #[arg(long, value_parser = parse_duration, default_value = "2m")]
    fetch_timeout: Duration,
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
}

fn default_cache_dir() -> PathBuf {
    std::env::temp_dir().join("lockstep-cache")
}

pub(crate) fn run(args: ControllerArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
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
    let config = ControllerConfig {
        render,
        cache_dir: args.cache_dir,
        resync_period: args.resync_period,
        fetch_retry_period: args.fetch_retry_period,
        sync_timeout: args.sync_timeout,
        watch_namespace: args.watch_namespace,
        controller_namespace,
        workers: args.workers,
        source: lockstep_source::CacheOptions {
            listing_ttl: args.ref_listing_ttl.unwrap_or(args.resync_period * 3 / 4),
            max_concurrent_fetches: args.max_concurrent_fetches,
            fetch_timeout: args.fetch_timeout,
            default_proxy: args.https_proxy.or_else(|| std::env::var("https_proxy").ok()).filter(|p| !p.is_empty()),
            default_no_proxy: args.no_proxy.or_else(|| std::env::var("no_proxy").ok()).filter(|p| !p.is_empty()),
        },
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let client =
            kube::Client::try_default().await.context("connecting to the cluster (KUBECONFIG or in-cluster)")?;
        lockstep_controller::run(client, config).await.context("controller")
    })
}
