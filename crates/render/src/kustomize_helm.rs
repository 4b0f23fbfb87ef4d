//! Kustomize `helmCharts` (what `kustomize build --enable-helm` inflates): which charts a build
//! reads and where Kustomize looks for each (pure, from the kustomization files), and the render's
//! writable copy of the repository with the charts the caller resolved placed there, so Kustomize
//! finds every chart on disk and never runs `helm pull`.
//!
//! Kustomize (api v0.21, `HelmChartInflationGenerator`) looks for a chart at
//! `<chartHome>/<name>-<version>/<name>/` when the entry has both `repo` and `version`, else at
//! `<chartHome>/<name>/`, with `chartHome` (`helmGlobals.chartHome`, default `charts`) relative to
//! the kustomization's directory; only when that directory is missing does it pull.

use std::path::{Path, PathBuf};

use lockstep_api::ApplicationSource;
use serde::Serialize;
use serde_json::Value;

use crate::error::RenderError;
use crate::kustomize::read_kustomization;
use crate::options::SourceKind;
use crate::sandbox::{looks_remote, relative, resolve_inside};

/// The generator config that inflates a chart outside `helmCharts`.
const PLUGIN_KIND: &str = "kind: HelmChartInflationGenerator";
/// Kustomize's default `chartHome`.
const DEFAULT_CHART_HOME: &str = "charts";

/// One `helmCharts` entry of a kustomization the build reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KustomizeHelmChart {
    /// The kustomization file that names it, relative to the repository root.
    pub kustomization: String,
    /// The chart's name in its repository.
    pub name: String,
    /// `repo` as written (`https://…`, `oci://…`, or empty for a chart vendored in chartHome).
    pub repo: String,
    /// `version` as written: exact, a semver range, or empty for the latest.
    pub version: String,
    /// Where Kustomize looks for the chart, relative to the repository root.
    pub place: PathBuf,
    /// True when the repository already holds the chart there (Kustomize uses it as is).
    pub vendored: bool,
}

impl KustomizeHelmChart {
    /// True when the chart must come from its repository before Kustomize runs.
    pub fn needs_resolving(&self) -> bool {
        !self.vendored && !self.repo.trim().is_empty()
    }

    /// True for a chart in an OCI registry (`oci://`).
    pub fn is_oci(&self) -> bool {
        self.repo.trim().to_ascii_lowercase().starts_with("oci://")
    }

    /// True for an HTTP(S) Helm repository.
    pub fn is_helm_repository(&self) -> bool {
        let lower = self.repo.trim().to_ascii_lowercase();
        lower.starts_with("https://") || lower.starts_with("http://")
    }

    /// The error for this chart: it could not be resolved from `repository` (the repository as
    /// it may be shown, without credentials) because of `message`.
    pub fn unresolved(&self, repository: &str, message: impl Into<String>) -> RenderError {
        RenderError::HelmChart {
            file: self.kustomization.clone(),
            chart: format!("{:?} {:?} from {repository}", self.name, self.version),
            message: message.into(),
        }
    }

    fn matches(&self, resolved: &ResolvedHelmChart) -> bool {
        resolved.name == self.name && resolved.repository.trim() == self.repo.trim() && resolved.version == self.version
    }
}

/// A `helmCharts` chart the caller resolved from its repository: the unpacked chart to place where
/// Kustomize looks for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResolvedHelmChart {
    /// The chart's name, as the entry names it.
    pub name: String,
    /// The repository, as the entry names it.
    pub repository: String,
    /// The version as the entry writes it (a range stays a range).
    pub version: String,
    /// The unpacked chart (read-only, in the source cache); its path names the archive's digest,
    /// so the render cache tells versions apart.
    pub dir: PathBuf,
}

