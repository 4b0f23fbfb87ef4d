//! OCI sources: Helm charts in Helm's OCI format and plain manifest artifacts (a tar+gzip layer of
//! YAML, as Flux's OCIRepository and Argo CD read them) from a registry, as [`Snapshot`]s the
//! render stage reads like a git checkout.
//!
//! Each artifact is downloaded once per manifest digest into `<cache>/oci/artifacts/<hex>`, shared
//! by every Application, checked against its digests and size cap, unpacked without links or
//! paths leaving it; concurrent requests for one digest wait for the one download. The last good
//! artifact of each request is recorded, so a registry outage keeps it rendering.

mod chart_ref;
mod cosign;
mod extract;
mod reference;
mod registry;
mod state;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

pub use chart_ref::OciChartRef;
pub use reference::{OCI_SCHEME, OciPin, OciTarget, chart_version_tag, is_oci_url, revision_of};

use crate::error::SourceError;
use crate::snapshot::{Snapshot, Unavailable};
use extract::ExtractError;
use registry::Registry;
use state::OciState;

/// Default cap on an artifact: its layer as downloaded and its files once unpacked, each.
pub const DEFAULT_MAX_ARTIFACT_BYTES: u64 = 128 * 1024 * 1024;

/// How the OCI cache behaves.
#[derive(Clone, Debug)]
pub struct OciOptions {
    /// Cap in bytes on an artifact's layer and, separately, on its unpacked files.
    pub max_artifact_bytes: u64,
    /// Bound on one look at the registry (resolution and download).
    pub fetch_timeout: Duration,
}

impl Default for OciOptions {
    fn default() -> Self {
        Self { max_artifact_bytes: DEFAULT_MAX_ARTIFACT_BYTES, fetch_timeout: Duration::from_secs(120) }
    }
}

/// Registry credentials, from a docker-config or basic-auth Secret. `Debug` hides the password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OciAuth {
    /// User for basic auth (or the registry's token service).
    pub username: Option<String>,
    /// Password or token.
    pub password: Option<String>,
    /// PEM CA certificate(s) trusted for this registry, in addition to the system's.
    pub ca_data: Option<String>,
    /// Which Secret they came from (`namespace/name`): last good artifacts are kept per Secret.
    pub origin: Option<String>,
    /// PEM ECDSA P-256 public key: when set, only artifacts with a cosign signature by it are read.
    pub cosign_public_key: Option<String>,
}

impl std::fmt::Debug for OciAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OciAuth")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("ca_data", &self.ca_data.as_ref().map(|_| "<set>"))
            .field("origin", &self.origin)
            .field("cosign_public_key", &self.cosign_public_key.is_some())
            .finish()
    }
}

/// One Application's OCI source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OciRequest {
    /// `oci://registry/repository[:tag|@digest]`.
    pub repo_url: String,
    /// Tag, semver range or digest.
    pub target_revision: Option<String>,
    /// Credentials and CA for the registry.
    pub auth: OciAuth,
}

/// The shared cache of OCI artifacts.
pub struct OciCache {
    dir: PathBuf,
    options: OciOptions,
    downloads: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    state: Mutex<OciState>,
    /// Digests whose signature verified, with the key (`digest key-hash`), so each is checked once.
    verified: Mutex<std::collections::HashSet<String>>,
}

impl OciCache {
    /// Opens (creating) the cache under `<cache_dir>/oci`, with the last good artifacts it recorded.
    pub fn open(cache_dir: &Path, options: OciOptions) -> Result<Self, SourceError> {
        let dir = cache_dir.join("oci");
        std::fs::create_dir_all(dir.join("artifacts")).map_err(|e| SourceError::cache(&dir, e))?;
        let state = OciState::load(&dir.join("state.json"));
        Ok(Self { dir, options, downloads: Mutex::default(), state: Mutex::new(state), verified: Mutex::default() })
    }

