//! Helm repository sources: a chart from an HTTP(S) Helm repository (`repoURL` + `chart` +
//! `targetRevision`) as a read-only [`Snapshot`] of the unpacked chart.
//!
//! The repository's `index.yaml` is fetched once per repository (and set of credential Secrets)
//! per interval, however many Applications read it: concurrent requests wait for the one in
//! flight. It is read under a byte cap and kept only as chart → versions → URLs and digest. Chart
//! archives are downloaded once per digest, verified against it, unpacked safely and made
//! read-only under `<cache>/helm/charts/<digest>/`. When every URL is down, the last good chart
//! of each request is served with [`Snapshot::unavailable`] set, as for git.

mod archive;
mod http;
mod index;
mod last_good;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use sha2::Digest as _;

use crate::cache::{CacheOptions, Endpoint, SourceRequest};
use crate::credentials::{redact, strip_userinfo};
use crate::error::SourceError;
use crate::snapshot::{Snapshot, Unavailable};
use crate::url::normalize_repo_url;
use http::HttpSettings;
use index::{ChartIndex, Unmatched, archive_url};
use last_good::{LastGood, LastGoodStore};

/// Caps and timing of Helm repository access.
#[derive(Clone, Debug)]
pub struct HelmRepoOptions {
    /// How long one fetched index serves every request for its repository.
    pub index_ttl: Duration,
    /// Most bytes of an `index.yaml` read; a larger index fails with `ArtifactTooLarge`.
    pub max_index_bytes: u64,
    /// Most bytes of one chart archive (compressed) downloaded.
    pub max_chart_bytes: u64,
    /// How long one download may take.
    pub timeout: Duration,
    /// Proxy for repositories whose credentials name none.
    pub default_proxy: Option<String>,
    /// Hosts reached without the default proxy.
    pub default_no_proxy: Option<String>,
}

/// Default cap of an `index.yaml`: 64 MiB, above the largest public indexes seen (44 MB).
pub const DEFAULT_MAX_INDEX_BYTES: u64 = 64 * 1024 * 1024;
/// Default cap of one chart archive: 32 MiB.
pub const DEFAULT_MAX_CHART_BYTES: u64 = 32 * 1024 * 1024;

impl HelmRepoOptions {
    /// The git cache's timing and proxies, with the default caps.
    pub fn from_cache_options(options: &CacheOptions) -> Self {
        Self {
            index_ttl: options.listing_ttl,
            max_index_bytes: DEFAULT_MAX_INDEX_BYTES,
            max_chart_bytes: DEFAULT_MAX_CHART_BYTES,
            timeout: options.fetch_timeout,
            default_proxy: options.default_proxy.clone(),
            default_no_proxy: options.default_no_proxy.clone(),
        }
    }
}

impl Default for HelmRepoOptions {
    fn default() -> Self {
        Self::from_cache_options(&CacheOptions::default())
    }
}

/// An index as fetched: when the fetch started, what it lists and which endpoint served it.
struct FetchedIndex {
    started: Instant,
    index: Arc<ChartIndex>,
    endpoint: Endpoint,
}

/// The shared cache of Helm repository indexes and chart archives.
pub struct HelmRepoCache {
    root: PathBuf,
    options: HelmRepoOptions,
    indexes: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<FetchedIndex>>>>>,
    downloads: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    last_good: LastGoodStore,
    index_fetches: AtomicU64,
    chart_downloads: AtomicU64,
}

impl HelmRepoCache {
    /// Opens (creating if needed) the cache under `<cache_root>/helm`.
    pub fn new(cache_root: &Path, options: HelmRepoOptions) -> Result<Self, SourceError> {
        let root = cache_root.join("helm");
        let charts = root.join("charts");
        std::fs::create_dir_all(&charts).map_err(|e| SourceError::cache(&charts, e))?;
        Ok(Self {
            last_good: LastGoodStore::open(root.join("last-good.json")),
            root,
            options,
            indexes: Mutex::default(),
            downloads: Mutex::default(),
            index_fetches: AtomicU64::new(0),
            chart_downloads: AtomicU64::new(0),
        })
    }

    /// Index fetches and chart downloads attempted since start.
    pub fn counters(&self) -> (u64, u64) {
        (self.index_fetches.load(Ordering::Relaxed), self.chart_downloads.load(Ordering::Relaxed))
    }

