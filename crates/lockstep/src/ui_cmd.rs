//! `lockstep ui`: the web UI, a process of its own (see `lockstep_ui`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use futures::future::BoxFuture;
use kube::ResourceExt as _;
use lockstep_api::Application;
use lockstep_ui::oidc::{OidcSettings, default_redirect_url};
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
    /// OIDC sign-in beside the token form.
    #[command(flatten)]
    oidc: OidcArgs,
}

/// OIDC sign-in: on when `--oidc-issuer` is given. The API server must trust the same issuer
/// (its `--authentication-config`) with the client id as audience: the UI calls it with the ID token.
#[derive(Args)]
pub(crate) struct OidcArgs {
    /// The issuer URL (e.g. `https://dex.example`); enables the "Sign in with SSO" button.
    #[arg(long)]
    oidc_issuer: Option<String>,
    /// The UI's client id at the issuer, and the ID tokens' audience.
    #[arg(long, default_value = "lockstep-ui")]
    oidc_client_id: String,
    /// A file holding the client secret.
    #[arg(long, requires = "oidc_issuer")]
    oidc_client_secret_file: Option<std::path::PathBuf>,
    /// Where the issuer sends the browser back [default: <--ui-url>/oidc/callback, else
    /// http://<listen>/oidc/callback].
    #[arg(long, requires = "oidc_issuer")]
    oidc_redirect_url: Option<String>,
    /// PEM CA certificates trusted for the issuer, beside the system's.
    #[arg(long, requires = "oidc_issuer")]
    oidc_ca_file: Option<std::path::PathBuf>,
    /// Scopes asked for beside `openid` (comma-separated; Dex needs `groups` for group claims).
    #[arg(long, value_delimiter = ',', default_value = "email,profile")]
    oidc_scopes: Vec<String>,
    /// The address users open the UI at (behind its Ingress); the default redirect URL is under it.
    #[arg(long, env = "LOCKSTEP_UI_URL")]
    ui_url: Option<String>,
}

impl OidcArgs {
    /// The settings, when an issuer is given.
    fn settings(&self, listen: SocketAddr) -> anyhow::Result<Option<OidcSettings>> {
        let Some(issuer) = &self.oidc_issuer else { return Ok(None) };
        let Some(secret_file) = &self.oidc_client_secret_file else {
            anyhow::bail!("--oidc-issuer needs --oidc-client-secret-file");
        };
        let client_secret = std::fs::read_to_string(secret_file)
            .map_err(|err| anyhow::anyhow!("reading the OIDC client secret {}: {err}", secret_file.display()))?
            .trim()
            .to_owned();
        if client_secret.is_empty() {
            anyhow::bail!("the OIDC client secret file {} is empty", secret_file.display());
        }
        let redirect_url =
            self.oidc_redirect_url.clone().unwrap_or_else(|| default_redirect_url(self.ui_url.as_deref(), listen));
        Ok(Some(OidcSettings {
            issuer: issuer.clone(),
            client_id: self.oidc_client_id.clone(),
            client_secret,
            redirect_url,
            scopes: self.oidc_scopes.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
            ca_file: self.oidc_ca_file.clone(),
        }))
    }
}

pub(crate) fn run(args: UiArgs, cluster: &ClusterArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let default_host = if args.local { [127, 0, 0, 1] } else { [0, 0, 0, 0] };
    let listen = args.listen.unwrap_or_else(|| SocketAddr::from((default_host, 8080)));
    let mode = if args.local { LoginMode::Local } else { LoginMode::Token };
    let oidc = args.oidc.settings(listen)?;
    if args.local && oidc.is_some() {
        anyhow::bail!("--local has no sign-in; leave out --oidc-issuer");
    }
    block_on(async {
        let base = load_config(cluster).await?;
        let diff: Arc<dyn DiffSource> = Arc::new(CliDiff { tools: args.tools });
        let config = UiConfig { listen, mode, session_ttl: args.session_ttl, base, diff: Some(diff), oidc };
        lockstep_ui::serve(config).await?;
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
