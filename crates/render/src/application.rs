//! An Application's source options as a render request, with Argo CD's defaults: what the
//! controller and the CLI both render from. The translation is pure; [`render_application`] runs it.

use std::future::Future;
use std::path::Path;

use lockstep_api::{Application, ApplicationSource};

use crate::resolve_source_path;
use crate::{
    DirectoryOptions, HelmOptions, HelmParameter, KustomizeOptions, RenderError, RenderRequest, Rendered, Renderer,
    SourceKind,
};

/// What the destination cluster serves, as Helm's `--kube-version` and `--api-versions` take it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterCapabilities {
    /// `gitVersion` of the API server, e.g. `v1.36.3`.
    pub kube_version: Option<String>,
    /// `group/version` and `group/version/Kind` of everything served, sorted.
    pub api_versions: Vec<String>,
}

/// The render request for `source` of `app` at `revision` (checked out at `root`): the explicit
/// source type (if an option block is set) and every option with Argo CD's defaults (release name =
/// Application name, namespace = destination namespace, capabilities from the cluster unless the
/// spec names them).
pub fn source_request(
    app: &Application,
    source: &ApplicationSource,
    revision: &str,
    root: &Path,
    destination_namespace: &str,
    caps: &ClusterCapabilities,
) -> RenderRequest {
    RenderRequest {
        revision: revision.to_string(),
        root: root.to_path_buf(),
        path: source_path(source).unwrap_or_default().trim().to_string(),
        kind: explicit_kind(source),
        directory: source
            .directory
            .as_ref()
            .map(|d| DirectoryOptions { recurse: d.recurse, include: d.include.clone(), exclude: d.exclude.clone() })
            .unwrap_or_default(),
        kustomize: source.kustomize.as_ref().map(kustomize_options).unwrap_or_default(),
        helm: helm_options(source, app.metadata.name.as_deref().unwrap_or_default(), destination_namespace, caps),
    }
}

/// The render request of a single-source Application's source (see [`source_request`]).
pub fn render_request(
    app: &Application,
    revision: &str,
    root: &Path,
    destination_namespace: &str,
    caps: &ClusterCapabilities,
) -> RenderRequest {
    let source = app.spec.primary_source().cloned().unwrap_or_default();
    source_request(app, &source, revision, root, destination_namespace, caps)
}

/// Where namespaced objects without a namespace go: the destination namespace, else the
/// Application's own, else `default`.
pub fn destination_namespace(app: &Application) -> String {
    app.spec
        .destination
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .or_else(|| app.metadata.namespace.clone())
        .unwrap_or_else(|| "default".into())
}

/// Renders a single-source `app` (its first source) at `revision` with its own options, as the
/// controller does. `capabilities` is asked for the destination's version and API versions only
/// when the source is a Helm chart; `dependencies` are the chart's remote dependencies the caller
/// resolved.
pub async fn render_application<F, Fut>(
    renderer: &Renderer,
    app: &Application,
    revision: &str,
    root: &Path,
    capabilities: F,
    dependencies: &[crate::ResolvedDependency],
) -> Result<Rendered, RenderError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = ClusterCapabilities>,
{
    let source = app.spec.primary_source().cloned().unwrap_or_default();
    let fetched = [crate::FetchedSource {
        source: &source,
        revision: revision.to_string(),
        root: root.to_path_buf(),
        dependencies: dependencies.to_vec(),
        helm_charts: Vec::new(),
    }];
    crate::render_sources(renderer, app, &fetched, capabilities).await.map_err(|e| e.error)
}

/// The directory the source renders from inside its snapshot (the chart's root for a chart from a
/// Helm repository).
pub fn source_dir(source: &ApplicationSource, root: &Path) -> Result<std::path::PathBuf, RenderError> {
    resolve_source_path(root, source_path(source))
}

/// The chart a source names in its Helm repository (`spec.source.chart`), if it is one.
pub fn chart_name(source: &ApplicationSource) -> Option<&str> {
    source.chart.as_deref().map(str::trim).filter(|c| !c.is_empty())
}

/// What identifies the rendered files in the render cache: the commit for git, and for a chart
/// from a Helm repository its unpacked directory (one per archive digest) with its version, since
/// versions of different charts look alike.
pub fn render_identity(source: &ApplicationSource, revision: &str, root: &Path) -> String {
    match chart_name(source) {
        Some(_) => format!("{revision}@{}", root.display()),
        None => revision.to_string(),
    }
}

