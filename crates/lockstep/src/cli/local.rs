//! Where the manifests of an Application come from for the CLI: a local checkout, a git revision
//! fetched into the user's cache, or the revision the controller last compared; rendered with the
//! Application's own options through the controller's own render code.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use lockstep_api::{Application, ApplicationSource};
use lockstep_render::decrypt::{DecryptionKeys, decrypt_manifests, is_encrypted, masked, needs_decryption};
use lockstep_render::{FetchedSource, Manifest, Renderer, RendererConfig};
use lockstep_source::{GitCache, HelmRepoCache, OciAuth, OciCache, OciOptions, OciRequest, Snapshot, SourceRequest};

/// The rendering tools and the git cache, as the controller takes them.
#[derive(Args, Clone, Debug)]
pub(crate) struct ToolArgs {
    /// The `kustomize` executable that renders Kustomize sources.
    #[arg(long, env = "LOCKSTEP_KUSTOMIZE", default_value = "kustomize")]
    pub kustomize_path: PathBuf,
    /// The `helm` executable that renders Helm charts.
    #[arg(long, env = "LOCKSTEP_HELM", default_value = "helm")]
    pub helm_path: PathBuf,
    /// Directory for fetched repositories (default: $XDG_CACHE_HOME/lockstep, else ~/.cache/lockstep).
    #[arg(long, env = "LOCKSTEP_CLI_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// An age key file (`age-keygen` output, as sops reads `SOPS_AGE_KEY_FILE`) or an armored
    /// OpenPGP private key that opens SOPS-encrypted files; `SOPS_AGE_KEY` (age keys) is read too.
    #[arg(long = "decryption-key", env = "SOPS_AGE_KEY_FILE", value_name = "FILE")]
    pub decryption_key: Option<PathBuf>,
    /// User for an `oci://` source's registry (basic auth).
    #[arg(long, env = "LOCKSTEP_REGISTRY_USERNAME")]
    pub registry_username: Option<String>,
    /// Password or token for an `oci://` source's registry.
    #[arg(long, env = "LOCKSTEP_REGISTRY_PASSWORD", hide_env_values = true)]
    pub registry_password: Option<String>,
    /// PEM CA certificate(s) to trust for an `oci://` source's registry.
    #[arg(long)]
    pub registry_ca_file: Option<PathBuf>,
}

impl ToolArgs {
    /// The keys of `--decryption-key` (or `SOPS_AGE_KEY_FILE`) and `SOPS_AGE_KEY`.
    pub fn decryption_keys(&self) -> anyhow::Result<DecryptionKeys> {
        let mut keys = DecryptionKeys::default();
        if let Some(file) = &self.decryption_key {
            let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            keys.extend(DecryptionKeys::from_key_file(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?);
        }
        if let Ok(text) = std::env::var("SOPS_AGE_KEY") {
            keys.extend(DecryptionKeys::from_key_file(&text).map_err(|e| anyhow::anyhow!("SOPS_AGE_KEY: {e}"))?);
        }
        Ok(keys)
    }

    /// A renderer with these tools and an in-memory cache.
    pub fn renderer(&self) -> Renderer {
        Renderer::new(RendererConfig {
            kustomize: self.kustomize_path.clone(),
            helm: self.helm_path.clone(),
            ..Default::default()
        })
    }

    fn cache_dir(&self) -> PathBuf {
        self.cache_dir.clone().unwrap_or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
                .unwrap_or_else(std::env::temp_dir);
            base.join("lockstep")
        })
    }
}

/// Which files to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A local checkout of the Application's repository; `spec.source.path` is read inside it.
    Checkout(PathBuf),
    /// A branch, tag or commit of the Application's repository (a chart version or range for a
    /// chart from a Helm repository).
    Revision(String),
    /// The commit the controller last compared (`status.sync.revision`), else `spec.source.targetRevision`.
    Current,
}

impl Origin {
    /// From `--path` and `--revision` (at most one is given).
    pub fn of(path: Option<PathBuf>, revision: Option<String>) -> Self {
        match (path, revision) {
            (Some(path), _) => Self::Checkout(path),
            (None, Some(revision)) => Self::Revision(revision),
            (None, None) => Self::Current,
        }
    }
}

