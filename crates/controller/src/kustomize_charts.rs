//! Kustomize `helmCharts` of a git source, resolved as a chart source is: `repo: https://…` through
//! the shared Helm repository cache with the credentials, mirrors and proxies of the Application's
//! namespace, `repo: oci://…` through the OCI cache with the registry credentials (the chart is
//! `<repo>/<name>`, tagged with its version, as Helm pulls it). The render places them where
//! Kustomize looks, so it never pulls. Once fetched they are served from the caches, also while the
//! repository is down.

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
    (!chart.is_oci() && !chart.is_helm_repository())
        .then_some("only https://, http:// Helm repositories and oci:// registries are supported")
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
    let found = if chart.is_oci() {
        oci_chart(ctx, &namespace, chart, version).await
    } else {
        helm_repository_chart(ctx, &namespace, chart, version).await
    };
    let found = found.map_err(|e| failed(e.to_string()))?;
    if !found.root.join("Chart.yaml").is_file() {
        return Err(failed("the artifact is not a Helm chart (no Chart.yaml at its root)".into()));
    }
    Ok(ResolvedHelmChart {
        name: chart.name.clone(),
        repository: chart.repo.clone(),
        version: chart.version.clone(),
        dir: found.root,
    })
}

/// The chart `<repo>/<name>` at the tag `version` names or the highest in its range, as Helm
/// pulls it, with the registry credentials of a Secret for the chart or for the entry's `repo`.
async fn oci_chart(
    ctx: &Context,
    namespace: &str,
    chart: &KustomizeHelmChart,
    version: Option<String>,
) -> Result<Snapshot, lockstep_source::SourceError> {
    let reference = lockstep_source::OciChartRef::new(&chart.repo, &chart.name, version.as_deref())
        .map_err(|message| lockstep_source::SourceError::Configuration { message })?;
    crate::oci_charts::pull_chart(ctx, namespace, &reference).await
}

async fn helm_repository_chart(
    ctx: &Context,
    namespace: &str,
    chart: &KustomizeHelmChart,
    version: Option<String>,
) -> Result<Snapshot, lockstep_source::SourceError> {
    let request = crate::sources::request_for(
        &ctx.client,
        &ctx.lookups,
        &ctx.config.controller_namespace,
        namespace,
        &chart.repo,
        version,
    )
    .await?;
    ctx.helm_repos.chart(&request, &chart.name).await
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
        assert_eq!(unsupported(&chart("oci://registry.example/charts")), None);
        assert!(unsupported(&chart("@stable")).is_some());
        assert!(unsupported(&chart("git@github.com:org/charts")).is_some());
    }
}
