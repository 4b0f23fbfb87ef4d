//! Remote dependencies of a chart from git (`Chart.yaml` `dependencies` with `repository:
//! https://…` or `oci://…`), resolved before the render copies them into its scratch copy of the
//! chart: from a Helm repository through the shared Helm repository cache with the credentials,
//! mirrors and proxies of the Application's namespace; from a registry through the OCI cache with
//! the registry credentials of OCI sources (Helm's layout: `<repository>/<name>:<version>`). Once
//! fetched they are served from the cache, also while the repository or registry is down.

use kube::ResourceExt;
use lockstep_api::{Application, ApplicationSource};
use lockstep_render::{RemoteDependency, RenderError, ResolvedDependency};
use lockstep_source::{OciChartRef, Snapshot};

use crate::context::Context;

/// The chart's remote dependencies, each resolved to an unpacked chart in the cache. A git source
/// that is not a chart, or a chart from a Helm repository (whose archive carries its dependencies),
/// has none.
pub(crate) async fn resolve(
    ctx: &Context,
    app: &Application,
    source: &ApplicationSource,
    snapshot: &Snapshot,
) -> Result<Vec<ResolvedDependency>, RenderError> {
    if lockstep_render::chart_name(source).is_some() || !lockstep_render::renders(source) {
        return Ok(Vec::new());
    }
    let dir = lockstep_render::source_dir(source, &snapshot.root)?;
    let mut resolved = Vec::new();
    for dependency in lockstep_render::remote_dependencies(&snapshot.root, &dir)? {
        resolved.push(resolve_one(ctx, app, &dependency).await?);
    }
    Ok(resolved)
}

async fn resolve_one(
    ctx: &Context,
    app: &Application,
    dependency: &RemoteDependency,
) -> Result<ResolvedDependency, RenderError> {
    let failed = |message: String| RenderError::Dependency {
        name: dependency.name.clone(),
        version: dependency.version.clone(),
        repository: lockstep_source::strip_userinfo(&dependency.repository),
        message,
    };
    let namespace = app.namespace().unwrap_or_default();
    if dependency.is_oci() {
        let chart = OciChartRef::new(&dependency.repository, &dependency.name, Some(dependency_version(dependency)))
            .map_err(&failed)?;
        let pulled = crate::oci_charts::pull_chart(ctx, &namespace, &chart).await.map_err(|e| failed(e.to_string()))?;
        crate::oci_charts::holds_chart(&pulled.root, &dependency.name).map_err(&failed)?;
        if let Some(outage) = &pulled.unavailable {
            tracing::warn!(
                chart = %dependency.name,
                repository = %lockstep_source::strip_userinfo(&dependency.repository),
                revision = %pulled.revision,
                error = %outage.error,
                "registry unavailable: the dependency is read from the cache"
            );
        }
        return Ok(ResolvedDependency {
            name: dependency.name.clone(),
            repository: dependency.repository.clone(),
            dir: pulled.root,
        });
    }
    if !dependency.is_helm_repository() {
        return Err(failed(
            "only https://, http://, oci:// and file:// repositories are supported (no @alias names)".into(),
        ));
    }
    let version = Some(dependency.version.clone()).filter(|v| !v.is_empty());
    let request = crate::sources::request_for(
        &ctx.client,
        &ctx.lookups,
        &ctx.config.controller_namespace,
        &namespace,
        &dependency.repository,
        version,
    )
    .await
    .map_err(|e| failed(e.to_string()))?;
    let chart = ctx.helm_repos.chart(&request, &dependency.name).await.map_err(|e| failed(e.to_string()))?;
    Ok(ResolvedDependency { name: dependency.name.clone(), repository: dependency.repository.clone(), dir: chart.root })
}

/// The version to resolve in a registry: as written, or the highest stable tag (`*`) when the
/// dependency names none.
fn dependency_version(dependency: &RemoteDependency) -> &str {
    if dependency.version.trim().is_empty() { "*" } else { dependency.version.as_str() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_dependency_without_a_version_takes_the_highest_stable_tag() {
        let dependency = |version: &str| RemoteDependency {
            name: "lib".into(),
            version: version.into(),
            repository: "oci://reg.example/charts".into(),
        };
        assert_eq!(dependency_version(&dependency("")), "*");
        assert_eq!(dependency_version(&dependency(" ")), "*");
        assert_eq!(dependency_version(&dependency("~1.2")), "~1.2");
    }
}
