//! Helm charts pulled from an OCI registry in Helm's layout (the chart's name appended to the
//! repository, the version as its tag), with the registry credentials of OCI sources and through
//! the shared OCI cache: fetched once per digest, verified, and served from the cache while the
//! registry is down. Used for Argo CD's OCI Helm source forms and for the `oci://` dependencies of
//! charts from git; [`pull_chart`] is the entry point for anything else that names a chart by
//! repository, name and version.

use std::path::Path;

use lockstep_api::ApplicationSource;
use lockstep_source::{OciChartRef, SourceError};

use crate::context::Context;

/// The chart `chart` from the OCI repository `chart.repository`, as a snapshot whose root is the
/// chart's directory, read with the credentials `namespace` (then the controller's namespace)
/// holds for the chart's URL or its repository.
pub(crate) async fn pull_chart(
    ctx: &Context,
    namespace: &str,
    chart: &OciChartRef,
) -> Result<lockstep_source::Snapshot, SourceError> {
    let request = crate::oci_sources::oci_chart_request(
        &ctx.client,
        &ctx.lookups,
        &ctx.config.controller_namespace,
        namespace,
        chart,
    )
    .await?;
    ctx.oci.snapshot(&request).await
}

/// The registry chart an Application source names in one of Argo CD's OCI Helm forms, if any:
/// `repoURL: oci://host/path` with `chart`, or `repoURL: host/path` (no scheme) with `chart` when
/// the repository Secret that applies says `enableOCI: "true"`.
pub(crate) async fn chart_of_source(
    ctx: &Context,
    namespace: &str,
    source: &ApplicationSource,
) -> Result<Option<OciChartRef>, SourceError> {
    let Some(chart) = lockstep_render::chart_name(source) else { return Ok(None) };
    let enabled = if is_schemeless(&source.repo_url) {
        crate::oci_sources::oci_enabled(
            &ctx.client,
            &ctx.lookups,
            &ctx.config.controller_namespace,
            namespace,
            &source.repo_url,
        )
        .await?
    } else {
        false
    };
    oci_chart_source(&source.repo_url, chart, source.target_revision.as_deref(), enabled)
        .map_err(|message| SourceError::Configuration { message })
}

/// Where a source with `chart` set reads it: `Some` for a registry (an `oci://` repository, or a
/// schemeless one marked `enable_oci`), `None` for a Helm repository over HTTP(S). A schemeless
/// URL no Secret marks as OCI is refused with what to write instead.
pub(crate) fn oci_chart_source(
    repo_url: &str,
    chart: &str,
    target_revision: Option<&str>,
    enable_oci: bool,
) -> Result<Option<OciChartRef>, String> {
    let oci = lockstep_source::is_oci_url(repo_url) || (enable_oci && is_schemeless(repo_url));
    if oci {
        return OciChartRef::new(repo_url, chart, target_revision).map(Some);
    }
    if is_schemeless(repo_url) {
        return Err(format!(
            "repoURL {:?} with chart {chart:?} has no scheme: write oci://{} for an OCI registry (or mark its \
             repository Secret enableOCI: \"true\"), or https://… for a Helm repository",
            lockstep_source::strip_userinfo(repo_url.trim()),
            repo_url.trim()
        ));
    }
    Ok(None)
}

/// True for `host/path` written without a scheme (Argo CD's OCI Helm repository URLs).
fn is_schemeless(repo_url: &str) -> bool {
    let url = repo_url.trim();
    !url.is_empty() && !url.contains("://")
}

/// Checks that a pulled chart is the one asked for: its directory in the artifact carries the
/// chart's name (Helm places a dependency at `charts/<name>` and looks it up by that name).
pub(crate) fn holds_chart(root: &Path, chart: &str) -> Result<(), String> {
    match root.file_name().map(|n| n.to_string_lossy()) {
        Some(found) if found == chart => Ok(()),
        Some(found) => Err(format!("the artifact holds chart {found:?}, not {chart:?}")),
        None => Err(format!("the artifact holds no chart directory for {chart:?}")),
    }
}

#[cfg(test)]
#[path = "oci_charts_tests.rs"]
mod tests;