/// Every `helmCharts` entry of the kustomizations in `dirs` and of the local bases and components
/// they include, in the order Kustomize meets them; a `chartHome` or chart path that leaves the
/// repository fails.
pub fn helm_charts(root: &Path, dirs: &[PathBuf]) -> Result<Vec<KustomizeHelmChart>, RenderError> {
    let mut seen = Vec::new();
    let mut charts = Vec::new();
    for dir in dirs {
        walk(root, dir, &mut seen, &mut charts)?;
    }
    Ok(charts)
}

/// The `helmCharts` entries of `source` (rendered as Kustomize from `root`) that must be resolved
/// from their repositories; none for other source types.
pub fn kustomize_helm_charts(source: &ApplicationSource, root: &Path) -> Result<Vec<KustomizeHelmChart>, RenderError> {
    if crate::chart_name(source).is_some() || !crate::renders(source) {
        return Ok(Vec::new());
    }
    let dir = crate::resolve_source_path(root, crate::application::source_path(source))?;
    if crate::detect_kind(&dir, crate::application::explicit_kind(source)) != SourceKind::Kustomize {
        return Ok(Vec::new());
    }
    let components = source.kustomize.iter().flat_map(|k| k.components.iter());
    let mut dirs = vec![dir.clone()];
    dirs.extend(components.filter(|c| !looks_remote(c)).filter_map(|c| resolve_inside(root, &dir, c)));
    Ok(helm_charts(root, &dirs)?.into_iter().filter(KustomizeHelmChart::needs_resolving).collect())
}

fn walk(
    root: &Path,
    dir: &Path,
    seen: &mut Vec<PathBuf>,
    charts: &mut Vec<KustomizeHelmChart>,
) -> Result<(), RenderError> {
    if seen.iter().any(|d| d == dir) {
        return Ok(());
    }
    seen.push(dir.to_path_buf());
    let Some((display, doc)) = read_kustomization(root, dir)? else {
        return Ok(());
    };
    // The legacy form, and a generator config of the plugin's kind, would have Kustomize pull the
    // chart itself.
    let legacy = doc.get("helmChartInflationGenerator").and_then(Value::as_array).is_some_and(|g| !g.is_empty());
    let generators = doc.get("generators").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
    let plugin = generators
        .filter(|g| !looks_remote(g))
        .filter_map(|g| resolve_inside(root, dir, g))
        .find(|file| std::fs::read_to_string(file).is_ok_and(|t| t.lines().any(|l| l.trim() == PLUGIN_KIND)));
    if legacy || plugin.is_some() {
        let from = plugin.map_or(display.clone(), |file| relative(root, &file));
        return Err(RenderError::InvalidOption {
            field: "helmChartInflationGenerator",
            message: format!("{from}: the generator form is not supported; write the charts as helmCharts"),
        });
    }
    let entries: Vec<&Value> = doc.get("helmCharts").and_then(Value::as_array).into_iter().flatten().collect();
    if !entries.is_empty() {
        let home = doc["helmGlobals"]["chartHome"].as_str().map(str::trim).filter(|h| !h.is_empty());
        let home = home.unwrap_or(DEFAULT_CHART_HOME);
        for entry in entries {
            let text = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or_default().trim().to_string();
            let (name, repo, version) = (text("name"), text("repo"), text("version"));
            if name.is_empty() {
                continue;
            }
            let under_home = if !version.is_empty() && !repo.is_empty() {
                format!("{home}/{name}-{version}/{name}")
            } else {
                format!("{home}/{name}")
            };
            let outside =
                || RenderError::ReferenceOutsideRepository { file: display.clone(), reference: under_home.clone() };
            if name.contains('/') || name.starts_with('.') {
                return Err(outside());
            }
            let place = resolve_inside(root, dir, &under_home).ok_or_else(outside)?;
            charts.push(KustomizeHelmChart {
                kustomization: display.clone(),
                vendored: place.is_dir(),
                place: place.strip_prefix(root).map(Path::to_path_buf).map_err(|_| outside())?,
                name,
                repo,
                version,
            });
        }
    }
    for field in ["resources", "bases", "components"] {
        let entries = doc.get(field).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
        for entry in entries.filter(|e| !looks_remote(e)) {
            if let Some(target) = resolve_inside(root, dir, entry).filter(|t| t.is_dir()) {
                walk(root, &target, seen, charts)?;
            }
        }
    }
    Ok(())
}