/// The files of `origin` on disk, one snapshot per source. A multi-source Application is read at
/// the revisions the controller last compared (else its target revisions): a checkout or a revision
/// names one repository, and which source it stands for would be a guess.
pub(crate) async fn snapshots(app: &Application, origin: &Origin, tools: &ToolArgs) -> anyhow::Result<Vec<Snapshot>> {
    let sources = app.spec.all_sources();
    let compared = app.status.as_ref().and_then(|s| s.sync.revision.clone());
    if app.spec.is_multi_source() {
        anyhow::ensure!(
            *origin == Origin::Current,
            "{} has several sources (spec.sources): --path and --revision name one repository; \
             leave them out to render the revisions the controller compared",
            app.metadata.name.as_deref().unwrap_or_default()
        );
        let revisions = app.status.as_ref().map(|s| s.sync.revisions.clone()).unwrap_or_default();
        let mut snapshots = Vec::with_capacity(sources.len());
        for (index, source) in sources.iter().enumerate() {
            let target = revisions.get(index).cloned().or_else(|| source.target_revision.clone());
            snapshots.push(fetch(tools, source, target).await?);
        }
        return Ok(snapshots);
    }
    let Some(source) = sources.first() else { anyhow::bail!("the Application has no source") };
    let target = match origin {
        Origin::Checkout(dir) => return Ok(vec![checkout(&source.repo_url, dir)?]),
        Origin::Revision(revision) => Some(revision.clone()),
        Origin::Current => compared.or_else(|| source.target_revision.clone()),
    };
    Ok(vec![fetch(tools, source, target).await?])
}

/// `source` at `target` through the user's caches, with a fresh listing: an `oci://` artifact (a
/// chart in Helm's layout when `chart` is set), a chart from a Helm repository, or a git commit.
async fn fetch(tools: &ToolArgs, source: &ApplicationSource, target: Option<String>) -> anyhow::Result<Snapshot> {
    let repo_url = source.repo_url.trim();
    if lockstep_source::is_oci_url(repo_url) {
        if let Some(chart) = lockstep_render::chart_name(source) {
            let chart =
                lockstep_source::OciChartRef::new(repo_url, chart, target.as_deref()).map_err(anyhow::Error::msg)?;
            return oci_snapshot(&chart.url, chart.version, tools).await;
        }
        return oci_snapshot(repo_url, target, tools).await;
    }
    let request = SourceRequest {
        repo_url: repo_url.to_string(),
        target_revision: target.clone(),
        max_listing_age: Some(std::time::Duration::ZERO),
        ..Default::default()
    };
    if let Some(chart) = lockstep_render::chart_name(source) {
        let options = lockstep_source::HelmRepoOptions::default();
        let cache = HelmRepoCache::new(&tools.cache_dir(), options).context("opening the chart cache")?;
        return cache.chart(&request, chart).await.with_context(|| {
            format!("fetching chart {chart} from {repo_url} at {}", target.as_deref().unwrap_or("the latest version"))
        });
    }
    let cache = GitCache::new(tools.cache_dir()).context("opening the git cache")?;
    cache
        .snapshot(&request)
        .await
        .with_context(|| format!("fetching {repo_url} at {}", target.as_deref().unwrap_or("the default branch")))
}

/// An `oci://` artifact fetched into the user's cache, with the registry credentials of the flags.
async fn oci_snapshot(repo_url: &str, target: Option<String>, tools: &ToolArgs) -> anyhow::Result<Snapshot> {
    let ca_data = match &tools.registry_ca_file {
        Some(file) => Some(std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?),
        None => None,
    };
    let auth = OciAuth {
        username: tools.registry_username.clone(),
        password: tools.registry_password.clone(),
        ca_data,
        origin: None,
        cosign_public_key: None,
    };
    let cache = OciCache::open(&tools.cache_dir(), OciOptions::default()).context("opening the OCI cache")?;
    let request = OciRequest { repo_url: repo_url.to_string(), target_revision: target.clone(), auth };
    let snapshot = cache.snapshot(&request).await;
    snapshot.with_context(|| format!("fetching {repo_url} at {}", target.as_deref().unwrap_or("latest")))
}

/// A local directory as a snapshot: its files as they are, under the revision name `local`.
pub(crate) fn checkout(repo_url: &str, dir: &Path) -> anyhow::Result<Snapshot> {
    let root = dir.canonicalize().with_context(|| format!("reading {}", dir.display()))?;
    anyhow::ensure!(root.is_dir(), "{} is not a directory", root.display());
    Ok(Snapshot {
        repo_url: repo_url.to_string(),
        revision: "local".into(),
        root,
        fetched_from: None,
        unavailable: None,
        verified: None,
    })
}

/// Renders `app` from `snapshots` (one per source) as the controller would (the cluster is asked
/// for Helm's capabilities when a client is given), SOPS-encrypted objects decrypted with the local keys.
pub(crate) async fn render(
    app: &Application,
    snapshots: &[Snapshot],
    tools: &ToolArgs,
    client: Option<&kube::Client>,
) -> anyhow::Result<Vec<Manifest>> {
    let rendered = render_encrypted(app, snapshots, tools, client).await?;
    decrypt(&rendered, snapshots, tools)
}

