//! The renderer the controller shares: detects the source type, checks the sandbox rules, and
//! renders through the cache, one render per key at a time and at most N renders at once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{OnceCell, Semaphore};
use tracing::{debug, info};

use crate::cache::{Manifests, RenderCache, cache_key};
use crate::detect::detect_kind;
use crate::directory::{parse_manifests, render_directory, resolve_source_path};
use crate::error::RenderError;
use crate::options::{RenderRequest, SourceKind};
use crate::sandbox::{check_symlinks, relative};
use crate::tool::{self, Invocation, Limits};
use crate::{helm, kustomize, kustomize_helm};

/// How the renderer is set up: tool paths, limits, concurrency and where it keeps its cache.
#[derive(Clone, Debug)]
pub struct RendererConfig {
    /// The `kustomize` executable.
    pub kustomize: PathBuf,
    /// The `helm` executable.
    pub helm: PathBuf,
    /// Timeout and output cap of each tool run.
    pub limits: Limits,
    /// Most renders running at once.
    pub max_concurrent: usize,
    /// Directory of the persisted render cache; `None` keeps it in memory only.
    pub cache_dir: Option<PathBuf>,
    /// Renders kept in memory.
    pub max_cached: usize,
    /// Renders kept on disk.
    pub max_cached_on_disk: usize,
}

impl Default for RendererConfig {
    fn default() -> Self {
        Self {
            kustomize: "kustomize".into(),
            helm: "helm".into(),
            limits: Limits::default(),
            max_concurrent: 4,
            cache_dir: None,
            max_cached: 256,
            max_cached_on_disk: 1024,
        }
    }
}

/// A render's result: the manifests (shared with every identical request) and the detected type.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The objects to deploy.
    pub manifests: Manifests,
    /// The source type used.
    pub kind: SourceKind,
}

/// Renders sources; cheap to share behind an `Arc`.
pub struct Renderer {
    config: RendererConfig,
    permits: Semaphore,
    cache: RenderCache,
    kustomize_version: OnceCell<String>,
    helm_version: OnceCell<String>,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    renders: AtomicU64,
}

/// What identifies a render: everything that can change its output.
#[derive(Serialize)]
struct Key<'a> {
    revision: &'a str,
    path: &'a str,
    kind: SourceKind,
    options: Value,
    tool: &'a str,
}

impl Renderer {
    /// A renderer with an empty in-memory cache over whatever is persisted in `cache_dir`.
    pub fn new(config: RendererConfig) -> Self {
        Self {
            permits: Semaphore::new(config.max_concurrent.max(1)),
            cache: RenderCache::new(config.cache_dir.clone(), config.max_cached, config.max_cached_on_disk),
            kustomize_version: OnceCell::new(),
            helm_version: OnceCell::new(),
            flights: Mutex::default(),
            renders: AtomicU64::new(0),
            config,
        }
    }