/// The path inside the snapshot: the source's `path` for git, the chart's root for a Helm
/// repository chart (whose snapshot is the chart).
pub(crate) fn source_path(source: &ApplicationSource) -> Option<&str> {
    if chart_name(source).is_some() { None } else { source.path.as_deref() }
}

/// Helm, then Kustomize, then Directory when their option block is present (Argo CD's explicit
/// type); a chart from a Helm repository is always Helm.
pub(crate) fn explicit_kind(source: &ApplicationSource) -> Option<SourceKind> {
    if source.helm.is_some() || chart_name(source).is_some() {
        Some(SourceKind::Helm)
    } else if source.kustomize.is_some() {
        Some(SourceKind::Kustomize)
    } else if source.directory.is_some() {
        Some(SourceKind::Directory)
    } else {
        None
    }
}

fn kustomize_options(k: &lockstep_api::ApplicationSourceKustomize) -> KustomizeOptions {
    KustomizeOptions {
        name_prefix: k.name_prefix.clone(),
        name_suffix: k.name_suffix.clone(),
        namespace: k.namespace.clone(),
        images: k.images.clone(),
        common_labels: k.common_labels.clone(),
        common_annotations: k.common_annotations.clone(),
        patches: k.patches.iter().filter_map(|p| serde_json::to_value(p).ok()).collect(),
        components: k.components.clone(),
        helm_charts: Vec::new(),
    }
}

fn helm_options(
    source: &ApplicationSource,
    app_name: &str,
    namespace: &str,
    caps: &ClusterCapabilities,
) -> HelmOptions {
    let helm = source.helm.clone().unwrap_or_default();
    let non_empty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    HelmOptions {
        release_name: non_empty(helm.release_name).unwrap_or_else(|| app_name.to_string()),
        namespace: non_empty(helm.namespace).unwrap_or_else(|| namespace.to_string()),
        value_files: helm.value_files,
        ignore_missing_value_files: helm.ignore_missing_value_files,
        values: helm.values,
        values_object: helm.values_object,
        parameters: helm
            .parameters
            .into_iter()
            .map(|p| HelmParameter { name: p.name, value: p.value, force_string: p.force_string })
            .collect(),
        skip_crds: helm.skip_crds,
        kube_version: non_empty(helm.kube_version).or_else(|| caps.kube_version.clone()),
        api_versions: if helm.api_versions.is_empty() { caps.api_versions.clone() } else { helm.api_versions },
        dependencies: Vec::new(),
        value_roots: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::{ApplicationSourceHelm, ApplicationSpec};

    fn app(source: ApplicationSource) -> Application {
        Application::new("web", ApplicationSpec { source: Some(source), ..Default::default() })
    }

    fn request_for(app: &Application, namespace: &str, caps: &ClusterCapabilities) -> RenderRequest {
        render_request(app, "abc", Path::new("/snap/abc"), namespace, caps)
    }

    #[test]
    fn helm_defaults_come_from_the_application_and_the_cluster() {
        let caps = ClusterCapabilities { kube_version: Some("v1.36.3".into()), api_versions: vec!["v1".into()] };
        let source = ApplicationSource {
            path: Some(" chart ".into()),
            helm: Some(ApplicationSourceHelm::default()),
            ..Default::default()
        };
        let request = request_for(&app(source), "apps", &caps);
        assert_eq!(request.kind, Some(SourceKind::Helm));
        assert_eq!(request.path, "chart");
        assert_eq!(request.helm.release_name, "web");
        assert_eq!(request.helm.namespace, "apps");
        assert_eq!(request.helm.kube_version.as_deref(), Some("v1.36.3"));
        assert_eq!(request.helm.api_versions, vec!["v1"]);

        let helm = ApplicationSourceHelm {
            release_name: Some("rel".into()),
            kube_version: Some("v1.30.0".into()),
            api_versions: vec!["x/v1".into()],
            ..Default::default()
        };
        let source = ApplicationSource { helm: Some(helm), ..Default::default() };
        let request = request_for(&app(source), "apps", &caps);
        assert_eq!(
            (request.helm.release_name.as_str(), request.helm.kube_version.as_deref()),
            ("rel", Some("v1.30.0"))
        );
        assert_eq!(request.helm.api_versions, vec!["x/v1"]);
    }

    #[test]
    fn type_is_detected_unless_an_option_block_is_set() {
        let caps = ClusterCapabilities::default();
        assert_eq!(request_for(&app(ApplicationSource::default()), "a", &caps).kind, None);
        let source = ApplicationSource { kustomize: Some(Default::default()), ..Default::default() };
        assert_eq!(request_for(&app(source), "a", &caps).kind, Some(SourceKind::Kustomize));
    }
}
