//! The git generator's reads, through the controller's shared git cache: a repository an
//! ApplicationSet and its Applications both read is fetched once, with the same credentials,
//! mirrors, known hosts and last-good rule (an outage serves the last good commit).

use std::sync::Arc;

use lockstep_appset::generate::PendingTree;
use lockstep_appset::{GitTree, GitTrees};

use crate::context::Context;
use crate::sources::request_for;

/// Reads ApplicationSets' repositories from the controller's cache.
pub(crate) struct SetSources(pub Arc<Context>);

impl GitTrees for SetSources {
    fn tree<'a>(&'a self, namespace: &'a str, repo_url: &'a str, revision: &'a str) -> PendingTree<'a> {
        Box::pin(async move {
            let ctx = &self.0;
            let revision = Some(revision.to_string()).filter(|r| !r.is_empty());
            let request =
                request_for(&ctx.client, &ctx.lookups, &ctx.config.controller_namespace, namespace, repo_url, revision)
                    .await
                    .map_err(|err| err.to_string())?;
            let snapshot = ctx.source.snapshot(&request).await.map_err(|err| err.to_string())?;
            Ok(GitTree { root: snapshot.root, revision: snapshot.revision })
        })
    }
}
