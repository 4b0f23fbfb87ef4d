//! From an Application and a snapshot to a render request (pure), and the destination cluster's
//! capabilities (`.Capabilities.KubeVersion`/`APIVersions` for Helm), discovered and cached briefly.

use std::time::{Duration, Instant};

use kube::Client;
use kube::ResourceExt;
use lockstep_api::kube_error::one_line;
use lockstep_api::{Application, ApplicationSource};
use lockstep_render::{DirectoryOptions, HelmOptions, HelmParameter, KustomizeOptions, RenderRequest, SourceKind};
use lockstep_source::Snapshot;
use tokio::sync::Mutex;
use tracing::warn;

/// How long one discovery of the cluster's API versions serves every Helm render.
const CAPABILITIES_TTL: Duration = Duration::from_secs(60);

/// What the destination cluster serves, as Helm's `--kube-version` and `--api-versions` take it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterCapabilities {
    /// `gitVersion` of the API server, e.g. `v1.36.3`.
    pub kube_version: Option<String>,
    /// `group/version` and `group/version/Kind` of everything served, sorted.
    pub api_versions: Vec<String>,
}

/// Discovered capabilities, refreshed at most once per [`CAPABILITIES_TTL`].
#[derive(Default)]
pub struct Capabilities {
    cached: Mutex<Option<(Instant, ClusterCapabilities)>>,
}

impl Capabilities {
    /// The cluster's capabilities; on a discovery failure the last known ones (or none) are used.
    pub async fn get(&self, client: &Client) -> ClusterCapabilities {
        let mut cached = self.cached.lock().await;
        if let Some((at, caps)) = cached.as_ref()
            && at.elapsed() < CAPABILITIES_TTL
        {
            return caps.clone();
        }
        match discover(client).await {
            Ok(caps) => {
                *cached = Some((Instant::now(), caps.clone()));
                caps
            }
            Err(err) => {
                warn!(err = %one_line(&err), "discovering the cluster's API versions failed");
                cached.as_ref().map(|(_, c)| c.clone()).unwrap_or_default()
            }
        }
    }
}

/// Asks the cluster for its version and every API version it serves.
pub async fn discover(client: &Client) -> Result<ClusterCapabilities, kube::Error> {
    let version = client.apiserver_version().await?;
    let discovery = kube::Discovery::new(client.clone()).run_aggregated().await?;
    let mut api_versions = Vec::new();
    for group in discovery.groups() {
        for version in group.versions() {
            let api_version =
                if group.name().is_empty() { version.to_string() } else { format!("{}/{version}", group.name()) };
            for (resource, _) in group.versioned_resources(version) {
                api_versions.push(format!("{api_version}/{}", resource.kind));
            }
            api_versions.push(api_version);
        }
    }
    api_versions.sort();
    api_versions.dedup();
    Ok(ClusterCapabilities { kube_version: Some(version.git_version), api_versions })
}

/// The render request for `app` at `snapshot`: the explicit source type (if an option block is
/// set) and every option with Argo CD's defaults (release name = Application name, namespace =
/// destination namespace, capabilities from the cluster unless the spec names them).
pub fn render_request(
    app: &Application,
    snapshot: &Snapshot,
    destination_namespace: &str,
    caps: &ClusterCapabilities,
) -> RenderRequest {
    let source = &app.spec.source;
    RenderRequest {
        revision: snapshot.revision.clone(),
        root: snapshot.root.clone(),
        path: source.path.clone().unwrap_or_default().trim().to_string(),
        kind: explicit_kind(source),
        directory: source
            .directory
            .as_ref()
            .map(|d| DirectoryOptions { recurse: d.recurse, include: d.include.clone(), exclude: d.exclude.clone() })
            .unwrap_or_default(),
        kustomize: source.kustomize.as_ref().map(kustomize_options).unwrap_or_default(),
        helm: helm_options(source, &app.name_any(), destination_namespace, caps),
    }
}

/// Where namespaced objects without a namespace go: the destination namespace, else the
/// Application's own, else `default`.
pub fn destination_namespace(app: &Application) -> String {
    app.spec
        .destination
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .or_else(|| app.namespace())
        .unwrap_or_else(|| "default".into())
}

/// Renders `app` at `snapshot` with its own options, as the controller does; the cluster's
/// capabilities are discovered only for Helm sources, and only when a client is given.
pub async fn render_application(
    renderer: &lockstep_render::Renderer,
    cluster: Option<(&Capabilities, &Client)>,
    app: &Application,
    snapshot: &Snapshot,
) -> Result<lockstep_render::Rendered, lockstep_render::RenderError> {
    let namespace = destination_namespace(app);
    let dir = lockstep_render::resolve_source_path(&snapshot.root, app.spec.source.path.as_deref())?;
    let explicit = render_request(app, snapshot, &namespace, &ClusterCapabilities::default()).kind;
    let caps = match (lockstep_render::detect_kind(&dir, explicit), cluster) {
        (SourceKind::Helm, Some((capabilities, client))) => capabilities.get(client).await,
        _ => ClusterCapabilities::default(),
    };
    renderer.render(&render_request(app, snapshot, &namespace, &caps)).await
}

/// Helm, then Kustomize, then Directory when their option block is present (Argo CD's explicit type).
fn explicit_kind(source: &ApplicationSource) -> Option<SourceKind> {
    if source.helm.is_some() {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::{ApplicationSourceHelm, ApplicationSpec};

    fn app(source: ApplicationSource) -> Application {
        Application::new("web", ApplicationSpec { source, ..Default::default() })
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            repo_url: "file:///r".into(),
            revision: "abc".into(),
            root: "/snap/abc".into(),
            fetched_from: None,
            unavailable: None,
        }
    }

    #[test]
    fn helm_defaults_come_from_the_application_and_the_cluster() {
        let caps = ClusterCapabilities { kube_version: Some("v1.36.3".into()), api_versions: vec!["v1".into()] };
        let source = ApplicationSource {
            path: Some(" chart ".into()),
            helm: Some(ApplicationSourceHelm::default()),
            ..Default::default()
        };
        let request = render_request(&app(source), &snapshot(), "apps", &caps);
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
        let request = render_request(&app(source), &snapshot(), "apps", &caps);
        assert_eq!(
            (request.helm.release_name.as_str(), request.helm.kube_version.as_deref()),
            ("rel", Some("v1.30.0"))
        );
        assert_eq!(request.helm.api_versions, vec!["x/v1"]);
    }

    #[test]
    fn type_is_detected_unless_an_option_block_is_set() {
        let caps = ClusterCapabilities::default();
        assert_eq!(render_request(&app(ApplicationSource::default()), &snapshot(), "a", &caps).kind, None);
        let source = ApplicationSource { kustomize: Some(Default::default()), ..Default::default() };
        assert_eq!(render_request(&app(source), &snapshot(), "a", &caps).kind, Some(SourceKind::Kustomize));
    }
}