    /// The chart `chart` of the repository in `request` at its `target_revision` (a version, a
    /// semver range, or empty for the latest stable version), unpacked read-only. When every URL
    /// of the repository is unavailable, the last good chart for this request is served with
    /// `unavailable` set; other failures (refused credentials, unknown chart) are returned.
    pub async fn chart(&self, request: &SourceRequest, chart: &str) -> Result<Snapshot, SourceError> {
        let secrets: Vec<String> = request.effective_endpoints().iter().flat_map(|e| e.credentials.secrets()).collect();
        let repo_key = format!("{}#{:016x}", normalize_repo_url(&request.repo_url), request.access_identity());
        let spec_key = format!("{repo_key}|{chart}|{}", request.target_revision.as_deref().unwrap_or_default().trim());
        match self.resolve(request, chart, &repo_key).await.map_err(|e| redact_error(e, &secrets)) {
            Ok(snapshot) => {
                let good = LastGood {
                    version: snapshot.revision.clone(),
                    root: snapshot.root.clone(),
                    fetched_from: snapshot.fetched_from.clone(),
                };
                self.last_good.succeeded(&repo_key, &spec_key, good);
                Ok(snapshot)
            }
            Err(err) if err.is_outage() => {
                let since = self.last_good.failed(&repo_key);
                match self.last_good.get(&spec_key).filter(|good| good.root.join("Chart.yaml").is_file()) {
                    Some(good) => Ok(Snapshot {
                        repo_url: request.repo_url.clone(),
                        revision: good.version,
                        root: good.root,
                        fetched_from: None,
                        unavailable: Some(Unavailable { since, error: err }),
                        verified: None,
                    }),
                    None => Err(err),
                }
            }
            Err(err) => Err(err),
        }
    }

    async fn resolve(&self, request: &SourceRequest, chart: &str, repo_key: &str) -> Result<Snapshot, SourceError> {
        let (index, endpoint) = self.index(request, repo_key).await?;
        let repo = strip_userinfo(&request.repo_url);
        let target = request.target_revision.as_deref().map(str::trim).unwrap_or_default();
        let version = index.select(chart, Some(target)).map_err(|unmatched| match unmatched {
            Unmatched::UnknownChart => SourceError::ChartNotFound { repo: repo.clone(), chart: chart.into() },
            Unmatched::UnknownVersion(versions) => SourceError::ChartVersionNotFound {
                repo: repo.clone(),
                chart: chart.into(),
                version: target.into(),
                versions: versions.join(", "),
            },
            Unmatched::OutOfRange(versions) => SourceError::NoMatchingVersion {
                repo: repo.clone(),
                chart: chart.into(),
                range: target.into(),
                versions: versions.join(", "),
            },
        })?;
        let url = archive_url(&endpoint.url, version).ok_or_else(|| SourceError::InvalidArtifact {
            repo: repo.clone(),
            message: format!("the index lists no URL for {chart} {}", version.version),
        })?;
        let root = self.archive(&endpoint, &url, version.digest.as_deref()).await?;
        Ok(Snapshot {
            repo_url: request.repo_url.clone(),
            revision: version.version.clone(),
            root,
            fetched_from: Some(strip_userinfo(&endpoint.url)),
            unavailable: None,
            verified: None,
        })
    }

    /// The repository's index: the cached one if its fetch started within the allowed age, else
    /// fetched from the first endpoint that serves one. Concurrent callers wait for one fetch.
    async fn index(&self, request: &SourceRequest, repo_key: &str) -> Result<(Arc<ChartIndex>, Endpoint), SourceError> {
        let requested_at = Instant::now();
        let slot = {
            let mut indexes = self.indexes.lock().unwrap_or_else(|p| p.into_inner());
            indexes.entry(repo_key.to_string()).or_default().clone()
        };
        let mut cached = slot.lock().await;
        let max_age = request.max_listing_age.unwrap_or(self.options.index_ttl);
        if let Some(fetched) = cached.as_ref()
            && requested_at.saturating_duration_since(fetched.started) <= max_age
        {
            return Ok((fetched.index.clone(), fetched.endpoint.clone()));
        }
        let started = Instant::now();
        let mut first_refusal = None;
        let mut last_error = None;
        for endpoint in request.effective_endpoints() {
            match self.fetch_index(&endpoint).await {
                Ok(index) => {
                    let index = Arc::new(index);
                    *cached = Some(FetchedIndex { started, index: index.clone(), endpoint: endpoint.clone() });
                    return Ok((index, endpoint));
                }
                Err(err) => {
                    tracing::debug!(url = %strip_userinfo(&endpoint.url), %err, "Helm repository index");
                    if !err.is_outage() && first_refusal.is_none() {
                        first_refusal = Some(err);
                    } else {
                        last_error = Some(err);
                    }
                }
            }
        }
        Err(first_refusal.or(last_error).unwrap_or_else(|| SourceError::Configuration {
            message: format!("no URL to fetch {} from", strip_userinfo(&request.repo_url)),
        }))
    }

    async fn fetch_index(&self, endpoint: &Endpoint) -> Result<ChartIndex, SourceError> {
        self.index_fetches.fetch_add(1, Ordering::Relaxed);
        let client = http::client(&endpoint.url, &endpoint.credentials, &self.settings())?;
        let url = format!("{}/index.yaml", endpoint.url.trim().trim_end_matches('/'));
        let cap = self.options.max_index_bytes;
        let body = http::get_capped(&client, &url, &endpoint.credentials, &endpoint.url, cap, "index.yaml").await?;
        let parsed = tokio::task::spawn_blocking(move || ChartIndex::parse(&body))
            .await
            .map_err(|e| SourceError::Cache { path: "index parsing task".into(), message: e.to_string() })?;
        let index = parsed.map_err(|message| SourceError::InvalidArtifact { repo: strip_userinfo(&url), message })?;
        tracing::debug!(url = %strip_userinfo(&url), versions = index.len(), "fetched Helm repository index");
        Ok(index)
    }

