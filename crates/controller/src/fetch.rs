//! Fetching every source of an Application (one fetch per source, in parallel; the repositories'
//! own serialisation still holds) and rendering them as one object set. A source of any kind that
//! yields a [`Snapshot`] plugs in at [`fetch_source`].

use std::fmt;

use lockstep_api::{Application, ApplicationSource};
use lockstep_clusters::ClusterTarget;
use lockstep_policy::multi_source::composite_revision;
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
/// all of them; the first failing source (in spec order) fails the whole fetch.
pub(crate) async fn fetch_all(app: &Application, ctx: &Context) -> Result<Fetched, FetchFailure> {
    let refresh = ctx.sources.explicit_refresh(app);
    let sources = app.spec.all_sources();
    let fetches = sources.iter().map(|source| fetch_source(app, ctx, source, refresh));
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

/// Fetches one source: a git repository at its target revision (served from the cache's last good
/// revision during an outage).
async fn fetch_source(
    app: &Application,
    ctx: &Context,
    source: &ApplicationSource,
    refresh: bool,
) -> Result<Snapshot, SourceError> {
    let namespace = &ctx.config.controller_namespace;
    let request = ctx.sources.request(&ctx.client, &ctx.lookups, namespace, app, source, refresh).await?;
    ctx.source.snapshot(&request).await
}

/// Renders every source of `app` from what was fetched, through the shared renderer (cached per
/// source, commit, path, options and tool version); the cluster's capabilities are looked up only
/// for Helm sources.
pub(crate) async fn render_all(
    ctx: &Context,
    target: &ClusterTarget,
    app: &Application,
    fetched: &Fetched,
) -> Result<Rendered, SourcesRenderError> {
    let sources = app.spec.all_sources();
    let fetched: Vec<FetchedSource<'_>> = sources
        .into_iter()
        .zip(&fetched.snapshots)
        .map(|(source, snapshot)| FetchedSource {
            source,
            revision: snapshot.revision.clone(),
            root: snapshot.root.clone(),
        })
        .collect();
    let caps = || target.capabilities.get(&target.client);
    lockstep_render::render_sources(&ctx.renderer, app, &fetched, caps).await
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
    SourceReport { fetched_from: fetched.snapshots.first().and_then(|s| s.fetched_from.clone()), unavailable }
}
