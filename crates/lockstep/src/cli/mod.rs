//! The user CLI: subcommands that read and poke Applications with nothing but a kubeconfig.
//!
//! Each subcommand is one module; what they share lives here (cluster connection flags, the
//! Application lookup) and in the pure helpers ([`style`], [`table`], [`textdiff`], [`fields`]).

pub mod appset;
pub mod completion;
pub mod diff;
pub mod explain;
pub mod fields;
pub mod get;
pub mod local;
pub mod object_tree;
pub mod plan;
pub mod refresh;
pub mod render;
pub mod rollback;
pub mod style;
pub mod sync;
pub mod table;
pub mod textdiff;
pub mod tree;
pub mod version;
pub mod wait;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use lockstep_api::Application;

/// Where the cluster is, as kubectl takes it.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct ClusterArgs {
    /// Path to the kubeconfig file (default: KUBECONFIG, else ~/.kube/config, else in-cluster).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// The namespace of the Application (default: the context's namespace).
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
}

/// A connected client and the namespace commands act in.
pub(crate) struct Cluster {
    /// The client.
    pub client: kube::Client,
    /// `-n`, else the context's namespace, else `default`.
    pub namespace: String,
}

impl Cluster {
    /// Connects as kubectl would with the same flags.
    pub async fn connect(args: &ClusterArgs) -> anyhow::Result<Self> {
        let config = load_config(args).await?;
        let namespace = args.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
        let client = kube::Client::try_from(config).context("building the Kubernetes client")?;
        Ok(Self { client, namespace })
    }

    /// The Applications API of the command's namespace.
    pub fn apps(&self) -> Api<Application> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Reads one Application, with an error that says where it looked.
    pub async fn app(&self, name: &str) -> anyhow::Result<Application> {
        self.apps()
            .get_opt(name)
            .await
            .with_context(|| format!("reading Application {}/{name}", self.namespace))?
            .ok_or_else(|| anyhow::anyhow!("Application {}/{name} not found", self.namespace))
    }
}

/// The cluster configuration kubectl would use with the same flags: `--kubeconfig`, else
/// KUBECONFIG or ~/.kube/config, else in-cluster.
pub(crate) async fn load_config(args: &ClusterArgs) -> anyhow::Result<kube::Config> {
    let options = KubeConfigOptions { context: args.context.clone(), ..Default::default() };
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path).with_context(|| format!("reading {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .with_context(|| format!("loading {}", path.display()))?
        }
        None => match kube::Config::from_kubeconfig(&options).await {
            Ok(config) => config,
            Err(_) if args.context.is_none() && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() => {
                kube::Config::incluster().context("loading the in-cluster configuration")?
            }
            Err(err) => return Err(err).context("loading the kubeconfig (KUBECONFIG or ~/.kube/config)"),
        },
    };
    Ok(config)
}

/// Runs a future to completion on a fresh runtime: every subcommand is one short async job.
pub(crate) fn block_on<T>(future: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Runtime::new().context("starting the async runtime")?.block_on(future)
}
