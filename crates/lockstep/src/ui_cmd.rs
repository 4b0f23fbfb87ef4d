//! `lockstep ui`: the web UI, a process of its own (see `lockstep_ui`).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use lockstep_ui::{LoginMode, UiConfig};

use crate::cli::{ClusterArgs, block_on, load_config};
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
}

pub(crate) fn run(args: UiArgs, cluster: &ClusterArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let default_host = if args.local { [127, 0, 0, 1] } else { [0, 0, 0, 0] };
    let listen = args.listen.unwrap_or_else(|| SocketAddr::from((default_host, 8080)));
    let mode = if args.local { LoginMode::Local } else { LoginMode::Token };
    block_on(async {
        let base = load_config(cluster).await?;
        lockstep_ui::serve(UiConfig { listen, mode, session_ttl: args.session_ttl, base }).await?;
        Ok(())
    })
}
