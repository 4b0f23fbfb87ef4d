//! Fetching every source of an Application (one fetch per source, in parallel; the repositories'
//! own serialisation still holds) and rendering them as one object set. A source of any kind that
//! yields a [`Snapshot`] plugs in at [`fetch_source`].

use std::fmt;

use lockstep_api::{Application, ApplicationSource};
use lockstep_clusters::ClusterTarget;
use lockstep_policy::multi_source::composite_revision;
use lockstep_policy::project::Project;
use lockstep_policy::source_status::{SourceOutage, SourceReport};
use lockstep_render::{FetchedSource, Rendered, SourcesRenderError};
use lockstep_source::{Snapshot, SourceError};

use crate::context::Context;

/// Every source of an Application as fetched, in spec order.
pub(crate) struct Fetched {
    /// One snapshot per source.
    pub snapshots: Vec<Snapshot>,
    /// The revision the pipeline compares: the one source's, or the sources' composite.
    pub revision: String,
}

/// A fetch that failed: the source's index when the Application has several, and why.
#[derive(Debug)]
pub(crate) struct FetchFailure {
    /// `spec.sources` index and repository of the failing source, for a multi-source Application.
    pub source: Option<(usize, String)>,
    /// The failure.
    pub error: SourceError,
}

impl fmt::Display for FetchFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some((index, repo)) => {
                write!(f, "spec.sources[{index}] ({}): {}", lockstep_source::strip_userinfo(repo), self.error)
            }
            None => write!(f, "{}", self.error),
        }
    }
}

/// Fetches every source of `app`. One explicit refresh (spec change, refresh annotation) applies to
/// all of them; the first failing source (in spec order) fails the whole fetch. With `verify_in`
/// (the Application's project), git revisions are checked against the signatures `verify` and the
/// project ask for; a deployed revision fetched again (drift, rollback, PreDelete) is not.
pub(crate) async fn fetch_all(
    app: &Application,
    ctx: &Context,
    verify_in: Option<&Project>,
) -> Result<Fetched, FetchFailure> {
    let refresh = ctx.sources.explicit_refresh(app);
    let sources = app.spec.all_sources();
    // Boxed: each source's fetch is a large future, kept off the worker's stack.
    let fetches = sources.iter().map(|source| Box::pin(fetch_source(app, ctx, source, refresh, verify_in)));
    let results = futures::future::join_all(fetches).await;
    let multi = app.spec.is_multi_source();
    let mut snapshots = Vec::with_capacity(results.len());
    for (index, result) in results.into_iter().enumerate() {
        match result {
            Ok(snapshot) => snapshots.push(snapshot),
            Err(error) => {
                let source = multi.then(|| (index, sources[index].repo_url.clone()));
                return Err(FetchFailure { source, error });
            }
        }
    }
    let revision = match snapshots.as_slice() {
        [single] if !multi => single.revision.clone(),
        _ => composite_revision(&snapshots.iter().map(|s| s.revision.clone()).collect::<Vec<_>>()),
    };
    Ok(Fetched { snapshots, revision })
}

/// Fetches one source (served from the last good revision during an outage): a chart from an OCI
/// registry (`chart` with an `oci://` or `enableOCI` repository), an `oci://` artifact, a chart
/// from a Helm repository when `chart` is set, else a git repository at its target revision,
/// its signatures verified when `verify_in` is given.
async fn fetch_source(
    app: &Application,
    ctx: &Context,
    source: &ApplicationSource,
    refresh: bool,
    verify_in: Option<&Project>,
) -> Result<Snapshot, SourceError> {
    let controller_namespace = &ctx.config.controller_namespace;
    let namespace = app.metadata.namespace.as_deref().unwrap_or_default();
    if let Some(chart) = crate::oci_charts::chart_of_source(ctx, namespace, source).await? {
        return crate::oci_charts::pull_chart(ctx, namespace, &chart).await;
    }
    if crate::oci_sources::is_oci(&source.repo_url) {
        let request = crate::oci_sources::oci_request(
            &ctx.client,
            &ctx.lookups,
            controller_namespace,
            namespace,
            &source.repo_url,
            source.target_revision.clone(),
        )
        .await?;
        return ctx.oci.snapshot(&request).await;
    }
    let mut request =
        ctx.sources.request(&ctx.client, &ctx.lookups, controller_namespace, app, source, refresh).await?;
    if let Some(chart) = lockstep_render::chart_name(source) {
        return ctx.helm_repos.chart(&request, chart).await;
    }
    if let Some(project) = verify_in {
        request.verification = crate::verification::verification_for(
            &ctx.client,
            &ctx.lookups,
            controller_namespace,
            project,
            app,
            source,
        )
        .await?;
    }
    ctx.source.snapshot(&request).await
}