    /// The artifact `request` names, fetched unless its digest is cached. When the registry is
    /// unavailable, the last good artifact of the same request, marked [`Unavailable`].
    pub async fn snapshot(&self, request: &OciRequest) -> Result<Snapshot, SourceError> {
        let target = OciTarget::parse(&request.repo_url, request.target_revision.as_deref())
            .map_err(|message| SourceError::Configuration { message })?;
        let key = format!("{}#{:?}#{}", target.name(), target.pin, request.auth.origin.as_deref().unwrap_or("-"));
        let attempt = tokio::time::timeout(self.options.fetch_timeout, self.fetch(&target, &request.auth)).await;
        let result = attempt.unwrap_or_else(|_| {
            Err(SourceError::Timeout { repo: target.name(), seconds: self.options.fetch_timeout.as_secs() })
        });
        let result = result.map_err(|e| redact_error(e, &request.auth));
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok((revision, digest)) => {
                let root = self.artifact_root(&digest)?;
                if state.succeeded(&key, &revision, &digest) {
                    state.save(&self.dir.join("state.json"));
                }
                Ok(Snapshot {
                    repo_url: request.repo_url.clone(),
                    revision,
                    root,
                    fetched_from: Some(target.name()),
                    unavailable: None,
                    verified: None,
                })
            }
            Err(error) if error.is_outage() => {
                let Some((last, since)) = state.failed(&key, SystemTime::now()) else { return Err(error) };
                state.save(&self.dir.join("state.json"));
                let root = self.artifact_root(&last.digest).map_err(|_| error.clone())?;
                Ok(Snapshot {
                    repo_url: request.repo_url.clone(),
                    revision: last.revision,
                    root,
                    fetched_from: None,
                    unavailable: Some(Unavailable { since, error }),
                    verified: None,
                })
            }
            Err(error) => Err(error),
        }
    }

    /// Resolves the pin and makes sure its artifact is unpacked; returns the revision and digest.
    async fn fetch(&self, target: &OciTarget, auth: &OciAuth) -> Result<(String, String), SourceError> {
        let registry = Registry::connect(target, auth, self.options.fetch_timeout)?;
        let (digest, tag) = registry.resolve(target).await?;
        let revision = revision_of(tag.as_deref(), &digest);
        if let Some(pem) = auth.cosign_public_key.as_deref() {
            let key = cosign::public_key(pem).map_err(|message| SourceError::Configuration { message })?;
            let verified_key = format!("{digest} {:016x}", lockstep_api::stable_hash::fnv1a64(&key));
            let known = self.verified.lock().unwrap_or_else(|p| p.into_inner()).contains(&verified_key);
            if !known {
                registry.verify_signature(target, &digest, &key).await?;
                self.verified.lock().unwrap_or_else(|p| p.into_inner()).insert(verified_key);
            }
        }
        if self.artifact_root(&digest).is_ok() {
            return Ok((revision, digest));
        }
        let gate = {
            let mut downloads = self.downloads.lock().unwrap_or_else(|p| p.into_inner());
            downloads.entry(digest.clone()).or_default().clone()
        };
        let one_download = gate.lock().await;
        let downloaded =
            if self.artifact_root(&digest).is_err() { self.download(&registry, target, &digest).await } else { Ok(()) };
        drop(one_download);
        self.downloads.lock().unwrap_or_else(|p| p.into_inner()).remove(&digest);
        downloaded.map(|()| (revision, digest))
    }

    /// Downloads, verifies and unpacks the artifact at `digest` into `artifacts/<hex>`, through a
    /// staging directory renamed into place (readers never see half an artifact).
    async fn download(&self, registry: &Registry, target: &OciTarget, digest: &str) -> Result<(), SourceError> {
        let manifest = registry.manifest(target, digest).await?;
        let layer = registry::content_layer(&manifest)
            .map_err(|message| SourceError::InvalidArtifact { repo: target.name(), message })?
            .clone();
        let staging = self.dir.join("artifacts").join(format!(".tmp-{}-{}", std::process::id(), hex_of(digest)));
        let _ = std::fs::remove_dir_all(&staging);
        let content = staging.join("content");
        std::fs::create_dir_all(&content).map_err(|e| SourceError::cache(&content, e))?;
        let outcome = self.unpack(registry, target, &layer, &staging).await;
        let finish = outcome.and_then(|()| {
            let final_dir = self.artifact_dir(digest);
            std::fs::rename(&staging, &final_dir)
                .or_else(|e| if final_dir.is_dir() { Ok(()) } else { Err(e) })
                .map_err(|e| SourceError::cache(&final_dir, e))
        });
        let _ = std::fs::remove_dir_all(&staging);
        finish
    }

    async fn unpack(
        &self,
        registry: &Registry,
        target: &OciTarget,
        layer: &oci_client::manifest::OciDescriptor,
        staging: &Path,
    ) -> Result<(), SourceError> {
        let blob = staging.join("layer.tar.gz");
        registry.download(target, layer, &blob, self.options.max_artifact_bytes).await?;
        let content = staging.join("content");
        let max = self.options.max_artifact_bytes;
        let repo = target.name();
        let is_chart = layer.media_type == registry::HELM_CHART_LAYER;
        let blob_path = blob.clone();
        let marker = staging.join(CHART_MARKER);
        let unpacked = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&blob_path).map_err(|e| ExtractError::Io(e.to_string()))?;
            extract::extract_tar_gz(std::io::BufReader::new(file), &content, max)?;
            if is_chart {
                let root = extract::chart_root(&content)?;
                let name = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                std::fs::write(&marker, name).map_err(|e| ExtractError::Io(e.to_string()))?;
            }
            Ok(())
        })
        .await
        .map_err(|e| SourceError::cache(staging, e))?;
        let _ = std::fs::remove_file(&blob);
        unpacked.map_err(|e| match e {
            ExtractError::Unsafe(message) => SourceError::UnsafeArtifact { repo, message },
            ExtractError::TooLarge { limit } => {
                SourceError::ArtifactTooLarge { repo, what: "the unpacked artifact".into(), limit }
            }
            ExtractError::Io(message) => SourceError::InvalidArtifact { repo, message },
        })
    }

    fn artifact_dir(&self, digest: &str) -> PathBuf {
        self.dir.join("artifacts").join(hex_of(digest))
    }

    /// The directory to render for a cached artifact: the chart's directory for a Helm chart,
    /// else the unpacked files. `Err` when the digest is not cached.
    fn artifact_root(&self, digest: &str) -> Result<PathBuf, SourceError> {
        let content = self.artifact_dir(digest).join("content");
        if !content.is_dir() {
            return Err(SourceError::cache(&content, "not cached"));
        }
        crate::snapshot_gc::touch(&self.artifact_dir(digest));
        match std::fs::read_to_string(self.artifact_dir(digest).join(CHART_MARKER)) {
            Ok(chart) if !chart.contains('/') && !chart.contains("..") => Ok(content.join(chart.trim())),
            _ => Ok(content),
        }
    }
}

/// File beside `content/` naming the chart's directory inside it, for Helm charts.
const CHART_MARKER: &str = "chart";

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// No password reaches a message.
fn redact_error(error: SourceError, auth: &OciAuth) -> SourceError {
    let Some(password) = auth.password.as_deref() else { return error };
    let text = error.to_string();
    if text.contains(password) {
        let message = crate::credentials::redact(&text, &[password.to_string()]);
        return match error {
            SourceError::Unreachable { repo, .. } => SourceError::Unreachable { repo, message },
            _ => SourceError::Configuration { message },
        };
    }
    error
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