    /// The unpacked chart of the archive at `url`: from the cache when this digest (or, without
    /// one, this URL) was unpacked before, else downloaded once, verified and unpacked.
    async fn archive(&self, endpoint: &Endpoint, url: &str, digest: Option<&str>) -> Result<PathBuf, SourceError> {
        let digest = digest.map(str::trim).map(str::to_ascii_lowercase).filter(|d| !d.is_empty());
        if let Some(d) = &digest
            && (d.len() != 64 || !d.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(SourceError::InvalidArtifact {
                repo: strip_userinfo(url),
                message: format!("the index's digest {d:?} is not a SHA-256"),
            });
        }
        let key = digest.clone().unwrap_or_else(|| {
            format!("url-{:016x}", lockstep_api::stable_hash::fnv1a64(normalize_repo_url(url).as_bytes()))
        });
        let dir = self.root.join("charts").join(&key);
        if let Some(chart) = unpacked_chart(&dir) {
            return Ok(chart);
        }
        let lock = {
            let mut downloads = self.downloads.lock().unwrap_or_else(|p| p.into_inner());
            downloads.entry(key.clone()).or_default().clone()
        };
        let _guard = lock.lock().await;
        if let Some(chart) = unpacked_chart(&dir) {
            return Ok(chart);
        }
        self.chart_downloads.fetch_add(1, Ordering::Relaxed);
        let client = http::client(url, &endpoint.credentials, &self.settings())?;
        let cap = self.options.max_chart_bytes;
        let bytes = http::get_capped(&client, url, &endpoint.credentials, &endpoint.url, cap, "chart archive").await?;
        let display = strip_userinfo(url);
        let (staging_root, target) = (self.root.join("charts"), dir.clone());
        tokio::task::spawn_blocking(move || {
            unpack_verified(&bytes, digest.as_deref(), &staging_root, &target, &display)
        })
        .await
        .map_err(|e| SourceError::Cache { path: "chart unpacking task".into(), message: e.to_string() })?
    }

    fn settings(&self) -> HttpSettings {
        HttpSettings {
            timeout: self.options.timeout,
            default_proxy: self.options.default_proxy.clone(),
            default_no_proxy: self.options.default_no_proxy.clone(),
        }
    }
}

/// The chart directory inside an unpacked archive directory, if it is there.
fn unpacked_chart(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).find(|p| p.join("Chart.yaml").is_file())
}

/// Checks the archive's SHA-256 against `digest`, unpacks it into a staging directory, makes it
/// read-only and renames it into `target`, so readers never see a half-unpacked chart.
fn unpack_verified(
    bytes: &[u8],
    digest: Option<&str>,
    staging_root: &Path,
    target: &Path,
    url: &str,
) -> Result<PathBuf, SourceError> {
    let invalid = |message: String| SourceError::InvalidArtifact { repo: url.to_string(), message };
    let actual = hex::encode(sha2::Sha256::digest(bytes));
    if let Some(expected) = digest
        && actual != expected
    {
        return Err(invalid(format!(
            "digest mismatch: the index says sha256:{expected}, the archive is sha256:{actual}"
        )));
    }
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let staging = staging_root.join(format!(".tmp-{}-{nanos}", std::process::id()));
    let unpacked = archive::unpack_chart(bytes, &staging);
    let chart = match unpacked {
        Ok(chart) => chart,
        Err(message) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(invalid(message));
        }
    };
    let name = chart.file_name().map(ToOwned::to_owned).unwrap_or_default();
    archive::make_read_only(&staging).map_err(|e| SourceError::cache(&staging, e))?;
    match std::fs::rename(&staging, target) {
        Ok(()) => Ok(target.join(name)),
        Err(_) if unpacked_chart(target).is_some() => {
            let _ = make_writable_and_remove(&staging);
            unpacked_chart(target).ok_or_else(|| SourceError::cache(target, "vanished"))
        }
        Err(e) => Err(SourceError::cache(target, e)),
    }
}

fn make_writable_and_remove(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in walk(dir) {
        let _ = std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o755));
    }
    std::fs::remove_dir_all(dir)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
    }
    out
}

/// Removes secret values from an error's message before it leaves this module.
fn redact_error(err: SourceError, secrets: &[String]) -> SourceError {
    if secrets.is_empty() {
        return err;
    }
    let text = |s: String| redact(&s, secrets);
    match err {
        SourceError::Unreachable { repo, message } => SourceError::Unreachable { repo, message: text(message) },
        SourceError::AuthenticationFailed { repo, message } => {
            SourceError::AuthenticationFailed { repo, message: text(message) }
        }
        SourceError::ProxyAuthenticationFailed { repo, message } => {
            SourceError::ProxyAuthenticationFailed { repo, message: text(message) }
        }
        SourceError::Tls { repo, message } => SourceError::Tls { repo, message: text(message) },
        SourceError::Configuration { message } => SourceError::Configuration { message: text(message) },
        other => other,
    }
}