/// Renders every source of `app` from what was fetched, through the shared renderer (cached per
/// source, commit, path, options and tool version), with each git chart's remote dependencies and
/// each kustomization's `helmCharts` resolved first; then decrypts SOPS-encrypted objects in
/// memory (never cached). The cluster's capabilities are looked up only for Helm sources.
pub(crate) async fn render_all(
    ctx: &Context,
    target: &ClusterTarget,
    app: &Application,
    fetched: &Fetched,
) -> Result<Rendered, SourcesRenderError> {
    let multi = app.spec.is_multi_source();
    let sources = app.spec.all_sources();
    let mut inputs: Vec<FetchedSource<'_>> = Vec::with_capacity(sources.len());
    for (index, (source, snapshot)) in sources.into_iter().zip(&fetched.snapshots).enumerate() {
        let dependencies = crate::chart_dependencies::resolve(ctx, app, source, snapshot)
            .await
            .map_err(|error| SourcesRenderError { source_index: multi.then_some(index), error })?;
        let helm_charts = crate::kustomize_charts::resolve(ctx, app, source, snapshot)
            .await
            .map_err(|error| SourcesRenderError { source_index: multi.then_some(index), error })?;
        inputs.push(FetchedSource {
            source,
            revision: snapshot.revision.clone(),
            root: snapshot.root.clone(),
            dependencies,
            helm_charts,
        });
    }
    let caps = || target.capabilities.get(&target.client);
    let rendered = lockstep_render::render_sources(&ctx.renderer, app, &inputs, caps).await?;
    let Some(root) = inputs.iter().find(|f| lockstep_render::renders(f.source)).map(|f| f.root.clone()) else {
        return Ok(rendered);
    };
    crate::decryption::decrypt(ctx, app, &root, rendered)
        .await
        .map_err(|error| SourcesRenderError { source_index: None, error })
}

/// What the fetch said about the sources, for the status: the first source's URL, and the first
/// outage (naming its repository when there are several sources).
pub(crate) fn report_of(app: &Application, fetched: &Fetched) -> SourceReport {
    let multi = app.spec.is_multi_source();
    let unavailable = fetched.snapshots.iter().enumerate().find_map(|(index, snapshot)| {
        let outage = snapshot.unavailable.as_ref()?;
        let error = if multi {
            format!("spec.sources[{index}] ({}): {}", lockstep_source::strip_userinfo(&snapshot.repo_url), outage.error)
        } else {
            outage.error.to_string()
        };
        Some(SourceOutage { since: outage.since, error })
    });
    let verified =
        fetched.snapshots.iter().find_map(|s| s.verified.as_ref()).map(|v| lockstep_api::SourceVerificationStatus {
            mode: crate::verification::spec_mode(v.mode).as_str().to_string(),
            revision: v.revision.clone(),
            signer: v.signer.clone(),
            fingerprint: v.fingerprint.clone(),
            format: v.format.clone(),
            key_source: v.key_source.clone(),
            tag: v.tag.clone(),
            commits: i64::try_from(v.commits).unwrap_or(i64::MAX),
        });
    SourceReport { fetched_from: fetched.snapshots.first().and_then(|s| s.fetched_from.clone()), unavailable, verified }
}
