//! Remote dependencies of a chart from git (`Chart.yaml` `dependencies` with `repository:
//! https://…`), resolved through the shared Helm repository cache with the credentials, mirrors
//! and proxies of the Application's namespace, before the render copies them into its scratch
//! copy of the chart. Once fetched they are served from the cache, also while the repository is down.

use kube::ResourceExt;
use lockstep_api::{Application, ApplicationSource};
use lockstep_render::{RemoteDependency, RenderError, ResolvedDependency};
use lockstep_source::Snapshot;

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
    if dependency.is_oci() {
        // Hook for OCI sources: resolve `oci://` charts through the OCI client once it exists.
        return Err(failed("oci:// dependencies are not resolved by this build (vendor the chart in charts/)".into()));
    }
    if !dependency.is_helm_repository() {
        return Err(failed("only https://, http:// and file:// repositories are supported (no @alias names)".into()));
    }
    let namespace = app.namespace().unwrap_or_default();
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
