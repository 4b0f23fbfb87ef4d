//! Multi-source Applications (Argo CD's `spec.sources`): which sources render, where `$<ref>` values
//! files are read from, and one object set out of several renders. The decisions are pure;
//! [`render_sources`] runs them over the renderer, one render per source.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use lockstep_api::{Application, ApplicationSource};

use crate::application::{explicit_kind, source_path, source_request};
use crate::{
    ClusterCapabilities, Manifest, RenderError, Rendered, Renderer, SourceKind, ValueRoot, destination_namespace,
    detect_kind, resolve_source_path,
};

/// One source of an Application with what fetching it gave: its files, at which revision.
#[derive(Clone, Debug)]
pub struct FetchedSource<'a> {
    /// The source as the spec writes it.
    pub source: &'a ApplicationSource,
    /// The revision resolved and checked out.
    pub revision: String,
    /// The checkout's root directory (read-only).
    pub root: PathBuf,
    /// The chart's remote dependencies the caller resolved (placed under `charts/` of the scratch copy).
    pub dependencies: Vec<crate::ResolvedDependency>,
    /// The Kustomize `helmCharts` charts the caller resolved (placed where Kustomize looks for them
    /// in the render's copy of the repository).
    pub helm_charts: Vec<crate::ResolvedHelmChart>,
}

/// A render of several sources that failed, with the source (its index in `spec.sources`) it failed in
/// when there are several.
#[derive(Debug, thiserror::Error)]
#[error("{}{error}", source_index.map(|i| format!("spec.sources[{i}]: ")).unwrap_or_default())]
pub struct SourcesRenderError {
    /// The failing source's index, for a multi-source Application.
    pub source_index: Option<usize>,
    /// What went wrong.
    pub error: RenderError,
}

/// `$values/envs/prod.yaml` as `("values", "envs/prod.yaml")`; `None` for a path in the chart's own repository.
pub fn split_value_ref(entry: &str) -> Option<(&str, &str)> {
    let rest = entry.trim().strip_prefix('$')?;
    let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
    (!name.is_empty()).then_some((name, path))
}

/// Whether a source is rendered: all but those that only provide files (a `ref` and neither `path`
/// nor `chart`), as Argo CD.
pub fn renders(source: &ApplicationSource) -> bool {
    let has_path = source.path.as_deref().is_some_and(|p| !p.trim().is_empty());
    source.ref_name.is_none() || has_path || crate::chart_name(source).is_some()
}

/// Fails on the first `$<ref>` values file whose ref no source declares (nothing is rendered then).
pub fn check_value_refs(sources: &[&ApplicationSource]) -> Result<(), SourcesRenderError> {
    let declared = |name: &str| sources.iter().any(|s| s.ref_name.as_deref() == Some(name));
    for (index, source) in sources.iter().enumerate() {
        let value_files = source.helm.iter().flat_map(|h| h.value_files.iter());
        for entry in value_files {
            if let Some((name, _)) = split_value_ref(entry).filter(|(name, _)| !declared(name)) {
                let error = RenderError::ValuesRefNotFound {
                    field: format!("spec.sources[{index}].helm.valueFiles"),
                    reference: entry.clone(),
                    name: name.to_string(),
                };
                return Err(SourcesRenderError { source_index: Some(index), error });
            }
        }
    }
    Ok(())
}

/// The checkouts `$<ref>` values files are read from, by ref name (the first source of a name wins;
/// validation refuses duplicates before).
pub fn value_roots(fetched: &[FetchedSource<'_>]) -> BTreeMap<String, ValueRoot> {
    let mut roots = BTreeMap::new();
    for f in fetched {
        if let Some(name) = f.source.ref_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            roots
                .entry(name.to_string())
                .or_insert_with(|| ValueRoot { revision: f.revision.clone(), root: f.root.clone() });
        }
    }
    roots
}

