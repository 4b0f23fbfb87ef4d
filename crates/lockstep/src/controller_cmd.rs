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
    /// Watch Applications in this namespace only (default: all namespaces).
    #[arg(long)]
    watch_namespace: Option<String>,
    /// The controller's own namespace; in-cluster the pod's namespace is used.
    #[arg(long, env = "LOCKSTEP_CONTROLLER_NAMESPACE", default_value = "lockstep-system")]
    controller_namespace: String,
    /// How many Applications are reconciled at once.
    #[arg(long, default_value_t = 16)]
    workers: u16,
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
    let config = ControllerConfig {
        cache_dir: args.cache_dir,
        resync_period: args.resync_period,
        fetch_retry_period: args.fetch_retry_period,
        watch_namespace: args.watch_namespace,
        controller_namespace,
        workers: args.workers,
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let client = kube::Client::try_default().await.context("connecting to the cluster (KUBECONFIG or in-cluster)")?;
        lockstep_controller::run(client, config).await.context("controller")
    })
}