/// The render with every SOPS-encrypted object checked (it must decrypt with the local keys) and
/// shown with its encrypted values masked, for printing.
pub(crate) async fn render_masked(
    app: &Application,
    snapshots: &[Snapshot],
    tools: &ToolArgs,
    client: Option<&kube::Client>,
) -> anyhow::Result<Vec<Manifest>> {
    let rendered = render_encrypted(app, snapshots, tools, client).await?;
    decrypt(&rendered, snapshots, tools)?;
    Ok(rendered
        .into_iter()
        .map(|m| if is_encrypted(&m.object) { Manifest { object: masked(&m.object), ..m } } else { m })
        .collect())
}

/// Encrypted files are looked up in the first snapshot (the one source of a single-source Application).
fn decrypt(manifests: &[Manifest], snapshots: &[Snapshot], tools: &ToolArgs) -> anyhow::Result<Vec<Manifest>> {
    if !needs_decryption(manifests) {
        return Ok(manifests.to_vec());
    }
    let keys = tools.decryption_keys()?;
    anyhow::ensure!(
        !keys.is_empty(),
        "the render holds SOPS-encrypted objects: give an age or PGP key with --decryption-key FILE (or SOPS_AGE_KEY_FILE)"
    );
    let Some(snapshot) = snapshots.first() else { return Ok(manifests.to_vec()) };
    Ok(decrypt_manifests(&snapshot.root, manifests, &keys)?)
}

async fn render_encrypted(
    app: &Application,
    snapshots: &[Snapshot],
    tools: &ToolArgs,
    client: Option<&kube::Client>,
) -> anyhow::Result<Vec<Manifest>> {
    let renderer = tools.renderer();
    let capabilities = lockstep_engine::Capabilities::default();
    let caps = || async {
        match client {
            Some(client) => capabilities.get(client).await,
            None => lockstep_render::ClusterCapabilities::default(),
        }
    };
    let sources = app.spec.all_sources();
    let mut fetched = Vec::with_capacity(sources.len());
    for (source, s) in sources.into_iter().zip(snapshots) {
        fetched.push(FetchedSource {
            source,
            revision: s.revision.clone(),
            root: s.root.clone(),
            dependencies: Vec::new(),
            helm_charts: helm_charts(tools, source, s).await?,
        });
    }
    let at = || snapshots.iter().map(|s| format!("{} at {}", s.root.display(), short(&s.revision))).collect::<Vec<_>>();
    let rendered = lockstep_render::render_sources(&renderer, app, &fetched, caps)
        .await
        .with_context(|| format!("rendering {}", at().join(", ")))?;
    Ok(rendered.manifests.as_ref().clone())
}

/// The Kustomize `helmCharts` charts of `source`, fetched through the user's caches as a chart
/// source is (`oci://` ones with the registry flags).
async fn helm_charts(
    tools: &ToolArgs,
    source: &ApplicationSource,
    snapshot: &Snapshot,
) -> anyhow::Result<Vec<lockstep_render::ResolvedHelmChart>> {
    let charts = lockstep_render::kustomize_helm_charts(source, &snapshot.root)?;
    if charts.is_empty() {
        return Ok(Vec::new());
    }
    let cache = HelmRepoCache::new(&tools.cache_dir(), lockstep_source::HelmRepoOptions::default())
        .context("opening the chart cache")?;
    let mut resolved = Vec::with_capacity(charts.len());
    for chart in charts {
        let what = || format!("{}: helmCharts chart {} from {}", chart.kustomization, chart.name, chart.repo);
        let version = Some(chart.version.clone()).filter(|v| !v.is_empty());
        let found = if chart.is_oci() {
            let reference = lockstep_source::OciChartRef::new(&chart.repo, &chart.name, version.as_deref())
                .map_err(anyhow::Error::msg)
                .with_context(what)?;
            oci_snapshot(&reference.url, reference.version, tools).await.with_context(what)?
        } else {
            anyhow::ensure!(chart.is_helm_repository(), "{}: not an http(s):// or oci:// repository", what());
            let request = SourceRequest {
                repo_url: chart.repo.clone(),
                target_revision: version,
                max_listing_age: Some(std::time::Duration::ZERO),
                ..Default::default()
            };
            cache.chart(&request, &chart.name).await.with_context(what)?
        };
        resolved.push(lockstep_render::ResolvedHelmChart {
            name: chart.name,
            repository: chart.repo,
            version: chart.version,
            dir: found.root,
        });
    }
    Ok(resolved)
}

/// The first 12 characters of a commit SHA, as the controller shows them.
pub(crate) fn short(revision: &str) -> &str {
    revision.get(..12).unwrap_or(revision)
}
