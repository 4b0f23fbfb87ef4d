//! Kustomize `helmCharts` of a git source (`repo: https://…`), resolved through the shared Helm
//! repository cache with the credentials, mirrors and proxies of the Application's namespace, as
//! for a chart source; the render places them where Kustomize looks, so it never pulls. Once
//! fetched they are served from the cache, also while the repository is down.

use kube::ResourceExt;
use lockstep_api::{Application, ApplicationSource};
use lockstep_render::{KustomizeHelmChart, RenderError, ResolvedHelmChart};
use lockstep_source::Snapshot;

use crate::context::Context;

/// The source's `helmCharts` charts, each resolved to an unpacked chart in the cache; the first
/// that cannot be fails naming it (nothing is rendered, applied or pruned then).
pub(crate) async fn resolve(
    ctx: &Context,
    app: &Application,
    source: &ApplicationSource,
    snapshot: &Snapshot,
) -> Result<Vec<ResolvedHelmChart>, RenderError> {
    let mut resolved: Vec<ResolvedHelmChart> = Vec::new();
    for chart in lockstep_render::kustomize_helm_charts(source, &snapshot.root)? {
        let known =
            |r: &ResolvedHelmChart| r.name == chart.name && r.repository == chart.repo && r.version == chart.version;
        if !resolved.iter().any(known) {
            resolved.push(resolve_one(ctx, app, &chart).await?);
        }
    }
    Ok(resolved)
}

/// Why a chart cannot be resolved by this build, if it cannot.
fn unsupported(chart: &KustomizeHelmChart) -> Option<&'static str> {
    if chart.is_oci() {
        // Hook for OCI charts: resolve `oci://` entries through the OCI client once it pulls charts.
        Some("oci:// helmCharts are not resolved by this build yet (vendor the chart under its chartHome)")
    } else if !chart.is_helm_repository() {
        Some("only https:// and http:// Helm repositories are supported")
    } else {
        None
    }
}

async fn resolve_one(
    ctx: &Context,
    app: &Application,
    chart: &KustomizeHelmChart,
) -> Result<ResolvedHelmChart, RenderError> {
    let failed = |message: String| chart.unresolved(&lockstep_source::strip_userinfo(&chart.repo), message);
    if let Some(reason) = unsupported(chart) {
        return Err(failed(reason.into()));
    }
    let namespace = app.namespace().unwrap_or_default();
    let version = Some(chart.version.clone()).filter(|v| !v.is_empty());
    let request = crate::sources::request_for(
        &ctx.client,
        &ctx.lookups,
        &ctx.config.controller_namespace,
        &namespace,
        &chart.repo,
        version,
    )
    .await
    .map_err(|e| failed(e.to_string()))?;
    let found = ctx.helm_repos.chart(&request, &chart.name).await.map_err(|e| failed(e.to_string()))?;
    Ok(ResolvedHelmChart {
        name: chart.name.clone(),
        repository: chart.repo.clone(),
        version: chart.version.clone(),
        dir: found.root,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_helm_repositories_are_resolved() {
        let chart = |repo: &str| KustomizeHelmChart {
            kustomization: "kustomization.yaml".into(),
            name: "web".into(),
            repo: repo.into(),
            version: "1.0.0".into(),
            place: "charts/web-1.0.0/web".into(),
            vendored: false,
        };
        assert_eq!(unsupported(&chart("https://charts.example")), None);
        assert_eq!(unsupported(&chart(" HTTP://charts.example")), None);
        assert!(unsupported(&chart("oci://registry.example/charts")).is_some_and(|m| m.contains("oci://")));
        assert!(unsupported(&chart("@stable")).is_some());
    }
}
