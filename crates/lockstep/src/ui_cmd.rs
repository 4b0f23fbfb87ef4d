//! `lockstep ui`: the web UI, a process of its own (see `lockstep_ui`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use futures::future::BoxFuture;
use kube::ResourceExt as _;
use lockstep_api::Application;
use lockstep_ui::{DiffSource, LoginMode, UiConfig};

use crate::cli::diff::{preview, report};
use crate::cli::local::{Origin, ToolArgs};
use crate::cli::style::Style;
use crate::cli::{Cluster, ClusterArgs, block_on, load_config};
use crate::duration::parse_duration;
use crate::logging::{LogFormat, init_logging};

#[derive(Args)]
pub(crate) struct UiArgs {
    /// Address to listen on [default: 0.0.0.0:8080, or 127.0.0.1:8080 with --local].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// No sign-in: bind 127.0.0.1 and make every call with the caller's kubeconfig, as
    /// `kubectl proxy` does.
    #[arg(long)]
    local: bool,
    /// How long a sign-in lasts.
    #[arg(long, value_parser = parse_duration, default_value = "8h")]
    session_ttl: Duration,
    /// Log format: `json`, `text`, or `auto` (text on a terminal, JSON otherwise).
    #[arg(long, value_enum, default_value_t = LogFormat::Auto)]
    log_format: LogFormat,
    /// The renderers and the git cache of the diff page, as `lockstep diff` takes them.
    #[command(flatten)]
    tools: ToolArgs,
}

pub(crate) fn run(args: UiArgs, cluster: &ClusterArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let default_host = if args.local { [127, 0, 0, 1] } else { [0, 0, 0, 0] };
    let listen = args.listen.unwrap_or_else(|| SocketAddr::from((default_host, 8080)));
    let mode = if args.local { LoginMode::Local } else { LoginMode::Token };
    block_on(async {
        let base = load_config(cluster).await?;
        let diff: Arc<dyn DiffSource> = Arc::new(CliDiff { tools: args.tools });
        lockstep_ui::serve(UiConfig { listen, mode, session_ttl: args.session_ttl, base, diff: Some(diff) }).await?;
        Ok(())
    })
}

/// The diff page's diff: `lockstep diff NAME`'s, made with the signed-in user's client.
struct CliDiff {
    tools: ToolArgs,
}

impl DiffSource for CliDiff {
    fn diff(&self, client: kube::Client, app: Application) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let cluster = Cluster { client, namespace: app.namespace().unwrap_or_default() };
            let previews =
                preview(&cluster, &app, &Origin::Current, &self.tools).await.map_err(|e| format!("{e:#}"))?;
            let prune = app.spec.sync_policy.as_ref().and_then(|p| p.automated.as_ref()).is_some_and(|a| a.prune);
            Ok(report(&previews, prune, Style::default()).text)
        })
    }
}
