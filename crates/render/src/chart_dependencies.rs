//! Dependencies of a chart from git that live in a Helm repository (`Chart.yaml` `dependencies`
//! with `repository: https://…` or `oci://…`): which ones need resolving (pure, from the chart's
//! files), and the charts the caller resolved for them, which the render copies into `charts/` of
//! its scratch copy (never into the snapshot).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::error::RenderError;
use crate::sandbox::relative;

/// A dependency the chart does not vendor and that is not a local `file://` chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteDependency {
    /// The chart's name in its repository.
    pub name: String,
    /// `version` as written: exact or a semver range.
    pub version: String,
    /// The repository URL (`https://…`, `http://…`, `oci://…`, or a `@name` Helm alias).
    pub repository: String,
}

impl RemoteDependency {
    /// True for dependencies in an OCI registry (`oci://`), which Helm repository indexes do not serve.
    pub fn is_oci(&self) -> bool {
        self.repository.trim().to_ascii_lowercase().starts_with("oci://")
    }

    /// True for an HTTP(S) Helm repository.
    pub fn is_helm_repository(&self) -> bool {
        let lower = self.repository.trim().to_ascii_lowercase();
        lower.starts_with("https://") || lower.starts_with("http://")
    }
}

/// A remote dependency resolved by the caller: the unpacked chart to place at `charts/<name>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResolvedDependency {
    /// The chart's name, as the dependency names it.
    pub name: String,
    /// The repository, as the dependency names it.
    pub repository: String,
    /// The unpacked chart (read-only, in the source cache); its path names the archive's digest,
    /// so the render cache tells versions apart.
    pub dir: PathBuf,
}

/// The dependencies of the chart in `chart_dir` that are neither vendored in `charts/` nor local.
pub fn remote_dependencies(root: &Path, chart_dir: &Path) -> Result<Vec<RemoteDependency>, RenderError> {
    let chart_file = chart_dir.join("Chart.yaml");
    let display = relative(root, &chart_file);
    let text = match std::fs::read_to_string(&chart_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RenderError::Read { file: display, message: e.to_string() }),
    };
    let chart: Value = serde_yaml_ng::from_str(&text).map_err(|e| RenderError::Parse {
        file: display.clone(),
        line: e.location().map(|l| l.line()),
        message: e.to_string(),
    })?;
    let text = |dep: &Value, key: &str| dep.get(key).and_then(Value::as_str).unwrap_or_default().trim().to_string();
    Ok(chart
        .get("dependencies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|dep| RemoteDependency {
            name: text(dep, "name"),
            version: text(dep, "version"),
            repository: text(dep, "repository"),
        })
        .filter(|dep| !dep.repository.is_empty() && !dep.repository.starts_with("file://"))
        .filter(|dep| !crate::helm::is_vendored(&chart_dir.join("charts"), &dep.name))
        .collect())
}

/// The resolved chart for a dependency, if the caller resolved it.
pub(crate) fn resolved<'a>(
    resolved: &'a [ResolvedDependency],
    name: &str,
    repository: &str,
) -> Option<&'a ResolvedDependency> {
    resolved.iter().find(|r| r.name == name && r.repository.trim() == repository.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unvendored_remote_dependencies_need_resolving() {
        let dir = tempfile::tempdir().unwrap();
        let chart = dir.path().join("app");
        std::fs::create_dir_all(chart.join("charts")).unwrap();
        std::fs::write(
            chart.join("Chart.yaml"),
            "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n\
             - {name: lib, version: ~1.2, repository: https://charts.example/}\n\
             - {name: local, version: 0.1.0, repository: file://../local}\n\
             - {name: vendored, version: 1.0.0, repository: https://charts.example/}\n\
             - {name: db, version: 2.x, repository: oci://registry.example/charts}\n",
        )
        .unwrap();
        std::fs::write(chart.join("charts/vendored-1.0.0.tgz"), "").unwrap();
        let deps = remote_dependencies(dir.path(), &chart).unwrap();
        let names: Vec<&str> = deps.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, vec!["lib", "db"]);
        assert_eq!(deps[0].version, "~1.2");
        assert!(deps[0].is_helm_repository() && !deps[0].is_oci());
        assert!(deps[1].is_oci());
        assert!(remote_dependencies(dir.path(), &dir.path().join("none")).unwrap().is_empty());
    }
}