/// The renders of several sources (each with its index in `spec.sources`) as one object set, in
/// source order; an object two sources render is an error naming both, as Argo CD refuses it.
/// Objects without a namespace count as in `default_namespace`.
pub fn merge(parts: &[(usize, &[Manifest])], default_namespace: &str) -> Result<Vec<Manifest>, RenderError> {
    let mut seen: HashMap<(String, String, String, String), (usize, &str)> = HashMap::new();
    let mut merged = Vec::with_capacity(parts.iter().map(|(_, m)| m.len()).sum());
    for (index, manifests) in parts {
        let mut own = std::collections::HashSet::new();
        for manifest in manifests.iter() {
            let group = manifest.api_version().rsplit_once('/').map(|(g, _)| g).unwrap_or_default().to_string();
            let namespace = manifest.namespace().unwrap_or(default_namespace).to_string();
            let key = (group, manifest.kind().to_string(), namespace, manifest.name().to_string());
            match seen.get(&key) {
                Some((first, first_file)) if !own.contains(&key) => {
                    return Err(RenderError::RepeatedResource {
                        object: object_name(&key),
                        first: *first,
                        first_file: first_file.to_string(),
                        second: *index,
                        second_file: manifest.file.clone(),
                    });
                }
                _ => {
                    own.insert(key.clone());
                    seen.entry(key).or_insert((*index, manifest.file.as_str()));
                }
            }
            merged.push(manifest.clone());
        }
    }
    Ok(merged)
}

fn object_name((group, kind, namespace, name): &(String, String, String, String)) -> String {
    let kind = if group.is_empty() { kind.clone() } else { format!("{kind}.{group}") };
    format!("{kind} {namespace}/{name}")
}

/// Renders every source of `app` that renders (one render each, cached as a single source's) and
/// merges them; `$<ref>` values files read the ref source's checkout. `capabilities` is asked at
/// most once, and only when a source is a Helm chart.
pub async fn render_sources<F, Fut>(
    renderer: &Renderer,
    app: &Application,
    fetched: &[FetchedSource<'_>],
    capabilities: F,
) -> Result<Rendered, SourcesRenderError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = ClusterCapabilities>,
{
    let multi = app.spec.is_multi_source();
    let at = |index: usize| move |error| SourcesRenderError { source_index: multi.then_some(index), error };
    check_value_refs(&fetched.iter().map(|f| f.source).collect::<Vec<_>>())?;
    let roots = value_roots(fetched);
    let namespace = destination_namespace(app);
    let mut caps: Option<ClusterCapabilities> = None;
    let mut renders_done = Vec::new();
    for (index, f) in fetched.iter().enumerate().filter(|(_, f)| renders(f.source)) {
        let dir = resolve_source_path(&f.root, source_path(f.source)).map_err(at(index))?;
        let source_caps = match detect_kind(&dir, explicit_kind(f.source)) {
            SourceKind::Helm => match &caps {
                Some(caps) => caps.clone(),
                None => caps.insert(capabilities().await).clone(),
            },
            _ => ClusterCapabilities::default(),
        };
        let identity = crate::render_identity(f.source, &f.revision, &f.root);
        let mut request = source_request(app, f.source, &identity, &f.root, &namespace, &source_caps);
        request.helm.value_roots = roots.clone();
        request.helm.dependencies = f.dependencies.clone();
        request.kustomize.helm_charts = f.helm_charts.clone();
        let rendered = renderer.render(&request).await.map_err(at(index))?;
        renders_done.push((index, rendered));
    }
    if renders_done.len() == 1 {
        return Ok(renders_done.remove(0).1);
    }
    let kind = renders_done.first().map_or(SourceKind::Directory, |(_, r)| r.kind);
    let parts: Vec<(usize, &[Manifest])> = renders_done.iter().map(|(i, r)| (*i, r.manifests.as_slice())).collect();
    let manifests = merge(&parts, &namespace).map_err(|error| SourcesRenderError { source_index: None, error })?;
    Ok(Rendered { manifests: Arc::new(manifests), kind })
}

#[cfg(test)]
#[path = "sources_tests.rs"]
mod tests;