    /// How many renders actually ran (cache hits excluded) since start.
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    /// Renders the request, or returns the cached render of an identical one.
    pub async fn render(&self, request: &RenderRequest) -> Result<Rendered, RenderError> {
        let dir = resolve_source_path(&request.root, Some(&request.path))?;
        let kind = detect_kind(&dir, request.kind);
        let (options, tool) = match kind {
            SourceKind::Directory => (serde_json::to_value(&request.directory), String::new()),
            SourceKind::Kustomize if request.kustomize.helm_charts.is_empty() => {
                (serde_json::to_value(&request.kustomize), self.version(kind).await?)
            }
            SourceKind::Kustomize => {
                let tools = format!("{} {}", self.version(kind).await?, self.version(SourceKind::Helm).await?);
                (serde_json::to_value(&request.kustomize), tools)
            }
            SourceKind::Helm => (serde_json::to_value(&request.helm), self.version(kind).await?),
        };
        let options = options.map_err(|e| RenderError::scratch("render options", e))?;
        let mut identity = Key { revision: "", path: &request.path, kind, options, tool: &tool };
        let source = cache_key(&identity);
        identity.revision = &request.revision;
        let key = cache_key(&identity);
        if let Some(manifests) = self.cache.get(&key, &source) {
            debug!(path = %request.path, revision = %request.revision, "render cache hit");
            return Ok(Rendered { manifests, kind });
        }
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            flights.entry(key.clone()).or_default().clone()
        };
        let _flight = flight.lock().await;
        let result = match self.cache.get(&key, &source) {
            Some(manifests) => Ok(manifests),
            None => {
                let result = self.render_uncached(request, &dir, kind).await;
                if let Ok(manifests) = &result {
                    self.cache.put(&key, &source, manifests.clone());
                }
                result
            }
        };
        // Every path removes its flight, a cache hit after waiting included: a waiter that arrived
        // after the renderer removed the first one made a new one, and nothing else would remove it
        // (one stray entry per such race and revision, kept forever).
        self.flights.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
        result.map(|manifests| Rendered { manifests, kind })
    }

    async fn render_uncached(
        &self,
        request: &RenderRequest,
        dir: &Path,
        kind: SourceKind,
    ) -> Result<Manifests, RenderError> {
        let _permit = self.permits.acquire().await.map_err(|e| RenderError::scratch("render slot", e))?;
        let started = Instant::now();
        let root = request.root.clone();
        // Each kind judges the symlinks of exactly what it reads, before reading it.
        let manifests = match kind {
            SourceKind::Directory => {
                check_symlinks(&root, &[dir.to_path_buf()])?;
                let (dir, options) = (dir.to_path_buf(), request.directory.clone());
                tokio::task::spawn_blocking(move || render_directory(&root, &dir, &options))
                    .await
                    .map_err(|e| RenderError::scratch("directory render", e))??
            }
            SourceKind::Kustomize => self.kustomize(request, dir).await?,
            SourceKind::Helm => self.helm(request, dir).await?,
        };
        self.renders.fetch_add(1, Ordering::Relaxed);
        info!(
            %kind, path = %request.path, revision = %request.revision, objects = manifests.len(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX), "rendered"
        );
        Ok(Arc::new(manifests))
    }

    async fn kustomize(&self, request: &RenderRequest, dir: &Path) -> Result<Vec<crate::Manifest>, RenderError> {
        let root = &request.root;
        kustomize::check_references(root, dir)?;
        let mut dirs = vec![dir.to_path_buf()];
        dirs.extend(request.kustomize.components.iter().filter_map(|c| crate::sandbox::resolve_inside(root, dir, c)));
        let charts = kustomize_helm::helm_charts(root, &dirs)?;
        let placements = kustomize_helm::placements(&charts, &request.kustomize.helm_charts)?;
        let scratch = scratch_dir()?;
        // Charts are placed in a copy of the repository (the snapshot is never written).
        let (tree_root, tree_dir) = if placements.is_empty() {
            (root.clone(), dir.to_path_buf())
        } else {
            let tree = scratch.path().join("tree");
            kustomize_helm::copy_tree(root, &tree)?;
            kustomize_helm::place_charts(&tree, &placements)?;
            let inner = dir.strip_prefix(root).map_err(|e| RenderError::scratch(dir.display(), e))?;
            (tree.clone(), tree.join(inner))
        };
        let build_dir = if request.kustomize.is_empty() {
            tree_dir
        } else {
            let overlay = scratch.path().join("overlay");
            std::fs::create_dir_all(&overlay).map_err(|e| RenderError::scratch("overlay", e))?;
            // Canonical paths on both sides, so the relative path between them holds.
            let canonical = |p: &Path| p.canonicalize().map_err(|e| RenderError::scratch(p.display(), e));
            let text = kustomize::overlay(
                &canonical(&tree_root)?,
                &canonical(&tree_dir)?,
                &canonical(&overlay)?,
                &request.kustomize,
            )?;
            std::fs::write(overlay.join("kustomization.yaml"), text).map_err(|e| RenderError::scratch("overlay", e))?;
            overlay
        };
        let mut args = kustomize::build_args(&build_dir);
        if !charts.is_empty() {
            let helm = tool::resolve_program("helm", &self.config.helm, std::env::var_os("PATH"))?;
            args.extend(kustomize_helm::helm_args(&helm));
        }
        let invocation = Invocation {
            tool: "kustomize",
            program: &self.config.kustomize,
            args,
            cwd: scratch.path(),
            scratch: scratch.path(),
        };
        let out = tool::run(invocation, &self.config.limits).await?;
        parse_tool_output(root, dir, "kustomize build", &out)
    }

    async fn helm(&self, request: &RenderRequest, dir: &Path) -> Result<Vec<crate::Manifest>, RenderError> {
        let root = &request.root;
        let options = &request.helm;
        let scratch = scratch_dir()?;
        let chart = helm::prepare_chart(root, dir, scratch.path(), &options.dependencies)?;
        let mut values = helm::value_files(root, dir, options)?;
        if let Some(inline) = helm::inline_values(options)? {
            let file = scratch.path().join("inline-values.yaml");
            std::fs::write(&file, inline).map_err(|e| RenderError::scratch("inline values", e))?;
            values.push(file);
        }
        let invocation = Invocation {
            tool: "helm",
            program: &self.config.helm,
            args: helm::template_args(&chart, options, &values),
            cwd: scratch.path(),
            scratch: scratch.path(),
        };
        let out = tool::run(invocation, &self.config.limits).await?;
        parse_tool_output(root, dir, "helm template", &out).map(helm::without_test_hooks)
    }

    /// The tool's version, asked once; part of every cache key so a new tool re-renders.
    async fn version(&self, kind: SourceKind) -> Result<String, RenderError> {
        let (cell, tool, program, args): (_, &'static str, _, &[&str]) = match kind {
            SourceKind::Helm => (&self.helm_version, "helm", &self.config.helm, &["version", "--short"]),
            _ => (&self.kustomize_version, "kustomize", &self.config.kustomize, &["version"]),
        };
        cell.get_or_try_init(|| async {
            let scratch = scratch_dir()?;
            let invocation = Invocation {
                tool,
                program,
                args: args.iter().map(|a| a.to_string()).collect(),
                cwd: scratch.path(),
                scratch: scratch.path(),
            };
            // Fixed limits: a tight render timeout must not make the tool look missing.
            let limits = Limits { timeout: std::time::Duration::from_secs(30), max_output: 64 * 1024 };
            let out = tool::run(invocation, &limits).await?;
            Ok(format!("{tool} {}", String::from_utf8_lossy(&out).trim()))
        })
        .await
        .cloned()
    }
}