/// For each chart that needs resolving, the resolved chart to place; the first one the caller did
/// not resolve fails naming the chart and its kustomization.
pub fn placements<'a>(
    charts: &'a [KustomizeHelmChart],
    resolved: &'a [ResolvedHelmChart],
) -> Result<Vec<(&'a Path, &'a Path)>, RenderError> {
    let mut placed = Vec::new();
    for chart in charts.iter().filter(|c| c.needs_resolving()) {
        let found = resolved
            .iter()
            .find(|r| chart.matches(r))
            .ok_or_else(|| chart.unresolved(&chart.repo, "the chart was not resolved from its repository"))?;
        placed.push((chart.place.as_path(), found.dir.as_path()));
    }
    Ok(placed)
}

/// Copies the repository at `root` (without `.git`) to `to`, hard-linking files where the
/// filesystem allows (Kustomize only reads them). Relative symlinks that stay inside the
/// repository are kept as links, absolute ones to a file inside it become copies; others are left
/// out (a render that reads one was already refused).
pub fn copy_tree(root: &Path, to: &Path) -> Result<(), RenderError> {
    let canonical_root = root.canonicalize().map_err(|e| RenderError::scratch(root.display(), e))?;
    copy_dir(&canonical_root, root, to, true)
}

fn copy_dir(canonical_root: &Path, from: &Path, to: &Path, top: bool) -> Result<(), RenderError> {
    std::fs::create_dir_all(to).map_err(|e| RenderError::scratch(to.display(), e))?;
    let read_err = |e: std::io::Error| RenderError::Read { file: from.display().to_string(), message: e.to_string() };
    for entry in std::fs::read_dir(from).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let (source, dest) = (entry.path(), to.join(entry.file_name()));
        let file_type = entry.file_type().map_err(read_err)?;
        if file_type.is_symlink() {
            let link = std::fs::read_link(&source).map_err(read_err)?;
            match source.canonicalize() {
                Ok(target) if target.starts_with(canonical_root) && link.is_relative() => {
                    std::os::unix::fs::symlink(&link, &dest).map_err(|e| RenderError::scratch(dest.display(), e))?;
                }
                // An absolute link into the repository would lead back to the snapshot: copy the file.
                Ok(target) if target.starts_with(canonical_root) && target.is_file() => {
                    std::fs::copy(&target, &dest).map_err(|e| RenderError::scratch(dest.display(), e))?;
                }
                _ => {}
            }
        } else if file_type.is_dir() {
            if !(top && entry.file_name() == ".git") {
                copy_dir(canonical_root, &source, &dest, false)?;
            }
        } else if std::fs::hard_link(&source, &dest).is_err() {
            std::fs::copy(&source, &dest).map_err(|e| RenderError::scratch(dest.display(), e))?;
        }
    }
    Ok(())
}

/// Copies the resolved charts into the copy of the repository at `tree`, where Kustomize looks.
pub fn place_charts(tree: &Path, placements: &[(&Path, &Path)]) -> Result<(), RenderError> {
    for (place, chart) in placements {
        let target = tree.join(place);
        if target.is_dir() {
            continue;
        }
        let canonical = chart.canonicalize().map_err(|e| RenderError::scratch(chart.display(), e))?;
        copy_dir(&canonical, &canonical, &target, false)?;
    }
    Ok(())
}

/// The flags that let `kustomize build` inflate `helmCharts` with the pinned `helm`.
pub fn helm_args(helm: &Path) -> Vec<String> {
    vec!["--enable-helm".into(), "--helm-command".into(), helm.display().to_string()]
}

#[cfg(test)]
#[path = "kustomize_helm_tests.rs"]
mod tests;
