//! Outages: the per-repository state file records the last good revision of each request and since
//! when the repository has been unavailable, so a restart still serves the last good commit.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use git2::{Oid, Repository};
use tracing::{info, warn};

use super::request::SourceRequest;
use super::{GitCache, Shared};
use crate::credentials::strip_userinfo;
use crate::error::SourceError;
use crate::revision::RevisionSpec;
use crate::snapshot::{Snapshot, Unavailable, export_commit};
use crate::state::{self, RepoStateFile};
use crate::url::normalize_repo_url;

impl GitCache {
    /// Clears a recorded outage once the repository answers again.
    pub(super) async fn mark_available(&self, key: &str) {
        let shared = self.shared.clone();
        let key = key.to_string();
        let _ = tokio::task::spawn_blocking(move || {
            update_state(&shared, &key, |s| {
                if s.unavailable_since.take().is_some() {
                    info!(repo = %s.url, "repository reachable again");
                    true
                } else {
                    false
                }
            })
        })
        .await;
    }

    /// Every URL failed: record since when, and serve the last good commit of this revision if the
    /// cache has it; otherwise the error stands.
    pub(super) async fn serve_last_good(
        &self,
        key: &str,
        request: &SourceRequest,
        error: SourceError,
    ) -> Result<Snapshot, SourceError> {
        let shared = self.shared.clone();
        let key = key.to_string();
        let request = request.clone();
        tokio::task::spawn_blocking(move || {
            let mut since = SystemTime::now();
            let url = normalize_repo_url(&request.repo_url);
            update_state(&shared, &key, |s| {
                s.url = strip_userinfo(&url);
                match s.unavailable_since {
                    Some(at) => {
                        since = state::from_epoch(at);
                        false
                    }
                    None => {
                        s.unavailable_since = Some(state::to_epoch(since));
                        true
                    }
                }
            });
            let spec = RevisionSpec::parse(request.target_revision.as_deref());
            let recorded = state::load(&state::state_path(&shared.root, &key));
            let Some(sha) = recorded.resolved.get(&request.last_good_key(&spec)) else { return Err(error) };
            let Ok(repo) = Repository::open_bare(shared.root.join("repos").join(&key)) else { return Err(error) };
            let Some(commit) = Oid::from_str(sha).ok().and_then(|oid| repo.find_commit(oid).ok()) else { return Err(error) };
            let root = export_commit(&repo, &commit, &shared.root.join("snapshots"))?;
            shared.counters.served_from_cache.fetch_add(1, Ordering::Relaxed);
            warn!(repo = %strip_userinfo(&request.repo_url), revision = %sha, %error, "repository unavailable; serving the last good revision");
            Ok(Snapshot {
                repo_url: request.repo_url.clone(),
                revision: commit.id().to_string(),
                root,
                fetched_from: None,
                unavailable: Some(Unavailable { since, error }),
                verified: None,
            })
        })
        .await
        .map_err(|e| SourceError::Cache { path: "blocking git task".into(), message: e.to_string() })?
    }
}

/// Read-modify-write of a repo's state file; `change` returns whether anything changed.
pub(super) fn update_state(shared: &Shared, key: &str, change: impl FnOnce(&mut RepoStateFile) -> bool) {
    let _io = shared.state_io.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let path = state::state_path(&shared.root, key);
    let mut current = state::load(&path);
    if change(&mut current)
        && let Err(err) = state::store(&path, &current)
    {
        warn!(%err, "writing the repository state file failed");
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{repo_with_commits, request};
    use super::*;
    use crate::Endpoint;
    use crate::url::cache_key;
    use std::time::Duration;

    #[tokio::test]
    async fn an_outage_serves_the_last_good_revision_across_restarts() {
        let (repo, _, second) = repo_with_commits();
        let cache_dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", repo.path().display());
        // The repository, then a "canonical" URL on a closed port: with both gone, it is an outage.
        let closed = format!(
            "http://127.0.0.1:{}/app.git",
            std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
        );
        let mut req = request(&closed, Some("main"));
        req.endpoints = vec![
            Endpoint { url: url.clone(), ..Default::default() },
            Endpoint { url: closed.clone(), ..Default::default() },
        ];
        req.max_listing_age = Some(Duration::ZERO);
        GitCache::new(cache_dir.path()).unwrap().snapshot(&req).await.unwrap();

        let moved = repo.path().with_extension("gone");
        std::fs::rename(repo.path(), &moved).unwrap();
        let restarted = GitCache::new(cache_dir.path()).unwrap();
        let served = restarted.snapshot(&req).await.unwrap();
        assert_eq!(served.revision, second);
        let unavailable = served.unavailable.expect("marked unavailable");
        assert!(unavailable.error.is_outage(), "{}", unavailable.error);
        // A revision never resolved before has nothing to fall back to, nor has another identity.
        let mut other_revision = req.clone();
        other_revision.target_revision = Some("v1".into());
        assert!(restarted.snapshot(&other_revision).await.is_err());
        let mut other_secret = req.clone();
        other_secret.endpoints[1].credential_source = Some("other-namespace/creds".into());
        assert!(restarted.snapshot(&other_secret).await.is_err());

        // Within one listing window a down repository is tried once, however many ask.
        let mut periodic = req.clone();
        periodic.max_listing_age = None;
        let attempts = restarted.counters().snapshot().ref_listings;
        for _ in 0..5 {
            assert!(restarted.snapshot(&periodic).await.unwrap().unavailable.is_some());
        }
        assert_eq!(restarted.counters().snapshot().ref_listings, attempts);

        std::fs::rename(&moved, repo.path()).unwrap();
        let back = restarted.snapshot(&req).await.unwrap();
        assert!(back.unavailable.is_none());
        let recorded = state::load(&state::state_path(cache_dir.path(), &cache_key(&normalize_repo_url(&closed))));
        assert_eq!(recorded.unavailable_since, None);
        assert_eq!(recorded.resolved.get(&req.last_good_key(&RevisionSpec::parse(Some("main")))), Some(&second));
    }
}