fn scratch_dir() -> Result<tempfile::TempDir, RenderError> {
    tempfile::Builder::new()
        .prefix("lockstep-render-")
        .tempdir()
        .map_err(|e| RenderError::scratch("scratch directory", e))
}

fn parse_tool_output(root: &Path, dir: &Path, what: &str, out: &[u8]) -> Result<Vec<crate::Manifest>, RenderError> {
    let text = String::from_utf8_lossy(out);
    parse_manifests(&format!("{} ({what})", relative(root, dir)), &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One out-of-repository symlink in a monorepo fails only the Application that reads it.
    #[tokio::test]
    async fn a_bad_symlink_fails_only_the_application_that_reads_it() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        for app in ["apps/web", "apps/broken"] {
            std::fs::create_dir_all(root.join(app)).unwrap();
        }
        std::fs::write(root.join("apps/web/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n")
            .unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("apps/broken/passwd.yaml")).unwrap();
        let renderer = Renderer::new(RendererConfig::default());
        let request = |path: &str| RenderRequest {
            revision: "abc".into(),
            root: root.to_path_buf(),
            path: path.into(),
            kind: Some(SourceKind::Directory),
            ..Default::default()
        };
        let web = renderer.render(&request("apps/web")).await.unwrap();
        assert_eq!(web.manifests.len(), 1);
        let err = renderer.render(&request("apps/broken")).await.unwrap_err();
        assert!(matches!(&err, RenderError::SymlinkOutsideRepository { file } if file == "apps/broken/passwd.yaml"));
        let err = renderer.render(&request("")).await.unwrap_err();
        assert!(matches!(&err, RenderError::SymlinkOutsideRepository { .. }), "{err}");
    }
}
